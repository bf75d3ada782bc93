/*
 * rtvirt-backd engine: one event loop serving every vbd backend directory
 * under /local/domain/<self>/backend/vbd3 (BLKIF_XS_BTYPE: the kernel's
 * xen-blkback keeps backend/vbd), for any number of domains.
 *
 * Threading: single-threaded.  One poll() loop waits on the store's watch
 * fd, the event-channel fd and an eventfd io_uring signals on completion.
 * Nothing blocks on a peer: a request is copied off its ring, validated by
 * common/blkif_req.c, its grants mapped, and its I/O submitted to io_uring;
 * the response goes out when the completion arrives.
 *
 * I/O path of one request:
 *   ring slot --RING_COPY_REQUEST--> private copy --rtv_blkif_parse--> req
 *   --map grants (persistent cache or one-shot)--> iovecs
 *   --io_uring readv/writev (+ fsync links for flush/FUA, fallocate for
 *   discard)--> completion --> response on the ring --> notify.
 *
 * A broken frontend costs only its own device: bad requests get
 * BLKIF_RSP_ERROR, a producer overflow halts that queue, failures to map a
 * ring put that device into Closing with hotplug-error set.
 */
#ifndef RTVIRT_BACKD_H
#define RTVIRT_BACKD_H

#include <stdbool.h>
#include <stdint.h>

#include "rtvirt/seam.h"

struct backd;
struct backd_switch;

struct backd_config {
    unsigned max_ring_page_order;   /* advertised max-ring-page-order (<= 4) */
    unsigned max_queues;            /* advertised multi-queue-max-queues (>= 1) */
    unsigned max_indirect_segs;     /* 0: do not advertise indirect */
    bool     persistent;            /* advertise feature-persistent */
    bool     discard;               /* advertise feature-discard */
    bool     barrier;               /* advertise feature-barrier */
    unsigned max_persistent_grants; /* per device */
    /* Where the ring journals live (a tmpfs directory that outlives the
     * process); NULL: none, and a restarted daemon cannot take over the
     * rings its predecessor served (backd_journal.h). */
    const char *state_dir;
    /* rtvirt-backd --orphans close: the daemon that served these vbds is
     * gone for good (dom0-backend/README.md, "Gone for good").  Nothing is
     * executed: each image is fdatasync'ed once when its vbd is found; a
     * live ring is taken over from its journal and every request on it,
     * journaled or new, is answered at once without touching the image
     * (a flush without data OK, after that fdatasync; everything else
     * BLKIF_RSP_ERROR, which the guest's dm target fails over to the
     * emulated leg); then the vbd is closed (online = 0, Closing, Closed
     * once the frontend is) and its journals go.  No new session is
     * offered.  Needs state_dir to find the rings. */
    bool     fail_rings;
    bool     verbose;
};

void backd_config_default(struct backd_config *cfg);

/* Takes over nothing: x stays the caller's.  Returns NULL with errno set. */
struct backd *backd_new(struct rtv_xen *x, const struct backd_config *cfg);
void backd_free(struct backd *b);

/* Runs the loop for at most timeout_ms (-1: until backd_stop()).  Returns
 * 0, or a negative errno if the loop itself failed (not a device). */
int backd_run(struct backd *b, int timeout_ms);
/* Makes backd_run() return, now or (called before it) as soon as it
 * starts; for good.  Async-signal-safe: a SIGTERM handler may call it. */
void backd_stop(struct backd *b);

/* Runs sw (the dom0 side of the live switch, backd_switch.h) in this
 * engine's loop: its watch fds are polled with the engine's, it is polled
 * after every rescan of the vbds and at least every BACKD_SWITCH_TICK_MS.
 * NULL detaches.  sw stays the caller's. */
void backd_attach_switch(struct backd *b, struct backd_switch *sw);

/* Counters for tests and logs. */
struct backd_stats {
    unsigned long long requests, errors, halted_rings, connects,
                       persistent_hits, persistent_maps, indirect, discards,
                       flushes, barriers_waited,
                       persistent_refused, /* grants a persistent map was refused for */
                       takeovers,   /* live rings taken over from a killed predecessor */
                       replayed,    /* its unanswered requests executed again */
                       replay_refused, /* ... answered with an error instead: they
                                          killed BACKD_REPLAY_MAX daemons before */
                       unexecuted,  /* fail_rings: answered without being executed */
                       oneshot_maps, /* grant pages (data or indirect) mapped for one
                                        request only: not cached, or no persistent */
                       /* io_uring completions answered in the pass that
                        * submitted them, and after a wake by the eventfd */
                       completions_awake, completions_woken;
    long long mapped_pages;     /* grant pages mapped right now */
    unsigned devices;
    /* For a test's failure line: how often backend/vbd3 was listed, the
     * requests in flight right now, and the devices whose directory went
     * that still wait for theirs. */
    unsigned long long scans;
    unsigned inflight, gone;
};
void backd_get_stats(const struct backd *b, struct backd_stats *st);

/* vbds whose backend is not Closed, plus one while backend/vbd3 has not
 * been listed yet (fail_rings: 0 once every ring found was answered and
 * closed). */
unsigned backd_open_devices(const struct backd *b);

#endif
