/*
 * The QMP client against a real qemu (qemu-system-x86_64 -machine none, with
 * one raw drive), the same protocol libxl's device model speaks: greeting
 * and capabilities, finding a block device, error replies, drain+flush on a
 * running and a paused VM, and bounded waits on a peer that never answers or
 * goes away.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qmp.h"
#include "unit.h"

static char dir[64], sock[128], img[128];
static pid_t qemu = -1;
static struct rtv_err err;

static void start_qemu(int paused)
{
    char qmparg[200], drive[200];

    snprintf(qmparg, sizeof(qmparg), "unix:%s,server=on,wait=off", sock);
    snprintf(drive, sizeof(drive), "file=%s,format=raw,if=none,id=disk0", img);
    qemu = fork();
    ck_assert_int_ge(qemu, 0);
    if (qemu == 0) {
        execlp("qemu-system-x86_64", "qemu-system-x86_64", "-machine", "none",
               "-nodefaults", "-display", "none", "-accel", "tcg",
               paused ? "-S" : "-nodefaults", "-qmp", qmparg, "-drive", drive,
               (char *)NULL);
        perror("exec qemu-system-x86_64 (from Debian's qemu-system-x86)");
        _exit(127);
    }
    /* Bounded wait for the socket to appear. */
    for (int i = 0; i < 200 && access(sock, F_OK) != 0; i++) {
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        int st;
        ck_assert_msg(waitpid(qemu, &st, WNOHANG) == 0, "qemu exited at start");
        nanosleep(&ts, NULL);
    }
    ck_assert_msg(access(sock, F_OK) == 0, "qemu's QMP socket %s never appeared", sock);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/rtv-qmp-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(sock, sizeof(sock), "%s/qmp.sock", dir);
    snprintf(img, sizeof(img), "%s/disk.img", dir);
    FILE *f = fopen(img, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(ftruncate(fileno(f), 1 << 20), 0);
    fclose(f);
    memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
    if (qemu > 0) {
        kill(qemu, SIGKILL);
        waitpid(qemu, NULL, 0);
        qemu = -1;
    }
    unlink(sock);
    unlink(img);
    rmdir(dir);
}

static int running(struct rtv_qmp *q)
{
    json_object *st, *r;
    ck_assert_int_eq(rtv_qmp_exec(q, "query-status", NULL, &st, &err), 0);
    ck_assert(json_object_object_get_ex(st, "running", &r));
    int v = json_object_get_boolean(r);
    json_object_put(st);
    return v;
}

START_TEST(connects_and_finds_block_devices)
{
    struct rtv_qmp *q;

    start_qemu(0);
    ck_assert_int_eq(rtv_qmp_connect(sock, 5000, &q, &err), 0);
    ck_assert_msg(strlen(rtv_qmp_version(q)) >= 5, "version \"%s\"", rtv_qmp_version(q));
    ck_assert_int_eq(rtv_qmp_find_block(q, "disk0", &err), 0);
    ck_assert_int_eq(rtv_qmp_find_block(q, "ide0-hd0", &err), -ENOENT);
    ck_assert_str_eq(err.msg, "qmp: qemu has no block device \"ide0-hd0\" (it has: disk0)");
    rtv_qmp_close(q);
}
END_TEST

START_TEST(error_replies_name_the_command)
{
    struct rtv_qmp *q;

    start_qemu(0);
    ck_assert_int_eq(rtv_qmp_connect(sock, 5000, &q, &err), 0);
    ck_assert_int_eq(rtv_qmp_exec(q, "no-such-command", NULL, NULL, &err), -EREMOTEIO);
    ck_assert_contains(err.msg, "qmp: no-such-command failed: CommandNotFound");
    /* The session survives an error. */
    ck_assert_int_eq(rtv_qmp_find_block(q, "disk0", &err), 0);
    rtv_qmp_close(q);
}
END_TEST

START_TEST(drain_flush_keeps_run_state)
{
    struct rtv_qmp *q;
    uint64_t us = 0;

    start_qemu(0);
    ck_assert_int_eq(rtv_qmp_connect(sock, 5000, &q, &err), 0);
    ck_assert(running(q));
    ck_assert_int_eq(rtv_qmp_drain_flush(q, &us, &err), 0);
    ck_assert(running(q));                    /* resumed */
    ck_assert_int_eq(rtv_qmp_exec(q, "stop", NULL, NULL, &err), 0);
    ck_assert_int_eq(rtv_qmp_drain_flush(q, &us, &err), 0);
    ck_assert(!running(q));                   /* left as it was */
    rtv_qmp_close(q);
}
END_TEST

START_TEST(silent_peer_times_out)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct rtv_qmp *q;
    int l = socket(AF_UNIX, SOCK_STREAM, 0);

    strcpy(sa.sun_path, sock);
    ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(l, 1), 0);
    time_t t0 = time(NULL);
    ck_assert_int_eq(rtv_qmp_connect(sock, 300, &q, &err), -ETIMEDOUT);
    ck_assert_str_eq(err.msg, "qmp: no answer from qemu within 300 ms");
    ck_assert_int_le(time(NULL) - t0, 2);
    close(l);
}
END_TEST

START_TEST(vanished_qemu_is_an_error_not_a_crash)
{
    struct rtv_qmp *q;

    start_qemu(1);
    ck_assert_int_eq(rtv_qmp_connect(sock, 5000, &q, &err), 0);
    kill(qemu, SIGKILL);
    waitpid(qemu, NULL, 0);
    qemu = -1;
    int rc = rtv_qmp_exec(q, "query-status", NULL, NULL, &err);
    ck_assert_msg(rc == -ECONNRESET || rc == -EPIPE, "rc %d: %s", rc, err.msg);
    rtv_qmp_close(q);
    ck_assert_int_eq(rtv_qmp_connect(sock, 300, &q, &err), -ECONNREFUSED);
    ck_assert_contains(err.msg, "is the device model running?");
}
END_TEST

static Suite *qmp_suite(void)
{
    Suite *s = suite_create("qmp");
    TCase *tc = tcase_create("qemu");

    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, connects_and_finds_block_devices);
    tcase_add_test(tc, error_replies_name_the_command);
    tcase_add_test(tc, drain_flush_keeps_run_state);
    tcase_add_test(tc, silent_peer_times_out);
    tcase_add_test(tc, vanished_qemu_is_an_error_not_a_crash);
    suite_add_tcase(s, tc);
    return s;
}

RTV_UNIT_MAIN(qmp_suite)
