/* The fake Xen side of rtvirt-ioemu; see fake_ioreq.h. */
#include "fake_ioreq.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

static struct fake_xen *F(struct rtv_ioreq_srv *s)
{
    return (struct fake_xen *)s;
}

void fake_xen_lock(struct fake_xen *f)
{
    int rc = pthread_mutex_lock(&f->bus);

    /* A server process was killed on the bus: the UART model may be
     * mid-access, as a real UART may be mid-byte; carry on. */
    if (rc == EOWNERDEAD)
        rc = pthread_mutex_consistent(&f->bus);
    if (rc != 0)
        abort();   /* not a fake any more: the test's own broken invariant */
}

void fake_xen_unlock(struct fake_xen *f)
{
    pthread_mutex_unlock(&f->bus);
}

static int fx_create(struct rtv_ioreq_srv *s, struct rtv_err *err)
{
    struct fake_xen *f = F(s);
    int rc = 0;

    fake_xen_lock(f);
    if (f->fail_creates) {
        f->fail_creates--;
        rc = rtv_err_set(err, ENOSPC, "fake: no ioreq server left (injected)");
    } else if (f->server) {
        rc = rtv_err_set(err, EEXIST, "fake: the server exists already");
    } else {
        f->server = true;
        f->server_id = f->next_id++;
        f->creates++;
        memset(&f->page, 0, sizeof(f->page));
    }
    fake_xen_unlock(f);
    return rc;
}

static int fx_claim(struct rtv_ioreq_srv *s, uint16_t first, uint16_t last, bool on,
                    struct rtv_err *err)
{
    struct fake_xen *f = F(s);

    if (first != f->ioport || last != f->ioport + 7)
        return rtv_err_set(err, EINVAL, "fake: claim of %#x..%#x, the UART is at %#x", first, last,
                           f->ioport);
    fake_xen_lock(f);
    f->claimed = on;
    fake_xen_unlock(f);
    return 0;
}

static int fx_enable(struct rtv_ioreq_srv *s, bool on, struct rtv_err *err)
{
    struct fake_xen *f = F(s);

    (void)err;
    fake_xen_lock(f);
    f->enabled = on;
    fake_xen_unlock(f);
    return 0;
}

static void fx_destroy(struct rtv_ioreq_srv *s)
{
    struct fake_xen *f = F(s);
    ioreq_t *r = &f->page.vcpu_ioreq[0];

    fake_xen_lock(f);
    if (f->server) {
        f->destroys++;
        if (r->state == STATE_IORESP_READY) {
            /* Xen completes the vCPU's access without the server's data */
            f->answers_lost++;
            r->data = ~0ull;
        } else if (r->state != STATE_IOREQ_NONE) {
            f->stranded++;
        }
    }
    f->server = f->claimed = f->enabled = false;
    fake_xen_unlock(f);
}

static uint16_t fx_id(struct rtv_ioreq_srv *s)
{
    return F(s)->server_id;
}

static int fx_adopt(struct rtv_ioreq_srv *s, uint16_t id, uint16_t first, uint16_t last,
                    struct rtv_err *err)
{
    struct fake_xen *f = F(s);
    int rc = 0;

    fake_xen_lock(f);
    if (!f->server || f->server_id != id)
        rc = rtv_err_set(err, ENOENT, "fake: no ioreq server %u", id);
    else if (!f->claimed || first != f->ioport || last != f->ioport + 7)
        rc = rtv_err_set(err, ESRCH, "fake: ioreq server %u does not claim %#x-%#x", id, first,
                         last);
    else {
        f->adopts++;
        f->enabled = true;
    }
    fake_xen_unlock(f);
    return rc;
}

static unsigned fx_vcpus(struct rtv_ioreq_srv *s)
{
    (void)s;
    return 1;
}

static ioreq_t *fx_slot(struct rtv_ioreq_srv *s, unsigned v)
{
    return &F(s)->page.vcpu_ioreq[v];
}

static int fx_fd(struct rtv_ioreq_srv *s)
{
    return F(s)->ev_server;
}

static int fx_pending(struct rtv_ioreq_srv *s, unsigned *v)
{
    uint64_t n;

    if (read(F(s)->ev_server, &n, sizeof(n)) != sizeof(n))
        return -EAGAIN;
    *v = 0;
    return 0;
}

static int fx_notify(struct rtv_ioreq_srv *s, unsigned v)
{
    uint64_t one = 1;

    (void)v;
    return write(F(s)->ev_guest, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

static int fx_set_isa_irq(struct rtv_ioreq_srv *s, uint8_t irq, bool level, struct rtv_err *err)
{
    struct fake_xen *f = F(s);

    (void)err;
    (void)irq;
    fake_xen_lock(f);
    if (level && !f->irq)
        f->irq_rises++;
    f->irq = level;
    fake_xen_unlock(f);
    return 0;
}

static int fx_direct(struct rtv_ioreq_srv *s, uint16_t first, uint16_t n, bool add,
                     struct rtv_err *err)
{
    struct fake_xen *f = F(s);

    if (first != f->ioport || n != 8)
        return rtv_err_set(err, EINVAL, "fake: mapping of %#x+%u, the UART is at %#x", first, n,
                           f->ioport);
    fake_xen_lock(f);
    f->mapped = add;
    fake_xen_unlock(f);
    return 0;
}

void fake_xen_console_print(struct fake_xen *f, const char *line)
{
    size_t room = sizeof(f->console) - f->console_len;
    int n = snprintf(f->console + f->console_len, room, "%s\n", line);

    if (n > 0)
        f->console_len += (uint32_t)((size_t)n < room ? (size_t)n : room - 1);
}

static int fx_pt_irq(struct rtv_ioreq_srv *s, const struct rtv_pt_irq *b, bool bind,
                     struct rtv_err *err)
{
    struct fake_xen *f = F(s);
    char line[96];

    if (bind) {
        f->pt_binds++;
        f->pt_last = *b;
        if (f->pt_bind_rc < 0) {
            snprintf(line, sizeof(line), "(XEN) pt_irq_create_bind failed (%d) for dom%u",
                     f->pt_bind_rc, s->domid);
            fake_xen_console_print(f, line);
            return rtv_err_set(err, -f->pt_bind_rc, "fake: bind refused (injected)");
        }
        f->pt_bound++;
        return 0;
    }
    f->pt_unbinds++;
    if (f->pt_unbind_rc < 0)
        return rtv_err_set(err, -f->pt_unbind_rc, "fake: unbind refused (injected)");
    if (f->pt_bound == 0)
        return rtv_err_set(err, EINVAL, "fake: nothing bound");
    f->pt_bound--;
    return 0;
}

static int fx_console(struct rtv_ioreq_srv *s, uint32_t *index, char *buf, uint32_t *len,
                      struct rtv_err *err)
{
    struct fake_xen *f = F(s);
    uint32_t from = *index <= f->console_len ? *index : 0;
    uint32_t n = f->console_len - from < *len ? f->console_len - from : *len;

    (void)err;
    memcpy(buf, f->console + from, n);
    *len = n;
    *index = from + n;
    return 0;
}

static void fx_close(struct rtv_ioreq_srv *s)
{
    fx_destroy(s);
}

static const struct rtv_ioreq_srv_ops fake_ops = {
    .name = "fake",
    .create = fx_create,
    .claim = fx_claim,
    .enable = fx_enable,
    .destroy = fx_destroy,
    .id = fx_id,
    .adopt = fx_adopt,
    .vcpus = fx_vcpus,
    .slot = fx_slot,
    .fd = fx_fd,
    .pending = fx_pending,
    .notify = fx_notify,
    .set_isa_irq = fx_set_isa_irq,
    .direct = fx_direct,
    .pt_irq = fx_pt_irq,
    .console = fx_console,
    .close = fx_close,
};

struct fake_xen *fake_xen_new(uint16_t domid, uint16_t ioport)
{
    struct fake_xen *f = mmap(NULL, sizeof(*f), PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pthread_mutexattr_t a;

    if (f == MAP_FAILED)
        return NULL;
    memset(f, 0, sizeof(*f));
    f->base = (struct rtv_ioreq_srv){ .ops = &fake_ops, .domid = domid };
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&f->bus, &a);
    pthread_mutexattr_destroy(&a);
    rtv_uart_init(&f->uart);
    f->ioport = ioport;
    f->mapped = false;  /* as libxl leaves an HVM guest's ioports: only permitted */
    f->next_id = 1;     /* 0 is usually the device model's own (qemu) */
    f->ev_server = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    f->ev_guest = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return f;
}

void fake_xen_free(struct fake_xen *f)
{
    close(f->ev_server);
    close(f->ev_guest);
    pthread_mutex_destroy(&f->bus);
    munmap(f, sizeof(*f));
}

static uint8_t uart_in(void *ctx, unsigned off)
{
    struct fake_xen *f = ctx;
    uint8_t v;

    fake_xen_lock(f);
    v = rtv_uart_read(&f->uart, off);
    fake_xen_unlock(f);
    return v;
}

static void uart_out(void *ctx, unsigned off, uint8_t v)
{
    struct fake_xen *f = ctx;

    fake_xen_lock(f);
    rtv_uart_write(&f->uart, off, v);
    fake_xen_unlock(f);
}

struct rtv_uart_io fake_xen_uart_io(struct fake_xen *f)
{
    return (struct rtv_uart_io){ .in = uart_in, .out = uart_out, .ctx = f };
}

uint8_t fake_xen_guest_io(struct fake_xen *f, unsigned off, bool is_write, uint8_t v,
                          void (*wait_tick)(void *), void *arg)
{
    ioreq_t *r = &f->page.vcpu_ioreq[0];
    uint64_t one = 1, n;
    uint8_t out;

    fake_xen_lock(f);
    if (f->mapped) {   /* Xen's own handler first, as in hvmemul_do_io */
        out = is_write ? (rtv_uart_write(&f->uart, off, v), v) : rtv_uart_read(&f->uart, off);
        fake_xen_unlock(f);
        return out;
    }
    if (!(f->server && f->claimed && f->enabled)) {
        f->lost++;
        fake_xen_unlock(f);
        return 0xff;
    }
    *r = (ioreq_t){ .addr = f->ioport + off, .data = is_write ? v : 0, .count = 1, .size = 1,
                    .dir = is_write ? IOREQ_WRITE : IOREQ_READ, .type = IOREQ_TYPE_PIO };
    atomic_thread_fence(memory_order_release);
    r->state = STATE_IOREQ_READY;
    fake_xen_unlock(f);
    if (write(f->ev_server, &one, sizeof(one)) != sizeof(one))
        return 0xff;
    /* The vCPU waits for its answer (held accesses wait through a change). */
    for (;;) {
        struct pollfd p = { .fd = f->ev_guest, .events = POLLIN };

        if (poll(&p, 1, 0) == 1 && read(f->ev_guest, &n, sizeof(n)) == sizeof(n) &&
            r->state == STATE_IORESP_READY)
            break;
        if (wait_tick)
            wait_tick(arg);
        usleep(20);
    }
    atomic_thread_fence(memory_order_acquire);
    out = (uint8_t)r->data;
    r->state = STATE_IOREQ_NONE;
    return out;
}
