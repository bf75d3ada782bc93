/*
 * The device-model sync of the live switch (xenstore-schema section 1,
 * step 6) on threads of its own: a QMP exchange with a domain's qemu takes
 * tens of milliseconds in a loaded dom0 (hundreds seen in the lab), and
 * rtvirt-backd's loop serves every PV backend of every guest meanwhile — a
 * switch to emulated even runs it while the shunt drains its requests from
 * that very loop.  One thread per sync, bounded by the QMP timeout; results
 * come back through an eventfd the loop polls.
 */
#ifndef RTVIRT_BACKD_DMSYNC_H
#define RTVIRT_BACKD_DMSYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "rtvirt/err.h"
#include "rtvirt/seam.h"

struct backd_dmsync;

struct backd_dmsync_result {
    rtv_domid_t dom;
    char        vdev[16];
    uint32_t    switch_id;
    int         rc;          /* 0 or -errno (msg says why) */
    uint64_t    took_us;     /* from the connect to the answer */
    char        msg[sizeof(((struct rtv_err *)0)->msg)];   /* why; or what was found */
};

struct backd_dmsync *backd_dmsync_new(struct rtv_err *err);
/* Waits for the syncs still running (each is bounded). */
void backd_dmsync_free(struct backd_dmsync *ds);

/* Readable when a sync finished: call backd_dmsync_reap(). */
int backd_dmsync_fd(const struct backd_dmsync *ds);

/* Starts checking qemu's drive of image over the monitor socket sock
 * (rtv_qmp_drive_check), or with flush also flushing it
 * (rtv_qmp_drive_sync), for switch switch_id of dom's vdev.  -errno if no
 * thread could be started. */
int backd_dmsync_start(struct backd_dmsync *ds, const char *sock, rtv_domid_t dom,
                       const char *vdev, const char *image, uint32_t switch_id,
                       unsigned timeout_ms, bool flush, struct rtv_err *err);

/* Hands every finished sync to done(), in the caller's thread. */
void backd_dmsync_reap(struct backd_dmsync *ds,
                       void (*done)(void *ctx, const struct backd_dmsync_result *r),
                       void *ctx);

/* Syncs still running. */
unsigned backd_dmsync_running(const struct backd_dmsync *ds);

#endif
