/*
 * rtvirt-netshunt's engine (shunt/netshunt.c) over the local store, acting
 * as guest 5 against dom0's nodes written by the test, with a fake of the
 * kernel's parts: a bond with slaves, netfront netdevs by xenbus devid,
 * bonding's link view, MACs.  The protocol of xenstore-schema section 2b,
 * step by step: connecting until the ring is connected, enslaving, flushed
 * once bonding sees the link, no flip before port-ready-id, the flip and
 * its ack in one report, both legs receiving from link-up until dom0
 * settles, the netfront slave released before the ack going back and only
 * once nothing comes in on it, a bound passing (failed, with the reason), a
 * MAC that is not the bond's, and a rollback.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shunt/netshunt.h"
#include "rtvirt/ctl.h"
#include "rtvirt/local.h"
#include "rtvirt/xs_util.h"
#include "hub_fixture.h"
#include "unit.h"
#include "xs_fixture.h"

static struct rtv_local_hub *hub;
static struct rtv_xen dom0, guest;
static struct rtv_err err;
static struct netshunt n;
static uint64_t clock_us;

#define CTL "/local/domain/5/rtvirt/vif/0/"
#define REP "/local/domain/5/device/rtvirt/vif/0/"

/* ---- the fake kernel ------------------------------------------------------- */

static struct {
    char     slaves[4][IFNAMSIZ];
    unsigned nslaves;
    char     active[IFNAMSIZ];
    char     pv[IFNAMSIZ];        /* netfront's netdev for pv_devid, "" none */
    unsigned pv_devid;
    bool     pv_up;               /* bonding's miimon sees its link */
    char     pv_mac[18];
    int      loads, announces;
    int      both_rx;             /* all_slaves_active: -1 never written */
    uint64_t pv_rx;               /* netfront's rx_packets */
    char     log[512];            /* what was done, in order */
    char     ack_at_release[16];  /* shunt-ack-id when the PV slave left */
} k;

#define get(xs, path) rtv_test_get((xs), (path), NULL)

static void did(const char *what, const char *dev)
{
    size_t l = strlen(k.log);
    snprintf(k.log + l, sizeof(k.log) - l, "%s%s %s", l ? "; " : "", what, dev);
}

static int f_pv_netdev(void *c, unsigned devid, char name[IFNAMSIZ])
{
    (void)c;
    snprintf(name, IFNAMSIZ, "%s", devid == k.pv_devid ? k.pv : "");
    return name[0] ? 0 : -ENOENT;
}

static int f_load(void *c, struct rtv_err *e)
{
    (void)c;
    (void)e;
    k.loads++;
    return 0;
}

static bool f_is_slave(void *c, const char *bond, const char *dev)
{
    (void)c;
    (void)bond;
    for (unsigned i = 0; i < k.nslaves; i++)
        if (strcmp(k.slaves[i], dev) == 0)
            return true;
    return false;
}

static bool f_slave_up(void *c, const char *dev)
{
    return f_is_slave(c, "bond0", dev) && (strcmp(dev, "eth0") == 0 || k.pv_up);
}

static int f_enslave(void *c, const char *bond, const char *dev, struct rtv_err *e)
{
    (void)e;
    if (!f_is_slave(c, bond, dev)) {
        snprintf(k.slaves[k.nslaves++], IFNAMSIZ, "%s", dev);
        did("enslave", dev);
    }
    return 0;
}

static int f_release(void *c, const char *bond, const char *dev, struct rtv_err *e)
{
    (void)e;
    for (unsigned i = 0; i < k.nslaves; i++)
        if (strcmp(k.slaves[i], dev) == 0) {
            const char *ack = get(guest.xs, REP "shunt-ack-id");
            snprintf(k.ack_at_release, sizeof(k.ack_at_release), "%s", ack ? ack : "");
            k.slaves[i][0] = '\0';
            memmove(k.slaves[i], k.slaves[i + 1], (k.nslaves - i - 1) * IFNAMSIZ);
            k.nslaves--;
            did("release", dev);
        }
    (void)c;
    (void)bond;
    return 0;
}

static int f_active(void *c, const char *bond, char name[IFNAMSIZ])
{
    (void)c;
    (void)bond;
    snprintf(name, IFNAMSIZ, "%s", k.active);
    return 0;
}

static int f_set_active(void *c, const char *bond, const char *dev, struct rtv_err *e)
{
    (void)bond;
    if (!f_slave_up(c, dev))   /* bonding refuses a slave whose link is down */
        return rtv_err_set(e, EINVAL, "%s is down", dev);
    snprintf(k.active, sizeof(k.active), "%s", dev);
    did("active", dev);
    return 0;
}

static int f_mac(void *c, const char *dev, char mac[18])
{
    (void)c;
    snprintf(mac, 18, "%s", strcmp(dev, k.pv) == 0 ? k.pv_mac : "00:16:3e:00:00:01");
    return 0;
}

static int f_announce(void *c, const char *bond, struct rtv_err *e)
{
    (void)c;
    (void)bond;
    (void)e;
    k.announces++;
    return 1;
}

static int f_both_receive(void *c, const char *bond, bool on, struct rtv_err *e)
{
    (void)c;
    (void)bond;
    (void)e;
    k.both_rx = on;
    did(on ? "both-rx" : "one-rx", "bond0");
    return 0;
}

static int f_rx_packets(void *c, const char *dev, uint64_t *v)
{
    (void)c;
    *v = strcmp(dev, k.pv) == 0 ? k.pv_rx : 0;
    return 0;
}

static int f_quiet_port(void *c, const char *dev, struct rtv_err *e)
{
    (void)c;
    (void)e;
    did("quiet", dev);
    return 0;
}

static const struct netshunt_sys_ops fake = {
    .pv_netdev = f_pv_netdev, .load_netfront = f_load, .is_slave = f_is_slave,
    .slave_up = f_slave_up, .enslave = f_enslave, .release = f_release, .active = f_active,
    .set_active = f_set_active, .mac = f_mac, .announce = f_announce,
    .both_receive = f_both_receive, .rx_packets = f_rx_packets,
    .quiet_port = f_quiet_port,
};

static uint64_t fake_now(void)
{
    return clock_us;
}

/* ---- dom0's side ------------------------------------------------------------- */

#define put rtv_test_put

/* dom0 publishes a switch (state and switch-id) as the coordinator does. */
static void dom0_state(const char *state, const char *id)
{
    put(dom0.xs, CTL "state", state);
    put(dom0.xs, CTL "switch-id", id);
}

static const char *rep(const char *leaf)
{
    char p[128];
    snprintf(p, sizeof(p), REP "%s", leaf);
    return get(dom0.xs, p);
}

static void setup(void)
{

    memset(&k, 0, sizeof(k));
    k.both_rx = -1;
    snprintf(k.slaves[0], IFNAMSIZ, "eth0");
    k.nslaves = 1;
    snprintf(k.active, sizeof(k.active), "eth0");
    snprintf(k.pv_mac, sizeof(k.pv_mac), "00:16:3e:00:00:01");
    clock_us = 1000000;
    hub = rtv_test_hub_dom0(&dom0);
    ck_assert_int_eq(rtv_local_open(hub, 5, RTV_XEN_STORE, &guest), 0);
    rtv_test_make_domain(dom0.xs, 5, "guest1");
    ck_assert_int_eq(rtv_ctl_manage_vif(dom0.xs, 5, "vif/0", "00:16:3e:00:00:01", "xenbr0",
                                        &err), 0);
    memset(&n, 0, sizeof(n));
    n.xs = guest.xs;
    n.self = 5;
    n.nic = "0";
    n.emulated = "eth0";
    n.bond = "bond0";
    n.ops = &fake;
    n.now_us = fake_now;
    ck_assert_int_eq(netshunt_start(&n), 0);
    k.log[0] = '\0';
}

static void teardown(void)
{
    rtv_xen_close(&guest);
    rtv_xen_close(&dom0);
    rtv_local_hub_free(hub);
}

/* The PV vif devid 16 exists for the guest with its ring in state st. */
static void netfront(const char *dev, const char *st)
{
    snprintf(k.pv, sizeof(k.pv), "%s", dev);
    k.pv_devid = 16;
    put(guest.xs, "/local/domain/5/device/vif/16/state", st);
}

/* emulated -> pv, all the way, as switch id. */
static void to_pv(const char *id)
{
    put(dom0.xs, CTL "pv-devid", "16");
    dom0_state("switching-to-pv", id);
    ck_assert(!netshunt_step(&n));
    ck_assert_str_eq(rep("shunt-state"), "connecting");
    netfront("eth2", "4");
    ck_assert(!netshunt_step(&n));
    ck_assert(f_is_slave(NULL, "bond0", "eth2"));
    ck_assert_str_eq(k.active, "eth0");            /* a backup, not active */
    ck_assert_int_ne(k.both_rx, 1);                /* not before the new leg has link */
    k.pv_up = true;
    ck_assert(!netshunt_step(&n));
    ck_assert_str_eq(rep("shunt-state"), "flushed");
    ck_assert_int_eq(k.both_rx, n.ops->both_receive ? 1 : -1);   /* -1: a master without */
    put(dom0.xs, CTL "port-ready-id", id);
    ck_assert(netshunt_step(&n));
    ck_assert_str_eq(k.active, "eth2");
    ck_assert_str_eq(rep("shunt-state"), "enlightened");
    ck_assert_str_eq(rep("shunt-ack-id"), id);
}

START_TEST(starts_emulating)
{
    ck_assert_str_eq(rep("shunt-state"), "emulating");
    ck_assert_str_eq(rep("bond"), "bond0");
    ck_assert_ptr_null(rep("shunt-ack-id"));
    ck_assert(netshunt_step(&n));                 /* stable emulated: */
    ck_assert_str_eq(k.log, "one-rx bond0");      /* whatever a killed one left, off */
    ck_assert(netshunt_step(&n));
    ck_assert_str_eq(k.log, "one-rx bond0");      /* and nothing more */
}
END_TEST

START_TEST(switch_to_pv_and_back)
{
    put(dom0.xs, CTL "pv-devid", "16");
    dom0_state("switching-to-pv", "1");
    ck_assert(!netshunt_step(&n));
    ck_assert_int_eq(k.loads, 1);                 /* no netdev yet: load netfront, once */
    ck_assert(!netshunt_step(&n));
    ck_assert_int_eq(k.loads, 1);
    ck_assert_str_eq(rep("shunt-state"), "connecting");
    netfront("eth2", "3");                         /* there, ring not connected */
    ck_assert(!netshunt_step(&n));
    ck_assert(!f_is_slave(NULL, "bond0", "eth2"));
    ck_assert_str_eq(rep("shunt-state"), "connecting");
    to_pv("1");
    ck_assert_int_eq(k.announces, 1);
    ck_assert_ptr_nonnull(rep("shunt-blackout-us"));

    ck_assert_int_eq(k.both_rx, 1);                /* until dom0 settles */

    /* dom0 says pv: settled; the inactive e1000 drops again */
    dom0_state("pv", "1");
    ck_assert(netshunt_step(&n));
    ck_assert_int_eq(k.both_rx, 0);

    /* Back: the flip first; the netfront slave stays (receiving) while
     * frames still come in on it, then it is released before the ack. */
    dom0_state("switching-to-emulated", "2");
    put(dom0.xs, CTL "port-ready-id", "2");
    ck_assert(!netshunt_step(&n));
    ck_assert_str_eq(k.active, "eth0");
    ck_assert_int_eq(k.both_rx, 1);
    for (int i = 0; i < 5; i++) {                  /* frames keep coming: 100 ms */
        k.pv_rx += 3;
        clock_us += 20000;
        ck_assert(!netshunt_step(&n));
        ck_assert(f_is_slave(NULL, "bond0", "eth2"));
    }
    ck_assert_str_eq(rep("shunt-ack-id"), "1");
    clock_us += 40000;                             /* quiet for 40 ms: not yet */
    ck_assert(!netshunt_step(&n));
    clock_us += 20000;                             /* 60 ms */
    ck_assert(netshunt_step(&n));
    ck_assert(!f_is_slave(NULL, "bond0", "eth2"));
    ck_assert_str_eq(k.ack_at_release, "1");
    ck_assert_str_eq(rep("shunt-state"), "emulating");
    ck_assert_str_eq(rep("shunt-ack-id"), "2");
    ck_assert_ptr_nonnull(rep("shunt-blackout-us"));
    dom0_state("emulated", "2");
    ck_assert(netshunt_step(&n));
    ck_assert_int_eq(k.both_rx, 0);
    ck_assert_str_eq(k.log, "quiet eth2; enslave eth2; both-rx bond0; active eth2; "
                     "one-rx bond0; both-rx bond0; active eth0; release eth2; one-rx bond0");
}
END_TEST

START_TEST(a_busy_pv_leg_is_released_at_the_linger_bound)
{
    to_pv("1");
    dom0_state("pv", "1");
    ck_assert(netshunt_step(&n));
    dom0_state("switching-to-emulated", "2");
    put(dom0.xs, CTL "port-ready-id", "2");
    ck_assert(!netshunt_step(&n));                 /* flipped */
    for (int i = 0; i < 49; i++) {                 /* never quiet: 980 ms */
        k.pv_rx++;
        clock_us += 20000;
        ck_assert(!netshunt_step(&n));
    }
    ck_assert(f_is_slave(NULL, "bond0", "eth2"));
    k.pv_rx++;
    clock_us += 20000;                             /* 1 s after the flip */
    ck_assert(netshunt_step(&n));
    ck_assert(!f_is_slave(NULL, "bond0", "eth2"));
    ck_assert_str_eq(rep("shunt-ack-id"), "2");
}
END_TEST

START_TEST(no_flip_before_port_ready)
{
    put(dom0.xs, CTL "pv-devid", "16");
    netfront("eth2", "4");
    k.pv_up = true;
    dom0_state("switching-to-pv", "1");
    put(dom0.xs, CTL "port-ready-id", "0");
    for (int i = 0; i < 5; i++)
        ck_assert(!netshunt_step(&n));
    ck_assert_str_eq(k.active, "eth0");
    ck_assert_str_eq(rep("shunt-state"), "flushed");
    ck_assert_ptr_null(rep("shunt-ack-id"));
}
END_TEST

START_TEST(bound_passes_then_rollback)
{
    put(dom0.xs, CTL "pv-devid", "16");
    put(dom0.xs, CTL "timeout-ms", "2000");
    dom0_state("switching-to-pv", "1");
    ck_assert(!netshunt_step(&n));
    clock_us += 1999000;
    ck_assert(!netshunt_step(&n));
    ck_assert_str_eq(rep("shunt-state"), "connecting");
    clock_us += 2000;
    ck_assert(!netshunt_step(&n));
    ck_assert_str_eq(rep("shunt-state"), "failed");
    ck_assert_str_eq(rep("shunt-ack-id"), "1");
    ck_assert_str_eq(rep("shunt-error"),
                     "switch 1 to pv not done within 2000 ms (no netfront netdev for the PV vif)");
    /* dom0 rolls back to the previous mode: the shunt confirms it. */
    put(dom0.xs, CTL "previous", "emulated");
    dom0_state("rolling-back", "1");
    ck_assert(netshunt_step(&n));
    ck_assert_str_eq(rep("shunt-state"), "emulating");
    ck_assert_str_eq(rep("shunt-ack-id"), "1");
    ck_assert_str_eq(k.active, "eth0");
}
END_TEST

START_TEST(rollback_after_enslaving_releases)
{
    put(dom0.xs, CTL "pv-devid", "16");
    netfront("eth2", "4");
    dom0_state("switching-to-pv", "1");
    ck_assert(!netshunt_step(&n));
    ck_assert(f_is_slave(NULL, "bond0", "eth2"));
    put(dom0.xs, CTL "previous", "emulated");
    dom0_state("rolling-back", "1");
    ck_assert(netshunt_step(&n));
    ck_assert(!f_is_slave(NULL, "bond0", "eth2"));
    ck_assert_str_eq(rep("shunt-state"), "emulating");
    ck_assert_str_eq(rep("shunt-ack-id"), "1");
}
END_TEST

START_TEST(a_foreign_mac_is_refused)
{
    put(dom0.xs, CTL "pv-devid", "16");
    netfront("eth2", "4");
    snprintf(k.pv_mac, sizeof(k.pv_mac), "00:16:3e:99:99:99");
    dom0_state("switching-to-pv", "1");
    ck_assert(!netshunt_step(&n));
    ck_assert(!f_is_slave(NULL, "bond0", "eth2"));
    ck_assert_str_eq(rep("shunt-state"), "failed");
    ck_assert_contains(rep("shunt-error"), "not the same NIC");
}
END_TEST

START_TEST(restart_picks_up_its_ack)
{
    to_pv("1");
    dom0_state("pv", "1");
    struct netshunt again = n;
    memset(&again.state, 0, sizeof(again) - offsetof(struct netshunt, state));
    k.both_rx = 1;                                  /* as the killed one left it */
    ck_assert_int_eq(netshunt_start(&again), 0);
    ck_assert_uint_eq(again.acked, 1);
    ck_assert(netshunt_step(&again));              /* on pv already: nothing to do */
    ck_assert_str_eq(rep("shunt-state"), "enlightened");
    ck_assert_int_eq(k.both_rx, 0);                /* but the e1000 drops again */
}
END_TEST

/* A master without a both-legs window (team: what reaches the inactive
 * port is not delivered): the flip and the release need no window, and
 * going back the netfront leg is released at the flip, not after a
 * linger, since nothing it receives would be delivered anyway. */
START_TEST(team_has_no_both_legs_window)
{
    static struct netshunt_sys_ops team;

    team = fake;
    team.both_receive = NULL;
    n.ops = &team;
    to_pv("1");
    ck_assert_int_eq(k.both_rx, -1);               /* never asked */
    dom0_state("pv", "1");
    ck_assert(netshunt_step(&n));
    dom0_state("switching-to-emulated", "2");
    put(dom0.xs, CTL "port-ready-id", "2");
    k.pv_rx += 3;                                  /* frames still coming: no matter */
    ck_assert(!netshunt_step(&n));                 /* flipped */
    ck_assert_str_eq(k.active, "eth0");
    ck_assert(netshunt_step(&n));                  /* released, acked, no clock moved */
    ck_assert(!f_is_slave(NULL, "bond0", "eth2"));
    ck_assert_str_eq(k.ack_at_release, "1");
    ck_assert_str_eq(rep("shunt-ack-id"), "2");
    ck_assert_str_eq(rep("shunt-state"), "emulating");
    ck_assert_int_eq(k.both_rx, -1);
    ck_assert_str_eq(k.log, "quiet eth2; enslave eth2; active eth2; active eth0; release eth2");
}
END_TEST

/* --keep-port-ipv6 (the lab's A/B arm): the netfront leg joins as it is. */
START_TEST(keep_port_ipv6_leaves_the_leg_as_it_is)
{
    n.keep_port_ipv6 = true;
    to_pv("1");
    ck_assert_str_eq(k.active, "eth2");
    ck_assert_ptr_null(strstr(k.log, "quiet"));
    ck_assert_ptr_nonnull(strstr(k.log, "enslave eth2"));
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(netshunt_suite, "netshunt", "core", setup, teardown, 0,
                        starts_emulating, switch_to_pv_and_back,
                        a_busy_pv_leg_is_released_at_the_linger_bound, no_flip_before_port_ready,
                        bound_passes_then_rollback, rollback_after_enslaving_releases,
                        a_foreign_mac_is_refused, restart_picks_up_its_ack,
                        team_has_no_both_legs_window, keep_port_ipv6_leaves_the_leg_as_it_is)

RTV_UNIT_MAIN(netshunt_suite)
