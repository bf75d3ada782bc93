/*
 * The dom0 switch coordinator as a pure state machine; see
 * rtvirt/switch_fsm.h and xenstore-schema/rtvirt-paths.md section 1.
 *
 * Shape of a switch from mode M to target T:
 *
 *   STABLE --request--> [BACKEND_UP] --ready--> SHUNT --shunt acks T-->
 *          [BACKEND_DOWN (T = emulated)] --closed--> STABLE(T), result ok
 *
 * Inside SHUNT, the shunt reports `flushed` (drained, requests held): the
 * machine asks once per switch for the device-model sync
 * (RTV_FSM_ACT_DM_SYNC); the shunt flips on dm-synced-id, or the sync's
 * failure rolls the switch back.  A switch to emulated asks for it as it
 * enters SHUNT (see on_request), so the sync overlaps the shunt's drain;
 * with dm_sync_at_request every switch asks for it with the request (to a
 * PV mode: while the backend comes up; otherwise in GATE, before the guest
 * is told), and a failure in BACKEND_UP or GATE rolls back as the
 * bring-up's would:
 *
 *   STABLE --request--> GATE --dm sync done--> SHUNT ...
 *
 * and from any waiting phase, on a bound passing or a failure:
 *
 *   BACKEND_UP --> [ROLLBACK_DOWN] --> STABLE(M), result rolled-back
 *   SHUNT --> ROLLBACK_SHUNT --shunt back in M--> [ROLLBACK_DOWN] --> STABLE(M)
 *
 * Every phase but STABLE has a deadline; TICK events enforce it.
 *
 * Failover, which the guest does on its own (no request):
 *
 *   STABLE(pv|selective) --shunt-state failed-over--> [BACKEND_DOWN] -->
 *          STABLE(emulated), failover = why, stats/failovers + 1
 */
#include "rtvirt/switch_fsm.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rtvirt/log.h"
#include "rtvirt/request.h"
#include "rtvirt/xs_schema.h"
#include "rtvirt/xs_util.h"

const char *rtv_switch_fsm_state_name(const struct rtv_switch_fsm *c, char *buf,
                                      unsigned len)
{
    switch (c->phase) {
    case RTV_FSM_STABLE:
    case RTV_FSM_BACKEND_UP:   /* the guest has not been told yet */
    case RTV_FSM_GATE:
        snprintf(buf, len, "%s", rtv_mode_name(c->mode));
        break;
    case RTV_FSM_SHUNT:
    case RTV_FSM_BACKEND_DOWN:
        snprintf(buf, len, "switching-to-%s", rtv_mode_name(c->target));
        break;
    case RTV_FSM_ROLLBACK_SHUNT:
    case RTV_FSM_ROLLBACK_DOWN:
        snprintf(buf, len, "rolling-back");
        break;
    }
    return buf;
}

void rtv_switch_fsm_init(struct rtv_switch_fsm *c, enum rtv_mode mode)
{
    rtv_switch_fsm_init_class(c, &rtv_devclass_vbd, mode);
}

void rtv_switch_fsm_init_class(struct rtv_switch_fsm *c, const struct rtv_devclass *cls,
                               enum rtv_mode mode)
{
    memset(c, 0, sizeof(*c));
    c->cls = cls;
    c->mode = mode;
    c->target = mode;
    c->phase = RTV_FSM_STABLE;
    c->timeout_ms = RTV_FSM_DEFAULT_TIMEOUT_MS;
}

/* The schema node of role for c's class (every role used here exists in
 * every class, except the ones guest_uint() is asked about). */
static enum rtv_xs_node node(const struct rtv_switch_fsm *c, enum rtv_role role)
{
    int n = rtv_devclass_node(c->cls, role);
    assert(n != RTV_R_NONE);
    return (enum rtv_xs_node)n;
}

static void publish_state(struct rtv_switch_fsm *c, struct rtv_switch_fsm_out *out)
{
    out->publish_state = true;
    rtv_switch_fsm_state_name(c, out->state, sizeof(out->state));
    out->switch_id = c->switch_id;
    out->previous = rtv_mode_name(c->mode);
}

static void arm(struct rtv_switch_fsm *c, uint64_t now, enum rtv_switch_fsm_phase phase)
{
    c->phase = phase;
    c->deadline_ms = now + c->timeout_ms;
}

static void finish(struct rtv_switch_fsm *c, struct rtv_switch_fsm_out *out)
{
    if (c->failing_over) {
        /* Not a switch: nothing was asked, nothing is answered. */
        c->failing_over = false;
        c->mode = c->target;
        out->publish_failover = true;
        snprintf(out->failover_why, sizeof(out->failover_why), "%s", c->why);
    } else if (c->rolled_back) {
        c->rollbacks++;
        rtv_answer(&out->answer, &c->result_id, "rolled-back", c->switch_id, c->why);
    } else {
        c->mode = c->target;
        c->switches++;
        rtv_answer(&out->answer, &c->result_id, "ok", c->switch_id, c->why);
    }
    c->target = c->mode;
    c->phase = RTV_FSM_STABLE;
    c->deadline_ms = 0;
    publish_state(c, out);
    out->publish_stats = true;
}

static void set_why(struct rtv_switch_fsm *c, const char *why)
{
    snprintf(c->why, sizeof(c->why), "%s", why);
}

static void append_why(struct rtv_switch_fsm *c, const char *more)
{
    size_t n = strlen(c->why);
    snprintf(c->why + n, sizeof(c->why) - n, "%s%s", n ? "; " : "", more);
}

/* Brings the PV backend this switch started back down, if there is one and
 * the mode we return to does not use it; otherwise the rollback is done. */
static void rollback_teardown_or_finish(struct rtv_switch_fsm *c, uint64_t now,
                                        struct rtv_switch_fsm_out *out)
{
    if (c->backend_ours && c->backend_up && !rtv_mode_needs_pv(c->mode)) {
        out->actions |= RTV_FSM_ACT_TEAR_DOWN;
        arm(c, now, RTV_FSM_ROLLBACK_DOWN);
    } else {
        finish(c, out);
    }
}

static void begin_rollback(struct rtv_switch_fsm *c, uint64_t now,
                           struct rtv_switch_fsm_out *out, const char *why)
{
    c->rolled_back = true;
    set_why(c, why);
    if (c->phase == RTV_FSM_BACKEND_UP || c->phase == RTV_FSM_GATE) {
        /* The guest was never told: just undo the backend. */
        if (c->backend_ours) {
            out->actions |= RTV_FSM_ACT_TEAR_DOWN;
            arm(c, now, RTV_FSM_ROLLBACK_DOWN);
        } else {
            finish(c, out);
        }
        return;
    }
    arm(c, now, RTV_FSM_ROLLBACK_SHUNT);
    publish_state(c, out);
}

static void on_request(struct rtv_switch_fsm *c, const struct rtv_switch_fsm_event *ev,
                       struct rtv_switch_fsm_out *out)
{
    const struct rtv_request_nodes nodes = {
        node(c, RTV_R_REQUEST), node(c, RTV_R_REQUEST_ID), node(c, RTV_R_TIMEOUT_MS),
    };
    const struct rtv_request rq = { ev->request, ev->request_id, ev->timeout_ms };
    struct rtv_running running = { .busy = c->phase != RTV_FSM_STABLE, .id = c->switch_id };
    enum rtv_mode target = RTV_MODE_EMULATED;
    char what[64];
    uint32_t id, tmo;

    if (running.busy) {
        snprintf(what, sizeof(what), "switch %u to %s", c->switch_id,
                 rtv_mode_name(c->target));
        running.what = what;
    }
    if (!rtv_request_take(&nodes, &rq, &c->result_id, &running, RTV_FSM_DEFAULT_TIMEOUT_MS,
                          &out->answer, out->note, sizeof(out->note), &id, &tmo))
        return;
    rtv_mode_parse(ev->request, &target);

    c->switch_id = id;
    c->target = target;
    c->timeout_ms = tmo;
    c->rolled_back = false;
    c->why[0] = '\0';
    c->backend_ours = false;

    if (target == c->mode) {
        rtv_answer(&out->answer, &c->result_id, "ok", id, "");
        rtv_note(out, "already in mode %s", rtv_mode_name(target));
        return;
    }
    /* Back to qemu: nothing reaches its drive while the guest is off the
     * emulated path, so checking it holds nothing stale needs no drained
     * guest.  Asked for now, it runs while the shunt drains the PV path
     * (or, with dm_sync_at_request, while the PV backend comes up), instead
     * of after a `flushed` round trip; the shunt finds dm-synced-id there. */
    if (target == RTV_MODE_EMULATED || c->dm_sync_at_request) {
        c->dm_sync_id = c->switch_id;
        out->actions |= RTV_FSM_ACT_DM_SYNC;
    }
    if (rtv_mode_needs_pv(target) && !c->backend_up) {
        c->backend_ours = true;
        out->actions |= RTV_FSM_ACT_BRING_UP;
        arm(c, ev->now_ms, RTV_FSM_BACKEND_UP);
        return;
    }
    if (c->dm_sync_at_request) {
        /* Nothing to bring up: the guest would be quicker than the check
         * (a QMP exchange, tens of ms in a busy dom0) and wait for it in its
         * blackout.  Told once the check passed (RTV_FSM_EV_DM_SYNC_DONE). */
        arm(c, ev->now_ms, RTV_FSM_GATE);
        return;
    }
    arm(c, ev->now_ms, RTV_FSM_SHUNT);
    publish_state(c, out);
}

/* Parses a guest-written number; a bad one is ignored (with a note). */
static bool guest_uint(const struct rtv_switch_fsm *c, enum rtv_role role, const char *raw,
                       uint64_t *v, struct rtv_switch_fsm_out *out)
{
    struct rtv_err err = {0};
    unsigned long long n;
    int node = rtv_devclass_node(c->cls, role);

    if (raw == NULL || node == RTV_R_NONE)
        return false;
    if (rtv_xs_check_value((enum rtv_xs_node)node, raw, &err) < 0) {
        rtv_note(out, "ignored guest value: %s", err.msg);
        return false;
    }
    rtv_parse_uint(raw, UINT64_MAX, &n);
    *v = n;
    return true;
}

/* The shunt holds the guest's requests until dom0 synced the device model
 * for its switch-id: ask for that once per switch.  Also when the device is
 * stable (a restarted shunt following dom0's state runs a switch of its
 * own under the published switch-id). */
static void maybe_dm_sync(struct rtv_switch_fsm *c, const struct rtv_switch_fsm_event *ev,
                          struct rtv_switch_fsm_out *out)
{
    if (c->phase != RTV_FSM_SHUNT && c->phase != RTV_FSM_ROLLBACK_SHUNT &&
        c->phase != RTV_FSM_STABLE)
        return;
    if (ev->shunt_state == NULL || strcmp(ev->shunt_state, "flushed") != 0 ||
        c->dm_sync_id == c->switch_id)
        return;
    c->dm_sync_id = c->switch_id;
    out->actions |= RTV_FSM_ACT_DM_SYNC;
}

/* A reason from the guest (shunt-error) or from a peer dom0 talked to (qemu's
 * monitor answer in a dm-sync failure, a backend's error), at most
 * REASON_MAX bytes of it, quoted: it ends up in the error node, which must
 * stay a schema `string` (tests/fuzz/fuzz_xs_values checks it). */
#define REASON_MAX 300
static const char *reason(char *buf, size_t len, const char *text)
{
    if (text == NULL || text[0] == '\0')
        return "no reason given";
    return rtv_xs_quote(buf, len, text, REASON_MAX);
}

/* The shunt reports failed-over while dom0 says pv or selective: the guest
 * kernel lost its PV leg and re-issued what failed on the emulated path,
 * where everything goes now.  dom0 follows: state emulated, the PV backend
 * (dead, or of no use to a guest that left it) torn down, so that a later
 * switch to a PV mode brings up a fresh one.  Any shunt-ack-id: the shunt
 * reports a failover under the switch it last acknowledged. */
static void on_failed_over(struct rtv_switch_fsm *c, const struct rtv_switch_fsm_event *ev,
                           struct rtv_switch_fsm_out *out)
{
    char why[sizeof(c->why)], shown[REASON_MAX * 4 + 4];

    /* dom0's cause first: the guest's reason may fill the rest. */
    snprintf(why, sizeof(why), "%s%sthe guest failed over from %s to the emulated path: %s",
             ev->dom0_cause ? ev->dom0_cause : "", ev->dom0_cause ? ": " : "",
             rtv_mode_name(c->mode), reason(shown, sizeof(shown), ev->shunt_error));
    set_why(c, why);
    c->failovers++;
    c->failing_over = true;
    c->rolled_back = false;
    c->target = RTV_MODE_EMULATED;
    if (c->backend_up) {
        out->actions |= RTV_FSM_ACT_TEAR_DOWN;
        arm(c, ev->now_ms, RTV_FSM_BACKEND_DOWN);
        publish_state(c, out);
    } else {
        finish(c, out);
    }
}

static void on_shunt(struct rtv_switch_fsm *c, const struct rtv_switch_fsm_event *ev,
                     struct rtv_switch_fsm_out *out)
{
    struct rtv_err err = {0};
    uint64_t ack;

    maybe_dm_sync(c, ev, out);
    if (c->phase == RTV_FSM_STABLE && rtv_mode_needs_pv(c->mode) &&
        ev->shunt_state != NULL && strcmp(ev->shunt_state, "failed-over") == 0 &&
        rtv_devclass_node(c->cls, RTV_R_FAILOVER) != RTV_R_NONE) {
        on_failed_over(c, ev, out);
        return;
    }
    if (c->phase != RTV_FSM_SHUNT && c->phase != RTV_FSM_ROLLBACK_SHUNT)
        return;
    if (!guest_uint(c, RTV_R_SHUNT_ACK_ID, ev->shunt_ack_id, &ack, out) ||
        ack != c->switch_id)
        return;   /* not (yet) about this switch */
    if (ev->shunt_state == NULL ||
        rtv_xs_check_value(node(c, RTV_R_SHUNT_STATE), ev->shunt_state, &err) < 0) {
        rtv_note(out, "ignored guest value: %s", err.msg);
        return;
    }

    const char *st = ev->shunt_state;
    bool in_target = strcmp(st, rtv_mode_shunt_state(c->target)) == 0;
    bool in_previous = strcmp(st, rtv_mode_shunt_state(c->mode)) == 0;
    char why[sizeof(c->why)];

    if (c->phase == RTV_FSM_ROLLBACK_SHUNT) {
        if (in_previous)
            rollback_teardown_or_finish(c, ev->now_ms, out);
        return;
    }

    if (in_target) {
        uint64_t v;
        c->blackout_us = guest_uint(c, RTV_R_SHUNT_BLACKOUT_US,
                                    ev->shunt_blackout_us, &v, out) ? v : 0;
        c->held = guest_uint(c, RTV_R_SHUNT_HELD, ev->shunt_held, &v, out) ? v : 0;
        if (c->target == RTV_MODE_EMULATED && c->backend_up) {
            /* Only now that the shunt left the ring may it be closed. */
            out->actions |= RTV_FSM_ACT_TEAR_DOWN;
            arm(c, ev->now_ms, RTV_FSM_BACKEND_DOWN);
        } else {
            finish(c, out);
        }
    } else if (strcmp(st, "failed") == 0 || in_previous) {
        /* The shunt gave up (failed), or already went back by itself. */
        char shown[REASON_MAX * 4 + 4];

        snprintf(why, sizeof(why), "the shunt %s switch %u: %s",
                 in_previous ? "rolled back" : "failed", c->switch_id,
                 reason(shown, sizeof(shown), ev->shunt_error));
        if (in_previous) {
            c->rolled_back = true;
            set_why(c, why);
            rollback_teardown_or_finish(c, ev->now_ms, out);
        } else {
            begin_rollback(c, ev->now_ms, out, why);
        }
    }
}

static void on_tick(struct rtv_switch_fsm *c, uint64_t now, struct rtv_switch_fsm_out *out)
{
    char why[sizeof(c->why)];

    if (c->phase == RTV_FSM_STABLE || now < c->deadline_ms)
        return;

    switch (c->phase) {
    case RTV_FSM_BACKEND_UP:
        snprintf(why, sizeof(why), "the PV backend was not up within %u ms",
                 c->timeout_ms);
        begin_rollback(c, now, out, why);
        break;
    case RTV_FSM_SHUNT:
        snprintf(why, sizeof(why),
                 "the shunt did not confirm switch %u to %s within %u ms",
                 c->switch_id, rtv_mode_name(c->target), c->timeout_ms);
        begin_rollback(c, now, out, why);
        break;
    case RTV_FSM_GATE:
        snprintf(why, sizeof(why), "%s: no answer within %u ms", c->cls->gate_failed,
                 c->timeout_ms);
        begin_rollback(c, now, out, why);
        break;
    case RTV_FSM_BACKEND_DOWN:
        /* The guest is already on the emulated path; the switch stands. */
        snprintf(why, sizeof(why),
                 "warning: the PV ring did not reach Closed within %u ms and is "
                 "still up", c->timeout_ms);
        if (c->failing_over)
            append_why(c, why);   /* the failover's reason comes first */
        else
            set_why(c, why);
        out->actions |= RTV_FSM_ACT_KEEP;
        finish(c, out);
        break;
    case RTV_FSM_ROLLBACK_SHUNT:
        /* Never tear a ring down under a shunt that may still use it. */
        snprintf(why, sizeof(why),
                 "the shunt did not confirm the rollback within %u ms; the PV "
                 "backend is left up", c->timeout_ms);
        append_why(c, why);
        finish(c, out);
        break;
    case RTV_FSM_ROLLBACK_DOWN:
        snprintf(why, sizeof(why), "the PV backend did not close within %u ms",
                 c->timeout_ms);
        append_why(c, why);
        out->actions |= RTV_FSM_ACT_KEEP;
        finish(c, out);
        break;
    case RTV_FSM_STABLE:
        break;
    }
}

void rtv_switch_fsm_step(struct rtv_switch_fsm *c, const struct rtv_switch_fsm_event *ev,
                         struct rtv_switch_fsm_out *out)
{
    char why[sizeof(c->why)], shown[REASON_MAX * 4 + 4];

    memset(out, 0, sizeof(*out));
    switch (ev->kind) {
    case RTV_FSM_EV_REQUEST:
        on_request(c, ev, out);
        break;
    case RTV_FSM_EV_BACKEND_READY:
        c->backend_up = true;
        if (c->phase == RTV_FSM_BACKEND_UP) {
            arm(c, ev->now_ms, RTV_FSM_SHUNT);
            publish_state(c, out);
        }
        break;
    case RTV_FSM_EV_BACKEND_FAILED:
        snprintf(why, sizeof(why), "the PV backend failed: %s",
                 reason(shown, sizeof(shown), ev->msg));
        if (c->phase == RTV_FSM_BACKEND_UP ||
            ((c->phase == RTV_FSM_SHUNT || c->phase == RTV_FSM_GATE) &&
             rtv_mode_needs_pv(c->target)))
            begin_rollback(c, ev->now_ms, out, why);
        else
            rtv_note(out, "%s (no switch depends on it)", why);
        break;
    case RTV_FSM_EV_BACKEND_CLOSED:
        c->backend_up = false;
        c->backend_ours = false;
        if (c->phase == RTV_FSM_BACKEND_DOWN || c->phase == RTV_FSM_ROLLBACK_DOWN)
            finish(c, out);
        break;
    case RTV_FSM_EV_SHUNT:
        on_shunt(c, ev, out);
        break;
    case RTV_FSM_EV_TICK:
        on_tick(c, ev->now_ms, out);
        break;
    case RTV_FSM_EV_DM_SYNC_FAILED:
        snprintf(why, sizeof(why), "%s: %s", c->cls->gate_failed,
                 reason(shown, sizeof(shown), ev->msg));
        if (c->phase == RTV_FSM_SHUNT || c->phase == RTV_FSM_BACKEND_UP ||
            c->phase == RTV_FSM_GATE)
            begin_rollback(c, ev->now_ms, out, why);
        else
            rtv_note(out, "%s (no switch of ours waits for it)", why);
        break;
    case RTV_FSM_EV_DM_SYNC_DONE:
        if (c->phase == RTV_FSM_GATE) {
            arm(c, ev->now_ms, RTV_FSM_SHUNT);
            publish_state(c, out);
        }
        break;
    }
}

int rtv_switch_fsm_recover(struct rtv_switch_fsm *c, uint64_t now_ms,
                           const char *state, const char *previous,
                           const char *switch_id, const char *result_id,
                           const char *shunt_state, const char *shunt_ack_id,
                           bool backend_present, struct rtv_switch_fsm_out *out)
{
    return rtv_switch_fsm_recover_class(c, &rtv_devclass_vbd, now_ms, state, previous,
                                        switch_id, result_id, shunt_state, shunt_ack_id,
                                        backend_present, out);
}

int rtv_switch_fsm_recover_class(struct rtv_switch_fsm *c, const struct rtv_devclass *cls,
                                 uint64_t now_ms, const char *state, const char *previous,
                                 const char *switch_id, const char *result_id,
                                 const char *shunt_state, const char *shunt_ack_id,
                                 bool backend_present, struct rtv_switch_fsm_out *out)
{
    struct rtv_err err = {0};
    unsigned long long n;
    enum rtv_mode prev = RTV_MODE_EMULATED, target = RTV_MODE_EMULATED;

    memset(out, 0, sizeof(*out));
    if (state == NULL ||
        rtv_xs_check_value((enum rtv_xs_node)cls->nodes[RTV_R_STATE], state, &err) < 0) {
        snprintf(out->answer.error, sizeof(out->answer.error), "%s",
                 state ? err.msg : "state absent: device not managed");
        return -EINVAL;
    }

    rtv_switch_fsm_init_class(c, cls, RTV_MODE_EMULATED);
    c->backend_up = backend_present;
    if (result_id && rtv_parse_uint(result_id, UINT32_MAX, &n) == 0)
        c->result_id = (uint32_t)n;
    if (switch_id && rtv_parse_uint(switch_id, UINT32_MAX, &n) == 0)
        c->switch_id = (uint32_t)n;

    if (rtv_mode_parse(state, &c->mode) == 0) {
        c->target = c->mode;
        return 0;   /* stable: pending requests come through RTV_FSM_EV_REQUEST */
    }

    /* Half-done.  The mode to fall back to is `previous`; without it the
     * emulated path is the one that always exists. */
    if (rtv_mode_parse(previous, &prev) < 0)
        rtv_note(out, "node ctl-previous: \"%s\" unusable, rolling back to emulated",
                 previous ? previous : "(absent)");
    c->mode = prev;
    if (strncmp(state, "switching-to-", 13) == 0 &&
        rtv_mode_parse(state + 13, &target) == 0)
        c->target = target;
    else
        c->target = prev;   /* rolling-back */
    c->backend_ours = backend_present && rtv_mode_needs_pv(c->target) &&
                      !rtv_mode_needs_pv(prev);
    arm(c, now_ms, RTV_FSM_SHUNT);

    struct rtv_switch_fsm_event ev = {
        .kind = RTV_FSM_EV_SHUNT, .now_ms = now_ms,
        .shunt_state = shunt_state, .shunt_ack_id = shunt_ack_id,
    };
    struct rtv_switch_fsm_out sub;

    if (c->target != prev) {
        /* The shunt may have finished the switch before we died. */
        on_shunt(c, &ev, out);
        if (c->phase != RTV_FSM_SHUNT)
            return 0;
        /* Rolled back below: a shunt waiting for the sync is told to go
         * back instead (it aborts before it flips). */
        out->actions &= ~(unsigned)RTV_FSM_ACT_DM_SYNC;
    }
    begin_rollback(c, now_ms, out, "rtvirt-backd restarted during the switch");
    memset(&sub, 0, sizeof(sub));
    on_shunt(c, &ev, &sub);
    /* Merge: the later publish wins, actions add up. */
    out->actions |= sub.actions;
    if (sub.publish_state || sub.answer.publish) {
        unsigned acts = out->actions;
        *out = sub;
        out->actions = acts;
    }
    return 0;
}
