/*
 * librtvirt-front: userspace blkif frontend (see rtvirt/front_blk.h).
 *
 * I/O path: rtv_front_submit() takes a free shadow slot of a queue, shares
 * the data pages with the backend (once per slot with feature-persistent,
 * per request without), copies write data in, fills the ring request (an
 * indirect one when it needs more than 11 segments), pushes it and notifies.
 * rtv_front_poll() copies each response off the ring, fences, checks it
 * against the shadow (rtv_blkif_rsp_check), copies read data out, releases
 * the slot and calls the callback.
 *
 * Sessions: a session is one set of rings and ports.  When the backend
 * restarts the handshake the current session's rings are dropped, the
 * requests still in flight move to a requeue list (they keep their seq), a
 * new session is set up, and once Connected the list is resubmitted in
 * submission order.
 */
#include "rtvirt/front_blk.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rtvirt/blkif_xs.h"
#include "rtvirt/clock.h"
#include "rtvirt/log.h"
#include "rtvirt/xs_util.h"

#define FRONT_PATH_MAX 256
#define FRONT_MAX_DIRECT BLKIF_MAX_SEGMENTS_PER_REQUEST

struct front_req {              /* what the caller asked: survives sessions */
    uint64_t seq;
    enum rtv_front_op op;
    uint64_t sector;
    void    *buf;
    size_t   len;
    rtv_front_done_fn cb;
    void    *arg;
    bool     raw;               /* test hook request: never requeued */
};

struct front_slot {
    struct front_req req;
    void    *data;              /* shared data pages (persistent pool or one-shot) */
    unsigned nr_data;
    rtv_gref_t data_refs[RTV_BLKIF_MAX_SEGS];
    bool     data_persistent;
    void    *ind;               /* shared indirect pages */
    unsigned nr_ind;
    rtv_gref_t ind_refs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
    bool     ind_persistent;
    bool     retired;           /* its pool could not be granted: unused this session */
};

struct front_queue {
    void    *sring;
    unsigned nr_ring_pages;
    rtv_gref_t ring_refs[BLKIF_XS_MAX_RING_PAGES];
    blkif_front_ring_t ring;
    rtv_port_t port;
    bool     port_ok;
    bool     notify_owed;      /* a notify failed: sent again at the next poll */
    unsigned nslots;
    unsigned nr_retired;
    struct front_slot *slots;
    bool    *inflight;
    uint8_t *sent_op, *alt_op;
    unsigned nr_inflight;
};

struct rtv_front {
    struct rtv_xen *x;
    struct rtv_front_config cfg;
    struct blkif_xs_dev xd;    /* names every node of this vbd (btype: its backend's) */
    char be_state_path[FRONT_PATH_MAX];   /* watched */
    rtv_domid_t be_domid;
    int  fe_state;
    bool watching;
    bool failed;
    const char *why;
    bool closing;
    bool detached;             /* the toolstack removed the device */
    bool plugged;              /* test hook: hold requests back */
    uint64_t next_seq;
    unsigned nq;
    struct front_queue q[BLKIF_XS_MAX_QUEUES];
    unsigned next_queue;
    /* negotiated for the current session */
    struct rtv_front_info info;
    unsigned max_segs;
    /* requests to resubmit once a new session is Connected */
    struct front_req *requeue;
    unsigned nr_requeue, cap_requeue;
};

#define flog(f, ...) do { if ((f)->cfg.verbose) { \
    fprintf(stderr, "rtvirt-front: " __VA_ARGS__); fputc('\n', stderr); } } while (0)

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

/* ---- grants ------------------------------------------------------------------------ */

static void slot_release(struct rtv_front *f, struct front_slot *s, bool all)
{
    struct rtv_grants *g = f->x->gnt;

    if (s->data != NULL && (all || !s->data_persistent)) {
        g->ops->unshare(g, s->data, s->nr_data);
        s->data = NULL;
        s->nr_data = 0;
    }
    if (s->ind != NULL && (all || !s->ind_persistent)) {
        g->ops->unshare(g, s->ind, s->nr_ind);
        s->ind = NULL;
        s->nr_ind = 0;
    }
}

/* ---- sessions ---------------------------------------------------------------------- */

static void queue_free(struct rtv_front *f, struct front_queue *q)
{
    struct rtv_grants *g = f->x->gnt;

    if (q->slots != NULL) {
        for (unsigned i = 0; i < q->nslots; i++)
            slot_release(f, &q->slots[i], true);
    }
    free(q->slots);
    free(q->inflight);
    free(q->sent_op);
    free(q->alt_op);
    q->slots = NULL;
    q->inflight = NULL;
    q->sent_op = q->alt_op = NULL;
    q->nslots = 0;
    q->nr_inflight = 0;
    q->nr_retired = 0;
    if (q->port_ok)
        f->x->evtchn->ops->unbind(f->x->evtchn, q->port);
    q->port_ok = false;
    if (q->sring != NULL)
        g->ops->unshare(g, q->sring, q->nr_ring_pages);
    q->sring = NULL;
}

static int requeue_add(struct rtv_front *f, const struct front_req *r)
{
    if (f->nr_requeue == f->cap_requeue) {
        unsigned cap = f->cap_requeue ? f->cap_requeue * 2 : 64;
        struct front_req *n = realloc(f->requeue, cap * sizeof(*n));

        if (n == NULL)
            return -ENOMEM;
        f->requeue = n;
        f->cap_requeue = cap;
    }
    f->requeue[f->nr_requeue++] = *r;
    return 0;
}

/* Takes every in-flight request off q.  keep: they go to the requeue list;
 * the rest (all without keep, raw test requests always, any the list has no
 * room for) complete with -EIO. */
static void queue_take_inflight(struct rtv_front *f, struct front_queue *q, bool keep)
{
    for (unsigned i = 0; i < q->nslots; i++) {
        if (!q->inflight[i])
            continue;
        q->inflight[i] = false;
        q->nr_inflight--;
        if (keep && !q->slots[i].req.raw && requeue_add(f, &q->slots[i].req) == 0)
            continue;
        if (q->slots[i].req.cb != NULL)
            q->slots[i].req.cb(q->slots[i].req.arg, -EIO);
    }
}

/* Drops the current session.  keep: in-flight requests go to the requeue
 * list (raw test requests complete with -EIO instead). */
static void session_drop(struct rtv_front *f, bool keep)
{
    for (unsigned qi = 0; qi < f->nq; qi++) {
        queue_take_inflight(f, &f->q[qi], keep);
        queue_free(f, &f->q[qi]);
    }
    f->nq = 0;
}

static int queue_setup(struct rtv_front *f, struct front_queue *q, unsigned order)
{
    struct rtv_grants *g = f->x->gnt;
    unsigned n = 1u << order, size = n * RTV_BLKIF_PAGE_SIZE;
    int rc;

    q->sring = g->ops->share(g, f->be_domid, n, q->ring_refs, true);
    if (q->sring == NULL)
        return -errno;
    q->nr_ring_pages = n;
    memset(q->sring, 0, size);
    SHARED_RING_INIT((blkif_sring_t *)q->sring);
    FRONT_RING_INIT(&q->ring, (blkif_sring_t *)q->sring, size);
    rc = f->x->evtchn->ops->alloc_unbound(f->x->evtchn, f->be_domid, &q->port);
    if (rc < 0)
        return rc;
    q->port_ok = true;
    unsigned n_slots = RING_SIZE(&q->ring);
    q->slots = calloc(n_slots, sizeof(*q->slots));
    q->inflight = calloc(n_slots, sizeof(*q->inflight));
    q->sent_op = calloc(n_slots, 1);
    q->alt_op = calloc(n_slots, 1);
    if (!q->slots || !q->inflight || !q->sent_op || !q->alt_op)
        return -ENOMEM;
    q->nslots = n_slots;
    return 0;
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

/* ---- grant budget ------------------------------------------------------------------ */

#define GNTALLOC_LIMIT_PATH "/sys/module/xen_gntalloc/parameters/limit"
#define GNTALLOC_DEFAULT_LIMIT 1024u

/* How many grants we may hold at once.  Linux gntalloc fails a share with
 * ENOSPC past its module parameter `limit` (default 1024), counted over the
 * whole guest, and keeps counting a grant we dropped for as long as the
 * backend still maps it. */
static unsigned grant_budget(const struct rtv_front *f)
{
    char buf[32];
    unsigned long long v;
    ssize_t n;
    int fd;

    if (f->cfg.max_grants > 0)
        return f->cfg.max_grants;
    fd = open(GNTALLOC_LIMIT_PATH, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return GNTALLOC_DEFAULT_LIMIT;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return GNTALLOC_DEFAULT_LIMIT;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    if (rtv_parse_uint(buf, UINT32_MAX, &v) < 0 || v == 0)
        return GNTALLOC_DEFAULT_LIMIT;
    return (unsigned)v;
}

static unsigned slot_grants(unsigned segs)
{
    return segs + (segs > FRONT_MAX_DIRECT ? rtv_blkif_indirect_pages(segs) : 0);
}

/* Fits the session into the grant budget, worst case: the ring pages plus,
 * for every usable slot, a full request's data pages and indirect pages
 * (a persistent pool holds exactly that; one-shot grants never more).  First
 * fewer segments per request, down to the 11 a request carries without
 * indirect pages (Linux blkfront's default of 32 slots x 32 segments is
 * about what 1024 grants hold), then fewer usable slots per queue.  Without
 * this, pools granted past the limit failed with ENOSPC and what they fell
 * back to stayed counted while the backend cached it (seen in the lab). */
static int fit_budget(struct rtv_front *f, char *msg, size_t mlen)
{
    unsigned budget = grant_budget(f), ring = 0, slots = f->q[0].nslots;
    unsigned segs = f->max_segs, avail, depth;

    for (unsigned qi = 0; qi < f->nq; qi++)
        ring += f->q[qi].nr_ring_pages;
    avail = budget > ring ? budget - ring : 0;
    while (segs > FRONT_MAX_DIRECT && (unsigned long long)slot_grants(segs) * slots * f->nq > avail)
        segs--;
    depth = avail / (slot_grants(segs) * f->nq);
    if (depth > slots)
        depth = slots;
    if (depth == 0) {
        rtv_notef(msg, mlen, "a grant budget of %u cannot hold %u ring page(s) and one "
                  "request per queue", budget, ring);
        return -ENOSPC;
    }
    f->max_segs = segs;
    f->info.max_indirect_segs = segs > FRONT_MAX_DIRECT ? segs : 0;
    f->info.max_request_bytes = segs * RTV_BLKIF_PAGE_SIZE;
    f->info.depth = depth;
    f->info.max_grants = budget;
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
        rc = queue_setup(f, &f->q[qi], f->info.ring_page_order);
        if (rc < 0) {
            rtv_notef(msg, mlen, "cannot set up ring %u: %s", qi, strerror(-rc));
            session_drop(f, true);
            return rc;
        }
    }
    rc = fit_budget(f, msg, mlen);
    if (rc < 0) {
        session_drop(f, true);
        return rc;
    }
    struct publish_arg pa = { f };
    rc = rtv_xs_transact(f->x->xs, 0, publish_rings, &pa);
    if (rc < 0) {
        rtv_notef(msg, mlen, "cannot publish ring references: %s", strerror(-rc));
        session_drop(f, true);
        return rc;
    }
    f->fe_state = XenbusStateInitialised;
    return 0;
}

static int submit_internal(struct rtv_front *f, const struct front_req *r);
static unsigned session_inflight(const struct rtv_front *f);

/* Sends the requeue list (requests of an earlier session, in the caller's
 * submission order, like blkif_recover).  What does not fit the ring now
 * goes back on the list; poll_once() calls this again as completions free
 * slots, so nothing stays parked while the device is connected. */
static void resubmit_requeued(struct rtv_front *f)
{
    if (f->nr_requeue == 0)
        return;

    struct front_req *list = f->requeue;
    unsigned n = f->nr_requeue;

    f->requeue = NULL;
    f->nr_requeue = f->cap_requeue = 0;
    for (unsigned i = 1; i < n; i++)           /* insertion sort by seq */
        for (unsigned j = i; j > 0 && list[j - 1].seq > list[j].seq; j--) {
            struct front_req t = list[j];
            list[j] = list[j - 1];
            list[j - 1] = t;
        }
    for (unsigned i = 0; i < n; i++) {
        int rc = submit_internal(f, &list[i]);

        if (rc == 0)
            f->info.requeued++;
        else if (rc == -EAGAIN)
            requeue_add(f, &list[i]);    /* fewer slots now: later */
        else if (list[i].cb != NULL)
            list[i].cb(list[i].arg, rc);
    }
    free(list);
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
    resubmit_requeued(f);
    flog(f, "vbd %u: connected (session %u): %llu sectors, %u queue(s), order %u, "
         "indirect %u, persistent %d, depth %u (grant budget %u)", f->cfg.devid,
         f->info.connects, (unsigned long long)f->info.sectors, f->nq,
         f->info.ring_page_order, f->info.max_indirect_segs, f->info.persistent,
         f->info.depth, f->info.max_grants);
    return 0;
}

/* ---- failure ------------------------------------------------------------------------ */

static void front_fail(struct rtv_front *f, const char *why)
{
    if (f->failed)
        return;
    f->failed = true;
    f->why = why;
    fprintf(stderr, "rtvirt-front: vbd %u: backend misbehaved: %s; device failed\n",
            f->cfg.devid, why);
    /* Complete everything with -EIO.  The pages stay shared (the backend
     * may still write them) until rtv_front_close(). */
    for (unsigned qi = 0; qi < f->nq; qi++)
        queue_take_inflight(f, &f->q[qi], false);
    for (unsigned i = 0; i < f->nr_requeue; i++)
        if (f->requeue[i].cb != NULL)
            f->requeue[i].cb(f->requeue[i].arg, -EIO);
    f->nr_requeue = 0;
}

/* ---- submission ------------------------------------------------------------------------ */

/* Grants pages for a slot.  With persistent grants: one read-write pool of
 * pool_pages, granted once and kept mapped by the backend
 * (feature-persistent); if it cannot be granted (gntalloc's limit is shared
 * with every other user in the guest) -ENOSPC, and the caller retires the
 * slot.  No one-shot fallback then: a persistent backend maps every grant
 * read-write to cache it (Linux blkback fails the request if it cannot;
 * rtvirt-backd's gntdev mmap got EINVAL for our read-only ones in the lab),
 * and a grant it caches stays counted against gntalloc's limit after we
 * drop it, until the session ends -- the fallback ate the budget.
 * Without persistent grants: npages one-shot pages for this request; out of
 * grants with requests in flight gives -EAGAIN, as a full ring does
 * (completions free grants), with nothing in flight -ENOSPC. */
static int slot_share(struct rtv_front *f, void **mem, unsigned *nr,
                      rtv_gref_t *refs, bool *persistent, unsigned pool_pages,
                      unsigned npages, bool writable)
{
    struct rtv_grants *g = f->x->gnt;
    bool pool = f->info.persistent;

    if (pool && *mem != NULL)
        return 0;
    *mem = g->ops->share(g, f->be_domid, pool ? pool_pages : npages, refs,
                         pool || writable);
    if (*mem == NULL) {
        int e = errno;

        f->info.grants_refused += e == ENOSPC;
        if (e == ENOSPC && !pool && session_inflight(f) > 0)
            return -EAGAIN;
        return -e;
    }
    *nr = pool ? pool_pages : npages;
    *persistent = pool;
    return 0;
}

static int slot_data(struct rtv_front *f, struct front_slot *s, unsigned nsegs,
                     bool writable)
{
    return slot_share(f, &s->data, &s->nr_data, s->data_refs,
                      &s->data_persistent, f->max_segs, nsegs, writable);
}

static int slot_ind(struct rtv_front *f, struct front_slot *s, unsigned nind)
{
    return slot_share(f, &s->ind, &s->nr_ind, s->ind_refs, &s->ind_persistent,
                      rtv_blkif_indirect_pages(f->max_segs), nind, false);
}

static unsigned usable_slots(const struct rtv_front *f)
{
    unsigned n = 0;

    for (unsigned qi = 0; qi < f->nq; qi++)
        n += f->info.depth - f->q[qi].nr_retired;
    return n;
}

static struct front_queue *pick_queue(struct rtv_front *f, unsigned *slot)
{
    for (unsigned k = 0; k < f->nq; k++) {
        struct front_queue *q = &f->q[(f->next_queue + k) % f->nq];

        if (q->nr_inflight + q->nr_retired >= f->info.depth || RING_FULL(&q->ring))
            continue;
        /* Only the first depth slots: what the grant budget holds. */
        for (unsigned i = 0; i < f->info.depth; i++) {
            if (!q->inflight[i] && !q->slots[i].retired) {
                f->next_queue = (f->next_queue + k + 1) % f->nq;
                *slot = i;
                return q;
            }
        }
    }
    return NULL;
}

/* Tells the backend about new requests.  A notify that fails is owed and
 * sent again at the next poll: the backend asked to be told (req_event),
 * and until it is, it takes nothing more off this ring, so later pushes
 * would not notify either and every request behind would wait forever
 * (found by the seam fault sweep). */
static void queue_notify(struct rtv_front *f, struct front_queue *q)
{
    q->notify_owed = f->x->evtchn->ops->notify(f->x->evtchn, q->port) < 0;
}

static void push(struct rtv_front *f, struct front_queue *q)
{
    int notify;

    if (f->plugged)
        return;     /* rtv_front_test_plug(f, false) publishes them */
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->ring, notify);
    if (notify || q->notify_owed)
        queue_notify(f, q);
}

static int submit_internal(struct rtv_front *f, const struct front_req *r)
{
    struct front_queue *q;
    struct front_slot *s;
    struct blkif_request *ring_req;
    unsigned slot, nsegs = 0, nind = 0;
    uint8_t op, alt;
    int rc;

    if (f->fe_state != XenbusStateConnected)
        return requeue_add(f, r);   /* reconnecting: goes out with the new session */
    bool data = r->op == RTV_FRONT_READ || r->op == RTV_FRONT_WRITE ||
                r->op == RTV_FRONT_WRITE_FLUSH || r->op == RTV_FRONT_WRITE_BARRIER;
    if (data) {
        nsegs = (unsigned)((r->len + RTV_BLKIF_PAGE_SIZE - 1) / RTV_BLKIF_PAGE_SIZE);
        nind = nsegs > FRONT_MAX_DIRECT ? rtv_blkif_indirect_pages(nsegs) : 0;
    }
    /* Bounded: every pass either returns or retires one slot. */
    for (;;) {
        q = pick_queue(f, &slot);
        if (q == NULL)
            return usable_slots(f) == 0 ? -ENOSPC : -EAGAIN;
        s = &q->slots[slot];
        if (!data)
            break;
        rc = slot_data(f, s, nsegs, r->op == RTV_FRONT_READ);
        if (rc == 0 && nind > 0 && (rc = slot_ind(f, s, nind)) < 0)
            slot_release(f, s, false);
        if (rc == 0)
            break;
        if (rc != -ENOSPC || !f->info.persistent)
            return rc;
        /* Its pool does not fit next to the other users of gntalloc: the
         * slots that have one carry the load. */
        slot_release(f, s, true);
        s->retired = true;
        q->nr_retired++;
        flog(f, "vbd %u: q%u slot %u retired: out of grants (%u usable)", f->cfg.devid,
             (unsigned)(q - f->q), slot, usable_slots(f));
    }
    s->req = *r;
    if (data && r->op != RTV_FRONT_READ)
        memcpy(s->data, r->buf, r->len);

    ring_req = RING_GET_REQUEST(&q->ring, q->ring.req_prod_pvt);
    switch (r->op) {
    case RTV_FRONT_READ:          op = BLKIF_OP_READ; break;
    case RTV_FRONT_WRITE:         op = BLKIF_OP_WRITE; break;
    case RTV_FRONT_WRITE_FLUSH:   op = BLKIF_OP_FLUSH_DISKCACHE; break;
    case RTV_FRONT_WRITE_BARRIER: op = BLKIF_OP_WRITE_BARRIER; break;
    case RTV_FRONT_FLUSH:         op = f->info.flush ? BLKIF_OP_FLUSH_DISKCACHE
                                                     : BLKIF_OP_WRITE_BARRIER; break;
    case RTV_FRONT_DISCARD:       op = BLKIF_OP_DISCARD; break;
    default:                      return -EINVAL;
    }
    alt = op;

    if (r->op == RTV_FRONT_DISCARD) {
        struct blkif_request_discard d;

        memset(&d, 0, sizeof(d));
        d.operation = BLKIF_OP_DISCARD;
        d.handle = (blkif_vdev_t)f->cfg.devid;
        d.id = slot;
        d.sector_number = r->sector;
        d.nr_sectors = r->len >> RTV_BLKIF_SECTOR_SHIFT;
        memcpy(ring_req, &d, sizeof(d));
    } else if (nind > 0) {
        struct blkif_request_indirect ind;

        memset(&ind, 0, sizeof(ind));
        ind.operation = BLKIF_OP_INDIRECT;
        /* Only plain reads and writes may be indirect (blkif.h). */
        ind.indirect_op = r->op == RTV_FRONT_READ ? BLKIF_OP_READ : BLKIF_OP_WRITE;
        ind.nr_segments = (uint16_t)nsegs;
        ind.id = slot;
        ind.sector_number = r->sector;
        ind.handle = (blkif_vdev_t)f->cfg.devid;
        for (unsigned i = 0; i < nind; i++)
            ind.indirect_grefs[i] = s->ind_refs[i];
        for (unsigned i = 0; i < nsegs; i++) {
            struct blkif_request_segment *seg =
                (struct blkif_request_segment *)s->ind + i;
            size_t left = r->len - (size_t)i * RTV_BLKIF_PAGE_SIZE;

            seg->gref = s->data_refs[i];
            seg->first_sect = 0;
            seg->last_sect = (uint8_t)((left >= RTV_BLKIF_PAGE_SIZE ? RTV_BLKIF_PAGE_SIZE
                                                                     : left) / 512 - 1);
        }
        memcpy(ring_req, &ind, sizeof(ind));
        op = BLKIF_OP_INDIRECT;
        alt = ind.indirect_op;
    } else {
        struct blkif_request rq;

        memset(&rq, 0, sizeof(rq));
        rq.operation = op;
        rq.nr_segments = (uint8_t)nsegs;
        rq.handle = (blkif_vdev_t)f->cfg.devid;
        rq.id = slot;
        rq.sector_number = r->sector;
        for (unsigned i = 0; i < nsegs; i++) {
            size_t left = r->len - (size_t)i * RTV_BLKIF_PAGE_SIZE;

            rq.seg[i].gref = s->data_refs[i];
            rq.seg[i].first_sect = 0;
            rq.seg[i].last_sect = (uint8_t)((left >= RTV_BLKIF_PAGE_SIZE ? RTV_BLKIF_PAGE_SIZE
                                                                          : left) / 512 - 1);
        }
        memcpy(ring_req, &rq, sizeof(rq));
    }
    q->sent_op[slot] = op;
    q->alt_op[slot] = alt;
    q->inflight[slot] = true;
    q->nr_inflight++;
    q->ring.req_prod_pvt++;
    push(f, q);
    return 0;
}

int rtv_front_submit(struct rtv_front *f, enum rtv_front_op op, uint64_t sector,
                     void *buf, size_t len, rtv_front_done_fn cb, void *arg)
{
    struct front_req r = { .op = op, .sector = sector, .buf = buf, .len = len,
                           .cb = cb, .arg = arg };

    if (f->failed)
        return -EIO;
    if (f->detached)
        return -ENODEV;
    if (f->closing)
        return -ESHUTDOWN;
    switch (op) {
    case RTV_FRONT_READ:
    case RTV_FRONT_WRITE:
    case RTV_FRONT_WRITE_FLUSH:
    case RTV_FRONT_WRITE_BARRIER:
        if (len == 0 || len % RTV_BLKIF_SECTOR_SIZE || buf == NULL ||
            len > f->info.max_request_bytes)
            return -EINVAL;
        if (op != RTV_FRONT_READ && f->info.read_only)
            return -EROFS;
        if ((op == RTV_FRONT_WRITE_FLUSH && !f->info.flush) ||
            (op == RTV_FRONT_WRITE_BARRIER && !f->info.barrier))
            return -EOPNOTSUPP;
        break;
    case RTV_FRONT_FLUSH:
        if (!f->info.flush && !f->info.barrier)
            return -EOPNOTSUPP;
        break;
    case RTV_FRONT_DISCARD:
        if (!f->info.discard)
            return -EOPNOTSUPP;
        if (len == 0 || len % RTV_BLKIF_SECTOR_SIZE)
            return -EINVAL;
        break;
    default:
        return -EINVAL;
    }
    r.seq = f->next_seq++;
    return submit_internal(f, &r);
}

/* ---- completions ------------------------------------------------------------------------ */

static int reap_queue(struct rtv_front *f, struct front_queue *q)
{
    int done = 0, more;
    RING_IDX rp;

    if (q->sring == NULL)
        return 0;
    do {
        if (rtv_blkif_front_peek(&q->ring, &rp) < 0) {
            front_fail(f, rtv_blkif_rsp_verdict_str(RTV_BLKIF_RSP_E_PROD_OVERFLOW));
            return done;
        }
        while (q->ring.rsp_cons != rp) {
            struct blkif_response rsp;
            enum rtv_blkif_rsp_verdict v;

            RING_COPY_RESPONSE(&q->ring, q->ring.rsp_cons, &rsp);
            q->ring.rsp_cons++;
            /* Check only the private copy. */
            xen_rmb();
            v = rtv_blkif_rsp_check(&rsp, q->nslots, q->inflight, q->sent_op, q->alt_op);
            if (v != RTV_BLKIF_RSP_OK) {
                front_fail(f, rtv_blkif_rsp_verdict_str(v));
                return done;
            }
            struct front_slot *s = &q->slots[rsp.id];
            int status = rsp.status == BLKIF_RSP_OKAY ? 0
                       : rsp.status == BLKIF_RSP_EOPNOTSUPP ? -EOPNOTSUPP : -EIO;

            if (status == 0 && s->req.op == RTV_FRONT_READ)
                memcpy(s->req.buf, s->data, s->req.len);
            q->inflight[rsp.id] = false;
            q->nr_inflight--;
            slot_release(f, s, false);
            done++;
            if (s->req.cb != NULL)
                s->req.cb(s->req.arg, status);
            if (f->failed || q->sring == NULL)
                return done;
        }
        RING_FINAL_CHECK_FOR_RESPONSES(&q->ring, more);
    } while (more);
    return done;
}

static unsigned session_inflight(const struct rtv_front *f)
{
    unsigned n = 0;

    for (unsigned qi = 0; qi < f->nq; qi++)
        n += f->q[qi].nr_inflight;
    return n;
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
            session_drop(f, true);
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
            be == XenbusStateUnknown || session_inflight(f) == 0) {
            session_drop(f, true);
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
            session_drop(f, true);
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
            queue_notify(f, &f->q[qi]);
        done += reap_queue(f, &f->q[qi]);
    }
    /* Requests that did not fit the ring at reconnect go out as slots free. */
    if (f->nr_requeue > 0 && f->fe_state == XenbusStateConnected && !f->failed &&
        !f->closing)
        resubmit_requeued(f);
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
    if (f->fe_state == XenbusStateClosing && !f->closing && session_inflight(f) == 0)
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

unsigned rtv_front_inflight(const struct rtv_front *f)
{
    unsigned n = f->nr_requeue;

    for (unsigned qi = 0; qi < f->nq; qi++)
        n += f->q[qi].nr_inflight;
    return n;
}

bool rtv_front_detached(const struct rtv_front *f)
{
    return f->detached;
}

bool rtv_front_failed(const struct rtv_front *f, const char **why)
{
    if (why != NULL)
        *why = f->why;
    return f->failed;
}

void rtv_front_get_info(const struct rtv_front *f, struct rtv_front_info *info)
{
    *info = f->info;
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
    session_drop(f, false);
    for (unsigned i = 0; i < f->nr_requeue; i++)
        if (f->requeue[i].cb != NULL)
            f->requeue[i].cb(f->requeue[i].arg, -EIO);
    free(f->requeue);
    if (f->watching)
        rtv_xs_unwatch(f->x->xs, f->be_state_path, "be");
    free(f);
    return rc;
}

/* ---- test hooks ------------------------------------------------------------------------ */

int rtv_front_test_push_raw(struct rtv_front *f, const struct blkif_request *req,
                            rtv_front_done_fn cb, void *arg)
{
    struct front_queue *q;
    unsigned slot;
    struct blkif_request copy = *req;

    if (f->failed || f->fe_state != XenbusStateConnected)
        return -EIO;
    q = pick_queue(f, &slot);
    if (q == NULL)
        return -EAGAIN;
    copy.id = slot;
    memset(&q->slots[slot].req, 0, sizeof(q->slots[slot].req));
    q->slots[slot].req.raw = true;
    q->slots[slot].req.cb = cb;
    q->slots[slot].req.arg = arg;
    q->slots[slot].req.op = RTV_FRONT_FLUSH;    /* nothing to copy back */
    *RING_GET_REQUEST(&q->ring, q->ring.req_prod_pvt) = copy;
    q->sent_op[slot] = copy.operation;
    q->alt_op[slot] = copy.operation == BLKIF_OP_INDIRECT
                    ? ((struct blkif_request_indirect *)&copy)->indirect_op
                    : copy.operation;
    q->inflight[slot] = true;
    q->nr_inflight++;
    q->ring.req_prod_pvt++;
    push(f, q);
    return 0;
}

void rtv_front_test_set_req_prod(struct rtv_front *f, uint32_t prod)
{
    struct front_queue *q = &f->q[0];

    if (q->sring == NULL)
        return;
    xen_wmb();
    q->ring.sring->req_prod = prod;
    f->x->evtchn->ops->notify(f->x->evtchn, q->port);
}

void rtv_front_test_plug(struct rtv_front *f, bool plugged)
{
    f->plugged = plugged;
    if (!plugged)
        for (unsigned qi = 0; qi < f->nq; qi++)
            if (f->q[qi].port_ok) {
                RING_PUSH_REQUESTS(&f->q[qi].ring);
                f->x->evtchn->ops->notify(f->x->evtchn, f->q[qi].port);
            }
}
