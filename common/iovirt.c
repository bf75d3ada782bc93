/*
 * Runtime (de)virtualization of a device as a pure decision machine; see
 * rtvirt/iovirt.h for the phases:
 *
 *   STABLE --request--> SEEK --boundary--> HOLD --drained--> CHANGE
 *          --changed(ok)--> REPLAY --log empty--> STABLE(target)
 *
 *   SEEK, HOLD past the bound: RESET, then on (SEEK -> HOLD, HOLD -> CHANGE)
 *   CHANGE --changed(fail)--> REPLAY on the old path --> STABLE(mode)
 */
#include "rtvirt/iovirt.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rtvirt/log.h"

static const char *const mode_names[] = {
    [RTV_IOV_DIRECT] = "direct",
    [RTV_IOV_VIRTUALIZED] = "virtualized",
};

const char *rtv_iov_state_name(const struct rtv_iov *v)
{
    if (v->phase == RTV_IOV_STABLE)
        return mode_names[v->mode];
    return v->target == RTV_IOV_VIRTUALIZED ? "virtualizing" : "devirtualizing";
}

void rtv_iov_init(struct rtv_iov *v, const struct rtv_ioseq_table *t,
                  enum rtv_iov_mode mode, struct rtv_iov_logent *log,
                  unsigned log_cap)
{
    *v = (struct rtv_iov){ .mode = mode, .target = mode, .phase = RTV_IOV_STABLE,
                           .log = log, .log_cap = log_cap };
    rtv_ioseq_init(&v->seq, t, t->initial);
}

static void clear_out(struct rtv_iov_out *out)
{
    memset(out, 0, sizeof(*out));
}

static void arm(struct rtv_iov *v, uint64_t now, enum rtv_iov_phase phase)
{
    v->phase = phase;
    v->deadline_us = now + v->bound_us;
}

int rtv_iov_request(struct rtv_iov *v, enum rtv_iov_mode target,
                    uint64_t now_us, uint32_t bound_ms, struct rtv_iov_out *out)
{
    clear_out(out);
    if (v->phase != RTV_IOV_STABLE) {
        snprintf(v->why, sizeof(v->why), "a change to %s is running",
                 mode_names[v->target]);
        return -EBUSY;
    }
    if (target == v->mode) {
        snprintf(v->why, sizeof(v->why), "already %s", mode_names[target]);
        return -EALREADY;
    }
    v->why[0] = '\0';
    v->target = target;
    v->rolling_back = false;
    v->bound_us = (uint64_t)bound_ms * 1000;
    v->started_us = now_us;
    assert(v->log_len == 0);      /* every change ends with its log replayed */
    v->seek_us = v->held_us = v->busy = v->logged = v->replayed = 0;
    v->reset = false;
    arm(v, now_us, RTV_IOV_SEEK);
    if (target == RTV_IOV_VIRTUALIZED) {
        /* Nothing trapped until now: the engine starts where the probe,
         * made once the ports trap, finds the device. */
        v->probing = true;
        out->actions |= RTV_IOV_ACT_TRAP;
        rtv_note(out, "virtualized: trapping, then probing the device");
        return 0;
    }
    rtv_note(out, "%s: seeking a sequence boundary from %s", mode_names[target],
             rtv_ioseq_state_name(&v->seq));
    return 0;
}

int rtv_iov_probed(struct rtv_iov *v, unsigned state, struct rtv_iov_out *out)
{
    clear_out(out);
    if (!v->probing) {
        snprintf(v->why, sizeof(v->why), "no probe awaited");
        return -EINVAL;
    }
    if (state >= v->seq.t->nstates) {
        snprintf(v->why, sizeof(v->why), "probed state %u: %s has %u states",
                 state, v->seq.t->name, v->seq.t->nstates);
        return -EINVAL;
    }
    v->probing = false;
    rtv_ioseq_init(&v->seq, v->seq.t, state);
    rtv_note(out, "%s: seeking a sequence boundary from %s", mode_names[v->target],
             rtv_ioseq_state_name(&v->seq));
    return 0;
}

static enum rtv_iov_verdict old_path(const struct rtv_iov *v)
{
    return v->mode == RTV_IOV_DIRECT ? RTV_IOV_PASS : RTV_IOV_EMULATE;
}

static enum rtv_iov_verdict log_access(struct rtv_iov *v,
                                       const struct rtv_ioseq_access *a,
                                       uint64_t cookie)
{
    if (v->log_len >= v->log_cap)
        return RTV_IOV_LOG_FULL;
    v->log[v->log_len++] = (struct rtv_iov_logent){ .a = *a, .cookie = cookie };
    v->logged++;
    return RTV_IOV_LOGGED;
}

enum rtv_iov_verdict rtv_iov_route(struct rtv_iov *v,
                                   const struct rtv_ioseq_access *a,
                                   uint64_t cookie)
{
    switch (v->phase) {
    case RTV_IOV_STABLE:
        return old_path(v);
    case RTV_IOV_SEEK:
        /* A read that closes the running sequence whatever it returns (a
         * 16550's IIR read: the guest's next interrupt round) has a
         * boundary just before it.  Answered busy, where the table has a
         * busy answer, it opens nothing: the engine is at that boundary
         * and the next poll holds the guest.  (Linux's polled 8250 handler
         * reads IIR once a round; under a steady stream it never reads "no
         * interrupt", the round's other end: no boundary was found in the
         * lab's 22:09 flight.) */
        if (a->dir == RTV_IOSEQ_READ && rtv_ioseq_has_busy(v->seq.t, a->offset) &&
            rtv_ioseq_closes(&v->seq, a)) {
            rtv_ioseq_reset(&v->seq);
            v->busy++;
            return RTV_IOV_BUSY;
        }
        return old_path(v);
    case RTV_IOV_HOLD:
    case RTV_IOV_CHANGE:
    case RTV_IOV_REPLAY:
        break;
    }
    if (a->dir == RTV_IOSEQ_READ && rtv_ioseq_has_busy(v->seq.t, a->offset)) {
        v->busy++;
        return RTV_IOV_BUSY;
    }
    /* In HOLD the old path still serves what cannot open a sequence. */
    if (v->phase == RTV_IOV_HOLD && !rtv_ioseq_may_open(&v->seq, a))
        return old_path(v);
    return log_access(v, a, cookie);
}

void rtv_iov_seen(struct rtv_iov *v, const struct rtv_ioseq_access *a)
{
    /* The engine follows the guest wherever its accesses trap. */
    rtv_ioseq_feed(&v->seq, a);
}

static void finish(struct rtv_iov *v, uint64_t now, struct rtv_iov_out *out)
{
    bool to_direct;

    out->finished = true;
    if (v->rolling_back) {
        v->rollbacks++;
        out->result = "rolled-back";
    } else {
        v->mode = v->target;
        v->changes++;
        out->result = "ok";
    }
    to_direct = v->mode == RTV_IOV_DIRECT;
    v->target = v->mode;
    v->phase = RTV_IOV_STABLE;
    v->held_us = now - v->held_us_from;   /* every change passes HOLD */
    if (to_direct)
        out->actions |= RTV_IOV_ACT_UNTRAP;
    rtv_note(out, "%s (%s): sought %llu us, held %llu us, %llu busy, %llu logged, "
             "%llu replayed%s%s", mode_names[v->mode], out->result,
             (unsigned long long)v->seek_us,
             (unsigned long long)v->held_us, (unsigned long long)v->busy,
             (unsigned long long)v->logged, (unsigned long long)v->replayed,
             v->why[0] ? "; " : "", v->why);
}

static void reset_device(struct rtv_iov *v, struct rtv_iov_out *out,
                         const char *what)
{
    out->actions |= RTV_IOV_ACT_RESET;
    snprintf(v->why, sizeof(v->why), "%s within %llu ms (in %s): device reset",
             what, (unsigned long long)(v->bound_us / 1000),
             rtv_ioseq_state_name(&v->seq));
    rtv_ioseq_reset(&v->seq);
    v->reset = true;
    v->resets++;
}

static void enter_hold(struct rtv_iov *v, uint64_t now)
{
    v->seek_us = now - v->started_us;
    v->held_us_from = now;
    arm(v, now, RTV_IOV_HOLD);
}

static void enter_change(struct rtv_iov *v, uint64_t now,
                         struct rtv_iov_out *out)
{
    arm(v, now, RTV_IOV_CHANGE);
    out->actions |= v->target == RTV_IOV_VIRTUALIZED ? RTV_IOV_ACT_TAKE_OVER
                                                     : RTV_IOV_ACT_RESTORE;
}

void rtv_iov_poll(struct rtv_iov *v, uint64_t now_us, unsigned device,
                  struct rtv_iov_out *out)
{
    clear_out(out);
    assert(!v->probing);          /* the caller probes right after TRAP */
    /* HOLD lets through only what cannot open a sequence. */
    assert(v->phase != RTV_IOV_HOLD || rtv_ioseq_at_boundary(&v->seq));
    if (v->phase == RTV_IOV_SEEK) {
        bool boundary = rtv_ioseq_at_boundary(&v->seq);

        if (!boundary || !(device & RTV_IOV_READY)) {
            if (now_us < v->deadline_us)
                return;
            reset_device(v, out, boundary ? "device not ready" : "no sequence boundary");
        }
        enter_hold(v, now_us);
        rtv_note(out, "boundary after %llu us%s%s; holding",
                 (unsigned long long)v->seek_us, v->why[0] ? ": " : "", v->why);
    }
    if (v->phase == RTV_IOV_HOLD) {
        if (!(device & RTV_IOV_DRAINED)) {
            if (now_us < v->deadline_us)
                return;
            reset_device(v, out, "device not drained");
        }
        enter_change(v, now_us, out);
    }
}

enum rtv_iov_verdict rtv_iov_replay_path(const struct rtv_iov *v)
{
    bool onto_model = v->rolling_back ? v->mode == RTV_IOV_VIRTUALIZED
                                      : v->target == RTV_IOV_VIRTUALIZED;

    return onto_model ? RTV_IOV_EMULATE : RTV_IOV_PASS;
}

void rtv_iov_changed(struct rtv_iov *v, bool ok, const char *why,
                     struct rtv_iov_out *out)
{
    clear_out(out);
    if (v->phase != RTV_IOV_CHANGE)
        return;                   /* nothing asked for: a stale report */
    if (!ok) {
        v->rolling_back = true;
        snprintf(v->why, sizeof(v->why), "%s", why ? why : "change failed");
    }
    v->phase = RTV_IOV_REPLAY;
    out->actions |= RTV_IOV_ACT_REPLAY;
}

bool rtv_iov_replay_next(struct rtv_iov *v, uint64_t now_us,
                         struct rtv_iov_logent *e, struct rtv_iov_out *out)
{
    clear_out(out);
    if (v->phase != RTV_IOV_REPLAY)
        return false;
    if (v->log_next < v->log_len) {
        *e = v->log[v->log_next++];
        v->replayed++;
        return true;
    }
    v->log_len = v->log_next = 0;
    finish(v, now_us, out);
    return false;
}
