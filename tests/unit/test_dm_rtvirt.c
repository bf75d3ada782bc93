/*
 * The dm target's text (common/dm_rtvirt.c): the table line rtvirt-shunt
 * loads, and the table and status lines it reads back from the kernel when
 * it picks a device up.  Every refusal must name what was wrong.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rtvirt/dm_rtvirt.h"
#include "unit.h"

static struct rtv_dm_table table(enum rtv_mode m, const char *emu, const char *pv,
                                 uint64_t sectors)
{
    struct rtv_dm_table t = { .mode = m, .sectors = sectors };

    snprintf(t.emu, sizeof(t.emu), "%s", emu);
    snprintf(t.pv, sizeof(t.pv), "%s", pv);
    return t;
}

START_TEST(params_of_each_mode)
{
    struct rtv_err err = { 0, "" };
    char buf[200];
    struct rtv_dm_table t = table(RTV_MODE_EMULATED, "8:0", "", 2048);

    ck_assert_int_eq(rtv_dm_table_params(&t, buf, sizeof(buf), &err), 0);
    ck_assert_str_eq(buf, "emulated 8:0 -");
    t = table(RTV_MODE_PV, "8:0", "202:16", 2048);
    ck_assert_int_eq(rtv_dm_table_params(&t, buf, sizeof(buf), &err), 0);
    ck_assert_str_eq(buf, "pv 8:0 202:16");
    t = table(RTV_MODE_SELECTIVE, "/dev/sda", "/dev/xvdb", 1);
    ck_assert_int_eq(rtv_dm_table_params(&t, buf, sizeof(buf), &err), 0);
    ck_assert_str_eq(buf, "selective /dev/sda /dev/xvdb");
    /* emulated may keep a PV leg attached (the leg is not used) */
    t = table(RTV_MODE_EMULATED, "8:0", "202:16", 8);
    ck_assert_int_eq(rtv_dm_table_params(&t, buf, sizeof(buf), &err), 0);
    ck_assert_str_eq(buf, "emulated 8:0 202:16");
}
END_TEST

START_TEST(params_refused_by_name)
{
    struct rtv_err err = { 0, "" };
    char buf[200];
    struct rtv_dm_table t;

    t = table(RTV_MODE_PV, "8:0", "", 2048);
    ck_assert_int_eq(rtv_dm_table_params(&t, buf, sizeof(buf), &err), -EINVAL);
    ck_assert_contains(err.msg, "mode pv needs a PV leg");
    t = table(RTV_MODE_SELECTIVE, "8:0", "", 2048);
    ck_assert_int_eq(rtv_dm_table_params(&t, buf, sizeof(buf), &err), -EINVAL);
    ck_assert_contains(err.msg, "mode selective needs a PV leg");
    t = table(RTV_MODE_PV, "8:0", "8:0", 2048);
    ck_assert_int_eq(rtv_dm_table_params(&t, buf, sizeof(buf), &err), -EINVAL);
    ck_assert_contains(err.msg, "same device 8:0");
    t = table(RTV_MODE_EMULATED, "8:0", "", 0);
    ck_assert_int_eq(rtv_dm_table_params(&t, buf, sizeof(buf), &err), -EINVAL);
    ck_assert_contains(err.msg, "0 sectors");
    t = table(RTV_MODE_EMULATED, "", "", 8);
    ck_assert_int_eq(rtv_dm_table_params(&t, buf, sizeof(buf), &err), -EINVAL);
    ck_assert_contains(err.msg, "emulated leg: empty");
    t = table(RTV_MODE_PV, "8:0", "202 16", 8);
    ck_assert_int_eq(rtv_dm_table_params(&t, buf, sizeof(buf), &err), -EINVAL);
    ck_assert_contains(err.msg, "PV leg \"202 16\": white space");
    t = table(RTV_MODE_PV, "8:0", "-", 8);
    ck_assert_int_eq(rtv_dm_table_params(&t, buf, sizeof(buf), &err), -EINVAL);
    ck_assert_contains(err.msg, "PV leg: \"-\" is not a device");
    t = table(RTV_MODE_COUNT, "8:0", "", 8);
    ck_assert_int_eq(rtv_dm_table_params(&t, buf, sizeof(buf), &err), -EINVAL);
    ck_assert_contains(err.msg, "not emulated, pv or selective");
    t = table(RTV_MODE_PV, "8:0", "202:16", 8);
    ck_assert_int_eq(rtv_dm_table_params(&t, buf, 8, &err), -ENAMETOOLONG);
}
END_TEST

START_TEST(table_parsed_back)
{
    struct rtv_err err = { 0, "" };
    struct rtv_dm_table t;

    ck_assert_int_eq(rtv_dm_table_parse("rtvirt", 4096, "selective 8:0 202:16", &t, &err), 0);
    ck_assert_int_eq(t.mode, RTV_MODE_SELECTIVE);
    ck_assert_str_eq(t.emu, "8:0");
    ck_assert_str_eq(t.pv, "202:16");
    ck_assert_uint_eq(t.sectors, 4096);
    ck_assert_int_eq(rtv_dm_table_parse("rtvirt", 8, "emulated 8:0 -", &t, &err), 0);
    ck_assert_int_eq(t.mode, RTV_MODE_EMULATED);
    ck_assert_str_eq(t.pv, "");

    /* what we build, we read back */
    struct rtv_dm_table a = table(RTV_MODE_PV, "8:16", "202:0", 77), b;
    char buf[200];
    ck_assert_int_eq(rtv_dm_table_params(&a, buf, sizeof(buf), &err), 0);
    ck_assert_int_eq(rtv_dm_table_parse("rtvirt", 77, buf, &b, &err), 0);
    ck_assert_mem_eq(&a, &b, sizeof(a));
}
END_TEST

START_TEST(table_refused_by_name)
{
    struct rtv_err err = { 0, "" };
    struct rtv_dm_table t;

    ck_assert_int_eq(rtv_dm_table_parse("linear", 8, "8:0 0", &t, &err), -EINVAL);
    ck_assert_contains(err.msg, "target type \"linear\", not rtvirt");
    ck_assert_int_eq(rtv_dm_table_parse(NULL, 8, "pv 8:0 -", &t, &err), -EINVAL);
    ck_assert_contains(err.msg, "(none)");
    ck_assert_int_eq(rtv_dm_table_parse("rtvirt", 8, "pv 8:0", &t, &err), -EINVAL);
    ck_assert_contains(err.msg, "not <mode> <emu_dev> <pv_dev|->");
    ck_assert_int_eq(rtv_dm_table_parse("rtvirt", 8, "pv 8:0 202:0 x", &t, &err), -EINVAL);
    ck_assert_contains(err.msg, "not <mode> <emu_dev> <pv_dev|->");
    ck_assert_int_eq(rtv_dm_table_parse("rtvirt", 8, "fast 8:0 -", &t, &err), -EINVAL);
    ck_assert_contains(err.msg, "mode \"fast\"");
    ck_assert_int_eq(rtv_dm_table_parse("rtvirt", 8, "pv 8:0 -", &t, &err), -EINVAL);
    ck_assert_contains(err.msg, "mode pv needs a PV leg");
    ck_assert_int_eq(rtv_dm_table_parse("rtvirt", 8, "pv 8:0 8:0", &t, &err), -EINVAL);
    ck_assert_contains(err.msg, "same device");
    ck_assert_int_eq(rtv_dm_table_parse("rtvirt", 8, "", &t, &err), -EINVAL);
    ck_assert_int_eq(rtv_dm_table_parse("rtvirt", 8, NULL, &t, &err), -EINVAL);
}
END_TEST

START_TEST(status_parsed)
{
    struct rtv_err err = { 0, "" };
    struct rtv_dm_status st;

    ck_assert_int_eq(rtv_dm_status_parse("rtvirt", "pv ok 0 0", &st, &err), 0);
    ck_assert_int_eq(st.in_force, RTV_MODE_PV);
    ck_assert(!st.failed_over);
    ck_assert_int_eq(rtv_dm_status_parse("rtvirt", "emulated failed-over 12 3", &st, &err), 0);
    ck_assert_int_eq(st.in_force, RTV_MODE_EMULATED);
    ck_assert(st.failed_over);
    ck_assert_uint_eq(st.failovers, 12);
    ck_assert_uint_eq(st.pv_errors, 3);
    ck_assert_int_eq(rtv_dm_status_parse("rtvirt", "selective ok 0 18446744073709551615",
                                         &st, &err), 0);
    ck_assert_uint_eq(st.pv_errors, UINT64_MAX);
    ck_assert(!st.has_flip);
    /* the flip's fields (target 1.1) */
    ck_assert_int_eq(rtv_dm_status_parse("rtvirt", "selective ok 0 0 draining 3 7 1250",
                                         &st, &err), 0);
    ck_assert(st.has_flip);
    ck_assert_int_eq(st.in_force, RTV_MODE_SELECTIVE);
    ck_assert_int_eq(st.flip, RTV_DM_FLIP_DRAINING);
    ck_assert_uint_eq(st.held, 3);
    ck_assert_uint_eq(st.flips, 7);
    ck_assert_uint_eq(st.last_stall_us, 1250);
    ck_assert_int_eq(rtv_dm_status_parse("rtvirt", "emulated failed-over 2 1 prepared 0 0 0",
                                         &st, &err), 0);
    ck_assert_int_eq(st.flip, RTV_DM_FLIP_PREPARED);
    ck_assert_uint_eq(st.failovers, 2);
    ck_assert_str_eq(rtv_dm_flip_name(RTV_DM_FLIP_PREPARING), "preparing");
}
END_TEST

START_TEST(mode_message_built)
{
    char buf[32];

    ck_assert_int_eq(rtv_dm_mode_message(RTV_MODE_SELECTIVE, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "mode selective");
    ck_assert_int_eq(rtv_dm_mode_message(RTV_MODE_EMULATED, buf, 8), -ENAMETOOLONG);
    ck_assert_int_eq(rtv_dm_mode_message((enum rtv_mode)9, buf, sizeof(buf)), -EINVAL);
}
END_TEST

START_TEST(status_refused_by_name)
{
    struct rtv_err err = { 0, "" };
    struct rtv_dm_status st;

    ck_assert_int_eq(rtv_dm_status_parse("linear", "pv ok 0 0", &st, &err), -EINVAL);
    ck_assert_contains(err.msg, "target type \"linear\"");
    ck_assert_int_eq(rtv_dm_status_parse("rtvirt", "pv ok 0", &st, &err), -EINVAL);
    ck_assert_contains(err.msg, "not <mode> <ok|failed-over>");
    ck_assert_int_eq(rtv_dm_status_parse("rtvirt", "pv fine 0 0", &st, &err), -EINVAL);
    ck_assert_contains(err.msg, "\"fine\" is neither ok nor failed-over");
    ck_assert_int_eq(rtv_dm_status_parse("rtvirt", "pv ok -1 0", &st, &err), -EINVAL);
    ck_assert_contains(err.msg, "failovers \"-1\"");
    ck_assert_int_eq(rtv_dm_status_parse("rtvirt", "pv ok 0 07", &st, &err), -EINVAL);
    ck_assert_contains(err.msg, "pv_errors \"07\"");
    ck_assert_int_eq(rtv_dm_status_parse("rtvirt", "turbo ok 0 0", &st, &err), -EINVAL);
    ck_assert_contains(err.msg, "mode \"turbo\"");
    /* the kernel never reports PV in force once failed over */
    ck_assert_int_eq(rtv_dm_status_parse("rtvirt", "pv failed-over 1 1", &st, &err), -EINVAL);
    ck_assert_contains(err.msg, "failed over but pv in force");
    ck_assert_int_eq(rtv_dm_status_parse("rtvirt", "pv ok 0 0 idle 0 0", &st, &err), -EINVAL);
    ck_assert_contains(err.msg, "not <mode> <ok|failed-over>");
    ck_assert_int_eq(rtv_dm_status_parse("rtvirt", "pv ok 0 0 flipping 0 0 0", &st, &err),
                     -EINVAL);
    ck_assert_contains(err.msg, "flip state \"flipping\"");
    ck_assert_int_eq(rtv_dm_status_parse("rtvirt", "pv ok 0 0 idle x 0 0", &st, &err), -EINVAL);
    ck_assert_contains(err.msg, "held \"x\"");
    ck_assert_int_eq(rtv_dm_status_parse("rtvirt", "pv ok 0 0 idle 0 0 -5", &st, &err),
                     -EINVAL);
    ck_assert_contains(err.msg, "last-flip-stall-us \"-5\"");
}
END_TEST

START_TEST(device_name)
{
    struct rtv_err err = { 0, "" };
    char buf[RTV_DM_NAME_MAX];

    ck_assert_int_eq(rtv_dm_name(buf, sizeof(buf), "hda", &err), 0);
    ck_assert_str_eq(buf, "rtvirt-hda");
    ck_assert_int_eq(rtv_dm_name(buf, sizeof(buf), "Hda", &err), -EINVAL);
    ck_assert_contains(err.msg, "vdev \"Hda\"");
    ck_assert_int_eq(rtv_dm_name(buf, sizeof(buf), "hda/../x", &err), -EINVAL);
    ck_assert_int_eq(rtv_dm_name(buf, sizeof(buf), "", &err), -EINVAL);
    ck_assert_int_eq(rtv_dm_name(buf, sizeof(buf), "a234567890123456", &err), -EINVAL);
    ck_assert_int_eq(rtv_dm_name(buf, 8, "hda", &err), -ENAMETOOLONG);
    ck_assert_int_eq(rtv_dm_devnum(buf, sizeof(buf), 202, 16), 0);
    ck_assert_str_eq(buf, "202:16");
}
END_TEST

/* The PV leg device: its name can be no rtvirt-<vdev> of another disk, its
 * table is error or linear over one disk, and nothing else is taken back. */
START_TEST(pv_leg_device_tables)
{
    struct rtv_err err = { 0, "" };
    struct rtv_dm_leg leg = { .sectors = 2048 }, back;
    const char *type = NULL;
    char buf[RTV_DM_NAME_MAX];

    ck_assert_int_eq(rtv_dm_pv_name(buf, sizeof(buf), "hda", &err), 0);
    ck_assert_str_eq(buf, "rtvirt-hda.pv");
    ck_assert_int_eq(rtv_dm_pv_name(buf, sizeof(buf), "hda.pv", &err), -EINVAL);
    ck_assert_int_eq(rtv_dm_pv_name(buf, 13, "hda", &err), -ENAMETOOLONG);

    ck_assert_int_eq(rtv_dm_leg_params(&leg, &type, buf, sizeof(buf), &err), 0);
    ck_assert_str_eq(type, "error");
    ck_assert_str_eq(buf, "");
    snprintf(leg.disk, sizeof(leg.disk), "202:16");
    ck_assert_int_eq(rtv_dm_leg_params(&leg, &type, buf, sizeof(buf), &err), 0);
    ck_assert_str_eq(type, "linear");
    ck_assert_str_eq(buf, "202:16 0");
    snprintf(leg.disk, sizeof(leg.disk), "202 16");
    ck_assert_int_eq(rtv_dm_leg_params(&leg, &type, buf, sizeof(buf), &err), -EINVAL);
    ck_assert_contains(err.msg, "white space");
    leg.sectors = 0;
    ck_assert_int_eq(rtv_dm_leg_params(&leg, &type, buf, sizeof(buf), &err), -EINVAL);

    ck_assert_int_eq(rtv_dm_leg_parse("linear", 2048, "202:16 0", &back, &err), 0);
    ck_assert_str_eq(back.disk, "202:16");
    ck_assert_uint_eq(back.sectors, 2048);
    ck_assert_int_eq(rtv_dm_leg_parse("error", 2048, "", &back, &err), 0);
    ck_assert_str_eq(back.disk, "");
    ck_assert_int_eq(rtv_dm_leg_parse("linear", 2048, "202:16 8", &back, &err), -EINVAL);
    ck_assert_contains(err.msg, "not <disk> 0");
    ck_assert_int_eq(rtv_dm_leg_parse("striped", 2048, "2 8 202:16 0", &back, &err), -EINVAL);
    ck_assert_contains(err.msg, "\"striped\", not error or linear");
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(dm_rtvirt_suite, "dm_rtvirt", "core", NULL, NULL, 0,
                        params_of_each_mode, params_refused_by_name, table_parsed_back,
                        table_refused_by_name, status_parsed, status_refused_by_name,
                        mode_message_built, device_name, pv_leg_device_tables)

RTV_UNIT_MAIN(dm_rtvirt_suite)
