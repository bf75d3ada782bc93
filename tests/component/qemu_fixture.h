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

/* Starts qemu with the drives (paused, -S, if asked) and waits, bounded, for
 * its QMP socket at sock; fails the test if it never appears or qemu exits.
 * qemu dies with the test process; its stdout (where HMP qemu-io prints)
 * goes to /dev/null. */
pid_t test_qemu_start(const char *sock, const struct test_qemu_drive *drives,
                      unsigned n, bool paused);

/* SIGKILL and reap (its socket stays, as a crashed qemu leaves it);
 * *pid = -1.  No-op if *pid <= 0. */
void test_qemu_stop(pid_t *pid);

#endif
