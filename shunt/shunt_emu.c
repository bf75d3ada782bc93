/*
 * The emulated path: the guest's emulated disk (qemu's ata_piix / ahci disk,
 * e.g. /dev/sda), reached through io_uring.
 *
 * Opened O_DIRECT so the guest's page cache never holds a copy of what the
 * PV path may change behind it (both paths write one image), and O_EXCL on
 * a block device so nothing else in the guest (a mount, another program) can
 * use the disk behind the shunt's back.  O_EXCL means nothing for a regular
 * file, which only the host tests use.
 */
#include "shunt_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define EMU_RING_ENTRIES 256

bool shunt_emu_blkdev_punches(const char *root, unsigned major, unsigned minor)
{
    char path[256];
    unsigned long long max = 0;
    FILE *f;

    /* A partition's queue is its disk's: /sys/dev/block/M:m/queue is there
     * for whole disks, ../queue for partitions. */
    snprintf(path, sizeof(path), "%s/dev/block/%u:%u/queue/write_zeroes_max_bytes", root,
             major, minor);
    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(path, sizeof(path), "%s/dev/block/%u:%u/../queue/write_zeroes_max_bytes",
                 root, major, minor);
        f = fopen(path, "r");
    }
    if (f == NULL)
        return false;
    if (fscanf(f, "%llu", &max) != 1)
        max = 0;
    fclose(f);
    return max > 0;
}

int shunt_emu_open(struct shunt_emu *e, const char *path, bool allow_buffered,
                   struct rtv_err *err)
{
    struct stat st;
    int flags = O_RDWR | O_CLOEXEC;
    int rc;

    memset(e, 0, sizeof(*e));
    e->fd = e->efd = -1;
    if (stat(path, &st) < 0)
        return rtv_err_set(err, errno, "emulated disk %s: %s", path, strerror(errno));
    if (S_ISBLK(st.st_mode)) {
        flags |= O_EXCL;
        e->exclusive = true;
    } else if (!S_ISREG(st.st_mode)) {
        return rtv_err_set(err, EINVAL, "emulated disk %s is not a block device", path);
    }
    e->fd = open(path, flags | O_DIRECT);
    e->direct = e->fd >= 0;
    if (e->fd < 0 && errno == EINVAL && allow_buffered)
        e->fd = open(path, flags);   /* tmpfs without O_DIRECT: tests only */
    if (e->fd < 0) {
        rc = errno;
        return rtv_err_set(err, rc, "cannot open emulated disk %s%s: %s", path,
                           rc == EBUSY ? " exclusively (in use: mounted?)" : "",
                           strerror(rc));
    }
    if (S_ISBLK(st.st_mode)) {
        if (ioctl(e->fd, BLKGETSIZE64, &e->size) < 0) {
            rc = errno;
            close(e->fd);
            return rtv_err_set(err, rc, "cannot size %s: %s", path, strerror(rc));
        }
    } else {
        e->size = (uint64_t)st.st_size;
    }
    e->size &= ~(uint64_t)511;
    e->can_discard = S_ISREG(st.st_mode) ||
                     shunt_emu_blkdev_punches("/sys", major(st.st_rdev), minor(st.st_rdev));
    rc = io_uring_queue_init(EMU_RING_ENTRIES, &e->ring, 0);
    if (rc < 0) {
        close(e->fd);
        return rtv_err_set(err, -rc, "io_uring: %s", strerror(-rc));
    }
    e->ring_ok = true;
    e->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (e->efd < 0 || io_uring_register_eventfd(&e->ring, e->efd) < 0) {
        rc = errno ? errno : EIO;
        shunt_emu_close(e);
        return rtv_err_set(err, rc, "io_uring eventfd: %s", strerror(rc));
    }
    return 0;
}

void shunt_emu_close(struct shunt_emu *e)
{
    if (e->ring_ok)
        io_uring_queue_exit(&e->ring);
    e->ring_ok = false;
    if (e->efd >= 0)
        close(e->efd);
    if (e->fd >= 0)
        close(e->fd);
    e->fd = e->efd = -1;
}

/* Puts op on the ring; false if no SQE is free (the caller queues it). */
static bool emu_prep(struct shunt_emu *e, struct path_op *op)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&e->ring);

    if (sqe == NULL) {
        io_uring_submit(&e->ring);
        sqe = io_uring_get_sqe(&e->ring);
        if (sqe == NULL)
            return false;
    }
    switch (op->op) {
    case RTV_IO_READ:
        io_uring_prep_read(sqe, e->fd, op->buf + op->done_bytes, op->len - op->done_bytes,
                           op->offset + op->done_bytes);
        break;
    case RTV_IO_WRITE:
        io_uring_prep_write(sqe, e->fd, op->buf + op->done_bytes, op->len - op->done_bytes,
                            op->offset + op->done_bytes);
        break;
    case RTV_IO_FLUSH:
        /* On the guest's disk this is a cache flush (ATA FLUSH CACHE). */
        io_uring_prep_fsync(sqe, e->fd, 0);
        break;
    case RTV_IO_DISCARD:
        /* Punching a hole reads back as zeros afterwards, on files and (as
         * BLKZEROOUT/discard) on block devices, so both paths agree. */
        io_uring_prep_fallocate(sqe, e->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                op->offset, op->len);
        break;
    }
    io_uring_sqe_set_data(sqe, op);
    return true;
}

static void emu_kick_waiting(struct shunt_emu *e)
{
    while (e->wait_head != NULL) {
        struct path_op *op = e->wait_head;

        if (!emu_prep(e, op))
            break;
        e->wait_head = op->next;
        if (e->wait_head == NULL)
            e->wait_tail = NULL;
    }
    io_uring_submit(&e->ring);
}

/* Prepares op on the ring (true), or, when ops already wait for room or the
 * ring is full, queues it behind them so order is kept (false). */
static bool emu_prep_or_wait(struct shunt_emu *e, struct path_op *op)
{
    op->next = NULL;
    if (e->wait_head == NULL && emu_prep(e, op))
        return true;
    if (e->wait_tail)
        e->wait_tail->next = op;
    else
        e->wait_head = op;
    e->wait_tail = op;
    return false;
}

void shunt_emu_submit(struct shunt_emu *e, struct path_op *op)
{
    e->inflight++;
    if (emu_prep_or_wait(e, op))
        io_uring_submit(&e->ring);
}

void shunt_emu_reap(struct shunt_emu *e)
{
    struct io_uring_cqe *cqe;
    eventfd_t v;

    (void)eventfd_read(e->efd, &v);
    while (io_uring_peek_cqe(&e->ring, &cqe) == 0) {
        struct path_op *op = io_uring_cqe_get_data(cqe);
        int res = cqe->res;

        io_uring_cqe_seen(&e->ring, cqe);
        if ((op->op == RTV_IO_READ || op->op == RTV_IO_WRITE) && res > 0 &&
            op->done_bytes + (uint32_t)res < op->len) {
            /* Short transfer: go on from where it stopped. */
            op->done_bytes += (uint32_t)res;
            (void)emu_prep_or_wait(e, op);
            io_uring_submit(&e->ring);
            continue;
        }
        if (res == 0 && (op->op == RTV_IO_READ || op->op == RTV_IO_WRITE))
            res = -EIO;   /* beyond the end: cannot happen for checked requests */
        e->inflight--;
        shunt_path_done(op->sh, op, res < 0 ? res : 0);
    }
    emu_kick_waiting(e);
}
