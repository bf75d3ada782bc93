/*
 * Verify workload (see front_verify.h).
 *
 * Model: tag[s] for each sector s of the region: 0 = unknown (never written
 * by us), ZERO_TAG = discarded (zeros if discard_zeroes), otherwise the
 * generation of the last completed write.  A sector written with generation
 * g holds 64 words w[i] = (s << 32 | g) ^ (i * 0x9E3779B97F4A7C15).  Requests
 * in flight never overlap, so the model is exact.
 */
#include "front_verify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rtvirt/clock.h"

#define ZERO_TAG 0xFFFFFFFFu
#define SECT 512u

struct vreq {
    struct vctx *ctx;
    bool     busy;
    enum rtv_front_op op;
    uint64_t sector, nsect;
    uint32_t gen;
    uint8_t *buf;
    int      status;
    bool     done;
};

struct vctx {
    struct rtv_front *f;
    const struct front_verify_opts *o;
    struct front_verify_result *res;
    uint32_t *tag;
    uint64_t region;
    uint64_t rng;
    uint32_t gen;
    struct front_verify_result spare;  /* target once the caller's is gone */
    struct vreq *reqs;
    unsigned nreq, inflight;
    unsigned long long completed;
};

static uint64_t rnd(struct vctx *v)
{
    /* xorshift64*: fixed seed, reproducible runs. */
    v->rng ^= v->rng >> 12;
    v->rng ^= v->rng << 25;
    v->rng ^= v->rng >> 27;
    return v->rng * 2685821657736338717ull;
}

static void fill_sector(uint8_t *p, uint64_t s, uint32_t gen)
{
    uint64_t *w = (uint64_t *)p;

    for (unsigned i = 0; i < SECT / 8; i++)
        w[i] = ((s << 32) | gen) ^ (i * 0x9E3779B97F4A7C15ull);
}

static void note_error(struct vctx *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note_error(struct vctx *v, const char *fmt, ...)
{
    va_list ap;

    if (v->res->first_error[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(v->res->first_error, sizeof(v->res->first_error), fmt, ap);
    va_end(ap);
}

static void check_read(struct vctx *v, struct vreq *r)
{
    uint8_t expect[SECT];

    for (uint64_t i = 0; i < r->nsect; i++) {
        uint64_t s = r->sector + i;
        uint32_t t = v->tag[s];
        const uint8_t *got = r->buf + i * SECT;

        if (t == 0)
            continue;
        if (t == ZERO_TAG) {
            if (!v->o->discard_zeroes)
                continue;
            memset(expect, 0, SECT);
        } else {
            fill_sector(expect, s, t);
        }
        if (memcmp(expect, got, SECT) != 0) {
            v->res->mismatches++;
            note_error(v, "sector %llu: data does not match generation %u",
                       (unsigned long long)s, t);
        }
    }
}

static void done_cb(void *arg, int status)
{
    struct vreq *r = arg;
    struct vctx *v = r->ctx;

    r->status = status;
    r->done = true;
    v->inflight--;
    v->completed++;
    if (status != 0) {
        v->res->io_errors++;
        note_error(v, "op %d at sector %llu (+%llu): status %d", r->op,
                   (unsigned long long)r->sector, (unsigned long long)r->nsect, status);
    } else {
        switch (r->op) {
        case RTV_FRONT_READ:
            check_read(v, r);
            break;
        case RTV_FRONT_WRITE:
        case RTV_FRONT_WRITE_FLUSH:
        case RTV_FRONT_WRITE_BARRIER:
            for (uint64_t i = 0; i < r->nsect; i++)
                v->tag[r->sector + i] = r->gen;
            break;
        case RTV_FRONT_DISCARD:
            for (uint64_t i = 0; i < r->nsect; i++)
                v->tag[r->sector + i] = ZERO_TAG;
            break;
        default:
            break;
        }
    }
    r->busy = false;
}

static bool overlaps(struct vctx *v, uint64_t s, uint64_t n)
{
    for (unsigned i = 0; i < v->nreq; i++) {
        struct vreq *r = &v->reqs[i];

        if (r->busy && r->nsect > 0 && s < r->sector + r->nsect && r->sector < s + n)
            return true;
    }
    return false;
}

/* Polls until fewer than `limit` requests are in flight; -ETIMEDOUT on a stall. */
static int wait_below(struct vctx *v, unsigned limit)
{
    int stall = v->o->stall_timeout_ms > 0 ? v->o->stall_timeout_ms : 30000;
    uint64_t last = rtv_now_ms();
    unsigned long long seen = v->completed;

    while (v->inflight >= limit && v->inflight > 0) {
        int rc = rtv_front_poll(v->f, 100);

        if (rc < 0)
            return rc;
        if (v->completed != seen) {
            seen = v->completed;
            last = rtv_now_ms();
        } else if (rtv_now_ms() - last > (uint64_t)stall) {
            note_error(v, "no completion for %d ms with %u in flight", stall, v->inflight);
            return -ETIMEDOUT;
        }
    }
    return 0;
}

static int submit(struct vctx *v, struct vreq *r)
{
    int stall = v->o->stall_timeout_ms > 0 ? v->o->stall_timeout_ms : 30000;
    const uint64_t start = rtv_now_ms();

    for (;;) {
        int rc = rtv_front_submit(v->f, r->op, r->sector, r->op == RTV_FRONT_DISCARD ? NULL : r->buf,
                                  r->nsect * SECT, done_cb, r);
        if (rc == 0) {
            v->inflight++;
            return 0;
        }
        if (rc != -EAGAIN)
            return rc;
        if (rtv_now_ms() - start > (uint64_t)stall)
            return -ETIMEDOUT;
        rc = rtv_front_poll(v->f, 100);
        if (rc < 0)
            return rc;
    }
}

int front_verify_run(struct rtv_front *f, const struct front_verify_opts *o,
                     struct front_verify_result *res)
{
    struct rtv_front_info info;
    struct vctx *vp = calloc(1, sizeof(*vp));
    unsigned maxin = o->max_inflight ? o->max_inflight : 16;
    int rc = 0;

    memset(res, 0, sizeof(*res));
    if (vp == NULL)
        return -ENOMEM;
#define v (*vp)
    rtv_front_get_info(f, &info);
    v.f = f;
    v.o = o;
    v.res = res;
    v.rng = o->seed ? o->seed : 0x5eed;
    v.region = o->region_sectors ? o->region_sectors : 16384;
    if (v.region > info.sectors)
        v.region = info.sectors;
    if (v.region < 8) {
        note_error(&v, "disk too small (%llu sectors)", (unsigned long long)info.sectors);
        free(vp);
        return -EINVAL;
    }
    v.tag = calloc(v.region, sizeof(*v.tag));
    v.nreq = maxin;
    v.reqs = calloc(v.nreq, sizeof(*v.reqs));
    if (v.tag == NULL || v.reqs == NULL) {
        free(v.tag);
        free(v.reqs);
        free(vp);
        return -ENOMEM;
    }
    uint64_t max_sect = info.max_request_bytes / SECT;
    for (unsigned i = 0; i < v.nreq; i++) {
        vp->reqs[i].ctx = vp;
        v.reqs[i].buf = aligned_alloc(4096, info.max_request_bytes);
        if (v.reqs[i].buf == NULL)
            rc = -ENOMEM;
    }

    for (unsigned long long n = 0; rc == 0 && n < o->ops; n++) {
        struct vreq *r = NULL;

        rc = wait_below(&v, maxin);
        if (rc < 0)
            break;
        for (unsigned i = 0; i < v.nreq; i++)
            if (!v.reqs[i].busy) {
                r = &v.reqs[i];
                break;
            }
        if (r == NULL) {
            rc = -EPROTO;    /* inflight accounting broken */
            break;
        }
        unsigned pick = (unsigned)(rnd(&v) % 100);
        uint64_t len;

        if (pick < 4 && (info.flush || info.barrier)) {
            r->op = RTV_FRONT_FLUSH;
            r->sector = 0;
            r->nsect = 0;
        } else {
            if (o->big_requests && rnd(&v) % 2)
                len = max_sect / 2 + rnd(&v) % (max_sect / 2 + 1);
            else
                len = 1 + rnd(&v) % (max_sect < 64 ? max_sect : 64);
            if (len > v.region)
                len = v.region;
            uint64_t s;
            int tries = 0;

            do {
                s = rnd(&v) % (v.region - len + 1);
                if (rnd(&v) % 2)
                    s &= ~7ull;     /* page aligned half the time */
            } while (overlaps(&v, s, len) && ++tries < 64);
            if (tries >= 64) {      /* crowded: wait for one to finish */
                rc = wait_below(&v, v.inflight);
                n--;
                continue;
            }
            r->sector = s;
            r->nsect = len;
            if (pick < 8 && info.discard && !info.read_only) {
                r->op = RTV_FRONT_DISCARD;
            } else if (pick < 50 || info.read_only) {
                r->op = RTV_FRONT_READ;
            } else {
                r->op = RTV_FRONT_WRITE;
                if (pick < 54 && info.flush)
                    r->op = RTV_FRONT_WRITE_FLUSH;
                else if (pick < 57 && info.barrier)
                    r->op = RTV_FRONT_WRITE_BARRIER;
                r->gen = ++v.gen;
                if (r->gen == ZERO_TAG)
                    r->gen = ++v.gen;
                for (uint64_t i = 0; i < len; i++)
                    fill_sector(r->buf + i * SECT, s + i, r->gen);
            }
        }
        r->busy = true;
        r->done = false;
        rc = submit(&v, r);
        if (rc < 0) {
            r->busy = false;
            note_error(&v, "submit failed: %s", strerror(-rc));
            break;
        }
        switch (r->op) {
        case RTV_FRONT_READ: res->reads++; res->bytes += r->nsect * SECT; break;
        case RTV_FRONT_FLUSH: res->flushes++; break;
        case RTV_FRONT_DISCARD: res->discards++; break;
        default: res->writes++; res->bytes += r->nsect * SECT; break;
        }
        if (o->on_submit != NULL)
            o->on_submit(o->hook_arg, n + 1);
    }
    if (rc == 0)
        rc = wait_below(&v, 1);

    /* Final pass: read the whole region back. */
    for (uint64_t s = 0; rc == 0 && s < v.region;) {
        struct vreq *r = &v.reqs[0];
        uint64_t len = v.region - s < max_sect ? v.region - s : max_sect;

        r->op = RTV_FRONT_READ;
        r->sector = s;
        r->nsect = len;
        r->busy = true;
        rc = submit(&v, r);
        if (rc == 0)
            rc = wait_below(&v, 1);
        s += len;
    }
    if (rc == 0 && (res->mismatches || res->io_errors))
        rc = -EIO;
    if (rc < 0 && res->first_error[0] == '\0')
        note_error(&v, "%s", strerror(-rc));
    /* Requests still in flight (after an error) may complete later, into
     * these buffers and this context: leave them allocated then. */
    if (v.inflight == 0) {
        for (unsigned i = 0; i < v.nreq; i++)
            free(v.reqs[i].buf);
        free(v.reqs);
        free(v.tag);
        free(vp);
    } else {
        vp->res = &vp->spare;
    }
    return rc;
#undef v
}
