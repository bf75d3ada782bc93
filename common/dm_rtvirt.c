/*
 * Table and status lines of the dm target "rtvirt" (rtvirt/dm_rtvirt.h).
 * Every refusal names the field and the value, as dm's own constructor
 * does in the kernel log, so rtvirt-shunt can put the reason into xenstore.
 */
#include "rtvirt/dm_rtvirt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rtvirt/xs_util.h"

int rtv_dm_name(char *buf, size_t len, const char *vdev, struct rtv_err *err)
{
    size_t n = vdev ? strlen(vdev) : 0;

    /* The schema's `name 15`: 1..15 of [a-z0-9-], starting with a letter. */
    if (n == 0 || n > 15 || vdev[0] < 'a' || vdev[0] > 'z' ||
        strspn(vdev, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
        return rtv_err_set(err, EINVAL, "vdev \"%s\": not 1..15 of [a-z0-9-] starting "
                           "with a letter", vdev ? vdev : "(null)");
    if ((size_t)snprintf(buf, len, "rtvirt-%s", vdev) >= len)
        return rtv_err_set(err, ENAMETOOLONG, "dm name for vdev %s: buffer too short", vdev);
    return 0;
}

static int check_leg(const char *what, const char *dev, struct rtv_err *err)
{
    size_t n = strnlen(dev, RTV_DM_DEV_MAX);

    if (n == 0)
        return rtv_err_set(err, EINVAL, "%s leg: empty", what);
    if (n >= RTV_DM_DEV_MAX)
        return rtv_err_set(err, EINVAL, "%s leg: longer than %d characters", what,
                           RTV_DM_DEV_MAX - 1);
    if (dev[strcspn(dev, " \t\n\r")] != '\0')
        return rtv_err_set(err, EINVAL, "%s leg \"%s\": white space in a device name",
                           what, dev);
    if (strcmp(dev, "-") == 0)
        return rtv_err_set(err, EINVAL, "%s leg: \"-\" is not a device", what);
    return 0;
}

/* The table's invariants, shared by building and parsing. */
static int check_table(const struct rtv_dm_table *t, struct rtv_err *err)
{
    int rc;

    if ((unsigned)t->mode >= RTV_MODE_COUNT)
        return rtv_err_set(err, EINVAL, "mode %d: not emulated, pv or selective", (int)t->mode);
    if ((rc = check_leg("emulated", t->emu, err)) < 0)
        return rc;
    if (t->pv[0] == '\0') {
        if (rtv_mode_needs_pv(t->mode))
            return rtv_err_set(err, EINVAL, "mode %s needs a PV leg, the table has none",
                               rtv_mode_name(t->mode));
        return 0;
    }
    if ((rc = check_leg("PV", t->pv, err)) < 0)
        return rc;
    if (strcmp(t->emu, t->pv) == 0)
        return rtv_err_set(err, EINVAL, "the emulated and PV legs are the same device %s",
                           t->emu);
    return 0;
}

int rtv_dm_table_params(const struct rtv_dm_table *t, char *buf, size_t len,
                        struct rtv_err *err)
{
    int rc;

    if (t->sectors == 0)
        return rtv_err_set(err, EINVAL, "table of 0 sectors");
    if ((rc = check_table(t, err)) < 0)
        return rc;
    if ((size_t)snprintf(buf, len, "%s %s %s", rtv_mode_name(t->mode), t->emu,
                         t->pv[0] ? t->pv : "-") >= len)
        return rtv_err_set(err, ENAMETOOLONG, "table parameters: buffer too short");
    return 0;
}

/* Splits s (copied into tmp) at white space into at most max fields. */
static unsigned split(const char *s, char *tmp, size_t len, char **f, unsigned max)
{
    unsigned n = 0;
    char *save = NULL;

    snprintf(tmp, len, "%s", s);
    for (char *p = strtok_r(tmp, " \t\n", &save); p; p = strtok_r(NULL, " \t\n", &save)) {
        if (n == max)
            return max + 1;
        f[n++] = p;
    }
    return n;
}

static int check_type(const char *type, const char *what, struct rtv_err *err)
{
    if (type == NULL || strcmp(type, RTV_DM_TARGET) != 0)
        return rtv_err_set(err, EINVAL, "%s: target type \"%s\", not " RTV_DM_TARGET, what,
                           type ? type : "(none)");
    return 0;
}

int rtv_dm_table_parse(const char *type, uint64_t sectors, const char *params,
                       struct rtv_dm_table *t, struct rtv_err *err)
{
    char tmp[3 * RTV_DM_DEV_MAX], *f[3];
    int rc;

    if ((rc = check_type(type, "table", err)) < 0)
        return rc;
    if (params == NULL || strlen(params) >= sizeof(tmp) ||
        split(params, tmp, sizeof(tmp), f, 3) != 3)
        return rtv_err_set(err, EINVAL, "table \"%s\": not <mode> <emu_dev> <pv_dev|->",
                           params ? params : "(none)");
    memset(t, 0, sizeof(*t));
    if (rtv_mode_parse(f[0], &t->mode) < 0)
        return rtv_err_set(err, EINVAL, "table \"%s\": mode \"%s\" is not emulated, pv or "
                           "selective", params, f[0]);
    if (strlen(f[1]) >= sizeof(t->emu) || strlen(f[2]) >= sizeof(t->pv))
        return rtv_err_set(err, EINVAL, "table \"%s\": a leg longer than %d characters",
                           params, RTV_DM_DEV_MAX - 1);
    snprintf(t->emu, sizeof(t->emu), "%s", f[1]);
    if (strcmp(f[2], "-") != 0)
        snprintf(t->pv, sizeof(t->pv), "%s", f[2]);
    t->sectors = sectors;
    struct rtv_err why = { 0, "" };
    if ((rc = check_table(t, &why)) < 0)
        return rtv_err_set(err, -rc, "table \"%s\": %.400s", params, why.msg);
    return 0;
}

static const char *const flip_names[RTV_DM_FLIP_COUNT] = {
    [RTV_DM_FLIP_IDLE] = "idle",
    [RTV_DM_FLIP_PREPARING] = "preparing",
    [RTV_DM_FLIP_PREPARED] = "prepared",
    [RTV_DM_FLIP_DRAINING] = "draining",
};

const char *rtv_dm_flip_name(enum rtv_dm_flip f)
{
    return (unsigned)f < RTV_DM_FLIP_COUNT ? flip_names[f] : "?";
}

int rtv_dm_status_parse(const char *type, const char *params, struct rtv_dm_status *st,
                        struct rtv_err *err)
{
    static const char *const names[] = { "failovers", "pv_errors", "held", "flips",
                                         "last-flip-stall-us" };
    char tmp[256], *f[8];
    unsigned long long n[5];
    unsigned nf, i;

    if (check_type(type, "status", err) < 0)
        return -EINVAL;
    if (params == NULL || strlen(params) >= sizeof(tmp) ||
        ((nf = split(params, tmp, sizeof(tmp), f, 8)) != 4 && nf != 8))
        return rtv_err_set(err, EINVAL, "status \"%s\": not <mode> <ok|failed-over> "
                           "<failovers> <pv_errors> [<flip-state> <held> <flips> "
                           "<last-flip-stall-us>]", params ? params : "(none)");
    memset(st, 0, sizeof(*st));
    if (rtv_mode_parse(f[0], &st->in_force) < 0)
        return rtv_err_set(err, EINVAL, "status \"%s\": mode \"%s\" is not emulated, pv or "
                           "selective", params, f[0]);
    if (strcmp(f[1], "ok") == 0)
        st->failed_over = false;
    else if (strcmp(f[1], "failed-over") == 0)
        st->failed_over = true;
    else
        return rtv_err_set(err, EINVAL, "status \"%s\": \"%s\" is neither ok nor failed-over",
                           params, f[1]);
    /* The numbers: f[2], f[3], then (after the flip state, f[4]) f[5..7]. */
    for (i = 0; i < (nf == 8 ? 5u : 2u); i++) {
        unsigned fi = i < 2 ? 2 + i : 3 + i;

        if (rtv_parse_uint(f[fi], UINT64_MAX, &n[i]) < 0)
            return rtv_err_set(err, EINVAL, "status \"%s\": %s \"%s\" is not a number",
                               params, names[i], f[fi]);
    }
    /* The kernel puts the table on the emulated leg when it fails over. */
    if (st->failed_over && st->in_force != RTV_MODE_EMULATED)
        return rtv_err_set(err, EINVAL, "status \"%s\": failed over but %s in force", params,
                           rtv_mode_name(st->in_force));
    st->failovers = n[0];
    st->pv_errors = n[1];
    if (nf == 8) {
        for (i = 0; i < RTV_DM_FLIP_COUNT && strcmp(f[4], flip_names[i]) != 0; i++)
            ;
        if (i == RTV_DM_FLIP_COUNT)
            return rtv_err_set(err, EINVAL, "status \"%s\": flip state \"%s\" is not idle, "
                               "preparing, prepared or draining", params, f[4]);
        st->has_flip = true;
        st->flip = (enum rtv_dm_flip)i;
        st->held = n[2];
        st->flips = n[3];
        st->last_stall_us = n[4];
    }
    return 0;
}

int rtv_dm_mode_message(enum rtv_mode mode, char *buf, size_t len)
{
    if ((unsigned)mode >= RTV_MODE_COUNT)
        return -EINVAL;
    return (size_t)snprintf(buf, len, "mode %s", rtv_mode_name(mode)) < len ? 0 : -ENAMETOOLONG;
}

int rtv_dm_devnum(char *buf, size_t len, unsigned major, unsigned minor)
{
    return (size_t)snprintf(buf, len, "%u:%u", major, minor) < len ? 0 : -ENAMETOOLONG;
}

int rtv_dm_pv_name(char *buf, size_t len, const char *vdev, struct rtv_err *err)
{
    char outer[RTV_DM_NAME_MAX];
    int rc;

    if ((rc = rtv_dm_name(outer, sizeof(outer), vdev, err)) < 0)
        return rc;
    if ((size_t)snprintf(buf, len, "%s" RTV_DM_PV_SUFFIX, outer) >= len)
        return rtv_err_set(err, ENAMETOOLONG, "dm name of the PV leg of %s: buffer too short",
                           vdev);
    return 0;
}

int rtv_dm_leg_params(const struct rtv_dm_leg *leg, const char **type, char *buf, size_t len,
                      struct rtv_err *err)
{
    int rc;

    if (leg->sectors == 0)
        return rtv_err_set(err, EINVAL, "PV leg table of 0 sectors");
    if (leg->disk[0] == '\0') {
        *type = "error";
        if (len > 0)
            buf[0] = '\0';
        return 0;
    }
    if ((rc = check_leg("PV", leg->disk, err)) < 0)
        return rc;
    *type = "linear";
    if ((size_t)snprintf(buf, len, "%s 0", leg->disk) >= len)
        return rtv_err_set(err, ENAMETOOLONG, "PV leg table: buffer too short");
    return 0;
}

int rtv_dm_leg_parse(const char *type, uint64_t sectors, const char *params,
                     struct rtv_dm_leg *leg, struct rtv_err *err)
{
    char tmp[2 * RTV_DM_DEV_MAX], *f[2];

    memset(leg, 0, sizeof(*leg));
    leg->sectors = sectors;
    if (type != NULL && strcmp(type, "error") == 0)
        return 0;
    if (type == NULL || strcmp(type, "linear") != 0)
        return rtv_err_set(err, EINVAL, "PV leg table: target type \"%s\", not error or "
                           "linear", type ? type : "(none)");
    if (params == NULL || strlen(params) >= sizeof(tmp) ||
        split(params, tmp, sizeof(tmp), f, 2) != 2 || strcmp(f[1], "0") != 0)
        return rtv_err_set(err, EINVAL, "PV leg table \"linear %s\": not <disk> 0",
                           params ? params : "(none)");
    if (strlen(f[0]) >= sizeof(leg->disk))
        return rtv_err_set(err, EINVAL, "PV leg table \"linear %s\": a disk name longer "
                           "than %d characters", params, RTV_DM_DEV_MAX - 1);
    snprintf(leg->disk, sizeof(leg->disk), "%s", f[0]);
    return 0;
}
