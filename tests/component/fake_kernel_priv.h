/*
 * Inside the guest kernel stand-in (fake_dm_kernel.h): its state, shared by
 * the dm target (fake_dm_kernel.c) and blkfront (fake_blkfront.c).  Every
 * field is guarded by mu; the kernel thread does all I/O.
 */
#ifndef RTV_TEST_FAKE_KERNEL_PRIV_H
#define RTV_TEST_FAKE_KERNEL_PRIV_H

#include <poll.h>
#include <pthread.h>

#include "fake_dm_kernel.h"
#include "rtvirt/log.h"

#define FK_DISKS      8
#define FK_POLLFDS    (1 + 2 * FK_DISKS)   /* blkfront's: its store watch, each ring */
#define FK_TICK_MS    10                   /* the kernel thread looks around at least this often */
#define FK_RANGES     256                  /* writes a flip records (dm-rtvirt.c's RTV_MAX_RANGES) */
#define FK_LEG_EMU    1u                   /* leg bits */
#define FK_LEG_PV     2u

enum fk_disk_state { FKD_FREE, FKD_PROBING, FKD_RETRY, FKD_UP, FKD_GONE };

/* A disk of blkfront's: device/vbd/<devid>. */
struct fk_disk {
    enum fk_disk_state st;
    unsigned           devid;
    /* the connect helper's (read by the kernel thread after th_done) */
    pthread_t          th;
    bool               th_done;
    int                th_rc;
    char               th_msg[256];
    struct rtv_xen     x;
    struct rtv_front  *f;
    /* up */
    char               name[16], dev[16];
    uint64_t           sectors;
    uint32_t           max_bytes;
    bool               published;
    unsigned           refs;        /* tables that hold it */
    unsigned           inflight;    /* bios with a part on it */
    struct fk_bio     *wait_head, *wait_tail;   /* the ring was full */
    uint64_t           retry_us;
};

struct fake_kernel {
    struct fake_kernel_config cfg;
    pthread_mutex_t     mu;
    pthread_cond_t      cv;
    pthread_t           th;
    bool                stop;
    int                 wake;        /* eventfd */
    struct rtv_xen      xs;          /* blkfront's probe: the guest's store */
    char                vbd_dir[64];
    bool                rescan;
    uint64_t            last_scan_ms;
    int                 emu_fd;
    unsigned            published;   /* disks ever published: names and numbers */
    struct fk_disk      disk[FK_DISKS];
    /* the dm device */
    bool                exists;
    char                name[RTV_DM_NAME_MAX];
    struct rtv_dm_table live, inactive;
    int                 live_pv, inactive_pv;     /* disk index, -1 none */
    bool                live_via_leg, inactive_via_leg;   /* PV leg: the PV leg device */
    /* the PV leg device "rtvirt-<vdev>.pv" (error, or linear over a disk) */
    bool                leg_exists, leg_suspended, leg_has_inactive;
    char                leg_name[RTV_DM_NAME_MAX];
    int                 leg_disk, leg_inactive_disk;   /* disk index, -1: error */
    uint64_t            leg_sectors;
    uint64_t            pv_leg_waits;   /* bios that reached it while suspended */
    bool                has_inactive;
    struct rtv_dm_status st;
    uint32_t            event_nr;
    bool                suspending, suspended, flush_started;
    unsigned            flush_gen, flushes_out;
    uint64_t            suspend_start_us;
    bool                wrote_emu, wrote_pv;      /* since the last postsuspend flush */
    struct fk_cached   *cache_head, *cache_tail;  /* the emulated disk's write cache */
    unsigned            cache_count;
    pthread_t           in_suspend, in_wait;
    bool                suspend_waiting, wait_waiting, intr_suspend, intr_wait;
    struct fk_bio      *in_head, *in_tail;        /* submitted, not yet seen */
    struct fk_bio      *held_head, *held_tail;    /* held by a suspend */
    /* the flip (dm-rtvirt 1.1's messages) */
    enum rtv_dm_flip    flip;
    bool                tracking, flush_started_flip;
    unsigned            epoch, track_epoch, track_legs, overflow;
    unsigned            pv_writes[2];             /* PV writes in flight per epoch */
    struct { uint64_t start, end; unsigned leg; } ranges[FK_RANGES];
    unsigned            nr_ranges;
    unsigned            flip_gen, flip_flushes_out;
    uint64_t            prepare_start_us;
    struct fk_bio      *fheld_head, *fheld_tail;  /* held by a flip */
    unsigned            fheld;
    unsigned            inflight;
    struct fake_kernel_stats stats;
    struct fake_kernel_stats closed;            /* blkfront's, of disks closed */
};


/* fake_dm_kernel.c */
/* A line of the kernel's, with -v (RTV_TEST_VERBOSE). */
#define fk_log(k, ...) \
    do { if ((k)->cfg.verbose) rtv_logf(NULL, "guest kernel", __VA_ARGS__); } while (0)
void fk_kick(struct fake_kernel *k);
void fk_push(struct fk_bio **head, struct fk_bio **tail, struct fk_bio *b);
struct fk_bio *fk_pop(struct fk_bio **head, struct fk_bio **tail);
/* One leg's part of b ended with status (a PV error may fail over). */
void fk_leg_done(struct fake_kernel *k, struct fk_bio *b, bool pv, int status);

/* fake_emu_disk.c: the emulated leg, the image file behind a write cache */
int  fk_emu_do(struct fake_kernel *k, const struct fk_bio *b);
int  fk_emu_flush(struct fake_kernel *k);
void fk_emu_fini(struct fake_kernel *k);

/* fake_blkfront.c: the PV disks */
int  fk_blkfront_init(struct fake_kernel *k, struct rtv_err *err);
/* Connects that finished, retries, the rings polled, detached disks
 * released, device/vbd looked at again when it changed (or 200 ms passed). */
void fk_blkfront_turn(struct fake_kernel *k);
/* What the kernel thread polls for blkfront; the store watch first. */
unsigned fk_blkfront_pollfds(struct fake_kernel *k, struct pollfd *pfd);
void fk_blkfront_events(struct fake_kernel *k, const struct pollfd *pfd);
void fk_blkfront_fini(struct fake_kernel *k);
/* A table's PV leg by "major:minor": held (refs) until fk_blkfront_put. */
int  fk_blkfront_get(struct fake_kernel *k, const char *dev, uint64_t sectors, int *disk,
                     struct rtv_err *err);
void fk_blkfront_put(struct fake_kernel *k, int *disk);
/* b's PV part on disk, split to what the ring carries; ends in fk_leg_done. */
void fk_pv_submit(struct fake_kernel *k, int disk, struct fk_bio *b);
void fk_blkfront_stats(struct fake_kernel *k, struct fake_kernel_stats *st);

#endif
