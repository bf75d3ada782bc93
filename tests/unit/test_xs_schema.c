/*
 * The xenstore contract as C: the generated table is well formed, paths are
 * built exactly as the schema says, and bad placeholder values and bad node
 * values are refused with errors naming the node, the value and what is
 * allowed.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "rtvirt/xs_schema.h"
#include "rtvirt/xs_util.h"
#include "unit.h"

START_TEST(table_is_well_formed)
{
    for (int i = 0; i < RTV_XS_NODE_COUNT; i++) {
        const struct rtv_xs_node_spec *n = &rtv_xs_nodes[i];
        ck_assert_ptr_nonnull(n->id);
        ck_assert_msg(n->path[0] == '/', "%s: path not absolute", n->id);
        ck_assert_msg(n->writer[0] && n->perms[0] && n->default_value[0], "%s", n->id);
        if (n->type.kind == RTV_XS_T_ENUM || n->type.kind == RTV_XS_T_BOOL)
            ck_assert_uint_gt(n->type.nvalues, 0);
        if (n->type.kind == RTV_XS_T_UINT)
            ck_assert(n->type.min <= n->type.max);
        ck_assert_int_eq(rtv_xs_node_by_id(n->id), i);
        for (int j = 0; j < i; j++) {
            ck_assert_str_ne(rtv_xs_nodes[j].id, n->id);
            ck_assert_str_ne(rtv_xs_nodes[j].path, n->path);
        }
    }
    ck_assert_int_eq(rtv_xs_node_by_id("no-such-node"), -1); /* xs-schema: not-a-node */
}
END_TEST

START_TEST(builds_control_path)
{
    char buf[RTV_XS_PATH_MAX];
    struct rtv_err err = {0};
    struct rtv_xs_args a = { .domid = 5, .vdev = "xvda" };

    ck_assert_int_eq(rtv_xs_path(buf, sizeof(buf), RTV_XS_CTL_REQUEST, &a, &err), 0);
    ck_assert_str_eq(buf, "/local/domain/5/rtvirt/vbd/xvda/request");
    ck_assert_int_eq(rtv_xs_dir(buf, sizeof(buf), RTV_XS_CTL_REQUEST, &a, &err), 0);
    ck_assert_str_eq(buf, "/local/domain/5/rtvirt/vbd/xvda");
    ck_assert_int_eq(rtv_xs_path(buf, sizeof(buf), RTV_XS_SHUNT_ACK_ID, &a, &err), 0);
    ck_assert_str_eq(buf, "/local/domain/5/device/rtvirt/vbd/xvda/shunt-ack-id");
}
END_TEST

START_TEST(builds_ioemu_path)
{
    char buf[RTV_XS_PATH_MAX];
    struct rtv_err err = {0};
    struct rtv_xs_args a = { .domid = 3, .iodev = "uart0" };

    ck_assert_int_eq(rtv_xs_path(buf, sizeof(buf), RTV_XS_IOEMU_REQUEST, &a, &err), 0);
    ck_assert_str_eq(buf, "/local/domain/3/rtvirt/ioemu/uart0/request");
    ck_assert_int_eq(rtv_xs_path(buf, sizeof(buf), RTV_XS_IOEMU_STATS_HELD_US, &a, &err), 0);
    ck_assert_str_eq(buf, "/local/domain/3/rtvirt/ioemu/uart0/stats/held-us");
    a.iodev = "UART0";
    ck_assert_int_eq(rtv_xs_path(buf, sizeof(buf), RTV_XS_IOEMU_STATE, &a, &err), -EINVAL);
    ck_assert_contains(err.msg, "$IODEV");
}
END_TEST

START_TEST(builds_blkif_paths)
{
    char buf[RTV_XS_PATH_MAX];
    struct rtv_err err = {0};
    struct rtv_xs_args a = { .bedomid = 0, .btype = "vbd", .domid = 7,
                             .devid = 51712, .queue = 2, .ring = 3 };

    ck_assert_int_eq(rtv_xs_path(buf, sizeof(buf), RTV_XS_VBD_BE_FEATURE_PERSISTENT,
                                 &a, &err), 0);
    ck_assert_str_eq(buf, "/local/domain/0/backend/vbd/7/51712/feature-persistent");
    ck_assert_int_eq(rtv_xs_path(buf, sizeof(buf), RTV_XS_VBD_FE_QUEUE_RING_REFN,
                                 &a, &err), 0);
    ck_assert_str_eq(buf, "/local/domain/7/device/vbd/51712/queue-2/ring-ref3");
    ck_assert_str_eq(rtv_xs_leaf(RTV_XS_VBD_BE_FEATURE_PERSISTENT), "feature-persistent");
    ck_assert_str_eq(rtv_xs_leaf(RTV_XS_VBD_FE_RING_REFN), "ring-ref$RING");
}
END_TEST

/* Each bad placeholder value: the path is refused and the error names the
 * parameter and the value. */
static const struct {
    const char *vdev;
    unsigned long long domid;
    const char *needle;
} bad_args[] = {
    { NULL,        1,     "$VDEV: missing" },
    { "../etc",    1,     "\"../etc\"" },
    { "xvda/evil", 1,     "\"xvda/evil\"" },
    { "XVDA",      1,     "\"XVDA\"" },
    { "",          1,     "$VDEV" },
    { "0abc",      1,     "starting with a letter" },
    { "abcdefghijklmnop", 1, "1 to 15 characters" },
    { "xvda",      32752, "$DOMID: value \"32752\" not allowed; allowed: a decimal number from 0 to 32751" },
};

START_TEST(refuses_bad_placeholders)
{
    char buf[RTV_XS_PATH_MAX];
    struct rtv_err err = {0};
    struct rtv_xs_args a = { .domid = bad_args[_i].domid, .vdev = bad_args[_i].vdev };

    strcpy(buf, "untouched");
    ck_assert_int_eq(rtv_xs_path(buf, sizeof(buf), RTV_XS_CTL_STATE, &a, &err), -EINVAL);
    ck_assert_int_eq(err.code, EINVAL);
    ck_assert_contains(err.msg, "node ctl-state");
    ck_assert_contains(err.msg, bad_args[_i].needle);
}
END_TEST

START_TEST(refuses_bad_enum_placeholder)
{
    char buf[RTV_XS_PATH_MAX];
    struct rtv_err err = {0};
    struct rtv_xs_args a = { .btype = "tap", .domid = 1, .devid = 1 };

    ck_assert_int_eq(rtv_xs_path(buf, sizeof(buf), RTV_XS_VBD_BE_STATE, &a, &err), -EINVAL);
    ck_assert_contains(err.msg, "$BTYPE: value \"tap\" not allowed; allowed: one of: vbd3, vbd, qdisk");
}
END_TEST

START_TEST(refuses_small_buffer_and_bad_node)
{
    char buf[16];
    struct rtv_err err = {0};
    struct rtv_xs_args a = { .domid = 1, .vdev = "xvda" };

    ck_assert_int_eq(rtv_xs_path(buf, sizeof(buf), RTV_XS_CTL_STATE, &a, &err), -ENAMETOOLONG);
    ck_assert_contains(err.msg, "longer than 15 bytes");
    ck_assert_int_eq(rtv_xs_path(buf, sizeof(buf), RTV_XS_NODE_COUNT, &a, &err), -EINVAL);
    ck_assert_int_eq(rtv_xs_path(buf, sizeof(buf), (enum rtv_xs_node)-1, &a, &err), -EINVAL);
    ck_assert_ptr_null(rtv_xs_leaf(RTV_XS_NODE_COUNT));
}
END_TEST

static const struct {
    enum rtv_xs_node node;
    const char *value;
    int ok;
} values[] = {
    { RTV_XS_CTL_REQUEST, "pv", 1 },
    { RTV_XS_CTL_REQUEST, "selective", 1 },
    { RTV_XS_CTL_REQUEST, "PV", 0 },
    { RTV_XS_CTL_REQUEST, "pv ", 0 },
    { RTV_XS_CTL_REQUEST, "", 0 },
    { RTV_XS_CTL_REQUEST_ID, "1", 1 },
    { RTV_XS_CTL_REQUEST_ID, "4294967295", 1 },
    { RTV_XS_CTL_REQUEST_ID, "4294967296", 0 },
    { RTV_XS_CTL_REQUEST_ID, "0", 0 },
    { RTV_XS_CTL_REQUEST_ID, "007", 0 },
    { RTV_XS_CTL_REQUEST_ID, "-1", 0 },
    { RTV_XS_CTL_REQUEST_ID, "1e3", 0 },
    { RTV_XS_CTL_TIMEOUT_MS, "99", 0 },
    { RTV_XS_CTL_STATS_SWITCHES, "18446744073709551615", 1 },
    { RTV_XS_CTL_STATS_SWITCHES, "18446744073709551616", 0 },
    { RTV_XS_VBD_BE_FEATURE_PERSISTENT, "1", 1 },
    { RTV_XS_VBD_BE_FEATURE_PERSISTENT, "2", 0 },
    { RTV_XS_VBD_FE_STATE, "8", 0 },
    { RTV_XS_CTL_ERROR, "switch timed out waiting for the shunt", 1 },
    { RTV_XS_CTL_ERROR, "bell\a", 0 },
    { RTV_XS_SHUNT_EMULATED_DEV, "sda", 1 },
    { RTV_XS_SHUNT_EMULATED_DEV, "../sda", 0 },
    { RTV_XS_IOEMU_REQUEST, "virtualize", 1 },
    { RTV_XS_IOEMU_REQUEST, "devirtualize", 1 },
    { RTV_XS_IOEMU_REQUEST, "pv", 0 },
    { RTV_XS_IOEMU_STATE, "devirtualizing", 1 },
    { RTV_XS_IOEMU_STATE, "emulated", 0 },
    { RTV_XS_IOEMU_RESULT, "rolled-back", 1 },
    { RTV_XS_IOEMU_TIMEOUT_MS, "0", 0 },
    { RTV_XS_IOEMU_TIMEOUT_MS, "600001", 0 },
    { RTV_XS_IOEMU_MODEL, "uart16550", 1 },
    { RTV_XS_IOEMU_IOPORT, "760", 1 },
    { RTV_XS_IOEMU_IOPORT, "65536", 0 },
    { RTV_XS_IOEMU_IRQ, "3", 1 },
    { RTV_XS_IOEMU_IRQ, "16", 0 },
};

START_TEST(checks_values)
{
    struct rtv_err err = {0};
    int rc = rtv_xs_check_value(values[_i].node, values[_i].value, &err);

    if (values[_i].ok) {
        ck_assert_msg(rc == 0, "\"%s\" refused: %s", values[_i].value, err.msg);
    } else {
        ck_assert_int_eq(rc, -EINVAL);
        ck_assert_contains(err.msg, rtv_xs_nodes[values[_i].node].id);
        ck_assert_contains(err.msg, "allowed:");
    }
}
END_TEST

START_TEST(value_error_names_node_value_and_choices)
{
    struct rtv_err err = {0};

    ck_assert_int_eq(rtv_xs_check_value(RTV_XS_CTL_REQUEST, "pvx", &err), -EINVAL);
    ck_assert_str_eq(err.msg, "node ctl-request: value \"pvx\" not allowed; "
                              "allowed: one of: pv, emulated, selective");
    ck_assert_int_eq(rtv_xs_check_value(RTV_XS_CTL_REQUEST, NULL, &err), -EINVAL);
}
END_TEST

START_TEST(long_string_is_refused_and_truncated_in_message)
{
    char big[1100];
    struct rtv_err err = {0};

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(rtv_xs_check_value(RTV_XS_CTL_ERROR, big, &err), -EINVAL);
    ck_assert_contains(err.msg, "...\" not allowed");
    ck_assert_contains(err.msg, "at most 1024");
    big[1024] = '\0';
    ck_assert_int_eq(rtv_xs_check_value(RTV_XS_CTL_ERROR, big, &err), 0);
}
END_TEST

/* Found by tests/fuzz/fuzz_xs_values: a refused value holding a newline was
 * echoed as it was, and the message (published in error nodes) broke the
 * schema's own string type. */
START_TEST(refused_value_is_quoted_in_message)
{
    struct rtv_err err = {0};
    char out[16], small[13];

    ck_assert_int_eq(rtv_xs_check_value(RTV_XS_IOEMU_REQUEST_ID, "1\n2\\\x7f", &err),
                     -EINVAL);
    ck_assert_contains(err.msg, "value \"1\\x0a2\\x5c\\x7f\" not allowed");
    ck_assert_int_eq(rtv_xs_check_value(RTV_XS_CTL_ERROR, err.msg, NULL), 0);

    ck_assert_str_eq(rtv_xs_quote(out, sizeof(out), "abc", 64), "abc");
    ck_assert_str_eq(rtv_xs_quote(out, sizeof(out), "abcdef", 3), "abc...");
    /* Never more than fits, an escape never cut in half. */
    ck_assert_str_eq(rtv_xs_quote(out, sizeof(out), "0123456789\t", 64),
                     "0123456789\\x09");
    ck_assert_str_eq(rtv_xs_quote(small, sizeof(small), "0123456789\t", 64),
                     "0123456789");
    ck_assert_str_eq(rtv_xs_quote(out, 1, "abc", 64), "");
}
END_TEST

/* What a failed store operation says: the store failed (retry, blame
 * nobody) or the node is absent, malformed or forbidden. */
START_TEST(store_failed_or_content)
{
    ck_assert(rtv_xs_store_failed(-EIO));
    ck_assert(rtv_xs_store_failed(-ENOSPC));
    ck_assert(rtv_xs_store_failed(-EAGAIN));
    ck_assert(rtv_xs_store_failed(-ENOMEM));
    ck_assert(!rtv_xs_store_failed(-ENOENT));
    ck_assert(!rtv_xs_store_failed(-EINVAL));
    ck_assert(!rtv_xs_store_failed(-ERANGE));
    ck_assert(!rtv_xs_store_failed(-E2BIG));
    ck_assert(!rtv_xs_store_failed(-EACCES));
    ck_assert(!rtv_xs_store_failed(0));
}
END_TEST

START_TEST(parse_uint_edges)
{
    unsigned long long v = 42;

    ck_assert_int_eq(rtv_parse_uint("0", 10, &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(rtv_parse_uint("18446744073709551615", ULLONG_MAX, &v), 0);
    ck_assert(v == ULLONG_MAX);
    ck_assert_int_eq(rtv_parse_uint("18446744073709551616", ULLONG_MAX, &v), -ERANGE);
    ck_assert_int_eq(rtv_parse_uint("11", 10, &v), -ERANGE);
    ck_assert_int_eq(rtv_parse_uint("8", 7, &v), -ERANGE);
    ck_assert_int_eq(rtv_parse_uint("7", 7, &v), 0);
    ck_assert_int_eq(rtv_parse_uint("19", 15, &v), -ERANGE);
    ck_assert_int_eq(rtv_parse_uint("", 10, &v), -EINVAL);
    ck_assert_int_eq(rtv_parse_uint(NULL, 10, &v), -EINVAL);
    ck_assert_int_eq(rtv_parse_uint("+1", 10, &v), -EINVAL);
    ck_assert_int_eq(rtv_parse_uint("01", 10, &v), -EINVAL);
    ck_assert_int_eq(rtv_parse_uint("1 ", 10, &v), -EINVAL);
}
END_TEST

static Suite *xs_schema_suite(void)
{
    Suite *s = suite_create("xs_schema");
    TCase *tc = rtv_unit_case(s, "core", NULL, NULL, 0);

    RTV_UNIT_ADD(tc, table_is_well_formed, store_failed_or_content, builds_control_path,
                     builds_ioemu_path, builds_blkif_paths);
    tcase_add_loop_test(tc, refuses_bad_placeholders, 0,
                        (int)(sizeof(bad_args) / sizeof(bad_args[0])));
    RTV_UNIT_ADD(tc, refuses_bad_enum_placeholder, refuses_small_buffer_and_bad_node);
    tcase_add_loop_test(tc, checks_values, 0, (int)(sizeof(values) / sizeof(values[0])));
    RTV_UNIT_ADD(tc, value_error_names_node_value_and_choices,
                     long_string_is_refused_and_truncated_in_message,
                     refused_value_is_quoted_in_message, parse_uint_edges);
    return s;
}

RTV_UNIT_MAIN(xs_schema_suite)
