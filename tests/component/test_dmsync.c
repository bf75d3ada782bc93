/*
 * rtvirt-backd's device-model sync on threads (dom0-backend/backd_dmsync.c)
 * against a real qemu: the result comes back through the eventfd with what
 * the sync said, the caller's thread is free meanwhile, a dead monitor is
 * an error with the reason, and free() waits for syncs still running.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../dom0-backend/backd_dmsync.h"
#include "qemu_fixture.h"
#include "unit.h"

static struct test_qemu_scratch scratch;   /* qemu_fixture.h */
static pid_t qemu = -1;
static struct backd_dmsync_result got[4];
static unsigned ngot;

static void done(void *ctx, const struct backd_dmsync_result *r)
{
    (void)ctx;
    ck_assert_uint_lt(ngot, 4);
    got[ngot++] = *r;
}

/* Polls the fd (bounded) and reaps until n results came back. */
static void wait_results(struct backd_dmsync *ds, unsigned n)
{
    for (int i = 0; i < 100 && ngot < n; i++) {
        struct pollfd p = { .fd = backd_dmsync_fd(ds), .events = POLLIN };
        poll(&p, 1, 100);
        backd_dmsync_reap(ds, done, NULL);
    }
    ck_assert_uint_eq(ngot, n);
}

static void setup(void)
{
    test_qemu_scratch_make(&scratch, "rtv-dmsync");
    ngot = 0;
}

static void teardown(void)
{
    test_qemu_stop(&qemu);
    test_qemu_scratch_remove(&scratch);
}

/* A sync set and a qemu holding the image as libxl's holds a guest's hda. */
static struct backd_dmsync *new_with_qemu(void)
{
    const struct test_qemu_drive d = { scratch.img, "raw", "ide0-hd0" };
    struct rtv_err err = { 0, "" };
    struct backd_dmsync *ds = backd_dmsync_new(&err);

    ck_assert_msg(ds != NULL, "%s", err.msg);
    qemu = test_qemu_start(scratch.sock, &d, 1, false, NULL);
    return ds;
}

START_TEST(sync_result_comes_back_through_the_fd)
{
    struct rtv_err err = { 0, "" };
    struct backd_dmsync *ds = new_with_qemu();

    ck_assert_int_eq(backd_dmsync_start(ds, scratch.sock, 5, "hda", scratch.img, 7, 3000, true, &err), 0);
    ck_assert_uint_eq(backd_dmsync_running(ds), 1);
    wait_results(ds, 1);
    ck_assert_uint_eq(backd_dmsync_running(ds), 0);
    ck_assert_uint_eq(got[0].dom, 5);
    ck_assert_str_eq(got[0].vdev, "hda");
    ck_assert_uint_eq(got[0].switch_id, 7);
    ck_assert_msg(got[0].rc == 0, "rc %d: %s", got[0].rc, got[0].msg);
    ck_assert_uint_gt(got[0].took_us, 0);
    backd_dmsync_free(ds);
}
END_TEST

START_TEST(dead_monitor_and_unknown_image_are_errors_with_the_reason)
{
    struct rtv_err err = { 0, "" };
    struct backd_dmsync *ds = new_with_qemu();

    /* Two at once, for two switches: each comes back with its own id. */
    ck_assert_int_eq(backd_dmsync_start(ds, scratch.sock, 5, "hda", "/no/such.img", 8, 3000, true, &err), 0);
    test_qemu_stop(&qemu);   /* its socket stays: connections are refused */
    ck_assert_int_eq(backd_dmsync_start(ds, scratch.sock, 5, "hda", scratch.img, 9, 3000, true, &err), 0);
    wait_results(ds, 2);
    for (unsigned i = 0; i < 2; i++) {
        ck_assert_int_lt(got[i].rc, 0);
        ck_assert_msg(got[i].msg[0] != '\0', "switch %u: no reason", got[i].switch_id);
        if (got[i].switch_id == 9)
            ck_assert_contains(got[i].msg, "cannot connect");
        else
            ck_assert_uint_eq(got[i].switch_id, 8);
    }
    backd_dmsync_free(ds);
}
END_TEST

START_TEST(free_waits_for_a_running_sync)
{
    struct rtv_err err = { 0, "" };
    struct backd_dmsync *ds = backd_dmsync_new(&err);

    ck_assert_ptr_nonnull(ds);
    /* Nobody listens: connect() fails at once, the thread ends by itself;
     * free() must join it rather than leave it running on freed memory. */
    ck_assert_int_eq(backd_dmsync_start(ds, scratch.sock, 5, "hda", scratch.img, 1, 3000, true, &err), 0);
    backd_dmsync_free(ds);
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(dmsync_suite, "dmsync", "threads", setup, teardown, 60,
                        sync_result_comes_back_through_the_fd,
                        dead_monitor_and_unknown_image_are_errors_with_the_reason,
                        free_waits_for_a_running_sync)

RTV_UNIT_MAIN_NEEDS(dmsync_suite, "qemu-system-x86_64", "qemu-system-x86")
