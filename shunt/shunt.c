/*
 * rtvirt-shunt's loop and its glue to the routing engine (shunt_core.h).
 *
 * Path of one guest request:
 *   client (nbd) --shunt_submit--> rtv_shunt_submit (engine: held while a
 *   switch runs, else routed) --ops.submit--> path_op on the emulated path
 *   (io_uring) or the PV path (front ring) --completion--> shunt_path_done
 *   --> rtv_shunt_io_done --> ops.complete --> the client's done().
 *
 * The engine's callbacks can come from inside a completion (even from
 * inside rtv_front_poll), so they only do bookkeeping: anything that
 * changes which paths exist (closing the frontend, writing the report) is
 * left to shunt_ctl_tick(), which runs after every loop turn.
 */
#include "shunt_priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rtvirt/clock.h"

void shunt_log(struct shunt *sh, const char *fmt, ...)
{
    va_list ap;

    if (!sh->cfg.verbose)
        return;
    va_start(ap, fmt);
    fprintf(stderr, "rtvirt-shunt: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void shunt_warn(struct shunt *sh, const char *fmt, ...)
{
    va_list ap;

    (void)sh;
    va_start(ap, fmt);
    fprintf(stderr, "rtvirt-shunt: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void shunt_config_default(struct shunt_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->vdev = "hda";
    cfg->mode = RTV_MODE_EMULATED;
    rtv_front_config_default(&cfg->front, 0);
    cfg->front.persistent = true;
    cfg->front.max_indirect_segs = 256;
}

/* ---- engine callbacks ------------------------------------------------------- */

static struct path_op *op_new(struct shunt *sh, enum rtv_path path, struct rtv_io *io)
{
    struct path_op *op = calloc(1, sizeof(*op));

    if (op == NULL)
        return NULL;
    op->sh = sh;
    op->path = path;
    op->io = io;
    return op;
}

static void op_start(struct shunt *sh, struct path_op *op)
{
    if (op->path == RTV_PATH_EMULATED)
        shunt_emu_submit(&sh->emu, op);
    else
        shunt_pv_submit(&sh->pv, op);
}

static void eng_submit(void *ctx, enum rtv_path path, struct rtv_io *io)
{
    struct shunt *sh = ctx;
    struct shunt_req *r = io->priv;
    struct path_op *op = op_new(sh, path, io);

    if (op == NULL) {
        rtv_shunt_io_done(&sh->eng, path, io, -ENOMEM, rtv_now_us());
        return;
    }
    op->op = r->op;
    op->offset = r->offset;
    op->len = r->len;
    op->buf = r->buf;
    op_start(sh, op);
}

static void eng_complete(void *ctx, struct rtv_io *io, int status)
{
    struct shunt *sh = ctx;
    struct shunt_req *r = io->priv;

    if (status != 0)
        sh->errors++;
    r->done(r, status);
}

static void eng_flush(void *ctx, enum rtv_path path)
{
    struct shunt *sh = ctx;
    struct path_op *op = op_new(sh, path, NULL);

    if (op == NULL) {
        rtv_shunt_flush_done(&sh->eng, path, sh->eng.flush_gen, -ENOMEM, rtv_now_us());
        return;
    }
    op->op = RTV_IO_FLUSH;
    op->gen = sh->eng.flush_gen;
    op_start(sh, op);
}

static void eng_switched(void *ctx, enum rtv_mode mode, bool ok)
{
    struct shunt *sh = ctx;

    if (ok && sh->eng.blackout_us > sh->blackout_max_us)
        sh->blackout_max_us = sh->eng.blackout_us;
    shunt_ctl_switched(&sh->ctl, mode, ok);
}

static void eng_flushed(void *ctx, enum rtv_mode target)
{
    struct shunt *sh = ctx;

    (void)target;
    shunt_ctl_flushed(&sh->ctl);
}

static const struct rtv_shunt_ops eng_ops = {
    .submit = eng_submit,
    .complete = eng_complete,
    .flush = eng_flush,
    .flushed = eng_flushed,
    .switched = eng_switched,
};

void shunt_path_done(struct shunt *sh, struct path_op *op, int status)
{
    if (op->io != NULL) {
        rtv_shunt_io_done(&sh->eng, op->path, op->io, status, rtv_now_us());
        free(op);
        return;
    }
    if (sh->cfg.test_flush_delay_ms > 0 && op->due_us == 0) {
        op->due_us = rtv_now_us() + sh->cfg.test_flush_delay_ms * 1000ull;
        op->status = status;
        op->next = sh->delayed;
        sh->delayed = op;
        return;
    }
    rtv_shunt_flush_done(&sh->eng, op->path, op->gen, status, rtv_now_us());
    free(op);
}

static void run_delayed(struct shunt *sh)
{
    uint64_t now = rtv_now_us();

    for (struct path_op **pp = &sh->delayed; *pp != NULL;) {
        struct path_op *op = *pp;

        if (op->due_us > now) {
            pp = &op->next;
            continue;
        }
        *pp = op->next;
        shunt_path_done(sh, op, op->status);
        pp = &sh->delayed;   /* the list may have changed under us */
    }
}

/* ---- requests ---------------------------------------------------------------- */

void shunt_submit(struct shunt *sh, struct shunt_req *r)
{
    bool data = r->op == RTV_IO_READ || r->op == RTV_IO_WRITE;

    sh->requests++;
    if ((unsigned)r->op > RTV_IO_DISCARD || r->offset % 512 || r->len % 512 ||
        r->offset > sh->emu.size || r->len > sh->emu.size - r->offset ||
        (data && (r->len == 0 || r->len > SHUNT_MAX_REQ || r->buf == NULL ||
                  (uintptr_t)r->buf % SHUNT_ALIGN)) ||
        (r->op == RTV_IO_DISCARD && r->len == 0)) {
        sh->errors++;
        r->done(r, -EINVAL);
        return;
    }
    r->io = (struct rtv_io){ .op = r->op, .sector = r->offset / 512,
                             .nsect = r->len / 512, .priv = r };
    rtv_shunt_submit(&sh->eng, &r->io);
}

/* ---- lifecycle ---------------------------------------------------------------- */

struct shunt *shunt_new(const struct shunt_config *cfg, struct rtv_err *err)
{
    struct shunt *sh = calloc(1, sizeof(*sh));
    int rc;

    if (sh == NULL) {
        rtv_err_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    sh->cfg = *cfg;
    sh->pv.pipe[0] = sh->pv.pipe[1] = -1;
    if (cfg->open_xen == NULL) {
        rtv_err_set(err, EINVAL, "no seam to open");
        free(sh);
        return NULL;
    }
    if (shunt_emu_open(&sh->emu, cfg->emulated, cfg->allow_buffered, err) < 0) {
        free(sh);
        return NULL;
    }
    if (!sh->emu.direct)
        shunt_warn(sh, "%s: O_DIRECT refused; using buffered I/O (tests only)",
                   cfg->emulated);
    if ((rc = shunt_pv_init(&sh->pv, sh)) < 0) {
        rtv_err_set(err, -rc, "pipe: %s", strerror(-rc));
        goto fail_emu;
    }
    /* Starts on the emulated path; a PV initial mode is reached by a switch
     * once the frontend is connected (shunt_ctl_init asks for it). */
    rtv_shunt_init(&sh->eng, &eng_ops, sh, RTV_MODE_EMULATED);
    if (shunt_ctl_init(&sh->ctl, sh, err) < 0)
        goto fail_pv;
    return sh;

fail_pv:
    shunt_pv_fini(&sh->pv);
fail_emu:
    shunt_emu_close(&sh->emu);
    free(sh);
    return NULL;
}

void shunt_free(struct shunt *sh)
{
    if (sh == NULL)
        return;
    /* Let what is in flight finish (bounded), so no completion lands in
     * freed memory. */
    uint64_t end = rtv_now_us() + 5000000u;
    while ((rtv_shunt_inflight(&sh->eng) > 0 || sh->delayed != NULL) &&
           rtv_now_us() < end)
        shunt_run_once(sh, NULL, 0, 50);
    shunt_ctl_fini(&sh->ctl);
    shunt_pv_fini(&sh->pv);
    shunt_emu_close(&sh->emu);
    while (sh->delayed) {
        struct path_op *op = sh->delayed;
        sh->delayed = op->next;
        free(op);
    }
    free(sh);
}

uint64_t shunt_size(const struct shunt *sh)
{
    return sh->emu.size;
}

bool shunt_can_discard(const struct shunt *sh)
{
    return sh->emu.can_discard;
}

void shunt_get_status(const struct shunt *sh, struct shunt_status *st)
{
    memset(st, 0, sizeof(*st));
    st->mode = sh->eng.mode;
    st->switching = sh->ctl.phase != CTL_IDLE;
    st->pv_connected = shunt_pv_connected(&sh->pv);
    st->last_ack = sh->ctl.acked;
    st->switches = sh->switches;
    st->aborts = sh->aborts;
    st->requests = sh->requests;
    st->errors = sh->errors;
    st->blackout_us = sh->eng.blackout_us;
    st->blackout_max_us = sh->blackout_max_us;
    st->pv_reconnects = sh->pv.reconnects;
    st->pv_requeued = sh->pv.requeued;
    st->emulated_direct = sh->emu.direct;
    if (sh->pv.f != NULL) {
        struct rtv_front_info info;
        rtv_front_get_info(sh->pv.f, &info);
        st->pv_reconnects += info.connects > 1 ? info.connects - 1 : 0;
        st->pv_requeued += info.requeued;
    }
}

/* ---- the loop ------------------------------------------------------------------ */

#define MAX_OWN_FDS 6
#define MAX_EXTRA   8

int shunt_run_once(struct shunt *sh, struct pollfd *extra, unsigned nextra, int max_ms)
{
    struct pollfd pfd[MAX_OWN_FDS + MAX_EXTRA];
    unsigned n = 0, pv_at, npv;
    uint64_t now = rtv_now_us(), due;
    int timeout = max_ms;

    if (nextra > MAX_EXTRA)
        return -EINVAL;
    pfd[n++] = (struct pollfd){ .fd = sh->emu.efd, .events = POLLIN };
    pfd[n++] = (struct pollfd){ .fd = shunt_ctl_watch_fd(&sh->ctl), .events = POLLIN };
    pfd[n++] = (struct pollfd){ .fd = sh->pv.pipe[0], .events = POLLIN };
    pv_at = n;
    npv = shunt_pv_pollfds(&sh->pv, &pfd[n]);
    n += npv;
    for (unsigned i = 0; i < nextra; i++)
        pfd[n + i] = extra[i];

    /* Wake up for our own deadlines. */
    due = shunt_ctl_next_due(&sh->ctl);
    for (struct path_op *op = sh->delayed; op != NULL; op = op->next)
        if (due == 0 || op->due_us < due)
            due = op->due_us;
    if (due != 0) {
        int ms = due <= now ? 0 : (int)((due - now + 999) / 1000);
        if (timeout < 0 || ms < timeout)
            timeout = ms;
    }

    int rc = poll(pfd, n + nextra, timeout);
    if (rc < 0) {
        if (errno != EINTR)
            return -errno;
        rc = 0;
        for (unsigned i = 0; i < n + nextra; i++)
            pfd[i].revents = 0;
    }
    if (pfd[0].revents & POLLIN)
        shunt_emu_reap(&sh->emu);
    if (npv > 0 && ((pfd[pv_at].revents | pfd[pv_at + 1].revents) & POLLIN))
        shunt_pv_poll(&sh->pv);
    if (pfd[2].revents & POLLIN) {
        int jrc = 0;
        enum pv_helper_job job = shunt_pv_helper_done(&sh->pv, &jrc);

        if (job != PV_JOB_NONE)
            shunt_ctl_pv_job_done(&sh->ctl, job, jrc, sh->pv.job_msg);
    }
    if (pfd[1].revents & POLLIN)
        shunt_ctl_on_watch(&sh->ctl);
    run_delayed(sh);
    shunt_ctl_tick(&sh->ctl);
    for (unsigned i = 0; i < nextra; i++)
        extra[i].revents = pfd[n + i].revents;
    return rc;
}
