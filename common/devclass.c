/*
 * Which schema node plays which part of the switch protocol, per kind of
 * device; see rtvirt/devclass.h.
 */
#include "rtvirt/devclass.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rtvirt/xs_util.h"

const struct rtv_devclass rtv_devclass_vbd = {
    .name = "vbd",
    .prefix = "",
    .key = RTV_XS_P_VDEV,
    .has_selective = 1,
    .gate_failed = "the device model's side of the emulated disk could not be synced",
    .nodes = {
        [RTV_R_REQUEST] = RTV_XS_CTL_REQUEST,
        [RTV_R_REQUEST_ID] = RTV_XS_CTL_REQUEST_ID,
        [RTV_R_TIMEOUT_MS] = RTV_XS_CTL_TIMEOUT_MS,
        [RTV_R_STATE] = RTV_XS_CTL_STATE,
        [RTV_R_SWITCH_ID] = RTV_XS_CTL_SWITCH_ID,
        [RTV_R_PREVIOUS] = RTV_XS_CTL_PREVIOUS,
        [RTV_R_RESULT] = RTV_XS_CTL_RESULT,
        [RTV_R_RESULT_ID] = RTV_XS_CTL_RESULT_ID,
        [RTV_R_ERROR] = RTV_XS_CTL_ERROR,
        [RTV_R_GATE_ID] = RTV_XS_CTL_DM_SYNCED_ID,
        [RTV_R_BACKEND_ID] = RTV_XS_CTL_DEVID,
        [RTV_R_ARG] = RTV_XS_CTL_IMAGE,
        [RTV_R_STATS_SWITCHES] = RTV_XS_CTL_STATS_SWITCHES,
        [RTV_R_STATS_ROLLBACKS] = RTV_XS_CTL_STATS_ROLLBACKS,
        [RTV_R_STATS_BLACKOUT_US] = RTV_XS_CTL_STATS_BLACKOUT_US,
        [RTV_R_STATS_HELD] = RTV_XS_CTL_STATS_HELD,
        [RTV_R_STATS_GATE_US] = RTV_XS_CTL_STATS_DM_SYNC_US,
        [RTV_R_STATS_FAILOVERS] = RTV_XS_CTL_STATS_FAILOVERS,
        [RTV_R_FAILOVER] = RTV_XS_CTL_FAILOVER,
        [RTV_R_SHUNT_STATE] = RTV_XS_SHUNT_STATE,
        [RTV_R_SHUNT_ACK_ID] = RTV_XS_SHUNT_ACK_ID,
        [RTV_R_SHUNT_ERROR] = RTV_XS_SHUNT_ERROR,
        [RTV_R_SHUNT_BLACKOUT_US] = RTV_XS_SHUNT_BLACKOUT_US,
        [RTV_R_SHUNT_HELD] = RTV_XS_SHUNT_HELD,
    },
};

/* A NIC holds nothing (no held requests, no qemu state to sync: the gate is
 * the bridge port's check, which rtvirt-backd does not time). */
const struct rtv_devclass rtv_devclass_vif = {
    .name = "vif",
    .prefix = "vif/",
    .key = RTV_XS_P_DEVID,
    .has_selective = 0,
    .gate_failed = "the bridge port of the leg the guest goes to is not forwarding",
    .nodes = {
        [RTV_R_REQUEST] = RTV_XS_VIF_REQUEST,
        [RTV_R_REQUEST_ID] = RTV_XS_VIF_REQUEST_ID,
        [RTV_R_TIMEOUT_MS] = RTV_XS_VIF_TIMEOUT_MS,
        [RTV_R_STATE] = RTV_XS_VIF_STATE,
        [RTV_R_SWITCH_ID] = RTV_XS_VIF_SWITCH_ID,
        [RTV_R_PREVIOUS] = RTV_XS_VIF_PREVIOUS,
        [RTV_R_RESULT] = RTV_XS_VIF_RESULT,
        [RTV_R_RESULT_ID] = RTV_XS_VIF_RESULT_ID,
        [RTV_R_ERROR] = RTV_XS_VIF_ERROR,
        [RTV_R_GATE_ID] = RTV_XS_VIF_PORT_READY_ID,
        [RTV_R_BACKEND_ID] = RTV_XS_VIF_PV_DEVID,
        [RTV_R_ARG] = RTV_XS_VIF_MAC,
        [RTV_R_STATS_SWITCHES] = RTV_XS_VIF_STATS_SWITCHES,
        [RTV_R_STATS_ROLLBACKS] = RTV_XS_VIF_STATS_ROLLBACKS,
        [RTV_R_STATS_BLACKOUT_US] = RTV_XS_VIF_STATS_BLACKOUT_US,
        [RTV_R_STATS_HELD] = RTV_R_NONE,
        [RTV_R_STATS_GATE_US] = RTV_R_NONE,
        [RTV_R_STATS_FAILOVERS] = RTV_R_NONE,   /* no failed-over state for a NIC yet */
        [RTV_R_FAILOVER] = RTV_R_NONE,
        [RTV_R_SHUNT_STATE] = RTV_XS_VIF_SHUNT_STATE,
        [RTV_R_SHUNT_ACK_ID] = RTV_XS_VIF_SHUNT_ACK_ID,
        [RTV_R_SHUNT_ERROR] = RTV_XS_VIF_SHUNT_ERROR,
        [RTV_R_SHUNT_BLACKOUT_US] = RTV_XS_VIF_SHUNT_BLACKOUT_US,
        [RTV_R_SHUNT_HELD] = RTV_R_NONE,
    },
};

const struct rtv_devclass *const rtv_devclasses[RTV_DEVCLASS_COUNT] = {
    &rtv_devclass_vbd, &rtv_devclass_vif,
};

int rtv_devclass_node(const struct rtv_devclass *cls, enum rtv_role role)
{
    return (unsigned)role < RTV_R_COUNT ? cls->nodes[role] : RTV_R_NONE;
}

int rtv_devclass_args(const struct rtv_devclass *cls, rtv_domid_t dom,
                      const char *key, struct rtv_xs_args *a, struct rtv_err *err)
{
    unsigned long long n;

    memset(a, 0, sizeof(*a));
    a->domid = dom;
    if (key == NULL)
        return rtv_err_set(err, EINVAL, "no %s named", cls->name);
    if (cls->key == RTV_XS_P_DEVID) {
        /* Strict: "0", never "00" or "+0", so one NIC has one directory. */
        if (rtv_parse_uint(key, rtv_xs_params[RTV_XS_P_DEVID].type.max, &n) < 0)
            return rtv_err_set(err, EINVAL, "parameter $DEVID: \"%.32s\" is not a %s "
                               "device id (a decimal number)", key, cls->name);
        a->devid = n;
    } else {
        a->vdev = key;
    }
    return 0;
}

int rtv_devclass_path(const struct rtv_devclass *cls, enum rtv_role role,
                      rtv_domid_t dom, const char *key, char *buf, size_t len,
                      struct rtv_err *err)
{
    struct rtv_xs_args a;
    int node = rtv_devclass_node(cls, role);
    int rc;

    if (node == RTV_R_NONE)
        return rtv_err_set(err, EINVAL, "a %s has no node for role %d", cls->name,
                           (int)role);
    if ((rc = rtv_devclass_args(cls, dom, key, &a, err)) < 0)
        return rc;
    return rtv_xs_path(buf, len, (enum rtv_xs_node)node, &a, err);
}

void rtv_devclass_parent(const struct rtv_devclass *cls, int report, rtv_domid_t dom,
                         char *buf, size_t len)
{
    struct rtv_xs_args a = { .domid = dom, .vdev = "x", .devid = 0 };
    int node = cls->nodes[report ? RTV_R_SHUNT_STATE : RTV_R_STATE];
    char *slash;

    rtv_xs_dir(buf, len, (enum rtv_xs_node)node, &a, NULL);
    if ((slash = strrchr(buf, '/')) != NULL)
        *slash = '\0';
}

int rtv_devclass_parse(const char *name, const struct rtv_devclass **cls,
                       const char **key, struct rtv_err *err)
{
    struct rtv_xs_args a;

    if (name == NULL || name[0] == '\0')
        return rtv_err_set(err, EINVAL, "no device named (a disk's vdev, e.g. hda, "
                           "or a NIC as vif/<devid>, e.g. vif/0)");
    for (unsigned i = 0; i < RTV_DEVCLASS_COUNT; i++) {
        const struct rtv_devclass *c = rtv_devclasses[i];
        size_t n = strlen(c->prefix);
        if (n && strncmp(name, c->prefix, n) == 0) {
            if (rtv_devclass_args(c, 0, name + n, &a, err) < 0)
                return -EINVAL;
            *cls = c;
            *key = name + n;
            return 0;
        }
    }
    /* Anything else is a disk's vdev; building its path checks the name. */
    *cls = &rtv_devclass_vbd;
    *key = name;
    return 0;
}

void rtv_devclass_name(const struct rtv_devclass *cls, const char *key,
                       char *buf, size_t len)
{
    snprintf(buf, len, "%s%s", cls->prefix, key);
}
