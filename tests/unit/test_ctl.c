/*
 * The orchestrator's side (xl-rtvirt's library) over the local store, acting
 * as dom0 and as guest 5: domain lookup, putting a device under rtvirt with
 * the schema's permissions (the guest reads but cannot write the control
 * nodes, and writes its own report area), requests in one transaction with
 * growing ids, status, and bounded waits.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rtvirt/ctl.h"
#include "rtvirt/local.h"
#include "rtvirt/xs_util.h"
#include "hub_fixture.h"
#include "unit.h"
#include "xs_fixture.h"

static struct rtv_local_hub *hub;
static struct rtv_xen dom0, guest;
static struct rtv_err err;

#define put rtv_test_put
#define get(xs, path) rtv_test_get((xs), (path), NULL)

static void setup(void)
{
    hub = rtv_test_hub_dom0(&dom0);
    ck_assert_int_eq(rtv_local_open(hub, 5, RTV_XEN_STORE, &guest), 0);
    put(dom0.xs, "/local/domain/0/name", "Domain-0");
    rtv_test_make_domain(dom0.xs, 5, "guest1");   /* a running guest 5 */
    memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
    rtv_xen_close(&guest);
    rtv_xen_close(&dom0);
    rtv_local_hub_free(hub);
}

START_TEST(resolves_domains_by_id_and_name)
{
    rtv_domid_t id = 99;
    ck_assert_int_eq(rtv_ctl_resolve_domain(dom0.xs, "5", &id, &err), 0);
    ck_assert_uint_eq(id, 5);
    ck_assert_int_eq(rtv_ctl_resolve_domain(dom0.xs, "guest1", &id, &err), 0);
    ck_assert_uint_eq(id, 5);
    ck_assert_int_eq(rtv_ctl_resolve_domain(dom0.xs, "Domain-0", &id, &err), 0);
    ck_assert_uint_eq(id, 0);
    ck_assert_int_eq(rtv_ctl_resolve_domain(dom0.xs, "nobody", &id, &err), -ENOENT);
    ck_assert_str_eq(err.msg, "no domain called \"nobody\" (see xl list)");
    ck_assert_int_eq(rtv_ctl_resolve_domain(dom0.xs, "77", &id, &err), -ENOENT);
    ck_assert_str_eq(err.msg, "no domain with id 77 (see xl list)");
    ck_assert_int_eq(rtv_ctl_resolve_domain(dom0.xs, "", &id, &err), -EINVAL);
}
END_TEST

START_TEST(manage_sets_schema_permissions)
{
    ck_assert_int_eq(rtv_ctl_manage(dom0.xs, 5, "hda", "/srv/guest1.img", &err), 0);
    ck_assert_str_eq(get(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/state"), "emulated");
    ck_assert_str_eq(get(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/image"), "/srv/guest1.img");

    /* The guest may read the control nodes but never write or remove them. */
    ck_assert_str_eq(get(guest.xs, "/local/domain/5/rtvirt/vbd/hda/state"), "emulated");
    ck_assert_int_eq(rtv_xs_write(guest.xs, RTV_XS_NO_TXN,
                                  "/local/domain/5/rtvirt/vbd/hda/request", "pv", 2), -EACCES);
    ck_assert_int_eq(rtv_xs_write(guest.xs, RTV_XS_NO_TXN,
                                  "/local/domain/5/rtvirt/vbd/hda/state", "pv", 2), -EACCES);
    ck_assert_int_eq(rtv_xs_rm(guest.xs, RTV_XS_NO_TXN, "/local/domain/5/rtvirt"), -EACCES);
    ck_assert_int_eq(rtv_xs_rm(guest.xs, RTV_XS_NO_TXN, "/local/domain/5/rtvirt/vbd"), -EACCES);

    /* ...and writes its own report area. */
    ck_assert_int_eq(rtv_xs_write(guest.xs, RTV_XS_NO_TXN,
                                  "/local/domain/5/device/rtvirt/vbd/hda/shunt-state",
                                  "emulating", 9), 0);

    /* Managing again keeps the state and refreshes the image. */
    put(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/state", "pv");
    ck_assert_int_eq(rtv_ctl_manage(dom0.xs, 5, "hda", "/srv/other.img", &err), 0);
    ck_assert_str_eq(get(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/state"), "pv");
    ck_assert_str_eq(get(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/image"), "/srv/other.img");
}
END_TEST

START_TEST(manage_refuses_bad_input)
{
    ck_assert_int_eq(rtv_ctl_manage(dom0.xs, 5, "../hda", "/x.img", &err), -EINVAL);
    ck_assert_contains(err.msg, "$VDEV: value \"../hda\" not allowed");
    ck_assert_int_eq(rtv_ctl_manage(dom0.xs, 5, "hda", "x.img", &err), -EINVAL);
    ck_assert_contains(err.msg, "not an absolute dom0 path");
    ck_assert_ptr_null(get(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/state"));
}
END_TEST

START_TEST(requests_get_growing_ids_in_one_transaction)
{
    uint32_t id = 0;

    ck_assert_int_eq(rtv_ctl_request(dom0.xs, 5, "hda", "pv", 0, &id, &err), -ENOENT);
    ck_assert_contains(err.msg, "not managed by rtvirt");
    ck_assert_int_eq(rtv_ctl_manage(dom0.xs, 5, "hda", "/srv/g.img", &err), 0);
    ck_assert_int_eq(rtv_ctl_request(dom0.xs, 5, "hda", "pv", 0, &id, &err), 0);
    ck_assert_uint_eq(id, 1);
    ck_assert_str_eq(get(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/request"), "pv");
    ck_assert_str_eq(get(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/request-id"), "1");
    ck_assert_ptr_null(get(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/timeout-ms"));

    put(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/result-id", "7");
    ck_assert_int_eq(rtv_ctl_request(dom0.xs, 5, "hda", "selective", 2500, &id, &err), 0);
    ck_assert_uint_eq(id, 8);
    ck_assert_str_eq(get(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/timeout-ms"), "2500");

    ck_assert_int_eq(rtv_ctl_request(dom0.xs, 5, "hda", "fast", 0, &id, &err), -EINVAL);
    ck_assert_str_eq(err.msg, "node ctl-request: value \"fast\" not allowed; "
                              "allowed: one of: pv, emulated, selective");
    ck_assert_int_eq(rtv_ctl_request(dom0.xs, 5, "hda", "pv", 5, &id, &err), -EINVAL);
    ck_assert_contains(err.msg, "ctl-timeout-ms");
}
END_TEST

START_TEST(request_retries_conflicting_transactions)
{
    uint32_t id;

    ck_assert_int_eq(rtv_ctl_manage(dom0.xs, 5, "hda", "/srv/g.img", &err), 0);
    rtv_local_fault_set(hub, RTV_FAULT_XS_TXN_COMMIT, 0, 3, EAGAIN);
    ck_assert_int_eq(rtv_ctl_request(dom0.xs, 5, "hda", "pv", 0, &id, &err), 0);
    ck_assert_uint_eq(rtv_local_fault_hits(hub, RTV_FAULT_XS_TXN_COMMIT), 3);
    ck_assert_uint_eq(id, 1);
}
END_TEST

/* A stand-in coordinator: answers the first request after a short delay. */
static void *answer_later(void *arg)
{
    (void)arg;
    struct timespec ts = { 0, 50 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    put(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/state", "switching-to-pv");
    nanosleep(&ts, NULL);
    put(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/result", "ok");
    put(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/result-id", "1");
    nanosleep(&ts, NULL);
    put(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/state", "pv");
    return NULL;
}

START_TEST(wait_returns_when_answered_and_settled)
{
    struct rtv_ctl_status st;
    pthread_t t;
    uint32_t id;

    ck_assert_int_eq(rtv_ctl_manage(dom0.xs, 5, "hda", "/srv/g.img", &err), 0);
    ck_assert_int_eq(rtv_ctl_request(dom0.xs, 5, "hda", "pv", 0, &id, &err), 0);
    pthread_create(&t, NULL, answer_later, NULL);
    ck_assert_int_eq(rtv_ctl_wait(dom0.xs, 5, "hda", id, 5000, &st, &err), 0);
    pthread_join(t, NULL);
    ck_assert_str_eq(st.state, "pv");
    ck_assert_str_eq(st.result, "ok");
    ck_assert_uint_eq(st.result_id, 1);
    ck_assert_str_eq(st.image, "/srv/g.img");
}
END_TEST

START_TEST(wait_is_bounded)
{
    struct rtv_ctl_status st;
    uint32_t id;

    ck_assert_int_eq(rtv_ctl_manage(dom0.xs, 5, "hda", "/srv/g.img", &err), 0);
    ck_assert_int_eq(rtv_ctl_request(dom0.xs, 5, "hda", "pv", 0, &id, &err), 0);
    ck_assert_int_eq(rtv_ctl_wait(dom0.xs, 5, "hda", id, 300, &st, &err), -ETIMEDOUT);
    ck_assert_str_eq(err.msg, "request 1 for hda of domain 5 not answered within "
                              "300 ms (state emulated, result-id 0)");
}
END_TEST

START_TEST(status_list_and_unmanage)
{
    struct rtv_ctl_status st;
    char **names;
    unsigned n;

    ck_assert_int_eq(rtv_ctl_list(dom0.xs, 5, &names, &n, &err), 0);
    ck_assert_uint_eq(n, 0);
    free(names);
    ck_assert_int_eq(rtv_ctl_status(dom0.xs, 5, "hda", &st, &err), -ENOENT);
    ck_assert_int_eq(rtv_ctl_manage(dom0.xs, 5, "hda", "/a.img", &err), 0);
    ck_assert_int_eq(rtv_ctl_manage(dom0.xs, 5, "hdb", "/b.img", &err), 0);
    ck_assert_int_eq(rtv_ctl_list(dom0.xs, 5, &names, &n, &err), 0);
    ck_assert_uint_eq(n, 2);
    free(names);

    put(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/stats/switches", "12");
    put(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/stats/blackout-us", "bogus");
    ck_assert_int_eq(rtv_ctl_status(dom0.xs, 5, "hda", &st, &err), 0);
    ck_assert_uint_eq(st.switches, 12);
    ck_assert_uint_eq(st.blackout_us, 0);
    ck_assert_uint_eq(st.dm_sync_us, 0);          /* absent: no QMP sync yet */
    put(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/stats/dm-sync-us", "870");
    ck_assert_int_eq(rtv_ctl_status(dom0.xs, 5, "hda", &st, &err), 0);
    ck_assert_uint_eq(st.dm_sync_us, 870);

    put(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/state", "pv");
    ck_assert_int_eq(rtv_ctl_unmanage(dom0.xs, 5, "hda", &err), -EBUSY);
    ck_assert_contains(err.msg, "switch it to emulated first");
    ck_assert_int_eq(rtv_ctl_unmanage(dom0.xs, 5, "hdb", &err), 0);
    ck_assert_ptr_null(get(dom0.xs, "/local/domain/5/rtvirt/vbd/hdb/state"));
    ck_assert_ptr_null(get(dom0.xs, "/local/domain/5/device/rtvirt/vbd/hdb"));
    ck_assert_int_eq(rtv_ctl_unmanage(dom0.xs, 5, "hdb", &err), -ENOENT);
    /* hda is still managed: the parents stay. */
    ck_assert_ptr_nonnull(get(dom0.xs, "/local/domain/5/rtvirt/vbd"));
    /* The last device released: nothing of rtvirt is left in the guest's
     * tree (the parents manage created are gone too). */
    put(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/state", "emulated");
    ck_assert_int_eq(rtv_ctl_unmanage(dom0.xs, 5, "hda", &err), 0);
    ck_assert_ptr_null(get(dom0.xs, "/local/domain/5/rtvirt"));
    ck_assert_ptr_null(get(dom0.xs, "/local/domain/5/device/rtvirt"));
    ck_assert_ptr_nonnull(get(dom0.xs, "/local/domain/5/device"));
}
END_TEST

START_TEST(nic_manage_request_status_list)
{
    struct rtv_ctl_status st;
    char **names;
    unsigned n;
    uint32_t id = 0;

    /* A NIC is managed with its MAC and bridge, in the same two trees. */
    ck_assert_int_eq(rtv_ctl_manage_vif(dom0.xs, 5, "vif/0", "00:16:3E:0a:bB:01",
                                        "xenbr0", &err), 0);
    ck_assert_str_eq(get(dom0.xs, "/local/domain/5/rtvirt/vif/0/state"), "emulated");
    ck_assert_str_eq(get(dom0.xs, "/local/domain/5/rtvirt/vif/0/mac"), "00:16:3e:0a:bb:01");
    ck_assert_str_eq(get(dom0.xs, "/local/domain/5/rtvirt/vif/0/bridge"), "xenbr0");
    ck_assert_str_eq(get(guest.xs, "/local/domain/5/rtvirt/vif/0/state"), "emulated");
    ck_assert_int_eq(rtv_xs_write(guest.xs, RTV_XS_NO_TXN,
                                  "/local/domain/5/rtvirt/vif/0/request", "pv", 2), -EACCES);
    ck_assert_int_eq(rtv_xs_write(guest.xs, RTV_XS_NO_TXN,
                                  "/local/domain/5/rtvirt/vif/0/port-ready-id", "9", 1), -EACCES);
    ck_assert_int_eq(rtv_xs_rm(guest.xs, RTV_XS_NO_TXN, "/local/domain/5/rtvirt/vif"), -EACCES);
    ck_assert_int_eq(rtv_xs_write(guest.xs, RTV_XS_NO_TXN,
                                  "/local/domain/5/device/rtvirt/vif/0/shunt-state",
                                  "emulating", 9), 0);

    /* Requests: the NIC's own nodes; no selective mode for a NIC. */
    ck_assert_int_eq(rtv_ctl_request(dom0.xs, 5, "vif/0", "pv", 3000, &id, &err), 0);
    ck_assert_uint_eq(id, 1);
    ck_assert_str_eq(get(dom0.xs, "/local/domain/5/rtvirt/vif/0/request"), "pv");
    ck_assert_str_eq(get(dom0.xs, "/local/domain/5/rtvirt/vif/0/request-id"), "1");
    ck_assert_str_eq(get(dom0.xs, "/local/domain/5/rtvirt/vif/0/timeout-ms"), "3000");
    ck_assert_int_eq(rtv_ctl_request(dom0.xs, 5, "vif/0", "selective", 0, &id, &err), -EINVAL);
    ck_assert_contains(err.msg, "vif-request");
    ck_assert_int_eq(rtv_ctl_request(dom0.xs, 5, "vif/1", "pv", 0, &id, &err), -ENOENT);

    put(dom0.xs, "/local/domain/5/rtvirt/vif/0/result", "ok");
    put(dom0.xs, "/local/domain/5/rtvirt/vif/0/result-id", "1");
    put(dom0.xs, "/local/domain/5/rtvirt/vif/0/state", "pv");
    put(dom0.xs, "/local/domain/5/rtvirt/vif/0/stats/switches", "1");
    put(dom0.xs, "/local/domain/5/rtvirt/vif/0/stats/blackout-us", "1234");
    ck_assert_int_eq(rtv_ctl_status(dom0.xs, 5, "vif/0", &st, &err), 0);
    ck_assert_str_eq(st.vdev, "vif/0");
    ck_assert_str_eq(st.state, "pv");
    ck_assert_str_eq(st.image, "00:16:3e:0a:bb:01");
    ck_assert_str_eq(st.shunt_state, "emulating");
    ck_assert_uint_eq(st.switches, 1);
    ck_assert_uint_eq(st.blackout_us, 1234);
    ck_assert_uint_eq(st.held, 0);
    ck_assert_int_eq(rtv_ctl_wait(dom0.xs, 5, "vif/0", 1, 500, &st, &err), 0);

    /* Disks and NICs are listed together, each as a tool names it. */
    ck_assert_int_eq(rtv_ctl_manage(dom0.xs, 5, "hda", "/srv/g.img", &err), 0);
    ck_assert_int_eq(rtv_ctl_list(dom0.xs, 5, &names, &n, &err), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(names[0], "hda");
    ck_assert_str_eq(names[1], "vif/0");
    ck_assert_ptr_null(names[2]);
    free(names);

    /* Released only on the emulated leg; the empty parents go with it. */
    ck_assert_int_eq(rtv_ctl_unmanage(dom0.xs, 5, "vif/0", &err), -EBUSY);
    put(dom0.xs, "/local/domain/5/rtvirt/vif/0/state", "emulated");
    ck_assert_int_eq(rtv_ctl_unmanage(dom0.xs, 5, "vif/0", &err), 0);
    ck_assert_ptr_null(get(dom0.xs, "/local/domain/5/rtvirt/vif"));
    ck_assert_ptr_null(get(dom0.xs, "/local/domain/5/device/rtvirt/vif"));
    ck_assert_str_eq(get(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/state"), "emulated");
}
END_TEST

START_TEST(nic_manage_refuses_bad_input)
{
    static const char *const bad_macs[] = {
        "00:16:3e:0a:bb", "00:16:3e:0a:bb:01:02", "0016:3e:0a:bb:01", "00:16:3e:0a:bb:0g",
        "01:16:3e:0a:bb:01" /* multicast */, "", "00-16-3e-0a-bb-01",
    };
    for (unsigned i = 0; i < sizeof(bad_macs) / sizeof(bad_macs[0]); i++) {
        ck_assert_int_eq(rtv_ctl_manage_vif(dom0.xs, 5, "vif/0", bad_macs[i], "xenbr0",
                                            &err), -EINVAL);
        ck_assert_contains(err.msg, "vif-mac");
    }
    ck_assert_int_eq(rtv_ctl_manage_vif(dom0.xs, 5, "vif/0", "00:16:3e:0a:bb:01",
                                        "../br", &err), -EINVAL);
    ck_assert_int_eq(rtv_ctl_manage_vif(dom0.xs, 5, "vif/0", "00:16:3e:0a:bb:01",
                                        NULL, &err), -EINVAL);
    ck_assert_int_eq(rtv_ctl_manage_vif(dom0.xs, 5, "vif/01", "00:16:3e:0a:bb:01",
                                        "xenbr0", &err), -EINVAL);
    ck_assert_contains(err.msg, "$DEVID");
    ck_assert_int_eq(rtv_ctl_manage_vif(dom0.xs, 5, "hda", "00:16:3e:0a:bb:01",
                                        "xenbr0", &err), -EINVAL);
    ck_assert_contains(err.msg, "not a NIC");
    ck_assert_int_eq(rtv_ctl_manage(dom0.xs, 5, "vif/0", "/x.img", &err), -EINVAL);
    ck_assert_contains(err.msg, "is a NIC");
    ck_assert_ptr_null(get(dom0.xs, "/local/domain/5/rtvirt"));
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(ctl_suite, "ctl", "core", setup, teardown, 0,
                        resolves_domains_by_id_and_name, manage_sets_schema_permissions,
                        manage_refuses_bad_input, requests_get_growing_ids_in_one_transaction,
                        request_retries_conflicting_transactions,
                        wait_returns_when_answered_and_settled, wait_is_bounded,
                        status_list_and_unmanage, nic_manage_request_status_list,
                        nic_manage_refuses_bad_input)

RTV_UNIT_MAIN(ctl_suite)
