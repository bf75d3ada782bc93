/* Unit tests: the schema's permissions, both ways (common/xs_perms.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/local.h"
#include "rtvirt/xs_perms.h"
#include "unit.h"

START_TEST(paths_match_their_node_with_placeholders)
{
    struct rtv_xs_args a;
    char strs[256];

    ck_assert_int_eq(rtv_xs_node_match("/local/domain/5/rtvirt/vbd/hda/state", &a,
                                       strs, sizeof(strs)), RTV_XS_CTL_STATE);
    ck_assert_uint_eq(a.domid, 5);
    ck_assert_str_eq(a.vdev, "hda");
    ck_assert_int_eq(rtv_xs_node_match("/local/domain/7/device/vbd/51712/ring-ref3",
                                       &a, strs, sizeof(strs)), RTV_XS_VBD_FE_RING_REFN);
    ck_assert_uint_eq(a.domid, 7);
    ck_assert_uint_eq(a.devid, 51712);
    ck_assert_uint_eq(a.ring, 3);
    ck_assert_int_eq(rtv_xs_node_match("/local/domain/7/device/vbd/51712/ring-ref",
                                       &a, strs, sizeof(strs)), RTV_XS_VBD_FE_RING_REF);
    /* Placeholder values the schema refuses match nothing. */
    ck_assert_int_eq(rtv_xs_node_match("/local/domain/5/rtvirt/vbd/HDA/state", &a,
                                       strs, sizeof(strs)), -1);
    ck_assert_int_eq(rtv_xs_node_match("/local/domain/99999/rtvirt/vbd/hda/state", &a,
                                       strs, sizeof(strs)), -1);
    ck_assert_int_eq(rtv_xs_node_match("/local/domain/5/rtvirt/vbd/hda", &a,
                                       strs, sizeof(strs)), -1);
    /* One level too deep, on purpose. */
    const char *deep = "/local/domain/5/rtvirt/vbd/hda/state/x"; /* xs-schema: not-a-node */
    ck_assert_int_eq(rtv_xs_node_match(deep, &a, strs, sizeof(strs)), -1);
}
END_TEST

START_TEST(schema_perms_read_with_placeholders)
{
    struct rtv_xs_args a = { .domid = 5, .bedomid = 0 };
    struct rtv_xs_perm p[RTV_XS_PERMS_MAX];

    /* "n0 r$DOMID" */
    ck_assert_int_eq(rtv_xs_node_perms(RTV_XS_CTL_STATE, &a, p, RTV_XS_PERMS_MAX), 2);
    ck_assert_uint_eq(p[0].domid, 0);
    ck_assert_uint_eq(p[0].perms, RTV_XS_PERM_NONE);
    ck_assert_uint_eq(p[1].domid, 5);
    ck_assert_uint_eq(p[1].perms, RTV_XS_PERM_READ);
    /* Every node's perms parse. */
    for (unsigned i = 0; i < RTV_XS_NODE_COUNT; i++)
        ck_assert_msg(rtv_xs_node_perms((enum rtv_xs_node)i, &a, p, RTV_XS_PERMS_MAX) > 0,
                      "node %s: perms \"%s\"", rtv_xs_nodes[i].id, rtv_xs_nodes[i].perms);
    ck_assert_int_eq(rtv_xs_node_perms(RTV_XS_CTL_STATE, &a, p, 1), -EINVAL);
}
END_TEST

/* The audit finds a node whose permissions differ from the schema's, and
 * passes one that agrees. */
START_TEST(audit_finds_what_differs)
{
    struct rtv_local_hub *hub = rtv_local_hub_new(NULL);
    struct rtv_xen dom0;
    const struct rtv_xs_perm ctl[2] = { { 0, RTV_XS_PERM_NONE }, { 5, RTV_XS_PERM_READ } };
    const struct rtv_xs_perm bad[2] = { { 0, RTV_XS_PERM_NONE }, { 5, RTV_XS_PERM_BOTH } };
    char report[512];
    unsigned checked;

    ck_assert_ptr_nonnull(hub);
    ck_assert_int_eq(rtv_local_open(hub, 0, RTV_XEN_STORE, &dom0), 0);
    ck_assert_int_eq(rtv_xs_write(dom0.xs, RTV_XS_NO_TXN,
                                  "/local/domain/5/rtvirt/vbd/hda/state", "pv", 2), 0);
    ck_assert_int_eq(rtv_xs_write(dom0.xs, RTV_XS_NO_TXN,
                                  "/local/domain/5/rtvirt/vbd/hda/result", "ok", 2), 0);
    ck_assert_int_eq(rtv_xs_set_perms(dom0.xs, RTV_XS_NO_TXN,
                                      "/local/domain/5/rtvirt/vbd/hda/state", ctl, 2), 0);
    ck_assert_int_eq(rtv_xs_set_perms(dom0.xs, RTV_XS_NO_TXN,
                                      "/local/domain/5/rtvirt/vbd/hda/result", bad, 2), 0);
    ck_assert_int_eq(rtv_xs_perms_audit(dom0.xs, "/local/domain", &checked, report,
                                        sizeof(report)), 1);
    ck_assert_uint_eq(checked, 2);
    ck_assert_str_eq(report, "/local/domain/5/rtvirt/vbd/hda/result: perms n0 b5, "
                             "schema node ctl-result says n0 r5\n");
    ck_assert_int_eq(rtv_xs_set_perms(dom0.xs, RTV_XS_NO_TXN,
                                      "/local/domain/5/rtvirt/vbd/hda/result", ctl, 2), 0);
    ck_assert_int_eq(rtv_xs_perms_audit(dom0.xs, "/local/domain", NULL, report,
                                        sizeof(report)), 0);
    ck_assert_str_eq(report, "");
    rtv_xen_close(&dom0);
    rtv_local_hub_free(hub);
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(xs_perms_suite, "xs_perms", "core", NULL, NULL, 0,
                        paths_match_their_node_with_placeholders,
                        schema_perms_read_with_placeholders, audit_finds_what_differs)

RTV_UNIT_MAIN(xs_perms_suite)
