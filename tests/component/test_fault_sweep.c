/*
 * Seam fault sweep (issue 15): the blkif scenario of the component tests
 * (the toolstack attaches a vbd, rtvirt-backd serves it, librtvirt-front
 * connects, writes, flushes, reads back and closes) run once clean to
 * count the calls each seam operation gets, then once for every N the
 * scenario reaches with the N-th call of that operation failing: store
 * read/write/transaction start/commit, grant map/share, event-channel
 * bind/notify, each aimed at the daemon (dom0) or at the guest, and the
 * daemon's io_uring submission.
 *
 * Every run must end in one of two ways:
 *   - a clear error: the frontend's open fails with a sentence, or requests
 *     complete with an error status; nothing hangs (every request completes
 *     within the bound), the daemon survives (or, when its own start-up
 *     was hit, exits with a message);
 *   - a retry: for a transaction conflict (EAGAIN) and a failed io_uring
 *     submission the run must succeed as a clean one does.
 * And always: every write acknowledged with status 0 is in the image file
 * after the daemon stopped, every read that succeeded returned what was
 * written, neither end holds a grant, port, watch or transaction of the
 * seam once it closed (rtv_local_held), and in the ASan build neither
 * leaked memory (LeakSanitizer in each child).
 *
 * The faults come from the local hub's one injector (common/local:
 * rtv_local_fault_set_dom), which also counts the calls.  io_uring is not
 * part of the seam: the daemon's io_uring_submit() is wrapped at link time
 * (-Wl,--wrap) to ask the same injector.
 *
 * `make check` runs every op with a stride (about CHECK_RUNS_PER_OP of its
 * calls) so it stays within its time; `make fault-sweep` runs every N
 * (RTV_FAULT_SWEEP_STRIDE=1).  RTV_FAULT_SWEEP_OP=<part of a name> runs one
 * op, RTV_FAULT_SWEEP_VERBOSE=1 says what each run ended with.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backd_proc.h"
#include "rtvirt/blkif_xs.h"
#include "rtvirt/clock.h"
#include "rtvirt/front_blk.h"
#include "rtvirt/local.h"
#include "unit.h"

#define GUEST     1
#define DEVID     51712u          /* xvda */
#define IMG_BYTES (1u << 20)
#define BLK       4096u
#define NW        8               /* writes (and reads back) per run */
#define IO_BOUND_MS 4000          /* every request completes within this */

/* Runs of make check: at most about this many N per op (every N in
 * make fault-sweep, RTV_FAULT_SWEEP_STRIDE=1). */
#define CHECK_RUNS_PER_OP 3

static struct rtv_local_hub *hub;
static char img[64];

/* ---- the daemon's io_uring submission, through the injector ------------------ */

int __real_io_uring_submit(struct io_uring *ring);
int __wrap_io_uring_submit(struct io_uring *ring);

int __wrap_io_uring_submit(struct io_uring *ring)
{
    int rc = hub != NULL ? rtv_local_fault_point(hub, RTV_FAULT_IO_SUBMIT, 0) : 0;

    return rc < 0 ? rc : __real_io_uring_submit(ring);
}

/* ---- what is swept ------------------------------------------------------------- */

struct sweep_op {
    enum rtv_local_fault_op op;
    unsigned domid;              /* whose calls: 0 the daemon, GUEST the frontend */
    int err;
    bool retry;                  /* retried: the run must succeed anyway */
    const char *name;
};

static const struct sweep_op sweep_ops[] = {
    { RTV_FAULT_XS_READ,       0,     EIO,    true,  "store read (daemon)" },
    { RTV_FAULT_XS_READ,       GUEST, EIO,    false, "store read (guest)" },
    { RTV_FAULT_XS_WRITE,      0,     EIO,    true,  "store write (daemon)" },
    { RTV_FAULT_XS_WRITE,      GUEST, EIO,    false, "store write (guest)" },
    { RTV_FAULT_XS_TXN_START,  0,     ENOSPC, true,  "transaction start (daemon)" },
    { RTV_FAULT_XS_TXN_START,  GUEST, ENOSPC, false, "transaction start (guest)" },
    { RTV_FAULT_XS_TXN_COMMIT, 0,     EAGAIN, true,  "transaction commit (daemon)" },
    { RTV_FAULT_XS_TXN_COMMIT, GUEST, EAGAIN, true,  "transaction commit (guest)" },
    { RTV_FAULT_GNT_MAP,       0,     EINVAL, false, "grant map (daemon)" },
    { RTV_FAULT_GNT_SHARE,     GUEST, ENOSPC, false, "grant share (guest)" },
    { RTV_FAULT_EVTCHN_BIND,   0,     EIO,    false, "evtchn bind (daemon)" },
    { RTV_FAULT_EVTCHN_BIND,   GUEST, EIO,    false, "evtchn alloc (guest)" },
    { RTV_FAULT_EVTCHN_NOTIFY, 0,     EIO,    false, "evtchn notify (daemon)" },
    { RTV_FAULT_EVTCHN_NOTIFY, GUEST, EIO,    false, "evtchn notify (guest)" },
    { RTV_FAULT_IO_SUBMIT,     0,     EAGAIN, true,  "io submit (daemon)" },
};
#define NR_SWEEP_OPS (sizeof(sweep_ops) / sizeof(sweep_ops[0]))

/* ---- the frontend's side: one run's I/O, reported to the test ------------------- */

struct front_report {
    int  open_rc;                /* rtv_front_open (or the hub's open) */
    char msg[200];               /* its sentence when it failed */
    int  wstatus[NW], rstatus[NW];   /* 1: never completed */
    int  flush_status;
    unsigned mismatches;         /* reads that succeeded with other data */
    unsigned pending;            /* requests still in flight after the bound */
    int  close_rc;
    bool held;                   /* seam resources left after the close */
    bool leaked;
};

static void pattern(uint8_t *buf, unsigned i)
{
    for (unsigned k = 0; k < BLK; k++)
        buf[k] = (uint8_t)(i * 37u + k * 13u + (k >> 8) + 1u);
}

static uint64_t sector_of(unsigned i)
{
    return (uint64_t)i * 64u;       /* 32 KiB apart */
}

static void on_done(void *arg, int status)
{
    *(int *)arg = status;
}

/* Polls until none of n statuses is still 1 (pending), within the bound. */
static void wait_all(struct rtv_front *f, int *status, unsigned n)
{
    uint64_t end = rtv_now_ms() + IO_BOUND_MS;

    for (;;) {
        unsigned pending = 0;

        for (unsigned i = 0; i < n; i++)
            pending += status[i] == 1;
        if (pending == 0 || rtv_now_ms() >= end)
            return;
        rtv_front_poll(f, 20);
    }
}

/* Submits one request, retrying -EAGAIN (slots busy) within the bound;
 * a refusal is its completion status. */
static void submit(struct rtv_front *f, enum rtv_front_op op, uint64_t sector, void *buf,
                   size_t len, int *status)
{
    uint64_t end = rtv_now_ms() + IO_BOUND_MS;
    int rc;

    *status = 1;
    while ((rc = rtv_front_submit(f, op, sector, buf, len, on_done, status)) == -EAGAIN &&
           rtv_now_ms() < end)
        rtv_front_poll(f, 20);
    if (rc < 0)
        *status = rc;
}

static void front_io(struct rtv_front *f, struct front_report *r)
{
    static uint8_t wbuf[NW][BLK], rbuf[NW][BLK];

    for (unsigned i = 0; i < NW; i++) {
        pattern(wbuf[i], i);
        submit(f, RTV_FRONT_WRITE, sector_of(i), wbuf[i], BLK, &r->wstatus[i]);
    }
    wait_all(f, r->wstatus, NW);
    submit(f, RTV_FRONT_FLUSH, 0, NULL, 0, &r->flush_status);
    wait_all(f, &r->flush_status, 1);
    for (unsigned i = 0; i < NW; i++)
        submit(f, RTV_FRONT_READ, sector_of(i), rbuf[i], BLK, &r->rstatus[i]);
    wait_all(f, r->rstatus, NW);
    /* Counted now: the close completes what is left with -EIO. */
    r->pending = r->flush_status == 1;
    for (unsigned i = 0; i < NW; i++)
        r->pending += (r->wstatus[i] == 1) + (r->rstatus[i] == 1);
    for (unsigned i = 0; i < NW; i++)
        if (r->wstatus[i] == 0 && r->rstatus[i] == 0 && memcmp(wbuf[i], rbuf[i], BLK) != 0)
            r->mismatches++;
}

static void front_child(int fd)
{
    struct front_report r;
    struct rtv_front_config cfg;
    struct rtv_front *f = NULL;
    struct rtv_xen x;

    memset(&r, 0, sizeof(r));
    rtv_front_config_default(&cfg, DEVID);
    /* A bound for a hang, not a timing: the daemon retries a store read it
     * was refused every 100 ms, and at a host load of ~15 (two
     * make checks beside a lab flight, 2026-12-07) 1.5 s ran out before it
     * connected, which the sweep then judged a device failed unsaid. */
    cfg.timeout_ms = 10000;
    cfg.max_grants = 4096;
    r.open_rc = rtv_local_open(hub, GUEST, RTV_XEN_ALL, &x);
    if (r.open_rc == 0) {
        r.open_rc = rtv_front_open(&x, &cfg, &f, r.msg, sizeof(r.msg));
        if (r.open_rc == 0) {
            front_io(f, &r);
            r.close_rc = rtv_front_close(f);
        }
        r.held = rtv_test_held_nothing(&x, "rtvirt-front") != 0;
        rtv_xen_close(&x);
    }
    r.leaked = rtv_test_leak_check() != 0;
    _exit(write(fd, &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
}

/* ---- one run -------------------------------------------------------------------- */

struct run_result {
    unsigned calls, hits;
    char hotplug_error[200];     /* what the daemon wrote there, if anything */
    bool ok;                     /* every request succeeded */
    bool clear_error;            /* failed, and said so */
    char defect[300];            /* empty: none */
};

static void fresh_hub_and_image(void)
{
    struct rtv_local_config cfg = { .max_grant_pages = 4096, .max_nodes = 2048 };

    if (hub != NULL)
        rtv_local_hub_free(hub);
    hub = rtv_local_hub_new(&cfg);
    ck_assert_ptr_nonnull(hub);
    int fd = open(img, O_RDWR | O_TRUNC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, IMG_BYTES), 0);
    close(fd);
}

static void toolstack(bool attach)
{
    struct rtv_xen x;
    struct blkif_xs_dev d = { 0, GUEST, DEVID, BLKIF_XS_BTYPE };
    struct blkif_xs_attach a = { d, img, false, false };

    ck_assert_int_eq(rtv_local_open(hub, 0, RTV_XEN_STORE, &x), 0);
    if (attach)
        ck_assert_int_eq(blkif_xs_attach(x.xs, &a), 0);
    else
        blkif_xs_detach(x.xs, &d, 2000, true);   /* libxl's detach, forced */
    rtv_xen_close(&x);
}

static void read_hotplug_error(char *buf, size_t len)
{
    struct rtv_xen x;
    struct blkif_xs_dev d = { 0, GUEST, DEVID, BLKIF_XS_BTYPE };
    char *val = NULL;

    buf[0] = '\0';
    ck_assert_int_eq(rtv_local_open(hub, 0, RTV_XEN_STORE, &x), 0);
    if (blkif_xs_read(x.xs, RTV_XS_NO_TXN, &d, RTV_XS_VBD_BE_HOTPLUG_ERROR, 0, 0, &val,
                      NULL) == 0)
        snprintf(buf, len, "%s", val);
    free(val);
    rtv_xen_close(&x);
}

/* Every write acknowledged with status 0 is in the image. */
static unsigned lost_writes(const struct front_report *r)
{
    uint8_t want[BLK], got[BLK];
    unsigned lost = 0;
    if (r->open_rc != 0)
        return 0;              /* nothing was written */
    int fd = open(img, O_RDONLY);

    ck_assert_int_ge(fd, 0);
    for (unsigned i = 0; i < NW; i++) {
        if (r->wstatus[i] != 0)
            continue;
        pattern(want, i);
        if (pread(fd, got, BLK, (off_t)(sector_of(i) * 512u)) != (ssize_t)BLK ||
            memcmp(want, got, BLK) != 0)
            lost++;
    }
    close(fd);
    return lost;
}

#define DEFECT(res, ...) \
    do { if ((res)->defect[0] == '\0') snprintf((res)->defect, sizeof((res)->defect), __VA_ARGS__); } while (0)

static void judge(const struct sweep_op *o, const struct front_report *r, int front_rc,
                  int backd_rc, const struct backd_stats *st, struct run_result *res)
{
    unsigned failed = 0, pending = r->pending;

    if (front_rc != 0) {
        DEFECT(res, "the frontend's process ended with %d", front_rc);
        return;
    }
    for (unsigned i = 0; i < NW && r->open_rc == 0; i++) {
        failed += r->wstatus[i] != 0 && r->wstatus[i] != 1;
        failed += r->rstatus[i] != 0 && r->rstatus[i] != 1;
    }
    if (r->open_rc == 0)
        failed += r->flush_status != 0 && r->flush_status != 1;
    res->ok = r->open_rc == 0 && failed == 0 && pending == 0;
    res->clear_error = (r->open_rc < 0 && r->msg[0] != '\0') ||
                       (r->open_rc == 0 && failed > 0 && pending == 0);
    if (pending > 0)
        DEFECT(res, "%u request(s) neither completed nor failed within %d ms", pending,
               IO_BOUND_MS);
    if (r->open_rc < 0 && r->msg[0] == '\0')
        DEFECT(res, "the frontend's open failed (%d) without saying why", r->open_rc);
    /* The guest's own failure: its sentence names it (and blames no peer). */
    if (r->open_rc < 0 && o->domid == GUEST && res->hits > 0 &&
        strstr(r->msg, strerror(o->err)) == NULL)
        DEFECT(res, "the frontend's open failed with \"%s\", which does not say %s",
               r->msg, strerror(o->err));
    /* The daemon's: it says why in the backend directory (hotplug-error). */
    if (r->open_rc < 0 && o->domid == 0 && res->hits > 0 && backd_rc == 0 &&
        res->hotplug_error[0] == '\0')
        DEFECT(res, "the device failed and the daemon wrote no hotplug-error");
    if (r->mismatches > 0)
        DEFECT(res, "%u read(s) succeeded with other data than written", r->mismatches);
    if (r->held)
        DEFECT(res, "the frontend kept seam resources after its close");
    if (r->leaked)
        DEFECT(res, "the frontend leaked memory (LeakSanitizer)");
    unsigned lost = lost_writes(r);
    if (lost > 0)
        DEFECT(res, "%u acknowledged write(s) not in the image", lost);
    if (backd_rc == BACKD_PROC_NEW_FAILED && o->domid == 0 && res->hits > 0)
        res->clear_error = res->clear_error || !res->ok;  /* start-up refused, said */
    else if (backd_rc != 0)
        DEFECT(res, "the daemon ended with %d", backd_rc);
    else if (r->open_rc == 0 && (st->mapped_pages != 0 || st->devices != 0))
        DEFECT(res, "the daemon kept %lld grant pages mapped, %u devices after the detach",
               st->mapped_pages, st->devices);
    if (o->retry && !res->ok)
        DEFECT(res, "a transient failure (%s) was not retried: %s", strerror(o->err),
               r->open_rc < 0 ? r->msg : "requests failed");
    if (!res->ok && !res->clear_error)
        DEFECT(res, "neither success nor a clear error");
}

static bool connected_and_gone(const struct backd_stats *st)
{
    return st->connects > 0 && st->devices == 0;
}

/* The scenario with the n-th call of o failing (n = 0: none, calls counted). */
static void run_once(const struct sweep_op *o, unsigned n, struct run_result *res)
{
    struct backd_config cfg;
    struct front_report r;
    struct backd_stats st;
    int fd;

    memset(res, 0, sizeof(*res));
    memset(&r, 0, sizeof(r));
    fresh_hub_and_image();
    toolstack(true);
    rtv_local_fault_set_dom(hub, o->op, o->domid, n > 0 ? n - 1 : 0, n > 0 ? 1 : 0, o->err);
    backd_config_default(&cfg);
    cfg.verbose = getenv("RTV_FAULT_SWEEP_VERBOSE") != NULL;
    struct backend_proc bp = start_backend(hub, &cfg);
    pid_t pid = rtv_test_fork_piped(&fd);

    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        front_child(fd);
    int front_rc = rtv_test_wait_pid(pid, 30000);
    if (read(fd, &r, sizeof(r)) != (ssize_t)sizeof(r) && front_rc == 0)
        front_rc = 99;
    close(fd);
    res->calls = rtv_local_fault_calls(hub, o->op);
    res->hits = rtv_local_fault_hits(hub, o->op);
    read_hotplug_error(res->hotplug_error, sizeof(res->hotplug_error));
    /* The scenario ends with the frontend; the toolstack's clean-up is not
     * swept. */
    rtv_local_fault_set(hub, o->op, 0, 0, 0);
    toolstack(false);
    /* A device that was connected: the daemon drops it once it sees the
     * directory gone (its counters say so only after it connected). */
    if (r.open_rc == 0)
        wait_backend(&bp, connected_and_gone, 10000);
    int backd_rc = stop_backend_status(bp, &st);
    judge(o, &r, front_rc, backd_rc, &st, res);
    if (getenv("RTV_FAULT_SWEEP_VERBOSE") != NULL)
        fprintf(stderr, "sweep %s call %u: hits %u, %s%s%s w0 %d r0 %d flush %d daemon %d%s%s\n",
                o->name, n, res->hits, res->ok ? "ok" : "failed",
                r.open_rc < 0 ? ": open: " : "", r.open_rc < 0 ? r.msg : "",
                r.wstatus[0], r.rstatus[0], r.flush_status, backd_rc,
                res->hotplug_error[0] ? ", hotplug-error: " : "", res->hotplug_error);
}

/* ---- the sweep -------------------------------------------------------------------- */

static unsigned stride_for(unsigned calls)
{
    const char *s = getenv("RTV_FAULT_SWEEP_STRIDE");

    if (s != NULL && atoi(s) > 0)
        return (unsigned)atoi(s);
    return calls > CHECK_RUNS_PER_OP ? (calls + CHECK_RUNS_PER_OP - 1) / CHECK_RUNS_PER_OP : 1;
}

static void setup(void)
{
    snprintf(img, sizeof(img), "/tmp/rtv-sweep-XXXXXX");
    int fd = mkstemp(img);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

static void teardown(void)
{
    unlink(img);
    if (hub != NULL)
        rtv_local_hub_free(hub);
    hub = NULL;
}

START_TEST(sweep)
{
    const struct sweep_op *o = &sweep_ops[_i];
    struct run_result clean, res;
    unsigned ok = 0, errors = 0, unreached = 0, defects = 0, runs = 0;
    char first[400] = "";

    const char *only = getenv("RTV_FAULT_SWEEP_OP");
    if (only != NULL && strstr(o->name, only) == NULL)
        return;
    run_once(o, 0, &clean);
    ck_assert_msg(clean.ok && clean.defect[0] == '\0', "%s: the clean run failed: %s", o->name,
                  clean.defect);
    ck_assert_msg(clean.calls > 0, "%s: the scenario never calls it", o->name);
    unsigned stride = stride_for(clean.calls);
    for (unsigned n = 1; n <= clean.calls; n += stride) {
        run_once(o, n, &res);
        runs++;
        if (res.hits == 0) {
            unreached++;          /* this run took fewer calls than the clean one */
        } else if (res.defect[0] != '\0') {
            defects++;
            fprintf(stderr, "sweep %s: fail call %u: %s\n", o->name, n, res.defect);
            if (first[0] == '\0')
                snprintf(first, sizeof(first), "call %u: %s", n, res.defect);
        } else {
            ok += res.ok;
            errors += res.clear_error;
        }
        if (res.hits == 0 && res.defect[0] != '\0') {
            defects++;
            fprintf(stderr, "sweep %s: (not reached) call %u: %s\n", o->name, n, res.defect);
        }
    }
    printf("sweep %-28s %3u calls, %3u runs (stride %u): %3u ok, %3u clear errors, "
           "%3u not reached, %u defects\n", o->name, clean.calls, runs, stride, ok, errors,
           unreached, defects);
    fflush(stdout);
    ck_assert_msg(defects == 0, "%s: %u defect(s), first %s", o->name, defects, first);
}
END_TEST

static Suite *fault_sweep_suite(void)
{
    Suite *s = suite_create("fault_sweep");
    TCase *tc = rtv_unit_case(s, "seam", setup, teardown, 1800);

    tcase_add_loop_test(tc, sweep, 0, (int)NR_SWEEP_OPS);
    return s;
}

RTV_UNIT_MAIN(fault_sweep_suite)
