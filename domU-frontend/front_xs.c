/*
 * librtvirt-front's handshake (front_priv.h; the API is rtvirt/front_blk.h).
 *
 * Sessions: a session is one set of rings and ports, set up when the
 * backend is in InitWait (session_init) and connected when it is Connected
 * (session_connect).  When the backend restarts the handshake the current
 * session's rings are dropped, the requests still in flight move to a
 * requeue list (they keep their seq), a new session is set up, and once
 * Connected the list is resubmitted in submission order.  The backend's
 * state is watched; on_backend_change() is idempotent, as watch events
 * coalesce.
 */
#include "front_priv.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/clock.h"
#include "rtvirt/log.h"
#include "rtvirt/xs_util.h"
void rtv_front_config_default(struct rtv_front_config *cfg, unsigned devid)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->devid = devid;
    cfg->ring_page_order = 0;
    cfg->nr_queues = 1;
    cfg->persistent = true;
    cfg->max_indirect_segs = 32;     /* Linux blkfront's default */
    cfg->timeout_ms = 10000;
}

/* ---- store helpers ------------------------------------------------------------- */

static int rd_uint(struct rtv_front *f, enum rtv_xs_node node, unsigned queue,
                   unsigned ring, unsigned long long max, unsigned long long def,
                   unsigned long long *out)
{
    return blkif_xs_read_uint(f->x->xs, RTV_XS_NO_TXN, &f->xd, node, queue, ring, max, true,
                              def, out);
}

/* The backend's state; absent or garbage reads as Unknown (gone), while a
 * store that fails the read gives -1: decide nothing on that. */
static int be_state(struct rtv_front *f)
{
    unsigned long long v;
    int rc = rd_uint(f, RTV_XS_VBD_BE_STATE, 0, 0, 8, XenbusStateUnknown, &v);

    if (rc == -EINVAL || rc == -ERANGE)
        return XenbusStateUnknown;
    if (rc < 0)
        return -1;
    return (int)v;
}

static int set_state(struct rtv_front *f, int state)
{
    int rc;

    if (f->fe_state == state)
        return 0;
    rc = blkif_xs_printf(f->x->xs, RTV_XS_NO_TXN, &f->xd, RTV_XS_VBD_FE_STATE, 0, 0,
                         "%d", state);
    if (rc == 0) {
        flog(f, "vbd %u: frontend state %d -> %d", f->cfg.devid, f->fe_state, state);
        f->fe_state = state;
    }
    return rc;
}

struct publish_arg {
    struct rtv_front *f;
};

static int publish_rings(struct rtv_store *s, rtv_txn_t t, void *arg)
{
    struct rtv_front *f = ((struct publish_arg *)arg)->f;
    bool multi = f->nq > 1, paged = f->info.ring_page_order > 0;
    int rc;

#define W(node, q, r, ...) do { \
        if ((rc = blkif_xs_printf(s, t, &f->xd, RTV_XS_##node, q, r, __VA_ARGS__)) < 0) \
            return rc; \
    } while (0)
    for (unsigned qi = 0; qi < f->nq; qi++) {
        for (unsigned i = 0; i < f->q[qi].nr_ring_pages; i++) {
            unsigned ref = f->q[qi].ring_refs[i];

            if (multi && paged)
                W(VBD_FE_QUEUE_RING_REFN, qi, i, "%u", ref);
            else if (multi)
                W(VBD_FE_QUEUE_RING_REF, qi, 0, "%u", ref);
            else if (paged)
                W(VBD_FE_RING_REFN, 0, i, "%u", ref);
            else
                W(VBD_FE_RING_REF, 0, 0, "%u", ref);
        }
        if (multi)
            W(VBD_FE_QUEUE_EVENT_CHANNEL, qi, 0, "%u", f->q[qi].port);
        else
            W(VBD_FE_EVENT_CHANNEL, 0, 0, "%u", f->q[qi].port);
    }
    if (paged)
        W(VBD_FE_RING_PAGE_ORDER, 0, 0, "%u", f->info.ring_page_order);
    if (multi)
        W(VBD_FE_MULTI_QUEUE_NUM_QUEUES, 0, 0, "%u", f->nq);
    W(VBD_FE_PROTOCOL, 0, 0, "%s", XEN_IO_PROTO_ABI_NATIVE);
    W(VBD_FE_FEATURE_PERSISTENT, 0, 0, "%d", f->cfg.persistent ? 1 : 0);
    W(VBD_FE_STATE, 0, 0, "%d", XenbusStateInitialised);
#undef W
    return 0;
}

/* Backend is in InitWait: read what it offers, set up rings, Initialised. */
static int session_init(struct rtv_front *f, char *msg, size_t mlen)
{
    unsigned long long order, mq, ind;
    int rc;

    if ((rc = rd_uint(f, RTV_XS_VBD_BE_MAX_RING_PAGE_ORDER, 0, 0, 16, 0, &order)) < 0 ||
        (rc = rd_uint(f, RTV_XS_VBD_BE_MULTI_QUEUE_MAX_QUEUES, 0, 0, 256, 1, &mq)) < 0 ||
        (rc = rd_uint(f, RTV_XS_VBD_BE_FEATURE_MAX_INDIRECT_SEGMENTS, 0, 0, 1u << 20, 0,
                      &ind)) < 0) {
        if (rtv_xs_store_failed(rc))
            rtv_notef(msg, mlen, "cannot read the backend's features: %s", strerror(-rc));
        else
            rtv_notef(msg, mlen, "backend publishes a malformed feature node");
        return rc;
    }
    f->info.ring_page_order = f->cfg.ring_page_order < order ? f->cfg.ring_page_order
                                                              : (unsigned)order;
    if (f->info.ring_page_order > BLKIF_XS_MAX_RING_ORDER)
        f->info.ring_page_order = BLKIF_XS_MAX_RING_ORDER;
    f->nq = f->cfg.nr_queues == 0 ? 1 : f->cfg.nr_queues;
    if (f->nq > mq)
        f->nq = mq == 0 ? 1 : (unsigned)mq;
    if (f->nq > BLKIF_XS_MAX_QUEUES)
        f->nq = BLKIF_XS_MAX_QUEUES;
    ind = ind < f->cfg.max_indirect_segs ? ind : f->cfg.max_indirect_segs;
    if (ind > RTV_BLKIF_MAX_INDIRECT_SEGS)
        ind = RTV_BLKIF_MAX_INDIRECT_SEGS;
    f->info.max_indirect_segs = ind > FRONT_MAX_DIRECT ? (unsigned)ind : 0;
    f->max_segs = f->info.max_indirect_segs ? f->info.max_indirect_segs : FRONT_MAX_DIRECT;
    f->info.max_request_bytes = f->max_segs * RTV_BLKIF_PAGE_SIZE;
    f->info.nr_queues = f->nq;

    for (unsigned qi = 0; qi < f->nq; qi++) {
        rc = front_queue_setup(f, &f->q[qi], f->info.ring_page_order);
        if (rc < 0) {
            rtv_notef(msg, mlen, "cannot set up ring %u: %s", qi, strerror(-rc));
            front_session_drop(f, true);
            return rc;
        }
    }
    rc = front_fit_budget(f, msg, mlen);
    if (rc < 0) {
        front_session_drop(f, true);
        return rc;
    }
    struct publish_arg pa = { f };
    rc = rtv_xs_transact(f->x->xs, 0, publish_rings, &pa);
    if (rc < 0) {
        rtv_notef(msg, mlen, "cannot publish ring references: %s", strerror(-rc));
        front_session_drop(f, true);
        return rc;
    }
    f->fe_state = XenbusStateInitialised;
    return 0;
}

/* Backend Connected: read the disk parameters, Connected, requeue. */
static int session_connect(struct rtv_front *f, char *msg, size_t mlen)
{
    unsigned long long sectors, ssize, info, flush, barrier, discard, pers;
    int rc;

    if ((rc = rd_uint(f, RTV_XS_VBD_BE_SECTORS, 0, 0, UINT64_MAX, 0, &sectors)) < 0 ||
        (rc = rd_uint(f, RTV_XS_VBD_BE_SECTOR_SIZE, 0, 0, 65536, 512, &ssize)) < 0 ||
        (rc = rd_uint(f, RTV_XS_VBD_BE_INFO, 0, 0, UINT32_MAX, 0, &info)) < 0 ||
        (rc = rd_uint(f, RTV_XS_VBD_BE_FEATURE_FLUSH_CACHE, 0, 0, 1, 0, &flush)) < 0 ||
        (rc = rd_uint(f, RTV_XS_VBD_BE_FEATURE_BARRIER, 0, 0, 1, 0, &barrier)) < 0 ||
        (rc = rd_uint(f, RTV_XS_VBD_BE_FEATURE_DISCARD, 0, 0, 1, 0, &discard)) < 0 ||
        (rc = rd_uint(f, RTV_XS_VBD_BE_FEATURE_PERSISTENT, 0, 0, 1, 0, &pers)) < 0) {
        if (rtv_xs_store_failed(rc)) {
            rtv_notef(msg, mlen, "cannot read the backend's disk parameters: %s",
                      strerror(-rc));
            return rc;
        }
        rtv_notef(msg, mlen, "backend publishes malformed disk parameters");
        return -EPROTO;
    }
    if (ssize != RTV_BLKIF_SECTOR_SIZE) {
        rtv_notef(msg, mlen, "sector-size %llu unsupported (only 512)", ssize);
        return -EOPNOTSUPP;
    }
    f->info.sectors = sectors;
    f->info.read_only = (info & VDISK_READONLY) != 0;
    f->info.flush = flush;
    f->info.barrier = barrier;
    f->info.discard = discard;
    f->info.persistent = f->cfg.persistent && pers;
    f->info.connects++;
    if ((rc = set_state(f, XenbusStateConnected)) < 0) {
        rtv_notef(msg, mlen, "cannot write frontend state: %s", strerror(-rc));
        return rc;
    }

    /* blkif_recover: resubmit in the order the caller submitted. */
    front_resubmit_requeued(f);
    flog(f, "vbd %u: connected (session %u): %llu sectors, %u queue(s), order %u, "
         "indirect %u, persistent %d, depth %u (grant budget %u)", f->cfg.devid,
         f->info.connects, (unsigned long long)f->info.sectors, f->nq,
         f->info.ring_page_order, f->info.max_indirect_segs, f->info.persistent,
         f->info.depth, f->info.max_grants);
    return 0;
}

/* After Closed.  Like Linux blkfront we do not start a new session
 * ourselves; a backend that publishes InitWait again (a restarted daemon)
 * gets one.  A detach (online = 0, or the backend directory gone) ends the
 * device here. */
static void after_closed(struct rtv_front *f, int be)
{
    unsigned long long online = 1;

    if (f->closing)
        return;
    /* online: absent means 0 (schema default); a failed read decides nothing. */
    if (be != XenbusStateUnknown &&
        rd_uint(f, RTV_XS_VBD_BE_ONLINE, 0, 0, 1, 0, &online) < 0)
        return;
    if (be == XenbusStateUnknown || online == 0) {
        /* Detached for good: what was waiting for a new session fails. */
        f->detached = true;
        for (unsigned i = 0; i < f->nr_requeue; i++)
            if (f->requeue[i].cb != NULL)
                f->requeue[i].cb(f->requeue[i].arg, -ENODEV);
        f->nr_requeue = 0;
    }
}

/* Reacts to the backend's state; idempotent (watch events coalesce).
 * Closing is driven from both sides: the backend asks (Closing), we let
 * what is on the ring finish, then drop the rings and say Closed; the
 * backend unmaps only after that (as Linux blkfront/blkback do). */
static void on_backend_change(struct rtv_front *f)
{
    int be = be_state(f);
    char msg[256];

    if (f->failed || be < 0)
        return;
    switch (f->fe_state) {
    case XenbusStateConnected:
        if (be == XenbusStateInitWait) {
            /* The backend started a new session under us (it restarted):
             * the old rings are dead; recover onto new ones. */
            flog(f, "vbd %u: backend restarted the handshake; recovering", f->cfg.devid);
            front_session_drop(f, true);
            if (session_init(f, msg, sizeof(msg)) < 0)
                front_fail(f, "reconnect failed");
            break;
        }
        if (be != XenbusStateClosing && be != XenbusStateClosed && be != XenbusStateUnknown)
            break;
        set_state(f, XenbusStateClosing);
        /* fall through */
    case XenbusStateClosing:
        if (be == XenbusStateInitWait || be == XenbusStateClosed ||
            be == XenbusStateUnknown || front_session_inflight(f) == 0) {
            front_session_drop(f, true);
            set_state(f, XenbusStateClosed);
            after_closed(f, be);
        }
        break;
    case XenbusStateClosed:
        if (!f->detached && be == XenbusStateInitWait &&
            session_init(f, msg, sizeof(msg)) < 0)
            front_fail(f, "reconnect failed");
        else
            after_closed(f, be);
        break;
    case XenbusStateInitialising:
        if (be == XenbusStateInitWait && session_init(f, msg, sizeof(msg)) < 0)
            front_fail(f, "reconnect failed");
        break;
    case XenbusStateInitialised:
        if (be == XenbusStateConnected && session_connect(f, msg, sizeof(msg)) < 0)
            front_fail(f, "reconnect failed");
        else if (be == XenbusStateClosed || be == XenbusStateClosing ||
                 be == XenbusStateUnknown) {
            front_session_drop(f, true);
            set_state(f, XenbusStateClosed);
            after_closed(f, be);
        }
        break;
    default:
        break;
    }
}

static int poll_once(struct rtv_front *f, int timeout_ms)
{
    struct rtv_evtchn *e = f->x->evtchn;
    struct pollfd pfd[2] = {
        { .fd = rtv_xs_watch_fd(f->x->xs), .events = POLLIN },
        { .fd = e->ops->fd(e), .events = POLLIN },
    };
    int n = poll(pfd, 2, timeout_ms), done = 0;

    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    if (pfd[1].revents & POLLIN) {
        rtv_port_t port;

        if (e->ops->pending(e, &port) == 0 && !f->failed)
            e->ops->unmask(e, port);     /* a failed device gets no EOI */
    }
    /* Reap every queue: cheap, and covers a notification we coalesced. */
    for (unsigned qi = 0; qi < f->nq && !f->failed; qi++) {
        if (f->q[qi].notify_owed && f->q[qi].port_ok)
            front_queue_notify(f, &f->q[qi]);
        done += front_reap_queue(f, &f->q[qi]);
    }
    /* Requests that did not fit the ring at reconnect go out as slots free. */
    if (f->nr_requeue > 0 && f->fe_state == XenbusStateConnected && !f->failed &&
        !f->closing)
        front_resubmit_requeued(f);
    if (pfd[0].revents & POLLIN) {
        char *path, *token;
        bool any = false;

        while (rtv_xs_read_watch(f->x->xs, &path, &token) == 0) {
            free(path);
            free(token);
            any = true;
        }
        if (any && !f->closing)
            on_backend_change(f);
    }
    /* A close the backend asked for waits for the ring to drain. */
    if (f->fe_state == XenbusStateClosing && !f->closing && front_session_inflight(f) == 0)
        on_backend_change(f);
    return done;
}

int rtv_front_poll(struct rtv_front *f, int timeout_ms)
{
    return poll_once(f, timeout_ms);
}

/* Waits (bounded) until the backend's state is one of the mask bits. */
static int wait_be(struct rtv_front *f, unsigned mask, int timeout_ms)
{
    const uint64_t end = rtv_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

    for (;;) {
        int be = be_state(f);

        if (be >= 0 && be < 32 && (mask & (1u << be)))
            return be;
        const uint64_t now = rtv_now_ms();
        if (now >= end)
            return -ETIMEDOUT;
        const uint64_t left = end - now;
        struct pollfd p = { .fd = rtv_xs_watch_fd(f->x->xs), .events = POLLIN };
        if (poll(&p, 1, (int)(left < 100 ? left : 100)) > 0) {
            char *path, *token;

            while (rtv_xs_read_watch(f->x->xs, &path, &token) == 0) {
                free(path);
                free(token);
            }
        }
    }
}

/* ---- open / close -------------------------------------------------------------------- */

int rtv_front_open(struct rtv_xen *x, const struct rtv_front_config *cfg,
                   struct rtv_front **out, char *msg, size_t mlen)
{
    struct rtv_front *f = calloc(1, sizeof(*f));
    unsigned long long bid;
    char *be = NULL, expect[FRONT_PATH_MAX];
    int rc, timeout;

    if (f == NULL)
        return -ENOMEM;
    f->x = x;
    f->cfg = *cfg;
    timeout = cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000;
    f->fe_state = -1;
    f->xd = (struct blkif_xs_dev){ 0, x->self, cfg->devid, NULL };

    /* The toolstack's links to the backend; validated, not trusted. */
    rc = blkif_xs_read_uint(x->xs, RTV_XS_NO_TXN, &f->xd, RTV_XS_VBD_FE_BACKEND_ID, 0, 0,
                            RTV_DOMID_MAX, false, 0, &bid);
    if (rc == 0)
        rc = blkif_xs_read(x->xs, RTV_XS_NO_TXN, &f->xd, RTV_XS_VBD_FE_BACKEND, 0, 0,
                           &be, NULL);
    if (rc < 0) {
        rtv_notef(msg, mlen, rtv_xs_store_failed(rc) ? "vbd %u: cannot read backend/backend-id: %s"
                                                     : "vbd %u: no valid backend/backend-id (%s)",
                  cfg->devid, strerror(-rc));
        free(f);
        return rc;
    }
    f->be_domid = (rtv_domid_t)bid;
    f->xd.bedomid = f->be_domid;
    /* Follow the backend node, wherever the schema lets it point: blkback
     * serves backend/vbd/, rtvirt-backd backend/vbd3/, qemu's qdisk (as libxl
     * 4.17 writes it, seen in the lab) backend/qdisk/.  The backend domain's
     * directory of this very device, or nothing. */
    const struct rtv_xs_type_spec *bt = &rtv_xs_params[RTV_XS_P_BTYPE].type;
    for (unsigned i = 0; i < bt->nvalues && f->xd.btype == NULL; i++) {
        struct rtv_xs_args a = { .domid = x->self, .bedomid = bid, .devid = cfg->devid,
                                 .btype = bt->values[i] };

        if (rtv_xs_dir(expect, sizeof(expect), RTV_XS_VBD_BE_STATE, &a, NULL) == 0 &&
            strcmp(be, expect) == 0)
            f->xd.btype = bt->values[i];
    }
    if (f->xd.btype == NULL) {
        rtv_notef(msg, mlen, "backend path \"%s\" is not backend/<type>/%u/%u of domain %llu "
                  "for a backend type of the schema", be, x->self, cfg->devid, bid);
        free(be);
        free(f);
        return -EINVAL;
    }
    free(be);

    rc = blkif_xs_path(f->be_state_path, sizeof(f->be_state_path), &f->xd,
                       RTV_XS_VBD_BE_STATE, 0, 0);
    if (rc == 0)
        rc = rtv_xs_watch(x->xs, f->be_state_path, "be");
    if (rc < 0) {
        rtv_notef(msg, mlen, "cannot watch the backend state: %s", strerror(-rc));
        free(f);
        return rc;
    }
    f->watching = true;
    set_state(f, XenbusStateInitialising);

    /* A failed wait is the bound passing: say which, so a caller with its
     * own bound (the shunt's switch) can tell it from a refusal. */
    rc = wait_be(f, 1u << XenbusStateInitWait, timeout);
    if (rc < 0) {
        rtv_notef(msg, mlen, "backend %s did not reach InitWait within %d ms (state %d)",
                  expect, timeout, be_state(f));
        goto fail;
    }
    rc = session_init(f, msg, mlen);
    if (rc < 0)
        goto fail;
    rc = wait_be(f, (1u << XenbusStateConnected) | (1u << XenbusStateClosing) |
                    (1u << XenbusStateClosed), timeout);
    if (rc != XenbusStateConnected) {
        if (rc >= 0)
            rtv_notef(msg, mlen, "backend %s closed instead of connecting (state %d)",
                      expect, rc);
        else
            rtv_notef(msg, mlen, "backend %s did not connect within %d ms (state %d)",
                      expect, timeout, be_state(f));
        if (rc >= 0)
            rc = -ECONNREFUSED;
        goto fail;
    }
    rc = session_connect(f, msg, mlen);
    if (rc < 0)
        goto fail;
    *out = f;
    return 0;

fail:
    f->closing = true;
    rtv_front_close(f);
    return rc;
}

int rtv_front_close(struct rtv_front *f)
{
    int timeout = f->cfg.timeout_ms > 0 ? f->cfg.timeout_ms : 10000;
    const uint64_t end = rtv_now_ms() + (uint64_t)timeout;
    int rc = 0;

    /* Let what is in flight finish (bounded). */
    while (!f->failed && rtv_front_inflight(f) > 0 && f->nq > 0 && rtv_now_ms() < end)
        poll_once(f, 50);
    f->closing = true;
    /* After a detach the directory is gone: writing a state would only
     * recreate it.  Nothing to hand-shake then. */
    if (f->fe_state >= 0 && !f->detached && f->fe_state != XenbusStateClosed) {
        set_state(f, XenbusStateClosing);
        if (wait_be(f, (1u << XenbusStateClosing) | (1u << XenbusStateClosed) |
                       (1u << XenbusStateUnknown), timeout) < 0)
            rc = -ETIMEDOUT;
        set_state(f, XenbusStateClosed);
        /* The rings go only once the backend is Closed too. */
        if (wait_be(f, (1u << XenbusStateClosed) | (1u << XenbusStateUnknown), timeout) < 0)
            rc = -ETIMEDOUT;
    }
    front_session_drop(f, false);
    for (unsigned i = 0; i < f->nr_requeue; i++)
        if (f->requeue[i].cb != NULL)
            f->requeue[i].cb(f->requeue[i].arg, -EIO);
    free(f->requeue);
    if (f->watching)
        rtv_xs_unwatch(f->x->xs, f->be_state_path, "be");
    free(f);
    return rc;
}
