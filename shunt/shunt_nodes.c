/*
 * Reading dom0's control nodes and writing the guest's report
 * (shunt_nodes.h).  dom0's values are never trusted: each is checked
 * against the schema's type and a bad one is logged and read as absent.
 */
#include "shunt_nodes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/xs_schema.h"
#include "rtvirt/xs_util.h"

static const enum rtv_xs_node ctl_nodes[SHUNT_NODES_COUNT] = {
    RTV_XS_CTL_STATE, RTV_XS_CTL_SWITCH_ID, RTV_XS_CTL_PREVIOUS,
    RTV_XS_CTL_DEVID, RTV_XS_CTL_TIMEOUT_MS, RTV_XS_CTL_DM_SYNCED_ID,
};

static int node_path(const struct shunt_nodes *n, enum rtv_xs_node node, char *buf,
                     size_t len)
{
    struct rtv_xs_args a = { .domid = n->dom, .vdev = n->vdev };

    return rtv_xs_path(buf, len, node, &a, NULL);
}

int shunt_nodes_ctl_dir(const struct shunt_nodes *n, char *buf, size_t len)
{
    struct rtv_xs_args a = { .domid = n->dom, .vdev = n->vdev };

    return rtv_xs_dir(buf, len, RTV_XS_CTL_STATE, &a, NULL);
}

/* Checks v (owned) against node i's type; a bad value is warned about once
 * and freed. */
static char *checked(struct shunt_nodes *n, unsigned i, const char *path, char *v)
{
    struct rtv_err err = { 0, "" };
    char msg[700];

    if (v == NULL || rtv_xs_check_value(ctl_nodes[i], v, &err) == 0)
        return v;
    if (strncmp(n->warned[i], v, sizeof(n->warned[i]) - 1) != 0) {
        snprintf(msg, sizeof(msg), "ignoring %s: %s", path, err.msg);
        if (n->warn)
            n->warn(n->warn_arg, msg);
        snprintf(n->warned[i], sizeof(n->warned[i]), "%s", v);
    }
    free(v);
    return NULL;
}

struct snap_txn {
    struct shunt_nodes *n;
    char *v[SHUNT_NODES_COUNT];
};

static void snap_free(struct snap_txn *s)
{
    for (unsigned i = 0; i < SHUNT_NODES_COUNT; i++) {
        free(s->v[i]);
        s->v[i] = NULL;
    }
}

static int snap_body(struct rtv_store *xs, rtv_txn_t t, void *arg)
{
    struct snap_txn *s = arg;
    char path[256];
    size_t len;

    snap_free(s);   /* a retried body starts afresh */
    for (unsigned i = 0; i < SHUNT_NODES_COUNT; i++) {
        int rc;

        if (node_path(s->n, ctl_nodes[i], path, sizeof(path)) < 0)
            continue;
        rc = rtv_xs_read(xs, t, path, &s->v[i], &len);
        if (rc == -ENOENT) {
            s->v[i] = NULL;
            continue;
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static bool to_u32(const char *v, uint32_t *out)
{
    unsigned long long x;

    if (v == NULL || rtv_parse_uint(v, UINT32_MAX, &x) < 0)
        return false;
    *out = (uint32_t)x;
    return true;
}

static bool parse_state(const char *s, struct shunt_ctl_snap *o)
{
    if (rtv_mode_parse(s, &o->mode) == 0)
        return true;
    if (strncmp(s, "switching-to-", 13) == 0 && rtv_mode_parse(s + 13, &o->mode) == 0) {
        o->switching = true;
        return true;
    }
    if (strcmp(s, "rolling-back") == 0) {
        o->rollback = true;
        return true;
    }
    return false;
}

int shunt_nodes_read(struct shunt_nodes *n, struct shunt_ctl_snap *o)
{
    struct snap_txn s = { .n = n };
    char path[256];
    int rc;

    memset(o, 0, sizeof(*o));
    o->timeout_ms = SHUNT_DEFAULT_TIMEOUT_MS;
    rc = rtv_xs_transact(n->xs, 0, snap_body, &s);
    if (rc < 0) {
        snap_free(&s);
        return rc;
    }
    for (unsigned i = 0; i < SHUNT_NODES_COUNT; i++)
        if (s.v[i] && node_path(n, ctl_nodes[i], path, sizeof(path)) == 0)
            s.v[i] = checked(n, i, path, s.v[i]);
    o->managed = s.v[0] && parse_state(s.v[0], o);
    to_u32(s.v[1], &o->id);
    if (s.v[2] == NULL || rtv_mode_parse(s.v[2], &o->previous) < 0)
        o->previous = RTV_MODE_EMULATED;
    o->devid_ok = to_u32(s.v[3], &o->devid);
    to_u32(s.v[4], &o->timeout_ms);
    to_u32(s.v[5], &o->dm_synced);
    snap_free(&s);
    return 0;
}

int shunt_nodes_read_dm_synced(struct shunt_nodes *n, uint32_t *out)
{
    char path[256], *v = NULL;
    size_t len;
    int rc;

    if ((rc = node_path(n, RTV_XS_CTL_DM_SYNCED_ID, path, sizeof(path))) < 0 ||
        (rc = rtv_xs_read(n->xs, RTV_XS_NO_TXN, path, &v, &len)) < 0)
        return rc;
    v = checked(n, 5, path, v);
    rc = to_u32(v, out) ? 0 : -EINVAL;
    free(v);
    return rc;
}

struct report_txn {
    struct shunt_nodes        *n;
    const struct shunt_report *r;
};

static int report_body(struct rtv_store *s, rtv_txn_t t, void *arg)
{
    const struct report_txn *rt = arg;
    const struct shunt_report *r = rt->r;
    char path[256];
    int rc;

#define PUT(node, ...) do { \
        if ((rc = node_path(rt->n, node, path, sizeof(path))) < 0 || \
            (rc = rtv_xs_printf(s, t, path, __VA_ARGS__)) < 0) \
            return rc; \
    } while (0)
    if (r->emulated_dev)
        PUT(RTV_XS_SHUNT_EMULATED_DEV, "%s", r->emulated_dev);
    if (r->error)
        PUT(RTV_XS_SHUNT_ERROR, "%.1000s", r->error);
    if (r->numbers) {
        PUT(RTV_XS_SHUNT_BLACKOUT_US, "%llu", (unsigned long long)r->blackout_us);
        if (r->held_known)
            PUT(RTV_XS_SHUNT_HELD, "%llu", (unsigned long long)r->held);
    }
    PUT(RTV_XS_SHUNT_STATE, "%s", r->state);
    /* Last: dom0 acts on the ack, and must see everything above with it. */
    if (r->ack)
        PUT(RTV_XS_SHUNT_ACK_ID, "%u", r->ack_id);
#undef PUT
    return 0;
}

int shunt_nodes_report(struct shunt_nodes *n, const struct shunt_report *r)
{
    struct report_txn rt = { n, r };

    return rtv_xs_transact(n->xs, 0, report_body, &rt);
}
