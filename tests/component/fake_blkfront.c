/*
 * blkfront in the guest kernel stand-in (fake_kernel_priv.h): the PV disks
 * the dm target's PV leg is, as Linux's xen-blkfront makes them.  A vbd
 * dom0 writes under the guest's device/vbd (those naming IDE/SCSI disks
 * are the emulated disks': left alone) is connected by librtvirt-front on
 * a helper thread (the handshake waits on the backend; I/O goes on), then
 * owned by the kernel thread and published in the test's sysfs tree
 * (bus/xen/devices/vbd-<devid>/block/<name>/{dev,size}, what
 * shunt/dm_disks.c reads); once the toolstack detached it (the front says
 * so) or its directory went, the disk leaves sysfs and is closed when no
 * table holds it.  A bio larger than the ring carries is split, as the
 * block layer splits bios for blkfront; a full ring makes it wait.
 */
#include "fake_kernel_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rtvirt/clock.h"
#include "rtvirt/xs_util.h"

#define FK_RETRY_US   200000u      /* a failed connect is tried again after this */
#define FK_RESCAN_MS  200          /* device/vbd is read again at least this often */

/* ---- I/O ------------------------------------------------------------------------ */

static void pv_chunk_done(void *arg, int status);

/* The front's callbacks and the connect helper carry a bio or a disk only;
 * one kernel per process, as in a guest (fk_blkfront_init). */
static struct fake_kernel *the_kernel;

/* Hands what is left of b to disk d's ring; false if the ring is full. */
static bool pv_push(struct fk_disk *d, struct fk_bio *b)
{
    while (!b->pv_sent) {
        enum rtv_front_op fop;
        uint32_t len = 0;
        void *buf = NULL;
        int rc;

        switch (b->op) {
        case FK_READ:
        case FK_WRITE:
            fop = b->op == FK_READ ? RTV_FRONT_READ : RTV_FRONT_WRITE;
            len = b->len - b->pv_off;
            if (len > d->max_bytes)
                len = d->max_bytes;
            buf = (uint8_t *)b->buf + b->pv_off;
            break;
        case FK_FLUSH:
            fop = RTV_FRONT_FLUSH;
            break;
        default:
            fop = RTV_FRONT_DISCARD;
            len = b->len;
            break;
        }
        b->chunks_out++;   /* before: a failing device completes inside submit */
        rc = rtv_front_submit(d->f, fop, b->sector + b->pv_off / 512, buf, len,
                              pv_chunk_done, b);
        if (rc == -EAGAIN) {
            b->chunks_out--;
            return false;
        }
        if (rc < 0) {
            b->chunks_out--;
            if (b->pv_status == 0)
                b->pv_status = rc;
            b->pv_sent = true;   /* send no more of it */
            break;
        }
        b->pv_off += len;
        b->pv_sent = (b->op != FK_READ && b->op != FK_WRITE) || b->pv_off >= b->len;
    }
    return true;
}

static void pv_check_done(struct fake_kernel *k, struct fk_bio *b)
{
    if (!b->pv_sent || b->chunks_out > 0)
        return;
    k->disk[b->pv_disk].inflight--;
    fk_leg_done(k, b, true, b->pv_status);
}

static void pv_chunk_done(void *arg, int status)
{
    struct fk_bio *b = arg;

    b->chunks_out--;
    if (status != 0 && b->pv_status == 0)
        b->pv_status = status;
    pv_check_done(the_kernel, b);
}

void fk_pv_submit(struct fake_kernel *k, int di, struct fk_bio *b)
{
    struct fk_disk *d = &k->disk[di];

    b->pv_disk = di;
    b->pv_off = 0;
    b->pv_sent = false;
    b->pv_status = 0;
    b->chunks_out = 0;
    d->inflight++;
    if (d->st != FKD_UP || d->f == NULL) {
        b->pv_status = -ENODEV;   /* the disk went: an error of the leg */
        b->pv_sent = true;
        pv_check_done(k, b);
        return;
    }
    if (d->wait_head != NULL || !pv_push(d, b)) {
        fk_push(&d->wait_head, &d->wait_tail, b);
        return;
    }
    pv_check_done(k, b);
}

static void pv_kick_waiting(struct fake_kernel *k, struct fk_disk *d)
{
    while (d->wait_head != NULL) {
        struct fk_bio *b = d->wait_head;

        if (!pv_push(d, b))
            return;
        fk_pop(&d->wait_head, &d->wait_tail);
        pv_check_done(k, b);
    }
}

/* ---- blkfront ------------------------------------------------------------------- */

static void *connect_main(void *arg)
{
    struct fk_disk *d = arg;
    struct fake_kernel *k = the_kernel;
    struct rtv_front_config fc = k->cfg.front;
    struct rtv_front *f = NULL;
    int rc;

    fc.devid = d->devid;
    rc = rtv_local_open(k->cfg.hub, k->cfg.domid, RTV_XEN_ALL, &d->x);
    if (rc < 0) {
        snprintf(d->th_msg, sizeof(d->th_msg), "local open: %s", strerror(-rc));
    } else {
        rc = rtv_front_open(&d->x, &fc, &f, d->th_msg, sizeof(d->th_msg));
        if (rc < 0)
            rtv_xen_close(&d->x);
    }
    pthread_mutex_lock(&k->mu);
    d->f = rc < 0 ? NULL : f;
    d->th_rc = rc;
    d->th_done = true;
    pthread_mutex_unlock(&k->mu);
    fk_kick(k);
    return NULL;
}

static void start_connect(struct fk_disk *d)
{
    d->st = FKD_PROBING;
    d->th_done = false;
    d->th_msg[0] = '\0';
    if (pthread_create(&d->th, NULL, connect_main, d) != 0) {
        d->st = FKD_RETRY;
        d->retry_us = rtv_now_us() + FK_RETRY_US;
    }
}

static void disk_dir(const struct fake_kernel *k, const struct fk_disk *d, char *buf, size_t len)
{
    snprintf(buf, len, "%s/bus/xen/devices/vbd-%u", k->cfg.sysfs, d->devid);
}

/* Whole or not at all, as a sysfs attribute appears: a reader never sees
 * the file empty (make check under ASan once read "dev" between its
 * creation and its write: EIO). */
static void write_file(const char *path, const char *val)
{
    char tmp[600];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.new", path);
    if ((f = fopen(tmp, "w")) == NULL)
        return;
    fprintf(f, "%s\n", val);
    if (fclose(f) == 0)
        rename(tmp, path);
}

/* The gendisk appears: bus/xen/devices/vbd-<devid>/block/<name>/. */
static void publish(struct fake_kernel *k, struct fk_disk *d)
{
    char p[512], base[300];
    size_t n;

    disk_dir(k, d, base, sizeof(base));
    n = (size_t)k->published++;
    snprintf(d->name, sizeof(d->name), "xvd%c", (char)('b' + n % 24));
    snprintf(d->dev, sizeof(d->dev), "202:%u", (unsigned)(n % 4096) * 16u);
    snprintf(p, sizeof(p), "%s/bus", k->cfg.sysfs);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/bus/xen", k->cfg.sysfs);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/bus/xen/devices", k->cfg.sysfs);
    mkdir(p, 0755);
    mkdir(base, 0755);
    snprintf(p, sizeof(p), "%s/block", base);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/block/%s", base, d->name);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/block/%s/size", base, d->name);
    char v[24];
    snprintf(v, sizeof(v), "%llu", (unsigned long long)d->sectors);
    write_file(p, v);
    /* blkfront's logical block size: the sector-size rtvirt-backd advertises */
    snprintf(p, sizeof(p), "%s/block/%s/queue", base, d->name);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/block/%s/queue/logical_block_size", base, d->name);
    write_file(p, "512");
    /* dev last: dm_disks.c reads it first, so a half-made disk is not found */
    snprintf(p, sizeof(p), "%s/block/%s/dev", base, d->name);
    write_file(p, d->dev);
    d->published = true;
    fk_log(k, "blkfront: vbd %u is %s (%s), %llu sectors", d->devid, d->name, d->dev,
         (unsigned long long)d->sectors);
}

static void unpublish(struct fake_kernel *k, struct fk_disk *d)
{
    char p[512], base[300];

    if (!d->published)
        return;
    disk_dir(k, d, base, sizeof(base));
    snprintf(p, sizeof(p), "%s/block/%s/dev", base, d->name);
    unlink(p);
    snprintf(p, sizeof(p), "%s/block/%s/size", base, d->name);
    unlink(p);
    snprintf(p, sizeof(p), "%s/block/%s/queue/logical_block_size", base, d->name);
    unlink(p);
    snprintf(p, sizeof(p), "%s/block/%s/queue", base, d->name);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/block/%s", base, d->name);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/block", base);
    rmdir(p);
    rmdir(base);
    d->published = false;
}

static void count_sessions(const struct rtv_front *f, struct fake_kernel_stats *st)
{
    struct rtv_front_info info;

    rtv_front_get_info(f, &info);
    st->pv_sessions++;
    st->pv_reconnects += info.connects > 1 ? info.connects - 1 : 0;
    st->pv_requeued += info.requeued;
}

/* The helper finished its connect. */
static void connected(struct fake_kernel *k, struct fk_disk *d)
{
    struct rtv_front_info info;

    pthread_join(d->th, NULL);
    if (d->th_rc < 0) {
        fk_log(k, "blkfront: vbd %u: %s (tried again)", d->devid, d->th_msg);
        d->st = FKD_RETRY;
        d->retry_us = rtv_now_us() + FK_RETRY_US;
        return;
    }
    rtv_front_get_info(d->f, &info);
    d->sectors = info.sectors;
    d->max_bytes = info.max_request_bytes & ~511u;
    d->st = FKD_UP;
    publish(k, d);
}

/* Detached by the toolstack (or its directory gone): the gendisk goes; the
 * device is released once nothing holds it. */
static void maybe_release(struct fake_kernel *k, struct fk_disk *d, bool dir_gone)
{
    if (d->st != FKD_UP || !(dir_gone || rtv_front_detached(d->f)))
        return;
    unpublish(k, d);
    if (d->refs > 0 || d->inflight > 0)
        return;
    count_sessions(d->f, &k->closed);
    rtv_front_close(d->f);   /* detached: Closed already, nothing to wait for */
    d->f = NULL;
    rtv_xen_close(&d->x);
    d->st = FKD_GONE;
    fk_log(k, "blkfront: vbd %u closed", d->devid);
}

static bool is_emulated_vbd(unsigned devid)
{
    /* IDE (majors 3, 22, 33, 34) and SCSI (8) names in the old form: an HVM
     * guest's emulated disks, which blkfront leaves alone while they are
     * not unplugged (xen_emul_unplug=unnecessary). */
    unsigned major = devid >> 8;

    return !(devid & (1u << 28)) && major != 202;
}

/* xenbus: the guest's device/vbd, against the disks we know. */
static void scan_vbds(struct fake_kernel *k)
{
    char **names = NULL, p[128], *v;
    unsigned n = 0;
    bool seen[FK_DISKS] = { false };
    size_t len;

    k->rescan = false;
    if (rtv_xs_directory(k->xs.xs, RTV_XS_NO_TXN, k->vbd_dir, &names, &n) < 0)
        n = 0;
    for (unsigned i = 0; i < n; i++) {
        unsigned long long devid;
        int slot = -1, free_slot = -1;

        if (rtv_parse_uint(names[i], UINT32_MAX, &devid) < 0 || is_emulated_vbd((unsigned)devid))
            continue;
        for (int j = 0; j < FK_DISKS; j++) {
            if (k->disk[j].st != FKD_FREE && k->disk[j].devid == devid)
                slot = j;
            else if (k->disk[j].st == FKD_FREE && free_slot < 0)
                free_slot = j;
        }
        if (slot >= 0) {
            seen[slot] = true;
            continue;
        }
        snprintf(p, sizeof(p), "%s/%s/backend", k->vbd_dir, names[i]);
        if (free_slot < 0 || rtv_xs_read(k->xs.xs, RTV_XS_NO_TXN, p, &v, &len) < 0)
            continue;
        free(v);
        seen[free_slot] = true;
        memset(&k->disk[free_slot], 0, sizeof(k->disk[free_slot]));
        k->disk[free_slot].devid = (unsigned)devid;
        fk_log(k, "blkfront: probing vbd %u", (unsigned)devid);
        start_connect(&k->disk[free_slot]);
    }
    free(names);
    for (int j = 0; j < FK_DISKS; j++) {
        struct fk_disk *d = &k->disk[j];

        if (seen[j] || d->st == FKD_FREE || d->st == FKD_PROBING)
            continue;
        if (d->st == FKD_UP)
            maybe_release(k, d, true);
        if (d->st == FKD_RETRY || d->st == FKD_GONE)
            d->st = FKD_FREE;
    }
}

/* ---- for the kernel thread and the target -------------------------------------------- */

int fk_blkfront_init(struct fake_kernel *k, struct rtv_err *err)
{
    int rc;

    if (the_kernel != NULL)
        return rtv_err_set(err, EBUSY, "one guest kernel per process");
    if ((rc = rtv_local_open(k->cfg.hub, k->cfg.domid, RTV_XEN_STORE, &k->xs)) < 0)
        return rtv_err_set(err, -rc, "blkfront: local open: %s", strerror(-rc));
    snprintf(k->vbd_dir, sizeof(k->vbd_dir), "/local/domain/%u/device/vbd",
             (unsigned)k->cfg.domid);
    if ((rc = rtv_xs_watch(k->xs.xs, k->vbd_dir, "blkfront")) < 0) {
        rtv_xen_close(&k->xs);
        return rtv_err_set(err, -rc, "blkfront: watch %s: %s", k->vbd_dir, strerror(-rc));
    }
    the_kernel = k;
    return 0;
}

void fk_blkfront_turn(struct fake_kernel *k)
{
    uint64_t now = rtv_now_us();

    for (int j = 0; j < FK_DISKS; j++) {
        struct fk_disk *d = &k->disk[j];

        if (d->st == FKD_PROBING && d->th_done)
            connected(k, d);
        if (d->st == FKD_RETRY && now >= d->retry_us)
            start_connect(d);
        if (d->st == FKD_UP && (k->cfg.hold_blkfront == NULL ||
                                atomic_load(k->cfg.hold_blkfront) == 0)) {
            rtv_front_poll(d->f, 0);
            pv_kick_waiting(k, d);
            maybe_release(k, d, false);
        }
    }
    if (rtv_now_ms() - k->last_scan_ms >= FK_RESCAN_MS)
        k->rescan = true;   /* a lost watch event changes nothing */
    if (k->rescan) {
        k->last_scan_ms = rtv_now_ms();
        scan_vbds(k);
    }
}

unsigned fk_blkfront_pollfds(struct fake_kernel *k, struct pollfd *pfd)
{
    unsigned n = 0;

    pfd[n++] = (struct pollfd){ .fd = rtv_xs_watch_fd(k->xs.xs), .events = POLLIN };
    for (int j = 0; j < FK_DISKS; j++) {
        struct fk_disk *d = &k->disk[j];

        if (d->st != FKD_UP)
            continue;
        pfd[n++] = (struct pollfd){ .fd = rtv_xs_watch_fd(d->x.xs), .events = POLLIN };
        pfd[n++] = (struct pollfd){ .fd = d->x.evtchn->ops->fd(d->x.evtchn), .events = POLLIN };
    }
    return n;
}

void fk_blkfront_events(struct fake_kernel *k, const struct pollfd *pfd)
{
    char *path, *token;

    if (!(pfd[0].revents & POLLIN))
        return;   /* the rings are polled every turn */
    while (rtv_xs_read_watch(k->xs.xs, &path, &token) == 0) {
        free(path);
        free(token);
        k->rescan = true;
    }
}

void fk_blkfront_fini(struct fake_kernel *k)
{
    for (int j = 0; j < FK_DISKS; j++) {
        struct fk_disk *d = &k->disk[j];

        if (d->st == FKD_PROBING) {
            pthread_join(d->th, NULL);   /* bounded by the front's timeout */
            if (d->th_rc == 0)
                d->st = FKD_UP;
        }
        if (d->st == FKD_UP) {
            unpublish(k, d);
            rtv_front_close(d->f);
            rtv_xen_close(&d->x);
        }
    }
    rtv_xs_unwatch(k->xs.xs, k->vbd_dir, "blkfront");
    rtv_xen_close(&k->xs);
    the_kernel = NULL;
}

int fk_blkfront_get(struct fake_kernel *k, const char *dev, uint64_t sectors, int *disk,
                    struct rtv_err *err)
{
    for (int j = 0; j < FK_DISKS; j++) {
        struct fk_disk *d = &k->disk[j];

        if (d->st == FKD_UP && d->published && strcmp(d->dev, dev) == 0) {
            if (d->sectors != sectors)
                return rtv_err_set(err, EINVAL, "rtvirt: the emulated and PV legs differ in "
                                   "size (%llu, %llu sectors)", (unsigned long long)sectors,
                                   (unsigned long long)d->sectors);
            d->refs++;
            *disk = j;
            return 0;
        }
    }
    return rtv_err_set(err, ENXIO, "rtvirt: cannot open the PV leg %s", dev);
}

void fk_blkfront_put(struct fake_kernel *k, int *disk)
{
    if (*disk >= 0)
        k->disk[*disk].refs--;
    *disk = -1;
    fk_kick(k);   /* a detached disk may be released now */
}

void fk_blkfront_stats(struct fake_kernel *k, struct fake_kernel_stats *st)
{
    st->pv_sessions += k->closed.pv_sessions;
    st->pv_reconnects += k->closed.pv_reconnects;
    st->pv_requeued += k->closed.pv_requeued;
    for (int j = 0; j < FK_DISKS; j++)
        if (k->disk[j].st == FKD_UP)
            count_sessions(k->disk[j].f, st);
}
