/*
 * A real qemu for the component tests: qemu-system-x86_64 -machine none
 * holding drives and listening for QMP on a unix socket, as libxl's device
 * model holds a guest's disks (ioemu/ talks to it like to that one).
 */
#ifndef RTV_TEST_QEMU_FIXTURE_H
#define RTV_TEST_QEMU_FIXTURE_H

#include <stdbool.h>
#include <sys/types.h>

struct test_qemu_drive {
    const char *file;
    const char *format;   /* "raw", "qcow2", ... */
    const char *id;       /* the drive's name in the monitor */
};

/* Starts qemu with the drives (paused, -S, if asked), its QMP socket at sock
 * waiting for a first client, and connects as that client; waits, bounded,
 * until qemu greets on it; fails the test if it never does or qemu exits.
 * With session, that greeted connection is the caller's (its greeting still
 * unread: rtv_qmp_attach() it); without, it is closed, and the next client
 * connects by the path, once qemu runs (qemu_fixture.c says why the first
 * client must not come while qemu starts).
 * qemu dies with the test process; its stdout (where HMP qemu-io prints)
 * goes to /dev/null. */
pid_t test_qemu_start(const char *sock, const struct test_qemu_drive *drives,
                      unsigned n, bool paused, int *session);

/* A scratch directory for such a test: /tmp/<prefix>-XXXXXX holding a 1 MiB
 * raw image disk.img (path in img) and the path qmp.sock for qemu's
 * monitor (in sock, not created).  Each buffer holds 128 bytes. */
struct test_qemu_scratch {
    char dir[64], sock[128], img[128];
};
void test_qemu_scratch_make(struct test_qemu_scratch *s, const char *prefix);
/* Removes the image, the socket and the directory (other files first). */
void test_qemu_scratch_remove(const struct test_qemu_scratch *s);

/* SIGKILL and reap (its socket stays, as a crashed qemu leaves it);
 * *pid = -1.  No-op if *pid <= 0. */
void test_qemu_stop(pid_t *pid);

#endif
