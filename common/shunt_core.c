/*
 * The shunt's routing engine; see rtvirt/shunt_core.h for the protocol.
 *
 * Callbacks may re-enter (a path can complete a request from inside
 * submit, or a flush from inside flush), so state is always updated before
 * a callback is made, and an io is never touched after ops->complete.
 */
#include "rtvirt/shunt_core.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>

void rtv_shunt_init(struct rtv_shunt *sh, const struct rtv_shunt_ops *ops,
                    void *ctx, enum rtv_mode mode)
{
    *sh = (struct rtv_shunt){ .ops = ops, .ctx = ctx, .mode = mode,
                              .target = mode, .phase = RTV_SHUNT_RUNNING };
}

enum rtv_path rtv_shunt_route(enum rtv_mode mode, enum rtv_io_op op)
{
    switch (mode) {
    case RTV_MODE_PV:
        return RTV_PATH_PV;
    case RTV_MODE_SELECTIVE:
        return (op == RTV_IO_READ || op == RTV_IO_WRITE || op == RTV_IO_FLUSH)
                   ? RTV_PATH_PV : RTV_PATH_EMULATED;
    default:
        return RTV_PATH_EMULATED;
    }
}

unsigned rtv_shunt_inflight(const struct rtv_shunt *sh)
{
    return sh->inflight[RTV_PATH_EMULATED] + sh->inflight[RTV_PATH_PV];
}

static void dispatch(struct rtv_shunt *sh, struct rtv_io *io)
{
    io->next = NULL;
    io->status = 0;
    if (sh->mode == RTV_MODE_SELECTIVE && io->op == RTV_IO_FLUSH) {
        /* Writes went to PV, discards to emulated: flush both. */
        io->paths_left = 2;
        sh->inflight[RTV_PATH_PV]++;
        sh->inflight[RTV_PATH_EMULATED]++;
        sh->ops->submit(sh->ctx, RTV_PATH_EMULATED, io);
        sh->ops->submit(sh->ctx, RTV_PATH_PV, io);
        return;
    }
    enum rtv_path p = rtv_shunt_route(sh->mode, io->op);
    io->paths_left = 1;
    sh->inflight[p]++;
    sh->ops->submit(sh->ctx, p, io);
}

void rtv_shunt_submit(struct rtv_shunt *sh, struct rtv_io *io)
{
    if (sh->phase != RTV_SHUNT_RUNNING) {
        /* Busy, not an error: the request waits for the flip. */
        io->next = NULL;
        if (sh->held_tail)
            sh->held_tail->next = io;
        else
            sh->held_head = io;
        sh->held_tail = io;
        sh->held_count++;
        return;
    }
    dispatch(sh, io);
}

/* Back to RUNNING on whatever sh->mode is now, replaying held requests in
 * their arrival order. */
static void resume(struct rtv_shunt *sh, bool ok, uint64_t now_us)
{
    struct rtv_io *io = sh->held_head;

    sh->held_head = sh->held_tail = NULL;
    sh->phase = RTV_SHUNT_RUNNING;
    sh->target = sh->mode;
    sh->blackout_us = now_us >= sh->hold_start_us ? now_us - sh->hold_start_us : 0;
    while (io) {
        struct rtv_io *next = io->next;
        dispatch(sh, io);
        io = next;
    }
    if (sh->ops->switched)
        sh->ops->switched(sh->ctx, sh->mode, ok);
}

static uint64_t since_phase_start(const struct rtv_shunt *sh, uint64_t now_us)
{
    return now_us >= sh->phase_start_us ? now_us - sh->phase_start_us : 0;
}

static void start_flushes(struct rtv_shunt *sh, uint64_t now_us)
{
    bool emu = sh->mode != RTV_MODE_PV;
    bool pv = rtv_mode_needs_pv(sh->mode);
    unsigned gen = ++sh->flush_gen;

    sh->drain_us = since_phase_start(sh, now_us);
    sh->phase_start_us = now_us;
    sh->phase = RTV_SHUNT_FLUSHING;
    sh->flush_status = 0;
    sh->flushes_left = (unsigned)emu + (unsigned)pv;
    /* Both counted before either is asked for: a flush may finish inside
     * ops->flush. */
    if (emu)
        sh->ops->flush(sh->ctx, RTV_PATH_EMULATED);
    if (pv && sh->phase == RTV_SHUNT_FLUSHING && sh->flush_gen == gen)
        sh->ops->flush(sh->ctx, RTV_PATH_PV);
}

void rtv_shunt_io_done(struct rtv_shunt *sh, enum rtv_path path,
                       struct rtv_io *io, int status, uint64_t now_us)
{
    assert(path < RTV_PATH_COUNT && sh->inflight[path] > 0);
    assert(io->paths_left > 0);
    sh->inflight[path]--;
    if (status != 0 && io->status == 0)
        io->status = status;
    if (--io->paths_left == 0)
        sh->ops->complete(sh->ctx, io, io->status);

    if (sh->phase == RTV_SHUNT_QUIESCING && rtv_shunt_inflight(sh) == 0)
        start_flushes(sh, now_us);   /* the I/O-sequence boundary is reached */
}

void rtv_shunt_flush_done(struct rtv_shunt *sh, enum rtv_path path,
                          unsigned gen, int status, uint64_t now_us)
{
    (void)path;
    if (sh->phase != RTV_SHUNT_FLUSHING || gen != sh->flush_gen ||
        sh->flushes_left == 0)
        return;   /* a flush of a switch that was aborted meanwhile */
    if (status != 0 && sh->flush_status == 0)
        sh->flush_status = status;
    if (--sh->flushes_left > 0)
        return;
    sh->flush_us = since_phase_start(sh, now_us);
    sh->phase_start_us = now_us;
    if (sh->flush_status == 0 && sh->ops->flushed) {
        sh->phase = RTV_SHUNT_GATED;   /* before the call: it may open the gate */
        sh->ops->flushed(sh->ctx, sh->target);
        return;
    }
    if (sh->flush_status == 0)
        sh->mode = sh->target;   /* the flip */
    resume(sh, sh->flush_status == 0, now_us);
}

void rtv_shunt_gate_open(struct rtv_shunt *sh, uint64_t now_us)
{
    if (sh->phase != RTV_SHUNT_GATED)
        return;
    sh->gate_us = since_phase_start(sh, now_us);
    sh->mode = sh->target;   /* the flip */
    resume(sh, true, now_us);
}

int rtv_shunt_begin_switch(struct rtv_shunt *sh, enum rtv_mode target,
                           uint64_t now_us)
{
    if ((unsigned)target >= RTV_MODE_COUNT)
        return -EINVAL;
    if (sh->phase != RTV_SHUNT_RUNNING)
        return -EBUSY;
    sh->target = target;
    sh->held_count = 0;
    sh->hold_start_us = sh->phase_start_us = now_us;
    sh->drain_us = sh->flush_us = sh->gate_us = 0;
    if (target == sh->mode) {
        sh->blackout_us = 0;
        if (sh->ops->switched)
            sh->ops->switched(sh->ctx, sh->mode, true);
        return 0;
    }
    sh->phase = RTV_SHUNT_QUIESCING;
    if (rtv_shunt_inflight(sh) == 0)
        start_flushes(sh, now_us);
    return 0;
}

void rtv_shunt_abort_switch(struct rtv_shunt *sh, uint64_t now_us)
{
    if (sh->phase == RTV_SHUNT_RUNNING)
        return;
    sh->flush_gen++;   /* flushes still out there are now stale */
    sh->flushes_left = 0;
    resume(sh, false, now_us);
}
