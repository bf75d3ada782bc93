/*
 * Load generator (see front_bench.h): keeps `depth` requests in flight and
 * resubmits from the completion path until the time is up, then drains.
 */
#include "front_bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rtvirt/clock.h"

struct bslot {
    struct bctx *ctx;
    uint8_t *buf;
    bool busy;
};

struct bctx {
    struct rtv_front *f;
    const struct front_bench_opts *o;
    struct front_bench_result *r;
    uint64_t region, next, rng;
    unsigned inflight;
    bool stop;
    int err;
};

static uint64_t rnd(struct bctx *c)
{
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return c->rng * 2685821657736338717ull;
}

static void bench_done(void *arg, int status);

static int issue(struct bslot *s)
{
    struct bctx *c = s->ctx;
    uint64_t nsect = c->o->block_bytes / 512, sector;
    enum rtv_front_op op = RTV_FRONT_READ;

    if (c->o->pattern == FRONT_BENCH_SEQ_READ) {
        if (c->next + nsect > c->region)
            c->next = 0;
        sector = c->next;
        c->next += nsect;
    } else {
        sector = (rnd(c) % (c->region / nsect)) * nsect;
        if (rnd(c) & 1)
            op = RTV_FRONT_WRITE;
    }
    int rc = rtv_front_submit(c->f, op, sector, s->buf, c->o->block_bytes, bench_done, s);
    if (rc == 0) {
        s->busy = true;
        c->inflight++;
    }
    return rc;
}

static void bench_done(void *arg, int status)
{
    struct bslot *s = arg;
    struct bctx *c = s->ctx;

    s->busy = false;
    c->inflight--;
    c->r->ios++;
    c->r->bytes += c->o->block_bytes;
    if (status != 0)
        c->r->errors++;
    if (!c->stop && issue(s) < 0)
        c->err = -EIO;
}

int front_bench_run(struct rtv_front *f, const struct front_bench_opts *o,
                    struct front_bench_result *r)
{
    struct rtv_front_info info;
    struct bctx c = { .f = f, .o = o, .r = r, .rng = o->seed ? o->seed : 42 };
    struct bslot *slots;
    double start, end;
    int rc = 0;

    memset(r, 0, sizeof(*r));
    rtv_front_get_info(f, &info);
    if (o->block_bytes == 0 || o->block_bytes % 512 || o->block_bytes > info.max_request_bytes ||
        o->depth == 0 || (o->pattern == FRONT_BENCH_RAND_RW && info.read_only))
        return -EINVAL;
    c.region = o->region_sectors && o->region_sectors < info.sectors ? o->region_sectors
                                                                    : info.sectors;
    if (c.region < o->block_bytes / 512)
        return -EINVAL;
    slots = calloc(o->depth, sizeof(*slots));
    if (slots == NULL)
        return -ENOMEM;
    for (unsigned i = 0; i < o->depth; i++) {
        slots[i].ctx = &c;
        slots[i].buf = aligned_alloc(4096, (o->block_bytes + 4095) & ~4095u);
        if (slots[i].buf == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        memset(slots[i].buf, (int)i, o->block_bytes);
    }
    start = ((double)rtv_now_us() / 1e6);
    end = start + o->seconds;
    for (unsigned i = 0; i < o->depth; i++) {
        rc = issue(&slots[i]);
        if (rc == -EAGAIN) {       /* ring smaller than depth: fine */
            rc = 0;
            break;
        }
        if (rc < 0)
            goto drain;
    }
    while (((double)rtv_now_us() / 1e6) < end && c.err == 0) {
        rc = rtv_front_poll(f, 50);
        if (rc < 0)
            break;
        rc = 0;
        /* Slots that could not be resubmitted (ring full) retry here. */
        for (unsigned i = 0; i < o->depth && c.err == 0; i++)
            if (!slots[i].busy && issue(&slots[i]) < 0 && c.inflight == 0)
                c.err = -EIO;
    }
drain:
    c.stop = true;
    for (int t = 0; t < 200 && c.inflight > 0; t++)
        rtv_front_poll(f, 50);
    r->seconds = ((double)rtv_now_us() / 1e6) - start;
    if (rc == 0)
        rc = c.err;
out:
    /* A request still in flight would complete into these buffers. */
    if (c.inflight == 0) {
        for (unsigned i = 0; i < o->depth; i++)
            free(slots[i].buf);
        free(slots);
    }
    return rc;
}
