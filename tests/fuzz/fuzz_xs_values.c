/*
 * libFuzzer: every parser of a value read from xenstore.
 *
 * Each input starts with a selector byte, then NUL-separated strings (a
 * string starting with 0xff is an absent node):
 *
 *  0  rtv_xs_check_value() of one schema node (every type: enum, uint,
 *     bool, string, name), judged against a reference written here from
 *     the schema's own words (xenstore-schema/rtvirt-paths.md,
 *     "Conventions"), and rtv_parse_uint() against strtoull();
 *  1  rtv_xs_path() with guest-reachable placeholder values: a path built
 *     must have only schema-valid pieces and never gain a component
 *     ("/", "..", an empty one);
 *  2  rtv_mode_parse() and blkif_vdev_to_devid() (xl's vdev names);
 *  3  the switch coordinator (switch_fsm.c), for a disk or a NIC, fed
 *     events whose raw values
 *     (request, request-id, timeout-ms, the guest's shunt-* reports) are
 *     the fuzzer's, then rtv_switch_fsm_recover() from raw values;
 *  4  rtvirt-ioemu's request side (ioemu_ctl.c) fed raw request values.
 *
 * For 3 and 4 everything the machine asks to publish must be a value the
 * schema allows for that node: what dom0 writes, tools and the guest read.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "rtvirt/blkif_xs.h"
#include "rtvirt/devclass.h"
#include "rtvirt/ioemu_ctl.h"
#include "rtvirt/switch_fsm.h"
#include "rtvirt/uart16550.h"
#include "rtvirt/xs_schema.h"
#include "rtvirt/xs_util.h"

/* The schema's "unsigned decimal, no sign, no leading zeros", in [0, max]. */
static bool ref_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;

    if (s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1] != '\0'))
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno == 0 && *end == '\0' && *out <= max;
}

static bool ref_check(const struct rtv_xs_type_spec *t, const char *v)
{
    size_t len = strlen(v);
    unsigned long long n;

    switch (t->kind) {
    case RTV_XS_T_ENUM:
    case RTV_XS_T_BOOL:
        for (unsigned i = 0; i < t->nvalues; i++)
            if (strcmp(v, t->values[i]) == 0)
                return true;
        return false;
    case RTV_XS_T_UINT:
        return ref_uint(v, t->max, &n) && n >= t->min;
    case RTV_XS_T_STRING:
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
                return false;
        return len <= t->max;
    case RTV_XS_T_NAME:
        if (len < 1 || len > t->max || v[0] < 'a' || v[0] > 'z')
            return false;
        for (size_t i = 0; i < len; i++)
            if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') ||
                  v[i] == '-'))
                return false;
        return true;
    }
    return false;
}

static void check_values(struct fuzz_in *in)
{
    unsigned node = fuzz_u16(in) % RTV_XS_NODE_COUNT;
    unsigned long long max = fuzz_u64(in), n = 0, r = 0;
    char *v = fuzz_str(in);
    struct rtv_err err = { 0, "" };
    int rc;

    rc = rtv_xs_check_value((enum rtv_xs_node)node, v, &err);
    if (v == NULL) {
        FUZZ_CHECK(rc == -EINVAL && err.msg[0]);
        return;
    }
    FUZZ_CHECK((rc == 0) == ref_check(&rtv_xs_nodes[node].type, v));
    if (rc < 0)
        FUZZ_CHECK(rc == -EINVAL && err.code == EINVAL && err.msg[0] != '\0');

    rc = rtv_parse_uint(v, max, &n);
    FUZZ_CHECK((rc == 0) == ref_uint(v, max, &r));
    if (rc == 0)
        FUZZ_CHECK(n == r);
    free(v);
}

/* A built path: absolute, no empty component, no "." or "..". */
static void check_path(const char *p)
{
    FUZZ_CHECK(p[0] == '/');
    for (const char *c = p; *c; ) {
        const char *e;

        c++;   /* the '/' */
        e = strchr(c, '/');
        if (e == NULL)
            e = c + strlen(c);
        FUZZ_CHECK(e > c);
        FUZZ_CHECK(!(e - c == 1 && c[0] == '.'));
        FUZZ_CHECK(!(e - c == 2 && c[0] == '.' && c[1] == '.'));
        c = e;
    }
}

static void check_paths(struct fuzz_in *in)
{
    unsigned node = fuzz_u16(in) % RTV_XS_NODE_COUNT;
    struct rtv_xs_args a;
    char *vdev, *btype, *iodev;
    char path[RTV_XS_PATH_MAX];
    struct rtv_err err = { 0, "" };
    size_t len = 1u + fuzz_u16(in) % sizeof(path);

    a.domid = fuzz_u32(in);
    a.bedomid = fuzz_u32(in);
    a.devid = fuzz_u64(in);
    a.queue = fuzz_u16(in);
    a.ring = fuzz_u8(in);
    a.vdev = vdev = fuzz_str(in);
    a.btype = btype = fuzz_str(in);
    a.iodev = iodev = fuzz_str(in);

    if (rtv_xs_path(path, len, (enum rtv_xs_node)node, &a, &err) == 0) {
        FUZZ_CHECK(strlen(path) < len);
        check_path(path);
        /* Every string placeholder the template has passed its type. */
        if (strstr(rtv_xs_nodes[node].path, "$VDEV"))
            FUZZ_CHECK(vdev && ref_check(&rtv_xs_params[RTV_XS_P_VDEV].type, vdev));
        if (strstr(rtv_xs_nodes[node].path, "$BTYPE"))
            FUZZ_CHECK(btype && ref_check(&rtv_xs_params[RTV_XS_P_BTYPE].type, btype));
        if (strstr(rtv_xs_nodes[node].path, "$IODEV"))
            FUZZ_CHECK(iodev && ref_check(&rtv_xs_params[RTV_XS_P_IODEV].type, iodev));
    } else {
        FUZZ_CHECK(err.msg[0] != '\0');
    }
    if (rtv_xs_dir(path, len, (enum rtv_xs_node)node, &a, &err) == 0)
        check_path(path);
    free(vdev);
    free(btype);
    free(iodev);
}

static void check_names(struct fuzz_in *in)
{
    char *s = fuzz_str(in);
    enum rtv_mode m;
    unsigned devid;

    if (rtv_mode_parse(s, &m) == 0) {
        FUZZ_CHECK(m < RTV_MODE_COUNT && strcmp(rtv_mode_name(m), s) == 0);
    } else if (s) {
        for (unsigned i = 0; i < RTV_MODE_COUNT; i++)
            FUZZ_CHECK(strcmp(rtv_mode_name((enum rtv_mode)i), s) != 0);
    }
    if (blkif_vdev_to_devid(s, &devid) == 0)
        FUZZ_CHECK(s && devid <= 2147483647u);
    free(s);
}

/* What a machine asks dom0 to publish must fit the schema. */
static void check_published(enum rtv_xs_node node, const char *value)
{
    struct rtv_err err;

    if (rtv_xs_check_value(node, value, &err) != 0) {
        fprintf(stderr, "published %s: %s\n", rtv_xs_nodes[node].id, err.msg);
        FUZZ_CHECK(!"a published value breaks the schema");
    }
}

/* The schema node of role for the class the machine serves. */
static void check_role(const struct rtv_switch_fsm *c, enum rtv_role role, const char *value)
{
    int node = rtv_devclass_node(c->cls, role);

    FUZZ_CHECK(node != RTV_R_NONE);
    check_published((enum rtv_xs_node)node, value);
}

static void check_coord_out(const struct rtv_switch_fsm *c, const struct rtv_switch_fsm_out *o)
{
    char buf[64];

    FUZZ_CHECK(c->mode < RTV_MODE_COUNT && c->target < RTV_MODE_COUNT);
    check_role(c, RTV_R_STATE, rtv_switch_fsm_state_name(c, buf, sizeof(buf)));
    if (o->publish_state) {
        check_role(c, RTV_R_STATE, o->state);
        if (o->previous)
            check_role(c, RTV_R_PREVIOUS, o->previous);
    }
    if (o->answer.publish) {
        check_role(c, RTV_R_RESULT, o->answer.result);
        check_role(c, RTV_R_ERROR, o->answer.error);
    }
    if (o->publish_failover)
        check_role(c, RTV_R_FAILOVER, o->failover_why);
}

static void coordinator(struct fuzz_in *in)
{
    struct rtv_switch_fsm c;
    struct rtv_switch_fsm_out out;
    uint64_t now = 0;
    char *s[10];

    uint8_t first = fuzz_u8(in);
    const struct rtv_devclass *cls = rtv_devclasses[(first >> 4) % RTV_DEVCLASS_COUNT];
    bool recover_ok;

    /* Ours, not the peer's: a mode the class has. */
    rtv_switch_fsm_init_class(&c, cls, (enum rtv_mode)(first % (cls->has_selective ? 3u : 2u)));
    for (unsigned round = 0; round < 16 && in->n > 0; round++) {
        struct rtv_switch_fsm_event ev;
        uint8_t kind = fuzz_u8(in);

        memset(&ev, 0, sizeof(ev));
        memset(&out, 0, sizeof(out));
        now += fuzz_u16(in);
        ev.now_ms = now;
        ev.kind = (enum rtv_switch_fsm_event_kind)(kind % 8u);
        switch (ev.kind) {
        case RTV_FSM_EV_REQUEST:
            ev.request = s[0] = fuzz_str(in);
            ev.request_id = s[1] = fuzz_str(in);
            ev.timeout_ms = s[2] = fuzz_str(in);
            rtv_switch_fsm_step(&c, &ev, &out);
            check_coord_out(&c, &out);
            free(s[0]); free(s[1]); free(s[2]);
            break;
        case RTV_FSM_EV_SHUNT:
            ev.shunt_state = s[0] = fuzz_str(in);
            ev.shunt_ack_id = s[1] = fuzz_str(in);
            ev.shunt_error = s[2] = fuzz_str(in);
            ev.shunt_blackout_us = s[3] = fuzz_str(in);
            ev.shunt_held = s[4] = fuzz_str(in);
            rtv_switch_fsm_step(&c, &ev, &out);
            check_coord_out(&c, &out);
            for (unsigned i = 0; i < 5; i++)
                free(s[i]);
            break;
        case RTV_FSM_EV_BACKEND_FAILED:
        case RTV_FSM_EV_DM_SYNC_FAILED:
            /* carries a peer's words too: qemu's monitor answer */
            ev.msg = s[0] = fuzz_str(in);
            rtv_switch_fsm_step(&c, &ev, &out);
            check_coord_out(&c, &out);
            free(s[0]);
            break;
        default:
            rtv_switch_fsm_step(&c, &ev, &out);
            check_coord_out(&c, &out);
            break;
        }
    }

    /* A restart reading whatever the store holds. */
    for (unsigned i = 0; i < 6; i++)
        s[i] = fuzz_str(in);
    memset(&out, 0, sizeof(out));
    recover_ok = rtv_switch_fsm_recover_class(&c, cls, now, s[0], s[1], s[2], s[3], s[4],
                                              s[5], fuzz_u8(in) & 1, &out) == 0;
    if (recover_ok)
        check_coord_out(&c, &out);
    else
        FUZZ_CHECK(out.answer.error[0] != '\0');
    for (unsigned i = 0; i < 6; i++)
        free(s[i]);
}

static void ioemu(struct fuzz_in *in)
{
    static struct rtv_iov_logent log[16];
    struct rtv_iov iov;
    struct rtv_ioemu_ctl c;
    struct rtv_ioemu_ctl_out out;
    uint64_t now = 0;

    rtv_iov_init(&iov, &rtv_uart16550_seq, (enum rtv_iov_mode)(fuzz_u8(in) & 1),
                 log, 16);
    rtv_ioemu_ctl_init(&c, &iov, fuzz_u32(in));
    for (unsigned round = 0; round < 8 && in->n > 0; round++) {
        char *req = fuzz_str(in), *id = fuzz_str(in), *tmo = fuzz_str(in);

        now += fuzz_u32(in);
        memset(&out, 0, sizeof(out));
        rtv_ioemu_ctl_request(&c, req, id, tmo, now, &out);
        if (out.publish_state)
            check_published(RTV_XS_IOEMU_STATE, out.state);
        if (out.answer.publish) {
            check_published(RTV_XS_IOEMU_RESULT, out.answer.result);
            check_published(RTV_XS_IOEMU_ERROR, out.answer.error);
        }
        free(req);
        free(id);
        free(tmo);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = { data, size };

    switch (fuzz_u8(&in) % 5u) {
    case 0: check_values(&in); break;
    case 1: check_paths(&in); break;
    case 2: check_names(&in); break;
    case 3: coordinator(&in); break;
    case 4: ioemu(&in); break;
    }
    return 0;
}
