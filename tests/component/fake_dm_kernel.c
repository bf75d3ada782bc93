/*
 * The guest kernel's data path on the host (fake_dm_kernel.h): the dm target
 * "rtvirt" over the image file and blkfront's disks (fake_blkfront.c).
 *
 * Threading: one kernel thread does all I/O and owns the fronts (the front
 * library is single-threaded); the dm seam's ops run on rtvirt-shunt's
 * threads and change the device's state under the same lock, waking the
 * kernel thread through an eventfd; suspend and wait_event wait on the
 * condition variable.  A front is opened on a helper thread (the handshake
 * waits on the backend; emulated I/O goes on meanwhile) and handed over
 * when it is Connected.
 */
#include "fake_kernel_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "rtvirt/clock.h"

void fk_kick(struct fake_kernel *k)
{
    uint64_t one = 1;

    if (write(k->wake, &one, sizeof(one)) < 0) {
        /* The counter cannot overflow in a test; the tick catches up anyway. */
    }
}

void fk_push(struct fk_bio **head, struct fk_bio **tail, struct fk_bio *b)
{
    b->next = NULL;
    if (*tail)
        (*tail)->next = b;
    else
        *head = b;
    *tail = b;
}

struct fk_bio *fk_pop(struct fk_bio **head, struct fk_bio **tail)
{
    struct fk_bio *b = *head;

    if (b) {
        *head = b->next;
        if (*head == NULL)
            *tail = NULL;
    }
    return b;
}

/* ---- the legs ---------------------------------------------------------------- */

static void bio_end(struct fake_kernel *k, struct fk_bio *b)
{
    k->inflight--;
    k->stats.bios++;
    if (b->status)
        k->stats.errors++;
    b->done(b, b->status);
    pthread_cond_broadcast(&k->cv);   /* a suspend may be draining */
}

/* A write of b completed on leg (FK_LEG_*): recorded for a flip (as
 * dm-rtvirt.c's rtv_write_done). */
static void record_write(struct fake_kernel *k, const struct fk_bio *b, unsigned leg)
{
    if (!k->tracking || b->epoch != k->track_epoch || !(k->track_legs & leg) || b->len == 0)
        return;
    if (k->nr_ranges == FK_RANGES) {
        k->overflow |= leg;
        return;
    }
    k->ranges[k->nr_ranges].start = b->sector;
    k->ranges[k->nr_ranges].end = b->sector + b->len / 512;
    k->ranges[k->nr_ranges].leg = leg;
    k->nr_ranges++;
}

/* One leg's part of b ended with status. */
void fk_leg_done(struct fake_kernel *k, struct fk_bio *b, bool pv, int status)
{
    if (pv && b->pv_write) {
        b->pv_write = false;
        k->pv_writes[b->epoch]--;
        if (status == 0) {
            k->wrote_pv = true;
            record_write(k, b, FK_LEG_PV);
        }
    }
    if (pv && status != 0) {
        k->st.pv_errors++;
        /* "Not supported" says nothing about the leg: passed up.  Any other
         * error on a PV-routing table fails over: re-issued on the emulated
         * leg, the filesystem sees no error (dm-rtvirt.c end_io). */
        if (status != -EOPNOTSUPP && b->via_pv_table) {
            if (!k->st.failed_over) {
                k->st.failed_over = true;
                k->st.in_force = RTV_MODE_EMULATED;
                k->event_nr++;
                fk_log(k, "PV leg failed (error %d): failed over to the emulated leg", status);
            }
            k->st.failovers++;
            status = fk_emu_do(k, b);
            if (status == 0 && (b->op == FK_WRITE || b->op == FK_DISCARD))
                record_write(k, b, FK_LEG_EMU);
        }
    }
    if (status != 0 && b->status == 0)
        b->status = status;
    if (--b->legs_left == 0)
        bio_end(k, b);
}

/* ---- the target: routing ------------------------------------------------------ */

/* Does b (going to leg) overlap a write a flip recorded on another leg? */
static bool overlaps_old_writes(const struct fake_kernel *k, const struct fk_bio *b, unsigned leg)
{
    uint64_t end = b->sector + b->len / 512;

    if (k->overflow & ~leg)
        return true;
    for (unsigned i = 0; i < k->nr_ranges; i++)
        if (k->ranges[i].leg != leg && k->ranges[i].start < end && b->sector < k->ranges[i].end)
            return true;
    return false;
}

/* The table has a PV leg (a disk, or the PV leg device). */
static bool has_pv_leg(const struct fake_kernel *k)
{
    return k->live_via_leg || k->live_pv >= 0;
}

/* b's PV part: to the disk, or through the PV leg device (error: a bio
 * fails there, an empty flush ends at once: no write cache to flush). */
static void submit_pv(struct fake_kernel *k, struct fk_bio *b)
{
    if (!k->live_via_leg) {
        fk_pv_submit(k, k->live_pv, b);
        return;
    }
    if (k->leg_suspended)
        k->pv_leg_waits++;   /* dm would hold it, and the guest wait */
    if (k->leg_disk >= 0)
        fk_pv_submit(k, k->leg_disk, b);
    else
        fk_leg_done(k, b, true, b->op == FK_FLUSH && b->len == 0 ? 0 : -EIO);
}

static void dispatch(struct fake_kernel *k, struct fk_bio *b)
{
    enum rtv_mode m = k->st.failed_over ? RTV_MODE_EMULATED : k->live.mode;
    bool to_pv, to_emu;

    k->inflight++;
    b->status = 0;
    b->epoch = k->epoch;
    b->via_pv_table = m != RTV_MODE_EMULATED && has_pv_leg(k);
    if (!b->via_pv_table)
        m = RTV_MODE_EMULATED;
    switch (b->op) {
    case FK_READ:
    case FK_WRITE:
        to_pv = m != RTV_MODE_EMULATED;
        to_emu = !to_pv;
        break;
    case FK_DISCARD:
        to_pv = m == RTV_MODE_PV;
        to_emu = !to_pv;
        break;
    default:
        /* A flush: every leg in force, and every leg written since its
         * last flush (a write that completed on a leg left at a flip); a
         * failed PV leg is never asked, the emulated leg's flush covers it. */
        to_pv = has_pv_leg(k) && !k->st.failed_over &&
                (m != RTV_MODE_EMULATED || k->wrote_pv);
        to_emu = m != RTV_MODE_PV || k->wrote_emu || (k->wrote_pv && k->st.failed_over);
        if (to_pv)
            k->wrote_pv = false;
        if (to_emu)
            k->wrote_emu = false;   /* its flush writes the cache back now */
        break;
    }
    if (k->flip == RTV_DM_FLIP_DRAINING && b->len > 0 &&
        overlaps_old_writes(k, b, to_pv ? FK_LEG_PV : FK_LEG_EMU)) {
        b->held_us = rtv_now_us();
        fk_push(&k->fheld_head, &k->fheld_tail, b);   /* in flight, for dm */
        k->fheld++;
        return;
    }
    if (to_pv && (b->op == FK_WRITE || b->op == FK_DISCARD) && b->len > 0) {
        b->pv_write = true;
        k->pv_writes[b->epoch]++;
    }
    b->legs_left = (unsigned)to_pv + (unsigned)to_emu;
    if (to_emu) {
        int rc = fk_emu_do(k, b);

        if (rc == 0 && (b->op == FK_WRITE || b->op == FK_DISCARD))
            record_write(k, b, FK_LEG_EMU);
        fk_leg_done(k, b, false, rc);
    }
    if (to_pv)
        submit_pv(k, b);
}

/* ---- flushes of its own: postsuspend's, the flip's --------------------------------- */

/* A flush of the PV leg the target sends itself (postsuspend's, a flip's):
 * *out counts those in flight; one whose *gen moved on (a suspend backed
 * out, a prepare cancelled) is not counted back. */
struct fk_flush {
    struct fk_bio      bio;
    struct fake_kernel *k;
    unsigned           gen, *gen_now, *out;
};

static void pv_flush_done(struct fk_bio *b, int status)
{
    struct fk_flush *fl = (struct fk_flush *)b;
    struct fake_kernel *k = fl->k;

    (void)status;   /* a failed PV flush failed over and flushed the emulated leg */
    if (fl->gen == *fl->gen_now && *fl->out > 0)
        (*fl->out)--;
    free(fl);
    pthread_cond_broadcast(&k->cv);
    fk_kick(k);
}

static void pv_flush(struct fake_kernel *k, unsigned *gen_now, unsigned *out)
{
    struct fk_flush *fl = calloc(1, sizeof(*fl));

    if (fl == NULL)
        return;
    *fl = (struct fk_flush){ .k = k, .gen = *gen_now, .gen_now = gen_now, .out = out };
    fl->bio = (struct fk_bio){ .op = FK_FLUSH, .done = pv_flush_done, .via_pv_table = true,
                               .legs_left = 1 };
    (*out)++;
    k->inflight++;   /* bio_end takes it back */
    submit_pv(k, &fl->bio);
}

/* Flushes the legs in mask: the emulated one now (it is synchronous here),
 * the PV one through its ring (flip_flushes_out until it ends). */
static void flip_flush(struct fake_kernel *k, unsigned mask)
{
    if ((mask & FK_LEG_PV) && has_pv_leg(k) && !k->st.failed_over) {
        k->wrote_pv = false;
        pv_flush(k, &k->flip_gen, &k->flip_flushes_out);
    } else if ((mask & FK_LEG_PV) && k->st.failed_over) {
        mask |= FK_LEG_EMU;   /* covers what the dead leg wrote */
    }
    if (mask & FK_LEG_EMU) {
        int rc;

        k->wrote_emu = false;
        if ((rc = fk_emu_flush(k)) < 0)
            fk_log(k, "flip: flush of the emulated leg: %s", strerror(-rc));
    }
}

/* The flip's own pace (dm-rtvirt.c rtv_flip_work), on the kernel thread. */
static void flip_progress(struct fake_kernel *k)
{
    struct fk_bio *b;
    uint64_t now = rtv_now_us(), stall = 0;
    unsigned written = k->overflow;

    if (k->flip == RTV_DM_FLIP_PREPARING) {
        if (!k->flush_started_flip) {
            k->flush_started_flip = true;
            flip_flush(k, k->track_legs & ((k->wrote_emu ? FK_LEG_EMU : 0) |
                                           (k->wrote_pv ? FK_LEG_PV : 0)));
        }
        /* suspend_min_ms: as slow as a suspend; hold_prepare: until the
         * test let go (the kill tests see it) */
        if (k->flip_flushes_out == 0 &&
            now >= k->prepare_start_us + (uint64_t)k->cfg.suspend_min_ms * 1000u &&
            (k->cfg.hold_prepare == NULL || atomic_load(k->cfg.hold_prepare) == 0)) {
            k->flip = RTV_DM_FLIP_PREPARED;
            k->event_nr++;
            pthread_cond_broadcast(&k->cv);
        }
        return;
    }
    if (k->flip != RTV_DM_FLIP_DRAINING || k->pv_writes[k->track_epoch] > 0)
        return;
    if (!k->flush_started_flip) {
        k->flush_started_flip = true;
        for (unsigned i = 0; i < k->nr_ranges; i++)
            written |= k->ranges[i].leg;
        flip_flush(k, written);
    }
    if (k->flip_flushes_out > 0)
        return;
    k->tracking = false;
    k->nr_ranges = 0;
    k->overflow = 0;
    k->flip = RTV_DM_FLIP_IDLE;
    while ((b = fk_pop(&k->fheld_head, &k->fheld_tail)) != NULL) {
        if (now - b->held_us > stall)
            stall = now - b->held_us;
        k->fheld--;
        k->inflight--;   /* dispatch counts it again */
        dispatch(k, b);
    }
    k->st.last_stall_us = stall;
    k->event_nr++;
    pthread_cond_broadcast(&k->cv);
}

static void suspend_progress(struct fake_kernel *k)
{
    if (!k->suspending || k->suspended || k->inflight > 0)
        return;
    if (!k->flush_started) {
        k->flush_started = true;
        k->flushes_out = 0;
        /* A PV leg that failed is not flushed: the emulated leg's flush
         * covers it (both write the same image). */
        if (k->wrote_pv && has_pv_leg(k) && !k->st.failed_over)
            pv_flush(k, &k->flush_gen, &k->flushes_out);
        if (k->wrote_emu || k->st.failed_over) {
            int rc = fk_emu_flush(k);
            if (rc < 0)
                fk_log(k, "postsuspend flush of the emulated leg: %s", strerror(-rc));
        }
        k->wrote_emu = k->wrote_pv = false;
    }
    if (k->flushes_out == 0 &&
        rtv_now_us() >= k->suspend_start_us + (uint64_t)k->cfg.suspend_min_ms * 1000u) {
        k->suspended = true;
        pthread_cond_broadcast(&k->cv);
    }
}

/* ---- the kernel thread ------------------------------------------------------------ */

static void turn(struct fake_kernel *k)
{
    struct fk_bio *b;

    while ((b = fk_pop(&k->in_head, &k->in_tail)) != NULL) {
        if (!k->exists) {
            k->stats.bios++;
            k->stats.errors++;
            b->done(b, -ENXIO);
        } else if (k->suspending || k->suspended) {
            fk_push(&k->held_head, &k->held_tail, b);   /* busy, never an error */
        } else {
            dispatch(k, b);
        }
    }
    if (!k->suspending && !k->suspended)
        while ((b = fk_pop(&k->held_head, &k->held_tail)) != NULL)
            dispatch(k, b);   /* in the order they came */
    fk_blkfront_turn(k);
    flip_progress(k);
    suspend_progress(k);
}

static void *kernel_main(void *arg)
{
    struct fake_kernel *k = arg;

    pthread_mutex_lock(&k->mu);
    while (!k->stop) {
        struct pollfd pfd[1 + FK_POLLFDS];
        unsigned n = 1;

        turn(k);
        pfd[0] = (struct pollfd){ .fd = k->wake, .events = POLLIN };
        n += fk_blkfront_pollfds(k, pfd + 1);
        pthread_mutex_unlock(&k->mu);
        poll(pfd, n, FK_TICK_MS);
        pthread_mutex_lock(&k->mu);
        if (pfd[0].revents & POLLIN) {
            uint64_t v;
            if (read(k->wake, &v, sizeof(v)) < 0) {
                /* EAGAIN: another turn drained it */
            }
        }
        fk_blkfront_events(k, pfd + 1);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

/* ---- the dm seam ------------------------------------------------------------------ */

/* Locks the kernel if name is our device (0); -ENXIO, unlocked, if not. */
static int lock_device(struct fake_kernel *k, const char *name, struct rtv_err *err)
{
    pthread_mutex_lock(&k->mu);
    if (k->exists && strcmp(name, k->name) == 0)
        return 0;
    pthread_mutex_unlock(&k->mu);
    return rtv_err_set(err, ENXIO, "device-mapper: %s: no such device", name);
}

/* Opens t's legs as the constructor does: -ENXIO for a device that is not
 * there.  A PV leg that is the PV leg device: *via_leg, *pv = -1. */
static int open_legs(struct fake_kernel *k, const struct rtv_dm_table *t, int *pv,
                     bool *via_leg, struct rtv_err *err)
{
    char params[200];
    int rc;

    if ((rc = rtv_dm_table_params(t, params, sizeof(params), err)) < 0)
        return rc;
    if (strcmp(t->emu, FAKE_KERNEL_EMU_DEV) != 0)
        return rtv_err_set(err, ENXIO, "rtvirt: cannot open the emulated leg %s", t->emu);
    *pv = -1;
    *via_leg = false;
    if (t->pv[0] == '\0')
        return 0;
    if (strcmp(t->pv, FAKE_KERNEL_LEG_DEV) == 0) {
        if (!k->leg_exists)
            return rtv_err_set(err, ENXIO, "rtvirt: cannot open the PV leg %s", t->pv);
        if (k->leg_sectors != t->sectors)
            return rtv_err_set(err, EINVAL, "rtvirt: the emulated and PV legs differ in size");
        *via_leg = true;
        return 0;
    }
    return fk_blkfront_get(k, t->pv, t->sectors, pv, err);
}

/* ---- the PV leg device (dm error / linear over a blkfront disk) ----------------- */

/* name is the PV leg device (called locked). */
static bool is_leg(const struct fake_kernel *k, const char *name)
{
    return k->leg_exists && strcmp(name, k->leg_name) == 0;
}

/* Opens leg's disk as dm-linear's constructor does; -1 for error. */
static int open_leg_disk(struct fake_kernel *k, const struct rtv_dm_leg *leg, int *disk,
                         struct rtv_err *err)
{
    const char *type;
    char params[100];
    int rc;

    *disk = -1;
    if ((rc = rtv_dm_leg_params(leg, &type, params, sizeof(params), err)) < 0)
        return rc;
    if (leg->disk[0] == '\0')
        return 0;
    return fk_blkfront_get(k, leg->disk, leg->sectors, disk, err);
}

static int f_leg_create(void *ctx, const char *name, const struct rtv_dm_leg *leg,
                        struct rtv_err *err)
{
    struct fake_kernel *k = ctx;
    int rc, disk;

    pthread_mutex_lock(&k->mu);
    if (k->leg_exists)
        rc = rtv_err_set(err, EEXIST, "device-mapper: %s exists", k->leg_name);
    else if ((rc = open_leg_disk(k, leg, &disk, err)) == 0) {
        snprintf(k->leg_name, sizeof(k->leg_name), "%s", name);
        k->leg_disk = disk;
        k->leg_sectors = leg->sectors;
        k->leg_exists = true;
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
}

static int f_leg_load(void *ctx, const char *name, const struct rtv_dm_leg *leg,
                      struct rtv_err *err)
{
    struct fake_kernel *k = ctx;
    int rc, disk;

    pthread_mutex_lock(&k->mu);
    if (!is_leg(k, name))
        rc = rtv_err_set(err, ENXIO, "device-mapper: %s: no such device", name);
    else if ((rc = open_leg_disk(k, leg, &disk, err)) == 0) {
        if (k->leg_has_inactive)
            fk_blkfront_put(k, &k->leg_inactive_disk);
        k->leg_inactive_disk = disk;
        k->leg_has_inactive = true;
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
}

static int f_leg_table(void *ctx, const char *name, struct rtv_dm_leg *leg, struct rtv_err *err)
{
    struct fake_kernel *k = ctx;
    int rc = 0;

    pthread_mutex_lock(&k->mu);
    if (!is_leg(k, name))
        rc = rtv_err_set(err, ENXIO, "device-mapper: %s: no such device", name);
    else {
        *leg = (struct rtv_dm_leg){ .sectors = k->leg_sectors };
        if (k->leg_disk >= 0)
            snprintf(leg->disk, sizeof(leg->disk), "%s", k->disk[k->leg_disk].dev);
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
}

/* The PV leg device's suspend: new bios would be held (counted instead,
 * pv_leg_waits), those in flight on its disk drain.  Called locked. */
static int leg_suspend(struct fake_kernel *k, const char *name, struct rtv_err *err)
{
    k->in_suspend = pthread_self();
    k->suspend_waiting = true;
    k->intr_suspend = false;
    while (k->leg_disk >= 0 && k->disk[k->leg_disk].inflight > 0 && !k->intr_suspend)
        pthread_cond_wait(&k->cv, &k->mu);
    k->suspend_waiting = false;
    if (k->leg_disk >= 0 && k->disk[k->leg_disk].inflight > 0)
        return rtv_err_set(err, EINTR, "device-mapper: suspend of %s interrupted", name);
    k->leg_suspended = true;
    return 0;
}

static void leg_resume(struct fake_kernel *k)
{
    if (k->leg_has_inactive) {
        fk_blkfront_put(k, &k->leg_disk);
        k->leg_disk = k->leg_inactive_disk;
        k->leg_inactive_disk = -1;
        k->leg_has_inactive = false;
    }
    k->leg_suspended = false;
    fk_kick(k);
}

static int f_info(void *ctx, const char *name, struct shunt_dm_info *o, struct rtv_err *err)
{
    struct fake_kernel *k = ctx;

    (void)err;
    pthread_mutex_lock(&k->mu);
    if (is_leg(k, name)) {
        *o = (struct shunt_dm_info){ .exists = true, .suspended = k->leg_suspended,
                                     .live_table = true, .inactive_table = k->leg_has_inactive,
                                     .major = 253, .minor = 1 };
        pthread_mutex_unlock(&k->mu);
        return 0;
    }
    bool ours = k->exists && strcmp(name, k->name) == 0;
    *o = (struct shunt_dm_info){ .exists = ours, .suspended = ours && k->suspended,
                                 .live_table = ours, .inactive_table = ours && k->has_inactive,
                                 .event_nr = k->event_nr, .major = 253, .minor = 0 };
    pthread_mutex_unlock(&k->mu);
    return 0;
}

static int f_create(void *ctx, const char *name, const struct rtv_dm_table *t,
                    struct rtv_err *err)
{
    struct fake_kernel *k = ctx;
    int rc = 0, pv;
    bool via;

    pthread_mutex_lock(&k->mu);
    if (k->exists)
        rc = rtv_err_set(err, EEXIST, "device-mapper: %s exists", k->name);
    else if ((rc = open_legs(k, t, &pv, &via, err)) == 0) {
        snprintf(k->name, sizeof(k->name), "%s", name);
        k->live = *t;
        k->live_pv = pv;
        k->live_via_leg = via;
        k->st = (struct rtv_dm_status){ .in_force = t->mode, .has_flip = true };
        k->exists = true;
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
}

static int f_load(void *ctx, const char *name, const struct rtv_dm_table *t,
                  struct rtv_err *err)
{
    struct fake_kernel *k = ctx;
    int rc, pv;
    bool via;

    if ((rc = lock_device(k, name, err)) < 0)
        return rc;
    if ((rc = open_legs(k, t, &pv, &via, err)) == 0) {
        if (k->has_inactive)
            fk_blkfront_put(k, &k->inactive_pv);
        k->inactive = *t;
        k->inactive_pv = pv;
        k->inactive_via_leg = via;
        k->has_inactive = true;
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
}

static int f_clear(void *ctx, const char *name, struct rtv_err *err)
{
    struct fake_kernel *k = ctx;
    int rc;

    pthread_mutex_lock(&k->mu);
    if (is_leg(k, name)) {
        if (k->leg_has_inactive)
            fk_blkfront_put(k, &k->leg_inactive_disk);
        k->leg_has_inactive = false;
        pthread_mutex_unlock(&k->mu);
        return 0;
    }
    pthread_mutex_unlock(&k->mu);
    if ((rc = lock_device(k, name, err)) < 0)
        return rc;
    if (k->has_inactive) {
        fk_blkfront_put(k, &k->inactive_pv);
        k->has_inactive = false;
    }
    pthread_mutex_unlock(&k->mu);
    return 0;
}

static int f_suspend(void *ctx, const char *name, struct rtv_err *err)
{
    struct fake_kernel *k = ctx;
    int rc;

    pthread_mutex_lock(&k->mu);
    if (is_leg(k, name)) {
        rc = leg_suspend(k, name, err);
        pthread_mutex_unlock(&k->mu);
        return rc;
    }
    pthread_mutex_unlock(&k->mu);
    if ((rc = lock_device(k, name, err)) < 0)
        return rc;
    if (k->suspended) {
        pthread_mutex_unlock(&k->mu);
        return 0;
    }
    k->suspending = true;
    k->flush_started = false;
    k->suspend_start_us = rtv_now_us();
    k->in_suspend = pthread_self();
    k->suspend_waiting = true;
    k->intr_suspend = false;
    fk_kick(k);
    while (!k->suspended && !k->intr_suspend)
        pthread_cond_wait(&k->cv, &k->mu);
    k->suspend_waiting = false;
    if (!k->suspended) {
        /* Backed out, as dm does: the device runs on, the held bios go. */
        k->suspending = false;
        k->flush_gen++;
        k->flushes_out = 0;
        fk_kick(k);
        rc = rtv_err_set(err, EINTR, "device-mapper: suspend of %s interrupted", name);
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
}

static int f_resume(void *ctx, const char *name, struct rtv_err *err)
{
    struct fake_kernel *k = ctx;
    int rc;

    pthread_mutex_lock(&k->mu);
    if (is_leg(k, name)) {
        leg_resume(k);
        pthread_mutex_unlock(&k->mu);
        return 0;
    }
    pthread_mutex_unlock(&k->mu);
    if ((rc = lock_device(k, name, err)) < 0)
        return rc;
    if (k->has_inactive) {
        fk_blkfront_put(k, &k->live_pv);
        k->live = k->inactive;
        k->live_pv = k->inactive_pv;
        k->live_via_leg = k->inactive_via_leg;
        k->inactive_pv = -1;
        k->has_inactive = false;
        k->st = (struct rtv_dm_status){ .in_force = k->live.mode, .has_flip = true };   /* a fresh table */
        k->flip = RTV_DM_FLIP_IDLE;
        k->tracking = false;
        k->nr_ranges = 0;
        k->overflow = 0;
        k->flip_gen++;
        k->flip_flushes_out = 0;
    }
    k->suspending = k->suspended = false;
    k->event_nr++;
    pthread_cond_broadcast(&k->cv);
    fk_kick(k);
    pthread_mutex_unlock(&k->mu);
    return 0;
}

static int f_table(void *ctx, const char *name, struct rtv_dm_table *t, struct rtv_err *err)
{
    struct fake_kernel *k = ctx;
    int rc = lock_device(k, name, err);

    if (rc == 0) {
        *t = k->live;
        pthread_mutex_unlock(&k->mu);
    }
    return rc;
}

static int f_status(void *ctx, const char *name, struct rtv_dm_status *st, struct rtv_err *err)
{
    struct fake_kernel *k = ctx;
    int rc = lock_device(k, name, err);

    /* The test's stall (stall_status), waited out unlocked: the kernel's
     * thread goes on meanwhile. */
    for (bool in_flip = false; rc == 0 && k->cfg.stall_status != NULL;) {
        int how = atomic_load(k->cfg.stall_status);

        in_flip = in_flip || (how == FK_STALL_FLIP && (k->flip == RTV_DM_FLIP_PREPARING ||
                                                        k->flip == RTV_DM_FLIP_PREPARED));
        if (how != FK_STALL_ALL && !in_flip)
            break;
        if (how == FK_STALL_NONE && k->flip != RTV_DM_FLIP_PREPARING)
            break;   /* let go of a flip's stall: with the flip prepared */
        pthread_mutex_unlock(&k->mu);
        usleep(1000);
        rc = lock_device(k, name, err);
    }
    if (rc == 0) {
        *st = k->st;
        st->flip = k->flip;
        st->held = k->fheld;
        pthread_mutex_unlock(&k->mu);
    }
    return rc;
}

/* The flip's messages, as dm-rtvirt.c's rtv_message answers them. */
static int f_message(void *ctx, const char *name, const char *msg, struct rtv_err *err)
{
    struct fake_kernel *k = ctx;
    enum rtv_mode m;
    unsigned legs;
    int rc;

    if ((rc = lock_device(k, name, err)) < 0)
        return rc;
    legs = k->st.failed_over || k->live.mode == RTV_MODE_EMULATED ? FK_LEG_EMU
         : k->live.mode == RTV_MODE_PV ? FK_LEG_PV : FK_LEG_EMU | FK_LEG_PV;
    if (strcmp(msg, "prepare") == 0) {
        if (k->flip == RTV_DM_FLIP_DRAINING)
            rc = rtv_err_set(err, EBUSY, "device-mapper: %s: the last flip is draining", name);
        else if (k->flip == RTV_DM_FLIP_IDLE) {
            k->tracking = true;
            k->track_epoch = k->epoch;
            k->track_legs = legs;
            k->nr_ranges = 0;
            k->overflow = 0;
            k->flip_gen++;
            k->flip_flushes_out = 0;
            k->flush_started_flip = false;
            k->prepare_start_us = rtv_now_us();
            k->flip = RTV_DM_FLIP_PREPARING;
        }
    } else if (strcmp(msg, "cancel") == 0) {
        if (k->flip == RTV_DM_FLIP_PREPARING || k->flip == RTV_DM_FLIP_PREPARED) {
            k->flip_gen++;
            k->flip_flushes_out = 0;
            k->tracking = false;
            k->nr_ranges = 0;
            k->overflow = 0;
            k->flip = RTV_DM_FLIP_IDLE;
        }
    } else if (strncmp(msg, "mode ", 5) == 0 && rtv_mode_parse(msg + 5, &m) == 0) {
        if (rtv_mode_needs_pv(m) && !has_pv_leg(k))
            rc = rtv_err_set(err, EINVAL, "device-mapper: %s: no PV leg", name);
        else if (rtv_mode_needs_pv(m) && k->st.failed_over)
            rc = rtv_err_set(err, EIO, "device-mapper: %s: failed over", name);
        else if (k->flip == RTV_DM_FLIP_IDLE && m != k->live.mode)
            rc = rtv_err_set(err, EAGAIN, "device-mapper: %s: send prepare first", name);
        else if (k->flip == RTV_DM_FLIP_PREPARING || k->flip == RTV_DM_FLIP_DRAINING)
            rc = rtv_err_set(err, EBUSY, "device-mapper: %s: busy", name);
        else if (m == k->live.mode) {
            k->tracking = false;
            k->flip = RTV_DM_FLIP_IDLE;
        } else {
            k->live.mode = m;
            k->st.in_force = k->st.failed_over ? RTV_MODE_EMULATED : m;
            k->epoch ^= 1u;
            k->st.flips++;
            k->st.last_stall_us = 0;
            k->flush_started_flip = false;
            k->flip = RTV_DM_FLIP_DRAINING;
            fk_kick(k);
        }
    } else {
        rc = rtv_err_set(err, EINVAL, "device-mapper: %s: unknown message \"%s\"", name, msg);
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
}

static int f_wait_event(void *ctx, const char *name, uint32_t *nr, struct rtv_err *err)
{
    struct fake_kernel *k = ctx;
    int rc = 0;

    (void)name;
    pthread_mutex_lock(&k->mu);
    k->in_wait = pthread_self();
    k->wait_waiting = true;
    while (k->event_nr == *nr && !k->intr_wait)
        pthread_cond_wait(&k->cv, &k->mu);
    k->wait_waiting = false;
    if (k->intr_wait) {
        k->intr_wait = false;
        rc = rtv_err_set(err, EINTR, "device-mapper: wait interrupted");
    } else {
        *nr = k->event_nr;
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
}

static void f_interrupt(void *ctx, pthread_t t)
{
    struct fake_kernel *k = ctx;

    pthread_mutex_lock(&k->mu);
    if (k->suspend_waiting && pthread_equal(t, k->in_suspend))
        k->intr_suspend = true;
    if (k->wait_waiting && pthread_equal(t, k->in_wait))
        k->intr_wait = true;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

/* The shunt flushes the guest's device only when the module's
 * flush_at_flip is off; this target keeps it on (its sysfs has no module
 * parameters), so a call is a defect of the control plane. */
static int f_flush(void *ctx, const char *name, struct rtv_err *err)
{
    struct fake_kernel *k = ctx;

    (void)err;
    fk_log(k, "DEFECT: rtvirt-shunt flushed %s although flush_at_flip is on", name);
    abort();   /* the guest process dies: the test sees it */
}

const struct shunt_dm_ops fake_kernel_dm_ops = {
    .info = f_info, .create = f_create, .load = f_load, .clear = f_clear,
    .suspend = f_suspend, .resume = f_resume, .table = f_table, .status = f_status,
    .message = f_message, .wait_event = f_wait_event, .leg_create = f_leg_create,
    .leg_load = f_leg_load, .leg_table = f_leg_table, .flush = f_flush,
    .interrupt = f_interrupt,
};

/* ---- life ---------------------------------------------------------------------- */

void fake_kernel_submit(struct fake_kernel *k, struct fk_bio *b)
{
    pthread_mutex_lock(&k->mu);
    fk_push(&k->in_head, &k->in_tail, b);
    pthread_mutex_unlock(&k->mu);
    fk_kick(k);
}

void fake_kernel_get_stats(struct fake_kernel *k, struct fake_kernel_stats *st)
{
    pthread_mutex_lock(&k->mu);
    *st = k->stats;
    st->failovers = k->st.failovers;
    st->pv_leg_waits = k->pv_leg_waits;
    st->pv_errors = k->st.pv_errors;
    fk_blkfront_stats(k, st);
    pthread_mutex_unlock(&k->mu);
}

struct fake_kernel *fake_kernel_new(const struct fake_kernel_config *cfg, struct rtv_err *err)
{
    struct fake_kernel *k = calloc(1, sizeof(*k));
    int rc;

    if (k == NULL) {
        rtv_err_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    k->cfg = *cfg;
    k->live_pv = k->inactive_pv = -1;
    k->leg_disk = k->leg_inactive_disk = -1;
    k->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    k->emu_fd = open(cfg->image, O_RDWR | O_CLOEXEC);
    if (k->wake < 0 || k->emu_fd < 0) {
        rtv_err_set(err, errno, "guest kernel: %s: %s", cfg->image, strerror(errno));
        goto fail;
    }
    if (fk_blkfront_init(k, err) < 0)
        goto fail;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    if ((rc = pthread_create(&k->th, NULL, kernel_main, k)) != 0) {
        rtv_err_set(err, rc, "guest kernel: thread: %s", strerror(rc));
        fk_blkfront_fini(k);
        goto fail;
    }
    return k;

fail:
    if (k->wake >= 0)
        close(k->wake);
    if (k->emu_fd >= 0)
        close(k->emu_fd);
    free(k);
    return NULL;
}

void fake_kernel_free(struct fake_kernel *k)
{
    if (k == NULL)
        return;
    pthread_mutex_lock(&k->mu);
    k->stop = true;
    pthread_mutex_unlock(&k->mu);
    fk_kick(k);
    pthread_join(k->th, NULL);
    fk_blkfront_fini(k);
    fk_emu_fini(k);
    close(k->wake);
    close(k->emu_fd);
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);
    free(k);
}
