/*
 * rtvirt-shunt as the control plane of the guest's dm device
 * /dev/mapper/rtvirt-<vdev> (target "rtvirt", shunt/kmod/): it follows
 * dom0's control nodes (xenstore-schema/rtvirt-paths.md section 1) and
 * writes the guest's report (section 2); the data path is the kernel's: a
 * switch is the target's `prepare` (the legs in force flushed while the I/O
 * goes on), the device-model gate (dm-synced-id), and the flip: the
 * target's `mode` message, no suspend (shunt/README.md, "The flip"); the PV
 * leg is attached before a flip to pv/selective and dropped after one to
 * emulated by a table swap (load, suspend, resume; bounded).  No guest I/O
 * passes through this process: killed, it leaves the device running (or,
 * killed inside a swap's suspend, suspended until it is restarted: held,
 * never failed), and a restarted one reads the live table and status and
 * carries on.
 *
 * Files: dmctl.c (this: the switch machine and its xenstore side),
 * dm_seam.h + dm_libdm.c (device-mapper through libdevmapper), dm_disks.c
 * (the legs in sysfs), shunt_nodes.c (the protocol's nodes).
 *
 * Threading: one thread runs dmctl_run_once and owns everything; a helper
 * thread runs each swap's suspend (it blocks for the drain), another waits for dm
 * events (a failover raises one); both hand back through a pipe.
 */
#ifndef RTVIRT_SHUNT_DMCTL_H
#define RTVIRT_SHUNT_DMCTL_H

#include <stdbool.h>
#include <stdint.h>

#include "dm_seam.h"
#include "rtvirt/err.h"
#include "rtvirt/seam.h"

typedef int (*dmctl_open_fn)(void *ctx, unsigned parts, struct rtv_xen *out,
                             struct rtv_err *err);

struct dmctl_config {
    const char   *vdev;          /* rtvirt device name, e.g. "hda" */
    const char   *emu_dev;       /* the emulated disk as "major:minor" */
    const char   *emu_name;      /* its name for emulated-dev ("sda"); NULL: none */
    uint64_t      sectors;       /* its size */
    unsigned      lbs;           /* its logical block size (bytes): a PV disk's must match */
    const char   *sysfs;         /* "/sys" (tests: a tree of their own) */
    const struct shunt_dm_ops *dm;
    void         *dm_ctx;
    dmctl_open_fn open_xen;      /* the store, as the guest */
    void         *open_ctx;
    /* Who the guest is now: xl restore and xl migrate bring it back under a
     * new domid, and its nodes with it (read at every resync; ctx is
     * open_ctx).  NULL: the domid never changes.  0 or -errno. */
    int         (*self_domid)(void *ctx, struct rtv_store *xs, rtv_domid_t *out);
    unsigned      attach_poll_ms; /* how often to look for the PV disk (50) */
    bool          verbose;
};

struct dmctl;

/* Creates the device over the emulated disk in emulated mode, or picks an
 * existing one up where it is (a device left suspended by a shunt that died
 * in a switch's blackout is resumed on its old table: that switch is rolled
 * back), writes the first report, starts watching.  NULL with err set. */
struct dmctl *dmctl_new(const struct dmctl_config *cfg, struct rtv_err *err);

/* One turn: waits at most max_ms for the store, the suspend helper or a dm
 * event, then acts (switch steps, bounds, failover report).  0 or -errno. */
int dmctl_run_once(struct dmctl *c, int max_ms);

/* Ends a switch that has not flipped (an attaching swap backed out, a
 * prepare cancelled: no bio stays held; a flip or a drop runs to its end),
 * stops the helpers, frees.  The dm device stays. */
void dmctl_free(struct dmctl *c);

struct dmctl_status {
    enum rtv_mode mode;          /* the live table's */
    bool          failed_over;
    bool          switching;
    bool          picked_up;     /* the device existed at start */
    char          pv_dev[RTV_DM_DEV_MAX];   /* the live PV leg, "" none */
    uint64_t      switches, aborts, blackout_us;
};
void dmctl_get_status(const struct dmctl *c, struct dmctl_status *st);

/* ---- the legs in sysfs (dm_disks.c) --------------------------------------- */

struct shunt_disk {
    char     name[64];           /* e.g. xvdb */
    char     dev[RTV_DM_DEV_MAX];/* "major:minor" */
    uint64_t sectors;
    unsigned lbs;                /* logical block size, bytes */
};

/* The disk xen-blkfront made for device/vbd/<devid>; -ENOENT until it is
 * there (the frontend connects after dom0 brought the backend up). */
int shunt_disk_of_vbd(const char *sysfs, unsigned devid, struct shunt_disk *d,
                      struct rtv_err *err);
/* The disk with that device number. */
int shunt_disk_of_devnum(const char *sysfs, unsigned major, unsigned minor,
                         struct shunt_disk *d, struct rtv_err *err);
/* Writes in flight on the disk dev ("major:minor"): its inflight file
 * (bio-based dm devices count theirs there too). */
int shunt_writes_in_flight(const char *sysfs, const char *dev, unsigned long *writes,
                           struct rtv_err *err);
/* The dm-rtvirt module's flush_at_flip (true when it cannot be read: the
 * module's default). */
bool shunt_flush_at_flip(const char *sysfs);

#endif
