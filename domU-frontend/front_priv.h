/*
 * librtvirt-front's inside, shared by its two files (not installed; the API
 * is rtvirt/front_blk.h):
 *
 *   front_xs.c    the XenbusState handshake and the device's life: open,
 *                 sessions set up from what the backend offers, the watch,
 *                 poll, close -- everything that reads or writes the store;
 *   front_ring.c  the data path: rings, grants, shadows of requests in
 *                 flight, submission, completions, the requeue list.
 *
 * Calls go one way, front_xs.c -> front_ring.c (as Unikraft keeps
 * blkfront_xs.c apart from its ring code): the data path never touches
 * the store.
 */
#ifndef RTVIRT_FRONT_PRIV_H
#define RTVIRT_FRONT_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rtvirt/blkif_xs.h"
#include "rtvirt/front_blk.h"

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

/* ---- front_ring.c, for front_xs.c --------------------------------------------- */

/* A session's rings: set up one queue (ring pages shared, a port), fit the
 * session into the grant budget (fills f->info's depth, segments, budget;
 * msg says why not), drop them all (keep: requests in flight go to the
 * requeue list, else complete with -EIO). */
int front_queue_setup(struct rtv_front *f, struct front_queue *q, unsigned order);
int front_fit_budget(struct rtv_front *f, char *msg, size_t mlen);
void front_session_drop(struct rtv_front *f, bool keep);
unsigned front_session_inflight(const struct rtv_front *f);

/* Sends the requeue list again, in the caller's submission order. */
void front_resubmit_requeued(struct rtv_front *f);

/* Completions of one queue (how many); a notify owed sent again. */
int front_reap_queue(struct rtv_front *f, struct front_queue *q);
void front_queue_notify(struct rtv_front *f, struct front_queue *q);

/* The backend misbehaved: everything completes with -EIO, the device is
 * failed for good. */
void front_fail(struct rtv_front *f, const char *why);

#endif
