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
/* The same over a stream socket already connected to a QMP monitor (a
 * socket passed in, or one end of a socketpair in a test): takes fd over,
 * closing it on failure as rtv_qmp_close() does on success. */
int rtv_qmp_attach(int fd, int timeout_ms, struct rtv_qmp **out,
                   struct rtv_err *err);
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

/* What rtv_qmp_drive_check() / rtv_qmp_drive_sync() found and did. */
struct rtv_qmp_drive {
    char     device[64];   /* qemu's drive name (libxl's hda: "ide0-hd0") */
    char     format[32];   /* "raw" */
    char     cache[48];    /* "writeback", "writethrough"; ",direct", ",no-flush" */
    uint64_t took_us;
};

/* Syncs qemu's side of ONE emulated disk before the live switch flips
 * (either way), without pausing anything: the drive is the one whose image
 * file is `drive` (query-block's inserted.file, also after realpath), or
 * whose name or qdev id is `drive`.  Refused (-EMEDIUMTYPE) when qemu
 * opened it with a format that keeps state of its own (anything but raw, or
 * a backing file: the PV path would not see that state, and qemu would not
 * see the PV path's writes), -EIO when qemu reports an I/O error on it;
 * otherwise flushed with HMP `qemu-io DEV "flush"` (blk_flush: every write
 * qemu completed reaches the image, an fdatasync of its file).
 *
 * Not `stop`/`cont`: in qemu-xen, stopping the VM also disables qemu's
 * ioreq server (xen_hvm_change_state_handler), so every other emulated
 * device of the guest (NIC, serial, timers) would stall for the window.
 * Draining is the shunt's: it owns every request on the emulated disk
 * (O_EXCL) and flushes only after all of them completed. */
int rtv_qmp_drive_sync(struct rtv_qmp *q, const char *drive,
                       struct rtv_qmp_drive *out, struct rtv_err *err);

/* rtv_qmp_drive_sync() without the flush: finds the drive and refuses it
 * for the same reasons, and that is all.  What the live switch needs from
 * qemu (dom0-backend/README.md: qemu's raw driver keeps no data cache, both
 * paths reach one image file, the guest's own flushes reach qemu's
 * fdatasync), so it needs no drained guest and can run at the request. */
int rtv_qmp_drive_check(struct rtv_qmp *q, const char *drive,
                        struct rtv_qmp_drive *out, struct rtv_err *err);

#endif
