/*
 * rtvirt-shunt's xenstore glue (shunt/shunt_xs.c) against a scripted dom0
 * on the local store: the initial report, the guest's lack of write access
 * to the control nodes, following a stable state, answering a rollback,
 * bad control values ignored, and the shunt's own bound on connecting
 * (failures are answered with the old mode, the ack and shunt-error).
 * Full switches with a real backend are in tests/component/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../shunt/shunt.h"
#include "rtvirt/blkif_xs.h"
#include "rtvirt/ctl.h"
#include "rtvirt/local.h"
#include "rtvirt/xs_schema.h"
#include "unit.h"
#include "xs_fixture.h"

#define GUEST 5

static struct rtv_local_hub *hub;
static struct rtv_xen dom0, guest;
static char img[64];
static struct shunt *sh;

static int open_guest(void *ctx, unsigned parts, struct rtv_xen *out, struct rtv_err *err)
{
    (void)ctx;
    int rc = rtv_local_open(hub, GUEST, parts, out);
    if (rc < 0)
        rtv_err_set(err, -rc, "local open: %s", strerror(-rc));
    return rc;
}

/* Guest GUEST's hda, written and read by dom0. */
#define path(node)     rtv_test_vbd_path((node), GUEST, "hda")
#define put(node, val) rtv_test_put(dom0.xs, path(node), (val))
#define get(node)      rtv_test_get(dom0.xs, path(node), "(absent)")


/* Runs the shunt until node == want, at most ms. */
static bool run_until(enum rtv_xs_node node, const char *want, int ms)
{
    for (int t = 0; t < ms; t += 10) {
        if (strcmp(get(node), want) == 0)
            return true;
        shunt_run_once(sh, NULL, 0, 10);
    }
    return strcmp(get(node), want) == 0;
}

/* dom0 tells the shunt about switch id to state, coming from previous;
 * the state last, as the coordinator writes them. */
static void order_switch(const char *previous, const char *id, const char *state)
{
    put(RTV_XS_CTL_PREVIOUS, previous);
    put(RTV_XS_CTL_SWITCH_ID, id);
    put(RTV_XS_CTL_STATE, state);
}

static void run_for(int ms)
{
    for (int t = 0; t < ms; t += 10)
        shunt_run_once(sh, NULL, 0, 10);
}

static void setup(void)
{
    const struct rtv_xs_perm dom_perms[2] = { { 0, RTV_XS_PERM_NONE }, { GUEST, RTV_XS_PERM_READ } };
    const struct rtv_xs_perm dev_perms[2] = { { GUEST, RTV_XS_PERM_NONE }, { 0, RTV_XS_PERM_READ } };
    struct shunt_config cfg;
    struct rtv_err err = { 0, "" };

    hub = rtv_local_hub_new(NULL);
    ck_assert_ptr_nonnull(hub);
    ck_assert_int_eq(rtv_local_open(hub, 0, RTV_XEN_STORE, &dom0), 0);
    ck_assert_int_eq(rtv_local_open(hub, GUEST, RTV_XEN_STORE, &guest), 0);
    ck_assert_int_eq(rtv_xs_mkdir(dom0.xs, RTV_XS_NO_TXN, "/local/domain/5"), 0);
    ck_assert_int_eq(rtv_xs_set_perms(dom0.xs, RTV_XS_NO_TXN, "/local/domain/5", dom_perms, 2), 0);
    ck_assert_int_eq(rtv_xs_mkdir(dom0.xs, RTV_XS_NO_TXN, "/local/domain/5/device"), 0);
    ck_assert_int_eq(rtv_xs_set_perms(dom0.xs, RTV_XS_NO_TXN, "/local/domain/5/device",
                                      dev_perms, 2), 0);
    snprintf(img, sizeof(img), "/tmp/rtv-sxs-XXXXXX");
    int fd = mkstemp(img);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
    close(fd);
    ck_assert_int_eq(rtv_ctl_manage(dom0.xs, GUEST, "hda", img, &err), 0);

    shunt_config_default(&cfg);
    cfg.emulated = img;
    cfg.emulated_name = "sda";
    cfg.vdev = "hda";
    cfg.allow_buffered = true;
    cfg.open_xen = open_guest;
    cfg.front.timeout_ms = 2000;
    sh = shunt_new(&cfg, &err);
    ck_assert_msg(sh != NULL, "%s", err.msg);
}

static void teardown(void)
{
    shunt_free(sh);
    rtv_xen_close(&guest);
    rtv_xen_close(&dom0);
    unlink(img);
    rtv_local_hub_free(hub);
}

START_TEST(initial_report_and_guest_cannot_write_control)
{
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    ck_assert_str_eq(get(RTV_XS_SHUNT_EMULATED_DEV), "sda");
    /* The control nodes are dom0's: the guest (the shunt's own domain)
     * cannot write them, only read. */
    ck_assert_int_eq(rtv_xs_write(guest.xs, RTV_XS_NO_TXN, path(RTV_XS_CTL_STATE), "pv", 2),
                     -EACCES);
    ck_assert_int_eq(rtv_xs_write(guest.xs, RTV_XS_NO_TXN, path(RTV_XS_CTL_REQUEST), "pv", 2),
                     -EACCES);
    /* Stable emulated with a switch-id: acknowledged as is. */
    put(RTV_XS_CTL_SWITCH_ID, "3");
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "3", 2000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
}
END_TEST

START_TEST(rollback_while_idle_is_answered)
{
    /* dom0 rolled back a switch the shunt never started (e.g. it restarted):
     * the shunt is already in `previous` and says so under that id. */
    order_switch("emulated", "9", "rolling-back");
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "9", 2000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
}
END_TEST

START_TEST(bad_control_values_are_ignored)
{
    put(RTV_XS_CTL_SWITCH_ID, "4");
    put(RTV_XS_CTL_STATE, "switching-to-warp");
    run_for(700);
    ck_assert_str_eq(get(RTV_XS_SHUNT_ACK_ID), "(absent)");
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    /* A switch-id that is not a number is not acknowledged either. */
    put(RTV_XS_CTL_SWITCH_ID, "-1");
    put(RTV_XS_CTL_STATE, "emulated");
    run_for(700);
    ck_assert_str_ne(get(RTV_XS_SHUNT_ACK_ID), "-1");
}
END_TEST

START_TEST(switch_without_devid_fails_cleanly)
{
    /* switching-to-pv with no ctl-devid: answered at once with the old
     * mode, the ack and the reason; I/O never left the emulated path. */
    order_switch("emulated", "5", "switching-to-pv");
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "5", 2000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    ck_assert_msg(strstr(get(RTV_XS_SHUNT_ERROR), "ctl-devid") != NULL, "%s",
                  get(RTV_XS_SHUNT_ERROR));
    /* The same id again (a coalesced or repeated event) is not retried. */
    run_for(700);
    ck_assert_str_eq(get(RTV_XS_SHUNT_ACK_ID), "5");
}
END_TEST

START_TEST(connect_bound_gives_up_with_reason)
{
    /* The vbd exists but no backend ever serves it: the frontend waits for
     * InitWait; the shunt's own bound (timeout-ms) ends the switch. */
    struct blkif_xs_attach at = { .dev = { 0, GUEST, 901, BLKIF_XS_BTYPE }, .params = img };
    struct shunt_status st;

    ck_assert_int_eq(blkif_xs_attach(dom0.xs, &at), 0);
    put(RTV_XS_CTL_DEVID, "901");
    put(RTV_XS_CTL_TIMEOUT_MS, "300");
    order_switch("emulated", "6", "switching-to-selective");
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "connecting", 2000));
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "6", 3000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    ck_assert_msg(strstr(get(RTV_XS_SHUNT_ERROR), "took longer than 300 ms") != NULL, "%s",
                  get(RTV_XS_SHUNT_ERROR));
    shunt_get_status(sh, &st);
    ck_assert_int_eq(st.mode, RTV_MODE_EMULATED);
    ck_assert_uint_eq(st.aborts, 1);
}
END_TEST

START_TEST(store_conflicts_and_failures_are_retried)
{
    /* Transactions that conflict (EAGAIN) are redone; a report whose write
     * failed outright is written again on a later turn. */
    put(RTV_XS_CTL_SWITCH_ID, "11");
    rtv_local_fault_set(hub, RTV_FAULT_XS_TXN_COMMIT, 0, 5, EAGAIN);
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "11", 3000));
    ck_assert_uint_ge(rtv_local_fault_hits(hub, RTV_FAULT_XS_TXN_COMMIT), 1);

    order_switch("emulated", "12", "rolling-back");
    rtv_local_fault_set(hub, RTV_FAULT_XS_WRITE, 0, 3, EIO);
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "12", 3000));
    ck_assert_uint_ge(rtv_local_fault_hits(hub, RTV_FAULT_XS_WRITE), 1);
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
}
END_TEST

static Suite *shunt_xs_suite(void)
{
    Suite *s = suite_create("shunt_xs");
    TCase *tc = tcase_create("glue");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, initial_report_and_guest_cannot_write_control);
    tcase_add_test(tc, rollback_while_idle_is_answered);
    tcase_add_test(tc, bad_control_values_are_ignored);
    tcase_add_test(tc, switch_without_devid_fails_cleanly);
    tcase_add_test(tc, connect_bound_gives_up_with_reason);
    tcase_add_test(tc, store_conflicts_and_failures_are_retried);
    suite_add_tcase(s, tc);
    return s;
}

RTV_UNIT_MAIN(shunt_xs_suite)
