/*
 * The device classes: every role of each class names a node of that class's
 * own directories (control roles under rtvirt/<class>/, report roles under
 * device/rtvirt/<class>/), the two classes never share a node, and a tool's
 * device names parse to the right class and key.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rtvirt/devclass.h"
#include "unit.h"

static int is_report_role(enum rtv_role r)
{
    return r >= RTV_R_SHUNT_STATE;
}

START_TEST(roles_live_in_their_class_directories)
{
    for (unsigned c = 0; c < RTV_DEVCLASS_COUNT; c++) {
        const struct rtv_devclass *cls = rtv_devclasses[c];
        const char *key = cls->key == RTV_XS_P_DEVID ? "3" : "hda";
        char ctl[64], rep[64], path[256];
        int have = 0;

        snprintf(ctl, sizeof(ctl), "/local/domain/7/rtvirt/%s/%s/", cls->name, key);
        snprintf(rep, sizeof(rep), "/local/domain/7/device/rtvirt/%s/%s/", cls->name, key);
        for (int r = 0; r < RTV_R_COUNT; r++) {
            struct rtv_err err = {0};
            if (rtv_devclass_node(cls, (enum rtv_role)r) == RTV_R_NONE) {
                ck_assert_int_eq(rtv_devclass_path(cls, (enum rtv_role)r, 7, key, path,
                                                   sizeof(path), &err), -EINVAL);
                continue;
            }
            have++;
            ck_assert_int_eq(rtv_devclass_path(cls, (enum rtv_role)r, 7, key, path,
                                               sizeof(path), &err), 0);
            const char *want = is_report_role((enum rtv_role)r) ? rep : ctl;
            ck_assert_msg(strncmp(path, want, strlen(want)) == 0,
                          "%s role %d: %s is not under %s", cls->name, r, path, want);
        }
        /* The protocol's core roles exist in every class. */
        static const enum rtv_role core[] = {
            RTV_R_REQUEST, RTV_R_REQUEST_ID, RTV_R_TIMEOUT_MS, RTV_R_STATE,
            RTV_R_SWITCH_ID, RTV_R_PREVIOUS, RTV_R_RESULT, RTV_R_RESULT_ID,
            RTV_R_ERROR, RTV_R_GATE_ID, RTV_R_BACKEND_ID, RTV_R_ARG,
            RTV_R_SHUNT_STATE, RTV_R_SHUNT_ACK_ID, RTV_R_SHUNT_ERROR };
        for (unsigned i = 0; i < sizeof(core) / sizeof(core[0]); i++)
            ck_assert_int_ne(rtv_devclass_node(cls, core[i]), RTV_R_NONE);
        ck_assert_int_ge(have, (int)(sizeof(core) / sizeof(core[0])));
    }
    /* No node plays a part in two classes. */
    for (int r = 0; r < RTV_R_COUNT; r++)
        for (int q = 0; q < RTV_R_COUNT; q++)
            if (rtv_devclass_vbd.nodes[r] != RTV_R_NONE)
                ck_assert_int_ne(rtv_devclass_vbd.nodes[r], rtv_devclass_vif.nodes[q]);
}
END_TEST

START_TEST(parses_tool_names)
{
    const struct rtv_devclass *cls = NULL;
    const char *key = NULL;
    struct rtv_err err = {0};
    char name[32];

    ck_assert_int_eq(rtv_devclass_parse("hda", &cls, &key, &err), 0);
    ck_assert_ptr_eq(cls, &rtv_devclass_vbd);
    ck_assert_str_eq(key, "hda");
    ck_assert_int_eq(rtv_devclass_parse("vif/12", &cls, &key, &err), 0);
    ck_assert_ptr_eq(cls, &rtv_devclass_vif);
    ck_assert_str_eq(key, "12");
    rtv_devclass_name(cls, key, name, sizeof(name));
    ck_assert_str_eq(name, "vif/12");
    ck_assert_int_eq(rtv_devclass_parse("vif/012", &cls, &key, &err), -EINVAL);
    ck_assert_contains(err.msg, "$DEVID");
    ck_assert_int_eq(rtv_devclass_parse("vif/", &cls, &key, &err), -EINVAL);
    ck_assert_int_eq(rtv_devclass_parse("vif/x", &cls, &key, &err), -EINVAL);
    ck_assert_int_eq(rtv_devclass_parse("vif/2147483648", &cls, &key, &err), -EINVAL);
    ck_assert_int_eq(rtv_devclass_parse("", &cls, &key, &err), -EINVAL);
    ck_assert_int_eq(rtv_devclass_parse(NULL, &cls, &key, &err), -EINVAL);

    char parent[128];
    rtv_devclass_parent(&rtv_devclass_vif, 0, 4, parent, sizeof(parent));
    ck_assert_str_eq(parent, "/local/domain/4/rtvirt/vif");
    rtv_devclass_parent(&rtv_devclass_vif, 1, 4, parent, sizeof(parent));
    ck_assert_str_eq(parent, "/local/domain/4/device/rtvirt/vif");
    rtv_devclass_parent(&rtv_devclass_vbd, 0, 4, parent, sizeof(parent));
    ck_assert_str_eq(parent, "/local/domain/4/rtvirt/vbd");
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(devclass_suite, "devclass", "core", NULL, NULL, 0,
                        roles_live_in_their_class_directories, parses_tool_names)

RTV_UNIT_MAIN(devclass_suite)
