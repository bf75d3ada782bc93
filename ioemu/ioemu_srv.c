/* rtvirt-ioemu's server; see rtvirt/ioemu_srv.h. */
#include "rtvirt/ioemu_srv.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtvirt/clock.h"
#include "rtvirt/ioreq_pio.h"
#include "rtvirt/xs_schema.h"
#include "rtvirt/xs_util.h"

#define FINI_BOUND_US   3000000u   /* a devirtualize at exit: at most 3 s */
#define UNTRAP_BOUND_US 1000000u   /* vCPUs picking up their last answers */

__attribute__((format(printf, 2, 3)))
static void trace(struct ioemu_srv *s, const char *fmt, ...)
{
    va_list ap;

    if (!s->cfg.trace)
        return;
    fprintf(s->cfg.trace, "%llu ", (unsigned long long)rtv_now_us());
    va_start(ap, fmt);
    vfprintf(s->cfg.trace, fmt, ap);
    va_end(ap);
    fputc('\n', s->cfg.trace);
    fflush(s->cfg.trace);
}

static int path(const struct ioemu_srv *s, enum rtv_xs_node n, char *buf, size_t len,
                struct rtv_err *err)
{
    struct rtv_xs_args a = { .domid = s->cfg.domid, .iodev = s->cfg.iodev };

    return rtv_xs_path(buf, len, n, &a, err);
}

/* ---- the store side ------------------------------------------------------ */

struct publish {
    struct ioemu_srv              *s;
    const struct rtv_ioemu_ctl_out *o;
};

static int write_node(struct ioemu_srv *s, rtv_txn_t t, enum rtv_xs_node n, const char *v)
{
    char p[RTV_XS_PATH_MAX];
    int rc = path(s, n, p, sizeof(p), NULL);

    return rc < 0 ? rc : rtv_xs_write(s->xs, t, p, v, strlen(v));
}

static int write_uint(struct ioemu_srv *s, rtv_txn_t t, enum rtv_xs_node n, unsigned long long v)
{
    char b[24];

    snprintf(b, sizeof(b), "%llu", v);
    return write_node(s, t, n, b);
}

static int publish_txn(struct rtv_store *xs, rtv_txn_t t, void *arg)
{
    struct publish *p = arg;
    struct ioemu_srv *s = p->s;
    const struct rtv_iov *v = &s->dm.iov;
    int rc = 0;

    (void)xs;
    if (p->o->publish_state && rc == 0)
        rc = write_node(s, t, RTV_XS_IOEMU_STATE, p->o->state);
    if (p->o->answer.publish && rc == 0) {
        rc = write_node(s, t, RTV_XS_IOEMU_RESULT, p->o->answer.result);
        if (rc == 0)
            rc = write_node(s, t, RTV_XS_IOEMU_ERROR, p->o->answer.error);
        if (rc == 0)   /* last: a tool waiting on result-id finds the rest written */
            rc = write_uint(s, t, RTV_XS_IOEMU_RESULT_ID, p->o->answer.id);
    }
    if (p->o->publish_stats && rc == 0) {
        const struct { enum rtv_xs_node n; uint64_t v; } st[] = {
            { RTV_XS_IOEMU_STATS_CHANGES, v->changes },
            { RTV_XS_IOEMU_STATS_RESETS, v->resets },
            { RTV_XS_IOEMU_STATS_ROLLBACKS, v->rollbacks },
            { RTV_XS_IOEMU_STATS_SEEK_US, v->seek_us },
            { RTV_XS_IOEMU_STATS_HELD_US, v->held_us },
            { RTV_XS_IOEMU_STATS_BUSY, v->busy },
            { RTV_XS_IOEMU_STATS_LOGGED, v->logged },
            { RTV_XS_IOEMU_STATS_REPLAYED, v->replayed },
        };
        for (size_t i = 0; i < sizeof(st) / sizeof(st[0]) && rc == 0; i++)
            rc = write_uint(s, t, st[i].n, st[i].v);
    }
    return rc;
}

static void publish(struct ioemu_srv *s, const struct rtv_ioemu_ctl_out *o)
{
    struct publish p = { s, o };
    int rc;

    if (o->note[0])
        trace(s, "store: %s", o->note);
    if (!o->publish_state && !o->answer.publish && !o->publish_stats)
        return;
    rc = rtv_xs_transact(s->xs, 0, publish_txn, &p);
    if (rc < 0)
        fprintf(stderr, "rtvirt-ioemu: d%u %s: cannot publish: %s\n", s->cfg.domid,
                s->cfg.iodev, strerror(-rc));
    trace(s, "publish:%s%s%s%s%s%s", o->publish_state ? " state=" : "",
          o->publish_state ? o->state : "", o->answer.publish ? " result=" : "",
          o->answer.publish ? o->answer.result : "",
          o->answer.publish && o->answer.error[0] ? " error=" : "",
          o->answer.publish ? o->answer.error : "");
}

/* ---- the Xen side: trapping and answering --------------------------------- */

/* The guest's line, as the emulation drives it (low whenever the device is
 * direct: the UART's own line is the guest's then). */
static void sync_irq(struct ioemu_srv *s)
{
    bool level = rtv_uart_dm_irq(&s->dm);
    struct rtv_err err = {0};

    if (s->dm.iov.mode != s->last_mode) {
        if (s->dm.iov.mode == RTV_IOV_DIRECT && s->irq_level != true) {
            /* Handed back: the UART, in the guest's mode again, may have an
             * interrupt pending that raised its line while it was ours.
             * An ISA line is edge-triggered at the guest's PIC/IOAPIC, so
             * that edge is gone: one pulse makes the guest's handler look
             * (a spurious look is harmless to an 8250 driver). */
            s->x->ops->set_isa_irq(s->x, (uint8_t)s->cfg.irq, true, &err);
            s->irq_level = true;
        }
        s->last_mode = s->dm.iov.mode;
        /* Virtualized: the guest's mode as read off the UART at takeover;
         * direct: as written back into it at handback. */
        struct rtv_uart_mode m;

        rtv_uart_mode_get(&s->dm.model, &m);
        trace(s, "mode %s: guest's mode %s the UART: divisor %u lcr %#x ier %#x mcr %#x fcr %#x",
              s->last_mode == RTV_IOV_DIRECT ? "direct" : "virtualized",
              s->last_mode == RTV_IOV_DIRECT ? "written into" : "read off", m.divisor, m.lcr, m.ier,
              m.mcr, m.fcr);
    }
    if (level == s->irq_level)
        return;
    if (s->x->ops->set_isa_irq(s->x, (uint8_t)s->cfg.irq, level, &err) < 0) {
        trace(s, "irq %d: %s", s->cfg.irq, err.msg);
        return;
    }
    s->irq_level = level;
}

static void drain_requests(struct ioemu_srv *s);

/* The server's record in the store (schema: ioemu-ioreq-server), so that a
 * successor of a killed rtvirt-ioemu finds the server Xen keeps. */
static int record_server(struct ioemu_srv *s, bool exists)
{
    char p[RTV_XS_PATH_MAX];
    int rc;

    if (exists)
        return write_uint(s, RTV_XS_NO_TXN, RTV_XS_IOEMU_IOREQ_SERVER, s->x->ops->id(s->x));
    rc = path(s, RTV_XS_IOEMU_IOREQ_SERVER, p, sizeof(p), NULL);
    if (rc == 0)
        rc = rtv_xs_rm(s->xs, RTV_XS_NO_TXN, p);
    return rc == -ENOENT ? 0 : rc;
}

/* A slot whose vCPU still has business with the server: a request not
 * taken yet, or an answer the vCPU has not picked up. */
static bool slot_busy(struct ioemu_srv *s, unsigned v)
{
    uint8_t st = s->x->ops->slot(s->x, v)->state;

    return st == STATE_IOREQ_READY || st == STATE_IORESP_READY;
}

/* Requests that reached the server before the mapping came back are
 * carried out (drain_requests), and then every answer must be picked up
 * before the server goes: Xen copies an answer into the vCPU only when the
 * vCPU runs again and finds its server pending (Xen 4.17 common/ioreq.c,
 * vcpu_ioreq_handle_completion); destroyed before that, a read would
 * complete without its data.  Bounded: a vCPU that does not run within
 * UNTRAP_BOUND_US (a dead domain) is not waited for. */
static void settle_slots(struct ioemu_srv *s)
{
    uint64_t t0 = rtv_now_us();
    unsigned n = s->x->ops->vcpus(s->x), v = 0;

    for (;;) {
        drain_requests(s);
        for (v = 0; v < n && v < IOEMU_MAX_VCPUS && !slot_busy(s, v); v++)
            ;
        if (v == n || v == IOEMU_MAX_VCPUS || s->stop || rtv_now_us() - t0 > UNTRAP_BOUND_US)
            break;
        usleep(50);
    }
    if (v < n && v < IOEMU_MAX_VCPUS && !s->stop)
        trace(s, "untrap: v%u's slot still in state %u after %u ms", v,
              (unsigned)s->x->ops->slot(s->x, v)->state, UNTRAP_BOUND_US / 1000);
}

static void untrap(struct ioemu_srv *s)
{
    struct rtv_err err = {0};
    uint16_t base = s->cfg.ioport;

    /* The mapping first: Xen serves it before any ioreq server, so from
     * here on no new access reaches the server. */
    if (!s->mapped) {
        if (s->x->ops->direct(s->x, base, RTV_UART_NPORTS, true, &err) < 0)
            fprintf(stderr, "rtvirt-ioemu: d%u %s: %s\n", s->cfg.domid, s->cfg.iodev, err.msg);
        else
            s->mapped = true;
    }
    if (s->server) {
        settle_slots(s);
        s->x->ops->destroy(s->x);
        if (record_server(s, false) < 0)
            fprintf(stderr, "rtvirt-ioemu: d%u %s: cannot remove the ioreq-server node\n",
                    s->cfg.domid, s->cfg.iodev);
    }
    s->server = false;
    trace(s, "untrap: direct mapping %s, ioreq server destroyed", s->mapped ? "restored" : "NOT restored");
}

static int trap(struct ioemu_srv *s, struct rtv_err *err)
{
    uint16_t base = s->cfg.ioport, last = (uint16_t)(base + RTV_UART_NPORTS - 1);
    const struct rtv_ioreq_srv_ops *o = s->x->ops;
    int rc;

    rc = o->create(s->x, err);
    s->server = rc == 0;
    if (rc == 0 && o->vcpus(s->x) > IOEMU_MAX_VCPUS)
        rc = rtv_err_set(err, E2BIG, "%u vCPUs: at most %d", o->vcpus(s->x), IOEMU_MAX_VCPUS);
    /* Recorded before it can take any access: Xen keeps the server if we
     * are killed, and only the record lets a successor find it. */
    if (rc == 0 && (rc = record_server(s, true)) < 0)
        rtv_err_set(err, -rc, "cannot record the ioreq server in the store: %s", strerror(-rc));
    if (rc == 0)
        rc = o->claim(s->x, base, last, true, err);
    if (rc == 0)
        rc = o->enable(s->x, true, err);
    /* Only now, with the server ready for them, can the accesses trap. */
    if (rc == 0 && s->mapped) {
        rc = o->direct(s->x, base, RTV_UART_NPORTS, false, err);
        if (rc == 0)
            s->mapped = false;
    }
    if (rc < 0)
        untrap(s);
    trace(s, "trap: %s", rc < 0 ? err->msg : "ioreq server on, ports claimed, direct mapping removed");
    return rc;
}

static void dm_trap(void *ctx, bool on)
{
    struct ioemu_srv *s = ctx;

    if (!on) {
        untrap(s);
        return;
    }
    s->trap_err = (struct rtv_err){0};
    s->trap_failed = trap(s, &s->trap_err) < 0;
}

static void complete(struct ioemu_srv *s, unsigned v, uint64_t data)
{
    ioreq_t *slot = s->x->ops->slot(s->x, v);

    slot->data = data;
    /* The data before the state: Xen reads data once it sees IORESP_READY. */
    atomic_thread_fence(memory_order_release);
    slot->state = STATE_IORESP_READY;
    s->x->ops->notify(s->x, v);
}

static void dm_answer(void *ctx, uint64_t cookie, uint32_t value)
{
    struct ioemu_srv *s = ctx;
    struct ioemu_waiting *w = &s->wait[cookie];

    assert(cookie < IOEMU_MAX_VCPUS && w->why == IOEMU_HELD);   /* our own cookies */
    trace(s, "v%u answered after hold: port +%u %s %#x", (unsigned)cookie,
          (unsigned)(w->copy.addr - s->cfg.ioport), w->copy.dir == IOREQ_READ ? "in" : "out", value);
    w->why = IOEMU_NONE;
    complete(s, (unsigned)cookie, rtv_ioreq_pio_answer(&w->copy, RTV_IOREQ_ACCESS, value));
}

static uint64_t dm_now_us(void *ctx)
{
    (void)ctx;
    return rtv_now_us();
}

static const struct rtv_uart_dm_ops dm_ops = { .trap = dm_trap, .answer = dm_answer,
                                               .now_us = dm_now_us };

/* One access of vCPU v (a copy of its request) through the device model. */
static void route(struct ioemu_srv *s, unsigned v, const ioreq_t *copy)
{
    struct rtv_ioseq_access a;
    struct rtv_err err = {0};
    enum rtv_ioreq_kind k = rtv_ioreq_pio_decode(copy, s->cfg.ioport, RTV_UART_NPORTS, 1, &a, &err);
    uint32_t value = 0;

    if (k != RTV_IOREQ_ACCESS) {
        if (k == RTV_IOREQ_REFUSED) {
            s->refused++;
            trace(s, "v%u refused: %s", v, err.msg);
        }
        complete(s, v, rtv_ioreq_pio_answer(copy, k, 0));
        return;
    }
    s->accesses++;
    switch (rtv_uart_dm_access(&s->dm, &a, v, &value)) {
    case RTV_UART_DM_ANSWERED:
        trace(s, "v%u %s +%u %#x (%s)", v, a.dir == RTV_IOSEQ_READ ? "in" : "out", a.offset,
              a.dir == RTV_IOSEQ_READ ? value : a.value, rtv_iov_state_name(&s->dm.iov));
        s->wait[v].why = IOEMU_NONE;
        complete(s, v, rtv_ioreq_pio_answer(copy, k, value));
        break;
    case RTV_UART_DM_HELD:
        trace(s, "v%u %s +%u held (logged while the change runs)", v,
              a.dir == RTV_IOSEQ_READ ? "in" : "out", a.offset);
        s->wait[v] = (struct ioemu_waiting){ .copy = *copy, .why = IOEMU_HELD };
        break;
    case RTV_UART_DM_RETRY:
        s->wait[v] = (struct ioemu_waiting){ .copy = *copy, .why = IOEMU_RETRY };
        break;
    }
}

/* Takes vCPU v's request off the page and carries it out.  Copy, fence,
 * validate the copy only (STYLE.md 2): the page is Xen's.  The copy is
 * decoded as the fresh request it was (a predecessor may have marked the
 * slot in process before it died). */
static void take_slot(struct ioemu_srv *s, unsigned v, ioreq_t *slot)
{
    ioreq_t copy;

    atomic_thread_fence(memory_order_acquire);
    memcpy(&copy, slot, sizeof(copy));
    atomic_thread_fence(memory_order_acquire);
    slot->state = STATE_IOREQ_INPROCESS;
    copy.state = STATE_IOREQ_READY;
    route(s, v, &copy);
}

static void take_request(struct ioemu_srv *s, unsigned v)
{
    ioreq_t *slot = s->x->ops->slot(s->x, v);

    if (v >= IOEMU_MAX_VCPUS || slot->state != STATE_IOREQ_READY)
        return;   /* a stale or repeated event */
    take_slot(s, v, slot);
}

/* Requests that reached the server before the mapping came back, and any
 * kept for a retry: a vCPU waits on each, so they are carried out now, on
 * the device's path (direct by then), before the server goes. */
static void drain_requests(struct ioemu_srv *s)
{
    unsigned n = s->x->ops->vcpus(s->x);

    for (unsigned v = 0; v < n && v < IOEMU_MAX_VCPUS; v++) {
        if (s->wait[v].why == IOEMU_RETRY) {
            ioreq_t copy = s->wait[v].copy;

            s->wait[v].why = IOEMU_NONE;
            route(s, v, &copy);
        }
        take_request(s, v);
    }
}

/* A trap that failed: the change cannot go on; the device stays direct. */
static void trap_rollback(struct ioemu_srv *s)
{
    struct rtv_ioemu_ctl_out o = { .publish_state = true, .state = "direct",
                                   .answer = { .publish = true, .result = "rolled-back" } };
    uint32_t id = s->ctl.change_id;
    struct rtv_uart_io dev = s->dm.dev;

    snprintf(o.answer.error, sizeof(o.answer.error), "cannot trap the ports: %.400s", s->trap_err.msg);
    s->trap_failed = false;
    rtv_uart_dm_init(&s->dm, &dev, &dm_ops, s, s->dm.own, s->dm.fcr_trigger);
    s->dm.iov.rollbacks++;
    rtv_ioemu_ctl_init(&s->ctl, &s->dm.iov, id);
    o.answer.id = id;
    publish(s, &o);
}

/* After the device model did something: publish what a finished change says. */
static void after(struct ioemu_srv *s, const struct rtv_iov_out *done)
{
    struct rtv_ioemu_ctl_out o;

    if (s->trap_failed) {
        trap_rollback(s);
        return;
    }
    if (done->note[0])
        trace(s, "change: %s", done->note);
    rtv_ioemu_ctl_finished(&s->ctl, done, &o);
    publish(s, &o);
    sync_irq(s);
}

static void carry(struct ioemu_srv *s, const struct rtv_iov_out *todo)
{
    struct rtv_iov_out done;

    if (!todo->actions)
        return;
    rtv_uart_dm_carry(&s->dm, rtv_now_us(), todo, &done);
    after(s, &done);
}

static char *read_opt_txn(struct ioemu_srv *s, rtv_txn_t t, enum rtv_xs_node n)
{
    char p[RTV_XS_PATH_MAX], *v = NULL;
    size_t len;

    if (path(s, n, p, sizeof(p), NULL) < 0 || rtv_xs_read(s->xs, t, p, &v, &len) < 0)
        return NULL;
    return v;
}

static char *read_opt(struct ioemu_srv *s, enum rtv_xs_node n)
{
    return read_opt_txn(s, RTV_XS_NO_TXN, n);
}

struct request_nodes {
    struct ioemu_srv *s;
    char             *req, *id, *tmo;
};

static void request_nodes_free(struct request_nodes *r)
{
    free(r->req);
    free(r->id);
    free(r->tmo);
    r->req = r->id = r->tmo = NULL;
}

/* The three nodes in one transaction: the orchestrator writes request and
 * request-id together, and reading them apart can pair the previous
 * request with the new id (seen in the component test under load: a
 * devirtualize answered "ok, already virtualized"). */
static int request_txn(struct rtv_store *xs, rtv_txn_t t, void *arg)
{
    struct request_nodes *r = arg;

    (void)xs;
    request_nodes_free(r);   /* a retried transaction starts afresh */
    r->req = read_opt_txn(r->s, t, RTV_XS_IOEMU_REQUEST);
    r->id = read_opt_txn(r->s, t, RTV_XS_IOEMU_REQUEST_ID);
    r->tmo = read_opt_txn(r->s, t, RTV_XS_IOEMU_TIMEOUT_MS);
    return 0;
}

/* The request nodes changed (or a coalesced event): idempotent. */
static void on_request(struct ioemu_srv *s)
{
    struct request_nodes r = { .s = s };
    struct rtv_ioemu_ctl_out o;
    char *req, *id, *tmo;

    if (rtv_xs_transact(s->xs, 0, request_txn, &r) < 0) {
        request_nodes_free(&r);
        return;   /* the next event reads them again */
    }
    req = r.req;
    id = r.id;
    tmo = r.tmo;

    rtv_ioemu_ctl_request(&s->ctl, req, id, tmo, rtv_now_us(), &o);
    if (o.publish_state)
        trace(s, "request %s (id %s, timeout-ms %s)%s%s", req ? req : "-", id ? id : "-",
              tmo ? tmo : "default", o.iov.note[0] ? ": " : "", o.iov.note);
    publish(s, &o);
    carry(s, &o.iov);
    free(req);
    free(id);
    free(tmo);
}

/* The domain's directory: gone with the domain. */
static bool domain_alive(struct ioemu_srv *s)
{
    char p[64], *v = NULL;
    size_t len;
    int rc;

    snprintf(p, sizeof(p), "/local/domain/%u", s->cfg.domid);
    rc = rtv_xs_read(s->xs, RTV_XS_NO_TXN, p, &v, &len);
    free(v);
    return rc != -ENOENT;
}

/* ---- set-up, loop, tear-down ---------------------------------------------- */

static int node_uint(struct ioemu_srv *s, enum rtv_xs_node n, unsigned long long *out,
                     struct rtv_err *err)
{
    char *v = read_opt(s, n);
    int rc;

    if (!v)
        return -ENOENT;
    rc = rtv_xs_check_value(n, v, err);
    if (rc == 0)
        rtv_parse_uint(v, UINT32_MAX, out);
    free(v);
    return rc;
}

struct setup {
    struct ioemu_srv *s;
};

static int setup_txn(struct rtv_store *xs, rtv_txn_t t, void *arg)
{
    struct ioemu_srv *s = ((struct setup *)arg)->s;
    struct rtv_xs_perm perms[1] = { { 0, RTV_XS_PERM_NONE } };   /* n0: dom0 only */
    int rc = rtv_xs_mkdir(xs, t, s->dir);

    if (rc == 0)
        rc = rtv_xs_set_perms(xs, t, s->dir, perms, 1);
    if (rc == 0)
        rc = write_node(s, t, RTV_XS_IOEMU_MODEL, "uart16550");
    if (rc == 0)
        rc = write_uint(s, t, RTV_XS_IOEMU_IOPORT, s->cfg.ioport);
    if (rc == 0)
        rc = write_uint(s, t, RTV_XS_IOEMU_IRQ, (unsigned)s->cfg.irq);
    if (rc == 0)
        rc = write_node(s, t, RTV_XS_IOEMU_STATE, "direct");
    return rc;
}

int ioemu_srv_init(struct ioemu_srv *s, const struct ioemu_cfg *cfg,
                   struct rtv_ioreq_srv *x, struct rtv_store *xs,
                   const struct rtv_uart_io *uart, struct rtv_err *err)
{
    /* ioemu's own mode for the UART: polled (IER 0), FIFO on, DTR|RTS up
     * so the peer's flow control sees a live line; OUT2 off: no IRQ. */
    const struct rtv_uart_dm_own own = { .ier = 0, .mcr = 0x03, .fcr = 0x01 | 0x80 };
    unsigned long long v, rid = 0;
    struct setup su = { s };
    char p[RTV_XS_PATH_MAX];
    int rc;

    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    s->x = x;
    s->xs = xs;
    s->mapped = false;
    s->last_mode = RTV_IOV_DIRECT;
    rc = rtv_xs_dir(s->dir, sizeof(s->dir), RTV_XS_IOEMU_STATE,
                    &(struct rtv_xs_args){ .domid = cfg->domid, .iodev = cfg->iodev }, err);
    if (rc < 0)
        return rc;
    if (!domain_alive(s))
        return rtv_err_set(err, ESRCH, "no domain %u in the store", cfg->domid);
    /* The toolstack's nodes win over the command line; either is validated. */
    if (node_uint(s, RTV_XS_IOEMU_IOPORT, &v, err) == 0)
        s->cfg.ioport = (uint16_t)v;
    else if (err->code)
        return -err->code;
    if (node_uint(s, RTV_XS_IOEMU_IRQ, &v, err) == 0)
        s->cfg.irq = (int)v;
    else if (err->code)
        return -err->code;
    if (s->cfg.ioport == 0 || s->cfg.irq < 0 || s->cfg.irq > 15)
        return rtv_err_set(err, EINVAL, "%s of domain %u: no ioport/irq (neither in %s nor given)",
                           cfg->iodev, cfg->domid, s->dir);
    if (node_uint(s, RTV_XS_IOEMU_RESULT_ID, &rid, err) < 0 && err->code)
        return -err->code;
    /* Direct mode is Xen's port mapping: libxl's `ioports` for an HVM guest
     * only grants the permission (seen in the lab: no ioport_map in Xen's
     * log, the guest's 8250 probe read all ones), so it is made here, as
     * the change's restore makes it; the guest should be started after
     * this (xl create -p, rtvirt-ioemu, xl unpause) for its driver's probe
     * to find the UART. */
    rc = x->ops->direct(x, s->cfg.ioport, RTV_UART_NPORTS, true, err);
    if (rc < 0)
        return rc;
    s->mapped = true;
    rc = rtv_xs_transact(xs, 0, setup_txn, &su);
    if (rc < 0)
        return rtv_err_set(err, -rc, "cannot set up %s: %s", s->dir, strerror(-rc));
    rtv_uart_dm_init(&s->dm, uart, &dm_ops, s, own, 0xc0 /* trigger 14: Linux 8250's default */);
    rtv_ioemu_ctl_init(&s->ctl, &s->dm.iov, (uint32_t)rid);
    snprintf(s->token, sizeof(s->token), "ioemu-%u-%s", cfg->domid, cfg->iodev);
    rc = rtv_xs_watch(xs, s->dir, s->token);
    if (rc == 0)
        rc = rtv_xs_watch(xs, "@releaseDomain", s->token);
    if (rc < 0)
        return rtv_err_set(err, -rc, "cannot watch %s: %s", s->dir, strerror(-rc));
    path(s, RTV_XS_IOEMU_STATE, p, sizeof(p), NULL);
    trace(s, "d%u %s at %#x irq %d: direct (%s)", cfg->domid, cfg->iodev, s->cfg.ioport, s->cfg.irq, p);
    return 0;
}

/* A vCPU waiting on the server a killed predecessor left: its request is
 * carried out on the device's path (direct by now, so the real UART), or
 * its answer, written but perhaps not signalled, signalled again.  The
 * number of vCPUs that were waiting. */
static unsigned release_waiting(struct ioemu_srv *s)
{
    unsigned n = s->x->ops->vcpus(s->x), waiting = 0;

    for (unsigned v = 0; v < n && v < IOEMU_MAX_VCPUS; v++) {
        ioreq_t *slot = s->x->ops->slot(s->x, v);
        uint8_t st = slot->state;

        if (st == STATE_IORESP_READY) {
            s->x->ops->notify(s->x, v);
            waiting++;
        } else if (st == STATE_IOREQ_READY || st == STATE_IOREQ_INPROCESS) {
            /* INPROCESS: taken by the predecessor, never answered.  The
             * page's state is not turned back (Xen takes a state going
             * backwards for a broken device model and crashes the domain). */
            trace(s, "v%u was waiting on the old server (state %u)", v, st);
            take_slot(s, v, slot);
            waiting++;
        }
    }
    return waiting;
}

int ioemu_srv_adopt_leftover(struct ioemu_srv *s, struct rtv_err *err)
{
    uint16_t base = s->cfg.ioport, last = (uint16_t)(base + RTV_UART_NPORTS - 1);
    unsigned long long id;
    unsigned waiting;
    int rc = node_uint(s, RTV_XS_IOEMU_IOREQ_SERVER, &id, err);

    if (rc == -ENOENT)
        return 0;   /* the predecessor had no server, or removed it */
    if (rc < 0 || id > UINT16_MAX) {   /* not what we write: forget it */
        trace(s, "leftover: ioreq-server node unusable (%s): removed", err->msg);
        *err = (struct rtv_err){0};
        return record_server(s, false);
    }
    assert(s->mapped && !s->server);   /* init mapped the ports: no new access reaches it */
    rc = s->x->ops->adopt(s->x, (uint16_t)id, base, last, err);
    if (rc == -ENOENT || rc == -ESRCH) {
        trace(s, "leftover: ioreq server %llu not adopted: %s", id, err->msg);
        *err = (struct rtv_err){0};
        return record_server(s, false);
    }
    if (rc < 0) {   /* its page or channels failed us: no vCPU can be served */
        trace(s, "leftover: ioreq server %llu: %s; destroying it", id, err->msg);
        s->x->ops->destroy(s->x);
        record_server(s, false);
        return rc;
    }
    s->server = true;
    waiting = release_waiting(s);
    /* The predecessor's emulation may have left the guest's line high. */
    s->x->ops->set_isa_irq(s->x, (uint8_t)s->cfg.irq, false, err);
    s->irq_level = false;
    untrap(s);
    s->adopted = 1;
    s->adopted_waiting = waiting;
    trace(s, "leftover: adopted the ioreq server %llu a killed rtvirt-ioemu left; "
             "%u vCPU(s) were waiting on it, carried out on the device; destroyed", id, waiting);
    return 0;
}

static void drain_watch(struct ioemu_srv *s)
{
    char *p, *tok;

    while (rtv_xs_read_watch(s->xs, &p, &tok) == 0) {
        free(p);
        free(tok);
    }
}

int ioemu_srv_run(struct ioemu_srv *s, int max_wait_ms, struct rtv_err *err)
{
    struct pollfd pf[2] = { { .fd = rtv_xs_watch_fd(s->xs), .events = POLLIN },
                            { .fd = s->server ? s->x->ops->fd(s->x) : -1, .events = POLLIN } };
    bool busy = s->server || s->dm.iov.mode == RTV_IOV_VIRTUALIZED;
    int wait = busy ? 1 : max_wait_ms;
    struct rtv_iov_out done;
    unsigned v;
    int n;

    n = poll(pf, 2, wait);
    if (n < 0 && errno != EINTR)
        return rtv_err_set(err, errno, "poll: %s", strerror(errno));
    if (n > 0 && (pf[0].revents & POLLIN)) {
        drain_watch(s);
        if (!domain_alive(s)) {
            s->stop = true;
            return 0;
        }
        on_request(s);
    }
    if (s->server && n > 0 && (pf[1].revents & POLLIN))
        while (s->server && s->x->ops->pending(s->x, &v) == 0) {
            take_request(s, v);
            sync_irq(s);
        }
    /* Accesses kept while the log was full: offered again. */
    for (v = 0; s->server && v < IOEMU_MAX_VCPUS; v++)
        if (s->wait[v].why == IOEMU_RETRY) {
            ioreq_t copy = s->wait[v].copy;

            s->wait[v].why = IOEMU_NONE;
            route(s, v, &copy);
        }
    if (s->server || s->dm.iov.mode == RTV_IOV_VIRTUALIZED) {
        rtv_uart_dm_poll(&s->dm, rtv_now_us(), &done);
        after(s, &done);
    }
    sync_irq(s);
    return 0;
}

/* The device's directory, and rtvirt/ioemu and rtvirt if nothing else is
 * in them (what the guest had before rtvirt-ioemu came). */
static int remove_txn(struct rtv_store *xs, rtv_txn_t t, void *arg)
{
    struct ioemu_srv *s = arg;
    int rc = rtv_xs_rm(xs, t, s->dir);

    if (rc < 0 && rc != -ENOENT)
        return rc;
    return rtv_xs_rm_empty_parents(xs, t, s->dir, 2);
}

void ioemu_srv_fini(struct ioemu_srv *s)
{
    uint64_t t0 = rtv_now_us();
    struct rtv_iov_out o;
    struct rtv_err err = {0};

    if (!s->stop && s->dm.iov.mode == RTV_IOV_VIRTUALIZED && s->dm.iov.phase == RTV_IOV_STABLE &&
        rtv_iov_request(&s->dm.iov, RTV_IOV_DIRECT, t0, 1000, &o) == 0) {
        trace(s, "exit: devirtualizing first");
        carry(s, &o);
    }
    while (!s->stop && (s->server || s->dm.iov.mode != RTV_IOV_DIRECT) &&
           rtv_now_us() - t0 < FINI_BOUND_US)
        if (ioemu_srv_run(s, 1, &err) < 0)
            break;
    if (s->server || !s->mapped) {
        trace(s, "exit: still %s after %u ms: ports handed back as they are",
              rtv_iov_state_name(&s->dm.iov), FINI_BOUND_US / 1000);
        untrap(s);
    }
    if (s->irq_level && !s->stop)
        s->x->ops->set_isa_irq(s->x, (uint8_t)s->cfg.irq, false, &err);
    rtv_xs_unwatch(s->xs, s->dir, s->token);
    rtv_xs_unwatch(s->xs, "@releaseDomain", s->token);
    if (!s->stop && rtv_xs_transact(s->xs, 0, remove_txn, s) < 0)
        fprintf(stderr, "rtvirt-ioemu: cannot remove %s\n", s->dir);
}
