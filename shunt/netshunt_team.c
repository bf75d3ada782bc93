/*
 * The team driver as rtvirt-netshunt's master (netshunt_sys.h): a team
 * netdev in activebackup mode over the emulated NIC and netfront, driven
 * over netlink with the messages of team_nl.c (no teamd).
 *
 * Why team and not bonding (shunt/README.md, "Why team"): team's
 * activebackup flip is its "activeport" option, whose setter only swaps
 * the active-port pointer (drivers/net/team/team_mode_activebackup.c); the
 * team's unicast and multicast lists are synced onto every port when it is
 * added (team_port_add: dev_uc_sync_multiple / dev_mc_sync_multiple), so a
 * flip does not touch any port's receive filters.  bonding moves them off
 * the old active slave and onto the new one at every flip
 * (bond_hw_addr_swap), and on an emulated e1000 each move is a full
 * receive-filter rewrite, every register write a trap to the device model.
 *
 * What team does not do: deliver what reaches the inactive port (it is
 * passed to that port's own handlers only, RX_HANDLER_EXACT, and the IP
 * stack is not one of them), so there is no both-legs window as with
 * bonding's all_slaves_active; and, without teamd, it watches no link: a
 * PV leg that loses its link is not failed over by the guest alone.
 */
#include "netshunt_sys.h"
#include "netshunt.h"
#include "team_nl.h"

#include <errno.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define NET "/sys/class/net"
#define BUF 16384
/* Every netlink answer is bounded.  The kernel answers these under RTNL,
 * which others hold too (in the nested lab bonding held it for up to
 * 3.8 s at a flip): past 5 s something is wrong. */
#define ANSWER_MS 5000

static uint32_t seq;
/* 0 until resolved; fixed while team is loaded */
static uint16_t team_family;
static uint32_t team_events;   /* its "change_event" multicast group */

typedef int (*on_data_fn)(const void *msg, size_t len, void *arg);

/* Sends req on a fresh socket of proto and reads the answer: every data
 * message to on_data (which returns 1 when it has what it wanted), until an
 * ack, an error (returned) or the end of a multi-part answer. */
static int nl_call(int proto, const void *req, int len, on_data_fn on_data, void *arg)
{
    struct timeval tv = { ANSWER_MS / 1000, (ANSWER_MS % 1000) * 1000 };
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    uint32_t want = ((const struct nlmsghdr *)req)->nlmsg_seq;
    static uint8_t buf[BUF];
    int s, rc = -EIO;

    if (len < 0)
        return len;
    if ((s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto)) < 0)
        return -errno;
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    /* A listener for the team's events, so that setting an option is not
     * answered -ESRCH (team_nl.h); the events are not ours (seq 0). */
    if (proto == NETLINK_GENERIC && team_events != 0 &&
        setsockopt(s, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &team_events,
                   sizeof(team_events)) < 0) {
        rc = -errno;
        goto out;
    }
    if (sendto(s, req, (size_t)len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) != len) {
        rc = -errno;
        goto out;
    }
    for (;;) {
        ssize_t n = recv(s, buf, sizeof(buf), MSG_TRUNC);
        size_t off = 0, ml;
        const void *m;
        enum team_nl_kind kind;
        int err, r;

        if (n < 0) {
            rc = errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
            goto out;
        }
        if ((size_t)n > sizeof(buf)) {
            rc = -EMSGSIZE;
            goto out;
        }
        while ((r = team_nl_next(buf, (size_t)n, &off, &m, &ml, &kind, &err)) == 1) {
            if (((const struct nlmsghdr *)m)->nlmsg_seq != want)
                continue;   /* not ours (a late answer to an earlier call) */
            switch (kind) {
            case TEAM_NL_ACK:
            case TEAM_NL_DONE:
                rc = 0;
                goto out;
            case TEAM_NL_ERROR:
                rc = err;
                goto out;
            case TEAM_NL_DATA:
                if (on_data != NULL && (rc = on_data(m, ml, arg)) != 0) {
                    rc = rc < 0 ? rc : 0;
                    goto out;
                }
                break;
            }
        }
        if (r < 0) {
            rc = r;
            goto out;
        }
    }
out:
    close(s);
    return rc;
}

static int got_family(const void *msg, size_t len, void *arg)
{
    int rc = team_nl_family_id(msg, len, arg, &team_events);
    return rc < 0 ? rc : 1;
}

static int family(uint16_t *id)
{
    static uint8_t req[256];
    int rc;

    if (team_family == 0) {
        rc = nl_call(NETLINK_GENERIC, req, team_nl_get_family(req, sizeof(req), ++seq),
                     got_family, &team_family);
        if (rc < 0) {
            team_family = 0;
            return rc;
        }
    }
    *id = team_family;
    return 0;
}

static int ifindex_of(const char *dev, struct rtv_err *err)
{
    unsigned i = if_nametoindex(dev);

    if (i == 0)
        return rtv_err_set(err, ENODEV, "no netdev %s", dev);
    return (int)i;
}

/* The team's ifindex and the family's id: what every option call needs. */
static int team_ids(const char *team, int *t, uint16_t *fam, struct rtv_err *err)
{
    int rc;

    if ((*t = ifindex_of(team, err)) < 0)
        return *t;
    if ((rc = family(fam)) < 0)
        return rtv_err_set(err, -rc, "team: generic netlink family: %s", strerror(-rc));
    return 0;
}

/* One team-wide option: a string (str) or, with str NULL, a u32. */
static int set_option(const char *team, const char *opt, const char *str, uint32_t v,
                      struct rtv_err *err)
{
    static uint8_t req[256];
    char val[16];
    uint16_t fam;
    int t, rc;

    if ((rc = team_ids(team, &t, &fam, err)) < 0)
        return rc;
    rc = nl_call(NETLINK_GENERIC, req,
                 str ? team_nl_set_string(req, sizeof(req), fam, ++seq, t, opt, str)
                     : team_nl_set_u32(req, sizeof(req), fam, ++seq, t, opt, v), NULL, NULL);
    if (rc < 0) {
        if (str == NULL)
            snprintf(val, sizeof(val), "%u", v);
        return rtv_err_set(err, -rc, "team %s: %s <- %s: %s", team, opt, str ? str : val,
                           strerror(-rc));
    }
    return 0;
}

/* ---- reading options back ----------------------------------------------------- */

struct want {
    const char *name;
    bool        string;
    uint32_t    u32;
    char        str[64];
    int         found;
};

static int got_option(const void *msg, size_t len, void *arg)
{
    struct want *w = arg;
    int rc = w->string ? team_nl_find_string(msg, len, w->name, w->str, sizeof(w->str))
                       : team_nl_find_u32(msg, len, w->name, &w->u32);

    if (rc < 0)
        return rc;
    if (rc == 1)
        w->found = 1;
    return 0;   /* read on to NLMSG_DONE, which ends the answer */
}

static int get_option(const char *team, struct want *w, struct rtv_err *err)
{
    static uint8_t req[256];
    uint16_t fam;
    int t, rc;

    if ((rc = team_ids(team, &t, &fam, err)) < 0)
        return rc;
    rc = nl_call(NETLINK_GENERIC, req, team_nl_get_options(req, sizeof(req), fam, ++seq, t),
                 got_option, w);
    if (rc < 0)
        return rtv_err_set(err, -rc, "team %s: options: %s", team, strerror(-rc));
    if (!w->found)
        return rtv_err_set(err, ENOENT, "team %s has no option %s", team, w->name);
    return 0;
}

/* ---- the master's parts ---------------------------------------------------------- */

static int set_master(const char *dev, const char *team, struct rtv_err *err)
{
    static uint8_t req[256];
    int d, t = 0, rc;

    if ((d = ifindex_of(dev, err)) < 0 || (team && (t = ifindex_of(team, err)) < 0))
        return -ENODEV;
    rc = nl_call(NETLINK_ROUTE, req, team_nl_set_master(req, sizeof(req), ++seq, d, t),
                 NULL, NULL);
    if (rc < 0)
        return rtv_err_set(err, -rc, "%s: %s: %s", dev, team ? "join team" : "leave its team",
                           strerror(-rc));
    return 0;
}

static int team_enslave(void *c, const char *team, const char *dev, struct rtv_err *err)
{
    int rc;

    (void)c;
    if (netshunt_is_slave(team, dev))
        return 0;
    /* team_port_add refuses a port that is up; it opens it itself. */
    if ((rc = netshunt_set_up(dev, false, err)) < 0)
        return rc;
    return set_master(dev, team, err);
}

static int team_release(void *c, const char *team, const char *dev, struct rtv_err *err)
{
    (void)c;
    if (!netshunt_is_slave(team, dev))
        return 0;
    return set_master(dev, NULL, err);
}

static int team_active(void *c, const char *team, char name[IFNAMSIZ])
{
    struct want w = { .name = "activeport" };
    struct rtv_err err = {0};
    char buf[IF_NAMESIZE];

    (void)c;
    name[0] = '\0';
    if (get_option(team, &w, &err) < 0)
        return -err.code;
    if (w.u32 != 0 && if_indextoname(w.u32, buf) != NULL)
        snprintf(name, IFNAMSIZ, "%s", buf);
    return 0;
}

static int team_set_active(void *c, const char *team, const char *dev, struct rtv_err *err)
{
    int d;

    (void)c;
    if ((d = ifindex_of(dev, err)) < 0)
        return d;
    return set_option(team, "activeport", NULL, (uint32_t)d, err);
}

/* Without teamd the port's link is its carrier (team's user_linkup is not
 * enabled), and activebackup sends on the active port whatever it is: the
 * engine flips only once the new leg has carrier. */
static bool team_slave_up(void *c, const char *dev)
{
    char p[128], buf[8] = "";
    FILE *f;

    (void)c;
    snprintf(p, sizeof(p), NET "/%s/carrier", dev);
    if ((f = fopen(p, "re")) == NULL)
        return false;
    bool up = fgets(buf, sizeof(buf), f) != NULL && buf[0] == '1';
    fclose(f);
    return up;
}

int netshunt_team_setup(const char *team, const char *emulated, struct rtv_err *err)
{
    static const char *const mods[] = { "team", "team_mode_activebackup" };
    static uint8_t req[256];
    char p[128];
    uint8_t hw[6];
    int rc;

    for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
        snprintf(p, sizeof(p), "/sys/module/%s", mods[i]);
        if (!netshunt_exists(p) && netshunt_modprobe(mods[i], NULL) < 0)
            return rtv_err_set(err, ENOENT, "no %s driver (modprobe %s failed)", mods[i],
                               mods[i]);
    }
    snprintf(p, sizeof(p), NET "/%s", emulated);
    if (!netshunt_exists(p))
        return rtv_err_set(err, ENOENT, "no netdev %s (the emulated NIC)", emulated);
    snprintf(p, sizeof(p), NET "/%s", team);
    if (netshunt_exists(p)) {
        /* There already: a restarted shunt takes it as it is. */
        struct want w = { .name = "mode", .string = true };
        struct rtv_err why = {0};
        if (get_option(team, &w, &why) < 0)
            return rtv_err_set(err, EEXIST, "%s exists and is no team (%s)", team, why.msg);
        if (strcmp(w.str, "activebackup") != 0)
            return rtv_err_set(err, EEXIST, "%s exists in mode \"%s\", not activebackup",
                               team, w.str);
        if (!netshunt_is_slave(team, emulated))
            return rtv_err_set(err, EEXIST, "%s exists without %s", team, emulated);
        return 0;
    }
    if (netshunt_mac_bytes(emulated, hw) < 0)
        return rtv_err_set(err, ENODEV, "%s: no MAC address", emulated);
    rc = nl_call(NETLINK_ROUTE, req, team_nl_new_team(req, sizeof(req), ++seq, team, hw),
                 NULL, NULL);
    if (rc < 0)
        return rtv_err_set(err, -rc, "cannot create team %s: %s", team, strerror(-rc));
    /* The mode before any port (the driver refuses a mode change with
     * ports), then the emulated NIC as the first port and the active one. */
    if ((rc = set_option(team, "mode", "activebackup", 0, err)) < 0 ||
        (rc = team_enslave(NULL, team, emulated, err)) < 0 ||
        (rc = team_set_active(NULL, team, emulated, err)) < 0)
        return rc;
    return netshunt_set_up(team, true, err);
}

const struct netshunt_sys_ops netshunt_team_ops = {
    .pv_netdev = netshunt_l_pv_netdev, .load_netfront = netshunt_l_load_netfront,
    .is_slave = netshunt_l_is_slave, .slave_up = team_slave_up, .enslave = team_enslave,
    .release = team_release, .active = team_active, .set_active = team_set_active,
    .mac = netshunt_l_mac, .announce = netshunt_l_announce,
    .both_receive = NULL, .rx_packets = netshunt_l_rx_packets,
    .quiet_port = netshunt_l_quiet_port,
};
