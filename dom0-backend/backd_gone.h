/*
 * Is the rtvirt-backd that published its pid in the store still there?
 * rtvirt-backd asks before it starts (one daemon per host), and
 * `rtvirt-backd --orphans close` before it touches a ring: it may act only
 * once the daemon that served the rings is gone (dom0-backend/README.md,
 * "Gone for good").
 */
#ifndef RTVIRT_BACKD_GONE_H
#define RTVIRT_BACKD_GONE_H

#include <sys/types.h>

#include "rtvirt/seam.h"

/* rtvirt-backd's presence nodes (xenstore-schema section 4). */
#define BACKD_STATE_PATH "/local/domain/0/rtvirt/backd/state"
#define BACKD_PID_PATH   "/local/domain/0/rtvirt/backd/pid"

/* The pid the presence node names (*recorded, 0 if none or unreadable),
 * returned if that process exists and is not self, else 0.  A process
 * that exists includes a zombie and a stranger that reused the pid of a
 * daemon killed with SIGKILL (which leaves its node behind): both count as
 * running, the safe answer for a caller that must wait for the daemon to
 * be gone. */
pid_t backd_running_pid(struct rtv_store *xs, pid_t self, pid_t *recorded);

#endif
