/*
 * The guest kernel's parts of the NIC switch; see netshunt_sys.h.
 */
#include "netshunt_sys.h"
#include "netshunt.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NET "/sys/class/net"

static int write_sys(const char *path, const char *val)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -errno;
    n = write(fd, val, strlen(val));
    int e = n < 0 ? errno : 0;
    close(fd);
    return n < 0 ? -e : 0;
}

static int read_sys(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    buf[0] = '\0';
    if (fd < 0)
        return -errno;
    n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -errno;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

static int bond_attr(const char *bond, const char *attr, const char *val, struct rtv_err *err)
{
    char p[128];
    int rc;

    snprintf(p, sizeof(p), NET "/%s/bonding/%s", bond, attr);
    if ((rc = write_sys(p, val)) < 0)
        return rtv_err_set(err, -rc, "bonding: %s <- \"%s\": %s", p, val, strerror(-rc));
    return 0;
}

int netshunt_modprobe(const char *module, const char *arg)
{
    pid_t pid = fork();
    int st;

    if (pid < 0)
        return -errno;
    if (pid == 0) {
        execlp("modprobe", "modprobe", module, arg, (char *)NULL);
        _exit(127);
    }
    if (waitpid(pid, &st, 0) < 0)
        return -errno;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

bool netshunt_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int netshunt_set_up(const char *dev, bool up, struct rtv_err *err)
{
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int rc = 0;

    if (s < 0)
        return rtv_err_set(err, errno, "socket: %s", strerror(errno));
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
        rc = rtv_err_set(err, errno, "%s: SIOCGIFFLAGS: %s", dev, strerror(errno));
    } else if (!!(ifr.ifr_flags & IFF_UP) != up) {
        if (up)
            ifr.ifr_flags |= IFF_UP;
        else
            ifr.ifr_flags &= ~IFF_UP;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
            rc = rtv_err_set(err, errno, "%s: set %s: %s", dev, up ? "up" : "down",
                             strerror(errno));
    }
    close(s);
    return rc;
}

bool netshunt_is_slave(const char *bond, const char *dev)
{
    char p[128], link[256];
    ssize_t n;

    snprintf(p, sizeof(p), NET "/%s/master", dev);
    if ((n = readlink(p, link, sizeof(link) - 1)) < 0)
        return false;
    link[n] = '\0';
    const char *base = strrchr(link, '/');
    return strcmp(base ? base + 1 : link, bond) == 0;
}

int netshunt_bond_setup(const char *bond, const char *emulated, struct rtv_err *err)
{
    char p[128], buf[64];
    int rc;

    if (!netshunt_exists(NET "/bonding_masters") && netshunt_modprobe("bonding", "max_bonds=0") < 0)
        return rtv_err_set(err, ENOENT, "no bonding driver (modprobe bonding failed)");
    snprintf(p, sizeof(p), NET "/%s", emulated);
    if (!netshunt_exists(p))
        return rtv_err_set(err, ENOENT, "no netdev %s (the emulated NIC)", emulated);
    snprintf(p, sizeof(p), NET "/%s/bonding/mode", bond);
    if (netshunt_exists(p)) {
        /* There already: a restarted shunt takes it as it is. */
        if (read_sys(p, buf, sizeof(buf)) < 0 || strncmp(buf, "active-backup", 13) != 0)
            return rtv_err_set(err, EEXIST, "%s exists in mode \"%s\", not active-backup",
                               bond, buf);
        if (!netshunt_is_slave(bond, emulated))
            return rtv_err_set(err, EEXIST, "%s exists without %s", bond, emulated);
        return 0;
    }
    snprintf(buf, sizeof(buf), "+%s", bond);
    if ((rc = write_sys(NET "/bonding_masters", buf)) < 0)
        return rtv_err_set(err, -rc, "cannot create %s: %s", bond, strerror(-rc));
    /* Options while the bond is down and has no slaves. */
    if ((rc = bond_attr(bond, "mode", "active-backup", err)) < 0 ||
        (rc = bond_attr(bond, "miimon", "100", err)) < 0 ||
        (rc = bond_attr(bond, "fail_over_mac", "none", err)) < 0 ||
        (rc = bond_attr(bond, "num_grat_arp", "1", err)) < 0 ||
        (rc = bond_attr(bond, "num_unsol_na", "1", err)) < 0)
        return rc;
    if ((rc = netshunt_enslave(bond, emulated, err)) < 0)
        return rc;
    return netshunt_set_up(bond, true, err);
}

int netshunt_pv_netdev(unsigned devid, char name[IFNAMSIZ])
{
    char p[128];
    struct dirent *e;
    DIR *d;

    name[0] = '\0';
    /* netfront's xenbus device is vif-<devid>; its netdev sits below it. */
    snprintf(p, sizeof(p), "/sys/bus/xen/devices/vif-%u/net", devid);
    if ((d = opendir(p)) == NULL)
        return -ENOENT;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (strlen(e->d_name) >= IFNAMSIZ)
            continue;   /* no netdev name is that long */
        memcpy(name, e->d_name, strlen(e->d_name) + 1);
        break;
    }
    closedir(d);
    return name[0] ? 0 : -ENOENT;
}

int netshunt_load_netfront(struct rtv_err *err)
{
    if (netshunt_exists("/sys/bus/xen/drivers/vif"))
        return 0;
    if (netshunt_modprobe("xen-netfront", NULL) < 0)
        return rtv_err_set(err, ENOENT, "modprobe xen-netfront failed");
    return 0;
}

bool netshunt_slave_up(const char *dev)
{
    char p[128], buf[16];

    snprintf(p, sizeof(p), NET "/%s/bonding_slave/mii_status", dev);
    return read_sys(p, buf, sizeof(buf)) == 0 && strcmp(buf, "up") == 0;
}

int netshunt_enslave(const char *bond, const char *dev, struct rtv_err *err)
{
    char buf[IFNAMSIZ + 2];
    int rc;

    if (netshunt_is_slave(bond, dev))
        return 0;
    if ((rc = netshunt_set_up(dev, false, err)) < 0)
        return rc;
    snprintf(buf, sizeof(buf), "+%s", dev);
    return bond_attr(bond, "slaves", buf, err);
}

int netshunt_release(const char *bond, const char *dev, struct rtv_err *err)
{
    char buf[IFNAMSIZ + 2];

    if (!netshunt_is_slave(bond, dev))
        return 0;
    snprintf(buf, sizeof(buf), "-%s", dev);
    return bond_attr(bond, "slaves", buf, err);
}

int netshunt_active(const char *bond, char name[IFNAMSIZ])
{
    char p[128];

    snprintf(p, sizeof(p), NET "/%s/bonding/active_slave", bond);
    return read_sys(p, name, IFNAMSIZ);
}

int netshunt_set_active(const char *bond, const char *dev, struct rtv_err *err)
{
    return bond_attr(bond, "active_slave", dev, err);
}

int netshunt_both_receive(const char *bond, bool on, struct rtv_err *err)
{
    return bond_attr(bond, "all_slaves_active", on ? "1" : "0", err);
}

int netshunt_rx_packets(const char *dev, uint64_t *n)
{
    char p[128], buf[32];
    int rc;

    snprintf(p, sizeof(p), NET "/%s/statistics/rx_packets", dev);
    if ((rc = read_sys(p, buf, sizeof(buf))) < 0)
        return rc;
    *n = strtoull(buf, NULL, 10);
    return 0;
}

int netshunt_mac(const char *dev, char mac[18])
{
    char p[128];

    snprintf(p, sizeof(p), NET "/%s/address", dev);
    return read_sys(p, mac, 18);
}

int netshunt_mac_bytes(const char *dev, uint8_t hw[6])
{
    char mac[18];

    if (netshunt_mac(dev, mac) < 0 ||
        sscanf(mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &hw[0], &hw[1], &hw[2], &hw[3],
               &hw[4], &hw[5]) != 6)
        return -ENODEV;
    return 0;
}

int netshunt_announce(const char *bond, struct rtv_err *err)
{
    struct ifaddrs *ifa, *i;
    uint8_t hw[6];
    int s, sent = 0;
    unsigned idx = if_nametoindex(bond);

    if (idx == 0 || netshunt_mac_bytes(bond, hw) < 0)
        return rtv_err_set(err, ENODEV, "no netdev %s", bond);
    if (getifaddrs(&ifa) < 0)
        return rtv_err_set(err, errno, "getifaddrs: %s", strerror(errno));
    s = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
    if (s < 0) {
        int e = errno;
        freeifaddrs(ifa);
        return rtv_err_set(err, e, "packet socket: %s", strerror(e));
    }
    for (i = ifa; i; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
            strcmp(i->ifa_name, bond) != 0)
            continue;
        struct in_addr ip = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
        /* RFC 5227's announcement: a request with sender = target = us. */
        unsigned char pkt[28];
        struct arphdr *ah = (struct arphdr *)pkt;
        ah->ar_hrd = htons(ARPHRD_ETHER);
        ah->ar_pro = htons(ETH_P_IP);
        ah->ar_hln = 6;
        ah->ar_pln = 4;
        ah->ar_op = htons(ARPOP_REQUEST);
        memcpy(pkt + 8, hw, 6);
        memcpy(pkt + 14, &ip, 4);
        memset(pkt + 18, 0, 6);
        memcpy(pkt + 24, &ip, 4);
        struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP),
                                  .sll_ifindex = (int)idx, .sll_halen = 6 };
        memset(to.sll_addr, 0xff, 6);
        if (sendto(s, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) == sizeof(pkt))
            sent++;
    }
    close(s);
    freeifaddrs(ifa);
    return sent;
}

int netshunt_quiet_port(const char *dev, struct rtv_err *err)
{
    char p[128];
    int rc;

    snprintf(p, sizeof(p), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", dev);
    if ((rc = write_sys(p, "1")) < 0 && rc != -ENOENT)   /* ENOENT: no IPv6 here */
        return rtv_err_set(err, -rc, "%s <- 1: %s", p, strerror(-rc));
    return 0;
}

/* ---- the engine's seam (netshunt.h) ---------------------------------------- */

int netshunt_l_pv_netdev(void *c, unsigned devid, char name[IFNAMSIZ])
{
    (void)c;
    return netshunt_pv_netdev(devid, name);
}

int netshunt_l_load_netfront(void *c, struct rtv_err *err)
{
    (void)c;
    return netshunt_load_netfront(err);
}

bool netshunt_l_is_slave(void *c, const char *bond, const char *dev)
{
    (void)c;
    return netshunt_is_slave(bond, dev);
}

static bool l_slave_up(void *c, const char *dev)
{
    (void)c;
    return netshunt_slave_up(dev);
}

static int l_enslave(void *c, const char *bond, const char *dev, struct rtv_err *err)
{
    (void)c;
    return netshunt_enslave(bond, dev, err);
}

static int l_release(void *c, const char *bond, const char *dev, struct rtv_err *err)
{
    (void)c;
    return netshunt_release(bond, dev, err);
}

static int l_active(void *c, const char *bond, char name[IFNAMSIZ])
{
    (void)c;
    return netshunt_active(bond, name);
}

static int l_set_active(void *c, const char *bond, const char *dev, struct rtv_err *err)
{
    (void)c;
    return netshunt_set_active(bond, dev, err);
}

int netshunt_l_mac(void *c, const char *dev, char mac[18])
{
    (void)c;
    return netshunt_mac(dev, mac);
}

int netshunt_l_announce(void *c, const char *bond, struct rtv_err *err)
{
    (void)c;
    return netshunt_announce(bond, err);
}

static int l_both_receive(void *c, const char *bond, bool on, struct rtv_err *err)
{
    (void)c;
    return netshunt_both_receive(bond, on, err);
}

int netshunt_l_rx_packets(void *c, const char *dev, uint64_t *n)
{
    (void)c;
    return netshunt_rx_packets(dev, n);
}

int netshunt_l_quiet_port(void *c, const char *dev, struct rtv_err *err)
{
    (void)c;
    return netshunt_quiet_port(dev, err);
}

const struct netshunt_sys_ops netshunt_bonding_ops = {
    .pv_netdev = netshunt_l_pv_netdev, .load_netfront = netshunt_l_load_netfront,
    .is_slave = netshunt_l_is_slave, .slave_up = l_slave_up, .enslave = l_enslave,
    .release = l_release, .active = l_active, .set_active = l_set_active,
    .mac = netshunt_l_mac, .announce = netshunt_l_announce,
    .both_receive = l_both_receive, .rx_packets = netshunt_l_rx_packets,
    .quiet_port = netshunt_l_quiet_port,
};

/* team first: the default (netshunt_team.c says why). */
const struct netshunt_master netshunt_masters[] = {
    { "team", "team0", netshunt_team_setup, &netshunt_team_ops },
    { "bonding", "bond0", netshunt_bond_setup, &netshunt_bonding_ops },
    { NULL, NULL, NULL, NULL },
};
