/*
 * Runtime virtualization and devirtualization of a device (seeds 000/002),
 * as a pure decision machine over the I/O-sequence engine (rtvirt/ioseq.h).
 *
 * rtvirt-ioemu owns one `struct rtv_iov` per device.  While the device is
 * trapped (an ioreq server holds its ports), every guest access goes
 * through rtv_iov_route(), which says what to do with it; accesses that
 * were carried out are fed back with rtv_iov_seen(); rtv_iov_poll() moves
 * the change along (time and the device's drain state are the caller's).
 * The actions it asks for are carried out by the caller.
 *
 * A change (either direction) runs in phases:
 *
 *   SEEK    the guest goes on on the old path (the real device before a
 *           virtualize, the emulation before a devirtualize) until the
 *           engine is at a sequence boundary (the change never splits a
 *           sequence) and the caller says the device is READY (the guest
 *           took what only the old path holds).  (002 [0026], FIG. 4;
 *           [0048] step 710.)
 *   HOLD    at the boundary, the guest is kept from starting a new
 *           sequence: reads that have a busy answer get it (the device
 *           looks busy: 000 claims 14, 21), accesses that could open a
 *           sequence are logged and answered later, the rest go on; the
 *           caller drains what is in flight (002 [0029], [0049] 712-714).
 *   CHANGE  the caller takes the device over (saving the guest's mode into
 *           its model, putting its own in) or hands it back (restoring the
 *           guest's mode into the device, re-mapping its ports and IRQ),
 *           and reports with rtv_iov_changed().  (002 [0051]-[0053].)
 *   REPLAY  the logged accesses are carried out on the new path in their
 *           arrival order (002 [0048], fifth example; 000 claim 23); then
 *           the change is done.  A devirtualize then removes the trap.
 *
 * Every wait is bounded.  Past the bound in SEEK (the guest stays in the
 * middle of a sequence, or the device is not ready) or in HOLD (the device
 * does not drain), the caller
 * is asked to reset the device, the engine restarts at the initial state
 * and the change goes on (002 [0050]).  A failed CHANGE rolls back: the log
 * is replayed on the old path and the device stays where it was.
 *
 * The log holds accesses whose vCPU waits for the answer (an ioreq is
 * completed only when the access is carried out), so its capacity need not
 * exceed the guest's vCPU count; if it is full, the access is LOG_FULL:
 * keep it pending and route it again after the change.
 */
#ifndef RTVIRT_IOVIRT_H
#define RTVIRT_IOVIRT_H

#include <stdbool.h>
#include <stdint.h>

#include "rtvirt/ioseq.h"

enum rtv_iov_mode {
    RTV_IOV_DIRECT,          /* the guest reaches the device itself */
    RTV_IOV_VIRTUALIZED,     /* every access traps and is emulated */
};

enum rtv_iov_phase {
    RTV_IOV_STABLE,
    RTV_IOV_SEEK,
    RTV_IOV_HOLD,
    RTV_IOV_CHANGE,
    RTV_IOV_REPLAY,
};

enum rtv_iov_verdict {
    RTV_IOV_PASS,            /* carry it out on the real device, then rtv_iov_seen() */
    RTV_IOV_EMULATE,         /* carry it out on the model, then rtv_iov_seen() */
    RTV_IOV_BUSY,            /* a read: answer rtv_ioseq_busy_value() of what
                                the device would answer; nothing else */
    RTV_IOV_LOGGED,          /* logged; answered when replayed */
    RTV_IOV_LOG_FULL,        /* keep it pending; route it again after the change */
};

/* Actions for the caller, carried out in this (bit) order. */
enum {
    RTV_IOV_ACT_TRAP      = 1u << 0,  /* start trapping: ioreq server, ports claimed, direct mapping removed */
    RTV_IOV_ACT_RESET     = 1u << 1,  /* reset the device (a bound passed) */
    RTV_IOV_ACT_TAKE_OVER = 1u << 2,  /* save the guest's mode, set ours; then rtv_iov_changed() */
    RTV_IOV_ACT_RESTORE   = 1u << 3,  /* restore the guest's mode, map ports and IRQ back; then rtv_iov_changed() */
    RTV_IOV_ACT_REPLAY    = 1u << 4,  /* rtv_iov_replay_next() until it returns false */
    RTV_IOV_ACT_UNTRAP    = 1u << 5,  /* remove the trap (ioreq server) */
};

struct rtv_iov_logent {
    struct rtv_ioseq_access a;
    uint64_t                cookie;   /* the caller's: which ioreq to answer */
};

struct rtv_iov {
    struct rtv_ioseq        seq;
    enum rtv_iov_mode       mode;         /* where the device is (or was, until the change ends) */
    enum rtv_iov_mode       target;
    enum rtv_iov_phase      phase;
    bool                    rolling_back; /* the running change failed */
    bool                    probing;      /* virtualize: TRAP asked, probe not reported yet */
    uint64_t                bound_us;     /* per wait */
    uint64_t                deadline_us;
    uint64_t                started_us, held_us_from;
    struct rtv_iov_logent  *log;
    unsigned                log_cap, log_len, log_next;
    char                    why[256];     /* reason for a reset or rollback */

    /* The last change. */
    uint64_t                seek_us, held_us;
    uint64_t                busy, logged, replayed;
    bool                    reset;
    /* Totals. */
    uint64_t                changes, resets, rollbacks;
};

struct rtv_iov_out {
    unsigned    actions;      /* RTV_IOV_ACT_* */
    bool        finished;     /* the change ended: result says how */
    const char *result;       /* "ok" or "rolled-back" */
    char        note[256];    /* what happened, for the caller's log */
};

/* A device in `mode`, with a log of log_cap entries (the caller's array). */
void rtv_iov_init(struct rtv_iov *v, const struct rtv_ioseq_table *t,
                  enum rtv_iov_mode mode, struct rtv_iov_logent *log,
                  unsigned log_cap);

/* Starts a change to `target`, each wait bounded by bound_ms.  0, or
 * -EBUSY (a change is running) / -EALREADY (already there) with the reason
 * in v->why.  A virtualize asks for TRAP; the caller then probes where the
 * device is (only now: until the ports trap, the guest can move it) and
 * reports it with rtv_iov_probed() before anything else.  A devirtualize
 * needs no probe: the engine has followed every access. */
int rtv_iov_request(struct rtv_iov *v, enum rtv_iov_mode target,
                    uint64_t now_us, uint32_t bound_ms, struct rtv_iov_out *out);

/* Virtualize, after TRAP: the engine starts in `state` (what a probe of the
 * device found, e.g. a 16550's LCR.DLAB set; the table's initial state if
 * the device cannot be probed, as in seed 002 FIG. 4).  0, or -EINVAL (no
 * probe awaited, or no such state) with the reason in v->why. */
int rtv_iov_probed(struct rtv_iov *v, unsigned state, struct rtv_iov_out *out);

/* What to do with a trapped access (for a write, a->value is the value). */
enum rtv_iov_verdict rtv_iov_route(struct rtv_iov *v,
                                   const struct rtv_ioseq_access *a,
                                   uint64_t cookie);

/* An access that was carried out (PASS, EMULATE, or replayed), with the
 * value a read returned. */
void rtv_iov_seen(struct rtv_iov *v, const struct rtv_ioseq_access *a);

/* The caller's view of the device, for rtv_iov_poll(). */
enum {
    /* Nothing the guest must still take from the old path (e.g. bytes in
     * the emulated receive FIFO, which the real device cannot be given
     * back): the hold may begin at a boundary. */
    RTV_IOV_READY   = 1u << 0,
    /* Nothing in flight that the change would lose (e.g. the transmitter
     * idle, so reprogramming the divisor corrupts no byte): the change may
     * begin. */
    RTV_IOV_DRAINED = 1u << 1,
};

/* Moves the change along: after every access and on a timer.  `device`:
 * RTV_IOV_READY and RTV_IOV_DRAINED as they hold now. */
void rtv_iov_poll(struct rtv_iov *v, uint64_t now_us, unsigned device,
                  struct rtv_iov_out *out);

/* The caller carried out TAKE_OVER or RESTORE (ok), or could not (why). */
void rtv_iov_changed(struct rtv_iov *v, bool ok, const char *why,
                     struct rtv_iov_out *out);

/* Where REPLAY carries the log out: EMULATE (onto the model) or PASS (onto
 * the real device): the new path, or the old one after a failed change. */
enum rtv_iov_verdict rtv_iov_replay_path(const struct rtv_iov *v);

/* REPLAY: the next logged access to carry out on the new path (true), or
 * none left (false): the change is finished, out says how. */
bool rtv_iov_replay_next(struct rtv_iov *v, uint64_t now_us,
                         struct rtv_iov_logent *e, struct rtv_iov_out *out);

/* "direct", "virtualizing", "virtualized", "devirtualizing" (the schema's
 * ioemu state values). */
const char *rtv_iov_state_name(const struct rtv_iov *v);

#endif
