/*
 * librtvirt-front: a userspace blkif frontend (domU-frontend/).
 *
 * Attach to a vbd the toolstack created (device/vbd/<devid> with backend and
 * backend-id), negotiate with the backend as xen/io/blkif.h describes, then
 * submit requests and reap completions with rtv_front_poll().
 *
 * The backend is not trusted: a response with an id outside the shadow
 * table, for a slot with nothing in flight, with the wrong operation or an
 * unknown status, or a response producer that overflows the ring marks the
 * device failed.  Every outstanding request then completes with -EIO, new
 * submissions fail with -EIO, and the event channel is left masked (no EOI),
 * as Linux blkfront does.  Nothing the backend writes can crash the caller.
 *
 * If the backend goes away and comes back (it republishes InitWait, or goes
 * Closing/Closed and then offers InitWait again), the frontend sets up fresh
 * rings and requeues every request that had not completed, in submission
 * order, like Linux blkfront's blkif_recover().  Callers see nothing but
 * latency.
 *
 * Single-threaded: call everything from one thread.  Callbacks run inside
 * rtv_front_poll() (or inside a call that fails the device).
 */
#ifndef RTVIRT_FRONT_BLK_H
#define RTVIRT_FRONT_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtvirt/blkif_req.h"
#include "rtvirt/seam.h"

struct rtv_front;

struct rtv_front_config {
    unsigned devid;              /* xenbus device id (virtual-device) */
    unsigned ring_page_order;    /* wanted; capped by max-ring-page-order */
    unsigned nr_queues;          /* wanted (0 = 1); capped by multi-queue-max-queues */
    bool     persistent;         /* offer feature-persistent */
    unsigned max_indirect_segs;  /* 0: never use indirect; capped by the backend */
    unsigned max_grants;         /* grants we may hold at once (gntalloc's limit);
                                    0 = read /sys/module/xen_gntalloc/parameters/limit,
                                    1024 (its default) if that is not there */
    int      timeout_ms;         /* bound on every handshake wait (0 = 10 s) */
    bool     verbose;
};

void rtv_front_config_default(struct rtv_front_config *cfg, unsigned devid);

/* What was negotiated. */
struct rtv_front_info {
    uint64_t sectors;            /* 512-byte sectors */
    bool     read_only;
    bool     flush, barrier, discard, persistent;
    unsigned nr_queues, ring_page_order, max_indirect_segs;
    unsigned max_request_bytes;  /* largest read/write one submit may carry */
    unsigned depth;              /* usable slots per queue (<= the ring's) */
    unsigned max_grants;         /* the grant budget the session was fitted to */
    unsigned connects;           /* sessions so far (> 1 after a reconnect) */
    unsigned long long requeued; /* requests requeued by reconnects */
    unsigned long long grants_refused; /* shares refused with ENOSPC (gntalloc's limit) */
};

enum rtv_front_op {
    RTV_FRONT_READ,
    RTV_FRONT_WRITE,
    RTV_FRONT_WRITE_FLUSH,      /* BLKIF_OP_FLUSH_DISKCACHE with data (FUA) */
    RTV_FRONT_WRITE_BARRIER,    /* BLKIF_OP_WRITE_BARRIER with data */
    RTV_FRONT_FLUSH,            /* FLUSH_DISKCACHE without data */
    RTV_FRONT_DISCARD,
};

/* status: 0, -EIO (BLKIF_RSP_ERROR or device failed), -EOPNOTSUPP. */
typedef void (*rtv_front_done_fn)(void *arg, int status);

/* Attaches as x->self to device/vbd/<devid>: runs the handshake up to
 * Connected (bounded by cfg->timeout_ms).  0 or -errno; *err_msg (may be
 * NULL) gets a sentence on failure. */
int rtv_front_open(struct rtv_xen *x, const struct rtv_front_config *cfg,
                   struct rtv_front **out, char *err_msg, size_t err_len);

/* Queues one request.  buf (len bytes, a multiple of 512 for read/write, not
 * used for flush, NULL for discard where len gives the byte count) must stay
 * valid until the callback.  Returns 0, -EAGAIN when every slot is busy
 * (poll, then retry), -EINVAL, -EROFS, -EOPNOTSUPP (not negotiated), -EIO
 * once the device has failed, -ENODEV once detached, -ESHUTDOWN while
 * closing. */
int rtv_front_submit(struct rtv_front *f, enum rtv_front_op op, uint64_t sector,
                     void *buf, size_t len, rtv_front_done_fn cb, void *arg);

/* Waits up to timeout_ms for events and handles them: completions,
 * backend state changes (reconnect).  Returns the number of requests
 * completed, or -errno. */
int rtv_front_poll(struct rtv_front *f, int timeout_ms);

unsigned rtv_front_inflight(const struct rtv_front *f);
/* True once the toolstack detached the device (backend went Closing/Closed
 * with online = 0, or its directory vanished); submissions then fail with
 * -ENODEV.  Call rtv_front_close() to release what is left. */
bool rtv_front_detached(const struct rtv_front *f);
bool rtv_front_failed(const struct rtv_front *f, const char **why);
void rtv_front_get_info(const struct rtv_front *f, struct rtv_front_info *info);

/* Closes the device: Closing, waits for the backend, Closed, then releases
 * the rings.  Outstanding requests complete with -EIO.  Frees f. */
int rtv_front_close(struct rtv_front *f);

/* ---- test hooks (component tests break the protocol on purpose) ---------- */

/* Puts *req on queue 0 as it is, except that its id is replaced by a free
 * shadow slot (so the answer is matched); cb gets the response status. */
int rtv_front_test_push_raw(struct rtv_front *f, const struct blkif_request *req,
                            rtv_front_done_fn cb, void *arg);
/* While plugged, requests are queued in the ring's private producer only:
 * the backend neither sees nor is told about them, even when something
 * else wakes it.  Unplugging publishes every queue's batch and notifies it,
 * so the batch arrives at once. */
void rtv_front_test_plug(struct rtv_front *f, bool plugged);
/* Publishes a request producer index on queue 0 without any requests. */
void rtv_front_test_set_req_prod(struct rtv_front *f, uint32_t prod);

#endif
