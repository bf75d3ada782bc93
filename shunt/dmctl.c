/*
 * The switch machine of the dm control plane (dmctl.h), level-triggered:
 * every watch event, helper result and a 500 ms resync re-read dom0's
 * control nodes and compare them with where the device is, so coalesced,
 * repeated or lost events change nothing.
 *
 * The switch is a flip of the target's route by message, with no dm
 * suspend in it (shunt/README.md, "The flip").  The table's PV leg is
 * always the PV leg device "rtvirt-<vdev>.pv"; a PV disk is attached before
 * a flip to pv/selective and dropped after a flip back to emulated by a
 * table swap (load, suspend, resume) of that device, never of the guest's:
 * no bio is routed to it then (shunt/README.md, "The PV leg device").  Once
 * a disk is attached the target is told it (`pv-disk`, dm-rtvirt 1.3), so
 * its PV bios go to the disk past the PV leg device's dm layer, and told to
 * stop (`pv-disk -`) before each drop ("The PV disk direct").  The
 * guest's own table is swapped only to renew it (a failover's state lives
 * in its table) or to bring an older table (PV leg "-" or a blkfront disk
 * itself) onto the PV leg device.
 *
 *   phase        device                      report (shunt-state)
 *   ---------    -------------------------   --------------------
 *   IDLE         live table, running         emulating/enlightened/selective,
 *                                            or failed-over
 *   ATTACHING    running; waiting (bounded)  connecting
 *                for the PV disk of devid
 *   SWAPPING     a table swap's suspend      connecting (attach, renew) or
 *                running on the helper       (unchanged: detach)
 *                (the PV leg device's, or
 *                the guest's to renew it)
 *   UNDOING      that suspend being          (unchanged)
 *                interrupted
 *   PREPARING    running; the target flushes quiescing
 *                the legs in force
 *                (`prepare`, flush_at_flip)
 *   GATED        running, prepared; waiting  flushed
 *                for dm-synced-id = switch-id
 *   SETTLING     flipped (`mode`); waiting   (unchanged)
 *                for the target's hold phase
 *                to end
 *   FLUSHING     flipped to emulated with    (unchanged)
 *                flush_at_flip off: waiting
 *                for the PV leg's writes,
 *                then the guest's device
 *                flushed (helper), before
 *                the PV disk is dropped
 *
 * PREPARING -> prepared + dm-synced-id: the flip, then the ack.  When dom0
 * opened the gate before (it checks qemu's drive at the request: the usual
 * case), the flip follows `prepare` with nothing reported in between.  Every
 * way out of a switch that did not flip leaves the device on its old route
 * (the PV leg this switch attached dropped again) and acks the old mode with
 * the reason in shunt-error (dom0 reads that as "the shunt rolled back").
 */
#include "dmctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rtvirt/clock.h"
#include "rtvirt/log.h"
#include "rtvirt/xs_schema.h"
#include "shunt_nodes.h"

#define TOKEN "rtvirt-shunt"
#define RESYNC_US 500000u

enum dmc_phase {
    DMC_IDLE, DMC_ATTACHING, DMC_SWAPPING, DMC_UNDOING, DMC_PREPARING, DMC_GATED,
    DMC_SETTLING, DMC_FLUSHING,
};

/* What a table swap is for, and so where its end leads.  ATTACH and the
 * DETACHes swap the PV leg device's table (no bio routed to it: the guest
 * does not wait); the RENEWs swap the guest's own (a dm suspend it waits in). */
enum dmc_swap {
    SWAP_ATTACH,         /* before the flip to pv/selective: the PV disk in */
    SWAP_RENEW,          /* before it: a fresh table over the PV leg device */
    SWAP_DETACH,         /* after the flip to emulated: the PV disk out */
    SWAP_RENEW_AFTER,    /* after it: a fresh table (failed over, or an older layout) */
    SWAP_DETACH_ABORT,   /* a switch given up before its flip: the disk it attached out */
};

static bool swap_is_renew(enum dmc_swap s)
{
    return s == SWAP_RENEW || s == SWAP_RENEW_AFTER;
}

#define PREPARE_POLL_US 5000u    /* the target raises a dm event too */
/* A way back to dom0's mode that failed is tried again this much later. */
#define FOLLOW_RETRY_US 2000000u
#define SETTLE_POLL_US  2000u
#define INFLIGHT_POLL_US 2000u

struct dmctl {
    struct dmctl_config cfg;
    char                name[RTV_DM_NAME_MAX];
    char                pvname[RTV_DM_NAME_MAX];   /* the PV leg device */
    char                pvdev[RTV_DM_DEV_MAX];     /* its "major:minor" */
    struct rtv_dm_leg   pvleg;                     /* its live table */
    struct rtv_dm_leg   pvleg_next;                /* the swap's, for it */
    struct rtv_xen      x;
    struct shunt_nodes  nodes;
    char                ctl_dir[256];
    struct rtv_dm_table live;          /* the table in force */
    struct rtv_dm_table next;          /* the switch's table */
    bool                failed_over;
    char                fo_why[512];
    bool                picked_up;
    /* the switch */
    enum dmc_phase      phase;
    uint32_t            sw_id;
    enum rtv_mode       sw_target;
    uint32_t            sw_timeout_ms, sw_devid;
    uint64_t            sw_deadline_us, sw_next_poll_us;
    bool                gate_open;     /* dm-synced-id = sw_id seen before `prepare` */
    bool                sw_attached;   /* this switch attached the PV disk */
    struct shunt_disk   sw_disk;       /* the PV disk it found */
    enum dmc_swap       swap;          /* while SWAPPING/UNDOING */
    bool                stuck;         /* a swap's suspend done, its resume failing */
    uint64_t            swap_start_us, prepare_start_us, prepared_us;
    uint64_t            flip_start_us, flip_us, stall_us, held_at_settle;
    uint64_t            attach_us, detach_us, renew_us, clear_us, flips_before;
    bool                fo_cleared;    /* this switch cleared a failover by message */
    bool                direct_refused;   /* the module has no pv-disk (before 1.3) */
    char                sw_error[1024];
    char                attach_wait[600];  /* the PV disk found but not openable yet: why */
    /* suspend helper */
    pthread_t           sus_th;
    bool                sus_running;
    int                 sus_pipe[2];
    int                 sus_rc;
    struct rtv_err      sus_err;
    /* flush helper (flush_at_flip off: the guest's device before the drop) */
    pthread_t           fl_th;
    bool                fl_running;
    bool                fl_this_switch;   /* started by the switch in FLUSHING */
    int                 fl_pipe[2];
    int                 fl_rc;
    struct rtv_err      fl_err;
    bool                preflushed;       /* this switch's flush before the drop is over */
    uint64_t            preflush_start_us, preflush_us;
    bool                inflight_warned;
    /* dm event helper */
    pthread_t           ev_th;
    bool                ev_running;
    atomic_bool         ev_stop;
    uint32_t            ev_nr;
    int                 ev_pipe[2];
    /* report */
    bool                have_acked;
    uint32_t            acked;
    char                acked_state[24];
    uint64_t            follow_tried_us;   /* last try to reach dom0's stable mode; 0: none */
    const char         *emu_report;    /* emulated-dev, checked; NULL: none */
    bool                report_emu;    /* write it with the next ack */
    bool                dirty;
    uint64_t            last_resync_us;
    struct shunt_ctl_snap snap;
    char                status_warned[256];
    uint64_t            switches, aborts, blackout_us;
};

static const char *const swap_names[] = {
    [SWAP_ATTACH] = "attach the PV disk",
    [SWAP_RENEW] = "renew the table",
    [SWAP_DETACH] = "drop the PV disk",
    [SWAP_RENEW_AFTER] = "renew the table",
    [SWAP_DETACH_ABORT] = "drop the PV disk this switch attached",
};

/* The device a swap of that kind suspends. */
static const char *swap_dev(const struct dmctl *c, enum dmc_swap s)
{
    return swap_is_renew(s) ? c->name : c->pvname;
}

/* The live table's PV leg is the PV leg device (else an older table: "-",
 * or a blkfront disk itself). */
static bool on_pv_leg_device(const struct dmctl *c)
{
    return strcmp(c->live.pv, c->pvdev) == 0;
}

/* The PV disk under the live table, "" for none. */
static const char *pv_disk(const struct dmctl *c)
{
    return on_pv_leg_device(c) ? c->pvleg.disk : c->live.pv;
}

/* Lines to stderr (the guest's journal) as "rtvirt-shunt: ...": info only
 * with --verbose, warn always. */
static void info(struct dmctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void info(struct dmctl *c, const char *fmt, ...)
{
    va_list ap;

    if (!c->cfg.verbose)
        return;
    va_start(ap, fmt);
    rtv_vlogf(NULL, "rtvirt-shunt", fmt, ap);
    va_end(ap);
}

static void warn(struct dmctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct dmctl *c, const char *fmt, ...)
{
    va_list ap;

    (void)c;
    va_start(ap, fmt);
    rtv_vlogf(NULL, "rtvirt-shunt", fmt, ap);
    va_end(ap);
}

static void nodes_warn(void *arg, const char *msg)
{
    warn(arg, "%s", msg);
}

/* ---- report -------------------------------------------------------------- */

/* What shunt-state says while no switch runs. */
static const char *idle_state(const struct dmctl *c)
{
    return c->failed_over ? "failed-over" : rtv_mode_shunt_state(c->live.mode);
}

static int report(struct dmctl *c, const struct shunt_report *r)
{
    int rc = shunt_nodes_report(&c->nodes, r);

    if (rc < 0) {
        warn(c, "cannot write the report (shunt-state %s): %s", r->state, strerror(-rc));
        c->dirty = true;   /* tried again on the next turn */
        return rc;
    }
    if (r->ack) {
        c->have_acked = true;
        c->acked = r->ack_id;
        snprintf(c->acked_state, sizeof(c->acked_state), "%s", r->state);
        info(c, "reported %s, ack %u%s%s", r->state, r->ack_id,
             r->error && r->error[0] ? ": " : "", r->error ? r->error : "");
    } else {
        info(c, "reported %s", r->state);
    }
    return 0;
}

/* The device is where idle_state() says, as the answer to switch id. */
static void ack(struct dmctl *c, uint32_t id, const char *error, bool numbers)
{
    struct shunt_report r = {
        .state = idle_state(c),
        .error = error,
        .numbers = numbers,
        .blackout_us = c->blackout_us,
        .ack = true,
        .ack_id = id,
        .emulated_dev = c->report_emu ? c->emu_report : NULL,
    };

    if (report(c, &r) == 0)
        c->report_emu = false;
}

static void progress(struct dmctl *c, const char *state)
{
    struct shunt_report r = { .state = state };

    report(c, &r);
}

/* ---- the suspend helper ---------------------------------------------------- */

static void *suspend_main(void *arg)
{
    struct dmctl *c = arg;
    char b = 1;

    c->sus_err = (struct rtv_err){ 0, "" };
    c->sus_rc = c->cfg.dm->suspend(c->cfg.dm_ctx, swap_dev(c, c->swap), &c->sus_err);
    /* The pipe is the hand-over: the loop reads sus_* only after this. */
    while (write(c->sus_pipe[1], &b, 1) < 0 && errno == EINTR)
        ;
    return NULL;
}

/* ---- switches ---------------------------------------------------------------- */

/* The loaded table (of the swap's device) is dropped; the device runs on
 * in the live one. */
static void drop_next(struct dmctl *c)
{
    struct rtv_err err = { 0, "" };

    if (c->cfg.dm->clear(c->cfg.dm_ctx, swap_dev(c, c->swap), &err) < 0)
        warn(c, "%s (the next load replaces it)", err.msg);
}

/* The switch ends where it started: ack the old mode with the reason. */
static void fail_switch(struct dmctl *c, const char *why)
{
    warn(c, "switch %u to %s: %s", c->sw_id, rtv_mode_name(c->sw_target), why);
    c->phase = DMC_IDLE;
    c->aborts++;
    ack(c, c->sw_id, why, false);
}

/* A swap suspended the device but did not resume into its new table: the
 * old table goes on.  A resume that fails leaves the device suspended,
 * which only a resume can end: the next tick tries again (stuck). */
static int resume_old(struct dmctl *c)
{
    struct rtv_err err = { 0, "" };

    drop_next(c);
    if (c->cfg.dm->resume(c->cfg.dm_ctx, swap_dev(c, c->swap), &err) < 0) {
        warn(c, "resuming %s on its old table: %s", swap_dev(c, c->swap), err.msg);
        c->stuck = true;
        return -err.code;
    }
    c->stuck = false;
    return 0;
}

/* dm-synced-id = switch-id: dom0 synced (or checked) the device model for
 * this switch.  One read; a node that cannot be read is a closed gate. */
static bool gate_is_open(struct dmctl *c)
{
    uint32_t synced;

    return shunt_nodes_read_dm_synced(&c->nodes, &synced) == 0 && synced == c->sw_id;
}

static int dm_message(struct dmctl *c, const char *msg, struct rtv_err *err)
{
    return c->cfg.dm->message(c->cfg.dm_ctx, c->name, msg, err);
}

static void begin_prepare(struct dmctl *c);
static void finish_switch(struct dmctl *c);
static void settled(struct dmctl *c, bool in_time);
static void step_to_pv(struct dmctl *c);
static void step_after_emulated(struct dmctl *c);
static void begin_preflush(struct dmctl *c);
static void give_up_before_flip(struct dmctl *c, const char *why);

/* A table swap of the guest's device (t) or of the PV leg device (leg):
 * load, then suspend on the helper (suspend_done goes on). */
static void start_swap(struct dmctl *c, enum dmc_swap what, const struct rtv_dm_table *t,
                       const struct rtv_dm_leg *leg);

static void swap_failed(struct dmctl *c, const char *why)
{
    switch (c->swap) {
    case SWAP_ATTACH:
        fail_switch(c, why);
        break;
    case SWAP_RENEW:
        /* A PV disk this switch attached goes again. */
        give_up_before_flip(c, why);
        break;
    case SWAP_DETACH:
    case SWAP_RENEW_AFTER:
        /* The flip is done: the device is emulated, only the disk stays. */
        warn(c, "switch %u: %s; the PV disk %s stays under the table", c->sw_id, why,
             pv_disk(c)[0] ? pv_disk(c) : "-");
        finish_switch(c);
        break;
    case SWAP_DETACH_ABORT:
        warn(c, "switch %u: %s; the PV disk %s stays under the table", c->sw_id, why,
             pv_disk(c));
        fail_switch(c, c->sw_error);
        break;
    }
}

static void swap_done(struct dmctl *c)
{
    uint64_t us = rtv_now_us() - c->swap_start_us;

    if (swap_is_renew(c->swap)) {
        c->live = c->next;
        c->failed_over = false;   /* the new table starts clean */
        c->renew_us += us;
    } else {
        c->pvleg = c->pvleg_next;
    }
    switch (c->swap) {
    case SWAP_ATTACH:
        c->attach_us = us;
        c->sw_attached = true;
        step_to_pv(c);
        break;
    case SWAP_RENEW:
        step_to_pv(c);
        break;
    case SWAP_DETACH:
        c->detach_us = us;
        step_after_emulated(c);
        break;
    case SWAP_RENEW_AFTER:
        step_after_emulated(c);
        break;
    case SWAP_DETACH_ABORT:
        fail_switch(c, c->sw_error);
        break;
    }
}

static void start_swap(struct dmctl *c, enum dmc_swap what, const struct rtv_dm_table *t,
                       const struct rtv_dm_leg *leg)
{
    struct rtv_err err = { 0, "" };
    char why[700];
    int rc;

    c->swap = what;
    if (swap_is_renew(what))
        c->next = *t;
    else
        c->pvleg_next = *leg;
    if (what != SWAP_ATTACH && what != SWAP_RENEW)   /* after the fact: a bound of its own */
        c->sw_deadline_us = rtv_now_us() + (uint64_t)c->sw_timeout_ms * 1000u;
    /* Loading opens the new legs: setup, before the suspend. */
    rc = swap_is_renew(what) ? c->cfg.dm->load(c->cfg.dm_ctx, c->name, &c->next, &err)
                             : c->cfg.dm->leg_load(c->cfg.dm_ctx, c->pvname, &c->pvleg_next,
                                                   &err);
    if (rc == -ENXIO && what == SWAP_ATTACH && c->phase == DMC_ATTACHING) {
        /* blkfront's disk is in sysfs (where try_attach finds it) before it
         * can be opened: add_disk makes the directory first and the block
         * device live last, and an open in between is refused with ENXIO
         * (lab, flight switch 2026-12-07 15:22: "linear: Device lookup
         * failed (-ENXIO)" 0.8 s after blkfront's first line for that
         * disk).  Not openable yet: tried again at the next poll, within
         * the switch's bound. */
        if (c->attach_wait[0] == '\0')
            info(c, "switch %u: the PV disk %s is not openable yet (%s): trying again",
                 c->sw_id, c->sw_disk.name, err.msg);
        snprintf(c->attach_wait, sizeof(c->attach_wait), "%s", err.msg);
        drop_next(c);
        return;
    }
    if (rc < 0) {
        snprintf(why, sizeof(why), "loading the table to %s failed: %s", swap_names[what],
                 err.msg);
        drop_next(c);
        swap_failed(c, why);
        return;
    }
    c->swap_start_us = rtv_now_us();
    c->phase = DMC_SWAPPING;
    if ((rc = pthread_create(&c->sus_th, NULL, suspend_main, c)) != 0) {
        snprintf(why, sizeof(why), "cannot start the suspend to %s: %s", swap_names[what],
                 strerror(rc));
        drop_next(c);
        swap_failed(c, why);
        return;
    }
    c->sus_running = true;
}

/* A fresh table of the live one's route (emulated once failed over) over
 * the PV leg device. */
static struct rtv_dm_table renewed_table(const struct dmctl *c)
{
    struct rtv_dm_table t = c->live;

    if (c->failed_over)
        t.mode = RTV_MODE_EMULATED;
    snprintf(t.pv, sizeof(t.pv), "%s", c->pvdev);
    return t;
}

/* The PV disk direct (dm-rtvirt 1.3): `pv-disk <disk>` once the PV leg
 * device maps it, `pv-disk -` before it stops mapping it.  Only a shorter
 * path: refused (a module before 1.3, a disk of other geometry, bios of the
 * last disk not back within the target's bound), the PV leg device carries
 * the PV bios as before, so a refusal is a warning, and the drop goes on
 * (what the target still sends the old disk it holds open until those
 * bios are back). */
static void direct_to(struct dmctl *c, const char *disk)
{
    struct rtv_err err = { 0, "" };
    char msg[16 + RTV_DM_DEV_MAX];

    if (c->direct_refused)
        return;
    snprintf(msg, sizeof(msg), "pv-disk %s", disk[0] ? disk : "-");
    if (dm_message(c, msg, &err) == 0)
        return;
    if (err.code == EINVAL && disk[0]) {
        c->direct_refused = true;
        warn(c, "%s: %s; the PV bios take the PV leg device (a module before dm-rtvirt 1.3?)",
             msg, err.msg);
        return;
    }
    warn(c, "%s: %s", msg, err.msg);
}

static void swap_leg(struct dmctl *c, enum dmc_swap what, const char *disk)
{
    struct rtv_dm_leg leg = { .sectors = c->cfg.sectors };

    if (!disk[0])
        direct_to(c, "");   /* before the PV leg device stops mapping the disk */

    snprintf(leg.disk, sizeof(leg.disk), "%s", disk);
    start_swap(c, what, NULL, &leg);
}

/* The failed-over state ends by the target's message `clear-failover`
 * (dm-rtvirt 1.2), with no dm suspend of the guest's device: only once the
 * route is emulated and the table is over the PV leg device (which a fresh
 * disk is attached to before any flip takes the PV leg again).  False when
 * it does not apply or the target refuses it (an older module, or PV I/O
 * still in flight): the table is renewed instead, as before. */
static bool clear_failover(struct dmctl *c)
{
    struct rtv_err err = { 0, "" };
    uint64_t t0 = rtv_now_us();

    if (!c->failed_over || c->live.mode != RTV_MODE_EMULATED || !on_pv_leg_device(c))
        return false;
    if (dm_message(c, "clear-failover", &err) < 0) {
        warn(c, "switch %u: %s: renewing the table instead", c->sw_id, err.msg);
        return false;
    }
    c->failed_over = false;
    c->fo_cleared = true;
    c->clear_us = rtv_now_us() - t0;
    info(c, "switch %u: the failed-over state cleared in %llu us (no renew)", c->sw_id,
         (unsigned long long)c->clear_us);
    return true;
}

/* Towards pv/selective, once the PV disk is found: each call takes the next
 * step that is not done yet (so a swap's end calls it again).  The PV leg
 * device gets the disk (a fresh open after a failover: the dead disk goes),
 * the guest's table is renewed if it failed over or is not over the PV leg
 * device yet, then the flip's prepare. */
static void step_to_pv(struct dmctl *c)
{
    if (strcmp(c->pvleg.disk, c->sw_disk.dev) != 0 || (c->failed_over && !c->sw_attached)) {
        swap_leg(c, SWAP_ATTACH, c->sw_disk.dev);
        return;
    }
    if ((c->failed_over && !clear_failover(c)) || !on_pv_leg_device(c)) {
        struct rtv_dm_table t = renewed_table(c);

        start_swap(c, SWAP_RENEW, &t, NULL);
        return;
    }
    direct_to(c, c->pvleg.disk);
    begin_prepare(c);
}

/* After the flip to emulated (every bio on the emulated leg, the PV leg
 * drained and, with flush_at_flip, flushed): the PV disk leaves the PV leg
 * device, so blkfront can close when dom0 tears the twin down; a failed-over
 * table's state is cleared by message (else renewed), one of an older
 * layout is renewed; then the ack. */
static void step_after_emulated(struct dmctl *c)
{
    if (c->pvleg.disk[0]) {
        if (!c->preflushed && !shunt_flush_at_flip(c->cfg.sysfs)) {
            begin_preflush(c);
            return;
        }
        swap_leg(c, SWAP_DETACH, "");
        return;
    }
    if ((c->failed_over && !clear_failover(c)) || (!on_pv_leg_device(c) && c->live.pv[0])) {
        struct rtv_dm_table t = renewed_table(c);

        start_swap(c, SWAP_RENEW_AFTER, &t, NULL);
        return;
    }
    finish_switch(c);
}

/* ---- the flush before the drop (flush_at_flip off) ---------------------------
 *
 * With the module's flush_at_flip on, the flip to emulated flushed the PV
 * leg after its last writes, which cleared its dirty mark, so no guest
 * flush is sent to the PV leg device while the drop suspends it.  Off, the
 * PV leg stays dirty until the guest's next flush, and a flush the guest
 * sends during the drop would be held in that suspend (and, with a kill -9
 * of the shunt there, until the next shunt undoes it).  So first the PV
 * leg's writes of before the flip complete (the PV leg device's inflight
 * count: the route is emulated, no new write reaches it), then the guest's
 * own device is flushed (the target sends that flush to the dirty PV leg
 * and clears its mark), then the drop.  Both bounded by timeout-ms: past
 * it the drop goes on as it used to.  (The PV leg device counts a write
 * out just before the target's end_io marks the leg dirty, in one call
 * chain of the completion; this flush comes a thread start and two
 * syscalls later.) */

static void *flush_main(void *arg)
{
    struct dmctl *c = arg;
    char b = 1;

    c->fl_err = (struct rtv_err){ 0, "" };
    c->fl_rc = c->cfg.dm->flush(c->cfg.dm_ctx, c->name, &c->fl_err);
    while (write(c->fl_pipe[1], &b, 1) < 0 && errno == EINTR)
        ;
    return NULL;
}

static void preflush_over(struct dmctl *c, const char *why)
{
    c->preflushed = true;
    c->preflush_us = rtv_now_us() - c->preflush_start_us;
    if (why)
        warn(c, "switch %u: %s; dropping the PV disk now", c->sw_id, why);
    step_after_emulated(c);
}

static void begin_preflush(struct dmctl *c)
{
    c->phase = DMC_FLUSHING;
    c->preflush_start_us = rtv_now_us();
    c->sw_next_poll_us = c->preflush_start_us;
    c->sw_deadline_us = c->preflush_start_us + (uint64_t)c->sw_timeout_ms * 1000u;
    c->fl_this_switch = false;
}

/* FLUSHING before its flush: the PV leg's writes, polled; then the flush. */
static void poll_preflush(struct dmctl *c)
{
    struct rtv_err err = { 0, "" };
    unsigned long writes = 0;
    char why[700];
    int rc;

    if (shunt_writes_in_flight(c->cfg.sysfs, c->pvdev, &writes, &err) < 0) {
        if (!c->inflight_warned)
            warn(c, "%s: flushing without waiting for the PV leg's writes", err.msg);
        c->inflight_warned = true;
    } else if (writes > 0) {
        c->sw_next_poll_us = rtv_now_us() + INFLIGHT_POLL_US;
        return;
    }
    if (c->fl_running) {
        preflush_over(c, "an earlier flush of the device has not returned");
        return;
    }
    if ((rc = pthread_create(&c->fl_th, NULL, flush_main, c)) != 0) {
        snprintf(why, sizeof(why), "cannot start the flush of %s: %s", c->name, strerror(rc));
        preflush_over(c, why);
        return;
    }
    c->fl_running = true;
    c->fl_this_switch = true;
}

/* The flush helper returned (this switch's, or one given up on earlier). */
static void flush_done(struct dmctl *c)
{
    char b, why[700];

    while (read(c->fl_pipe[0], &b, 1) < 0 && errno == EINTR)
        ;
    pthread_join(c->fl_th, NULL);
    c->fl_running = false;
    if (c->phase != DMC_FLUSHING || !c->fl_this_switch)
        return;
    if (c->fl_rc < 0) {
        snprintf(why, sizeof(why), "%s", c->fl_err.msg);
        preflush_over(c, why);
        return;
    }
    preflush_over(c, NULL);
}

/* Out of a switch that has not flipped (PREPARING, GATED, a failed renew):
 * the target's prepare is cancelled, and a PV disk this switch attached is
 * dropped again before the old mode is acked. */
static void give_up_before_flip(struct dmctl *c, const char *why)
{
    struct rtv_err err = { 0, "" };

    if (dm_message(c, "cancel", &err) < 0)
        warn(c, "%s (harmless: the next prepare starts afresh)", err.msg);
    if (c->sw_attached && c->pvleg.disk[0] && !rtv_mode_needs_pv(c->live.mode)) {
        snprintf(c->sw_error, sizeof(c->sw_error), "%s", why);
        swap_leg(c, SWAP_DETACH_ABORT, "");
        return;
    }
    fail_switch(c, why);
}

/* Both legs are in the table (or the target is emulated): the flip's first
 * step.  `prepare` returns at once; the target flushes the legs in force on
 * its own worker while the I/O goes on (PREPARING polls its status). */
static void begin_prepare(struct dmctl *c)
{
    struct rtv_err err = { 0, "" };
    char why[700];

    progress(c, "quiescing");
    /* Is the gate open already?  Asked now, so that the flip needs no store
     * round trip once the target is prepared. */
    c->gate_open = gate_is_open(c);
    c->prepare_start_us = rtv_now_us();
    if (dm_message(c, "prepare", &err) < 0) {
        snprintf(why, sizeof(why), "preparing the flip failed: %s", err.msg);
        give_up_before_flip(c, why);
        return;
    }
    c->phase = DMC_PREPARING;
    c->sw_next_poll_us = rtv_now_us();
}

static void try_attach(struct dmctl *c)
{
    struct shunt_disk d;
    struct rtv_err err = { 0, "" };
    char why[800];
    int rc;

    c->sw_next_poll_us = rtv_now_us() + (uint64_t)c->cfg.attach_poll_ms * 1000u;
    rc = shunt_disk_of_vbd(c->cfg.sysfs, c->sw_devid, &d, &err);
    if (rc == -ENOENT)
        return;   /* not connected yet: the bound decides */
    if (rc < 0) {
        snprintf(why, sizeof(why), "finding the PV disk of vbd %u: %s", c->sw_devid, err.msg);
        fail_switch(c, why);
        return;
    }
    if (d.sectors != c->cfg.sectors) {
        snprintf(why, sizeof(why), "the PV disk %s (vbd %u) has %llu sectors, the emulated "
                 "disk %llu", d.name, c->sw_devid, (unsigned long long)d.sectors,
                 (unsigned long long)c->cfg.sectors);
        fail_switch(c, why);
        return;
    }
    /* The dm target's constructor compares its legs' logical block sizes,
     * but its PV leg is the PV leg device, which says 512 while it maps
     * nothing: this is the one place that sees the blkfront disk's.  A
     * filesystem made through one leg must be read the same through the
     * other (a 4096-byte disk refuses 512-byte I/O). */
    if (d.lbs != c->cfg.lbs) {
        snprintf(why, sizeof(why), "the PV disk %s (vbd %u) has a logical block size of %u "
                 "bytes, the emulated disk %u: not attached (dom0's backend must advertise "
                 "the emulated disk's sector-size)", d.name, c->sw_devid, d.lbs, c->cfg.lbs);
        fail_switch(c, why);
        return;
    }
    if (c->attach_wait[0] == '\0')   /* said once, not at each try to open it */
        info(c, "switch %u: PV disk %s (%s) of vbd %u is there", c->sw_id, d.name, d.dev,
             c->sw_devid);
    c->sw_disk = d;
    step_to_pv(c);
}

/* back: to the mode dom0 already stands in or returns to (its rollback,
 * its stable state), not a switch it asked for. */
static void start_switch(struct dmctl *c, uint32_t id, enum rtv_mode target, bool back)
{
    c->sw_id = id;
    c->sw_target = target;
    c->sw_timeout_ms = c->snap.timeout_ms;
    /* The request's timeout-ms bounds the switch dom0 asked for; past it
     * dom0 rolls back.  The way back is no such switch: nobody can roll it
     * back, and a guest that flipped as dom0's bound passed (it cannot see
     * that in time) needs as long for it as for the way there, which that
     * bound already proved too short.  It gets the default bound at least. */
    if (back && c->sw_timeout_ms < SHUNT_DEFAULT_TIMEOUT_MS)
        c->sw_timeout_ms = SHUNT_DEFAULT_TIMEOUT_MS;
    c->sw_deadline_us = rtv_now_us() + (uint64_t)c->sw_timeout_ms * 1000u;
    c->sw_error[0] = '\0';
    c->attach_wait[0] = '\0';
    c->sw_attached = false;
    c->attach_us = c->detach_us = c->renew_us = c->clear_us = c->stall_us = c->flip_us = 0;
    c->fo_cleared = false;
    c->preflushed = false;
    c->preflush_us = 0;
    info(c, "switch %u: %s%s -> %s", id, rtv_mode_name(c->live.mode),
         c->failed_over ? " (failed over)" : "", rtv_mode_name(target));
    if (!rtv_mode_needs_pv(target)) {
        /* Towards emulated the PV leg goes after the flip: once dropped,
         * nothing holds the disk and blkfront can close when dom0 tears the
         * twin down. */
        begin_prepare(c);
        return;
    }
    c->phase = DMC_ATTACHING;
    if (!c->snap.devid_ok) {
        fail_switch(c, "node devid: absent or invalid; no PV disk to attach");
        return;
    }
    c->sw_devid = c->snap.devid;
    progress(c, "connecting");
    try_attach(c);
}

/* Out of a switch: ATTACHING ends at once; an attaching swap is interrupted
 * and ends when the helper returns (UNDOING); PREPARING and GATED give up
 * before the flip.  Past the flip (SETTLING, the drop of the PV leg) the
 * switch runs to its end and dom0's new wish is followed from there. */
static void abort_current(struct dmctl *c, const char *why)
{
    switch (c->phase) {
    case DMC_ATTACHING:
        info(c, "switch %u abandoned while attaching: %s", c->sw_id, why);
        c->phase = DMC_IDLE;
        c->aborts++;
        break;
    case DMC_SWAPPING:
        if (c->swap != SWAP_ATTACH && c->swap != SWAP_RENEW)
            break;
        snprintf(c->sw_error, sizeof(c->sw_error), "%s", why);
        c->phase = DMC_UNDOING;
        c->cfg.dm->interrupt(c->cfg.dm_ctx, c->sus_th);
        break;
    case DMC_PREPARING:
    case DMC_GATED:
        give_up_before_flip(c, why);
        break;
    case DMC_UNDOING:
    case DMC_SETTLING:
    case DMC_FLUSHING:   /* past the flip */
    case DMC_IDLE:
        break;
    }
}

/* The helper's suspend returned. */
static void suspend_done(struct dmctl *c)
{
    struct rtv_err err = { 0, "" };
    char b, why[900];
    int rc;

    while (read(c->sus_pipe[0], &b, 1) < 0 && errno == EINTR)
        ;
    pthread_join(c->sus_th, NULL);
    c->sus_running = false;
    rc = c->sus_rc;
    if (c->phase == DMC_UNDOING) {
        /* A suspend that completed before the interrupt landed left the
         * device suspended; one that was interrupted left it running. */
        if (rc == 0 && resume_old(c) < 0)
            return;   /* stuck: retried from tick */
        if (rc < 0)
            drop_next(c);
        swap_failed(c, c->sw_error);
        return;
    }
    if (rc < 0) {
        snprintf(why, sizeof(why), "suspending %s to %s failed: %s", swap_dev(c, c->swap),
                 swap_names[c->swap], c->sus_err.msg);
        drop_next(c);
        swap_failed(c, why);
        return;
    }
    /* Drained; the resume swaps the new table in. */
    if (c->cfg.dm->resume(c->cfg.dm_ctx, swap_dev(c, c->swap), &err) < 0) {
        snprintf(why, sizeof(why), "resuming %s into the table to %s failed: %s",
                 swap_dev(c, c->swap), swap_names[c->swap], err.msg);
        snprintf(c->sw_error, sizeof(c->sw_error), "%s", why);
        if (resume_old(c) < 0) {
            c->phase = DMC_UNDOING;
            return;   /* stuck: retried from tick */
        }
        swap_failed(c, why);
        return;
    }
    swap_done(c);
}

/* The flip itself: one message; new bios take the new route when it returns. */
static void flip(struct dmctl *c)
{
    struct rtv_dm_status st;
    struct rtv_err err = { 0, "" };
    char msg[32], why[700];

    if (c->live.mode == c->sw_target && (!c->failed_over || !rtv_mode_needs_pv(c->sw_target))) {
        /* Nothing to flip (a PV disk left under an emulated table is only
         * dropped): the prepare is dropped, nothing was held. */
        if (dm_message(c, "cancel", &err) < 0)
            warn(c, "%s (harmless: the next prepare starts afresh)", err.msg);
        c->flip_start_us = rtv_now_us();
        c->flip_us = c->stall_us = 0;
        settled(c, true);
        return;
    }
    c->flips_before = 0;
    if (c->cfg.dm->status(c->cfg.dm_ctx, c->name, &st, &err) == 0)
        c->flips_before = st.flips;
    rtv_dm_mode_message(c->sw_target, msg, sizeof(msg));
    c->flip_start_us = rtv_now_us();
    if (dm_message(c, msg, &err) < 0) {
        snprintf(why, sizeof(why), "the flip to %s failed: %s", rtv_mode_name(c->sw_target),
                 err.msg);
        give_up_before_flip(c, why);
        return;
    }
    c->flip_us = rtv_now_us() - c->flip_start_us;
    /* Flipped: from here the switch only goes forward. */
    c->live.mode = c->sw_target;
    c->phase = DMC_SETTLING;
    c->sw_next_poll_us = rtv_now_us();
    c->sw_deadline_us = rtv_now_us() + (uint64_t)c->sw_timeout_ms * 1000u;
}

/* dm-synced-id = switch-id once prepared: flip. */
static void maybe_flip(struct dmctl *c, uint32_t dm_synced)
{
    if (c->phase != DMC_GATED || dm_synced != c->sw_id || c->sw_error[0])
        return;
    flip(c);
}

static void prepared(struct dmctl *c)
{
    c->prepared_us = rtv_now_us();
    if (c->gate_open && !c->dirty) {
        /* dom0 opened the gate before: flip now, no store I/O first.  Not
         * with a change of dom0's unread (dirty): it may be the rollback
         * of this switch, and GATED flips only once sync_ctl saw dom0
         * still wants it.  One that comes after this is the race the way
         * back (start_switch's back) is for. */
        c->phase = DMC_GATED;
        flip(c);
        return;
    }
    info(c, "switch %u: prepared after %llu us; waiting for dm-synced-id", c->sw_id,
         (unsigned long long)(c->prepared_us - c->prepare_start_us));
    c->phase = DMC_GATED;
    progress(c, "flushed");
    c->dirty = true;   /* dm-synced-id may be there already */
}

/* The flip's hold phase ended (or its bound passed): the blackout is known. */
static void settled(struct dmctl *c, bool in_time)
{
    /* The guest's longest wait: the message itself, or a bio held longer. */
    c->blackout_us = c->stall_us > c->flip_us ? c->stall_us : c->flip_us;
    if (!in_time)
        warn(c, "switch %u: the flip's hold phase had not ended after %u ms (%llu bios "
             "held: the old leg's writes have not completed); counted as the stall",
             c->sw_id, c->sw_timeout_ms, (unsigned long long)c->held_at_settle);
    if (!rtv_mode_needs_pv(c->live.mode)) {
        step_after_emulated(c);
        return;
    }
    finish_switch(c);
}

/* PREPARING and SETTLING: the target's flip state, polled (and on its events). */
static void poll_flip(struct dmctl *c)
{
    struct rtv_dm_status st;
    struct rtv_err err = { 0, "" };
    char why[700];
    uint64_t now = rtv_now_us();

    c->sw_next_poll_us = now + (c->phase == DMC_SETTLING ? SETTLE_POLL_US : PREPARE_POLL_US);
    if (c->cfg.dm->status(c->cfg.dm_ctx, c->name, &st, &err) < 0) {
        warn(c, "switch %u: %s", c->sw_id, err.msg);
        return;   /* polled again; the bound decides */
    }
    if (!st.has_flip) {
        snprintf(why, sizeof(why), "the dm-rtvirt module has no flip (its status has no "
                 "flip state: a module older than 1.1 is loaded)");
        if (c->phase == DMC_PREPARING)
            give_up_before_flip(c, why);
        return;
    }
    if (c->phase == DMC_PREPARING && st.flip == RTV_DM_FLIP_PREPARED) {
        prepared(c);
    } else if (c->phase == DMC_SETTLING && st.flip == RTV_DM_FLIP_IDLE &&
               st.flips > c->flips_before) {
        c->stall_us = st.last_stall_us;
        settled(c, true);
    } else if (c->phase == DMC_SETTLING) {
        c->held_at_settle = st.held;
    }
}

static void finish_switch(struct dmctl *c)
{
    c->phase = DMC_IDLE;
    c->switches++;
    ack(c, c->sw_id, "", true);
    /* Always logged: the lab reads the flip's figures from it.  The window
     * is the message (flip) and the longest a bio was held (stall); the
     * rest ran while the I/O went on: attach and detach swap the PV leg
     * device's table, which no bio is routed to then.  renew is the one
     * the guest waits in too: a dm suspend of its own device, after a
     * failover or on an older table (0 otherwise).  A failed-over state
     * cleared by message instead of a renew is said after the figures
     * (a message the guest does not wait in). */
    char cleared[128] = "";
    if (c->fo_cleared)
        snprintf(cleared, sizeof(cleared), ", failed-over state cleared in %llu us",
                 (unsigned long long)c->clear_us);
    if (c->preflushed) {
        size_t n = strlen(cleared);

        snprintf(cleared + n, sizeof(cleared) - n, ", device flushed before the drop in "
                 "%llu us", (unsigned long long)c->preflush_us);
    }
    warn(c, "switch %u done: now %s, blackout %llu us (flip %llu, stall %llu; prepare %llu, "
         "gate %llu, attach %llu, detach %llu: outside; renew %llu)%s%s", c->sw_id,
         rtv_mode_name(c->live.mode), (unsigned long long)c->blackout_us,
         (unsigned long long)c->flip_us, (unsigned long long)c->stall_us,
         (unsigned long long)(c->prepared_us - c->prepare_start_us),
         (unsigned long long)(c->flip_start_us - c->prepared_us),
         (unsigned long long)c->attach_us, (unsigned long long)c->detach_us,
         (unsigned long long)c->renew_us, c->gate_open ? ", gate open before" : "", cleared);
    c->dirty = true;   /* dom0 may have moved on meanwhile */
}

/* ---- failover ---------------------------------------------------------------- */

static void check_status(struct dmctl *c)
{
    struct rtv_dm_status st;
    struct rtv_err err = { 0, "" };

    if (c->phase != DMC_IDLE)
        return;   /* the table in force is about to change */
    if (c->cfg.dm->status(c->cfg.dm_ctx, c->name, &st, &err) < 0) {
        if (strcmp(c->status_warned, err.msg) != 0) {
            warn(c, "%s", err.msg);
            snprintf(c->status_warned, sizeof(c->status_warned), "%s", err.msg);
        }
        return;
    }
    if (!st.failed_over || c->failed_over)
        return;
    c->failed_over = true;
    snprintf(c->fo_why, sizeof(c->fo_why), "the PV leg %s failed (%llu PV errors): every "
             "bio now goes to the emulated leg %s (%llu re-issued there, none failed); "
             "switch the device to reattach a PV disk", pv_disk(c)[0] ? pv_disk(c) : "-",
             (unsigned long long)st.pv_errors, c->live.emu,
             (unsigned long long)st.failovers);
    warn(c, "%s: %s", c->name, c->fo_why);
    struct shunt_report r = { .state = "failed-over", .error = c->fo_why };
    report(c, &r);
}

static void *event_main(void *arg)
{
    struct dmctl *c = arg;
    uint32_t nr = c->ev_nr;
    char b = 1;

    while (!atomic_load(&c->ev_stop)) {
        struct rtv_err err = { 0, "" };
        int rc = c->cfg.dm->wait_event(c->cfg.dm_ctx, c->name, &nr, &err);

        if (atomic_load(&c->ev_stop))
            break;
        if (rc == -EINTR)
            continue;
        while (write(c->ev_pipe[1], &b, 1) < 0 && errno == EINTR)
            ;
        if (rc < 0)
            sleep(1);   /* the resync polls the status meanwhile */
    }
    return NULL;
}

/* ---- following dom0 ------------------------------------------------------------ */

static bool answered(const struct dmctl *c, uint32_t id)
{
    return c->have_acked && c->acked == id;
}

/* The guest was restored or migrated: xl brought it back under a new domid,
 * whose nodes dom0 makes anew (xl-rtvirt restore|migrate manages the disk
 * again, in emulated mode, and then switches it back).  The old nodes are
 * gone with the old domain, so nothing of the old switches counts: watch the
 * new control nodes, and acknowledge (with emulated-dev) once they are there.
 * Only between switches: one caught in a switch is backed out first. */
static void follow_domid(struct dmctl *c)
{
    rtv_domid_t now;
    unsigned old = c->nodes.dom;

    if (c->cfg.self_domid == NULL || c->cfg.self_domid(c->cfg.open_ctx, c->x.xs, &now) < 0 ||
        now == c->nodes.dom)
        return;
    if (c->phase != DMC_IDLE) {
        abort_current(c, "the domain was restored or migrated under a new domid");
        if (c->phase != DMC_IDLE)
            return;   /* once the suspend is undone */
    }
    rtv_xs_unwatch(c->x.xs, c->ctl_dir, TOKEN);
    c->nodes.dom = now;
    memset(c->nodes.warned, 0, sizeof(c->nodes.warned));
    if (shunt_nodes_ctl_dir(&c->nodes, c->ctl_dir, sizeof(c->ctl_dir)) < 0 ||
        rtv_xs_watch(c->x.xs, c->ctl_dir, TOKEN) < 0)
        warn(c, "cannot watch %s: following it at each resync only", c->ctl_dir);
    c->have_acked = false;
    c->follow_tried_us = 0;
    c->report_emu = true;
    warn(c, "this domain is now %u (was %u: restored or migrated); following %s",
         (unsigned)now, old, c->ctl_dir);
}

/* The device is in mode m, as a switch to m would leave it: emulated holds
 * no PV disk (else blkfront cannot close when dom0 tears the twin down; a
 * shunt killed between a flip to emulated and the drop leaves one) and has
 * not failed over (its table is renewed); pv/selective have their disk. */
static bool in_mode(const struct dmctl *c, enum rtv_mode m)
{
    if (c->live.mode != m)
        return false;
    if (rtv_mode_needs_pv(m))
        return pv_disk(c)[0] != '\0';
    return pv_disk(c)[0] == '\0' && !c->failed_over;
}

static void sync_ctl(struct dmctl *c)
{
    struct shunt_ctl_snap *s = &c->snap;
    int rc;

    c->dirty = false;
    c->last_resync_us = rtv_now_us();
    follow_domid(c);
    /* The gate is looked at only with dom0's state beside it (below): an
     * open gate of a switch dom0 is rolling back, or has ended, is no
     * reason to flip. */
    if ((rc = shunt_nodes_read(&c->nodes, s)) < 0) {
        warn(c, "cannot read the control nodes: %s", strerror(-rc));
        return;   /* the resync tries again */
    }
    if (!s->managed)
        return;   /* not managed (yet): stay where we are */

    if (s->rollback) {
        if (c->phase != DMC_IDLE) {
            if (c->sw_id == s->id && c->sw_target == s->previous) {
                maybe_flip(c, s->dm_synced);   /* already going back */
                return;
            }
            abort_current(c, "dom0 rolled the switch back");
            if (c->phase != DMC_IDLE)
                return;   /* acked when the suspend is undone */
        }
        if (!in_mode(c, s->previous))
            start_switch(c, s->id, s->previous, true);
        else if (!answered(c, s->id) || strcmp(c->acked_state, idle_state(c)) != 0)
            ack(c, s->id, "rolled back at dom0's request", false);
        return;
    }
    if (s->switching) {
        if (c->phase != DMC_IDLE) {
            if (c->sw_id == s->id && c->sw_target == s->mode) {
                maybe_flip(c, s->dm_synced);   /* this switch, seen again */
                return;
            }
            abort_current(c, "dom0 started another switch");
            if (c->phase != DMC_IDLE)
                return;
        }
        if (answered(c, s->id))
            return;   /* done or given up: dom0's turn */
        /* A failed-over device is not in its table's mode: a switch to that
         * mode loads a fresh table (a new PV disk). */
        if (in_mode(c, s->mode) && !c->failed_over)
            ack(c, s->id, "", false);
        else
            start_switch(c, s->id, s->mode, false);
        return;
    }
    /* Stable. */
    if (c->phase != DMC_IDLE) {
        if (c->sw_id == s->id && c->sw_target == s->mode) {
            maybe_flip(c, s->dm_synced);   /* following dom0's stable state */
            return;
        }
        abort_current(c, "dom0 ended the switch");
        if (c->phase != DMC_IDLE)
            return;
    }
    if (!in_mode(c, s->mode)) {
        /* dom0's word stands (both ends must end in one mode): a way there
         * that failed is tried again, FOLLOW_RETRY_US later. */
        if (c->follow_tried_us != 0 && rtv_now_us() - c->follow_tried_us < FOLLOW_RETRY_US)
            return;
        warn(c, "dom0 says %s, the device is %s: following dom0", rtv_mode_name(s->mode),
             rtv_mode_name(c->live.mode));
        c->follow_tried_us = rtv_now_us();
        start_switch(c, s->id, s->mode, true);
    } else if (!c->have_acked || strcmp(c->acked_state, idle_state(c)) != 0) {
        /* A failed-over device stays so until dom0 switches it: reloading
         * the PV leg that just failed on our own would fail again. */
        ack(c, s->id, c->failed_over ? c->fo_why : NULL, false);
    }
}

/* ---- start: create, or pick up ------------------------------------------------- */

static int pick_up(struct dmctl *c, const struct shunt_dm_info *di, struct rtv_err *err)
{
    const struct shunt_dm_ops *dm = c->cfg.dm;
    struct rtv_dm_status st;
    struct rtv_err e2 = { 0, "" };
    int rc;

    if (di->suspended) {
        /* A shunt died in a switch's blackout: bios are held.  Roll its
         * switch back (dom0's coordinator, or its bound, settles the
         * protocol side; a switch still asked for is started afresh). */
        if (di->inactive_table && dm->clear(c->cfg.dm_ctx, c->name, &e2) < 0)
            warn(c, "%s", e2.msg);
        if ((rc = dm->resume(c->cfg.dm_ctx, c->name, err)) < 0)
            return rc;
        warn(c, "%s was left suspended (a shunt died inside a switch): resumed on its "
             "live table", c->name);
    } else if (di->inactive_table) {
        if (dm->clear(c->cfg.dm_ctx, c->name, &e2) < 0)
            warn(c, "%s", e2.msg);
    }
    if ((rc = dm->table(c->cfg.dm_ctx, c->name, &c->live, err)) < 0)
        return rc;
    if (strcmp(c->live.emu, c->cfg.emu_dev) != 0 || c->live.sectors != c->cfg.sectors)
        return rtv_err_set(err, EEXIST, "%s exists over %s (%llu sectors), not over the "
                           "emulated disk %s (%llu sectors)", c->name, c->live.emu,
                           (unsigned long long)c->live.sectors, c->cfg.emu_dev,
                           (unsigned long long)c->cfg.sectors);
    if (dm->status(c->cfg.dm_ctx, c->name, &st, &e2) == 0 && st.has_flip &&
        (st.flip == RTV_DM_FLIP_PREPARING || st.flip == RTV_DM_FLIP_PREPARED)) {
        /* A shunt died between its prepare and its flip: that switch is
         * given up (dom0's state is followed from here). */
        if (dm->message(c->cfg.dm_ctx, c->name, "cancel", &e2) < 0)
            warn(c, "%s", e2.msg);
    }
    if (dm->status(c->cfg.dm_ctx, c->name, &st, &e2) == 0 && st.failed_over) {
        c->failed_over = true;
        snprintf(c->fo_why, sizeof(c->fo_why), "the PV leg %s had failed before this "
                 "shunt started (%llu PV errors, %llu bios re-issued on the emulated "
                 "leg)", pv_disk(c)[0] ? pv_disk(c) : "-",
                 (unsigned long long)st.pv_errors, (unsigned long long)st.failovers);
    }
    c->picked_up = true;
    warn(c, "picked up %s where it is: %s%s, PV leg %s", c->name,
         rtv_mode_name(c->live.mode), c->failed_over ? " (failed over)" : "",
         pv_disk(c)[0] ? pv_disk(c) : "none");
    return 0;
}

/* A table swap of the PV leg device run to its end on this thread: only
 * while no table of the guest's is over it (nothing routed to it, nothing
 * to drain), so unbounded. */
static int reset_pv_leg(struct dmctl *c, struct rtv_err *err)
{
    const struct shunt_dm_ops *dm = c->cfg.dm;
    struct rtv_dm_leg none = { .sectors = c->cfg.sectors };
    int rc;

    if ((rc = dm->leg_load(c->cfg.dm_ctx, c->pvname, &none, err)) < 0 ||
        (rc = dm->suspend(c->cfg.dm_ctx, c->pvname, err)) < 0 ||
        (rc = dm->resume(c->cfg.dm_ctx, c->pvname, err)) < 0)
        return rc;
    c->pvleg = none;
    return 0;
}

/* The PV leg device: created (error: no PV disk) or picked up where it is.
 * Left suspended (a shunt killed in one of its swaps), its loaded table is
 * dropped and it is resumed on its live one: that swap is undone, and the
 * switch is followed afresh from there.  outer_exists: a guest's table may
 * be over it; if none is, a disk it still maps is dropped now. */
static int open_pv_leg(struct dmctl *c, bool outer_exists, struct rtv_err *err)
{
    const struct shunt_dm_ops *dm = c->cfg.dm;
    struct shunt_dm_info di;
    struct rtv_err e2 = { 0, "" };
    int rc;

    if ((rc = dm->info(c->cfg.dm_ctx, c->pvname, &di, err)) < 0)
        return rc;
    if (!di.exists) {
        c->pvleg = (struct rtv_dm_leg){ .sectors = c->cfg.sectors };
        if ((rc = dm->leg_create(c->cfg.dm_ctx, c->pvname, &c->pvleg, err)) < 0 ||
            (rc = dm->info(c->cfg.dm_ctx, c->pvname, &di, err)) < 0)
            return rc;
        info(c, "created %s (error: no PV disk yet)", c->pvname);
    } else {
        if (!di.live_table)
            return rtv_err_set(err, EEXIST, "%s exists without a table: remove it "
                               "(dmsetup remove %s)", c->pvname, c->pvname);
        if (di.inactive_table && dm->clear(c->cfg.dm_ctx, c->pvname, &e2) < 0)
            warn(c, "%s", e2.msg);
        if (di.suspended) {
            if ((rc = dm->resume(c->cfg.dm_ctx, c->pvname, err)) < 0)
                return rc;
            warn(c, "%s was left suspended (a shunt died in its table swap): resumed on its "
                 "live table", c->pvname);
        }
        if ((rc = dm->leg_table(c->cfg.dm_ctx, c->pvname, &c->pvleg, err)) < 0)
            return rc;
        if (c->pvleg.sectors != c->cfg.sectors)
            return rtv_err_set(err, EEXIST, "%s exists with %llu sectors, the emulated disk "
                               "has %llu", c->pvname, (unsigned long long)c->pvleg.sectors,
                               (unsigned long long)c->cfg.sectors);
        if (!outer_exists && c->pvleg.disk[0]) {
            info(c, "%s still maps %s with no device over it: dropped", c->pvname,
                 c->pvleg.disk);
            if ((rc = reset_pv_leg(c, err)) < 0)
                return rc;
        }
    }
    if ((rc = rtv_dm_devnum(c->pvdev, sizeof(c->pvdev), di.major, di.minor)) < 0)
        return rtv_err_set(err, -rc, "device number of %s", c->pvname);
    return 0;
}

static int open_device(struct dmctl *c, struct rtv_err *err)
{
    struct shunt_dm_info di;
    int rc;

    if ((rc = c->cfg.dm->info(c->cfg.dm_ctx, c->name, &di, err)) < 0)
        return rc;
    if ((rc = open_pv_leg(c, di.exists, err)) < 0)
        return rc;
    if (di.exists && di.live_table) {
        if ((rc = pick_up(c, &di, err)) < 0)
            return rc;
    } else {
        if (di.exists)
            return rtv_err_set(err, EEXIST, "%s exists without a table: remove it "
                               "(dmsetup remove %s)", c->name, c->name);
        /* Always emulated first: a mode that uses PV is reached through a
         * switch, with its device-model gate (dom0's nodes are followed
         * right after).  The PV leg is the PV leg device from the first
         * table on. */
        c->live = (struct rtv_dm_table){ .mode = RTV_MODE_EMULATED, .sectors = c->cfg.sectors };
        snprintf(c->live.emu, sizeof(c->live.emu), "%s", c->cfg.emu_dev);
        snprintf(c->live.pv, sizeof(c->live.pv), "%s", c->pvdev);
        if ((rc = c->cfg.dm->create(c->cfg.dm_ctx, c->name, &c->live, err)) < 0)
            return rc;
        info(c, "created %s over %s (%llu sectors), emulated", c->name, c->cfg.emu_dev,
             (unsigned long long)c->cfg.sectors);
        if ((rc = c->cfg.dm->info(c->cfg.dm_ctx, c->name, &di, err)) < 0)
            return rc;
    }
    c->ev_nr = di.event_nr;
    return 0;
}

struct dmctl *dmctl_new(const struct dmctl_config *cfg, struct rtv_err *err)
{
    struct dmctl *c = calloc(1, sizeof(*c));
    struct rtv_err e2 = { 0, "" };
    int rc;

    if (c == NULL) {
        rtv_err_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    c->cfg = *cfg;
    if (cfg->lbs == 0) {
        rtv_err_set(err, EINVAL, "the emulated disk's logical block size is not known");
        free(c);
        return NULL;
    }
    if (c->cfg.attach_poll_ms == 0)
        c->cfg.attach_poll_ms = 50;
    c->sus_pipe[0] = c->sus_pipe[1] = c->ev_pipe[0] = c->ev_pipe[1] = -1;
    c->fl_pipe[0] = c->fl_pipe[1] = -1;
    atomic_init(&c->ev_stop, false);
    if (rtv_dm_name(c->name, sizeof(c->name), cfg->vdev, err) < 0 ||
        rtv_dm_pv_name(c->pvname, sizeof(c->pvname), cfg->vdev, err) < 0)
        goto fail;
    if (pipe2(c->sus_pipe, O_CLOEXEC) < 0 || pipe2(c->ev_pipe, O_CLOEXEC) < 0 ||
        pipe2(c->fl_pipe, O_CLOEXEC) < 0) {
        rtv_err_set(err, errno, "pipe: %s", strerror(errno));
        goto fail;
    }
    if ((rc = cfg->open_xen(cfg->open_ctx, RTV_XEN_STORE, &c->x, err)) < 0)
        goto fail;
    c->nodes = (struct shunt_nodes){ .xs = c->x.xs, .dom = c->x.self, .vdev = cfg->vdev,
                                     .warn = nodes_warn, .warn_arg = c };
    if (open_device(c, err) < 0)
        goto fail_xen;
    if (shunt_nodes_ctl_dir(&c->nodes, c->ctl_dir, sizeof(c->ctl_dir)) < 0 ||
        (rc = rtv_xs_watch(c->x.xs, c->ctl_dir, TOKEN)) < 0) {
        rtv_err_set(err, EINVAL, "cannot watch the control nodes of %s", cfg->vdev);
        goto fail_xen;
    }
    struct shunt_report r = { .state = idle_state(c),
                              .error = c->failed_over ? c->fo_why : "" };
    if (cfg->emu_name) {
        if (rtv_xs_check_value(RTV_XS_SHUNT_EMULATED_DEV, cfg->emu_name, &e2) == 0)
            r.emulated_dev = c->emu_report = cfg->emu_name;
        else
            warn(c, "not reporting emulated-dev: %s", e2.msg);
    }
    if ((rc = report(c, &r)) < 0) {
        rtv_err_set(err, -rc, "cannot write the report area (is the device managed, and "
                    "is it ours to write?): %s", strerror(-rc));
        goto fail_watch;
    }
    if ((rc = pthread_create(&c->ev_th, NULL, event_main, c)) != 0) {
        rtv_err_set(err, rc, "cannot start the dm event thread: %s", strerror(rc));
        goto fail_watch;
    }
    c->ev_running = true;
    c->dirty = true;
    return c;

fail_watch:
    rtv_xs_unwatch(c->x.xs, c->ctl_dir, TOKEN);
fail_xen:
    rtv_xen_close(&c->x);
fail:
    for (unsigned i = 0; i < 2; i++) {
        if (c->sus_pipe[i] >= 0)
            close(c->sus_pipe[i]);
        if (c->ev_pipe[i] >= 0)
            close(c->ev_pipe[i]);
        if (c->fl_pipe[i] >= 0)
            close(c->fl_pipe[i]);
    }
    free(c);
    return NULL;
}

/* ---- the loop ----------------------------------------------------------------- */

static uint64_t next_due(const struct dmctl *c)
{
    uint64_t due = c->last_resync_us + RESYNC_US;

    if (c->dirty)
        return 0;
    if (c->phase == DMC_UNDOING)
        return rtv_now_us() + 20000u;   /* the interrupt is repeated until it lands */
    if (c->phase != DMC_IDLE && c->sw_deadline_us < due)
        due = c->sw_deadline_us;
    if ((c->phase == DMC_ATTACHING || c->phase == DMC_PREPARING ||
         c->phase == DMC_SETTLING || (c->phase == DMC_FLUSHING && !c->fl_this_switch)) &&
        c->sw_next_poll_us < due)
        due = c->sw_next_poll_us;
    return due;
}

static void tick(struct dmctl *c)
{
    uint64_t now = rtv_now_us();
    char why[sizeof(c->sw_error)];

    if (c->phase == DMC_UNDOING && c->stuck && !c->sus_running) {
        /* A swap's resume failed, and so did the old table's: again. */
        if (resume_old(c) == 0)
            swap_failed(c, c->sw_error);
        return;
    }
    /* Our own bound on each step of the switch. */
    if (now >= c->sw_deadline_us) {
        switch (c->phase) {
        case DMC_ATTACHING:
            if (c->attach_wait[0])
                snprintf(why, sizeof(why), "the PV disk %s of vbd %u could not be opened "
                         "within %u ms: %s", c->sw_disk.name, c->sw_devid, c->sw_timeout_ms,
                         c->attach_wait);
            else
                snprintf(why, sizeof(why), "the PV disk of vbd %u did not appear within %u "
                         "ms (xen-blkfront not loaded, or the twin not connected)",
                         c->sw_devid, c->sw_timeout_ms);
            fail_switch(c, why);
            return;
        case DMC_SWAPPING:
            snprintf(why, sizeof(why), "suspending %s to %s (draining the bios in flight "
                     "and flushing the legs) took longer than %u ms", swap_dev(c, c->swap),
                     swap_names[c->swap], c->sw_timeout_ms);
            if (c->swap == SWAP_DETACH_ABORT)   /* the switch's own reason stays */
                warn(c, "switch %u: %s", c->sw_id, why);
            else
                snprintf(c->sw_error, sizeof(c->sw_error), "%s", why);
            c->phase = DMC_UNDOING;
            break;
        case DMC_PREPARING:
            snprintf(why, sizeof(why), "preparing the flip (the target's flush of the legs "
                     "in force) took longer than %u ms", c->sw_timeout_ms);
            give_up_before_flip(c, why);
            break;
        case DMC_GATED:
            snprintf(why, sizeof(why), "waiting for dom0's device-model sync "
                     "(dm-synced-id %u) took longer than %u ms", c->sw_id, c->sw_timeout_ms);
            give_up_before_flip(c, why);
            break;
        case DMC_SETTLING:
            c->stall_us = now - c->flip_start_us;
            settled(c, false);
            break;
        case DMC_FLUSHING:
            snprintf(why, sizeof(why), "%s before the drop of the PV disk took longer "
                     "than %u ms", c->fl_this_switch ? "flushing the device" :
                     "waiting for the PV leg's writes", c->sw_timeout_ms);
            preflush_over(c, why);
            break;
        case DMC_UNDOING:
        case DMC_IDLE:
            break;
        }
    }
    if (c->phase == DMC_UNDOING && c->sus_running)
        c->cfg.dm->interrupt(c->cfg.dm_ctx, c->sus_th);
    if (c->phase == DMC_ATTACHING && now >= c->sw_next_poll_us)
        try_attach(c);
    if ((c->phase == DMC_PREPARING || c->phase == DMC_SETTLING) && now >= c->sw_next_poll_us)
        poll_flip(c);
    if (c->phase == DMC_FLUSHING && !c->fl_this_switch && now >= c->sw_next_poll_us)
        poll_preflush(c);
    if (c->dirty || now - c->last_resync_us >= RESYNC_US) {
        check_status(c);
        sync_ctl(c);
    }
    if (c->phase == DMC_IDLE && c->live.mode == c->sw_target && answered(c, c->sw_id))
        c->follow_tried_us = 0;
}

int dmctl_run_once(struct dmctl *c, int max_ms)
{
    struct pollfd pfd[4] = {
        { .fd = rtv_xs_watch_fd(c->x.xs), .events = POLLIN },
        { .fd = c->sus_pipe[0], .events = POLLIN },
        { .fd = c->ev_pipe[0], .events = POLLIN },
        { .fd = c->fl_pipe[0], .events = POLLIN },
    };
    uint64_t due = next_due(c), now = rtv_now_us();
    int ms = max_ms;

    if (due <= now)
        ms = 0;
    else if ((due - now) / 1000u < (uint64_t)ms)
        ms = (int)((due - now + 999u) / 1000u);
    if (poll(pfd, 4, ms) < 0 && errno != EINTR)
        return -errno;
    if (pfd[0].revents & POLLIN) {
        char *path, *token;

        for (int i = 0; i < 256 && rtv_xs_read_watch(c->x.xs, &path, &token) == 0; i++) {
            if (strcmp(token, TOKEN) == 0)
                c->dirty = true;
            free(path);
            free(token);
        }
    }
    if (pfd[1].revents & POLLIN)
        suspend_done(c);
    if (pfd[3].revents & POLLIN)
        flush_done(c);
    if (pfd[2].revents & POLLIN) {
        char buf[64];

        while (read(c->ev_pipe[0], buf, sizeof(buf)) < 0 && errno == EINTR)
            ;
        check_status(c);
        /* The target raises one when prepared and when a flip's hold ends. */
        if (c->phase == DMC_PREPARING || c->phase == DMC_SETTLING)
            c->sw_next_poll_us = 0;
    }
    tick(c);
    return 0;
}

void dmctl_free(struct dmctl *c)
{
    if (c == NULL)
        return;
    /* Nothing may stay held by a control plane that is going away: an
     * attaching swap is backed out, a prepared switch given up (its PV leg
     * stays in the table: the next shunt drops it when it follows dom0), a
     * flip or a drop of the leg runs to its end. */
    for (int i = 0; i < 500 && c->phase != DMC_IDLE; i++) {
        struct pollfd p = { .fd = c->sus_pipe[0], .events = POLLIN };

        if (c->phase == DMC_SWAPPING && (c->swap == SWAP_ATTACH || c->swap == SWAP_RENEW))
            abort_current(c, "rtvirt-shunt is stopping");
        else if (c->phase == DMC_PREPARING || c->phase == DMC_GATED ||
                 c->phase == DMC_ATTACHING) {
            c->sw_attached = false;   /* no swap on the way out */
            abort_current(c, "rtvirt-shunt is stopping");
            continue;
        }
        if (c->phase == DMC_FLUSHING && !c->fl_this_switch) {
            /* no flush on the way out: the drop goes on as it used to */
            preflush_over(c, "rtvirt-shunt is stopping");
            continue;
        }
        if (c->phase == DMC_FLUSHING) {
            struct pollfd fp = { .fd = c->fl_pipe[0], .events = POLLIN };

            if (poll(&fp, 1, 20) > 0)
                flush_done(c);
            else if (rtv_now_us() >= c->sw_deadline_us)
                preflush_over(c, "rtvirt-shunt is stopping and the flush has not returned");
            continue;
        }
        if (c->phase == DMC_SETTLING) {
            if (rtv_now_us() >= c->sw_next_poll_us)
                poll_flip(c);
            if (c->phase == DMC_SETTLING) {
                poll(NULL, 0, 2);
                continue;
            }
        }
        if (c->phase == DMC_UNDOING && c->sus_running)
            c->cfg.dm->interrupt(c->cfg.dm_ctx, c->sus_th);
        if (c->phase == DMC_UNDOING && c->stuck && !c->sus_running)
            tick(c);
        if (c->sus_running && poll(&p, 1, 20) > 0)
            suspend_done(c);
    }
    if (c->ev_running) {
        atomic_store(&c->ev_stop, true);
        for (int i = 0; i < 100; i++) {
            struct timespec ts;

            c->cfg.dm->interrupt(c->cfg.dm_ctx, c->ev_th);
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 20000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            if (pthread_timedjoin_np(c->ev_th, NULL, &ts) == 0) {
                c->ev_running = false;
                break;
            }
        }
        if (c->ev_running)
            pthread_detach(c->ev_th);   /* stuck in the kernel; the exit ends it */
    }
    rtv_xs_unwatch(c->x.xs, c->ctl_dir, TOKEN);
    rtv_xen_close(&c->x);
    if (c->sus_running || c->fl_running)
        return;   /* a suspend or flush that never returns: leak rather than free under it */
    for (unsigned i = 0; i < 2; i++) {
        close(c->sus_pipe[i]);
        close(c->fl_pipe[i]);
        if (!c->ev_running)
            close(c->ev_pipe[i]);
    }
    if (!c->ev_running)
        free(c);
}

void dmctl_get_status(const struct dmctl *c, struct dmctl_status *st)
{
    memset(st, 0, sizeof(*st));
    st->mode = c->live.mode;
    st->failed_over = c->failed_over;
    st->switching = c->phase != DMC_IDLE;
    st->picked_up = c->picked_up;
    snprintf(st->pv_dev, sizeof(st->pv_dev), "%s", pv_disk(c));
    st->switches = c->switches;
    st->aborts = c->aborts;
    st->blackout_us = c->blackout_us;
}
