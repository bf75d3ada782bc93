/*
 * rtvirt-netshunt's protocol engine; see netshunt.h.  One snapshot of
 * dom0's nodes in, one step towards the mode they ask for out: every wait
 * is a return to the caller's loop, never a sleep here (but the flip's
 * millisecond confirm loop), so the unit test drives it step by step
 * against a fake of the kernel's parts.
 */
#include "netshunt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtvirt/clock.h"
#include "rtvirt/devclass.h"
#include "rtvirt/switch_fsm.h"
#include "rtvirt/xs_schema.h"
#include "rtvirt/xs_util.h"

#define PATH_LEN 256

/* Going back to the emulated leg, dom0's bridge goes on sending to the PV
 * port until the guest's first frame through the e1000 (the announcement
 * behind the flip) reaches it, and what it sent meanwhile is on its way
 * through netfront.  Both legs receive during the switch, so it is
 * delivered while the netfront slave stays enslaved: it is released once
 * nothing came in on it for QUIET_US, at most LINGER_US after the flip. */
#define QUIET_US  60000u
#define LINGER_US 1000000u


__attribute__((format(printf, 2, 3)))
static void say(const struct netshunt *n, const char *fmt, ...)
{
    va_list ap;
    if (!n->verbose)
        return;
    /* Wall-clock milliseconds: the lab lines the guest's steps up with
     * the receive gaps its stream checker records on the same clock. */
    va_start(ap, fmt);
    fprintf(stderr, "rtvirt-netshunt: @%llu ", (unsigned long long)rtv_wall_ms());
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static int path(const struct netshunt *n, enum rtv_role role, char *buf)
{
    return rtv_devclass_path(&rtv_devclass_vif, role, n->self, n->nic, buf, PATH_LEN, NULL);
}

/* ---- dom0's nodes, one snapshot ----------------------------------------------- */

static void read_str(struct rtv_store *xs, rtv_txn_t t, const char *p, char *buf, size_t len)
{
    char *v;
    size_t l;

    buf[0] = '\0';
    if (rtv_xs_read(xs, t, p, &v, &l) == 0) {
        snprintf(buf, len, "%s", v);
        free(v);
    }
}

static bool read_u(struct rtv_store *xs, rtv_txn_t t, const char *p, unsigned long long max,
                   unsigned long long *v)
{
    return rtv_xs_read_uint(xs, t, p, max, v) == 0;
}

static int snapshot_txn(struct rtv_store *xs, rtv_txn_t t, void *arg)
{
    struct netshunt *n = arg;
    char p[PATH_LEN];
    unsigned long long v;

    path(n, RTV_R_STATE, p);
    read_str(xs, t, p, n->state, sizeof(n->state));
    path(n, RTV_R_PREVIOUS, p);
    read_str(xs, t, p, n->previous, sizeof(n->previous));
    path(n, RTV_R_SWITCH_ID, p);
    n->switch_id = read_u(xs, t, p, UINT32_MAX, &v) ? (uint32_t)v : 0;
    path(n, RTV_R_GATE_ID, p);
    n->ready_id = read_u(xs, t, p, UINT32_MAX, &v) ? (uint32_t)v : 0;
    path(n, RTV_R_BACKEND_ID, p);
    n->have_pv = read_u(xs, t, p, 2147483647ull, &v);
    n->pvdevid = n->have_pv ? (unsigned)v : 0;
    path(n, RTV_R_TIMEOUT_MS, p);
    n->timeout_ms = read_u(xs, t, p, 600000, &v) ? (unsigned)v : RTV_FSM_DEFAULT_TIMEOUT_MS;
    return 0;
}

/* ---- our report ---------------------------------------------------------------- */

struct report {
    struct netshunt  *n;
    const char *state, *error;
    bool        ack;
    bool        blackout;
    uint64_t    blackout_us;
};

static int report_txn(struct rtv_store *xs, rtv_txn_t t, void *arg)
{
    struct report *r = arg;
    char p[PATH_LEN];
    int rc;

    if (r->error) {
        path(r->n, RTV_R_SHUNT_ERROR, p);
        if ((rc = rtv_xs_printf(xs, t, p, "%.1000s", r->error)) < 0)
            return rc;
    }
    if (r->blackout) {
        path(r->n, RTV_R_SHUNT_BLACKOUT_US, p);
        if ((rc = rtv_xs_printf(xs, t, p, "%llu", (unsigned long long)r->blackout_us)) < 0)
            return rc;
    }
    path(r->n, RTV_R_SHUNT_STATE, p);
    if ((rc = rtv_xs_printf(xs, t, p, "%s", r->state)) < 0)
        return rc;
    if (r->ack) {
        path(r->n, RTV_R_SHUNT_ACK_ID, p);
        rc = rtv_xs_printf(xs, t, p, "%u", r->n->switch_id);
    }
    return rc;
}

/* Writes shunt-state (with ack: shunt-ack-id = switch-id, in the same
 * transaction, so dom0 never pairs a new state with an old id). */
static void report(struct netshunt *n, const char *state, bool ack, const char *error,
                   bool blackout, uint64_t us)
{
    struct report r = { n, state, error, ack, blackout, us };
    int rc;

    if (!ack && !error && strcmp(n->reported, state) == 0)
        return;
    if ((rc = rtv_xs_transact(n->xs, 0, report_txn, &r)) < 0) {
        fprintf(stderr, "rtvirt-netshunt: cannot report %s: %s\n", state, strerror(-rc));
        return;
    }
    snprintf(n->reported, sizeof(n->reported), "%s", state);
    if (ack)
        n->acked = n->switch_id;
    say(n, "switch %u: %s%s%s", n->switch_id, state, error ? ": " : "", error ? error : "");
}

/* ---- the switch ------------------------------------------------------------------ */

/* Where dom0 wants the NIC: a mode, from state (and previous, rolling back). */
static int target_mode(const struct netshunt *n, enum rtv_mode *m)
{
    if (strncmp(n->state, "switching-to-", 13) == 0)
        return rtv_mode_parse(n->state + 13, m);
    if (strcmp(n->state, "rolling-back") == 0) {
        if (rtv_mode_parse(n->previous, m) < 0)
            *m = RTV_MODE_EMULATED;
        return 0;
    }
    return rtv_mode_parse(n->state, m);
}

/* device/vif/<pv-devid>/state is 4 (Connected). */
static bool frontend_connected(const struct netshunt *n)
{
    struct rtv_xs_args a = { .domid = n->self, .devid = n->pvdevid };
    unsigned long long st;
    char p[PATH_LEN];

    return rtv_xs_path(p, sizeof(p), RTV_XS_VIF_FE_STATE, &a, NULL) == 0 &&
           rtv_xs_read_uint(n->xs, RTV_XS_NO_TXN, p, 7, &st) == 0 && st == 4;
}

/* bonding's all_slaves_active, set once per change.  On from the moment
 * the new leg has link until dom0 settles the switch: a frame already on
 * its way to the leg the guest just left (in qemu's queue, in netback's, or
 * sent by the bridge before it learned the new port) is delivered instead
 * of dropped, so TCP loses nothing at the flip and no retransmission
 * timeout stretches the blackout.  Off again once dom0 settled, so that
 * in a stable mode the inactive leg carries nothing. */
static void both_receive(struct netshunt *n, bool on)
{
    struct rtv_err err = {0};

    if (n->both_rx == (int)on || n->ops->both_receive == NULL)
        return;
    n->both_rx = on;   /* tried once: a bond without the option only loses the overlap */
    if (n->ops->both_receive(n->ctx, n->bond, on, &err) < 0)
        fprintf(stderr, "rtvirt-netshunt: %s\n", err.msg);
    else
        say(n, "switch %u: %s", n->switch_id,
            on ? "both legs receive" : "the inactive leg drops again");
}

/* The PV leg being left got nothing for QUIET_US since the flip (or
 * LINGER_US passed since it). */
static void pv_leg_watch(struct netshunt *n, const char *pv)
{
    n->linger_since = n->quiet_since = n->now_us();
    if (n->ops->rx_packets(n->ctx, pv, &n->leg_rx) < 0)
        n->linger_since = 0;   /* no counter to watch: nothing to wait for */
}

static bool pv_leg_quiet(struct netshunt *n, const char *pv)
{
    uint64_t rx, now = n->now_us();

    if (n->linger_since == 0 || n->ops->rx_packets(n->ctx, pv, &rx) < 0)
        return true;
    if (rx != n->leg_rx) {
        n->leg_rx = rx;
        n->quiet_since = now;
    }
    return now - n->quiet_since >= QUIET_US || now - n->linger_since >= LINGER_US;
}

static void fail(struct netshunt *n, const char *why)
{
    if (n->failed)
        return;
    n->failed = true;
    report(n, "failed", true, why, false, 0);
}

/* One step towards target for the running switch; never blocks.  Returns
 * true once the NIC runs in target and the switch is acknowledged. */
static bool advance(struct netshunt *n, enum rtv_mode target)
{
    struct rtv_err err = {0};
    char active[IFNAMSIZ] = "", pv[IFNAMSIZ] = "", msg[600];
    const char *want_state = rtv_mode_shunt_state(target);
    bool transient = strcmp(n->state, "rolling-back") == 0 ||
                     strncmp(n->state, "switching-to-", 13) == 0;

    if (n->working_id != n->switch_id) {
        n->working_id = n->switch_id;
        n->deadline = n->now_us() + (uint64_t)n->timeout_ms * 1000u;
        n->failed = false;
        n->flipped = false;
        n->linger_since = 0;
    }
    if (n->have_pv)
        n->ops->pv_netdev(n->ctx, n->pvdevid, pv);
    n->ops->active(n->ctx, n->bond, active);

    const char *to = target == RTV_MODE_PV ? pv : n->emulated;
    bool there = to[0] && strcmp(active, to) == 0;

    /* On the target leg (flipped, a rollback before the flip, a restarted
     * shunt): release what the other mode needs no more, and confirm. */
    if (there) {
        if (target == RTV_MODE_EMULATED && pv[0] && n->ops->is_slave(n->ctx, n->bond, pv)) {
            /* Not flipped here (a rollback before the flip, a restart):
             * the bridge never sent to the PV port for this switch.  A
             * master without a both-legs window (team) drops what comes
             * in on the inactive leg anyway: nothing to wait for. */
            if (n->flipped && n->ops->both_receive != NULL && !pv_leg_quiet(n, pv))
                return false;
            if (n->ops->release(n->ctx, n->bond, pv, &err) < 0)
                fprintf(stderr, "rtvirt-netshunt: %s\n", err.msg);
            else
                say(n, "switch %u: %s released", n->switch_id, pv);
        }
        if (!transient)
            both_receive(n, false);
        if (n->acked != n->switch_id || strcmp(n->reported, want_state) != 0)
            report(n, want_state, true, NULL, n->flipped, n->flip_us);
        return true;
    }
    if (!transient) {
        both_receive(n, false);
        return false;   /* dom0 is stable elsewhere: nothing asked of us */
    }
    if (n->failed)
        return false;   /* dom0 rolls back; we follow its state */
    if (n->now_us() > n->deadline) {
        snprintf(msg, sizeof(msg), "switch %u to %s not done within %u ms (%s)",
                 n->switch_id, rtv_mode_name(target), n->timeout_ms,
                 target == RTV_MODE_PV && !pv[0] ? "no netfront netdev for the PV vif"
                 : "its leg never got link or port-ready-id");
        fail(n, msg);
        return false;
    }

    /* Connect: the target leg enslaved, with link. */
    if (target == RTV_MODE_PV) {
        if (!n->have_pv)
            return false;   /* dom0 has not written pv-devid yet */
        if (!pv[0]) {
            if (!n->loaded) {
                n->loaded = true;
                if (n->ops->load_netfront(n->ctx, &err) < 0) {
                    fail(n, err.msg);
                    return false;
                }
            }
            report(n, "connecting", false, NULL, false, 0);
            return false;
        }
        /* The ring connected (XenbusState Connected, 4): netfront's
         * carrier cannot tell, it reads -EINVAL while the netdev is down,
         * and it must be down to be enslaved (lab, 18:36). */
        if (!n->ops->is_slave(n->ctx, n->bond, pv) && !frontend_connected(n)) {
            report(n, "connecting", false, NULL, false, 0);
            return false;
        }
        char bmac[18] = "", pmac[18] = "";
        n->ops->mac(n->ctx, n->bond, bmac);
        n->ops->mac(n->ctx, pv, pmac);
        if (!n->ops->is_slave(n->ctx, n->bond, pv) && strcmp(bmac, pmac) != 0) {
            snprintf(msg, sizeof(msg), "PV netdev %s has MAC %s, the bond %s has %s: "
                     "not the same NIC", pv, pmac, n->bond, bmac);
            fail(n, msg);
            return false;
        }
        if (!n->keep_port_ipv6 && n->ops->quiet_port != NULL &&
            !n->ops->is_slave(n->ctx, n->bond, pv) &&
            n->ops->quiet_port(n->ctx, pv, &err) < 0) {
            /* Not fatal: the leg works, it may only mislead the bridge
             * before the flip (rtvirt-backd keeps its port from learning
             * until the gate). */
            fprintf(stderr, "rtvirt-netshunt: %s\n", err.msg);
            err = (struct rtv_err){0};
        }
        if (n->ops->enslave(n->ctx, n->bond, pv, &err) < 0) {
            fail(n, err.msg);
            return false;
        }
    }
    if (!n->ops->slave_up(n->ctx, to))
        return false;   /* the master has not seen its link yet (bonding's miimon) */
    both_receive(n, true);
    if (n->ready_id != n->switch_id) {
        report(n, "flushed", false, NULL, false, 0);
        return false;
    }

    /* Flip.  The write returns once the master changed the active leg
     * (under RTNL).  bonding moves the slaves' address filters over with
     * it (an emulated NIC rewrites its filter registers, every write a trap
     * to the device model); team swaps a pointer. */
    uint64_t t0 = n->now_us();
    if (n->ops->set_active(n->ctx, n->bond, to, &err) < 0) {
        fail(n, err.msg);
        return false;
    }
    uint64_t t_set = n->now_us() - t0;
    for (int i = 0; i < 100; i++) {   /* changed under RTNL: ~at once */
        n->ops->active(n->ctx, n->bond, active);
        if (strcmp(active, to) == 0)
            break;
        usleep(1000);
    }
    n->flip_us = n->now_us() - t0;
    n->flipped = true;
    int sent = n->ops->announce(n->ctx, n->bond, &err);
    if (sent < 0)
        fprintf(stderr, "rtvirt-netshunt: announce: %s\n", err.msg);
    say(n, "switch %u: flip to %s: active leg written in %llu us, active after %llu us, "
        "%d gratuitous ARP out after %llu us", n->switch_id, to, (unsigned long long)t_set,
        (unsigned long long)n->flip_us, sent, (unsigned long long)(n->now_us() - t0));
    if (target == RTV_MODE_EMULATED && pv[0]) {
        pv_leg_watch(n, pv);
        return false;   /* released, then acknowledged, once the PV leg is quiet */
    }
    report(n, want_state, true, NULL, true, n->flip_us);
    return true;
}


int netshunt_start(struct netshunt *n)
{
    struct rtv_xs_args a;
    char p[PATH_LEN], active[IFNAMSIZ] = "";
    unsigned long long v;

    /* Where a previous incarnation got to. */
    if (path(n, RTV_R_SHUNT_ACK_ID, p) == 0 &&
        rtv_xs_read_uint(n->xs, RTV_XS_NO_TXN, p, UINT32_MAX, &v) == 0)
        n->acked = (uint32_t)v;
    if (rtv_devclass_args(&rtv_devclass_vif, n->self, n->nic, &a, NULL) == 0 &&
        rtv_xs_path(p, sizeof(p), RTV_XS_VIF_SHUNT_BOND, &a, NULL) == 0)
        rtv_xs_printf(n->xs, RTV_XS_NO_TXN, p, "%s", n->bond);
    /* A killed incarnation may have left both legs receiving: the first
     * settled step turns that off. */
    n->both_rx = -1;
    n->ops->active(n->ctx, n->bond, active);
    if (strcmp(active, n->emulated) == 0 && n->acked == 0)
        report(n, "emulating", false, NULL, false, 0);
    return 0;
}

bool netshunt_step(struct netshunt *n)
{
    enum rtv_mode target;

    if (rtv_xs_transact(n->xs, 0, snapshot_txn, n) < 0 || n->state[0] == '\0' ||
        target_mode(n, &target) < 0)
        return true;
    return advance(n, target);
}
