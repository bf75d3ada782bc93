/*
 * A small QMP client for qemu's monitor socket (libxl gives every HVM
 * guest's device model one at /var/run/xen/qmp-libxl-<domid>).
 *
 * Every call is bounded by the timeout given at connect time.  Replies are
 * parsed with json-c; asynchronous events qemu interleaves are skipped (and
 * counted).  A QMP error reply becomes -EREMOTEIO with the command, qemu's
 * error class and description in err.
 */
#ifndef RTVIRT_IOEMU_QMP_H
#define RTVIRT_IOEMU_QMP_H

#include <json-c/json.h>
#include <stdint.h>

#include "rtvirt/err.h"

struct rtv_qmp;

/* Connects, reads the greeting, negotiates capabilities. */
int rtv_qmp_connect(const char *socket_path, int timeout_ms,
                    struct rtv_qmp **out, struct rtv_err *err);
void rtv_qmp_close(struct rtv_qmp *q);

/* Runs one command; args may be NULL.  On success *ret (if not NULL) gets
 * the "return" value, to json_object_put() by the caller. */
int rtv_qmp_exec(struct rtv_qmp *q, const char *cmd, json_object *args,
                 json_object **ret, struct rtv_err *err);

/* qemu's version string ("7.2.x"), from the greeting. */
const char *rtv_qmp_version(const struct rtv_qmp *q);

/* Asynchronous events seen (and skipped) so far. */
unsigned rtv_qmp_events_seen(const struct rtv_qmp *q);

/* Is a block device of that qdev id / node name known to qemu?  0 if so,
 * -ENOENT with the names qemu has in err otherwise. */
int rtv_qmp_find_block(struct rtv_qmp *q, const char *device,
                       struct rtv_err *err);

/* Drains every in-flight emulated block request and flushes qemu's block
 * layer to the image: `stop` (vm_stop drains and runs bdrv_flush_all) then
 * `cont`, only if the VM was running.  *paused_us gets how long it was
 * stopped.  Used at the flip so that the PV path reads what the emulated
 * path acknowledged. */
int rtv_qmp_drain_flush(struct rtv_qmp *q, uint64_t *paused_us,
                        struct rtv_err *err);

#endif
