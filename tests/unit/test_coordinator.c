/*
 * The coordinator over the local store, with the orchestrator (ctl), a guest
 * playing the shunt through its report area, and a scripted PV backend:
 * discovery, full switches, rollbacks, a restart mid-switch, unmanage, and a
 * domain going away.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/coordinator.h"
#include "rtvirt/ctl.h"
#include "rtvirt/local.h"
#include "hub_fixture.h"
#include "unit.h"
#include "xs_fixture.h"

static struct rtv_local_hub *hub;
static struct rtv_xen dom0, tool, guest;
static struct rtv_coordinator *co;
static struct rtv_err err;
static uint64_t now;

/* The scripted backend. */
static struct {
    int  up_calls, down_calls;
    int  ready_at_once;     /* report READY from inside bring_up */
    int  close_at_once;     /* report CLOSED from inside tear_down */
    int  keep_calls;
    int  present;
    char last_image[256];
    int  dm_calls;
    int  dm_rc;             /* what the device-model sync returns */
    uint32_t dm_id;         /* the switch it was asked for */
    char dm_image[256];
} be;

static int be_up(void *ctx, rtv_domid_t dom, const char *vdev, const char *image,
                 struct rtv_err *e)
{
    (void)ctx;
    (void)e;
    be.up_calls++;
    snprintf(be.last_image, sizeof(be.last_image), "%s", image);
    be.present = 1;
    if (be.ready_at_once)
        rtv_coordinator_backend_event(co, dom, vdev, RTV_FSM_EV_BACKEND_READY, NULL, now);
    return 0;
}

static void be_down(void *ctx, rtv_domid_t dom, const char *vdev)
{
    (void)ctx;
    be.down_calls++;
    be.present = 0;
    if (be.close_at_once)
        rtv_coordinator_backend_event(co, dom, vdev, RTV_FSM_EV_BACKEND_CLOSED, NULL, now);
}

static bool be_present(void *ctx, rtv_domid_t dom, const char *vdev)
{
    (void)ctx;
    (void)dom;
    (void)vdev;
    return be.present;
}

static int be_dm_sync(void *ctx, rtv_domid_t dom, const char *vdev, const char *image,
                      uint32_t switch_id, uint64_t *took_us, struct rtv_err *e)
{
    (void)ctx;
    (void)dom;
    (void)vdev;
    be.dm_calls++;
    be.dm_id = switch_id;
    snprintf(be.dm_image, sizeof(be.dm_image), "%s", image);
    *took_us = 1234;
    if (be.dm_rc < 0)
        return rtv_err_set(e, -be.dm_rc, "qmp: no answer from qemu within 3000 ms");
    return be.dm_rc;
}

static void be_keep(void *ctx, rtv_domid_t dom, const char *vdev)
{
    (void)ctx;
    (void)dom;
    (void)vdev;
    be.keep_calls++;
    be.present = 1;
}

static const struct rtv_coordinator_backend_ops be_ops = { be_up, be_down, be_present,
                                                     be_dm_sync, be_keep };

static void quiet(void *ctx, const char *msg)
{
    (void)ctx;
    (void)msg;
}

#define put rtv_test_put
#define get(path) rtv_test_get(dom0.xs, (path), NULL)

#define CTL "/local/domain/5/rtvirt/vbd/hda/"
#define REP "/local/domain/5/device/rtvirt/vbd/hda/"

/* The guest's shunt reporting that it reached a mode for switch id. */
static void shunt_reports(const char *state, const char *ack)
{
    put(guest.xs, REP "shunt-state", state);
    put(guest.xs, REP "shunt-blackout-us", "420");
    put(guest.xs, REP "shunt-ack-id", ack);
}

static void pump(void)
{
    for (int i = 0; i < 4; i++)
        rtv_coordinator_poll_watches(co, now);
}

static void tick(uint64_t advance)
{
    now += advance;
    rtv_coordinator_tick(co, now);
}

/* Switch 1 is rolling back: once the shunt reports it is back on the
 * emulated disk, the backend is closed and the switch answered rolled-back,
 * the error saying why. */
static void rolls_back_through_shunt(const char *why)
{
    ck_assert_str_eq(get(CTL "state"), "rolling-back");
    shunt_reports("emulating", "1");
    pump();
    ck_assert_int_eq(be.down_calls, 1);
    ck_assert_str_eq(get(CTL "state"), "emulated");
    ck_assert_str_eq(get(CTL "result"), "rolled-back");
    ck_assert_contains(get(CTL "error"), why);
}

static void start(void)
{
    co = rtv_coordinator_new(dom0.xs, &be_ops, NULL, &err);
    ck_assert_ptr_nonnull(co);
    rtv_coordinator_set_log(co, quiet, NULL);
    ck_assert_int_eq(rtv_coordinator_start(co, now, &err), 0);
    pump();
}

static void setup(void)
{

    memset(&be, 0, sizeof(be));
    be.ready_at_once = be.close_at_once = 1;
    now = 1000;
    hub = rtv_test_hub_dom0(&dom0);
    ck_assert_int_eq(rtv_local_open(hub, 0, RTV_XEN_STORE, &tool), 0);
    ck_assert_int_eq(rtv_local_open(hub, 5, RTV_XEN_STORE, &guest), 0);
    rtv_test_make_domain(dom0.xs, 5, "guest1");
    ck_assert_int_eq(rtv_ctl_manage(tool.xs, 5, "hda", "/srv/guest1.img", &err), 0);
    co = NULL;
}

static void teardown(void)
{
    rtv_coordinator_free(co);
    rtv_xen_close(&guest);
    rtv_xen_close(&tool);
    rtv_xen_close(&dom0);
    rtv_local_hub_free(hub);
}

static uint32_t ask(const char *mode, unsigned timeout_ms)
{
    uint32_t id;
    ck_assert_int_eq(rtv_ctl_request(tool.xs, 5, "hda", mode, timeout_ms, &id, &err), 0);
    pump();
    return id;
}

START_TEST(discovers_devices_before_and_after_start)
{
    start();
    ck_assert_uint_eq(rtv_coordinator_count(co), 1);
    ck_assert_int_eq(rtv_ctl_manage(tool.xs, 5, "hdb", "/srv/b.img", &err), 0);
    pump();
    ck_assert_uint_eq(rtv_coordinator_count(co), 2);
    ck_assert_ptr_nonnull(rtv_coordinator_get(co, 5, "hdb"));

    /* Walked by index: each device once, with its domain and vdev. */
    const struct rtv_switch_fsm *m;
    const char *vdev;
    rtv_domid_t dom;
    bool seen_hdb = false;
    unsigned n = 0;
    for (; (m = rtv_coordinator_at(co, n, &dom, &vdev)) != NULL; n++) {
        ck_assert_ptr_eq(m, rtv_coordinator_get(co, dom, vdev));
        seen_hdb |= dom == 5 && strcmp(vdev, "hdb") == 0;
    }
    ck_assert_uint_eq(n, 2);
    ck_assert(seen_hdb);
}
END_TEST

START_TEST(switches_to_pv_and_back)
{
    start();
    uint32_t id = ask("pv", 0);
    ck_assert_int_eq(be.up_calls, 1);
    ck_assert_str_eq(be.last_image, "/srv/guest1.img");
    ck_assert_str_eq(get(CTL "state"), "switching-to-pv");
    ck_assert_str_eq(get(CTL "switch-id"), "1");
    ck_assert_str_eq(get(CTL "previous"), "emulated");
    shunt_reports("enlightened", "1");
    pump();
    ck_assert_str_eq(get(CTL "state"), "pv");
    ck_assert_str_eq(get(CTL "result"), "ok");
    ck_assert_str_eq(get(CTL "result-id"), "1");
    ck_assert_str_eq(get(CTL "stats/switches"), "1");
    ck_assert_str_eq(get(CTL "stats/blackout-us"), "420");
    ck_assert_uint_eq(id, 1);

    ask("emulated", 0);
    ck_assert_str_eq(get(CTL "state"), "switching-to-emulated");
    ck_assert_int_eq(be.down_calls, 0);   /* not while the shunt may use it */
    shunt_reports("emulating", "2");
    pump();
    ck_assert_int_eq(be.down_calls, 1);
    ck_assert_str_eq(get(CTL "state"), "emulated");
    ck_assert_str_eq(get(CTL "result-id"), "2");
    ck_assert_str_eq(get(CTL "stats/switches"), "2");

    struct rtv_ctl_status st;
    ck_assert_int_eq(rtv_ctl_status(tool.xs, 5, "hda", &st, &err), 0);
    ck_assert_str_eq(st.state, "emulated");
    ck_assert_str_eq(st.shunt_state, "emulating");
}
END_TEST

/* The guest fails over by itself while pv: the store says so, the PV
 * backend is torn down, and dom0's state follows to emulated. */
START_TEST(guest_failover_is_published_and_followed)
{
    start();
    ask("pv", 0);
    shunt_reports("enlightened", "1");
    pump();
    ck_assert_str_eq(get(CTL "state"), "pv");
    put(guest.xs, REP "shunt-error", "the PV leg 202:179712 failed (1 PV errors)");
    put(guest.xs, REP "shunt-state", "failed-over");
    pump();
    ck_assert_int_eq(be.down_calls, 1);
    ck_assert_str_eq(get(CTL "state"), "emulated");   /* closed at once here */
    ck_assert_str_eq(get(CTL "result-id"), "1");      /* nothing answered */
    ck_assert_str_eq(get(CTL "stats/failovers"), "1");
    ck_assert_contains(get(CTL "failover"), "the guest failed over from pv to the emulated "
                       "path: the PV leg 202:179712 failed (1 PV errors)");
}
END_TEST

START_TEST(flushed_shunt_gets_one_device_model_sync_per_switch)
{
    start();
    ask("pv", 0);
    put(guest.xs, REP "shunt-state", "quiescing");
    pump();
    ck_assert_int_eq(be.dm_calls, 0);            /* not before the shunt flushed */
    ck_assert_ptr_null(get(CTL "dm-synced-id"));
    put(guest.xs, REP "shunt-state", "flushed");
    pump();
    ck_assert_int_eq(be.dm_calls, 1);
    ck_assert_str_eq(be.dm_image, "/srv/guest1.img");
    ck_assert_str_eq(get(CTL "dm-synced-id"), "1");   /* the shunt flips on this */
    ck_assert_str_eq(get(CTL "stats/dm-sync-us"), "1234");
    put(guest.xs, REP "shunt-error", "");              /* any other event */
    tick(600);
    pump();
    ck_assert_int_eq(be.dm_calls, 1);                  /* once per switch */
    shunt_reports("enlightened", "1");
    pump();
    ck_assert_str_eq(get(CTL "state"), "pv");
    /* The way back is synced too, from the start (it overlaps the drain). */
    ask("emulated", 0);
    ck_assert_int_eq(be.dm_calls, 2);
    ck_assert_str_eq(get(CTL "dm-synced-id"), "2");
    put(guest.xs, REP "shunt-state", "flushed");
    pump();
    ck_assert_int_eq(be.dm_calls, 2);
}
END_TEST

START_TEST(failed_device_model_sync_rolls_back_with_the_reason)
{
    be.dm_rc = -ETIMEDOUT;
    start();
    ask("pv", 0);
    put(guest.xs, REP "shunt-state", "flushed");
    pump();
    ck_assert_int_eq(be.dm_calls, 1);
    ck_assert_ptr_null(get(CTL "dm-synced-id"));       /* the shunt must not flip */
    rolls_back_through_shunt("device model's side of the emulated disk could "
                             "not be synced: qmp: no answer from qemu");
}
END_TEST

/* rtvirt-backd runs the sync on a thread (its PV backends keep serving):
 * the result comes later, and only the current switch's counts. */
START_TEST(device_model_sync_started_elsewhere_finishes_later)
{
    be.dm_rc = RTV_DM_SYNC_STARTED;
    start();
    ask("pv", 0);
    put(guest.xs, REP "shunt-state", "flushed");
    pump();
    ck_assert_int_eq(be.dm_calls, 1);
    ck_assert_uint_eq(be.dm_id, 1);
    ck_assert_ptr_null(get(CTL "dm-synced-id"));       /* not yet */
    rtv_coordinator_dm_sync_done(co, 5, "hda", 1, 0, 777, NULL, now);
    ck_assert_str_eq(get(CTL "dm-synced-id"), "1");
    ck_assert_str_eq(get(CTL "stats/dm-sync-us"), "777");
    shunt_reports("enlightened", "1");
    pump();
    ck_assert_str_eq(get(CTL "state"), "pv");
    /* Towards emulated it is asked for at once; a late result of an older
     * switch is dropped; a failure of the current one rolls it back. */
    ask("emulated", 0);
    ck_assert_int_eq(be.dm_calls, 2);
    ck_assert_uint_eq(be.dm_id, 2);
    rtv_coordinator_dm_sync_done(co, 5, "hda", 1, 0, 5, NULL, now);
    ck_assert_str_eq(get(CTL "dm-synced-id"), "1");
    ck_assert_str_eq(get(CTL "state"), "switching-to-emulated");
    rtv_coordinator_dm_sync_done(co, 5, "hda", 2, -EIO, 0, "qmp: drive gone", now);
    ck_assert_str_eq(get(CTL "dm-synced-id"), "1");
    ck_assert_str_eq(get(CTL "state"), "rolling-back");
    shunt_reports("enlightened", "2");
    pump();
    ck_assert_str_eq(get(CTL "state"), "pv");
    ck_assert_str_eq(get(CTL "result"), "rolled-back");
    ck_assert_contains(get(CTL "error"), "could not be synced: qmp: drive gone");
    rtv_coordinator_dm_sync_done(co, 9, "hda", 2, 0, 1, NULL, now);   /* unknown: ignored */
}
END_TEST

START_TEST(no_device_model_lets_the_shunt_flip_without_a_sync)
{
    be.dm_rc = 1;   /* rtvirt-backd --no-qmp */
    start();
    ask("pv", 0);
    put(guest.xs, REP "shunt-state", "flushed");
    pump();
    ck_assert_str_eq(get(CTL "dm-synced-id"), "1");
    ck_assert_ptr_null(get(CTL "stats/dm-sync-us"));
    ck_assert_str_eq(get(CTL "state"), "switching-to-pv");
}
END_TEST

/* rtvirt-backd's default: the check with the request.  To pv it runs while
 * the twin comes up; otherwise the guest is told only once it passed, so
 * dm-synced-id is in the store before switching-to-* is. */
START_TEST(device_model_check_at_the_request_opens_the_gate_first)
{
    be.dm_rc = RTV_DM_SYNC_STARTED;
    be.ready_at_once = 0;
    start();
    rtv_coordinator_set_dm_sync_at_request(co, true);
    ask("pv", 0);
    ck_assert_int_eq(be.up_calls, 1);
    ck_assert_int_eq(be.dm_calls, 1);                  /* with the bring-up */
    rtv_coordinator_dm_sync_done(co, 5, "hda", 1, 0, 300, NULL, now);
    ck_assert_str_eq(get(CTL "dm-synced-id"), "1");
    ck_assert_str_eq(get(CTL "state"), "emulated");    /* the twin is not up yet */
    rtv_coordinator_backend_event(co, 5, "hda", RTV_FSM_EV_BACKEND_READY, NULL, now);
    ck_assert_str_eq(get(CTL "state"), "switching-to-pv");
    put(guest.xs, REP "shunt-state", "flushed");
    pump();
    ck_assert_int_eq(be.dm_calls, 1);                  /* not asked again */
    shunt_reports("enlightened", "1");
    pump();
    ck_assert_str_eq(get(CTL "state"), "pv");
    ask("emulated", 0);
    ck_assert_int_eq(be.dm_calls, 2);
    ck_assert_str_eq(get(CTL "state"), "pv");           /* not told before the check */
    tick(100);
    pump();
    ck_assert_str_eq(get(CTL "state"), "pv");
    rtv_coordinator_dm_sync_done(co, 5, "hda", 2, 0, 300, NULL, now);
    ck_assert_str_eq(get(CTL "dm-synced-id"), "2");
    ck_assert_str_eq(get(CTL "state"), "switching-to-emulated");
    shunt_reports("emulating", "2");
    pump();
    ck_assert_str_eq(get(CTL "state"), "emulated");
    ck_assert_str_eq(get(CTL "result"), "ok");
}
END_TEST

START_TEST(refuses_bad_request_in_xenstore)
{
    start();
    put(tool.xs, CTL "request", "warp");
    put(tool.xs, CTL "request-id", "3");
    pump();
    ck_assert_str_eq(get(CTL "result"), "error");
    ck_assert_str_eq(get(CTL "result-id"), "3");
    ck_assert_contains(get(CTL "error"), "value \"warp\" not allowed");
    ck_assert_str_eq(get(CTL "state"), "emulated");
    ck_assert_int_eq(be.up_calls, 0);
}
END_TEST

START_TEST(silent_shunt_is_rolled_back_after_the_bound)
{
    start();
    ask("pv", 200);
    ck_assert_str_eq(get(CTL "state"), "switching-to-pv");
    tick(199);
    ck_assert_str_eq(get(CTL "state"), "switching-to-pv");
    tick(1);
    rolls_back_through_shunt("did not confirm switch 1 to pv within 200 ms");
    ck_assert_str_eq(get(CTL "stats/rollbacks"), "1");
}
END_TEST

/* The ring does not close within the bound: the switch to emulated stands
 * with a warning, the tear-down is called off, and the next switch to pv
 * uses that backend rather than bringing up another. */
START_TEST(backend_that_does_not_close_is_kept)
{
    be.close_at_once = 0;
    start();
    ask("pv", 0);
    shunt_reports("enlightened", "1");
    pump();
    ask("emulated", 200);
    shunt_reports("emulating", "2");
    pump();
    ck_assert_int_eq(be.down_calls, 1);
    ck_assert_int_eq(be.keep_calls, 0);
    tick(200);
    ck_assert_str_eq(get(CTL "state"), "emulated");
    ck_assert_str_eq(get(CTL "result"), "ok");
    ck_assert_contains(get(CTL "error"), "did not reach Closed within 200 ms");
    ck_assert_int_eq(be.keep_calls, 1);
    ask("pv", 0);
    ck_assert_int_eq(be.up_calls, 1);
    ck_assert_str_eq(get(CTL "state"), "switching-to-pv");
}
END_TEST

START_TEST(lost_watch_events_are_recovered_by_ticks)
{
    start();
    ask("pv", 0);
    /* The guest's report arrives but we never read the watch queue. */
    shunt_reports("enlightened", "1");
    tick(600);
    ck_assert_str_eq(get(CTL "state"), "pv");
}
END_TEST

START_TEST(backend_that_fails_to_come_up_rolls_back)
{
    be.ready_at_once = 0;
    start();
    ask("pv", 0);
    ck_assert_str_eq(get(CTL "state"), "emulated");   /* guest not told yet */
    rtv_coordinator_backend_event(co, 5, "hda", RTV_FSM_EV_BACKEND_FAILED,
                                  "cannot open /srv/guest1.img: No such file", now);
    ck_assert_int_eq(be.down_calls, 1);
    ck_assert_str_eq(get(CTL "result"), "rolled-back");
    ck_assert_contains(get(CTL "error"), "cannot open /srv/guest1.img");
}
END_TEST

START_TEST(missing_image_is_reported)
{
    start();
    ck_assert_int_eq(rtv_xs_rm(dom0.xs, RTV_XS_NO_TXN, CTL "image"), 0);
    ask("pv", 0);
    ck_assert_int_eq(be.up_calls, 0);
    ck_assert_str_eq(get(CTL "result"), "rolled-back");
    ck_assert_contains(get(CTL "error"), "ctl-image: absent");
}
END_TEST

START_TEST(restart_mid_switch_rolls_back)
{
    start();
    ask("pv", 0);
    ck_assert_str_eq(get(CTL "state"), "switching-to-pv");
    rtv_coordinator_free(co);   /* killed: nothing else is cleaned up */
    co = NULL;

    start();                    /* the backend is still up */
    rolls_back_through_shunt("restarted during the switch");
}
END_TEST

START_TEST(restart_after_shunt_confirmed_finishes)
{
    start();
    ask("pv", 0);
    rtv_coordinator_free(co);
    co = NULL;
    shunt_reports("enlightened", "1");   /* while no coordinator ran */
    start();
    ck_assert_str_eq(get(CTL "state"), "pv");
    ck_assert_str_eq(get(CTL "result"), "ok");
    ck_assert_int_eq(be.down_calls, 0);
}
END_TEST

START_TEST(unmanage_and_domain_death_drop_devices)
{
    start();
    ck_assert_int_eq(rtv_ctl_unmanage(tool.xs, 5, "hda", &err), 0);
    pump();
    ck_assert_uint_eq(rtv_coordinator_count(co), 0);

    ck_assert_int_eq(rtv_ctl_manage(tool.xs, 5, "hda", "/srv/guest1.img", &err), 0);
    pump();
    ask("pv", 0);
    shunt_reports("enlightened", "1");
    pump();
    ck_assert_uint_eq(rtv_coordinator_count(co), 1);
    /* The guest dies: the toolstack removes its tree, Xen says so. */
    ck_assert_int_eq(rtv_xs_rm(dom0.xs, RTV_XS_NO_TXN, "/local/domain/5"), 0);
    ck_assert_int_eq(rtv_local_release_domain(hub, 5), 0);
    pump();
    ck_assert_uint_eq(rtv_coordinator_count(co), 0);
    ck_assert_int_eq(be.down_calls, 1);   /* its backend is closed */
}
END_TEST

/* A NIC's coordinator (class vif) on a store connection of its own, next to
 * the disks' one: it drives only rtvirt/vif/, hands the MAC to bring_up,
 * writes port-ready-id on the gate, and never touches the disk's nodes (nor
 * does the disks' coordinator touch the NIC's). */
#define VCTL "/local/domain/5/rtvirt/vif/0/"
#define VREP "/local/domain/5/device/rtvirt/vif/0/"

START_TEST(nic_coordinator_runs_beside_the_disks)
{
    struct rtv_xen nicxs;
    struct rtv_coordinator *nic;

    start();
    ck_assert_int_eq(rtv_local_open(hub, 0, RTV_XEN_STORE, &nicxs), 0);
    nic = rtv_coordinator_new_class(nicxs.xs, &rtv_devclass_vif, &be_ops, NULL, &err);
    ck_assert_ptr_nonnull(nic);
    rtv_coordinator_set_log(nic, quiet, NULL);
    ck_assert_int_eq(rtv_coordinator_start(nic, now, &err), 0);
    ck_assert_uint_eq(rtv_coordinator_count(nic), 0);

    ck_assert_int_eq(rtv_ctl_manage_vif(tool.xs, 5, "vif/0", "00:16:3e:00:00:01", "xenbr0",
                                        &err), 0);
    for (int i = 0; i < 4; i++)
        rtv_coordinator_poll_watches(nic, now);
    pump();
    ck_assert_uint_eq(rtv_coordinator_count(nic), 1);
    ck_assert_ptr_nonnull(rtv_coordinator_get(nic, 5, "0"));
    ck_assert_uint_eq(rtv_coordinator_count(co), 1);   /* the disk only */

    uint32_t id;
    struct rtv_coordinator *disks = co;
    ck_assert_int_eq(rtv_ctl_request(tool.xs, 5, "vif/0", "pv", 0, &id, &err), 0);
    co = nic;   /* be_up reports READY to the coordinator in co */
    for (int i = 0; i < 4; i++)
        rtv_coordinator_poll_watches(nic, now);
    ck_assert_int_eq(be.up_calls, 1);
    ck_assert_str_eq(be.last_image, "00:16:3e:00:00:01");
    ck_assert_str_eq(get(VCTL "state"), "switching-to-pv");
    put(guest.xs, VREP "shunt-state", "flushed");
    for (int i = 0; i < 4; i++)
        rtv_coordinator_poll_watches(nic, now);
    ck_assert_int_eq(be.dm_calls, 1);
    ck_assert_str_eq(be.dm_image, "00:16:3e:00:00:01");
    ck_assert_str_eq(get(VCTL "port-ready-id"), "1");
    ck_assert_ptr_null(get(CTL "dm-synced-id"));
    put(guest.xs, VREP "shunt-state", "enlightened");
    put(guest.xs, VREP "shunt-blackout-us", "77");
    put(guest.xs, VREP "shunt-ack-id", "1");
    for (int i = 0; i < 4; i++)
        rtv_coordinator_poll_watches(nic, now);
    ck_assert_str_eq(get(VCTL "state"), "pv");
    ck_assert_str_eq(get(VCTL "result"), "ok");
    ck_assert_str_eq(get(VCTL "stats/blackout-us"), "77");
    ck_assert_ptr_null(get(VCTL "stats/held"));          /* a NIC holds nothing */
    ck_assert_ptr_null(get(VCTL "stats/dm-sync-us"));
    ck_assert_str_eq(get(CTL "state"), "emulated");      /* the disk untouched */
    ck_assert_ptr_null(get(CTL "result"));

    rtv_coordinator_free(nic);
    co = disks;   /* teardown frees it */
    rtv_xen_close(&nicxs);
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(coordinator_suite, "coordinator", "core", setup, teardown, 0,
                        discovers_devices_before_and_after_start, switches_to_pv_and_back,
                        guest_failover_is_published_and_followed,
                        flushed_shunt_gets_one_device_model_sync_per_switch,
                        failed_device_model_sync_rolls_back_with_the_reason,
                        device_model_sync_started_elsewhere_finishes_later,
                        no_device_model_lets_the_shunt_flip_without_a_sync,
                        device_model_check_at_the_request_opens_the_gate_first,
                        refuses_bad_request_in_xenstore,
                        silent_shunt_is_rolled_back_after_the_bound,
                        backend_that_does_not_close_is_kept,
                        lost_watch_events_are_recovered_by_ticks,
                        backend_that_fails_to_come_up_rolls_back, missing_image_is_reported,
                        restart_mid_switch_rolls_back, restart_after_shunt_confirmed_finishes,
                        unmanage_and_domain_death_drop_devices,
                        nic_coordinator_runs_beside_the_disks)

RTV_UNIT_MAIN(coordinator_suite)
