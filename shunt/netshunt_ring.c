/*
 * The emulated NIC's receive ring, bounded; see netshunt_ring.h.
 */
#include "netshunt_ring.h"

#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* e1000's least receive ring (E1000_MIN_RXD); other drivers refuse what
 * they cannot take, and the error says so. */
#define RING_MIN 48u

unsigned netshunt_rx_ring_target(unsigned cur, unsigned bound, unsigned min, unsigned max)
{
    if (bound == 0 || cur <= bound)
        return 0;
    unsigned want = bound < min ? min : bound;
    if (max != 0 && want > max)
        want = max;
    return want < cur ? want : 0;
}

static int ring_ioctl(int s, const char *dev, struct ethtool_ringparam *r)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
    ifr.ifr_data = (void *)r;
    return ioctl(s, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
}

int netshunt_bound_rx_ring(const char *dev, unsigned bound, unsigned *was, struct rtv_err *err)
{
    struct ethtool_ringparam r = { .cmd = ETHTOOL_GRINGPARAM };
    int s, rc;

    *was = 0;
    if (bound == 0)
        return 0;
    if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return rtv_err_set(err, errno, "socket: %s", strerror(errno));
    if ((rc = ring_ioctl(s, dev, &r)) < 0) {
        close(s);
        return rtv_err_set(err, -rc, "%s: receive ring length: %s", dev, strerror(-rc));
    }
    unsigned want = netshunt_rx_ring_target(r.rx_pending, bound, RING_MIN, r.rx_max_pending);
    if (want == 0) {
        close(s);
        return 0;
    }
    unsigned cur = r.rx_pending;
    r.cmd = ETHTOOL_SRINGPARAM;
    r.rx_pending = want;
    rc = ring_ioctl(s, dev, &r);
    close(s);
    if (rc < 0)
        return rtv_err_set(err, -rc, "%s: receive ring %u -> %u: %s", dev, cur, want,
                           strerror(-rc));
    *was = cur;
    return 0;
}
