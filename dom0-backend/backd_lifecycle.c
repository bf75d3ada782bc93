/*
 * rtvirt-backd engine lifecycle: the configuration's defaults, making the
 * engine (io_uring, its eventfd, the watch on backend/vbd3), stopping and
 * freeing it, and the counters tests and logs read.  The loop that runs it
 * is backd_loop.c.
 */
#include "backd_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "rtvirt/xs_util.h"

void backd_config_default(struct backd_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_ring_page_order = BLKIF_XS_MAX_RING_ORDER;
    cfg->max_queues = 4;
    cfg->max_indirect_segs = 256;
    cfg->persistent = true;
    cfg->discard = true;
    cfg->barrier = true;
    cfg->max_persistent_grants = 1056;   /* Linux blkback's default */
}

struct backd *backd_new(struct rtv_xen *x, const struct backd_config *cfg)
{
    struct backd *b = calloc(1, sizeof(*b));
    int rc;

    if (b == NULL)
        return NULL;
    if (cfg->fail_rings && cfg->state_dir == NULL) {
        free(b);             /* the rings to answer are found in the journals */
        errno = EINVAL;
        return NULL;
    }
    b->x = x;
    b->cfg = *cfg;
    if (b->cfg.max_queues == 0 || b->cfg.max_queues > BLKIF_XS_MAX_QUEUES)
        b->cfg.max_queues = BLKIF_XS_MAX_QUEUES;
    if (b->cfg.max_ring_page_order > BLKIF_XS_MAX_RING_ORDER)
        b->cfg.max_ring_page_order = BLKIF_XS_MAX_RING_ORDER;
    if (b->cfg.max_indirect_segs > RTV_BLKIF_MAX_INDIRECT_SEGS)
        b->cfg.max_indirect_segs = RTV_BLKIF_MAX_INDIRECT_SEGS;
    if (b->cfg.max_persistent_grants == 0)
        b->cfg.persistent = false;
    snprintf(b->root, sizeof(b->root), BLKIF_XS_BE_ROOT_FMT, x->self);

    rc = io_uring_queue_init(1024, &b->uring, 0);
    if (rc < 0) {
        free(b);
        errno = -rc;
        return NULL;
    }
    b->uring_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (b->uring_efd < 0 || io_uring_register_eventfd(&b->uring, b->uring_efd) < 0) {
        int e = errno;

        if (b->uring_efd >= 0)
            close(b->uring_efd);
        io_uring_queue_exit(&b->uring);
        free(b);
        errno = e ? e : EIO;
        return NULL;
    }
    rc = rtv_xs_watch(x->xs, b->root, "root");
    if (rc < 0) {
        close(b->uring_efd);
        io_uring_queue_exit(&b->uring);
        free(b);
        errno = -rc;
        return NULL;
    }
    return b;
}

void backd_free(struct backd *b)
{
    if (b == NULL)
        return;
    b->stopping = true;
    /* Let running I/O finish before the pages it targets are unmapped. */
    for (int tries = 0; tries < 1000; tries++) {
        unsigned n = 0;

        for (struct backd_dev *d = b->devs; d != NULL; d = d->next)
            n += backd_dev_inflight(d);
        if (n == 0)
            break;
        /* What a failed submission left in the ring goes now; bounded
         * waits, so a kernel that keeps refusing cannot hang the stop. */
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = BACKD_RETRY_MS * 1000000L };
        backd_submit(b);
        if (io_uring_wait_cqe_timeout(&b->uring, &cqe, &ts) == 0) {
            backd_handle_completions(b);
            backd_dev_update_drained(b);
        }
    }
    while (b->devs != NULL)
        backd_dev_free(b->devs);
    rtv_xs_unwatch(b->x->xs, b->root, "root");
    io_uring_queue_exit(&b->uring);
    close(b->uring_efd);
    free(b);
}

/* Async-signal-safe, and it sticks: a stop asked before backd_run() (a
 * SIGTERM during start-up) ends the loop at once, and one landing between
 * the loop's check and its poll() wakes that poll() through io_uring's
 * eventfd (the completion handler reads it and finds nothing) instead of
 * waiting for the next event, which may never come. */
void backd_stop(struct backd *b)
{
    uint64_t one = 1;

    b->stop = true;
    ssize_t r = write(b->uring_efd, &one, sizeof(one));   /* an open eventfd takes it */
    (void)r;
}

void backd_get_stats(const struct backd *b, struct backd_stats *st)
{
    *st = b->st;
    st->inflight = st->gone = 0;
    for (const struct backd_dev *d = b->devs; d != NULL; d = d->next) {
        st->inflight += backd_dev_inflight(d);
        st->gone += d->gone;
    }
}

unsigned backd_open_devices(const struct backd *b)
{
    unsigned n = !b->scanned || b->scan_retry_at != 0;   /* not listed yet */

    for (const struct backd_dev *d = b->devs; d != NULL; d = d->next)
        n += d->be_state != XenbusStateClosed;
    return n;
}

void backd_attach_switch(struct backd *b, struct backd_switch *sw)
{
    b->sw = sw;
}
