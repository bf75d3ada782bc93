/*
 * A file-backed stand-in for the guest kernel's data path, for the switch
 * component test: what shunt/kmod/dm-rtvirt.c and the stock xen-blkfront
 * do in the guest, played in one thread of the guest's process on the host.
 *
 *   dm device   "rtvirt-<vdev>" driven through the dm seam
 *               (shunt/dm_seam.h: fake_kernel_dm_ops), so rtvirt-shunt's
 *               real control plane (shunt/dmctl.c) switches it.  Tables
 *               as the target's (rtv_dm_table_params refuses what the
 *               constructor would); routing per mode as the target's
 *               (selective: reads and writes to PV, discards to the
 *               emulated leg; a flush to every leg in force or written
 *               since its last flush); the flip's messages (prepare:
 *               the legs in force flushed and their writes recorded from
 *               then; mode: the route flipped at once, a bio on the other
 *               leg over a recorded write held until the old legs' writes
 *               of before the flip completed and those legs were flushed
 *               again; cancel); suspend holds new bios,
 *               waits for those in flight (interruptible, as dm's is),
 *               then flushes every leg written since its last flush
 *               (postsuspend); resume swaps in the loaded table and lets
 *               the held bios go on in order; a PV-leg error other than
 *               "not supported" fails over (the bio is re-issued on the
 *               emulated leg, the status says failed-over, an event is
 *               raised).  Its PV leg may be the PV leg device
 *               "rtvirt-<vdev>.pv" ("253:1"; the leg_* ops: "error", where
 *               a bio fails and an empty flush ends at once, or linear over
 *               a blkfront disk), whose own suspend drains what is in
 *               flight on it; a bio that reaches it suspended is counted
 *               (pv_leg_waits: the guest would wait there) and let through.
 *   legs        the emulated disk ("8:0", fake_emu_disk.c) is the image
 *               file behind a write-back cache that only a flush (or cache
 *               pressure) writes back; a PV disk (fake_blkfront.c) is
 *               librtvirt-front (domU-frontend/) on the local hub,
 *               attached as blkfront attaches: when dom0 writes a vbd under
 *               the guest's device/vbd (vbds naming IDE/SCSI disks are left
 *               to the emulated disks, as blkfront does while they are not
 *               unplugged), connected on a helper thread, and published in
 *               the test's sysfs tree (bus/xen/devices/vbd-<devid>/block/
 *               <name>/{dev,size}) once Connected, removed once the
 *               toolstack detached it.  Requests larger than the ring
 *               carries are split, as the block layer splits bios for
 *               blkfront.
 *
 * Nothing here is proof of the kernel's behaviour (the lab's flights and
 * `make kmod-check` are): it lets the protocol run end to end on the host
 * with every byte a real file or a real blkif ring.
 */
#ifndef RTV_TEST_FAKE_DM_KERNEL_H
#define RTV_TEST_FAKE_DM_KERNEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../shunt/dm_seam.h"
#include "rtvirt/front_blk.h"
#include "rtvirt/local.h"

#define FAKE_KERNEL_EMU_DEV "8:0"    /* the emulated disk's device number */
#define FAKE_KERNEL_LEG_DEV "253:1"  /* the PV leg device's (shunt/README.md) */

struct fake_kernel_config {
    struct rtv_local_hub *hub;
    rtv_domid_t           domid;          /* the guest */
    const char           *image;          /* the emulated disk: the image file */
    const char           *sysfs;          /* the tree blkfront's disks appear in */
    unsigned              suspend_min_ms; /* a suspend takes at least this long
                                             (a slow drain); 0: as long as it takes */
    /* The test's hand on the flip: while *hold_prepare is nonzero (shared
     * memory: the test is another process) a `prepare` does not complete,
     * so shunt-state stays quiescing until the test has seen it and lets
     * go (a handshake: a poller may miss a state held for a fixed time on
     * a loaded host).  The shunt's own bound still ends the wait.  NULL:
     * no hold. */
    const atomic_int     *hold_prepare;
    /* The test's hand on rtvirt-shunt itself (FK_STALL_*): the dm status
     * the control plane asks does not return while the test says so, and
     * the control plane stalls in it, seeing nothing of dom0 meanwhile, as
     * a descheduled rtvirt-shunt on a loaded guest does; the kernel goes
     * on (a prepare completes).  NULL: never. */
    const atomic_int     *stall_status;
    /* While *hold_blkfront is nonzero, blkfront looks neither at its
     * rings nor at its backends' states: a frontend slow to close (a
     * descheduled guest).  NULL: never. */
    const atomic_int     *hold_blkfront;
    struct rtv_front_config front;        /* blkfront's ring settings (devid unused) */
    bool                  verbose;
};

/* *stall_status: */
enum {
    FK_STALL_NONE,      /* no stall */
    FK_STALL_ALL,       /* every status call stalls */
    FK_STALL_FLIP,      /* one asked while a flip is being prepared (or is
                           prepared) stalls, and returns, once let go, only
                           with the flip prepared */
};

enum fk_op { FK_READ, FK_WRITE, FK_FLUSH, FK_DISCARD };

/* A bio on the dm device, as a filesystem submits it. */
struct fk_bio {
    enum fk_op op;
    uint64_t   sector;                    /* 512-byte sectors */
    uint32_t   len;                       /* bytes (0 for a flush) */
    void      *buf;                       /* len bytes for read/write */
    /* Called on the kernel's thread with its lock held: it must not submit. */
    void     (*done)(struct fk_bio *b, int status);
    void      *priv;
    /* the kernel's */
    struct fk_bio *next;
    int        status, pv_status, pv_disk;
    unsigned   legs_left, chunks_out;
    uint32_t   pv_off;                    /* bytes handed to the PV ring so far */
    bool       pv_sent, via_pv_table;
    bool       pv_write;                  /* a write counted in pv_writes[epoch] */
    unsigned   epoch;                     /* the route's when dispatched */
    uint64_t   held_us;                   /* when a flip held it */
};

struct fake_kernel_stats {
    uint64_t bios, errors;                /* completed; of them with an error */
    uint64_t failovers, pv_errors;        /* as the target's status counts them */
    uint64_t pv_sessions, pv_reconnects, pv_requeued;  /* blkfront's */
    uint64_t pv_leg_waits;                /* bios that reached the PV leg device while
                                             its table was being swapped: ones the
                                             guest would have waited for (must be 0) */
};

struct fake_kernel;

struct fake_kernel *fake_kernel_new(const struct fake_kernel_config *cfg, struct rtv_err *err);
/* Stops the kernel's thread, closes the PV disks (bounded by the front's
 * timeout), frees. */
void fake_kernel_free(struct fake_kernel *k);

/* The dm seam over this kernel; ctx is the struct fake_kernel. */
extern const struct shunt_dm_ops fake_kernel_dm_ops;

/* A bio on the dm device (from any thread); a device that does not exist
 * fails it with -ENXIO. */
void fake_kernel_submit(struct fake_kernel *k, struct fk_bio *b);

void fake_kernel_get_stats(struct fake_kernel *k, struct fake_kernel_stats *st);

#endif
