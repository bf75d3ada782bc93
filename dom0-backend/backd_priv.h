/*
 * rtvirt-backd internals shared by the engine's files.  See backd.h for the
 * overall picture.  They call downwards only, never back up:
 *
 *   backd_loop.c       the poll loop and the retries it owes
 *   backd_lifecycle.c  new/free/stop, counters
 *   backd_scan.c       device discovery under backend/vbd3
 *   backd_handshake.c  one device's XenbusState handshake
 *   backd_io.c         rings, grants, io_uring (the data path)
 *
 * The data path does not call the handshake: a disconnect that waits for
 * in-flight I/O (update_pending) is taken up by the loop once the I/O has
 * drained (backd_dev_update_drained).
 */
#ifndef RTVIRT_BACKD_PRIV_H
#define RTVIRT_BACKD_PRIV_H

#include <liburing.h>
#include <signal.h>
#include <stdio.h>
#include <sys/uio.h>

#include "backd.h"
#include "backd_journal.h"
#include "rtvirt/blkif_req.h"
#include "rtvirt/blkif_xs.h"
#include "rtvirt/xs_schema.h"

#define BACKD_PATH_MAX 256

struct backd_dev;
struct backd_queue;

/* One request being served. */
struct backd_req {
    struct backd_queue *q;
    struct backd_req   *next_free;
    struct rtv_blkif_req r;
    void     *map;             /* one-shot mapping of the non-cached segments */
    unsigned  map_count;
    unsigned  nr_iov;
    struct iovec *iov;         /* the queue's iov_pool: max_segs entries */
    unsigned  sqes_left;       /* completions still to come */
    int16_t   status;
};

struct backd_queue {
    struct backd_dev *dev;
    unsigned idx;
    void    *sring;            /* mapped ring pages */
    unsigned nr_ring_pages;
    blkif_back_ring_t ring;
    rtv_port_t port;
    bool     connected;
    bool     halted;           /* protocol violation: serve nothing more */
    unsigned inflight;
    struct backd_req *deferred;   /* barrier waiting for inflight == 0 */
    bool     plugged;          /* a barrier is running: take nothing new */
    struct backd_req *reqs;    /* RING_SIZE slots */
    struct iovec *iov_pool;    /* RING_SIZE * max_segs, sized by the config */
    struct backd_req *free;
    struct backd_journal *jr;  /* NULL: no state dir, or it could not be made */
    /* Taken over from a killed predecessor: its unanswered requests, served
     * before anything new is taken off the ring (backd_queue_kick). */
    unsigned *replay_slot;
    struct blkif_request *replay;
    unsigned replay_n, replay_next;
};

/* Persistent grant cache: open addressing on gref. */
struct backd_pgnt {
    grant_ref_t gref;
    void       *addr;          /* NULL: empty slot */
};

/* xenbus states we publish / see. */
struct backd_dev {
    struct backd      *b;
    struct backd_dev  *next;
    rtv_domid_t domid;         /* frontend domain */
    unsigned    devid;
    struct blkif_xs_dev xd;    /* names every node of this vbd */
    char fe_path[BACKD_PATH_MAX];       /* what "frontend" must say */
    char fe_state_path[BACKD_PATH_MAX]; /* watched */
    char watch_token[64];
    bool fe_watched;
    int  fd;                   /* the image */
    bool read_only;
    uint64_t nr_sectors;
    struct rtv_blkif_limits lim;
    bool persistent;           /* negotiated */
    unsigned nr_queues;
    struct backd_queue q[BLKIF_XS_MAX_QUEUES];
    int  be_state;             /* what we last published */
    bool gone;                 /* backend dir removed: free once idle */
    bool failed;               /* setup failed: stay Closing until Closed */
    bool set_up;               /* toolstack nodes read, image open, InitWait */
    uint64_t retry_at;         /* the store failed us: update again then (0: no) */
    unsigned retries;          /* store failures in a row */
    bool update_pending;       /* a state change waits for in-flight I/O */
    bool quiescing;            /* closing: take no new requests */
    struct backd_pgnt *pg;     /* persistent cache (nr_pg slots) */
    unsigned nr_pg, pg_used;
    bool pg_refused_said;      /* told the log once this session */
    bool synced;               /* fail_rings: the image was fdatasync'ed at setup */
};

struct backd {
    struct rtv_xen *x;
    struct backd_config cfg;
    struct io_uring uring;
    int  uring_efd;
    volatile sig_atomic_t stop;
    char root[BACKD_PATH_MAX];
    struct backd_dev *devs;
    struct backd_stats st;
    struct backd_switch *sw;   /* the live switch run in our loop, or NULL */
    bool stopping;             /* backd_free: keep the journals for the next one */
    uint64_t scan_retry_at;    /* a listing failed: scan again then (0: no) */
    bool scanned;              /* backend/vbd3 was listed once (backd_open_devices) */
    bool submit_owed;          /* io_uring_submit failed: SQEs wait in the ring */
};

#define backd_log(b, ...) do { if ((b)->cfg.verbose) { \
    fprintf(stderr, "rtvirt-backd: " __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define backd_err(...) do { fprintf(stderr, "rtvirt-backd: " __VA_ARGS__); \
    fputc('\n', stderr); } while (0)

/* How soon the loop tries again what the store or io_uring refused
 * (backd_handshake.c: retry_later; backd_submit). */
#define BACKD_RETRY_MS  100

/* backd_io.c */
void backd_submit(struct backd *b);
/* takeover: the ring is live and a killed predecessor served it; pick up
 * where it stopped from its journal (why[] says what is missing). */
int  backd_queue_connect(struct backd_queue *q, const rtv_gref_t *refs,
                         unsigned nr_pages, rtv_port_t remote_port, bool takeover,
                         char *why, size_t why_len);
/* keep_journal: the ring lives on (the daemon stops), leave its journal. */
void backd_queue_disconnect(struct backd_queue *q, bool keep_journal);
void backd_queue_kick(struct backd_queue *q);
void backd_handle_evtchn(struct backd *b);
/* The eventfd woke the loop: clear it, then backd_reap_completions(). */
void backd_handle_completions(struct backd *b);
/* Answers every request io_uring completed (the CQ ring only, no syscall:
 * buffered I/O the page cache serves completes inside io_uring_submit). */
unsigned backd_reap_completions(struct backd *b);   /* how many */
unsigned backd_dev_inflight(const struct backd_dev *d);
void backd_pgnt_flush(struct backd_dev *d);

/* backd_scan.c */
void backd_scan(struct backd *b);

/* backd_handshake.c */
struct backd_dev *backd_dev_new(struct backd *b, rtv_domid_t domid, unsigned devid);
/* Re-evaluates d from the store; may free d. */
void backd_dev_update(struct backd_dev *d);
/* Updates every device whose update waited for its I/O to drain (call after
 * backd_handle_completions); may free them. */
void backd_dev_update_drained(struct backd *b);
void backd_dev_free(struct backd_dev *d);

#endif
