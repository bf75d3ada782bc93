/*
 * The PV path: librtvirt-front on device/vbd/<devid>.
 *
 * Connecting runs the whole xenbus handshake, which waits on the backend;
 * closing waits for both ends to reach Closed.  Neither may stall the loop
 * (emulated I/O must go on while the frontend connects, DESIGN step 3), so
 * each runs on a helper thread that owns the frontend (and its own seam
 * connection) for the duration and reports through a pipe.  The loop thread
 * touches the frontend only while no helper has it.
 *
 * A guest request larger than one front request can carry is split into
 * chunks; it completes when every chunk did, with the first error.  When the
 * ring is full (-EAGAIN) the op waits and is retried after completions.
 */
#include "shunt_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int shunt_pv_init(struct shunt_pv *p, struct shunt *sh)
{
    memset(p, 0, sizeof(*p));
    p->sh = sh;
    if (pipe2(p->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

bool shunt_pv_connected(const struct shunt_pv *p)
{
    return p->f != NULL;
}

bool shunt_pv_busy(const struct shunt_pv *p)
{
    return p->job != PV_JOB_NONE;
}

static void *helper(void *arg)
{
    struct shunt_pv *p = arg;
    struct shunt *sh = p->sh;
    struct rtv_err err = { 0, "" };
    char one = 1;

    if (p->job == PV_JOB_CONNECT) {
        p->job_f = NULL;
        p->job_rc = sh->cfg.open_xen(sh->cfg.open_ctx, RTV_XEN_ALL, &p->job_x, &err);
        if (p->job_rc < 0) {
            snprintf(p->job_msg, sizeof(p->job_msg), "cannot open the seam: %s", err.msg);
        } else {
            p->job_rc = rtv_front_open(&p->job_x, &p->job_cfg, &p->job_f, p->job_msg,
                                       sizeof(p->job_msg));
            if (p->job_rc < 0) {
                p->job_f = NULL;
                rtv_xen_close(&p->job_x);
            }
        }
    } else {
        p->job_rc = rtv_front_close(p->job_f);
        p->job_f = NULL;
        rtv_xen_close(&p->job_x);
        if (p->job_rc < 0)
            snprintf(p->job_msg, sizeof(p->job_msg),
                     "the PV frontend did not close cleanly: %s", strerror(-p->job_rc));
    }
    /* The write publishes everything above to the loop thread, which reads
     * it only after reading the pipe and joining us. */
    if (write(p->pipe[1], &one, 1) < 0) {
        /* The pipe cannot be full (one job at a time); nothing else to do. */
    }
    return NULL;
}

static int start_job(struct shunt_pv *p, enum pv_helper_job job)
{
    int rc;

    if (p->job != PV_JOB_NONE)
        return -EBUSY;
    p->job = job;
    p->job_rc = 0;
    p->job_msg[0] = '\0';
    rc = pthread_create(&p->thread, NULL, helper, p);
    if (rc != 0) {
        p->job = PV_JOB_NONE;
        return -rc;
    }
    return 0;
}

int shunt_pv_start_connect(struct shunt_pv *p, unsigned devid, int timeout_ms)
{
    if (p->f != NULL)
        return 0;
    if (p->job != PV_JOB_NONE)
        return -EBUSY;
    p->job_cfg = p->sh->cfg.front;
    p->job_cfg.devid = devid;
    p->job_cfg.timeout_ms = timeout_ms;
    p->job_devid = devid;
    return start_job(p, PV_JOB_CONNECT);
}

int shunt_pv_start_close(struct shunt_pv *p)
{
    if (p->f == NULL)
        return 0;
    if (p->job != PV_JOB_NONE)
        return -EBUSY;
    /* The engine left every PV mode and drained: nothing of ours is on the
     * ring.  Waiting ops cannot exist either (they count as in flight). */
    struct rtv_front_info info;
    rtv_front_get_info(p->f, &info);
    p->reconnects += info.connects > 1 ? info.connects - 1 : 0;
    p->requeued += info.requeued;
    p->job_f = p->f;
    p->job_x = p->x;
    p->f = NULL;
    memset(&p->x, 0, sizeof(p->x));
    return start_job(p, PV_JOB_CLOSE);
}

enum pv_helper_job shunt_pv_helper_done(struct shunt_pv *p, int *rc)
{
    enum pv_helper_job job = p->job;
    char buf[8];

    if (read(p->pipe[0], buf, sizeof(buf)) <= 0 || job == PV_JOB_NONE)
        return PV_JOB_NONE;
    pthread_join(p->thread, NULL);
    p->job = PV_JOB_NONE;
    *rc = p->job_rc;
    if (job == PV_JOB_CONNECT && p->job_rc == 0) {
        struct rtv_front_info info;

        p->f = p->job_f;
        p->x = p->job_x;
        p->devid = p->job_devid;
        p->job_f = NULL;
        rtv_front_get_info(p->f, &info);
        p->max_bytes = info.max_request_bytes & ~511u;
        if (p->max_bytes == 0 || info.read_only ||
            info.sectors * 512 < p->sh->emu.size || !info.flush) {
            /* Not a stand-in for the emulated disk: refuse it. */
            snprintf(p->job_msg, sizeof(p->job_msg),
                     "PV vbd %u does not match the emulated disk (%llu sectors%s%s, "
                     "need %llu writable with flush)", p->devid,
                     (unsigned long long)info.sectors, info.read_only ? ", read-only" : "",
                     info.flush ? "" : ", no flush",
                     (unsigned long long)(p->sh->emu.size / 512));
            *rc = -EINVAL;
            shunt_pv_start_close(p);
        }
    }
    return job;
}

void shunt_pv_fini(struct shunt_pv *p)
{
    int rc;

    if (p->job != PV_JOB_NONE) {
        /* Bounded: the helper's own waits are bounded by the front timeout. */
        pthread_join(p->thread, NULL);
        char buf[8];
        (void)!read(p->pipe[0], buf, sizeof(buf));
        if (p->job == PV_JOB_CONNECT && p->job_rc == 0) {
            p->f = p->job_f;
            p->x = p->job_x;
        }
        p->job = PV_JOB_NONE;
    }
    if (p->f != NULL) {
        rc = rtv_front_close(p->f);
        (void)rc;
        rtv_xen_close(&p->x);
        p->f = NULL;
    }
    if (p->pipe[0] >= 0)
        close(p->pipe[0]);
    if (p->pipe[1] >= 0)
        close(p->pipe[1]);
    p->pipe[0] = p->pipe[1] = -1;
}

/* ---- I/O -------------------------------------------------------------------- */

static void chunk_done(void *arg, int status);

static void pv_finish(struct shunt_pv *p, struct path_op *op)
{
    p->inflight--;
    shunt_path_done(p->sh, op, op->status);
}

/* Submits what is left of op; false if the ring is full (op waits). */
static bool pv_push(struct shunt_pv *p, struct path_op *op)
{
    for (;;) {
        enum rtv_front_op fop;
        uint32_t len = 0;
        void *buf = NULL;
        int rc;

        switch (op->op) {
        case RTV_IO_READ:
        case RTV_IO_WRITE:
            if (op->next_off >= op->len)
                return true;
            fop = op->op == RTV_IO_READ ? RTV_FRONT_READ : RTV_FRONT_WRITE;
            len = op->len - op->next_off;
            if (len > p->max_bytes)
                len = p->max_bytes;
            buf = op->buf + op->next_off;
            break;
        case RTV_IO_FLUSH:
            if (op->next_off > 0)
                return true;
            fop = RTV_FRONT_FLUSH;
            break;
        case RTV_IO_DISCARD:
            if (op->next_off > 0)
                return true;
            fop = RTV_FRONT_DISCARD;
            len = op->len;
            break;
        default:
            return true;
        }
        /* Counted before: a failing device completes from inside submit. */
        op->chunks_out++;
        rc = rtv_front_submit(p->f, fop, (op->offset + op->next_off) / 512, buf, len,
                              chunk_done, op);
        if (rc < 0)
            op->chunks_out--;
        if (rc == -EAGAIN)
            return false;
        if (op->op == RTV_IO_FLUSH || op->op == RTV_IO_DISCARD)
            op->next_off = 1;   /* marks "sent" */
        else
            op->next_off += len;
        if (rc < 0) {
            if (op->status == 0)
                op->status = rc;
            if (op->op == RTV_IO_READ || op->op == RTV_IO_WRITE)
                op->next_off = op->len;   /* send no more of it */
            continue;
        }
    }
}

/* A chunk-level step finished: is the whole op done? */
static void pv_check_done(struct shunt_pv *p, struct path_op *op)
{
    bool all_sent = (op->op == RTV_IO_READ || op->op == RTV_IO_WRITE)
                        ? op->next_off >= op->len : op->next_off > 0;

    if (op->chunks_out == 0 && all_sent)
        pv_finish(p, op);
}

static void chunk_done(void *arg, int status)
{
    struct path_op *op = arg;
    struct shunt_pv *p = &op->sh->pv;

    op->chunks_out--;
    if (status != 0 && op->status == 0)
        op->status = status;
    pv_check_done(p, op);
}

static void pv_kick_waiting(struct shunt_pv *p)
{
    while (p->wait_head != NULL && p->f != NULL) {
        struct path_op *op = p->wait_head;

        if (!pv_push(p, op))
            return;
        p->wait_head = op->next;
        if (p->wait_head == NULL)
            p->wait_tail = NULL;
        pv_check_done(p, op);
    }
}

void shunt_pv_submit(struct shunt_pv *p, struct path_op *op)
{
    op->next = NULL;
    p->inflight++;
    if (p->f == NULL) {
        /* The engine routes to PV only once we connected; a frontend that
         * is gone is an I/O error for the guest, not a crash. */
        op->status = -EIO;
        pv_finish(p, op);
        return;
    }
    if (p->wait_head != NULL || !pv_push(p, op)) {
        if (p->wait_tail)
            p->wait_tail->next = op;
        else
            p->wait_head = op;
        p->wait_tail = op;
        return;
    }
    pv_check_done(p, op);
}

unsigned shunt_pv_pollfds(struct shunt_pv *p, struct pollfd *pfd)
{
    if (p->f == NULL)
        return 0;
    pfd[0] = (struct pollfd){ .fd = rtv_xs_watch_fd(p->x.xs), .events = POLLIN };
    pfd[1] = (struct pollfd){ .fd = p->x.evtchn->ops->fd(p->x.evtchn), .events = POLLIN };
    return 2;
}

void shunt_pv_poll(struct shunt_pv *p)
{
    if (p->f == NULL)
        return;
    rtv_front_poll(p->f, 0);
    if (p->f != NULL)
        pv_kick_waiting(p);
}
