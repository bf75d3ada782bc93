/*
 * The netlink messages rtvirt-netshunt sends to the team driver
 * (shunt/team_nl.c), byte for byte against messages written out by hand
 * from the uapi headers (linux/netlink.h, genetlink.h, rtnetlink.h,
 * if_link.h, if_team.h; x86 little-endian), and the parsing of answers
 * laid out the way the kernel fills them (team_nl_fill_one_option_get,
 * nlctrl's family reply, netlink acks and errors), including malformed
 * ones.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "../../shunt/team_nl.h"
#include "unit.h"

/* Little-endian field helpers for the hand-written messages. */
#define U16(v) (uint8_t)((v) & 0xff), (uint8_t)(((v) >> 8) & 0xff)
#define U32(v) U16((v) & 0xffff), U16(((unsigned)(v) >> 16) & 0xffff)
/* nlmsghdr: len, type, flags, seq, pid 0 */
#define NLH(len, type, flags, seq) U32(len), U16(type), U16(flags), U32(seq), U32(0)
/* nlattr header: len (without padding), type */
#define NLA(len, type) U16(len), U16(type)

static uint8_t buf[512];

static void same_bytes(const uint8_t *got, int got_len, const uint8_t *want, size_t want_len)
{
    ck_assert_int_eq(got_len, (int)want_len);
    for (size_t i = 0; i < want_len; i++)
        ck_assert_msg(got[i] == want[i], "byte %zu: 0x%02x, want 0x%02x", i, got[i], want[i]);
}

START_TEST(get_family_bytes)
{
    static const uint8_t want[] = {
        NLH(32, 0x10 /* GENL_ID_CTRL */, 0x1 /* REQUEST */, 41),
        3 /* CTRL_CMD_GETFAMILY */, 1, 0, 0,
        NLA(9, 2 /* CTRL_ATTR_FAMILY_NAME */), 't', 'e', 'a', 'm', 0, 0, 0, 0,
    };
    same_bytes(buf, team_nl_get_family(buf, sizeof(buf), 41), want, sizeof(want));
}
END_TEST

START_TEST(set_activeport_bytes)
{
    static const uint8_t want[] = {
        NLH(68, 0x1c, 0x5 /* REQUEST | ACK */, 7),
        1 /* TEAM_CMD_OPTIONS_SET */, 1 /* TEAM_GENL_VERSION */, 0, 0,
        NLA(8, 1 /* TEAM_ATTR_TEAM_IFINDEX */), U32(3),
        NLA(40, 0x8002 /* NESTED | TEAM_ATTR_LIST_OPTION */),
        NLA(36, 0x8001 /* NESTED | TEAM_ATTR_ITEM_OPTION */),
        NLA(15, 1 /* TEAM_ATTR_OPTION_NAME */),
        'a', 'c', 't', 'i', 'v', 'e', 'p', 'o', 'r', 't', 0, 0,
        NLA(5, 3 /* TEAM_ATTR_OPTION_TYPE */), 3 /* NLA_U32 */, 0, 0, 0,
        NLA(8, 4 /* TEAM_ATTR_OPTION_DATA */), U32(5),
    };
    same_bytes(buf, team_nl_set_u32(buf, sizeof(buf), 0x1c, 7, 3, "activeport", 5), want,
               sizeof(want));
}
END_TEST

START_TEST(set_mode_bytes)
{
    static const uint8_t want[] = {
        NLH(76, 0x1c, 0x5, 8),
        1, 1, 0, 0,
        NLA(8, 1), U32(9),
        NLA(48, 0x8002),
        NLA(44, 0x8001),
        NLA(9, 1), 'm', 'o', 'd', 'e', 0, 0, 0, 0,
        NLA(5, 3), 5 /* NLA_STRING */, 0, 0, 0,
        NLA(17, 4), 'a', 'c', 't', 'i', 'v', 'e', 'b', 'a', 'c', 'k', 'u', 'p', 0, 0, 0, 0,
    };
    same_bytes(buf, team_nl_set_string(buf, sizeof(buf), 0x1c, 8, 9, "mode", "activebackup"),
               want, sizeof(want));
    /* the driver takes strings below TEAM_STRING_MAX_LEN (32) */
    ck_assert_int_eq(team_nl_set_string(buf, sizeof(buf), 0x1c, 8, 9, "mode",
                                        "0123456789012345678901234567890123"), -EINVAL);
}
END_TEST

START_TEST(get_options_bytes)
{
    static const uint8_t want[] = {
        NLH(28, 0x1c, 0x1, 9),
        2 /* TEAM_CMD_OPTIONS_GET */, 1, 0, 0,
        NLA(8, 1), U32(4),
    };
    same_bytes(buf, team_nl_get_options(buf, sizeof(buf), 0x1c, 9, 4), want, sizeof(want));
}
END_TEST

START_TEST(new_team_bytes)
{
    static const uint8_t mac[6] = { 0x00, 0x16, 0x3e, 0x44, 0xfd, 0xa9 };
    static const uint8_t want[] = {
        NLH(72, 16 /* RTM_NEWLINK */, 0x605 /* REQUEST | ACK | EXCL | CREATE */, 10),
        0 /* AF_UNSPEC */, 0, U16(0), U32(0) /* index */, U32(0), U32(0),
        NLA(10, 3 /* IFLA_IFNAME */), 't', 'e', 'a', 'm', '0', 0, 0, 0,
        NLA(10, 1 /* IFLA_ADDRESS */), 0x00, 0x16, 0x3e, 0x44, 0xfd, 0xa9, 0, 0,
        NLA(16, 0x8012 /* NESTED | IFLA_LINKINFO */),
        NLA(9, 1 /* IFLA_INFO_KIND */), 't', 'e', 'a', 'm', 0, 0, 0, 0,
    };
    same_bytes(buf, team_nl_new_team(buf, sizeof(buf), 10, "team0", mac), want, sizeof(want));
}
END_TEST

START_TEST(set_master_bytes)
{
    static const uint8_t want[] = {
        NLH(40, 16, 0x5, 11),
        0, 0, U16(0), U32(4) /* the port */, U32(0), U32(0),
        NLA(8, 10 /* IFLA_MASTER */), U32(7),
    };
    same_bytes(buf, team_nl_set_master(buf, sizeof(buf), 11, 4, 7), want, sizeof(want));
    /* release: master 0 */
    team_nl_set_master(buf, sizeof(buf), 12, 4, 0);
    ck_assert_int_eq(buf[36] | buf[37] | buf[38] | buf[39], 0);
}
END_TEST

START_TEST(too_small_a_buffer_is_refused)
{
    for (size_t n = 0; n < 68; n++)
        ck_assert_int_eq(team_nl_set_u32(buf, n, 0x1c, 7, 3, "activeport", 5), -EMSGSIZE);
    ck_assert_int_eq(team_nl_set_u32(buf, 68, 0x1c, 7, 3, "activeport", 5), 68);
    ck_assert_int_eq(team_nl_new_team(buf, 71, 1, "team0", (const uint8_t *)"abcdef"),
                     -EMSGSIZE);
}
END_TEST

/* ---- answers ------------------------------------------------------------------ */

/* A TEAM_CMD_OPTIONS_GET answer as the driver fills it: a per-port
 * "enabled" (flag, with its port), "mode" (string) and "activeport"
 * (u32), each with CHANGED set, then NLMSG_DONE in the same datagram. */
static const uint8_t options_answer[] = {
    NLH(112, 0x1c, 0x2 /* MULTI */, 9),
    2, 1, 0, 0,
    NLA(8, 1), U32(4),
    NLA(84, 2 /* LIST_OPTION (no NESTED flag: as older kernels send it) */),
    /* per port: enabled on port 3 */
    NLA(36, 1),
    NLA(12, 1), 'e', 'n', 'a', 'b', 'l', 'e', 'd', 0,
    NLA(8, 6 /* PORT_IFINDEX */), U32(3),
    NLA(5, 3), 6 /* NLA_FLAG */, 0, 0, 0,
    NLA(4, 4), /* flag data: empty */
    /* team-wide: activeport = 3 */
    NLA(40, 1),
    NLA(15, 1), 'a', 'c', 't', 'i', 'v', 'e', 'p', 'o', 'r', 't', 0, 0,
    NLA(4, 2 /* CHANGED */),
    NLA(5, 3), 3, 0, 0, 0,
    NLA(8, 4), U32(3),
    NLA(4, 2), /* stray attribute between items: ignored */
    NLH(20, 3 /* NLMSG_DONE */, 0x2, 9), U32(0),
};

START_TEST(finds_a_team_wide_option)
{
    size_t off = 0, ml;
    const void *m;
    enum team_nl_kind kind;
    int err;
    uint32_t v = 0;
    char s[32];

    ck_assert_int_eq(team_nl_next(options_answer, sizeof(options_answer), &off, &m, &ml, &kind,
                                  &err), 1);
    ck_assert_int_eq(kind, TEAM_NL_DATA);
    ck_assert_uint_eq(ml, 112);
    ck_assert_int_eq(team_nl_find_u32(m, ml, "activeport", &v), 1);
    ck_assert_uint_eq(v, 3);
    /* a per-port option is not the team's */
    ck_assert_int_eq(team_nl_find_u32(m, ml, "enabled", &v), 0);
    ck_assert_int_eq(team_nl_find_string(m, ml, "mode", s, sizeof(s)), 0);
    /* asked as a string, it is a u32: refused, not misread */
    ck_assert_int_eq(team_nl_find_string(m, ml, "activeport", s, sizeof(s)), -EBADMSG);
    ck_assert_int_eq(team_nl_next(options_answer, sizeof(options_answer), &off, &m, &ml, &kind,
                                  &err), 1);
    ck_assert_int_eq(kind, TEAM_NL_DONE);
    ck_assert_int_eq(team_nl_next(options_answer, sizeof(options_answer), &off, &m, &ml, &kind,
                                  &err), 0);
}
END_TEST

START_TEST(finds_a_string_option)
{
    static const uint8_t msg[] = {
        NLH(60, 0x1c, 0x2, 9),
        2, 1, 0, 0,
        NLA(40, 0x8002),
        NLA(36, 0x8001),
        NLA(9, 1), 'm', 'o', 'd', 'e', 0, 0, 0, 0,
        NLA(5, 3), 5, 0, 0, 0,
        NLA(11, 4), 'a', 'b', 'c', 'd', 'e', 'f', 0, 0,
        U32(0) /* padding the kernel may leave */,
    };
    char s[32], small[4];

    ck_assert_int_eq(team_nl_find_string(msg, sizeof(msg), "mode", s, sizeof(s)), 1);
    ck_assert_str_eq(s, "abcdef");
    ck_assert_int_eq(team_nl_find_string(msg, sizeof(msg), "mode", small, sizeof(small)),
                     -EBADMSG);
}
END_TEST

START_TEST(malformed_answers_are_refused)
{
    uint8_t m[sizeof(options_answer)];
    uint32_t v;
    size_t off = 0, ml;
    const void *p;
    enum team_nl_kind kind;
    int err;

    /* an item that claims more than its list holds */
    memcpy(m, options_answer, sizeof(m));
    m[28] = 200;   /* the LIST_OPTION's length */
    ck_assert_int_eq(team_nl_find_u32(m, 112, "activeport", &v), -EBADMSG);
    /* a name without its NUL */
    memcpy(m, options_answer, sizeof(m));
    m[86] = 'x';   /* activeport's NUL */
    ck_assert_int_eq(team_nl_find_u32(m, 112, "activeport", &v), -EBADMSG);
    /* a u32 of 2 bytes */
    memcpy(m, options_answer, sizeof(m));
    m[100] = 6;    /* activeport's DATA length */
    ck_assert_int_eq(team_nl_find_u32(m, 112, "activeport", &v), -EBADMSG);
    /* a message longer than the datagram */
    ck_assert_int_eq(team_nl_next(options_answer, 100, &off, &p, &ml, &kind, &err), -EBADMSG);
    /* a header shorter than a header */
    memcpy(m, options_answer, sizeof(m));
    m[0] = 8;
    off = 0;
    ck_assert_int_eq(team_nl_next(m, sizeof(m), &off, &p, &ml, &kind, &err), -EBADMSG);
}
END_TEST

START_TEST(acks_and_errors)
{
    static const uint8_t ack[] = {
        NLH(36, 2 /* NLMSG_ERROR */, 0x100 /* CAPPED */, 5),
        U32(0), NLH(16, 16, 0x5, 5),
    };
    static const uint8_t busy[] = {
        NLH(36, 2, 0x100, 6),
        U32(0xfffffff0) /* -EBUSY */, NLH(16, 16, 0x5, 6),
    };
    size_t off = 0, ml;
    const void *m;
    enum team_nl_kind kind;
    int err = 99;

    ck_assert_int_eq(team_nl_next(ack, sizeof(ack), &off, &m, &ml, &kind, &err), 1);
    ck_assert_int_eq(kind, TEAM_NL_ACK);
    ck_assert_int_eq(err, 0);
    off = 0;
    ck_assert_int_eq(team_nl_next(busy, sizeof(busy), &off, &m, &ml, &kind, &err), 1);
    ck_assert_int_eq(kind, TEAM_NL_ERROR);
    ck_assert_int_eq(err, -EBUSY);
}
END_TEST

START_TEST(family_id_from_nlctrl)
{
    /* as nlctrl sends it: id, name, version, ..., the multicast groups
     * (a nest of nests, each one's type its index) */
    static const uint8_t msg[] = {
        NLH(104, 0x10, 0, 41),
        1 /* CTRL_CMD_NEWFAMILY */, 2, 0, 0,
        NLA(9, 2), 't', 'e', 'a', 'm', 0, 0, 0, 0,
        NLA(6, 1 /* CTRL_ATTR_FAMILY_ID */), U16(0x1c), 0, 0,
        NLA(8, 3 /* CTRL_ATTR_VERSION */), U32(1),
        NLA(56, 7 /* CTRL_ATTR_MCAST_GROUPS */),
        NLA(20, 1),                                   /* another group first */
        NLA(8, 1 /* GRP_NAME */), 'o', 't', 'h', 0,
        NLA(8, 2 /* GRP_ID */), U32(11),
        NLA(32, 2),
        NLA(8, 2), U32(12),                           /* id before name */
        NLA(17, 1), 'c', 'h', 'a', 'n', 'g', 'e', '_', 'e', 'v', 'e', 'n', 't', 0, 0, 0, 0,
    };
    uint16_t id = 0;
    uint32_t grp = 0;
    uint8_t m[sizeof(msg)];

    ck_assert_int_eq(team_nl_family_id(msg, sizeof(msg), &id, &grp), 0);
    ck_assert_uint_eq(id, 0x1c);
    ck_assert_uint_eq(grp, 12);
    ck_assert_int_eq(team_nl_family_id(msg, 32, &id, &grp), -EBADMSG);   /* cut short */
    /* no change_event group: refused (options cannot be set reliably) */
    memcpy(m, msg, sizeof(m));
    m[88] = 'C';   /* "Change_event" */
    ck_assert_int_eq(team_nl_family_id(m, sizeof(m), &id, &grp), -ENOENT);
}
END_TEST

static Suite *team_nl_suite(void)
{
    Suite *s = suite_create("team_nl");
    TCase *build = rtv_unit_case(s, "build", NULL, NULL, 0);
    TCase *parse = rtv_unit_case(s, "parse", NULL, NULL, 0);

    RTV_UNIT_ADD(build, get_family_bytes, set_activeport_bytes, set_mode_bytes, get_options_bytes,
                        new_team_bytes, set_master_bytes, too_small_a_buffer_is_refused);
    RTV_UNIT_ADD(parse, finds_a_team_wide_option, finds_a_string_option,
                        malformed_answers_are_refused, acks_and_errors, family_id_from_nlctrl);
    return s;
}

RTV_UNIT_MAIN(team_nl_suite)
