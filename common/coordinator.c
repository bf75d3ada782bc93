/*
 * rtvirt-backd's switch coordinator over the store; see rtvirt/coordinator.h.
 *
 * Watches, per domain, its rtvirt control directory and the guest's report
 * directory (both may not exist yet: xenstore lets one watch a path before it
 * is created), plus @introduceDomain/@releaseDomain.  Every event is handled
 * by re-reading the nodes it concerns and feeding the current values to the
 * device's state machine, so duplicated, coalesced or self-inflicted events
 * (our own publishes fire our watches too) change nothing the second time.
 */
#include "rtvirt/coordinator.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/log.h"
#include "rtvirt/xs_schema.h"
#include "rtvirt/xs_util.h"

#define PATH_LEN 256
/* One per class: a class's coordinator may share a store connection. */
#define TOKEN_MAX 32

struct dev {
    rtv_domid_t      dom;
    char             vdev[16];
    struct rtv_switch_fsm m;
    /* What the store still owes: the parts (publish_* flags) a failed
     * publication did not write, with their latest values.  Published
     * again, merged with whatever comes next, and on every tick until it
     * goes: a store write refused once must not leave a switch answered
     * in memory and unanswered in the store (found by the switch's store
     * fault sweep, tests/component/test_switch_component.c). */
    struct rtv_switch_fsm_out owed;
    /* The request's or the shunt's nodes could not be read (the store
     * failed): read again at every tick, since the event that said they
     * changed will not come again (found by the same sweep). */
    bool reread_request, reread_shunt;
};

struct rtv_coordinator {
    struct rtv_store                   *xs;
    const struct rtv_devclass          *cls;
    char                                token[TOKEN_MAX];
    const struct rtv_coordinator_backend_ops *ops;
    void                               *ctx;
    struct dev                         *devs;
    unsigned                            ndevs, capdevs;
    rtv_domid_t                        *doms;     /* domains being watched */
    unsigned                            ndoms, capdoms;
    struct rtv_log_sink                 log;
    uint64_t                            last_resync_ms;
    char                                cause[160];   /* "": none */
    bool                                dm_sync_at_request;
};

#define logf_(co, ...) rtv_logf(&(co)->log, "rtvirt-coord", __VA_ARGS__)

void rtv_coordinator_set_dm_sync_at_request(struct rtv_coordinator *co, bool on)
{
    co->dm_sync_at_request = on;
    for (unsigned i = 0; i < co->ndevs; i++)
        co->devs[i].m.dm_sync_at_request = on;
}

void rtv_coordinator_set_log(struct rtv_coordinator *co,
                             void (*log)(void *ctx, const char *msg), void *ctx)
{
    co->log = (struct rtv_log_sink){ log, ctx };
}

/* ---- paths ------------------------------------------------------------------ */

/* The path of role's node for dom/vdev ("vdev": the device's key, a vdev
 * name or a NIC's devid); -EINVAL for a role the class lacks. */
static int dev_path(const struct rtv_devclass *cls, char *buf, enum rtv_role role,
                    rtv_domid_t dom, const char *vdev)
{
    return rtv_devclass_path(cls, role, dom, vdev, buf, PATH_LEN, NULL);
}

/* The directory holding one entry per device of the class, in the control
 * tree or the guest's report tree; these are also the two watches. */
static void vdev_parent(const struct rtv_devclass *cls, char *buf, enum rtv_role role,
                        rtv_domid_t dom)
{
    rtv_devclass_parent(cls, role == RTV_R_SHUNT_STATE, dom, buf, PATH_LEN);
}

static void domain_roots(const struct rtv_devclass *cls, rtv_domid_t dom, char *ctl,
                         char *report)
{
    vdev_parent(cls, ctl, RTV_R_STATE, dom);
    vdev_parent(cls, report, RTV_R_SHUNT_STATE, dom);
}

/* A node of the device, telling an absent node (-ENOENT) from a store that
 * failed (any other -errno): only the first means the device was
 * unmanaged, and only it may be reported as absent. */
static char *read_node_rc(struct rtv_coordinator *co, enum rtv_role role,
                          rtv_domid_t dom, const char *vdev, int *rc)
{
    char path[PATH_LEN];
    char *v = NULL;
    size_t n;

    if ((*rc = dev_path(co->cls, path, role, dom, vdev)) < 0)
        return NULL;
    *rc = rtv_xs_read(co->xs, RTV_XS_NO_TXN, path, &v, &n);
    return *rc == 0 ? v : NULL;
}

/* The device's image (a NIC's MAC: the class's argument node), or NULL
 * with err saying why: absent, unreadable, or not a valid value. */
static char *read_arg(struct rtv_coordinator *co, rtv_domid_t dom, const char *vdev,
                      struct rtv_err *err)
{
    enum rtv_xs_node node = (enum rtv_xs_node)co->cls->nodes[RTV_R_ARG];
    int rc;
    char *v = read_node_rc(co, RTV_R_ARG, dom, vdev, &rc);

    if (v == NULL) {
        if (rc == -ENOENT)
            rtv_err_set(err, ENOENT, "node %s: absent", rtv_xs_nodes[node].id);
        else
            rtv_err_set(err, -rc, "cannot read node %s: %s", rtv_xs_nodes[node].id,
                        strerror(-rc));
        return NULL;
    }
    if (rtv_xs_check_value(node, v, err) < 0) {
        free(v);
        return NULL;
    }
    return v;
}

/* ---- devices ---------------------------------------------------------------- */

static struct dev *find_dev(struct rtv_coordinator *co, rtv_domid_t dom,
                            const char *vdev)
{
    for (unsigned i = 0; i < co->ndevs; i++)
        if (co->devs[i].dom == dom && strcmp(co->devs[i].vdev, vdev) == 0)
            return &co->devs[i];
    return NULL;
}

static void drop_dev(struct rtv_coordinator *co, struct dev *d)
{
    logf_(co, "domain %u %s: no longer managed", (unsigned)d->dom, d->vdev);
    *d = co->devs[--co->ndevs];
}

struct publish {
    struct dev                 *d;
    const struct rtv_switch_fsm_out *out;
};

static int publish_txn(struct rtv_store *xs, rtv_txn_t t, void *arg)
{
    struct publish *p = arg;
    struct dev *d = p->d;
    const struct rtv_switch_fsm_out *out = p->out;
    char path[PATH_LEN];
    char *state;
    size_t n;
    int rc;

    /* Unmanaged meanwhile: writing would resurrect its nodes. */
    dev_path(d->m.cls, path, RTV_R_STATE, d->dom, d->vdev);
    if ((rc = rtv_xs_read(xs, t, path, &state, &n)) < 0)
        return rc;
    free(state);

#define PUT(node, ...)                                                        \
    do {                                                                     \
        if (dev_path(d->m.cls, path, node, d->dom, d->vdev) < 0)             \
            break;   /* a node this class does not have */                  \
        if ((rc = rtv_xs_printf(xs, t, path, __VA_ARGS__)) < 0)              \
            return rc;                                                       \
    } while (0)

    if (out->publish_state) {
        PUT(RTV_R_STATE, "%s", out->state);
        PUT(RTV_R_SWITCH_ID, "%u", out->switch_id);
        PUT(RTV_R_PREVIOUS, "%s", out->previous);
    }
    if (out->answer.publish) {
        PUT(RTV_R_RESULT, "%s", out->answer.result);
        PUT(RTV_R_RESULT_ID, "%u", out->answer.id);
        PUT(RTV_R_ERROR, "%s", out->answer.error);
    }
    if (out->publish_stats) {
        PUT(RTV_R_STATS_SWITCHES, "%llu", (unsigned long long)d->m.switches);
        PUT(RTV_R_STATS_ROLLBACKS, "%llu", (unsigned long long)d->m.rollbacks);
        PUT(RTV_R_STATS_BLACKOUT_US, "%llu", (unsigned long long)d->m.blackout_us);
        PUT(RTV_R_STATS_HELD, "%llu", (unsigned long long)d->m.held);
        PUT(RTV_R_STATS_FAILOVERS, "%llu", (unsigned long long)d->m.failovers);
    }
    if (out->publish_failover)
        PUT(RTV_R_FAILOVER, "%s", out->failover_why);
#undef PUT
    return 0;
}

/* Adds what out publishes to what d owes the store (newer values win). */
static void owe(struct dev *d, const struct rtv_switch_fsm_out *out)
{
    struct rtv_switch_fsm_out *o = &d->owed;

    if (out->publish_state) {
        o->publish_state = true;
        snprintf(o->state, sizeof(o->state), "%s", out->state);
        o->switch_id = out->switch_id;
        o->previous = out->previous;
    }
    if (out->answer.publish)
        o->answer = out->answer;
    o->publish_stats |= out->publish_stats;     /* from d->m when written */
    if (out->publish_failover) {
        o->publish_failover = true;
        snprintf(o->failover_why, sizeof(o->failover_why), "%s", out->failover_why);
    }
}

static bool owes(const struct dev *d)
{
    const struct rtv_switch_fsm_out *o = &d->owed;

    return o->publish_state || o->answer.publish || o->publish_stats || o->publish_failover;
}

/* Writes what d owes in one transaction.  0 (nothing owed any more),
 * -ENOENT (unmanaged meanwhile: the caller drops it), or the store's
 * failure, logged the first time, kept owed for the next try. */
static int publish_owed(struct rtv_coordinator *co, struct dev *d, bool first_try)
{
    struct publish p = { d, &d->owed };
    int rc = rtv_xs_transact(co->xs, 0, publish_txn, &p);

    if (rc == 0)
        memset(&d->owed, 0, sizeof(d->owed));
    else if (rc != -ENOENT && first_try)
        logf_(co, "domain %u %s: cannot publish: %s (trying again at every tick)",
              (unsigned)d->dom, d->vdev, strerror(-rc));
    return rc;
}

static void step(struct rtv_coordinator *co, struct dev *d,
                 const struct rtv_switch_fsm_event *ev);

struct synced {
    struct dev *d;
    uint32_t    id;
    bool        have_us;
    uint64_t    us;
};

static int synced_txn(struct rtv_store *xs, rtv_txn_t t, void *arg)
{
    struct synced *s = arg;
    char path[PATH_LEN];
    char *state;
    size_t n;
    int rc;

    /* Unmanaged meanwhile: writing would resurrect its nodes. */
    dev_path(s->d->m.cls, path, RTV_R_STATE, s->d->dom, s->d->vdev);
    if ((rc = rtv_xs_read(xs, t, path, &state, &n)) < 0)
        return rc;
    free(state);
    if (s->have_us &&
        dev_path(s->d->m.cls, path, RTV_R_STATS_GATE_US, s->d->dom, s->d->vdev) == 0) {
        if ((rc = rtv_xs_printf(xs, t, path, "%llu", (unsigned long long)s->us)) < 0)
            return rc;
    }
    /* The shunt flips on this one. */
    dev_path(s->d->m.cls, path, RTV_R_GATE_ID, s->d->dom, s->d->vdev);
    return rtv_xs_printf(xs, t, path, "%u", s->id);
}

/* What a device-model sync for switch id came to: dm-synced-id (the shunt
 * flips on it), or the failure back to the machine (which rolls the switch
 * back).  rc 1: there was nothing to sync. */
static void dm_sync_finish(struct rtv_coordinator *co, struct dev *d, uint32_t id, int rc,
                           uint64_t us, const char *msg, uint64_t now)
{
    rtv_domid_t dom = d->dom;
    char vdev[sizeof(d->vdev)];
    struct synced s = { d, id, rc == 0, us };

    snprintf(vdev, sizeof(vdev), "%s", d->vdev);
    if (id != d->m.dm_sync_id) {
        logf_(co, "domain %u %s: device-model sync for switch %u ended (%s) after switch "
              "%u asked for one: dropped", (unsigned)dom, vdev, id,
              rc < 0 ? msg : "ok", d->m.dm_sync_id);
        return;
    }
    if (rc < 0) {
        struct rtv_switch_fsm_event ev = { .kind = RTV_FSM_EV_DM_SYNC_FAILED, .now_ms = now,
                                      .msg = msg };
        logf_(co, "domain %u %s: device-model sync for switch %u failed: %s",
              (unsigned)dom, vdev, id, msg);
        step(co, d, &ev);
        return;
    }
    rc = rtv_xs_transact(co->xs, 0, synced_txn, &s);
    if (rc == -ENOENT) {
        drop_dev(co, d);
        return;
    }
    if (rc < 0)
        logf_(co, "domain %u %s: cannot write dm-synced-id: %s (the switch will "
              "time out and roll back)", (unsigned)dom, vdev, strerror(-rc));
    else if (s.have_us)
        logf_(co, "domain %u %s: device model synced for switch %u in %llu us%s%s",
              (unsigned)dom, vdev, id, (unsigned long long)us, msg[0] ? ": " : "", msg);
    else
        logf_(co, "domain %u %s: switch %u: no device model to sync (--no-qmp)",
              (unsigned)dom, vdev, id);
    if (rc >= 0) {
        /* A switch that waits for it before the guest is told goes on. */
        struct rtv_switch_fsm_event ev = { .kind = RTV_FSM_EV_DM_SYNC_DONE, .now_ms = now };
        step(co, d, &ev);
    }
}

/* RTV_FSM_ACT_DM_SYNC: sync qemu's side (here, or started elsewhere), then
 * dm_sync_finish(). */
static void dm_sync(struct rtv_coordinator *co, rtv_domid_t dom, const char *vdev,
                    uint64_t now)
{
    struct dev *d = find_dev(co, dom, vdev);
    struct rtv_err err = {0};
    uint64_t us = 0;
    uint32_t id;
    int rc = 1;   /* no ops->dm_sync: nothing to sync */

    if (d == NULL)
        return;
    id = d->m.dm_sync_id;
    if (co->ops->dm_sync) {
        char *image = read_arg(co, dom, vdev, &err);
        rc = image == NULL ? -(err.code ? err.code : EINVAL)
                           : co->ops->dm_sync(co->ctx, dom, vdev, image, id, &us, &err);
        free(image);
    }
    d = find_dev(co, dom, vdev);   /* the callback may not, but be safe */
    if (d == NULL || rc == RTV_DM_SYNC_STARTED)
        return;
    dm_sync_finish(co, d, id, rc, us, err.msg, now);
}

void rtv_coordinator_dm_sync_done(struct rtv_coordinator *co, rtv_domid_t dom,
                                  const char *vdev, uint32_t switch_id, int rc,
                                  uint64_t took_us, const char *msg, uint64_t now_ms)
{
    struct dev *d = find_dev(co, dom, vdev);

    assert(rc != RTV_DM_SYNC_STARTED);
    if (d != NULL)
        dm_sync_finish(co, d, switch_id, rc, took_us, msg ? msg : "no reason given", now_ms);
}

/* Carries out one step's output: publish, then act. */
static void apply(struct rtv_coordinator *co, struct dev *d,
                  const struct rtv_switch_fsm_out *out, uint64_t now)
{
    rtv_domid_t dom = d->dom;
    char vdev[sizeof(d->vdev)];

    snprintf(vdev, sizeof(vdev), "%s", d->vdev);
    if (out->note[0])
        logf_(co, "domain %u %s: %s", (unsigned)dom, vdev, out->note);
    if (out->publish_state || out->answer.publish || out->publish_stats ||
        out->publish_failover) {
        bool first_try = !owes(d);

        owe(d, out);
        if (publish_owed(co, d, first_try) == -ENOENT) {
            drop_dev(co, d);
            return;
        }
        if (out->publish_state)
            logf_(co, "domain %u %s: state %s (switch %u)", (unsigned)dom, vdev,
                  out->state, out->switch_id);
        if (out->answer.publish)
            logf_(co, "domain %u %s: request %u %s%s%s", (unsigned)dom, vdev,
                  out->answer.id, out->answer.result, out->answer.error[0] ? ": " : "",
                  out->answer.error);
    }
    if (out->actions & RTV_FSM_ACT_TEAR_DOWN)
        co->ops->tear_down(co->ctx, dom, vdev);
    if ((out->actions & RTV_FSM_ACT_KEEP) && co->ops->keep != NULL)
        co->ops->keep(co->ctx, dom, vdev);
    if (out->actions & RTV_FSM_ACT_BRING_UP) {
        struct rtv_err err = {0};
        char *image = read_arg(co, dom, vdev, &err);
        int rc = image == NULL ? -(err.code ? err.code : EINVAL)
                               : co->ops->bring_up(co->ctx, dom, vdev, image, &err);
        free(image);
        if (rc < 0) {
            /* The device may have moved in the array: look it up again. */
            struct dev *again = find_dev(co, dom, vdev);
            struct rtv_switch_fsm_event ev = { .kind = RTV_FSM_EV_BACKEND_FAILED,
                                          .now_ms = now, .msg = err.msg };
            if (again)
                step(co, again, &ev);
        }
    }
    /* After the bring-up (a request to a PV mode asks for both): a sync
     * that fails at once then rolls back a backend that was started, not
     * one that is about to be. */
    if (out->actions & RTV_FSM_ACT_DM_SYNC)
        dm_sync(co, dom, vdev, now);
}

static void step(struct rtv_coordinator *co, struct dev *d,
                 const struct rtv_switch_fsm_event *ev)
{
    struct rtv_switch_fsm_out out;
    rtv_switch_fsm_step(&d->m, ev, &out);
    apply(co, d, &out, ev->now_ms);
}

static void free_nodes(char **vals, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        free(vals[i]);
}

struct read_set {
    const struct rtv_devclass *cls;
    rtv_domid_t            dom;
    const char            *vdev;
    const enum rtv_role   *nodes;
    char                 **vals;
    unsigned               n;
};

static void read_set_clear(struct read_set *r)
{
    for (unsigned i = 0; i < r->n; i++) {
        free(r->vals[i]);
        r->vals[i] = NULL;
    }
}

static int read_set_txn(struct rtv_store *xs, rtv_txn_t t, void *arg)
{
    struct read_set *r = arg;
    char path[PATH_LEN];
    size_t len;

    read_set_clear(r);   /* a retried body starts afresh */
    for (unsigned i = 0; i < r->n; i++) {
        if (dev_path(r->cls, path, r->nodes[i], r->dom, r->vdev) < 0)
            continue;   /* a role the class lacks: absent */
        int rc = rtv_xs_read(xs, t, path, &r->vals[i], &len);
        if (rc == -ENOENT)
            r->vals[i] = NULL;
        else if (rc < 0)
            return rc;
    }
    return 0;
}

/* Reads n nodes of one device (NULL where absent; free with free_nodes())
 * in one transaction, so values a writer publishes together (request with
 * request-id; shunt-state with shunt-ack-id) are seen together: read one by
 * one, an old request could be paired with a new request-id (seen in the
 * switch component test: a request answered "already in mode"). */
static int read_nodes(struct rtv_coordinator *co, rtv_domid_t dom, const char *vdev,
                      const enum rtv_role *nodes, char **vals, unsigned n)
{
    struct read_set r = { co->cls, dom, vdev, nodes, vals, n };
    int rc;

    for (unsigned i = 0; i < n; i++)
        vals[i] = NULL;
    if ((rc = rtv_xs_transact(co->xs, 0, read_set_txn, &r)) < 0) {
        read_set_clear(&r);
        logf_(co, "domain %u %s: cannot read its nodes: %s", (unsigned)dom, vdev,
              strerror(-rc));
    }
    return rc;
}

/* read_nodes() for d, through a copy of its name, as the other users of
 * d's identity hold it. */
static int read_dev_nodes(struct rtv_coordinator *co, const struct dev *d,
                          const enum rtv_role *nodes, char **vals, unsigned n)
{
    char vdev[sizeof(d->vdev)];

    snprintf(vdev, sizeof(vdev), "%s", d->vdev);
    return read_nodes(co, d->dom, vdev, nodes, vals, n);
}

static void feed_request(struct rtv_coordinator *co, struct dev *d, uint64_t now)
{
    static const enum rtv_role nodes[3] = {
        RTV_R_REQUEST, RTV_R_REQUEST_ID, RTV_R_TIMEOUT_MS };
    char *v[3];

    /* Unread is not absent: the machine hears of the request once it
     * could be read (the ticks try again). */
    if ((d->reread_request = read_dev_nodes(co, d, nodes, v, 3) < 0))
        return;
    struct rtv_switch_fsm_event ev = { .kind = RTV_FSM_EV_REQUEST, .now_ms = now,
                                  .request = v[0], .request_id = v[1],
                                  .timeout_ms = v[2] };
    step(co, d, &ev);
    free_nodes(v, 3);
}

static void feed_shunt(struct rtv_coordinator *co, struct dev *d, uint64_t now)
{
    static const enum rtv_role nodes[5] = {
        RTV_R_SHUNT_STATE, RTV_R_SHUNT_ACK_ID, RTV_R_SHUNT_ERROR,
        RTV_R_SHUNT_BLACKOUT_US, RTV_R_SHUNT_HELD };
    char *v[5];

    if ((d->reread_shunt = read_dev_nodes(co, d, nodes, v, 5) < 0))
        return;
    struct rtv_switch_fsm_event ev = { .kind = RTV_FSM_EV_SHUNT, .now_ms = now,
                                  .shunt_state = v[0], .shunt_ack_id = v[1],
                                  .shunt_error = v[2], .shunt_blackout_us = v[3],
                                  .shunt_held = v[4],
                                  .dom0_cause = co->cause[0] ? co->cause : NULL };
    step(co, d, &ev);
    free_nodes(v, 5);
}

/* Starts coordinating dom/vdev if the store says it is managed. */
static void add_dev(struct rtv_coordinator *co, rtv_domid_t dom,
                    const char *vdev, uint64_t now)
{
    struct rtv_switch_fsm_out out;
    char path[PATH_LEN];

    if (find_dev(co, dom, vdev))
        return;
    if (dev_path(co->cls, path, RTV_R_STATE, dom, vdev) < 0) {
        logf_(co, "domain %u: ignoring a %s called \"%.32s\": not a valid name",
              (unsigned)dom, co->cls->name, vdev);
        return;
    }
    if (co->ndevs == co->capdevs) {
        unsigned cap = co->capdevs ? co->capdevs * 2 : 8;
        struct dev *n = realloc(co->devs, cap * sizeof(*n));
        if (n == NULL) {
            logf_(co, "domain %u %s: out of memory", (unsigned)dom, vdev);
            return;
        }
        co->devs = n;
        co->capdevs = cap;
    }

    static const enum rtv_role nodes[] = {
        RTV_R_STATE, RTV_R_PREVIOUS, RTV_R_SWITCH_ID,
        RTV_R_RESULT_ID, RTV_R_SHUNT_STATE, RTV_R_SHUNT_ACK_ID };
    char *v[6];
    read_nodes(co, dom, vdev, nodes, v, 6);
    struct dev *d = &co->devs[co->ndevs];
    memset(d, 0, sizeof(*d));
    d->dom = dom;
    snprintf(d->vdev, sizeof(d->vdev), "%s", vdev);
    int rc = rtv_switch_fsm_recover_class(&d->m, co->cls, now, v[0], v[1], v[2], v[3], v[4], v[5],
                               co->ops->present(co->ctx, dom, vdev), &out);
    free_nodes(v, 6);
    if (rc < 0)
        return;   /* not managed (yet): manage writes state last */
    d->m.dm_sync_at_request = co->dm_sync_at_request;
    co->ndevs++;
    logf_(co, "domain %u %s: coordinating (state %s)", (unsigned)dom, vdev,
          rtv_mode_name(d->m.mode));
    apply(co, d, &out, now);
    if ((d = find_dev(co, dom, vdev)) != NULL)
        feed_request(co, d, now);
    if ((d = find_dev(co, dom, vdev)) != NULL)
        feed_shunt(co, d, now);
}

static void scan_domain(struct rtv_coordinator *co, rtv_domid_t dom, uint64_t now)
{
    char dir[PATH_LEN];
    char **names;
    unsigned n;

    vdev_parent(co->cls, dir, RTV_R_STATE, dom);
    if (rtv_xs_directory(co->xs, RTV_XS_NO_TXN, dir, &names, &n) < 0)
        return;
    for (unsigned i = 0; i < n; i++)
        add_dev(co, dom, names[i], now);
    free(names);
    /* Devices whose control directory went away (unmanaged). */
    for (unsigned i = 0; i < co->ndevs;) {
        struct dev *d = &co->devs[i];
        int rc = 0;
        char *st = d->dom == dom ? read_node_rc(co, RTV_R_STATE, dom, d->vdev, &rc)
                                 : (char *)"";
        if (st == NULL && rc == -ENOENT) {
            drop_dev(co, d);
            continue;
        }
        if (d->dom == dom)
            free(st);   /* NULL if the store failed: kept, read again next time */
        i++;
    }
}

static bool watching(struct rtv_coordinator *co, rtv_domid_t dom)
{
    for (unsigned i = 0; i < co->ndoms; i++)
        if (co->doms[i] == dom)
            return true;
    return false;
}

static int watch_domain(struct rtv_coordinator *co, rtv_domid_t dom)
{
    char ctl[PATH_LEN], report[PATH_LEN];
    int rc;

    if (watching(co, dom))
        return 0;
    if (co->ndoms == co->capdoms) {
        unsigned cap = co->capdoms ? co->capdoms * 2 : 16;
        rtv_domid_t *n = realloc(co->doms, cap * sizeof(*n));
        if (n == NULL)
            return -ENOMEM;
        co->doms = n;
        co->capdoms = cap;
    }
    domain_roots(co->cls, dom, ctl, report);
    if ((rc = rtv_xs_watch(co->xs, ctl, co->token)) < 0 ||
        (rc = rtv_xs_watch(co->xs, report, co->token)) < 0)
        return rc;
    co->doms[co->ndoms++] = dom;
    return 0;
}

static void unwatch_domain(struct rtv_coordinator *co, unsigned idx)
{
    char ctl[PATH_LEN], report[PATH_LEN];

    domain_roots(co->cls, co->doms[idx], ctl, report);
    rtv_xs_unwatch(co->xs, ctl, co->token);
    rtv_xs_unwatch(co->xs, report, co->token);
    co->doms[idx] = co->doms[--co->ndoms];
}

/* Brings the set of watched domains in line with /local/domain. */
static void scan_domains(struct rtv_coordinator *co, uint64_t now)
{
    char **ids;
    unsigned n;
    unsigned long long id;

    if (rtv_xs_directory(co->xs, RTV_XS_NO_TXN, "/local/domain", &ids, &n) < 0)
        return;
    for (unsigned i = 0; i < n; i++) {
        if (rtv_parse_uint(ids[i], RTV_DOMID_MAX, &id) < 0 || id == 0)
            continue;
        if (watch_domain(co, (rtv_domid_t)id) < 0)
            logf_(co, "domain %llu: cannot watch its rtvirt nodes", id);
        scan_domain(co, (rtv_domid_t)id, now);
    }
    /* Domains that are gone: their devices go, and so do their backends. */
    for (unsigned i = 0; i < co->ndoms;) {
        bool alive = false;
        for (unsigned j = 0; j < n && !alive; j++)
            alive = rtv_parse_uint(ids[j], RTV_DOMID_MAX, &id) == 0 &&
                    id == co->doms[i];
        if (alive) {
            i++;
            continue;
        }
        for (unsigned k = 0; k < co->ndevs;) {
            struct dev *d = &co->devs[k];
            if (d->dom != co->doms[i]) {
                k++;
                continue;
            }
            if (d->m.backend_up)
                co->ops->tear_down(co->ctx, d->dom, d->vdev);
            drop_dev(co, d);
        }
        unwatch_domain(co, i);
    }
    free(ids);
}

/* ---- public ----------------------------------------------------------------- */

struct rtv_coordinator *rtv_coordinator_new(struct rtv_store *xs,
                                            const struct rtv_coordinator_backend_ops *ops,
                                            void *ctx, struct rtv_err *err)
{
    return rtv_coordinator_new_class(xs, &rtv_devclass_vbd, ops, ctx, err);
}

struct rtv_coordinator *rtv_coordinator_new_class(struct rtv_store *xs,
                                                  const struct rtv_devclass *cls,
                                                  const struct rtv_coordinator_backend_ops *ops,
                                                  void *ctx, struct rtv_err *err)
{
    struct rtv_coordinator *co = calloc(1, sizeof(*co));
    if (co == NULL) {
        rtv_err_set(err, ENOMEM, "coordinator: out of memory");
        return NULL;
    }
    co->xs = xs;
    co->ops = ops;
    co->cls = cls;
    snprintf(co->token, sizeof(co->token), "rtvirt-coord-%s", cls->name);
    co->ctx = ctx;
    return co;
}

void rtv_coordinator_free(struct rtv_coordinator *co)
{
    if (co == NULL)
        return;
    while (co->ndoms)
        unwatch_domain(co, co->ndoms - 1);
    rtv_xs_unwatch(co->xs, "@introduceDomain", co->token);
    rtv_xs_unwatch(co->xs, "@releaseDomain", co->token);
    free(co->devs);
    free(co->doms);
    free(co);
}

int rtv_coordinator_start(struct rtv_coordinator *co, uint64_t now_ms,
                          struct rtv_err *err)
{
    int rc;

    if ((rc = rtv_xs_watch(co->xs, "@introduceDomain", co->token)) < 0 ||
        (rc = rtv_xs_watch(co->xs, "@releaseDomain", co->token)) < 0)
        return rtv_err_set(err, -rc, "cannot watch domain creation/destruction: %s",
                           strerror(-rc));
    scan_domains(co, now_ms);
    return 0;
}

/* Which domain, and which device of it, an event path concerns. */
static void route(struct rtv_coordinator *co, const char *path, uint64_t now)
{
    static const char prefix[] = "/local/domain/";
    char ctl[PATH_LEN], report[PATH_LEN], vdev[16];
    unsigned long long id;
    char num[8];
    size_t len;

    if (path[0] == '@') {
        scan_domains(co, now);
        return;
    }
    if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
        return;
    len = strcspn(path + sizeof(prefix) - 1, "/");
    if (len == 0 || len >= sizeof(num))
        return;
    memcpy(num, path + sizeof(prefix) - 1, len);
    num[len] = '\0';
    if (rtv_parse_uint(num, RTV_DOMID_MAX, &id) < 0)
        return;

    rtv_domid_t dom = (rtv_domid_t)id;
    vdev_parent(co->cls, ctl, RTV_R_STATE, dom);
    vdev_parent(co->cls, report, RTV_R_SHUNT_STATE, dom);
    bool is_report = false;
    const char *rest = NULL;
    if (strncmp(path, ctl, strlen(ctl)) == 0 && path[strlen(ctl)] == '/') {
        rest = path + strlen(ctl) + 1;
    } else if (strncmp(path, report, strlen(report)) == 0 && path[strlen(report)] == '/') {
        rest = path + strlen(report) + 1;
        is_report = true;
    }
    if (rest == NULL) {
        scan_domain(co, dom, now);   /* the domain's rtvirt root changed */
        return;
    }
    len = strcspn(rest, "/");
    if (len == 0 || len >= sizeof(vdev))
        return;
    memcpy(vdev, rest, len);
    vdev[len] = '\0';

    struct dev *d = find_dev(co, dom, vdev);
    if (d == NULL) {
        if (!is_report)
            add_dev(co, dom, vdev, now);   /* just put under rtvirt */
        return;
    }
    if (is_report) {
        feed_shunt(co, d, now);
        return;
    }
    int rc;
    char *st = read_node_rc(co, RTV_R_STATE, dom, vdev, &rc);
    if (st == NULL && rc == -ENOENT) {
        drop_dev(co, d);   /* unmanaged */
        return;
    }
    /* Unreadable (the store failed): still managed; the request is read
     * on, and the resync reads the state again. */
    free(st);
    feed_request(co, d, now);
}

void rtv_coordinator_poll_watches(struct rtv_coordinator *co, uint64_t now_ms)
{
    char *path, *token;

    /* Bounded: never starve the caller's loop under a storm of events. */
    for (int i = 0; i < 1024 && rtv_xs_read_watch(co->xs, &path, &token) == 0; i++) {
        if (strcmp(token, co->token) == 0)
            route(co, path, now_ms);
        free(path);
        free(token);
    }
}

/* How often a device waiting on the guest re-reads its report even without
 * a watch event: a store may drop or merge events under load. */
#define RESYNC_MS 500

void rtv_coordinator_tick(struct rtv_coordinator *co, uint64_t now_ms)
{
    bool resync = now_ms - co->last_resync_ms >= RESYNC_MS;

    if (resync)
        co->last_resync_ms = now_ms;
    for (unsigned i = 0; i < co->ndevs; i++) {
        struct dev *d = &co->devs[i];
        struct rtv_switch_fsm_event ev = { .kind = RTV_FSM_EV_TICK, .now_ms = now_ms };
        unsigned before = co->ndevs;
        if (owes(d) && publish_owed(co, d, false) == -ENOENT) {
            drop_dev(co, d);
            i--;   /* the last device moved into slot i */
            continue;
        }
        if (d->reread_request)
            feed_request(co, d, now_ms);
        if (co->ndevs == before && co->devs[i].reread_shunt)
            feed_shunt(co, &co->devs[i], now_ms);
        if (co->ndevs < before) {
            i--;   /* dropped: the last device moved into slot i */
            continue;
        }
        d = &co->devs[i];
        if (resync && (d->m.phase == RTV_FSM_SHUNT ||
                       d->m.phase == RTV_FSM_ROLLBACK_SHUNT))
            feed_shunt(co, d, now_ms);
        if (co->ndevs == before)
            step(co, &co->devs[i], &ev);
        if (co->ndevs < before)
            i--;   /* dropped: the last device moved into slot i */
    }
}

void rtv_coordinator_backend_event(struct rtv_coordinator *co, rtv_domid_t dom,
                                   const char *vdev,
                                   enum rtv_switch_fsm_event_kind kind,
                                   const char *msg, uint64_t now_ms)
{
    struct dev *d = find_dev(co, dom, vdev);
    if (d == NULL)
        return;
    struct rtv_switch_fsm_event ev = { .kind = kind, .now_ms = now_ms, .msg = msg };
    step(co, d, &ev);
}

unsigned rtv_coordinator_count(const struct rtv_coordinator *co)
{
    return co->ndevs;
}

unsigned rtv_coordinator_count_on_pv(const struct rtv_coordinator *co)
{
    unsigned n = 0;

    for (unsigned i = 0; i < co->ndevs; i++)
        n += co->devs[i].m.phase != RTV_FSM_STABLE || rtv_mode_needs_pv(co->devs[i].m.mode);
    return n;
}

void rtv_coordinator_set_failover_cause(struct rtv_coordinator *co, const char *cause)
{
    snprintf(co->cause, sizeof(co->cause), "%s", cause ? cause : "");
}

const struct rtv_switch_fsm *rtv_coordinator_at(const struct rtv_coordinator *co, unsigned i,
                                                rtv_domid_t *dom, const char **vdev)
{
    if (i >= co->ndevs)
        return NULL;
    *dom = co->devs[i].dom;
    *vdev = co->devs[i].vdev;
    return &co->devs[i].m;
}

const struct rtv_switch_fsm *rtv_coordinator_get(const struct rtv_coordinator *co,
                                                 rtv_domid_t dom, const char *vdev)
{
    for (unsigned i = 0; i < co->ndevs; i++)
        if (co->devs[i].dom == dom && strcmp(co->devs[i].vdev, vdev) == 0)
            return &co->devs[i].m;
    return NULL;
}
