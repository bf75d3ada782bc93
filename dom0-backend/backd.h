/*
 * rtvirt-backd engine: one event loop serving every vbd backend directory
 * under /local/domain/<self>/backend/vbd, for any number of domains.
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
    bool     verbose;
};

void backd_config_default(struct backd_config *cfg);

/* Takes over nothing: x stays the caller's.  Returns NULL with errno set. */
struct backd *backd_new(struct rtv_xen *x, const struct backd_config *cfg);
void backd_free(struct backd *b);

/* Runs the loop for at most timeout_ms (-1: until backd_stop()).  Returns
 * 0, or a negative errno if the loop itself failed (not a device). */
int backd_run(struct backd *b, int timeout_ms);
void backd_stop(struct backd *b);

/* Runs sw (the dom0 side of the live switch, backd_switch.h) in this
 * engine's loop: its watch fds are polled with the engine's, it is polled
 * after every rescan of the vbds and at least every BACKD_SWITCH_TICK_MS.
 * NULL detaches.  sw stays the caller's. */
void backd_attach_switch(struct backd *b, struct backd_switch *sw);

/* Whether rtvirt-backd serves a vbd with this device id.  Not the hdX/sdX
 * encodings (IDE majors 3, 22, 33, 34, 56, 57, 88-91; SCSI major 8): those
 * are the PV views libxl writes for an HVM guest's emulated disks.  The
 * emulated disk is qemu's; its switch twin is a vbd of our own range
 * (backd_switch.h); serving libxl's view too would make a second writer of
 * the image behind the guest's back. */
bool backd_serves_devid(unsigned devid);

/* Counters for tests and logs. */
struct backd_stats {
    unsigned long long requests, errors, halted_rings, connects,
                       persistent_hits, persistent_maps, indirect, discards,
                       flushes, barriers_waited,
                       persistent_refused; /* grants a persistent map was refused for */
    long long mapped_pages;     /* grant pages mapped right now */
    unsigned devices;
    unsigned not_served;        /* vbds left alone at the last scan (backd_serves_devid) */
};
void backd_get_stats(const struct backd *b, struct backd_stats *st);

#endif
