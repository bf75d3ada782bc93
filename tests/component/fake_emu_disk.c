/*
 * The emulated disk in the guest kernel stand-in (fake_kernel_priv.h): the
 * image file behind a write-back cache, the strictest a device model may
 * be.  A write is acknowledged once it is in the cache, and reaches the
 * image file (where rtvirt-backd, the PV leg's backend, reads) only when a
 * flush writes the cache back, or when the cache is full (its oldest
 * entry goes first).  Reads through this leg see the cache.  A discard
 * goes through at once, after the cached writes it covers.
 *
 * So a PV read of a block the emulated leg wrote is right only if that
 * write was flushed first: the postsuspend flush of the switch's boundary
 * (the target's, and dm's suspend that the control plane waits for before
 * it resumes into a PV table).  qemu's raw driver keeps no cache of its own
 * (dom0-backend/README.md), so the real disk is kinder than this one.
 */
#include "fake_kernel_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FK_CACHE_MAX 256            /* cached writes before the oldest goes back */

struct fk_cached {
    struct fk_cached *next;
    uint64_t          off;
    uint32_t          len;
    uint8_t           data[];
};

static int write_back_oldest(struct fake_kernel *k)
{
    struct fk_cached *c = k->cache_head;
    ssize_t n;

    k->cache_head = c->next;
    if (k->cache_head == NULL)
        k->cache_tail = NULL;
    k->cache_count--;
    n = pwrite(k->emu_fd, c->data, c->len, (off_t)c->off);
    free(c);
    return n < 0 ? -errno : 0;
}

static int write_back(struct fake_kernel *k)
{
    int rc = 0;

    while (k->cache_head != NULL) {
        int r = write_back_oldest(k);
        if (r < 0 && rc == 0)
            rc = r;
    }
    return rc;
}

int fk_emu_flush(struct fake_kernel *k)
{
    int rc = write_back(k);

    if (fdatasync(k->emu_fd) < 0 && rc == 0)
        rc = -errno;
    return rc;
}

/* The file's bytes, then every cached write over them, oldest first. */
static int cached_read(struct fake_kernel *k, uint8_t *buf, uint64_t off, uint32_t len)
{
    ssize_t n = pread(k->emu_fd, buf, len, (off_t)off);

    if (n != (ssize_t)len)
        return n < 0 ? -errno : -EIO;
    for (const struct fk_cached *c = k->cache_head; c != NULL; c = c->next) {
        uint64_t lo = c->off > off ? c->off : off;
        uint64_t hi = c->off + c->len < off + len ? c->off + c->len : off + len;

        if (lo < hi)
            memcpy(buf + (lo - off), c->data + (lo - c->off), hi - lo);
    }
    return 0;
}

static int cached_write(struct fake_kernel *k, const uint8_t *buf, uint64_t off, uint32_t len)
{
    struct fk_cached *c = malloc(sizeof(*c) + len);

    if (c == NULL)
        return -ENOMEM;
    c->next = NULL;
    c->off = off;
    c->len = len;
    memcpy(c->data, buf, len);
    if (k->cache_tail)
        k->cache_tail->next = c;
    else
        k->cache_head = c;
    k->cache_tail = c;
    if (++k->cache_count > FK_CACHE_MAX)
        return write_back_oldest(k);
    return 0;
}

int fk_emu_do(struct fake_kernel *k, const struct fk_bio *b)
{
    uint64_t off = b->sector * 512;
    int rc;

    switch (b->op) {
    case FK_READ:
        return cached_read(k, b->buf, off, b->len);
    case FK_WRITE:
        k->wrote_emu = true;
        return cached_write(k, b->buf, off, b->len);
    case FK_FLUSH:
        return fk_emu_flush(k);
    case FK_DISCARD:
        k->wrote_emu = true;
        /* In order: what was written before the discard must not land
         * after it. */
        if ((rc = write_back(k)) < 0)
            return rc;
        return fallocate(k->emu_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
                         b->len) < 0 ? -errno : 0;
    }
    return -EINVAL;
}

void fk_emu_fini(struct fake_kernel *k)
{
    write_back(k);   /* a guest that stops cleanly */
}
