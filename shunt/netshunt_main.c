/*
 * rtvirt-netshunt: the guest side of the NIC switch (xenstore-schema
 * section 2b), the sibling of rtvirt-shunt for a NIC.  Run in the HVM guest
 * as root, next to the emulated NIC:
 *
 *   rtvirt-netshunt --emulated eth0 --nic 0 [--master team|bonding] [--name DEV]
 *                   [--keep-port-ipv6] [--rx-ring N] [-v]
 *
 * It puts the emulated NIC under a master in active-backup mode (the team
 * driver, team0, by default; or bonding, bond0: netshunt_sys.h), which the
 * applications use (give it the IP address),
 * and then follows dom0's rtvirt/vif/<nic>/ nodes: for a switch to pv it
 * finds netfront's netdev for device/vif/<pv-devid>, enslaves it as the
 * backup once its ring is connected (reporting connecting, then flushed), waits
 * for dom0's port-ready-id, makes it the active slave, announces the
 * address (gratuitous ARP) and acknowledges; back to emulated the same
 * towards the emulated NIC, then it releases the netfront slave before it
 * acknowledges, so dom0 tears the vif down under no bond.  Packets never
 * pass through this process: the master moves them in the kernel.
 *
 * Every wait is bounded by the switch's timeout-ms: past it the shunt
 * reports failed (dom0 then rolls back, and the shunt returns to the
 * previous leg).  A restarted shunt takes the master as it is and goes on
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

#include "netshunt.h"
#include "netshunt_ring.h"
#include "netshunt_sys.h"
#include "rtvirt/clock.h"
#include "rtvirt/devclass.h"
#include "rtvirt/mode.h"
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

static int loop(struct netshunt *n)
{
    char dir[PATH_LEN];
    int rc;

    rtv_devclass_parent(&rtv_devclass_vif, 0, n->self, dir, sizeof(dir));
    snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/%s", n->nic);
    if ((rc = rtv_xs_watch(n->xs, dir, "rtvirt-netshunt")) < 0) {
        fprintf(stderr, "rtvirt-netshunt: cannot watch %s: %s\n", dir, strerror(-rc));
        return 1;
    }
    while (!stop_asked) {
        bool done = netshunt_step(n);
        struct pollfd pfd = { .fd = rtv_xs_watch_fd(n->xs), .events = POLLIN };
        /* Waiting on the kernel (link, netfront) is polled; on dom0, watched. */
        poll(&pfd, 1, done ? 1000 : POLL_MS);
        char *p, *tok;
        while (rtv_xs_read_watch(n->xs, &p, &tok) == 0) {
            free(p);
            free(tok);
        }
    }
    rtv_xs_unwatch(n->xs, dir, "rtvirt-netshunt");
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: rtvirt-netshunt --emulated DEV --nic DEVID [--master team|bonding]\n"
        "                       [--name NAME] [--keep-port-ipv6] [--rx-ring N] [-v]\n"
        "\n"
        "Puts the emulated NIC DEV under a master NAME in active-backup mode with\n"
        "DEV's MAC (--master team, the default: team0 in activebackup mode; or\n"
        "bonding: bond0) and switches its active leg between DEV and the netfront\n"
        "NIC dom0 brings up, as dom0's rtvirt control nodes for the NIC say\n"
        "(xenstore: /local/domain/<self>/rtvirt/vif/DEVID).  Configure the IP\n"
        "address on the master.  Needs team and team_mode_activebackup (or\n"
        "bonding) and xen-netfront.  --bond NAME is --master bonding --name NAME.\n"
        "IPv6 is turned off on the netfront leg before it joins the master (it\n"
        "would send frames of its own with the NIC's MAC before it is active);\n"
        "--keep-port-ipv6 leaves it (the lab's A/B).  --rx-ring N cuts DEV's\n"
        "receive ring to at most N descriptors first (0, the default: left; the\n"
        "lab: 64): what it holds when the guest flips to PV is dropped.\n");
}

/* The NIC's carrier back after the reset a ring change is (bounded: 10 s;
 * a NIC still without it is the master's to wait for, as at any start). */
static void wait_carrier(const char *dev)
{
    char p[128], c = '0';

    snprintf(p, sizeof(p), "/sys/class/net/%s/carrier", dev);
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(p, "r");
        if (f != NULL) {
            c = (char)fgetc(f);
            fclose(f);
        }
        if (c == '1')
            return;
        usleep(20000);
    }
    fprintf(stderr, "rtvirt-netshunt: %s: no carrier 10 s after the ring change\n", dev);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "emulated", required_argument, NULL, 'e' },
        { "nic", required_argument, NULL, 'n' },
        { "master", required_argument, NULL, 'm' },
        { "name", required_argument, NULL, 'N' },
        { "bond", required_argument, NULL, 'b' },
        { "verbose", no_argument, NULL, 'v' },
        { "keep-port-ipv6", no_argument, NULL, 'K' },
        { "rx-ring", required_argument, NULL, 'R' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct netshunt n = { .now_us = rtv_now_us };
    const struct netshunt_master *m = &netshunt_masters[0];
    const char *kind = NULL;
    struct rtv_err err = { 0, "" };
    struct rtv_xs_args a;
    struct sigaction sa;
    struct rtv_xen x;
    unsigned rx_ring = 0, was;
    int c;

    while ((c = getopt_long(argc, argv, "e:n:b:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'e': n.emulated = optarg; break;
        case 'n': n.nic = optarg; break;
        case 'm': kind = optarg; break;
        case 'N': n.bond = optarg; break;
        case 'b': n.bond = optarg; kind = kind ? kind : "bonding"; break;
        case 'v': n.verbose = true; break;
        case 'K': n.keep_port_ipv6 = true; break;
        case 'R': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (end == optarg || *end != '\0' || v > 4096) {
                fprintf(stderr, "rtvirt-netshunt: --rx-ring %s: not a number in 0..4096\n",
                        optarg);
                usage(stderr);
                return 2;
            }
            rx_ring = (unsigned)v;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    for (m = netshunt_masters; kind && m->kind && strcmp(m->kind, kind) != 0; m++)
        ;
    if (m->kind == NULL) {
        fprintf(stderr, "rtvirt-netshunt: --master %s: not team or bonding\n", kind);
        usage(stderr);
        return 2;
    }
    n.ops = m->ops;
    if (n.bond == NULL)
        n.bond = m->default_name;
    if (n.emulated == NULL || n.nic == NULL || optind != argc ||
        rtv_devclass_args(&rtv_devclass_vif, 0, n.nic, &a, &err) < 0 ||
        rtv_xs_check_value(RTV_XS_VIF_SHUNT_BOND, n.bond, &err) < 0) {
        if (err.msg[0])
            fprintf(stderr, "rtvirt-netshunt: %s\n", err.msg);
        usage(stderr);
        return 2;
    }
    /* Before the NIC joins the master: the driver resets it for this. */
    if (netshunt_bound_rx_ring(n.emulated, rx_ring, &was, &err) < 0) {
        fprintf(stderr, "rtvirt-netshunt: %s (the ring stays as it is)\n", err.msg);
        err = (struct rtv_err){ 0, "" };
    } else if (was != 0) {
        fprintf(stderr, "rtvirt-netshunt: %s: receive ring %u -> at most %u descriptors\n",
                n.emulated, was, rx_ring);
        wait_carrier(n.emulated);
    }
    if (m->setup(n.bond, n.emulated, &err) < 0) {
        fprintf(stderr, "rtvirt-netshunt: %s\n", err.msg);
        return 1;
    }
    if (rtv_xen_open(&x, RTV_XEN_STORE, &err) < 0) {
        fprintf(stderr, "rtvirt-netshunt: %s\n", err.msg);
        return 1;
    }
    n.xs = x.xs;
    n.self = x.self;
    netshunt_start(&n);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    fprintf(stderr, "rtvirt-netshunt: %s (%s) over %s, following /local/domain/%u/rtvirt/vif/%s\n",
            n.bond, m->kind, n.emulated, (unsigned)n.self, n.nic);
    int rc = loop(&n);
    rtv_xen_close(&x);
    return rc;
}
