/*
 * rtvirt-backd event loop: one poll() over the store's watch fd, the event
 * channels, io_uring's eventfd and, with a switch attached, its watch fds;
 * the retries the store or io_uring made us owe.  Single-threaded: every
 * handler runs from here (backd.h, "Threading").
 */
#include "backd_priv.h"
#include "backd_switch.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "rtvirt/clock.h"
#include "rtvirt/xs_util.h"

/* The earliest retry due (0: none). */
static uint64_t retry_due(const struct backd *b)
{
    uint64_t due = b->scan_retry_at;

    for (const struct backd_dev *d = b->devs; d != NULL; d = d->next)
        if (d->retry_at != 0 && (due == 0 || d->retry_at < due))
            due = d->retry_at;
    return due;
}

static void run_retries(struct backd *b, uint64_t now)
{
    if (b->scan_retry_at != 0 && now >= b->scan_retry_at) {
        backd_scan(b);          /* updates every device */
        return;
    }
    for (struct backd_dev *d = b->devs, *next; d != NULL; d = next) {
        next = d->next;
        if (d->retry_at != 0 && now >= d->retry_at)
            backd_dev_update(d);    /* may free d */
    }
}

/* Requests in flight on every device (the loop's bound on a lost wake). */
static unsigned inflight_all(const struct backd *b)
{
    unsigned n = 0;

    for (const struct backd_dev *d = b->devs; d != NULL; d = d->next)
        n += backd_dev_inflight(d);
    return n;
}

/*
 * io_uring's eventfd rings only while the loop sleeps in poll().  Buffered
 * I/O the page cache serves completes inside io_uring_submit(), so while
 * the loop is awake it answers those straight from the CQ ring at the end
 * of the pass (reap_inline) instead of sleeping, waking for the eventfd and
 * reading it: two system calls fewer per batch of requests, which a PV
 * dom0 pays through the hypervisor, and the responses go out a poll()
 * sooner.  Turning it off and on is a flag in the shared CQ ring
 * (IORING_CQ_EVENTFD_DISABLED, Linux 5.8); a kernel without it keeps it on.
 * A completion posted just as it is turned on is seen by the check after
 * it (uring_sleep_wait); should the kernel ever miss one there, the loop
 * never sleeps longer than BACKD_RETRY_MS while requests are in flight.
 */
static int uring_sleep_wait(struct backd *b, int wait)
{
    io_uring_cq_eventfd_toggle(&b->uring, true);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);   /* the flag's store before the tail's load */
    if (io_uring_cq_ready(&b->uring))
        return 0;
    if (inflight_all(b) > 0 && (wait < 0 || wait > BACKD_RETRY_MS))
        return BACKD_RETRY_MS;
    return wait;
}

/* At most this many reaps a pass: the store and the event channels get
 * their turn even while every submission completes inline. */
#define BACKD_REAP_ROUNDS 8

static void reap_inline(struct backd *b)
{
    for (int i = 0; i < BACKD_REAP_ROUNDS && io_uring_cq_ready(&b->uring); i++) {
        b->st.completions_awake += backd_reap_completions(b);
        backd_dev_update_drained(b);
    }
}

/*
 * One poll() over the store's watch fd, the event channels, io_uring's
 * eventfd and, with a switch attached, its two watch fds.  The switch is
 * polled whenever one of its fds is readable, after every rescan (the
 * engine may just have published the state a bring-up or tear-down waits
 * for) and at least every BACKD_SWITCH_TICK_MS (its bounds), so poll()
 * never sleeps longer than that while it is attached.
 */
int backd_run(struct backd *b, int timeout_ms)
{
    struct rtv_store *xs = b->x->xs;
    struct rtv_evtchn *e = b->x->evtchn;
    struct pollfd pfd[3 + BACKD_SWITCH_FDS];
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : rtv_now_ms() + (uint64_t)timeout_ms;
    uint64_t sw_next = 0;

    while (!b->stop) {
        uint64_t now = rtv_now_ms();
        int wait = -1, swfds[BACKD_SWITCH_FDS];
        unsigned nfds = 3;
        bool sw_due = false;

        if (now >= deadline)
            break;
        if (deadline != UINT64_MAX)
            wait = (int)(deadline - now);
        if (b->sw != NULL) {
            int tick = now >= sw_next ? 0 : (int)(sw_next - now);

            if (wait < 0 || tick < wait)
                wait = tick;
        }
        uint64_t due = retry_due(b);
        if (b->submit_owed && (due == 0 || due > now + BACKD_RETRY_MS))
            due = now + BACKD_RETRY_MS;
        if (due != 0) {
            int left = due > now ? (int)(due - now) : 0;

            if (wait < 0 || left < wait)
                wait = left;
        }
        pfd[0] = (struct pollfd){ .fd = rtv_xs_watch_fd(xs), .events = POLLIN };
        pfd[1] = (struct pollfd){ .fd = e->ops->fd(e), .events = POLLIN };
        pfd[2] = (struct pollfd){ .fd = b->uring_efd, .events = POLLIN };
        if (b->sw != NULL) {
            unsigned k = backd_switch_fds(b->sw, swfds);
            for (unsigned i = 0; i < k; i++)
                pfd[nfds + i] = (struct pollfd){ .fd = swfds[i], .events = POLLIN };
            nfds += k;
        }
        int n = poll(pfd, nfds, uring_sleep_wait(b, wait));

        io_uring_cq_eventfd_toggle(&b->uring, false);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (pfd[2].revents & POLLIN) {
            backd_handle_completions(b);
            backd_dev_update_drained(b);   /* a deferred disconnect may proceed */
        }
        if (pfd[1].revents & POLLIN)
            backd_handle_evtchn(b);
        if (pfd[0].revents & POLLIN) {
            char *path, *token;
            bool any = false;

            while (rtv_xs_read_watch(xs, &path, &token) == 0) {
                free(path);
                free(token);
                any = true;
            }
            if (any) {
                backd_scan(b);
                sw_due = true;
            }
        }
        run_retries(b, rtv_now_ms());
        if (b->submit_owed)
            backd_submit(b);
        reap_inline(b);
        if (b->sw != NULL) {
            now = rtv_now_ms();
            for (unsigned i = 3; i < nfds; i++)
                sw_due = sw_due || (pfd[i].revents & POLLIN);
            if (sw_due || now >= sw_next) {
                backd_switch_poll(b->sw, now);
                sw_next = now + BACKD_SWITCH_TICK_MS;
            }
        }
    }
    io_uring_cq_eventfd_toggle(&b->uring, true);   /* as backd_new() left it */
    return 0;
}
