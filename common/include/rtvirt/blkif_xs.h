/*
 * The xenstore nodes of a vbd (xen/io/blkif.h), reached only through the
 * schema table (rtvirt/xs_schema.h, ids vbd-fe-* and vbd-be-* in
 * xenstore-schema/rtvirt-paths.md section 3): paths are built with
 * rtv_xs_path() and every value read is checked with rtv_xs_check_value()
 * before it is parsed.  Used by rtvirt-backd, librtvirt-front and their tests.
 */
#ifndef RTVIRT_BLKIF_XS_H
#define RTVIRT_BLKIF_XS_H

#include <stddef.h>

#include "rtvirt/seam.h"
#include "rtvirt/xs_schema.h"

/* The backend type directory rtvirt-backd serves ($BTYPE, xenstore-schema
 * section 3): backend/vbd3, never backend/vbd.  Linux's xenbus backend bus
 * offers each backend/<type>/<dom>/<devid> to the driver whose id is <type>
 * (an exact match), and xen-blkback's is "vbd": under vbd3 it never sees our
 * vbds, so it stays loaded and serves every other guest (XenServer's tapback
 * serves vbd3 the same way).  The stock xen-blkfront does not care: it
 * follows its device/vbd/<devid>/backend node wherever that points. */
#define BLKIF_XS_BTYPE         "vbd3"

/* The directory rtvirt-backd watches for new devices: the parent of every
 * vbd-be-* device directory it serves. */
#define BLKIF_XS_BE_ROOT_FMT   "/local/domain/%u/backend/" BLKIF_XS_BTYPE   /* $BEDOMID */

/* One vbd: who serves it, whose it is, which device, and the backend type
 * directory its backend nodes are under: BLKIF_XS_BTYPE for rtvirt-backd's
 * own; a frontend sets what its backend node names (vbd for the kernel's
 * blkback, qdisk for qemu's).  NULL names no backend node (-EINVAL). */
struct blkif_xs_dev {
    rtv_domid_t bedomid;
    rtv_domid_t domid;
    unsigned    devid;
    const char *btype;
};

/* Limits both ends use (schema: $QUEUE 0..255, $RING 0..15, order 0..4). */
#define BLKIF_XS_MAX_QUEUES        16u
#define BLKIF_XS_MAX_RING_ORDER    4u
#define BLKIF_XS_MAX_RING_PAGES    (1u << BLKIF_XS_MAX_RING_ORDER)

/* Path of node for device d; queue and ring fill $QUEUE and $RING where the
 * node has them (ignored otherwise).  0 or -errno. */
int blkif_xs_path(char *buf, size_t len, const struct blkif_xs_dev *d,
                  enum rtv_xs_node node, unsigned queue, unsigned ring);

/* Reads node and checks the value against the schema.  -ENOENT if absent,
 * -EINVAL if the value breaks the schema (err, may be NULL, says how). */
int blkif_xs_read(struct rtv_store *s, rtv_txn_t t, const struct blkif_xs_dev *d,
                  enum rtv_xs_node node, unsigned queue, unsigned ring,
                  char **val, struct rtv_err *err);

/* Reads a number node: schema-checked, then parsed and bounded by max.
 * Absent: *out = def and 0 when def_ok, else -ENOENT. */
int blkif_xs_read_uint(struct rtv_store *s, rtv_txn_t t, const struct blkif_xs_dev *d,
                       enum rtv_xs_node node, unsigned queue, unsigned ring,
                       unsigned long long max, bool def_ok, unsigned long long def,
                       unsigned long long *out);

/* Writes a printf-formatted value to node. */
int blkif_xs_printf(struct rtv_store *s, rtv_txn_t t, const struct blkif_xs_dev *d,
                    enum rtv_xs_node node, unsigned queue, unsigned ring,
                    const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* ---- the toolstack's part (what libxl's device_disk_add writes) ---------- */

/* xl's vdev name (xvda, xvdb1, hda, sdc, or a plain number) to the xenbus
 * device id, as libxl__device_disk_dev_number does for whole disks and
 * partitions.  -EINVAL for anything else. */
int blkif_vdev_to_devid(const char *vdev, unsigned *devid);

/* The extended vbd number (Xen's docs/misc/vbd-interface.txt): 1 << 28 |
 * disk << 8 | partition, what xl writes for xvd disks from xvdq (16) on.
 * A Linux HVM guest whose emulated disks were not unplugged lets its
 * xen-blkfront attach a vbd only in the xvd major (202 << 8: xvda..xvdp)
 * or in this form (blkfront_probe, "HVM does not support vbd"), and gives
 * an extended disk the minors disk << 8 .. disk << 8 | 255, which must fit
 * in the kernel's 20 minor bits: disks below BLKIF_DEVID_EXT_LINUX_DISKS. */
#define BLKIF_DEVID_EXT             (1u << 28)
#define BLKIF_DEVID_EXT_DISK(disk)  (BLKIF_DEVID_EXT | ((unsigned)(disk) << 8))
#define BLKIF_DEVID_EXT_LINUX_DISKS 4096u

/* The disk number of devid if it is a whole disk (partition 0) of the
 * extended form, else -1. */
long blkif_devid_ext_disk(unsigned devid);

struct blkif_xs_attach {
    struct blkif_xs_dev dev;
    const char *params;      /* image file or block device */
    bool        read_only;
    bool        cdrom;
};

/* Writes the backend and frontend nodes of a new vbd in one transaction
 * (retried on EAGAIN): the backend's under dev.btype (BLKIF_XS_BTYPE for a
 * vbd rtvirt-backd is to serve), the frontend's device/vbd/<devid>/backend
 * pointing there; with libxl's permissions: the frontend directory is
 * owned by the guest and readable by the backend domain, the backend
 * directory owned by the backend domain and readable by the guest.
 * -EEXIST if either directory already exists. */
int blkif_xs_attach(struct rtv_store *s, const struct blkif_xs_attach *a);

/* Removes both directories of d in one transaction (retried on EAGAIN),
 * with the parents that leaves empty, up to the domains' own directories:
 * device/vbd, device; backend/<type>/<domid>, backend/<type>, backend
 * (libxl's path clean-up).  No handshake: for a vbd whose ends let go of
 * the ring, or whose guest is gone. */
int blkif_xs_remove(struct rtv_store *s, const struct blkif_xs_dev *d);

/* Asks the backend to close, as libxl's detach does (online = 0, state =
 * Closing, one transaction): the frontend sees its backend Closing and
 * closes too (the stock blkfront then marks its disk dead and goes to
 * Closed).  Does not wait. */
int blkif_xs_close(struct rtv_store *s, const struct blkif_xs_dev *d);

/* libxl's detach: asks the backend to close (online = 0, state = Closing),
 * waits up to timeout_ms for the backend to reach Closed, then removes both
 * directories.  -ETIMEDOUT leaves them in place (force = remove anyway:
 * then -ETIMEDOUT says they were removed all the same, and the removal's
 * own error, that they were not). */
int blkif_xs_detach(struct rtv_store *s, const struct blkif_xs_dev *d,
                    int timeout_ms, bool force);

#endif
