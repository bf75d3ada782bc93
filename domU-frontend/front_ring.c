/*
 * librtvirt-front's data path (front_priv.h; the API is rtvirt/front_blk.h).
 *
 * rtv_front_submit() takes a free shadow slot of a queue, shares the data
 * pages with the backend (once per slot with feature-persistent, per
 * request without), copies write data in, fills the ring request (an
 * indirect one when it needs more than 11 segments), pushes it and
 * notifies.  front_reap_queue() copies each response off the ring, fences,
 * checks it against the shadow (rtv_blkif_rsp_check), copies read data
 * out, releases the slot and calls the callback.  When the backend
 * restarts the handshake, front_xs.c drops the session here: the requests
 * in flight move to a requeue list (they keep their seq) and go out again
 * once the new session is Connected.
 */
#include "front_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtvirt/log.h"
#include "rtvirt/xs_util.h"

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
void front_session_drop(struct rtv_front *f, bool keep)
{
    for (unsigned qi = 0; qi < f->nq; qi++) {
        queue_take_inflight(f, &f->q[qi], keep);
        queue_free(f, &f->q[qi]);
    }
    f->nq = 0;
}

int front_queue_setup(struct rtv_front *f, struct front_queue *q, unsigned order)
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
int front_fit_budget(struct rtv_front *f, char *msg, size_t mlen)
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

static int submit_internal(struct rtv_front *f, const struct front_req *r);

/* Sends the requeue list (requests of an earlier session, in the caller's
 * submission order, like blkif_recover).  What does not fit the ring now
 * goes back on the list; poll_once() calls this again as completions free
 * slots, so nothing stays parked while the device is connected. */
void front_resubmit_requeued(struct rtv_front *f)
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

/* ---- failure ------------------------------------------------------------------------ */

void front_fail(struct rtv_front *f, const char *why)
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
        if (e == ENOSPC && !pool && front_session_inflight(f) > 0)
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
void front_queue_notify(struct rtv_front *f, struct front_queue *q)
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
        front_queue_notify(f, q);
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

int front_reap_queue(struct rtv_front *f, struct front_queue *q)
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

unsigned front_session_inflight(const struct rtv_front *f)
{
    unsigned n = 0;

    for (unsigned qi = 0; qi < f->nq; qi++)
        n += f->q[qi].nr_inflight;
    return n;
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
