/*
 * The switch component test's load (load_gen.h).  Completions arrive on
 * the guest kernel's thread (lg_bio_done) and are handed to the load's
 * thread through a small queue under a lock.
 */
#include "load_gen.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rtvirt/clock.h"
#include "rtvirt/log.h"

/* Most requests are one block; some span 16 or 64 (64 KiB, 256 KiB), which
 * the PV leg has to split when its ring carries less per request. */
#define LG_MAX_BLKS 64

struct lg_slot {
    struct fk_bio bio;
    bool     busy;
    int      status;
    uint32_t block, nblk;          /* blocks block .. block+nblk-1 */
    uint64_t gen;
    uint64_t sent_us;
    uint8_t  buf[LG_MAX_BLKS * LG_BLK];
};

#define LG_QD 16

struct lg {
    struct lg_config cfg;
    uint64_t       *expect;     /* generation each block holds; 0 = zeros */
    uint8_t        *busy;       /* one request per block at a time */
    uint64_t        next_gen;
    uint64_t        rng;
    struct lg_slot  slot[LG_QD];
    unsigned        inflight;
    /* completions, from the kernel's thread */
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    unsigned        done[LG_QD], ndone;
    struct lg_result res;
    uint32_t        lat[1u << 18];  /* latency samples (us), a ring */
    uint64_t        nlat;
    /* the thread */
    pthread_t       th;
    bool            started;
    int             stop_fd;
    atomic_bool     finished;
};

static void fill_block(uint8_t *b, uint32_t block, uint64_t gen)
{
    uint64_t s = (uint64_t)block * 0x9E3779B97F4A7C15ull + gen + 1;

    if (gen == 0) {
        memset(b, 0, LG_BLK);
        return;
    }
    for (unsigned i = 0; i < LG_BLK; i += 8) {
        uint64_t v = lg_xorshift(&s);
        memcpy(b + i, &v, 8);
    }
    memcpy(b, &block, 4);
    memcpy(b + 8, &gen, 8);
}

/* The first failure is the one reported. */
#define lg_fail(g, ...) \
    do { \
        if (!(g)->res.first_error[0]) \
            rtv_notef((g)->res.first_error, sizeof((g)->res.first_error), __VA_ARGS__); \
    } while (0)

static struct lg *the_lg;

/* On the kernel's thread: queue the slot for lg_reap. */
static void lg_bio_done(struct fk_bio *b, int status)
{
    struct lg_slot *s = b->priv;
    struct lg *g = the_lg;

    pthread_mutex_lock(&g->mu);
    s->status = status;
    g->done[g->ndone++] = (unsigned)(s - g->slot);
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void lg_send(struct lg *g, unsigned si, enum fk_op op, uint32_t block, uint32_t nblk)
{
    struct lg_slot *s = &g->slot[si];

    s->busy = true;
    s->block = block;
    s->nblk = op == FK_FLUSH ? 0 : nblk;
    s->sent_us = rtv_now_us();
    if (op == FK_WRITE) {
        s->gen = ++g->next_gen;
        for (uint32_t i = 0; i < nblk; i++)
            fill_block(s->buf + i * LG_BLK, block + i, s->gen);
    }
    for (uint32_t i = 0; i < s->nblk; i++)
        g->busy[block + i] = 1;
    g->inflight++;
    s->bio = (struct fk_bio){ .op = op, .sector = (uint64_t)block * (LG_BLK / 512),
                              .len = s->nblk * LG_BLK, .buf = s->buf, .done = lg_bio_done,
                              .priv = s };
    fake_kernel_submit(g->cfg.k, &s->bio);
}

/* Waits for one completion and checks it against the model. */
static int lg_reap(struct lg *g)
{
    uint8_t want[LG_BLK];
    struct timespec ts;
    unsigned si;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += g->cfg.stall_ms / 1000;
    pthread_mutex_lock(&g->mu);
    while (g->ndone == 0)
        if (pthread_cond_timedwait(&g->cv, &g->mu, &ts) == ETIMEDOUT) {
            pthread_mutex_unlock(&g->mu);
            lg_fail(g, "the device held %u bios for %u s", g->inflight, g->cfg.stall_ms / 1000);
            return -1;
        }
    si = g->done[0];
    memmove(g->done, g->done + 1, --g->ndone * sizeof(g->done[0]));
    pthread_mutex_unlock(&g->mu);

    struct lg_slot *s = &g->slot[si];
    uint64_t lat = rtv_now_us() - s->sent_us;

    if (lat > g->res.max_latency_us)
        g->res.max_latency_us = lat;
    g->lat[g->nlat++ % (sizeof(g->lat) / sizeof(g->lat[0]))] = (uint32_t)lat;
    s->busy = false;
    g->inflight--;
    for (uint32_t i = 0; i < s->nblk; i++)
        g->busy[s->block + i] = 0;
    if (s->status != 0) {
        g->res.errors++;
        lg_fail(g, "bio op %u block %u failed: %s", s->bio.op, s->block, strerror(-s->status));
        return 0;
    }
    switch (s->bio.op) {
    case FK_WRITE:
        for (uint32_t i = 0; i < s->nblk; i++)
            g->expect[s->block + i] = s->gen;
        g->res.writes++;
        break;
    case FK_DISCARD:
        for (uint32_t i = 0; i < s->nblk; i++)
            g->expect[s->block + i] = 0;
        g->res.trims++;
        break;
    case FK_FLUSH:
        g->res.flushes++;
        break;
    case FK_READ:
        g->res.reads++;
        for (uint32_t i = 0; i < s->nblk; i++) {
            uint32_t b = s->block + i;

            fill_block(want, b, g->expect[b]);
            if (memcmp(want, s->buf + i * LG_BLK, LG_BLK) != 0) {
                uint64_t got_gen;
                memcpy(&got_gen, s->buf + i * LG_BLK + 8, 8);
                g->res.mismatches++;
                lg_fail(g, "block %u: read generation %" PRIu64 ", acknowledged %" PRIu64,
                        b, got_gen, g->expect[b]);
            }
        }
        break;
    }
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t median_u32(uint32_t *v, uint64_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), cmp_u32);
    return v[n / 2];
}

static int lg_free_slot(struct lg *g)
{
    for (unsigned i = 0; i < LG_QD; i++)
        if (!g->slot[i].busy)
            return (int)i;
    return -1;
}

/* Runs random I/O until stop_fd is readable, then reads everything back
 * through the device and straight from the image file. */
static void lg_run(struct lg *g, int stop_fd)
{
    for (;;) {
        struct pollfd p = { .fd = stop_fd, .events = POLLIN };
        if (poll(&p, 1, 0) > 0)
            break;
        while (g->inflight < LG_QD) {
            int si = lg_free_slot(g);
            uint64_t r = lg_xorshift(&g->rng);
            unsigned pick = (unsigned)(r % 100), size = (unsigned)((r >> 40) % 100);
            uint32_t nblk = size < 90 ? 1 : size < 97 ? 16 : LG_MAX_BLKS;
            uint32_t block = (uint32_t)((r >> 8) % (g->cfg.nblocks - nblk + 1));
            enum fk_op op = pick < 55 ? FK_WRITE : pick < 90 ? FK_READ
                          : pick < 95 ? FK_DISCARD : FK_FLUSH;
            bool clash = false;

            for (uint32_t i = 0; op != FK_FLUSH && i < nblk && !clash; i++)
                clash = g->busy[block + i];
            if (clash)
                continue;   /* never two requests on one block at once */
            lg_send(g, (unsigned)si, op, block, nblk);
        }
        if (lg_reap(g) < 0)
            return;
    }
    while (g->inflight > 0)
        if (lg_reap(g) < 0)
            return;
    g->res.median_latency_us = median_u32(g->lat, g->nlat < sizeof(g->lat) / sizeof(g->lat[0])
                                                  ? g->nlat : sizeof(g->lat) / sizeof(g->lat[0]));
    /* Every acknowledged write reads back through the device... */
    for (uint32_t b = 0; b < g->cfg.nblocks;) {
        while (g->inflight < LG_QD && b < g->cfg.nblocks)
            lg_send(g, (unsigned)lg_free_slot(g), FK_READ, b++, 1);
        if (lg_reap(g) < 0)
            return;
    }
    while (g->inflight > 0)
        if (lg_reap(g) < 0)
            return;
    lg_send(g, 0, FK_FLUSH, 0, 0);
    if (lg_reap(g) < 0)
        return;
    g->res.verified_blocks = g->cfg.nblocks;
    /* ...and is in the image itself, whichever leg wrote it. */
    int ifd = open(g->cfg.image, O_RDONLY);
    uint8_t want[LG_BLK], got[LG_BLK];
    for (uint32_t b = 0; ifd >= 0 && b < g->cfg.nblocks; b++) {
        fill_block(want, b, g->expect[b]);
        if (pread(ifd, got, LG_BLK, (off_t)b * LG_BLK) != LG_BLK || memcmp(want, got, LG_BLK) != 0) {
            g->res.image_mismatches++;
            lg_fail(g, "image block %u does not hold generation %" PRIu64, b, g->expect[b]);
        }
    }
    if (ifd >= 0)
        close(ifd);
}

static void *lg_main(void *arg)
{
    struct lg *g = arg;

    lg_run(g, g->stop_fd);
    atomic_store(&g->finished, true);
    return NULL;
}

struct lg *lg_new(const struct lg_config *cfg)
{
    struct lg *g;

    if (the_lg != NULL || (g = calloc(1, sizeof(*g))) == NULL)
        return NULL;
    g->cfg = *cfg;
    g->rng = cfg->seed | 1;
    g->expect = calloc(cfg->nblocks, sizeof(*g->expect));
    g->busy = calloc(cfg->nblocks, 1);
    if (g->expect == NULL || g->busy == NULL) {
        lg_free(g);
        return NULL;
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    atomic_init(&g->finished, false);
    the_lg = g;
    return g;
}

int lg_start(struct lg *g, int stop_fd)
{
    int rc;

    g->stop_fd = stop_fd;
    if ((rc = pthread_create(&g->th, NULL, lg_main, g)) != 0)
        return -rc;
    g->started = true;
    return 0;
}

bool lg_finished(struct lg *g)
{
    return atomic_load(&g->finished);
}

void lg_join(struct lg *g, struct lg_result *res)
{
    if (g->started)
        pthread_join(g->th, NULL);
    g->started = false;
    *res = g->res;
}

void lg_free(struct lg *g)
{
    if (g == NULL)
        return;
    if (the_lg == g)
        the_lg = NULL;
    free(g->expect);
    free(g->busy);
    free(g);
}
