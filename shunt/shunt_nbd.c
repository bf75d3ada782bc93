/*
 * The NBD transmission phase on a stream socket: what the kernel's nbd
 * driver speaks once NBD_SET_SOCK handed it the other end (no handshake).
 *
 *   request: magic 0x25609513, type (low 16 bits command, high 16 flags),
 *            8-byte handle, 64-bit offset, 32-bit length, then for WRITE the
 *            data;
 *   reply:   magic 0x67446698, 32-bit error (an errno value, 0 = ok), the
 *            handle, then for a successful READ the data.
 * Replies go out in completion order: the client matches them by handle.
 *
 * The socket is non-blocking and both directions are state machines, so a
 * slow reader never stalls the loop (and with it the switch).  A client that
 * sends garbage (bad magic) loses its connection; a request that is merely
 * wrong (out of range, unknown command) gets an error reply.  The number of
 * requests taken in is bounded; past it we stop reading until replies drain.
 */
#include "shunt_priv.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/nbd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "rtvirt/clock.h"

#define NBD_MAX_INFLIGHT 256
#define NBD_MAX_BYTES    (128u << 20)
/* Data buffers are reused: a fresh large buffer is an mmap, a munmap and a
 * page fault per page, on every request.  Classes 4 KiB << 0..8. */
#define NBD_BUF_CLASSES  9
#define NBD_BUF_KEEP     32

struct nbd_hdr {            /* struct nbd_request, wire order */
    uint32_t magic;
    uint32_t type;
    uint8_t  handle[8];
    uint64_t from;
    uint32_t len;
} __attribute__((packed));

struct nbd_rep {            /* struct nbd_reply, wire order */
    uint32_t magic;
    uint32_t error;
    uint8_t  handle[8];
} __attribute__((packed));

struct nbd_req {
    struct shunt_req  r;          /* first: shunt_req -> nbd_req */
    struct shunt_nbd *n;
    struct nbd_rep    rep;
    int               buf_class;  /* -1: not from the cache */
    bool              with_data;  /* reply carries r.buf */
    size_t            sent;       /* bytes of reply written */
    struct nbd_req   *next;
};

struct shunt_nbd {
    struct shunt   *sh;
    int             fd;
    /* input */
    uint8_t         hdr[sizeof(struct nbd_hdr)];
    size_t          hdr_got;
    struct nbd_req *in;           /* a WRITE whose data is coming */
    size_t          in_got;
    bool            disc;         /* NBD_CMD_DISC seen or EOF */
    bool            dead;
    /* output */
    struct nbd_req *out_head, *out_tail;
    unsigned        inflight;     /* taken in, reply not fully sent */
    size_t          inflight_bytes;
    void           *cache[NBD_BUF_CLASSES];   /* free buffers, linked through word 0 */
    unsigned        cached[NBD_BUF_CLASSES];
};

static int buf_class(uint32_t len)
{
    for (int k = 0; k < NBD_BUF_CLASSES; k++)
        if (len <= (4096u << k))
            return k;
    return -1;
}

static void *buf_get(struct shunt_nbd *n, uint32_t len, int *cls)
{
    void *b;
    int k = buf_class(len);

    *cls = k;
    if (k >= 0 && n->cache[k] != NULL) {
        b = n->cache[k];
        memcpy(&n->cache[k], b, sizeof(void *));
        n->cached[k]--;
        return b;
    }
    if (posix_memalign(&b, SHUNT_ALIGN, k >= 0 ? 4096u << k : len) != 0)
        return NULL;
    return b;
}

static void buf_put(struct shunt_nbd *n, void *b, int k)
{
    if (b == NULL)
        return;
    if (k < 0 || n->cached[k] >= NBD_BUF_KEEP) {
        free(b);
        return;
    }
    memcpy(b, &n->cache[k], sizeof(void *));
    n->cache[k] = b;
    n->cached[k]++;
}

static int nbd_errno(int status)
{
    switch (-status) {
    case 0:           return 0;
    case EPERM:       return EPERM;
    case ENOMEM:      return ENOMEM;
    case EINVAL:      return EINVAL;
    case ENOSPC:      return ENOSPC;
    case EOVERFLOW:   return EOVERFLOW;
    case EOPNOTSUPP:  return EOPNOTSUPP;
    case ESHUTDOWN:   return ESHUTDOWN;
    default:          return EIO;   /* the protocol's catch-all */
    }
}

static void req_free(struct nbd_req *q)
{
    struct shunt_nbd *n = q->n;

    n->inflight--;
    n->inflight_bytes -= q->r.len;
    buf_put(n, q->r.buf, q->buf_class);
    free(q);
}

static void queue_reply(struct nbd_req *q, int status)
{
    struct shunt_nbd *n = q->n;

    q->rep.magic = htobe32(NBD_REPLY_MAGIC);
    q->rep.error = htobe32((uint32_t)nbd_errno(status));
    q->with_data = status == 0 && q->r.op == RTV_IO_READ;
    q->sent = 0;
    q->next = NULL;
    if (n->out_tail)
        n->out_tail->next = q;
    else
        n->out_head = q;
    n->out_tail = q;
}

static void req_done(struct shunt_req *r, int status)
{
    queue_reply((struct nbd_req *)r, status);
}

/* Writes what it can of the queued replies. */
static int flush_out(struct shunt_nbd *n)
{
    while (n->out_head != NULL) {
        struct nbd_req *q = n->out_head;
        size_t total = sizeof(q->rep) + (q->with_data ? q->r.len : 0);
        struct iovec iov[2];
        int cnt = 0;

        if (q->sent < sizeof(q->rep)) {
            iov[cnt++] = (struct iovec){ (uint8_t *)&q->rep + q->sent,
                                         sizeof(q->rep) - q->sent };
            if (q->with_data)
                iov[cnt++] = (struct iovec){ q->r.buf, q->r.len };
        } else {
            size_t off = q->sent - sizeof(q->rep);
            iov[cnt++] = (struct iovec){ (uint8_t *)q->r.buf + off, q->r.len - off };
        }
        ssize_t w = writev(n->fd, iov, cnt);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            return -errno;
        }
        q->sent += (size_t)w;
        if (q->sent < total)
            continue;
        n->out_head = q->next;
        if (n->out_head == NULL)
            n->out_tail = NULL;
        req_free(q);
    }
    return 0;
}

static struct nbd_req *req_new(struct shunt_nbd *n, const struct nbd_hdr *h,
                               enum rtv_io_op op, bool data)
{
    struct nbd_req *q = calloc(1, sizeof(*q));

    if (q == NULL)
        return NULL;
    q->n = n;
    memcpy(q->rep.handle, h->handle, sizeof(q->rep.handle));
    q->r.op = op;
    q->r.offset = h->from;
    q->r.len = h->len;
    q->r.done = req_done;
    q->r.owner = n;
    q->buf_class = -1;
    if (data && h->len > 0 && (q->r.buf = buf_get(n, h->len, &q->buf_class)) == NULL) {
        free(q);
        return NULL;
    }
    n->inflight++;
    n->inflight_bytes += h->len;
    return q;
}

/* A complete header is in n->hdr: start the request. */
static int take_header(struct shunt_nbd *n)
{
    struct nbd_hdr h;
    struct nbd_req *q;
    enum rtv_io_op op;
    bool data;

    memcpy(&h, n->hdr, sizeof(h));
    n->hdr_got = 0;
    if (be32toh(h.magic) != NBD_REQUEST_MAGIC)
        return -EPROTO;   /* not NBD (or we lost sync): cannot go on */
    h.type = be32toh(h.type);
    h.from = be64toh(h.from);
    h.len = be32toh(h.len);

    switch (h.type & 0xffff) {
    case NBD_CMD_READ:  op = RTV_IO_READ;    data = true;  break;
    case NBD_CMD_WRITE: op = RTV_IO_WRITE;   data = true;  break;
    case NBD_CMD_FLUSH: op = RTV_IO_FLUSH;   data = false; break;
    case NBD_CMD_TRIM:  op = RTV_IO_DISCARD; data = false; break;
    case NBD_CMD_DISC:
        n->disc = true;
        return 0;
    default:
        op = RTV_IO_READ;
        data = false;
        break;
    }
    if (data && h.len > SHUNT_MAX_REQ) {
        /* A write's data must still be read off the socket to stay in
         * sync; larger than we ever advertise means a broken client. */
        if ((h.type & 0xffff) == NBD_CMD_WRITE)
            return -EPROTO;
        data = false;
        h.type = 0xffff;   /* answered with EINVAL below */
    }
    q = req_new(n, &h, op, data);
    if (q == NULL)
        return -ENOMEM;
    if ((h.type & 0xffff) > NBD_CMD_TRIM || (h.type & 0xffff) == NBD_CMD_DISC ||
        (op == RTV_IO_READ && !data)) {
        queue_reply(q, -EINVAL);
        return 0;
    }
    if (op == RTV_IO_WRITE && h.len > 0) {   /* len 0: no data follows */
        n->in = q;
        n->in_got = 0;
        return 0;
    }
    shunt_submit(n->sh, &q->r);
    return 0;
}

static bool may_read(const struct shunt_nbd *n)
{
    return !n->disc && !n->dead && n->inflight < NBD_MAX_INFLIGHT &&
           n->inflight_bytes < NBD_MAX_BYTES;
}

static int read_in(struct shunt_nbd *n)
{
    while (may_read(n) || n->in != NULL) {
        ssize_t r;

        if (n->in != NULL) {
            r = read(n->fd, (uint8_t *)n->in->r.buf + n->in_got, n->in->r.len - n->in_got);
        } else {
            r = read(n->fd, n->hdr + n->hdr_got, sizeof(n->hdr) - n->hdr_got);
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            return -errno;
        }
        if (r == 0) {
            n->disc = true;   /* EOF: treat as a disconnect */
            if (n->in != NULL) {
                queue_reply(n->in, -EIO);
                n->in = NULL;
            }
            return 0;
        }
        if (n->in != NULL) {
            n->in_got += (size_t)r;
            if (n->in_got == n->in->r.len) {
                struct nbd_req *q = n->in;

                n->in = NULL;
                shunt_submit(n->sh, &q->r);
            }
            continue;
        }
        n->hdr_got += (size_t)r;
        if (n->hdr_got == sizeof(n->hdr)) {
            int rc = take_header(n);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

struct shunt_nbd *shunt_nbd_new(struct shunt *sh, int fd)
{
    struct shunt_nbd *n = calloc(1, sizeof(*n));
    int fl;

    if (n == NULL)
        return NULL;
    n->sh = sh;
    n->fd = fd;
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        free(n);
        return NULL;
    }
    return n;
}

void shunt_nbd_pollfd(const struct shunt_nbd *n, struct pollfd *pfd)
{
    pfd->fd = n->dead ? -1 : n->fd;
    pfd->events = (may_read(n) || n->in ? POLLIN : 0) | (n->out_head ? POLLOUT : 0);
    pfd->revents = 0;
}

int shunt_nbd_handle(struct shunt_nbd *n, short revents)
{
    int rc = 0;

    if (n->dead)
        return n->inflight ? 1 : 0;
    if (revents & (POLLIN | POLLHUP | POLLERR))
        rc = read_in(n);
    if (rc == 0)
        rc = flush_out(n);
    if (rc < 0) {
        shunt_warn(n->sh, "nbd connection dropped: %s", strerror(-rc));
        n->dead = true;
        return rc;
    }
    if (n->disc && n->inflight == 0 && n->in == NULL)
        return 0;
    return 1;
}

unsigned shunt_nbd_inflight(const struct shunt_nbd *n)
{
    return n->inflight;
}

void shunt_nbd_free(struct shunt_nbd *n)
{
    if (n == NULL)
        return;
    /* Requests still inside the shunt point at us: let them finish. */
    uint64_t end = rtv_now_us() + 5000000u;
    while (n->inflight > (n->in ? 1u : 0u) && rtv_now_us() < end) {
        struct pollfd pfd;

        shunt_nbd_pollfd(n, &pfd);
        pfd.events &= POLLOUT;
        shunt_run_once(n->sh, &pfd, 1, 50);
        if (flush_out(n) < 0) {
            /* Nobody reads the replies: drop them, keep waiting for the
             * shunt to give back what it holds. */
            while (n->out_head) {
                struct nbd_req *q = n->out_head;
                n->out_head = q->next;
                req_free(q);
            }
            n->out_tail = NULL;
        }
    }
    if (n->in != NULL) {
        req_free(n->in);
        n->in = NULL;
    }
    while (n->out_head) {
        struct nbd_req *q = n->out_head;
        n->out_head = q->next;
        req_free(q);
    }
    close(n->fd);
    for (int k = 0; k < NBD_BUF_CLASSES; k++) {
        while (n->cache[k] != NULL) {
            void *b = n->cache[k];
            memcpy(&n->cache[k], b, sizeof(void *));
            free(b);
        }
    }
    free(n);
}
