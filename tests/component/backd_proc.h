/*
 * rtvirt-backd's engine in a child process of a component test, over a
 * local hub: start it, wait for what it did (its counters, sent on a pipe
 * whenever they change), stop it and get its last counters.
 *
 * Shared by the blkif component test and the seam fault sweep, so both run
 * the daemon the same way.  The child checks on its way out that it gave
 * back everything it took from the seam (rtv_local_held) and, in the
 * ASan build, that it leaked no memory: either costs it its exit status.
 */
#ifndef RTV_TEST_BACKD_PROC_H
#define RTV_TEST_BACKD_PROC_H

#include <stdbool.h>
#include <sys/types.h>

#include "../../dom0-backend/backd.h"
#include "child_proc.h"   /* rtv_test_wait_pid, for the daemon and its peers */
#include "rtvirt/local.h"

struct backend_proc {
    pid_t pid;
    int   stats_fd;
    struct backd_stats last;   /* the latest counters read (wait_backend) */
};

/* Exit statuses of the daemon's child beyond 0 (stopped cleanly). */
enum {
    BACKD_PROC_OPEN_FAILED = 10,   /* rtv_local_open */
    BACKD_PROC_NEW_FAILED  = 11,   /* backd_new: a clear error, said on stderr */
    BACKD_PROC_PIPE        = 12,
    BACKD_PROC_RUN_FAILED  = 13,
    BACKD_PROC_HELD        = 14,   /* seam resources still held after backd_free */
    BACKD_PROC_LEAKED      = 15,   /* LeakSanitizer found a leak */
};

/* In the ASan build: 0, or 1 when LeakSanitizer reports a leak (to stderr).
 * Elsewhere 0.  For a child that leaves with _exit(). */
int rtv_test_leak_check(void);

/* Fails (nonzero, said on stderr) if x still holds anything of the hub. */
int rtv_test_held_nothing(const struct rtv_xen *x, const char *who);

struct backend_proc start_backend(struct rtv_local_hub *hub, const struct backd_config *cfg);
/* Reads every record queued now: bp->last is then the daemon's latest. */
void drain_backend(struct backend_proc *bp);
/* Waits (at most ms) until the daemon's counters satisfy ok, reading its
 * records in order (older ones may still be queued). */
void wait_backend(struct backend_proc *bp, bool (*ok)(const struct backd_stats *), int ms);
/* Stops the daemon (SIGTERM) and returns its exit status (-1: it did not
 * stop and was killed); *last gets its counters as it stopped. */
int stop_backend_status(struct backend_proc bp, struct backd_stats *last);
/* As stop_backend_status, asserting it stopped with status 0. */
struct backd_stats stop_backend(struct backend_proc bp);
/* After what the daemon had to survive: it is still running, and stops
 * cleanly. */
struct backd_stats stop_surviving_backend(struct backend_proc bp);

#endif
