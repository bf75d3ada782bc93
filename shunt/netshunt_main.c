/*
 * rtvirt-netshunt: the guest side of the NIC switch (xenstore-schema
 * section 2b), the sibling of rtvirt-shunt for a NIC.  Run in the HVM guest
 * as root, next to the emulated NIC:
 *
 *   rtvirt-netshunt --emulated eth0 --nic 0 [--bond bond0] [-v]
 *
 * It puts the emulated NIC under a bonding master in active-backup mode
 * (netshunt_sys.h), which the applications use (give it the IP address),
 * and then follows dom0's rtvirt/vif/<nic>/ nodes: for a switch to pv it
 * finds netfront's netdev for device/vif/<pv-devid>, enslaves it as the
 * backup once its ring is connected (reporting connecting, then flushed), waits
 * for dom0's port-ready-id, makes it the active slave, announces the
 * address (gratuitous ARP) and acknowledges; back to emulated the same
 * towards the emulated NIC, then it releases the netfront slave before it
 * acknowledges, so dom0 tears the vif down under no bond.  Packets never
 * pass through this process: bonding moves them in the kernel.
 *
 * Every wait is bounded by the switch's timeout-ms: past it the shunt
 * reports failed (dom0 then rolls back, and the shunt returns to the
 * previous leg).  A restarted shunt takes the bond as it is and goes on
 * from dom0's state.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netshunt_sys.h"
#include "rtvirt/devclass.h"
#include "rtvirt/switch_coord.h"
#include "rtvirt/xen_seam.h"
#include "rtvirt/xs_schema.h"
#include "rtvirt/xs_util.h"

#define PATH_LEN 256
#define POLL_MS  20

static volatile sig_atomic_t stop_asked;

static void on_signal(int sig)
{
    (void)sig;
    stop_asked = 1;
}

struct ns {
    struct rtv_xen x;
    const char    *nic, *emulated, *bond;
    bool           verbose;
    /* what dom0 says (one snapshot) */
    char           state[32], previous[16];
    uint32_t       switch_id, ready_id;
    bool           have_pv;
    unsigned       pvdevid;
    unsigned       timeout_ms;
    /* what we did */
    uint32_t       acked;          /* shunt-ack-id */
    char           reported[32];   /* shunt-state */
    uint32_t       working_id;     /* the switch the deadline is for */
    uint64_t       deadline;
    bool           failed;         /* reported failed for working_id */
    bool           loaded;         /* xen-netfront loaded (or tried) */
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

__attribute__((format(printf, 2, 3)))
static void say(const struct ns *n, const char *fmt, ...)
{
    va_list ap;
    if (!n->verbose)
        return;
    va_start(ap, fmt);
    fprintf(stderr, "rtvirt-netshunt: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static int path(const struct ns *n, enum rtv_role role, char *buf)
{
    return rtv_devclass_path(&rtv_devclass_vif, role, n->x.self, n->nic, buf, PATH_LEN, NULL);
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
    struct ns *n = arg;
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
    n->timeout_ms = read_u(xs, t, p, 600000, &v) ? (unsigned)v : RTV_COORD_DEFAULT_TIMEOUT_MS;
    return 0;
}

/* ---- our report ---------------------------------------------------------------- */

struct report {
    struct ns  *n;
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
static void report(struct ns *n, const char *state, bool ack, const char *error,
                   bool blackout, uint64_t us)
{
    struct report r = { n, state, error, ack, blackout, us };
    int rc;

    if (!ack && !error && strcmp(n->reported, state) == 0)
        return;
    if ((rc = rtv_xs_transact(n->x.xs, 0, report_txn, &r)) < 0) {
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
static int target_mode(const struct ns *n, enum rtv_mode *m)
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
static bool frontend_connected(const struct ns *n)
{
    struct rtv_xs_args a = { .domid = n->x.self, .devid = n->pvdevid };
    unsigned long long st;
    char p[PATH_LEN];

    return rtv_xs_path(p, sizeof(p), RTV_XS_VIF_FE_STATE, &a, NULL) == 0 &&
           rtv_xs_read_uint(n->x.xs, RTV_XS_NO_TXN, p, 7, &st) == 0 && st == 4;
}

static void fail(struct ns *n, const char *why)
{
    if (n->failed)
        return;
    n->failed = true;
    report(n, "failed", true, why, false, 0);
}

/* One step towards target for the running switch; never blocks.  Returns
 * true once the NIC runs in target and the switch is acknowledged. */
static bool advance(struct ns *n, enum rtv_mode target)
{
    struct rtv_err err = {0};
    char active[IFNAMSIZ] = "", pv[IFNAMSIZ] = "", msg[600];
    const char *want_state = rtv_mode_shunt_state(target);
    bool transient = strcmp(n->state, "rolling-back") == 0 ||
                     strncmp(n->state, "switching-to-", 13) == 0;

    if (n->working_id != n->switch_id) {
        n->working_id = n->switch_id;
        n->deadline = now_us() + (uint64_t)n->timeout_ms * 1000u;
        n->failed = false;
    }
    if (n->have_pv)
        netshunt_pv_netdev(n->pvdevid, pv);
    netshunt_active(n->bond, active);

    const char *to = target == RTV_MODE_PV ? pv : n->emulated;
    bool there = to[0] && strcmp(active, to) == 0;

    /* Already on the target leg (a rollback before the flip, a restarted
     * shunt): release what the other mode needs no more, and confirm. */
    if (there) {
        if (target == RTV_MODE_EMULATED && pv[0] && netshunt_release(n->bond, pv, &err) < 0)
            fprintf(stderr, "rtvirt-netshunt: %s\n", err.msg);
        if (n->acked != n->switch_id || strcmp(n->reported, want_state) != 0)
            report(n, want_state, true, NULL, false, 0);
        return true;
    }
    if (!transient)
        return false;   /* dom0 is stable elsewhere: nothing asked of us */
    if (n->failed)
        return false;   /* dom0 rolls back; we follow its state */
    if (now_us() > n->deadline) {
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
                if (netshunt_load_netfront(&err) < 0) {
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
        if (!netshunt_is_slave(n->bond, pv) && !frontend_connected(n)) {
            report(n, "connecting", false, NULL, false, 0);
            return false;
        }
        char bmac[18] = "", pmac[18] = "";
        netshunt_mac(n->bond, bmac);
        netshunt_mac(pv, pmac);
        if (!netshunt_is_slave(n->bond, pv) && strcmp(bmac, pmac) != 0) {
            snprintf(msg, sizeof(msg), "PV netdev %s has MAC %s, the bond %s has %s: "
                     "not the same NIC", pv, pmac, n->bond, bmac);
            fail(n, msg);
            return false;
        }
        if (netshunt_enslave(n->bond, pv, &err) < 0) {
            fail(n, err.msg);
            return false;
        }
    }
    if (!netshunt_slave_up(to))
        return false;   /* bonding's miimon has not seen its link yet */
    if (n->ready_id != n->switch_id) {
        report(n, "flushed", false, NULL, false, 0);
        return false;
    }

    /* Flip. */
    uint64_t t0 = now_us();
    if (netshunt_set_active(n->bond, to, &err) < 0) {
        fail(n, err.msg);
        return false;
    }
    for (int i = 0; i < 100; i++) {   /* bonding changes it under RTNL: ~at once */
        netshunt_active(n->bond, active);
        if (strcmp(active, to) == 0)
            break;
        usleep(1000);
    }
    uint64_t us = now_us() - t0;
    int sent = netshunt_announce(n->bond, &err);
    if (sent < 0)
        fprintf(stderr, "rtvirt-netshunt: announce: %s\n", err.msg);
    if (target == RTV_MODE_EMULATED && pv[0] && netshunt_release(n->bond, pv, &err) < 0)
        fprintf(stderr, "rtvirt-netshunt: %s\n", err.msg);
    say(n, "flip to %s in %llu us, %d gratuitous ARP", to, (unsigned long long)us, sent);
    report(n, want_state, true, NULL, true, us);
    return true;
}

static int loop(struct ns *n)
{
    char dir[PATH_LEN];
    int rc;

    rtv_devclass_parent(&rtv_devclass_vif, 0, n->x.self, dir, sizeof(dir));
    snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/%s", n->nic);
    if ((rc = rtv_xs_watch(n->x.xs, dir, "rtvirt-netshunt")) < 0) {
        fprintf(stderr, "rtvirt-netshunt: cannot watch %s: %s\n", dir, strerror(-rc));
        return 1;
    }
    while (!stop_asked) {
        enum rtv_mode target;
        bool done = true;

        if (rtv_xs_transact(n->x.xs, 0, snapshot_txn, n) == 0 && n->state[0] &&
            target_mode(n, &target) == 0)
            done = advance(n, target);
        struct pollfd pfd = { .fd = rtv_xs_watch_fd(n->x.xs), .events = POLLIN };
        /* Waiting on the kernel (link, netfront) is polled; on dom0, watched. */
        poll(&pfd, 1, done ? 1000 : POLL_MS);
        char *p, *tok;
        while (rtv_xs_read_watch(n->x.xs, &p, &tok) == 0) {
            free(p);
            free(tok);
        }
    }
    rtv_xs_unwatch(n->x.xs, dir, "rtvirt-netshunt");
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: rtvirt-netshunt --emulated DEV --nic DEVID [--bond NAME] [-v]\n"
        "\n"
        "Puts the emulated NIC DEV under the bonding master NAME (default bond0,\n"
        "active-backup, one MAC) and switches the bond's active slave between DEV and\n"
        "the netfront NIC dom0 brings up, as dom0's rtvirt control nodes for the NIC\n"
        "say (xenstore: /local/domain/<self>/rtvirt/vif/DEVID).  Configure the IP\n"
        "address on the bond.  Needs bonding and xen-netfront.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "emulated", required_argument, NULL, 'e' },
        { "nic", required_argument, NULL, 'n' },
        { "bond", required_argument, NULL, 'b' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct ns n = { .bond = "bond0" };
    struct rtv_err err = { 0, "" };
    struct rtv_xs_args a;
    struct sigaction sa;
    char p[PATH_LEN];
    int c;

    while ((c = getopt_long(argc, argv, "e:n:b:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'e': n.emulated = optarg; break;
        case 'n': n.nic = optarg; break;
        case 'b': n.bond = optarg; break;
        case 'v': n.verbose = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (n.emulated == NULL || n.nic == NULL || optind != argc ||
        rtv_devclass_args(&rtv_devclass_vif, 0, n.nic, &a, &err) < 0 ||
        rtv_xs_check_value(RTV_XS_VIF_SHUNT_BOND, n.bond, &err) < 0) {
        if (err.msg[0])
            fprintf(stderr, "rtvirt-netshunt: %s\n", err.msg);
        usage(stderr);
        return 2;
    }
    if (netshunt_bond_setup(n.bond, n.emulated, &err) < 0) {
        fprintf(stderr, "rtvirt-netshunt: %s\n", err.msg);
        return 1;
    }
    if (rtv_xen_open(&n.x, RTV_XEN_STORE, &err) < 0) {
        fprintf(stderr, "rtvirt-netshunt: %s\n", err.msg);
        return 1;
    }
    /* Where a previous incarnation got to. */
    unsigned long long v;
    if (path(&n, RTV_R_SHUNT_ACK_ID, p) == 0 &&
        rtv_xs_read_uint(n.x.xs, RTV_XS_NO_TXN, p, UINT32_MAX, &v) == 0)
        n.acked = (uint32_t)v;
    a.domid = n.x.self;
    if (rtv_xs_path(p, sizeof(p), RTV_XS_VIF_SHUNT_BOND, &a, &err) == 0)
        rtv_xs_printf(n.x.xs, RTV_XS_NO_TXN, p, "%s", n.bond);
    char active[IFNAMSIZ] = "";
    netshunt_active(n.bond, active);
    if (strcmp(active, n.emulated) == 0 && n.acked == 0) {
        n.switch_id = 0;
        report(&n, "emulating", false, NULL, false, 0);
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    fprintf(stderr, "rtvirt-netshunt: %s over %s (active %s), following "
            "/local/domain/%u/rtvirt/vif/%s\n", n.bond, n.emulated, active,
            (unsigned)n.x.self, n.nic);
    int rc = loop(&n);
    rtv_xen_close(&n.x);
    return rc;
}
