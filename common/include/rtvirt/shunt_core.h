/*
 * The shunt's routing engine: where each guest block request goes, and how a
 * switch between paths happens at an I/O-sequence boundary without losing or
 * reordering anything.  Pure: the caller (rtvirt-shunt) supplies the paths
 * through `struct rtv_shunt_ops` and reports completions back.
 *
 * Routing by mode:
 *   emulated:  everything to the emulated disk;
 *   pv:        everything to the PV ring;
 *   selective: reads and writes to PV, discard to emulated, and a flush to
 *              both (it completes when both paths have flushed, so it covers
 *              every write acknowledged before it, whichever path took it).
 *
 * A switch (rtv_shunt_begin_switch):
 *   1. stop admitting: new requests are held in arrival order (the guest sees
 *      a busy device, never an error);
 *   2. wait until every in-flight request on the old paths completed: the
 *      I/O-sequence boundary;
 *   3. flush every path the old mode used, so whatever path serves next
 *      reads what was acknowledged (both paths share one image);
 *   3a. if the caller has a `flushed` callback: wait until it calls
 *      rtv_shunt_gate_open() (dom0 syncs the device model's side of the
 *      emulated disk meanwhile; requests stay held);
 *   4. flip to the new mode and replay the held requests in order.
 * rtv_shunt_abort_switch() (the caller's bound passed) puts the shunt back
 * on the old mode and replays the held requests there; so does a failed
 * flush.  Either way nothing held is lost.
 */
#ifndef RTVIRT_SHUNT_CORE_H
#define RTVIRT_SHUNT_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "rtvirt/mode.h"

enum rtv_path {
    RTV_PATH_EMULATED,
    RTV_PATH_PV,
    RTV_PATH_COUNT
};

enum rtv_io_op {
    RTV_IO_READ,
    RTV_IO_WRITE,
    RTV_IO_FLUSH,
    RTV_IO_DISCARD,
};

/* One guest request.  The caller owns the memory; the engine links it into
 * its queues until the completion callback returns it. */
struct rtv_io {
    enum rtv_io_op  op;
    uint64_t        sector;
    uint32_t        nsect;
    void           *priv;          /* the caller's */
    /* engine-private */
    struct rtv_io  *next;
    unsigned        paths_left;    /* a selective flush waits for two */
    int             status;
};

struct rtv_shunt_ops {
    /* Start io on path; report the end with rtv_shunt_io_done(). */
    void (*submit)(void *ctx, enum rtv_path path, struct rtv_io *io);
    /* io is finished for the guest with status (0 or -errno). */
    void (*complete)(void *ctx, struct rtv_io *io, int status);
    /* Flush path's caches; report with rtv_shunt_flush_done(). */
    void (*flush)(void *ctx, enum rtv_path path);
    /* Optional.  The old paths are drained and flushed; the engine waits
     * for rtv_shunt_gate_open() before it flips (or for an abort). */
    void (*flushed)(void *ctx, enum rtv_mode target);
    /* The switch ended: flipped (ok) or back on the old mode (not ok). */
    void (*switched)(void *ctx, enum rtv_mode mode, bool ok);
};

enum rtv_shunt_phase {
    RTV_SHUNT_RUNNING,
    RTV_SHUNT_QUIESCING,   /* holding new requests, draining old paths */
    RTV_SHUNT_FLUSHING,    /* drained; waiting for the old paths' flushes */
    RTV_SHUNT_GATED,       /* flushed; waiting for rtv_shunt_gate_open() */
};

struct rtv_shunt {
    const struct rtv_shunt_ops *ops;
    void               *ctx;
    enum rtv_mode       mode;
    enum rtv_mode       target;
    enum rtv_shunt_phase phase;
    unsigned            inflight[RTV_PATH_COUNT];
    unsigned            flushes_left;
    int                 flush_status;
    unsigned            flush_gen;     /* flushes of an aborted switch are stale */
    struct rtv_io      *held_head, *held_tail;
    uint64_t            held_count;    /* held during the current/last switch */
    uint64_t            hold_start_us;
    uint64_t            blackout_us;   /* of the last completed switch */
    /* Where that blackout went: holding until the old paths drained (the
     * I/O-sequence boundary), their flushes, the wait at the gate (dom0's
     * device-model sync); the rest is the replay. */
    uint64_t            drain_us, flush_us, gate_us;
    uint64_t            phase_start_us;
};

void rtv_shunt_init(struct rtv_shunt *sh, const struct rtv_shunt_ops *ops,
                    void *ctx, enum rtv_mode mode);

/* Which path a request takes in a mode (a selective flush reports PV; it
 * also goes to the emulated path). */
enum rtv_path rtv_shunt_route(enum rtv_mode mode, enum rtv_io_op op);

/* A new guest request. */
void rtv_shunt_submit(struct rtv_shunt *sh, struct rtv_io *io);

/* A path finished io with status (0 or -errno). */
void rtv_shunt_io_done(struct rtv_shunt *sh, enum rtv_path path,
                       struct rtv_io *io, int status, uint64_t now_us);

/* A path's flush finished; `gen` is the value of sh->flush_gen when the
 * flush was asked for (the ops->flush callback can read it). */
void rtv_shunt_flush_done(struct rtv_shunt *sh, enum rtv_path path,
                          unsigned gen, int status, uint64_t now_us);

/* Starts a switch to target.  -EBUSY if one is running, -EINVAL for a bad
 * mode; 0 otherwise (a switch to the current mode completes at once). */
int rtv_shunt_begin_switch(struct rtv_shunt *sh, enum rtv_mode target,
                           uint64_t now_us);

/* The flip may happen (step 3a).  No-op unless the engine is GATED. */
void rtv_shunt_gate_open(struct rtv_shunt *sh, uint64_t now_us);

/* Gives up a running switch: back on the old mode, held requests replayed
 * there.  No-op when no switch is running. */
void rtv_shunt_abort_switch(struct rtv_shunt *sh, uint64_t now_us);

/* Requests in flight on all paths. */
unsigned rtv_shunt_inflight(const struct rtv_shunt *sh);

#endif
