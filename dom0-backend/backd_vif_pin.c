/*
 * Which bridge port learns the guest's MAC; see backd_vif_pin.h.
 */
#include "backd_vif_pin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum backd_vif_leg backd_vif_pin_leg(const struct rtv_switch_fsm *m, bool gate_passed)
{
    enum backd_vif_leg was = rtv_mode_needs_pv(m->mode) ? BACKD_VIF_LEG_PV
                                                        : BACKD_VIF_LEG_EMULATED;
    enum backd_vif_leg to = rtv_mode_needs_pv(m->target) ? BACKD_VIF_LEG_PV
                                                         : BACKD_VIF_LEG_EMULATED;

    switch (m->phase) {
    case RTV_FSM_BACKEND_UP:
    case RTV_FSM_GATE:
    case RTV_FSM_SHUNT:
        /* Past the gate (port-ready-id) the guest may flip as soon as it
         * is told: from then on only the new leg's frames are the guest's
         * present.  (The gate may pass while the backend still comes up.) */
        return gate_passed ? to : was;
    case RTV_FSM_BACKEND_DOWN:
        /* The shunt is on the emulated leg (a switch there, or a failover
         * dom0 follows); the PV vif is on its way out. */
        return BACKD_VIF_LEG_EMULATED;
    case RTV_FSM_STABLE:
    case RTV_FSM_ROLLBACK_SHUNT:
    case RTV_FSM_ROLLBACK_DOWN:
        /* Not told to go yet, or sent back where it was. */
        return was;
    }
    return was;
}

/* 0 or 1 from <sysfs>/<port>/brport/learning; -ENOENT: no such port on a
 * bridge. */
static int get_learning(const char *path)
{
    char c = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, &c, 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return -e;
    return c == '1' ? 1 : 0;
}

static int set_learning(const char *sysfs, const char *port, int on, bool *changed,
                        struct rtv_err *err)
{
    char p[256];
    int cur, fd;

    if (port == NULL || port[0] == '\0')
        return 0;
    snprintf(p, sizeof(p), "%s/%s/brport/learning", sysfs, port);
    if ((cur = get_learning(p)) == -ENOENT)
        return 0;   /* not on a bridge (yet, or any more) */
    if (cur < 0)
        return rtv_err_set(err, -cur, "%s: %s", p, strerror(-cur));
    if (cur == on)
        return 0;
    if ((fd = open(p, O_WRONLY | O_CLOEXEC)) < 0) {
        if (errno == ENOENT)
            return 0;   /* the port went meanwhile */
        return rtv_err_set(err, errno, "%s: %s", p, strerror(errno));
    }
    ssize_t n = write(fd, on ? "1" : "0", 1);
    int e = errno;
    close(fd);
    if (n != 1)
        return rtv_err_set(err, n < 0 ? e : EIO, "%s <- %d: %s", p, on,
                           strerror(n < 0 ? e : EIO));
    *changed = true;
    return 0;
}

int backd_vif_pin_apply(const char *sysfs, const char *tap, const char *pv_port,
                        enum backd_vif_leg leg, bool *changed, struct rtv_err *err)
{
    int rc;

    /* The learning port first: there is never a moment when neither
     * learns and the other is the one the bridge believes. */
    if (leg == BACKD_VIF_LEG_PV) {
        if ((rc = set_learning(sysfs, pv_port, 1, changed, err)) < 0)
            return rc;
        return set_learning(sysfs, tap, 0, changed, err);
    }
    if ((rc = set_learning(sysfs, tap, 1, changed, err)) < 0)
        return rc;
    return set_learning(sysfs, pv_port, 0, changed, err);
}

int backd_vif_pin_release(const char *sysfs, const char *port, bool *changed,
                          struct rtv_err *err)
{
    return set_learning(sysfs, port, 1, changed, err);
}
