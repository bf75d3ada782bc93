/*
 * The ring journal of rtvirt-backd: see backd_journal.h for what it is for
 * and README.md ("Restart: taking over the live ring") for why it is safe.
 *
 * File layout (native endianness: it never leaves this host):
 *   struct jr_head                 what ring it is for
 *   struct jr_ent [ring_size]      one per backd_req slot
 * A slot goes FREE -> TAKEN (copy and request index written first) ->
 * RESPONDING (response index written first) -> FREE.  Stores into a
 * MAP_SHARED file mapping are in the page cache the moment they retire, so
 * a process killed at any instruction leaves every earlier store in the
 * file; the compiler barriers keep the order the recovery relies on (the
 * copy before TAKEN, rsp_idx before RESPONDING).
 */
#include "backd_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define JR_MAGIC   0x4c4e524a56545231ull   /* "1RTVJRNL" */
#define JR_VERSION 1u

enum { JR_FREE = 0, JR_TAKEN = 1, JR_RESPONDING = 2 };

struct jr_head {
    uint64_t magic;
    uint32_t version, ent_size;
    uint32_t domid, devid, queue, nr_pages, remote_port, ring_size;
    uint32_t refs[16];
};

struct jr_ent {
    uint32_t state;
    uint32_t req_idx;              /* ring index the request was taken at */
    uint32_t rsp_idx;              /* ring index its response goes to */
    uint32_t replays;              /* successors that began serving it again */
    struct blkif_request req;      /* the copy taken off the ring */
};

struct backd_journal {
    struct jr_head *head;
    struct jr_ent  *ent;
    size_t          len;
    char            path[512];
};

static void jr_path(char *buf, size_t len, const char *dir, rtv_domid_t domid,
                    unsigned devid, unsigned queue)
{
    snprintf(buf, len, "%s/ring-%u-%u-q%u", dir, (unsigned)domid, devid, queue);
}

static size_t jr_len(unsigned ring_size)
{
    return sizeof(struct jr_head) + (size_t)ring_size * sizeof(struct jr_ent);
}

static struct backd_journal *jr_map(int fd, const char *path, size_t len)
{
    struct backd_journal *j = calloc(1, sizeof(*j));
    void *p;

    if (j == NULL)
        return NULL;
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        free(j);
        return NULL;
    }
    j->head = p;
    j->ent = (struct jr_ent *)((char *)p + sizeof(struct jr_head));
    j->len = len;
    snprintf(j->path, sizeof(j->path), "%s", path);
    return j;
}

struct backd_journal *backd_journal_create(const char *dir,
                                           const struct backd_journal_ring *r)
{
    char path[512], tmp[520];
    size_t len = jr_len(r->ring_size);
    struct backd_journal *j;
    int fd, e;

    if (r->nr_pages > 16) {
        errno = EINVAL;
        return NULL;
    }
    jr_path(path, sizeof(path), dir, r->domid, r->devid, r->queue);
    /* Filled under another name and renamed: a half-written file is never
     * taken for a journal. */
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return NULL;
    if (ftruncate(fd, (off_t)len) < 0 || (j = jr_map(fd, path, len)) == NULL) {
        e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return NULL;
    }
    close(fd);
    *j->head = (struct jr_head){
        .magic = JR_MAGIC, .version = JR_VERSION, .ent_size = sizeof(struct jr_ent),
        .domid = r->domid, .devid = r->devid, .queue = r->queue,
        .nr_pages = r->nr_pages, .remote_port = r->remote_port,
        .ring_size = r->ring_size,
    };
    for (unsigned i = 0; i < r->nr_pages; i++)
        j->head->refs[i] = r->refs[i];
    if (rename(tmp, path) < 0) {
        e = errno;
        munmap(j->head, len);
        free(j);
        unlink(tmp);
        errno = e;
        return NULL;
    }
    return j;
}

struct backd_journal *backd_journal_open(const char *dir,
                                         const struct backd_journal_ring *r,
                                         char *why, size_t why_len)
{
    char path[512];
    struct jr_head h;
    struct backd_journal *j;
    size_t len = jr_len(r->ring_size);
    off_t size;
    int fd;

    jr_path(path, sizeof(path), dir, r->domid, r->devid, r->queue);
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, why_len, "no journal %s: %s", path, strerror(errno));
        return NULL;
    }
    size = lseek(fd, 0, SEEK_END);
    if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.magic != JR_MAGIC ||
        h.version != JR_VERSION || h.ent_size != sizeof(struct jr_ent)) {
        snprintf(why, why_len, "%s is not a journal of this version", path);
        close(fd);
        errno = EINVAL;
        return NULL;
    }
    bool same = h.domid == r->domid && h.devid == r->devid && h.queue == r->queue &&
                h.nr_pages == r->nr_pages && h.remote_port == r->remote_port &&
                h.ring_size == r->ring_size && size == (off_t)len;
    for (unsigned i = 0; same && i < r->nr_pages; i++)
        same = h.refs[i] == r->refs[i];
    if (!same) {
        snprintf(why, why_len, "%s is for another ring (ring-ref %u, port %u, %u slots; "
                 "the frontend offers ring-ref %u, port %u, %u slots)", path, h.refs[0],
                 h.remote_port, h.ring_size, (unsigned)r->refs[0],
                 (unsigned)r->remote_port, r->ring_size);
        close(fd);
        errno = ESTALE;
        return NULL;
    }
    j = jr_map(fd, path, len);
    if (j == NULL)
        snprintf(why, why_len, "cannot map %s: %s", path, strerror(errno));
    close(fd);
    return j;
}

void backd_journal_close(struct backd_journal *j, bool keep)
{
    if (j == NULL)
        return;
    munmap(j->head, j->len);
    if (!keep)
        unlink(j->path);
    free(j);
}

void backd_journal_remove_dev(const char *dir, rtv_domid_t domid, unsigned devid)
{
    char path[512];

    for (unsigned q = 0; q < 16; q++) {
        jr_path(path, sizeof(path), dir, domid, devid, q);
        unlink(path);
    }
}

#define jr_barrier() __atomic_signal_fence(__ATOMIC_SEQ_CST)

void backd_journal_taken(struct backd_journal *j, unsigned slot, RING_IDX req_idx,
                         const struct blkif_request *copy)
{
    struct jr_ent *e = &j->ent[slot];

    e->req = *copy;
    e->req_idx = req_idx;
    e->replays = 0;
    jr_barrier();
    e->state = JR_TAKEN;
}

void backd_journal_responding(struct backd_journal *j, unsigned slot, RING_IDX rsp_idx)
{
    struct jr_ent *e = &j->ent[slot];

    e->rsp_idx = rsp_idx;
    jr_barrier();
    e->state = JR_RESPONDING;
}

unsigned backd_journal_replaying(struct backd_journal *j, unsigned slot)
{
    return ++j->ent[slot].replays;
}

void backd_journal_free(struct backd_journal *j, unsigned slot)
{
    jr_barrier();
    j->ent[slot].state = JR_FREE;
}

unsigned backd_journal_recover(struct backd_journal *j, RING_IDX rsp_prod,
                               unsigned *slots, struct blkif_request *copies,
                               RING_IDX *req_cons)
{
    unsigned n = 0, size = j->head->ring_size;

    for (unsigned i = 0; i < size; i++) {
        struct jr_ent *e = &j->ent[i];
        /* Answered: its response is below the producer the frontend saw. */
        bool answered = e->state == JR_RESPONDING &&
                        (int32_t)(e->rsp_idx - rsp_prod) < 0;

        if (e->state == JR_FREE)
            continue;
        if (answered || (e->state != JR_TAKEN && e->state != JR_RESPONDING)) {
            e->state = JR_FREE;
            continue;
        }
        /* Insert by the ring index it was taken at (wrap-safe). */
        unsigned k = n++;
        while (k > 0 && (int32_t)(j->ent[slots[k - 1]].req_idx - e->req_idx) > 0) {
            slots[k] = slots[k - 1];
            k--;
        }
        slots[k] = i;
        e->state = JR_TAKEN;     /* its response is still to be written */
    }
    for (unsigned k = 0; k < n; k++)
        copies[k] = j->ent[slots[k]].req;
    *req_cons = rsp_prod + n;
    return n;
}
