/*
 * The xenstore side of runtime (de)virtualization: requests validated
 * against the schema, answered once under their id, refused while a change
 * runs, and the outcome of a change (ok, reset, rolled back) published.
 */
#include <stdio.h>

#include "csr_device.h"
#include "rtvirt/ioemu_ctl.h"
#include "unit.h"

static struct rtv_iov v;
static struct rtv_iov_logent logbuf[4];
static struct rtv_ioemu_ctl c;
static struct rtv_ioemu_ctl_out out;
static struct rtv_iov_out io;
static uint64_t now;

static void setup(void)
{
    rtv_iov_init(&v, &csr_table, RTV_IOV_DIRECT, logbuf, 4);
    rtv_ioemu_ctl_init(&c, &v, 0);
    memset(&out, 0, sizeof(out));
    now = 1000000;
}

static void request(const char *req, const char *id, const char *tmo)
{
    rtv_ioemu_ctl_request(&c, req, id, tmo, now, &out);
}

static void assert_result(const char *result, uint32_t id)
{
    ck_assert(out.answer.publish);
    ck_assert_str_eq(out.answer.result, result);
    ck_assert_uint_eq(out.answer.id, id);
}

static void assert_nothing(void)
{
    ck_assert(!out.answer.publish && !out.publish_state && !out.publish_stats);
    ck_assert_uint_eq(out.iov.actions, 0);
}

/* The device side of a change that was started: probe (virtualize), reach
 * the boundary, change (ok or not), replay; then what ioemu_ctl publishes. */
static void run_change(bool ok)
{
    struct rtv_iov_logent e;

    if (v.probing)
        ck_assert_int_eq(rtv_iov_probed(&v, ST_START, &io), 0);
    if (v.phase != RTV_IOV_CHANGE) {
        rtv_iov_poll(&v, now, RTV_IOV_READY | RTV_IOV_DRAINED, &io);
        ck_assert(io.actions & (RTV_IOV_ACT_TAKE_OVER | RTV_IOV_ACT_RESTORE));
    }
    rtv_iov_changed(&v, ok, ok ? NULL : "no ioreq server", &io);
    while (rtv_iov_replay_next(&v, now, &e, &io))
        ;
    rtv_ioemu_ctl_finished(&c, &io, &out);
}

START_TEST(virtualize_then_devirtualize)
{
    request("virtualize", "1", NULL);
    ck_assert(out.publish_state);
    ck_assert_str_eq(out.state, "virtualizing");
    ck_assert_uint_eq(out.iov.actions, RTV_IOV_ACT_TRAP);
    ck_assert(!out.answer.publish);
    ck_assert_uint_eq(v.bound_us, RTV_IOEMU_DEFAULT_TIMEOUT_MS * 1000ull);
    /* The same values again (another node of the directory changed). */
    request("virtualize", "1", NULL);
    assert_nothing();
    run_change(true);
    ck_assert(out.publish_state);
    ck_assert_str_eq(out.state, "virtualized");
    assert_result("ok", 1);
    ck_assert_str_eq(out.answer.error, "");
    ck_assert(out.publish_stats);
    rtv_ioemu_ctl_finished(&c, &io, &out);   /* told twice: answered once */
    ck_assert(!out.answer.publish);
    request("virtualize", "1", NULL);
    assert_nothing();

    request("devirtualize", "2", "250");
    ck_assert_str_eq(out.state, "devirtualizing");
    ck_assert_uint_eq(v.bound_us, 250000);
    run_change(true);
    ck_assert_str_eq(out.state, "direct");
    assert_result("ok", 2);
}
END_TEST

START_TEST(not_finished_publishes_nothing)
{
    request("virtualize", "1", NULL);
    memset(&io, 0, sizeof(io));
    rtv_ioemu_ctl_finished(&c, &io, &out);
    assert_nothing();
}
END_TEST

START_TEST(bad_request_id_is_reported_without_an_id)
{
    static const char *const bad[] = { "0", "abc", "-1", "4294967296", "01" };

    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        request("virtualize", bad[i], NULL);
        assert_result("error", 0);
        ck_assert_contains(out.answer.error, "ioemu-request-id");
        ck_assert_uint_eq(out.iov.actions, 0);
    }
    request("virtualize", NULL, NULL);
    assert_nothing();
    ck_assert_contains(out.note, "no request-id");
    rtv_ioemu_ctl_init(&c, &v, 7);          /* result-id stays where it was */
    request("virtualize", "x", NULL);
    assert_result("error", 7);
    ck_assert_int_eq(v.phase, RTV_IOV_STABLE);
}
END_TEST

START_TEST(bad_request_answered_under_its_id)
{
    request(NULL, "3", NULL);
    assert_result("error", 3);
    ck_assert_contains(out.answer.error, "ioemu-request: absent");
    request("pv", "4", NULL);
    assert_result("error", 4);
    ck_assert_contains(out.answer.error, "ioemu-request");
    ck_assert_contains(out.answer.error, "\"pv\"");
    request("virtualize", "5", "0");
    assert_result("error", 5);
    ck_assert_contains(out.answer.error, "ioemu-timeout-ms");
    ck_assert_int_eq(v.phase, RTV_IOV_STABLE);
    ck_assert(!out.publish_state);
}
END_TEST

START_TEST(old_ids_are_not_answered_again)
{
    rtv_ioemu_ctl_init(&c, &v, 7);          /* restarted: the store said 7 */
    request("virtualize", "7", NULL);
    assert_nothing();
    request("virtualize", "6", NULL);
    assert_nothing();
    ck_assert_contains(out.note, "older than the one answered last (7)");
    request("virtualize", "8", NULL);
    ck_assert_str_eq(out.state, "virtualizing");
}
END_TEST

START_TEST(request_while_changing_is_refused)
{
    request("virtualize", "1", NULL);
    request("devirtualize", "2", NULL);
    assert_result("error", 2);
    ck_assert_str_eq(out.answer.error, "request 2 refused: change 1 to virtualized is still running");
    ck_assert_uint_eq(out.iov.actions, 0);
    /* The running change finishes; its state is published, its result is
     * not (result-id never goes back: the tool reads state). */
    run_change(true);
    ck_assert_str_eq(out.state, "virtualized");
    ck_assert(!out.answer.publish);
    ck_assert_uint_eq(c.result_id, 2);
}
END_TEST

START_TEST(already_there_is_ok)
{
    request("devirtualize", "1", NULL);
    assert_result("ok", 1);
    ck_assert_str_eq(out.answer.error, "");
    ck_assert_contains(out.note, "already direct");
    ck_assert(!out.publish_state);
    ck_assert_uint_eq(out.iov.actions, 0);
}
END_TEST

START_TEST(rollback_and_reset_are_reported)
{
    request("virtualize", "1", NULL);
    run_change(false);
    assert_result("rolled-back", 1);
    ck_assert_str_eq(out.state, "direct");
    ck_assert_str_eq(out.answer.error, "no ioreq server");
    ck_assert_uint_eq(out.iov.actions, 0);

    /* A bound passed: the device was reset, the change still succeeded. */
    request("virtualize", "2", "1");
    ck_assert_int_eq(rtv_iov_probed(&v, ST_A, &io), 0);
    now += 1000;
    rtv_iov_poll(&v, now, RTV_IOV_READY | RTV_IOV_DRAINED, &io);
    ck_assert(io.actions & RTV_IOV_ACT_RESET);
    run_change(true);
    assert_result("ok", 2);
    ck_assert_contains(out.answer.error, "device reset");
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(ioemu_ctl_suite, "ioemu_ctl", "ioemu_ctl", setup, NULL, 0,
                        virtualize_then_devirtualize, not_finished_publishes_nothing,
                        bad_request_id_is_reported_without_an_id, bad_request_answered_under_its_id,
                        old_ids_are_not_answered_again, request_while_changing_is_refused,
                        already_there_is_ok, rollback_and_reset_are_reported)

RTV_UNIT_MAIN(ioemu_ctl_suite)
