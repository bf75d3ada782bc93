/*
 * rtvirt-shunt's xenstore glue: follows the control nodes dom0 writes
 * (xenstore-schema/rtvirt-paths.md section 1: state, switch-id, previous,
 * devid, timeout-ms, dm-synced-id; the guest may only read them) and writes the guest's
 * report area (section 2: shunt-state, shunt-ack-id, shunt-error,
 * shunt-blackout-us, shunt-held, emulated-dev).
 *
 * Level-triggered, like blkback's frontend_changed: every watch event (and
 * a periodic resync, in case an event was merged away) re-reads the control
 * nodes and compares them with where the shunt is, so repeated or coalesced
 * events change nothing and a missed one is caught up:
 *
 *   state = M (stable)          be in M (a shunt that restarted, or a
 *                               rollback dom0 finished without us, catches up)
 *   state = switching-to-T, N   unless N is answered: connect PV if T needs
 *                               it (emulated I/O goes on; shunt-state =
 *                               connecting), then quiesce (shunt-state =
 *                               quiescing), drain and flush the old path
 *                               (shunt-state = flushed), wait for dom0's
 *                               dm-synced-id = N (qemu's side synced),
 *                               flip, report T and ack N
 *   state = rolling-back, N     abort what runs (or switch back) to
 *                               `previous`, report it and ack N
 *
 * What dom0 wrote is validated against the schema before use; a bad value
 * is logged and treated as absent.  Our own bound: a switch that has not
 * flipped by its timeout-ms is given up (held requests are replayed on the
 * old path), and shunt-error says which step took too long.
 *
 * shunt-ack-id is written last, in one transaction with shunt-state and the
 * numbers, so dom0 never sees an ack with a stale state.
 */
#include "shunt_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/clock.h"
#include "rtvirt/xs_schema.h"
#include "rtvirt/xs_util.h"
#include "shunt_nodes.h"

#define CTL_TOKEN "rtvirt-shunt"
#define RESYNC_US 500000u
#define DEFAULT_TIMEOUT_MS SHUNT_DEFAULT_TIMEOUT_MS

/* ---- store access (shunt_nodes.c) -------------------------------------------- */

struct report {
    const char *state;
    const char *error;       /* NULL: leave as is */
    bool        numbers;     /* blackout and held */
    uint64_t    blackout_us, held;
    bool        ack;
    uint32_t    ack_id;
    const char *emulated_dev;
};

static int report(struct shunt_ctl *c, struct report *r)
{
    const struct shunt_report sr = {
        .state = r->state, .error = r->error, .numbers = r->numbers,
        .blackout_us = r->blackout_us, .held_known = true, .held = r->held,
        .ack = r->ack, .ack_id = r->ack_id, .emulated_dev = r->emulated_dev,
    };
    int rc;

    rc = shunt_nodes_report(&c->nodes, &sr);
    if (rc < 0) {
        shunt_warn(c->sh, "cannot write the report (shunt-state %s): %s", r->state,
                   strerror(-rc));
        c->dirty = true;   /* try again on the next turn */
        return rc;
    }
    if (r->ack) {
        c->acked = r->ack_id;
        c->have_acked = true;
    }
    if (r->ack)
        shunt_log(c->sh, "reported %s, ack %u%s%s", r->state, r->ack_id,
                  r->error && r->error[0] ? ": " : "", r->error ? r->error : "");
    else
        shunt_log(c->sh, "reported %s", r->state);
    return 0;
}

/* The guest is in mode m as the answer to switch id. */
static void ack_mode(struct shunt_ctl *c, enum rtv_mode m, uint32_t id, const char *error,
                     bool numbers)
{
    struct report r = {
        .state = rtv_mode_shunt_state(m),
        .error = error ? error : "",
        .numbers = numbers,
        .blackout_us = c->sh->eng.blackout_us,
        .held = c->sh->eng.held_count,
        .ack = true,
        .ack_id = id,
    };

    if (report(c, &r) == 0)
        c->acked_mode = m;
}

static void report_progress(struct shunt_ctl *c, const char *state)
{
    struct report r = { .state = state };

    report(c, &r);
}

/* ---- switches ---------------------------------------------------------------- */

static void begin_quiesce(struct shunt_ctl *c)
{
    struct shunt *sh = c->sh;
    int rc;

    c->phase = CTL_QUIESCING;
    report_progress(c, "quiescing");
    rc = rtv_shunt_begin_switch(&sh->eng, c->sw_target, rtv_now_us());
    if (rc < 0) {
        /* Our own invariant (one switch at a time) broke: report, not crash. */
        c->phase = CTL_IDLE;
        snprintf(c->sw_error, sizeof(c->sw_error), "the routing engine refused the switch: %s",
                 strerror(-rc));
        ack_mode(c, sh->eng.mode, c->sw_id, c->sw_error, false);
    }
}

/* The switch ends where it started: report the old mode and the reason. */
static void fail_switch(struct shunt_ctl *c, const char *why)
{
    struct shunt *sh = c->sh;

    shunt_warn(sh, "switch %u to %s: %s", c->sw_id, rtv_mode_name(c->sw_target), why);
    c->phase = CTL_IDLE;
    c->connect_pending = false;
    sh->aborts++;
    ack_mode(c, sh->eng.mode, c->sw_id, why, false);
}

static void try_connect(struct shunt_ctl *c)
{
    struct shunt *sh = c->sh;
    uint64_t now = rtv_now_us();
    int left_ms = c->sw_deadline_us > now ? (int)((c->sw_deadline_us - now) / 1000) : 1;
    char why[300];
    int rc;

    if (shunt_pv_busy(&sh->pv)) {
        c->connect_pending = true;   /* a helper is finishing; retried in tick */
        return;
    }
    if (shunt_pv_connected(&sh->pv)) {
        /* Left over from a switch that was given up while it connected. */
        if (sh->pv.devid == c->sw_devid && !rtv_front_failed(sh->pv.f, NULL)) {
            c->connect_pending = false;
            begin_quiesce(c);
            return;
        }
        shunt_pv_start_close(&sh->pv);   /* wrong vbd: close, then connect */
        c->connect_pending = true;
        return;
    }
    c->connect_pending = false;
    rc = shunt_pv_start_connect(&sh->pv, c->sw_devid, left_ms > 0 ? left_ms : 1);
    if (rc < 0) {
        snprintf(why, sizeof(why), "cannot start connecting the PV frontend: %s",
                 strerror(-rc));
        fail_switch(c, why);
    }
}

static void start_switch(struct shunt_ctl *c, uint32_t id, enum rtv_mode target)
{
    struct shunt *sh = c->sh;
    uint32_t tmo = c->snap_timeout_ms ? c->snap_timeout_ms : DEFAULT_TIMEOUT_MS;

    c->sw_id = id;
    c->sw_target = target;
    c->sw_timeout_ms = tmo;
    c->sw_deadline_us = rtv_now_us() + (uint64_t)tmo * 1000u;
    c->sw_error[0] = '\0';
    shunt_log(sh, "switch %u: %s -> %s", id, rtv_mode_name(sh->eng.mode),
              rtv_mode_name(target));

    /* Connect unless a frontend to the vbd dom0 names is up already; one to
     * another vbd (left over) is replaced, unless the mode we are in uses it. */
    bool stale = shunt_pv_connected(&sh->pv) && c->snap_devid_ok &&
                 sh->pv.devid != c->snap_devid && !rtv_mode_needs_pv(sh->eng.mode);
    if (rtv_mode_needs_pv(target) && (!shunt_pv_connected(&sh->pv) || stale)) {
        c->sw_devid = c->snap_devid;
        if (!c->snap_devid_ok) {
            c->phase = CTL_CONNECTING;
            fail_switch(c, "node ctl-devid: absent or invalid; no PV device to connect to");
            return;
        }
        c->phase = CTL_CONNECTING;
        report_progress(c, "connecting");
        try_connect(c);
        return;
    }
    begin_quiesce(c);
}

/* dom0 moved on (rolled back, or a newer switch): give up what runs.  The
 * engine puts held requests back on the old path; the report follows from
 * the switched() callback or from the next sync. */
static void abort_current(struct shunt_ctl *c, const char *why)
{
    struct shunt *sh = c->sh;

    if (c->phase == CTL_CONNECTING) {
        c->phase = CTL_IDLE;
        c->connect_pending = false;
        sh->aborts++;
        shunt_log(sh, "switch %u abandoned while connecting: %s", c->sw_id, why);
        return;   /* a frontend that still connects is closed when it is up */
    }
    if (c->phase == CTL_QUIESCING) {
        snprintf(c->sw_error, sizeof(c->sw_error), "%s", why);
        rtv_shunt_abort_switch(&sh->eng, rtv_now_us());
    }
}

/* Step 7 of the protocol: flip once dom0 synced the device model for this
 * switch.  Called whenever the control nodes were read. */
static void maybe_open_gate(struct shunt_ctl *c)
{
    struct shunt *sh = c->sh;

    if (c->phase != CTL_QUIESCING || sh->eng.phase != RTV_SHUNT_GATED ||
        c->snap_dm_synced != c->sw_id)
        return;
    shunt_log(sh, "switch %u: dom0 synced the device model; flipping", c->sw_id);
    rtv_shunt_gate_open(&sh->eng, rtv_now_us());
}

/* At the gate, every store round trip is blackout: dm-synced-id alone,
 * read first, opens it (dom0 writes it only for a switch whose sync
 * succeeded, so the flip is safe); the consistent snapshot follows, with
 * the guest running, and if dom0 rolled the switch back meanwhile (its
 * bound passed just after the sync) it takes the guest back as for any
 * finished switch dom0 rolls back. */
static void peek_dm_synced(struct shunt_ctl *c)
{
    if (shunt_nodes_read_dm_synced(&c->nodes, &c->snap_dm_synced) == 0)
        maybe_open_gate(c);
}

void shunt_ctl_flushed(struct shunt_ctl *c)
{
    /* Inside the engine: only note it; shunt_ctl_tick() reports. */
    c->flushed_pending = true;
}

static void handle_switched(struct shunt_ctl *c)
{
    struct shunt *sh = c->sh;
    enum rtv_mode mode = sh->eng.mode;
    bool ok = c->switched_ok;

    c->switched_pending = false;
    if (c->phase != CTL_QUIESCING)
        return;   /* nothing of ours (cannot happen: one switch at a time) */
    c->phase = CTL_IDLE;
    if (ok) {
        sh->switches++;
        ack_mode(c, mode, c->sw_id, "", true);
    } else {
        sh->aborts++;
        ack_mode(c, mode, c->sw_id,
                 c->sw_error[0] ? c->sw_error : "flushing the old path failed; "
                                                "stayed on it", true);
    }
    shunt_log(sh, "switch %u %s: now %s, blackout %llu us (drain %llu, flush %llu, "
              "gate %llu), %llu held", c->sw_id, ok ? "done" : "given up",
              rtv_mode_name(mode), (unsigned long long)sh->eng.blackout_us,
              (unsigned long long)sh->eng.drain_us,
              (unsigned long long)sh->eng.flush_us,
              (unsigned long long)sh->eng.gate_us,
              (unsigned long long)sh->eng.held_count);
    c->dirty = true;   /* dom0 may have moved on meanwhile */
}

void shunt_ctl_switched(struct shunt_ctl *c, enum rtv_mode mode, bool ok)
{
    (void)mode;
    /* Called from inside the engine (maybe inside a completion): only note
     * it; shunt_ctl_tick() reports. */
    c->switched_pending = true;
    c->switched_ok = ok;
}

void shunt_ctl_pv_job_done(struct shunt_ctl *c, enum pv_helper_job job, int rc,
                           const char *msg)
{
    struct shunt *sh = c->sh;
    char why[400];

    if (job == PV_JOB_CLOSE) {
        if (rc < 0)
            shunt_warn(sh, "%s", msg);
        else
            shunt_log(sh, "PV frontend closed");
        return;
    }
    if (c->phase != CTL_CONNECTING || c->connect_pending)
        return;   /* abandoned meanwhile: tick closes the unused frontend */
    if (rc == -ETIMEDOUT) {
        /* The frontend had what was left of the switch's bound: it is that
         * bound that passed, worded as the tick words it. */
        snprintf(why, sizeof(why), "connecting the PV frontend to vbd %u took longer than "
                 "%u ms (%s)", c->sw_devid, c->sw_timeout_ms, msg && msg[0] ? msg : "");
        fail_switch(c, why);
        return;
    }
    if (rc < 0) {
        snprintf(why, sizeof(why), "cannot connect the PV frontend to vbd %u: %s",
                 c->sw_devid, msg && msg[0] ? msg : strerror(-rc));
        fail_switch(c, why);
        return;
    }
    shunt_log(sh, "PV frontend connected to vbd %u", c->sw_devid);
    begin_quiesce(c);
}

/* ---- following the control nodes --------------------------------------------- */

static void sync_ctl(struct shunt_ctl *c)
{
    struct shunt *sh = c->sh;
    struct shunt_ctl_snap snap;
    int rc;

    c->dirty = false;
    c->last_resync_us = rtv_now_us();
    if (c->phase == CTL_QUIESCING && sh->eng.phase == RTV_SHUNT_GATED)
        peek_dm_synced(c);
    rc = shunt_nodes_read(&c->nodes, &snap);
    if (rc < 0) {
        shunt_warn(sh, "cannot read the control nodes: %s", strerror(-rc));
        return;   /* the periodic resync tries again */
    }
    if (!snap.managed)
        return;   /* not managed (yet): stay where we are */
    uint32_t id = snap.id;
    enum rtv_mode m = snap.mode, prev = snap.previous;
    bool switching = snap.switching, rollback = snap.rollback;
    c->snap_devid_ok = snap.devid_ok;
    c->snap_devid = snap.devid;
    c->snap_timeout_ms = snap.timeout_ms;
    c->snap_dm_synced = snap.dm_synced;

    if (rollback) {
        if (c->phase != CTL_IDLE) {
            if (c->sw_id == id && c->sw_target == prev) {
                maybe_open_gate(c);   /* already going back */
                return;
            }
            abort_current(c, "dom0 rolled the switch back");
            if (c->phase != CTL_IDLE)
                return;   /* the engine reports when it is back */
        }
        if (sh->eng.mode != prev) {
            start_switch(c, id, prev);
        } else if (!c->have_acked || c->acked != id || c->acked_mode != prev) {
            ack_mode(c, prev, id, "rolled back at dom0's request", false);
        }
        return;
    }
    if (switching) {
        if (c->phase != CTL_IDLE) {
            if (c->sw_id == id && c->sw_target == m) {
                maybe_open_gate(c);   /* this switch, seen again */
                return;
            }
            abort_current(c, "dom0 started another switch");
            if (c->phase != CTL_IDLE)
                return;
        }
        if (c->have_acked && c->acked == id)
            return;   /* answered (done or given up): dom0's turn */
        if (sh->eng.mode == m)
            ack_mode(c, m, id, "", false);
        else
            start_switch(c, id, m);
        return;
    }
    /* Stable. */
    if (c->phase != CTL_IDLE) {
        if (c->sw_id == id && c->sw_target == m) {
            maybe_open_gate(c);   /* following dom0's stable state */
            return;
        }
        abort_current(c, "dom0 ended the switch");
        if (c->phase != CTL_IDLE)
            return;
    }
    if (sh->eng.mode != m) {
        if (c->have_acked && c->acked == id && c->failed_adopt)
            return;   /* tried once for this id; wait for dom0 */
        shunt_warn(sh, "dom0 says %s, the shunt is %s: following dom0", rtv_mode_name(m),
                   rtv_mode_name(sh->eng.mode));
        c->failed_adopt = true;   /* cleared once a switch succeeds */
        start_switch(c, id, m);
    } else if (!c->have_acked || c->acked_mode != m) {
        ack_mode(c, m, id, NULL, false);
    }
}

static void nodes_warn(void *arg, const char *msg)
{
    shunt_warn(arg, "%s", msg);
}

/* ---- lifecycle and loop hooks --------------------------------------------------- */

int shunt_ctl_init(struct shunt_ctl *c, struct shunt *sh, struct rtv_err *err)
{
    char dir[256];
    struct rtv_xs_args a;
    struct rtv_err e2 = { 0, "" };
    int rc;

    memset(c, 0, sizeof(*c));
    c->sh = sh;
    rc = sh->cfg.open_xen(sh->cfg.open_ctx, RTV_XEN_STORE, &c->x, err);
    if (rc < 0)
        return rc;
    c->dom = c->x.self;
    c->nodes = (struct shunt_nodes){ .xs = c->x.xs, .dom = c->dom, .vdev = sh->cfg.vdev,
                                     .warn = nodes_warn, .warn_arg = sh };
    a = (struct rtv_xs_args){ .domid = c->dom, .vdev = sh->cfg.vdev };
    if ((rc = rtv_xs_dir(dir, sizeof(dir), RTV_XS_CTL_STATE, &a, err)) < 0)
        goto fail;
    snprintf(c->ctl_dir, sizeof(c->ctl_dir), "%s", dir);
    if ((rc = rtv_xs_watch(c->x.xs, c->ctl_dir, CTL_TOKEN)) < 0) {
        rtv_err_set(err, -rc, "cannot watch %s: %s", c->ctl_dir, strerror(-rc));
        goto fail;
    }

    struct report r = { .state = rtv_mode_shunt_state(sh->eng.mode), .error = "" };
    if (sh->cfg.emulated_name) {
        if (rtv_xs_check_value(RTV_XS_SHUNT_EMULATED_DEV, sh->cfg.emulated_name, &e2) == 0)
            r.emulated_dev = sh->cfg.emulated_name;
        else
            shunt_warn(sh, "not reporting emulated-dev: %s", e2.msg);
    }
    if ((rc = report(c, &r)) < 0) {
        rtv_err_set(err, -rc, "cannot write the report area (is the device managed, "
                    "and is it ours to write?): %s", strerror(-rc));
        rtv_xs_unwatch(c->x.xs, c->ctl_dir, CTL_TOKEN);
        goto fail;
    }
    c->dirty = true;
    return 0;

fail:
    rtv_xen_close(&c->x);
    return rc;
}

void shunt_ctl_fini(struct shunt_ctl *c)
{
    if (c->x.xs == NULL)
        return;
    rtv_xs_unwatch(c->x.xs, c->ctl_dir, CTL_TOKEN);
    rtv_xen_close(&c->x);
}

int shunt_ctl_watch_fd(const struct shunt_ctl *c)
{
    return rtv_xs_watch_fd(c->x.xs);
}

void shunt_ctl_on_watch(struct shunt_ctl *c)
{
    char *path, *token;

    for (int i = 0; i < 256 && rtv_xs_read_watch(c->x.xs, &path, &token) == 0; i++) {
        if (strcmp(token, CTL_TOKEN) == 0)
            c->dirty = true;
        free(path);
        free(token);
    }
}

uint64_t shunt_ctl_next_due(const struct shunt_ctl *c)
{
    uint64_t due = c->last_resync_us + RESYNC_US;

    if (c->dirty || c->switched_pending || c->flushed_pending)
        return 1;
    if (c->phase != CTL_IDLE && c->sw_deadline_us < due)
        due = c->sw_deadline_us;
    return due;
}

void shunt_ctl_tick(struct shunt_ctl *c)
{
    struct shunt *sh = c->sh;
    uint64_t now = rtv_now_us();
    char why[300];

    /* Our own bound on the switch. */
    if (c->phase != CTL_IDLE && now >= c->sw_deadline_us) {
        if (c->phase == CTL_CONNECTING) {
            snprintf(why, sizeof(why), "connecting the PV frontend to vbd %u took longer "
                     "than %u ms", c->sw_devid, c->sw_timeout_ms);
            fail_switch(c, why);
        } else {
            if (sh->eng.phase == RTV_SHUNT_GATED)
                snprintf(why, sizeof(why), "waiting for dom0's device-model sync "
                         "(dm-synced-id %u) took longer than %u ms (flushed, %llu "
                         "requests held)", c->sw_id, c->sw_timeout_ms,
                         (unsigned long long)sh->eng.held_count);
            else if (sh->eng.phase == RTV_SHUNT_FLUSHING)
                snprintf(why, sizeof(why), "flushing the old path took longer than %u ms "
                         "(drained, %llu requests held)", c->sw_timeout_ms,
                         (unsigned long long)sh->eng.held_count);
            else
                snprintf(why, sizeof(why), "draining the old path (%u requests in flight) "
                         "took longer than %u ms", rtv_shunt_inflight(&sh->eng),
                         c->sw_timeout_ms);
            abort_current(c, why);
        }
    }
    if (c->phase == CTL_CONNECTING && c->connect_pending && !shunt_pv_busy(&sh->pv))
        try_connect(c);
    if (c->switched_pending)
        handle_switched(c);
    if (c->flushed_pending) {
        c->flushed_pending = false;
        if (c->phase == CTL_QUIESCING && sh->eng.phase == RTV_SHUNT_GATED) {
            report_progress(c, "flushed");
            c->dirty = true;   /* dm-synced-id may be there already */
        }
    }
    if (c->dirty || now - c->last_resync_us >= RESYNC_US)
        sync_ctl(c);
    if (c->switched_pending)
        handle_switched(c);
    if (c->phase == CTL_IDLE && sh->eng.mode == c->sw_target && c->have_acked &&
        c->acked == c->sw_id)
        c->failed_adopt = false;

    /* A frontend nothing routes to any more is closed, only once the engine
     * left PV and drained (the ring is torn down after both ends reach
     * Closed: rtv_front_close does that handshake). */
    if (c->phase == CTL_IDLE && !rtv_mode_needs_pv(sh->eng.mode) &&
        shunt_pv_connected(&sh->pv) && !shunt_pv_busy(&sh->pv) && sh->pv.inflight == 0)
        shunt_pv_start_close(&sh->pv);
}
