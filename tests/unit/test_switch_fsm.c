/*
 * The dom0 switch coordinator: happy paths in every direction, refusals,
 * every bound passing, guest misbehaviour, and restarts at each phase.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/switch_fsm.h"
#include "rtvirt/xs_schema.h"
#include "unit.h"

static struct rtv_switch_fsm c;
static struct rtv_switch_fsm_out out;
static uint64_t now;

static void request(const char *mode, const char *id, const char *tmo)
{
    struct rtv_switch_fsm_event ev = { .kind = RTV_FSM_EV_REQUEST, .now_ms = now,
                                  .request = mode, .request_id = id,
                                  .timeout_ms = tmo };
    rtv_switch_fsm_step(&c, &ev, &out);
}

static void simple(enum rtv_switch_fsm_event_kind kind)
{
    struct rtv_switch_fsm_event ev = { .kind = kind, .now_ms = now, .msg = "boom" };
    rtv_switch_fsm_step(&c, &ev, &out);
}

static void shunt(const char *state, const char *ack, const char *error,
                  const char *blackout, const char *held)
{
    struct rtv_switch_fsm_event ev = { .kind = RTV_FSM_EV_SHUNT, .now_ms = now,
                                  .shunt_state = state, .shunt_ack_id = ack,
                                  .shunt_error = error,
                                  .shunt_blackout_us = blackout,
                                  .shunt_held = held };
    rtv_switch_fsm_step(&c, &ev, &out);
}

static void tick(uint64_t advance)
{
    now += advance;
    simple(RTV_FSM_EV_TICK);
}

static void assert_result(const char *result, uint32_t id)
{
    ck_assert(out.answer.publish);
    ck_assert_str_eq(out.answer.result, result);
    ck_assert_uint_eq(out.answer.id, id);
}

static void assert_state(const char *state)
{
    ck_assert(out.publish_state);
    ck_assert_str_eq(out.state, state);
}

/* The coordinator has told the PV backend to go; once the backend reports
 * its ring closed, switch id is answered with result. */
static void tear_down_then_answer(const char *result, uint32_t id)
{
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_TEAR_DOWN);
    simple(RTV_FSM_EV_BACKEND_CLOSED);
    assert_result(result, id);
}

/* Switch 1 to pv asked for (timeout tmo, NULL: the default) and the PV
 * backend up: what the shunt does next is the test's. */
static void pv_switch_running(const char *tmo)
{
    request("pv", "1", tmo);
    simple(RTV_FSM_EV_BACKEND_READY);
}

static void setup(void)
{
    rtv_switch_fsm_init(&c, RTV_MODE_EMULATED);
    memset(&out, 0, sizeof(out));
    now = 1000;
}

/* emulated -> pv, all the way through. */
static void to_pv(const char *id)
{
    request("pv", id, NULL);
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_BRING_UP);
    ck_assert(!out.publish_state && !out.answer.publish);
    simple(RTV_FSM_EV_BACKEND_READY);
    assert_state("switching-to-pv");
    ck_assert_str_eq(out.previous, "emulated");
    shunt("connecting", "0", NULL, NULL, NULL);
    ck_assert(!out.publish_state && !out.answer.publish);
    shunt("enlightened", id, NULL, "1234", "3");
}

START_TEST(emulated_to_pv)
{
    to_pv("1");
    assert_result("ok", 1);
    assert_state("pv");
    ck_assert_str_eq(out.answer.error, "");
    ck_assert(out.publish_stats);
    ck_assert_uint_eq(c.switches, 1);
    ck_assert_uint_eq(c.blackout_us, 1234);
    ck_assert_uint_eq(c.held, 3);
    ck_assert(c.backend_up);
}
END_TEST

START_TEST(pv_to_emulated_closes_ring_after_shunt)
{
    to_pv("1");
    request("emulated", "2", NULL);
    /* qemu's side checked while the shunt drains, not after it (below). */
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_DM_SYNC);
    assert_state("switching-to-emulated");
    shunt("emulating", "2", NULL, "50", "0");
    /* Ring torn down only once the shunt is off it; not yet answered. */
    ck_assert(!out.answer.publish);
    tear_down_then_answer("ok", 2);
    assert_state("emulated");
    ck_assert(!c.backend_up);
    ck_assert_uint_eq(c.switches, 2);
}
END_TEST

START_TEST(pv_to_selective_keeps_backend)
{
    to_pv("1");
    request("selective", "2", NULL);
    assert_state("switching-to-selective");
    shunt("selective", "2", NULL, NULL, NULL);
    ck_assert_uint_eq(out.actions, 0);
    assert_result("ok", 2);
    assert_state("selective");
    ck_assert(c.backend_up);
}
END_TEST

START_TEST(same_mode_is_ok_at_once)
{
    request("emulated", "7", NULL);
    assert_result("ok", 7);
    ck_assert_uint_eq(out.actions, 0);
    ck_assert_uint_eq(c.phase, RTV_FSM_STABLE);
}
END_TEST

START_TEST(bad_request_is_refused_with_reason)
{
    request("warp", "3", NULL);
    assert_result("error", 3);
    ck_assert_contains(out.answer.error, "node ctl-request: value \"warp\" not allowed");
    ck_assert_contains(out.answer.error, "pv, emulated, selective");
    ck_assert_uint_eq(out.actions, 0);
    ck_assert(!out.publish_state);

    request("pv", "4", "5");
    assert_result("error", 4);
    ck_assert_contains(out.answer.error, "ctl-timeout-ms");

    request(NULL, "5", NULL);
    assert_result("error", 5);
    ck_assert_contains(out.answer.error, "absent");
}
END_TEST

START_TEST(bad_request_id_reports_without_moving_result_id)
{
    pv_switch_running(NULL);
    shunt("enlightened", "1", NULL, NULL, NULL);
    request("emulated", "x1", NULL);
    ck_assert(out.answer.publish);
    ck_assert_str_eq(out.answer.result, "error");
    ck_assert_uint_eq(out.answer.id, 1);
    ck_assert_contains(out.answer.error, "ctl-request-id");
    ck_assert_uint_eq(out.actions, 0);
}
END_TEST

START_TEST(stale_and_repeated_requests_do_nothing)
{
    request("pv", "5", NULL);
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_BRING_UP);
    request("pv", "5", NULL);            /* coalesced watch: same values */
    ck_assert_uint_eq(out.actions, 0);
    ck_assert(!out.answer.publish && !out.publish_state);
    simple(RTV_FSM_EV_BACKEND_READY);
    shunt("enlightened", "5", NULL, NULL, NULL);
    assert_result("ok", 5);
    request("pv", "5", NULL);            /* the answered one, seen again: silent */
    ck_assert(!out.answer.publish && !out.publish_state);
    ck_assert_uint_eq(out.actions, 0);
    ck_assert_str_eq(out.note, "");
    request("emulated", "4", NULL);      /* older than the last answer */
    ck_assert(!out.answer.publish && !out.publish_state);
    ck_assert_uint_eq(out.actions, 0);
    ck_assert_contains(out.note, "older than the one answered last (5)");
    shunt("enlightened", "5", NULL, NULL, NULL);   /* repeated report */
    ck_assert(!out.answer.publish && !out.publish_state);
}
END_TEST

START_TEST(request_during_switch_is_refused_and_result_id_never_decreases)
{
    pv_switch_running(NULL);
    request("emulated", "2", NULL);
    assert_result("error", 2);
    ck_assert_contains(out.answer.error, "switch 1 to pv is still running");
    shunt("enlightened", "1", NULL, NULL, NULL);
    /* Switch 1 completes: state says so, but result-id stays at 2. */
    assert_state("pv");
    ck_assert(!out.answer.publish);
    ck_assert_uint_eq(c.result_id, 2);
    ck_assert_uint_eq(c.switches, 1);
}
END_TEST

START_TEST(backend_not_up_in_time_rolls_back)
{
    request("pv", "1", "1000");
    tick(999);
    ck_assert_uint_eq(out.actions, 0);
    ck_assert(!out.answer.publish);
    tick(1);
    ck_assert(!out.publish_state);       /* the guest was never told */
    tear_down_then_answer("rolled-back", 1);
    assert_state("emulated");
    ck_assert_contains(out.answer.error, "not up within 1000 ms");
    ck_assert_uint_eq(c.rollbacks, 1);
    ck_assert_uint_eq(c.switches, 0);
}
END_TEST

START_TEST(backend_failure_rolls_back)
{
    request("pv", "1", NULL);
    simple(RTV_FSM_EV_BACKEND_FAILED);
    tear_down_then_answer("rolled-back", 1);
    ck_assert_contains(out.answer.error, "the PV backend failed: boom");
}
END_TEST

START_TEST(shunt_silent_rolls_back_through_shunt)
{
    pv_switch_running("500");
    tick(500);
    assert_state("rolling-back");
    ck_assert_uint_eq(out.actions, 0);   /* not before the shunt is off the ring */
    shunt("emulating", "1", NULL, NULL, NULL);
    tear_down_then_answer("rolled-back", 1);
    assert_state("emulated");
    ck_assert_contains(out.answer.error, "did not confirm switch 1 to pv within 500 ms");
}
END_TEST

START_TEST(shunt_failure_rolls_back)
{
    pv_switch_running(NULL);
    shunt("failed", "1", "frontend handshake refused", NULL, NULL);
    assert_state("rolling-back");
    shunt("emulating", "1", NULL, NULL, NULL);
    simple(RTV_FSM_EV_BACKEND_CLOSED);
    assert_result("rolled-back", 1);
    ck_assert_contains(out.answer.error, "the shunt failed switch 1: frontend handshake refused");
}
END_TEST

/* The guest's reason goes into dom0's error node quoted: a newline or an
 * escape sequence of the guest's never reaches a tool reading it (the
 * published error stays a schema string; tests/fuzz/fuzz_xs_values checks
 * every published value). */
START_TEST(shunt_failure_reason_is_quoted)
{
    pv_switch_running(NULL);
    shunt("failed", "1", "bad\nline\x1b[2J", NULL, NULL);
    shunt("emulating", "1", NULL, NULL, NULL);
    simple(RTV_FSM_EV_BACKEND_CLOSED);
    assert_result("rolled-back", 1);
    ck_assert_contains(out.answer.error, "the shunt failed switch 1: bad\\x0aline\\x1b[2J");
    ck_assert_int_eq(rtv_xs_check_value(RTV_XS_CTL_ERROR, out.answer.error, NULL), 0);
}
END_TEST

/* So is qemu's: its monitor answers HMP errors with a CR LF at the end. */
START_TEST(dm_sync_failure_reason_is_quoted)
{
    struct rtv_switch_fsm_event ev = {
        .kind = RTV_FSM_EV_DM_SYNC_FAILED,
        .msg = "qmp: qemu-io ide0-hd0 \"flush\": Error: Cannot find device=''\r\n",
    };

    pv_switch_running(NULL);
    ev.now_ms = now;
    rtv_switch_fsm_step(&c, &ev, &out);
    assert_state("rolling-back");
    shunt("emulating", "1", NULL, NULL, NULL);
    simple(RTV_FSM_EV_BACKEND_CLOSED);
    assert_result("rolled-back", 1);
    ck_assert_contains(out.answer.error, "Cannot find device=''\\x0d\\x0a");
    ck_assert_int_eq(rtv_xs_check_value(RTV_XS_CTL_ERROR, out.answer.error, NULL), 0);
}
END_TEST

START_TEST(shunt_rolled_back_by_itself)
{
    pv_switch_running(NULL);
    shunt("emulating", "1", "in-flight requests did not drain", NULL, NULL);
    tear_down_then_answer("rolled-back", 1);
    ck_assert_contains(out.answer.error, "rolled back switch 1: in-flight requests did not drain");
}
END_TEST

START_TEST(rollback_unconfirmed_leaves_backend_up)
{
    pv_switch_running("100");
    tick(100);
    assert_state("rolling-back");
    tick(100);
    ck_assert_uint_eq(out.actions, 0);   /* never tear down under the shunt */
    assert_result("rolled-back", 1);
    assert_state("emulated");
    ck_assert_contains(out.answer.error, "did not confirm the rollback");
    ck_assert(c.backend_up);
    /* The next switch to pv reuses the backend that was left up. */
    request("pv", "2", NULL);
    ck_assert_uint_eq(out.actions, 0);
    assert_state("switching-to-pv");
}
END_TEST

START_TEST(ring_close_timeout_is_a_warning)
{
    to_pv("1");
    request("emulated", "2", "100");
    shunt("emulating", "2", NULL, NULL, NULL);
    tick(100);
    assert_result("ok", 2);
    assert_state("emulated");
    ck_assert_contains(out.answer.error, "warning: the PV ring did not reach Closed");
    /* Still up as far as the machine knows: the tear-down is called off. */
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_KEEP);
    ck_assert(c.backend_up);
}
END_TEST

/* A rollback whose tear-down outlives its bound (seen in make check on a
 * loaded host with a 100 ms bound): the tear-down is called off, and the
 * next switch to pv uses that backend instead of starting while the
 * adapter still removes it (it then removed ctl-devid under the shunt). */
START_TEST(rollback_close_timeout_keeps_backend)
{
    pv_switch_running("100");
    shunt("emulating", "1", "in-flight requests did not drain", NULL, NULL);
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_TEAR_DOWN);
    tick(100);
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_KEEP);
    assert_result("rolled-back", 1);
    assert_state("emulated");
    ck_assert_contains(out.answer.error, "the PV backend did not close within 100 ms");
    ck_assert(c.backend_up);
    request("pv", "2", NULL);
    ck_assert_uint_eq(out.actions, 0);
    assert_state("switching-to-pv");
}
END_TEST

START_TEST(bad_guest_values_are_ignored)
{
    pv_switch_running(NULL);
    shunt("enlightened", "one", NULL, NULL, NULL);
    ck_assert(!out.answer.publish);
    ck_assert_contains(out.note, "shunt-ack-id");
    shunt("pwned", "1", NULL, NULL, NULL);
    ck_assert(!out.answer.publish);
    ck_assert_contains(out.note, "shunt-state");
    shunt("enlightened", "1", NULL, "-5", "999999999999999999999");
    assert_result("ok", 1);
    ck_assert_uint_eq(c.blackout_us, 0);
    ck_assert_uint_eq(c.held, 0);
}
END_TEST

START_TEST(recover_stable_then_pending_request)
{
    ck_assert_int_eq(rtv_switch_fsm_recover(&c, now, "pv", "emulated", "3", "3",
                                            "enlightened", "3", true, &out), 0);
    ck_assert_uint_eq(c.phase, RTV_FSM_STABLE);
    ck_assert_uint_eq(c.mode, RTV_MODE_PV);
    request("emulated", "4", NULL);
    assert_state("switching-to-emulated");
    request("emulated", "3", NULL);
    ck_assert(!out.answer.publish);
}
END_TEST

START_TEST(recover_finishes_confirmed_switch)
{
    ck_assert_int_eq(rtv_switch_fsm_recover(&c, now, "switching-to-pv", "emulated",
                                            "9", "8", "enlightened", "9", true, &out), 0);
    assert_result("ok", 9);
    assert_state("pv");
}
END_TEST

START_TEST(recover_rolls_back_unconfirmed_switch)
{
    ck_assert_int_eq(rtv_switch_fsm_recover(&c, now, "switching-to-pv", "emulated",
                                            "9", "8", "quiescing", "8", true, &out), 0);
    assert_state("rolling-back");
    shunt("emulating", "9", NULL, NULL, NULL);
    tear_down_then_answer("rolled-back", 9);
    ck_assert_contains(out.answer.error, "restarted during the switch");
}
END_TEST

START_TEST(recover_rolling_back_already_confirmed)
{
    ck_assert_int_eq(rtv_switch_fsm_recover(&c, now, "rolling-back", "pv", "4", "3",
                                            "enlightened", "4", true, &out), 0);
    assert_result("rolled-back", 4);
    assert_state("pv");
    ck_assert_uint_eq(out.actions, 0);   /* pv still needs its backend */
}
END_TEST

START_TEST(flushed_shunt_asks_for_one_dm_sync_per_switch)
{
    pv_switch_running(NULL);
    shunt("quiescing", "0", NULL, NULL, NULL);
    ck_assert_uint_eq(out.actions, 0);
    shunt("flushed", "0", NULL, NULL, NULL);
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_DM_SYNC);
    ck_assert_uint_eq(c.dm_sync_id, 1);
    shunt("flushed", "0", NULL, NULL, NULL);        /* seen again */
    ck_assert_uint_eq(out.actions, 0);
    shunt("enlightened", "1", NULL, "10", "0");
    assert_result("ok", 1);
    request("emulated", "2", NULL);                 /* the way back: asked at once */
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_DM_SYNC);
    ck_assert_uint_eq(c.dm_sync_id, 2);
    shunt("flushed", "1", NULL, NULL, NULL);        /* and not again */
    ck_assert_uint_eq(out.actions, 0);
}
END_TEST

START_TEST(dm_sync_failure_rolls_back_only_a_running_switch)
{
    pv_switch_running(NULL);
    shunt("flushed", "0", NULL, NULL, NULL);
    simple(RTV_FSM_EV_DM_SYNC_FAILED);
    assert_state("rolling-back");
    shunt("emulating", "1", NULL, NULL, NULL);
    tear_down_then_answer("rolled-back", 1);
    ck_assert_str_eq(out.answer.error, "the device model's side of the emulated disk could "
                                "not be synced: boom");
    simple(RTV_FSM_EV_DM_SYNC_FAILED);                 /* stable: noted only */
    ck_assert(!out.publish_state && !out.answer.publish);
    ck_assert_contains(out.note, "no switch of ours waits for it");
}
END_TEST

START_TEST(dm_check_failure_keeps_the_guest_on_pv)
{
    to_pv("1");
    request("emulated", "2", NULL);
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_DM_SYNC);
    simple(RTV_FSM_EV_DM_SYNC_FAILED);                 /* qemu not fit to go back to */
    assert_state("rolling-back");
    shunt("enlightened", "2", NULL, NULL, NULL);
    assert_result("rolled-back", 2);
    ck_assert_uint_eq(out.actions, 0);              /* the ring it uses stays up */
    ck_assert(c.backend_up);
    ck_assert_contains(out.answer.error, "could not be synced: boom");
}
END_TEST

/* dm_sync_at_request (rtvirt-backd's default): the check runs with the
 * request, while the PV backend comes up, so the gate is open when the
 * shunt drains; `flushed` asks for nothing more. */
START_TEST(dm_sync_at_request_runs_with_the_bring_up)
{
    c.dm_sync_at_request = true;
    request("pv", "1", NULL);
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_BRING_UP | RTV_FSM_ACT_DM_SYNC);
    ck_assert_uint_eq(c.dm_sync_id, 1);
    ck_assert(!out.publish_state);                  /* the guest is not told yet */
    simple(RTV_FSM_EV_BACKEND_READY);
    assert_state("switching-to-pv");
    ck_assert_uint_eq(out.actions, 0);
    shunt("flushed", "0", NULL, NULL, NULL);        /* waiting at a closed gate */
    ck_assert_uint_eq(out.actions, 0);
    shunt("enlightened", "1", NULL, "10", "0");
    assert_result("ok", 1);
    /* Nothing to bring up: the guest is told only once the check passed,
     * so it never waits for it in its blackout. */
    request("selective", "2", NULL);
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_DM_SYNC);
    ck_assert(!out.publish_state);
    ck_assert_uint_eq(c.phase, RTV_FSM_GATE);
    ck_assert_uint_eq(c.dm_sync_id, 2);
    simple(RTV_FSM_EV_DM_SYNC_DONE);
    assert_state("switching-to-selective");
    ck_assert_uint_eq(out.actions, 0);
    simple(RTV_FSM_EV_DM_SYNC_DONE);                   /* seen again: nothing */
    ck_assert(!out.publish_state);
    shunt("selective", "2", NULL, "10", "0");
    assert_result("ok", 2);
    request("emulated", "3", NULL);
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_DM_SYNC);
    ck_assert(!out.publish_state);
    ck_assert_uint_eq(c.dm_sync_id, 3);
    simple(RTV_FSM_EV_DM_SYNC_DONE);
    assert_state("switching-to-emulated");
    shunt("emulating", "3", NULL, "10", "0");
    tear_down_then_answer("ok", 3);
    assert_state("emulated");
}
END_TEST

/* In GATE the guest was never told: a failed or silent check ends the
 * switch where it was, without a rolling-back state. */
START_TEST(dm_check_failure_or_silence_before_the_guest_is_told)
{
    to_pv("1");
    c.dm_sync_at_request = true;
    request("emulated", "2", "300");
    ck_assert_uint_eq(c.phase, RTV_FSM_GATE);
    simple(RTV_FSM_EV_DM_SYNC_FAILED);
    assert_result("rolled-back", 2);
    assert_state("pv");
    ck_assert_contains(out.answer.error, "could not be synced: boom");
    ck_assert_uint_eq(out.actions, 0);              /* the guest's ring stays */
    request("selective", "3", "300");
    ck_assert_uint_eq(c.phase, RTV_FSM_GATE);
    tick(299);
    ck_assert(!out.answer.publish);
    tick(1);
    assert_result("rolled-back", 3);
    assert_state("pv");
    ck_assert_contains(out.answer.error, "no answer within 300 ms");
    simple(RTV_FSM_EV_DM_SYNC_DONE);                   /* too late: nothing */
    ck_assert(!out.publish_state && !out.answer.publish);
    ck_assert(c.backend_up);
}
END_TEST

/* A check that fails before the guest was told undoes the backend only. */
START_TEST(dm_check_failure_during_bring_up_rolls_back)
{
    c.dm_sync_at_request = true;
    request("pv", "1", NULL);
    simple(RTV_FSM_EV_DM_SYNC_FAILED);
    ck_assert(!out.publish_state || strcmp(out.state, "rolling-back") != 0);
    tear_down_then_answer("rolled-back", 1);
    assert_state("emulated");
    ck_assert_contains(out.answer.error, "could not be synced: boom");
    ck_assert(!c.backend_up);
    /* the backend's late READY changes nothing */
    simple(RTV_FSM_EV_BACKEND_READY);
    ck_assert(!out.publish_state && !out.answer.publish);
}
END_TEST

START_TEST(recover_does_not_sync_a_switch_it_rolls_back)
{
    ck_assert_int_eq(rtv_switch_fsm_recover(&c, now, "switching-to-pv", "emulated",
                                            "9", "8", "flushed", "8", true, &out), 0);
    assert_state("rolling-back");
    ck_assert_uint_eq(out.actions & RTV_FSM_ACT_DM_SYNC, 0);
}
END_TEST

START_TEST(recover_refuses_unmanaged)
{
    ck_assert_int_eq(rtv_switch_fsm_recover(&c, now, NULL, NULL, NULL, NULL, NULL,
                                            NULL, false, &out), -EINVAL);
    ck_assert_contains(out.answer.error, "not managed");
    ck_assert_int_eq(rtv_switch_fsm_recover(&c, now, "sideways", NULL, NULL, NULL,
                                            NULL, NULL, false, &out), -EINVAL);
    ck_assert_contains(out.answer.error, "\"sideways\"");
}
END_TEST

/* Random events from guest, backend, clock and orchestrator: result-id never
 * goes backwards, STABLE always publishes a plain mode, and once the
 * orchestrator stops, bounded time brings the machine back to STABLE. */
/* The guest fails over from pv on its own: dom0 follows to emulated,
 * tearing the dead backend down first, answers no request, and a switch
 * to pv afterwards brings up a fresh backend. */
START_TEST(failover_is_followed_to_emulated)
{
    to_pv("1");
    shunt("failed-over", "1", "the PV leg 202:179712 failed", NULL, NULL);
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_TEAR_DOWN);
    assert_state("switching-to-emulated");
    ck_assert_uint_eq(out.switch_id, 1);
    ck_assert(!out.answer.publish && !out.publish_failover);
    /* Repeated while the backend goes: nothing more. */
    shunt("failed-over", "1", "the PV leg 202:179712 failed", NULL, NULL);
    ck_assert(!out.actions && !out.publish_state && !out.answer.publish);
    simple(RTV_FSM_EV_BACKEND_CLOSED);
    assert_state("emulated");
    ck_assert(!out.answer.publish);
    ck_assert(out.publish_failover && out.publish_stats);
    ck_assert_contains(out.failover_why, "the guest failed over from pv to the emulated path: "
                       "the PV leg 202:179712 failed");
    ck_assert_uint_eq(c.failovers, 1);
    ck_assert_uint_eq(c.switches, 1);
    ck_assert(!c.backend_up);
    /* The shunt then follows state emulated (same switch-id): nothing. */
    shunt("emulating", "1", NULL, NULL, NULL);
    ck_assert(!out.actions && !out.publish_state && !out.answer.publish);
    /* Back to pv once a backend is there: a fresh one. */
    request("pv", "2", NULL);
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_BRING_UP);
    simple(RTV_FSM_EV_BACKEND_READY);
    shunt("enlightened", "2", NULL, "10", "0");
    assert_result("ok", 2);
    assert_state("pv");
}
END_TEST

/* rtvirt-backd gone for good (rtvirt-backd --orphans close follows the
 * failover): dom0's cause comes first in failover, the guest's reason
 * after it, and a switch to pv afterwards is the usual one. */
START_TEST(failover_with_dom0_cause)
{
    to_pv("1");
    struct rtv_switch_fsm_event ev = { .kind = RTV_FSM_EV_SHUNT, .now_ms = now,
                                  .shunt_state = "failed-over", .shunt_ack_id = "1",
                                  .shunt_error = "PV leg xvdaaa failed (error -5)",
                                  .dom0_cause = "rtvirt-backd (pid 42) is gone for good" };
    rtv_switch_fsm_step(&c, &ev, &out);
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_TEAR_DOWN);
    simple(RTV_FSM_EV_BACKEND_CLOSED);
    assert_state("emulated");
    ck_assert(out.publish_failover);
    ck_assert_str_eq(out.failover_why, "rtvirt-backd (pid 42) is gone for good: the guest "
                     "failed over from pv to the emulated path: PV leg xvdaaa failed "
                     "(error -5)");
    ck_assert_uint_eq(c.failovers, 1);
    request("pv", "2", NULL);
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_BRING_UP);
}
END_TEST

/* From selective too; a backend that never closes: the bound ends the
 * failover with a warning after its reason, and the backend is kept. */
START_TEST(failover_close_timeout_keeps_backend)
{
    request("selective", "1", "100");
    simple(RTV_FSM_EV_BACKEND_READY);
    shunt("selective", "1", NULL, NULL, NULL);
    assert_state("selective");
    shunt("failed-over", "1", NULL, NULL, NULL);
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_TEAR_DOWN);
    request("pv", "2", NULL);   /* refused while the backend goes */
    assert_result("error", 2);
    tick(100);
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_KEEP);
    assert_state("emulated");
    ck_assert(out.publish_failover);
    ck_assert_contains(out.failover_why, "failed over from selective to the emulated path: "
                       "no reason given; warning: the PV ring did not reach Closed");
    ck_assert(c.backend_up);
}
END_TEST

/* failed-over is only a failover where dom0 says pv or selective. */
START_TEST(failover_outside_a_pv_mode_is_ignored)
{
    shunt("failed-over", "0", "x", NULL, NULL);
    ck_assert(!out.actions && !out.publish_state && !out.publish_failover);
    pv_switch_running(NULL);
    shunt("failed-over", "1", "x", NULL, NULL);   /* in a switch: not a report of the switch */
    ck_assert(!out.actions && !out.publish_state && !out.publish_failover);
    ck_assert_uint_eq(c.failovers, 0);
}
END_TEST

START_TEST(random_events_keep_invariants)
{
    static const char *modes[] = { "pv", "emulated", "selective", "bogus", NULL };
    static const char *shunts[] = { "emulating", "enlightened", "selective",
                                    "failed", "connecting", "flushed", "failed-over", "junk" };
    unsigned seed = 12345u + (unsigned)_i;
    uint32_t last_result = 0, next_id = 1;

    c.dm_sync_at_request = _i % 2;   /* both ways of asking for the gate */

    for (int step = 0; step < 20000; step++) {
        char id[16];
        unsigned r = (unsigned)rand_r(&seed);
        switch (r % 6) {
        case 0:
            snprintf(id, sizeof(id), "%u", (r >> 8) % 4 ? next_id++ : next_id / 2);
            request(modes[(r >> 4) % 5], id, (r >> 12) % 3 ? NULL : "100");
            break;
        case 1: simple(RTV_FSM_EV_BACKEND_READY); break;
        case 2:
            simple((r >> 4) % 4 == 0 ? RTV_FSM_EV_BACKEND_CLOSED
                   : (r >> 4) % 4 == 1 ? RTV_FSM_EV_BACKEND_FAILED
                   : (r >> 4) % 4 == 2 ? RTV_FSM_EV_DM_SYNC_FAILED : RTV_FSM_EV_DM_SYNC_DONE);
            break;
        case 3:
            snprintf(id, sizeof(id), "%u", c.switch_id - (r >> 10) % 2);
            shunt(shunts[(r >> 4) % 8], id, "x", "10", "1");
            ck_assert(!out.publish_failover || c.mode == RTV_MODE_EMULATED);
            break;
        default: tick((r >> 4) % 300); break;
        }
        if (out.answer.publish) {
            ck_assert_uint_ge(out.answer.id, last_result);
            last_result = out.answer.id;
        }
        if (out.publish_state && c.phase == RTV_FSM_STABLE)
            ck_assert_str_eq(out.state, rtv_mode_name(c.mode));
        ck_assert_uint_lt(c.mode, RTV_MODE_COUNT);
    }
    /* Quiet orchestrator; the slowest chain of bounds still ends. */
    for (int i = 0; i < 4 && c.phase != RTV_FSM_STABLE; i++)
        tick(RTV_FSM_DEFAULT_TIMEOUT_MS);
    ck_assert_uint_eq(c.phase, RTV_FSM_STABLE);
}
END_TEST

/* A NIC (class vif) runs the same machine against its own nodes: the
 * values are checked against the vif-* schema nodes, so a NIC has no
 * selective mode, and the guest's held count (a NIC holds nothing) is not
 * read. */
START_TEST(nic_switch_uses_its_own_nodes)
{
    rtv_switch_fsm_init_class(&c, &rtv_devclass_vif, RTV_MODE_EMULATED);
    request("selective", "1", NULL);
    assert_result("error", 1);
    ck_assert_contains(out.answer.error, "vif-request");
    ck_assert_uint_eq(out.actions, 0);

    request("pv", "2", "50");
    assert_result("error", 2);
    ck_assert_contains(out.answer.error, "vif-timeout-ms");

    request("pv", "3", NULL);
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_BRING_UP);
    simple(RTV_FSM_EV_BACKEND_READY);
    assert_state("switching-to-pv");
    shunt("flushed", "0", NULL, NULL, NULL);
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_DM_SYNC);
    /* "quiescing" is a disk's word, not a NIC's: ignored, with a note. */
    shunt("quiescing", "3", NULL, NULL, NULL);
    ck_assert(!out.publish_state && !out.answer.publish);
    ck_assert_contains(out.note, "vif-shunt-state");
    shunt("enlightened", "3", NULL, "800", "5");
    assert_result("ok", 3);
    assert_state("pv");
    ck_assert_uint_eq(c.blackout_us, 800);
    ck_assert_uint_eq(c.held, 0);

    /* A failed port check rolls back, naming the port. */
    request("emulated", "4", NULL);
    ck_assert_uint_eq(out.actions, RTV_FSM_ACT_DM_SYNC);
    assert_state("switching-to-emulated");
    simple(RTV_FSM_EV_DM_SYNC_FAILED);
    assert_state("rolling-back");
    shunt("enlightened", "4", NULL, NULL, NULL);
    assert_result("rolled-back", 4);
    ck_assert_contains(out.answer.error, "bridge port");
    assert_state("pv");
}
END_TEST

START_TEST(nic_recover_checks_vif_state)
{
    ck_assert_int_eq(rtv_switch_fsm_recover_class(&c, &rtv_devclass_vif, now, "selective", NULL,
                                                  "1", "1", NULL, NULL, false, &out), -EINVAL);
    ck_assert_contains(out.answer.error, "vif-state");
    /* Half-done towards pv, the shunt already there: finished. */
    ck_assert_int_eq(rtv_switch_fsm_recover_class(&c, &rtv_devclass_vif, now, "switching-to-pv",
                                                  "emulated", "7", "6", "enlightened", "7",
                                                  true, &out), 0);
    assert_result("ok", 7);
    assert_state("pv");
    ck_assert_ptr_eq(c.cls, &rtv_devclass_vif);
}
END_TEST

static Suite *switch_fsm_suite(void)
{
    Suite *s = suite_create("switch_fsm");
    /* 8 x 20000 random events: 11.7-14 s for the whole suite under ASan at
     * load 13.9 (lab + helpers), where Check's default 4 s per test cut
     * one of them off. */
    TCase *tc = rtv_unit_case(s, "core", setup, NULL, 30);

    RTV_UNIT_ADD(tc, emulated_to_pv, pv_to_emulated_closes_ring_after_shunt,
                     pv_to_selective_keeps_backend, same_mode_is_ok_at_once,
                     bad_request_is_refused_with_reason,
                     bad_request_id_reports_without_moving_result_id,
                     stale_and_repeated_requests_do_nothing,
                     request_during_switch_is_refused_and_result_id_never_decreases,
                     backend_not_up_in_time_rolls_back, backend_failure_rolls_back,
                     shunt_silent_rolls_back_through_shunt, shunt_failure_rolls_back,
                     shunt_failure_reason_is_quoted, dm_sync_failure_reason_is_quoted,
                     shunt_rolled_back_by_itself, rollback_unconfirmed_leaves_backend_up,
                     ring_close_timeout_is_a_warning, rollback_close_timeout_keeps_backend,
                     bad_guest_values_are_ignored, recover_stable_then_pending_request,
                     recover_finishes_confirmed_switch, recover_rolls_back_unconfirmed_switch,
                     recover_rolling_back_already_confirmed,
                     flushed_shunt_asks_for_one_dm_sync_per_switch,
                     dm_sync_failure_rolls_back_only_a_running_switch,
                     dm_check_failure_keeps_the_guest_on_pv,
                     dm_sync_at_request_runs_with_the_bring_up,
                     dm_check_failure_during_bring_up_rolls_back,
                     dm_check_failure_or_silence_before_the_guest_is_told,
                     recover_does_not_sync_a_switch_it_rolls_back, recover_refuses_unmanaged,
                     failover_is_followed_to_emulated, failover_with_dom0_cause,
                     failover_close_timeout_keeps_backend, failover_outside_a_pv_mode_is_ignored);
    tcase_add_loop_test(tc, random_events_keep_invariants, 0, 8);
    RTV_UNIT_ADD(tc, nic_switch_uses_its_own_nodes, nic_recover_checks_vif_state);
    return s;
}

RTV_UNIT_MAIN(switch_fsm_suite)
