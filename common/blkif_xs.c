/*
 * vbd xenstore access through the schema table (see rtvirt/blkif_xs.h).
 */
#include "rtvirt/blkif_xs.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/blkif_abi.h"
#include "rtvirt/xs_util.h"

int blkif_xs_path(char *buf, size_t len, const struct blkif_xs_dev *d,
                  enum rtv_xs_node node, unsigned queue, unsigned ring)
{
    struct rtv_xs_args a = {
        .domid = d->domid, .bedomid = d->bedomid, .devid = d->devid,
        .btype = d->btype, .queue = queue, .ring = ring,
    };

    return rtv_xs_path(buf, len, node, &a, NULL);
}

int blkif_xs_read(struct rtv_store *s, rtv_txn_t t, const struct blkif_xs_dev *d,
                  enum rtv_xs_node node, unsigned queue, unsigned ring,
                  char **val, struct rtv_err *err)
{
    char path[RTV_XS_PATH_MAX];
    int rc = blkif_xs_path(path, sizeof(path), d, node, queue, ring);

    if (rc < 0)
        return rc;
    rc = rtv_xs_read(s, t, path, val, NULL);
    if (rc < 0)
        return rc;
    rc = rtv_xs_check_value(node, *val, err);
    if (rc < 0) {
        free(*val);
        *val = NULL;
    }
    return rc;
}

int blkif_xs_read_uint(struct rtv_store *s, rtv_txn_t t, const struct blkif_xs_dev *d,
                       enum rtv_xs_node node, unsigned queue, unsigned ring,
                       unsigned long long max, bool def_ok, unsigned long long def,
                       unsigned long long *out)
{
    char *val = NULL;
    int rc = blkif_xs_read(s, t, d, node, queue, ring, &val, NULL);

    if (rc == -ENOENT && def_ok) {
        *out = def;
        return 0;
    }
    if (rc < 0)
        return rc;
    rc = rtv_parse_uint(val, max, out);
    free(val);
    return rc;
}

int blkif_xs_printf(struct rtv_store *s, rtv_txn_t t, const struct blkif_xs_dev *d,
                    enum rtv_xs_node node, unsigned queue, unsigned ring,
                    const char *fmt, ...)
{
    char path[RTV_XS_PATH_MAX], val[RTV_XS_VALUE_MAX];
    va_list ap;
    int rc = blkif_xs_path(path, sizeof(path), d, node, queue, ring), n;

    if (rc < 0)
        return rc;
    va_start(ap, fmt);
    n = vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(val))
        return -E2BIG;
    return rtv_xs_write(s, t, path, val, (size_t)n);
}

/* ---- toolstack --------------------------------------------------------------- */

int blkif_vdev_to_devid(const char *vdev, unsigned *devid)
{
    unsigned long long n;
    const char *p;
    unsigned disk = 0, part = 0;
    size_t letters = 0;

    if (vdev == NULL || *vdev == '\0')
        return -EINVAL;
    if (rtv_parse_uint(vdev, 2147483647ull, &n) == 0) {
        *devid = (unsigned)n;
        return 0;
    }
    if (strncmp(vdev, "xvd", 3) == 0)
        p = vdev + 3;
    else if (strncmp(vdev, "hd", 2) == 0 || strncmp(vdev, "sd", 2) == 0)
        p = vdev + 2;
    else
        return -EINVAL;
    /* Disk letters: a..z, then aa.. as bijective base 26. */
    while (p[letters] >= 'a' && p[letters] <= 'z') {
        disk = disk * 26 + (unsigned)(p[letters] - 'a' + 1);
        if (++letters > 3)
            return -EINVAL;
    }
    if (letters == 0)
        return -EINVAL;
    disk--;
    if (p[letters] != '\0') {
        if (rtv_parse_uint(p + letters, 255, &n) < 0 || n == 0)
            return -EINVAL;
        part = (unsigned)n;
    }
    if (vdev[0] == 'x') {
        if (disk < 16 && part < 16)
            *devid = (202u << 8) | (disk << 4) | part;
        else if (disk < (1u << 20))
            *devid = BLKIF_DEVID_EXT_DISK(disk) | part;   /* extended scheme */
        else
            return -EINVAL;
    } else if (vdev[0] == 'h') {
        static const unsigned major[] = { 3, 22, 33, 34, 56, 57, 88, 89, 90, 91 };

        if (disk >= 2 * (sizeof(major) / sizeof(major[0])) || part > 63)
            return -EINVAL;
        *devid = (major[disk / 2] << 8) | ((disk % 2) << 6) | part;
    } else {
        if (disk >= 16 || part > 15)
            return -EINVAL;
        *devid = (8u << 8) | (disk << 4) | part;
    }
    return 0;
}

long blkif_devid_ext_disk(unsigned devid)
{
    if ((devid & ~((1u << 28) - 1)) != BLKIF_DEVID_EXT || (devid & 0xffu) != 0)
        return -1;
    return (long)((devid & ((1u << 28) - 1)) >> 8);
}

static int dev_dirs(const struct blkif_xs_dev *d, char *be, size_t belen, char *fe,
                    size_t felen)
{
    struct rtv_xs_args a = { .domid = d->domid, .bedomid = d->bedomid,
                             .devid = d->devid, .btype = d->btype };
    int rc = rtv_xs_dir(be, belen, RTV_XS_VBD_BE_STATE, &a, NULL);

    return rc < 0 ? rc : rtv_xs_dir(fe, felen, RTV_XS_VBD_FE_STATE, &a, NULL);
}

static int attach_txn(struct rtv_store *s, rtv_txn_t t, void *arg)
{
    const struct blkif_xs_attach *a = arg;
    const struct blkif_xs_dev *d = &a->dev;
    char be[RTV_XS_PATH_MAX], fe[RTV_XS_PATH_MAX], *v = NULL;
    int rc;

    if ((rc = dev_dirs(d, be, sizeof(be), fe, sizeof(fe))) < 0)
        return rc;
    if (rtv_xs_read(s, t, be, &v, NULL) == 0 || rtv_xs_read(s, t, fe, &v, NULL) == 0) {
        free(v);
        return -EEXIST;
    }
    const struct rtv_xs_perm fep[2] = { { d->domid, RTV_XS_PERM_NONE },
                                        { d->bedomid, RTV_XS_PERM_READ } };
    const struct rtv_xs_perm bep[2] = { { d->bedomid, RTV_XS_PERM_NONE },
                                        { d->domid, RTV_XS_PERM_READ } };
    /* Directories first, with their permissions, so every node written
     * below inherits them. */
    if ((rc = rtv_xs_mkdir(s, t, be)) < 0 || (rc = rtv_xs_set_perms(s, t, be, bep, 2)) < 0 ||
        (rc = rtv_xs_mkdir(s, t, fe)) < 0 || (rc = rtv_xs_set_perms(s, t, fe, fep, 2)) < 0)
        return rc;
#define W(node, perms, ...) do { \
        char p_[RTV_XS_PATH_MAX]; \
        if ((rc = blkif_xs_printf(s, t, d, RTV_XS_##node, 0, 0, __VA_ARGS__)) < 0 || \
            (rc = blkif_xs_path(p_, sizeof(p_), d, RTV_XS_##node, 0, 0)) < 0 || \
            (rc = rtv_xs_set_perms(s, t, p_, perms, 2)) < 0) \
            return rc; \
    } while (0)
    W(VBD_BE_FRONTEND, bep, "%s", fe);
    W(VBD_BE_FRONTEND_ID, bep, "%u", d->domid);
    W(VBD_BE_PARAMS, bep, "%s", a->params);
    W(VBD_BE_MODE, bep, "%s", a->read_only ? "r" : "w");
    W(VBD_BE_TYPE, bep, "phy");
    W(VBD_BE_DEVICE_TYPE, bep, "%s", a->cdrom ? "cdrom" : "disk");
    W(VBD_BE_ONLINE, bep, "1");
    W(VBD_BE_STATE, bep, "%d", XenbusStateInitialising);
    W(VBD_FE_BACKEND, fep, "%s", be);
    W(VBD_FE_BACKEND_ID, fep, "%u", d->bedomid);
    W(VBD_FE_VIRTUAL_DEVICE, fep, "%u", d->devid);
    W(VBD_FE_DEVICE_TYPE, fep, "%s", a->cdrom ? "cdrom" : "disk");
    W(VBD_FE_STATE, fep, "%d", XenbusStateInitialising);
#undef W
    return 0;
}

int blkif_xs_attach(struct rtv_store *s, const struct blkif_xs_attach *a)
{
    struct rtv_err err;

    if (a->params == NULL || a->params[0] == '\0' ||
        rtv_xs_check_value(RTV_XS_VBD_BE_PARAMS, a->params, &err) < 0)
        return -EINVAL;
    return rtv_xs_transact(s, 0, attach_txn, (void *)a);
}

static int close_txn(struct rtv_store *s, rtv_txn_t t, void *arg)
{
    const struct blkif_xs_dev *d = arg;
    int rc = blkif_xs_printf(s, t, d, RTV_XS_VBD_BE_ONLINE, 0, 0, "0");

    return rc < 0 ? rc : blkif_xs_printf(s, t, d, RTV_XS_VBD_BE_STATE, 0, 0, "%d",
                                         XenbusStateClosing);
}

/* Removes dir (inside t) if it has no children; absent counts as removed.
 * 1 if it is still there because something is in it. */
static int rm_if_empty(struct rtv_store *s, rtv_txn_t t, const char *dir)
{
    char **names = NULL;
    unsigned n = 0;
    int rc = rtv_xs_directory(s, t, dir, &names, &n);

    free(names);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    if (n > 0)
        return 1;
    rc = rtv_xs_rm(s, t, dir);
    return rc == -ENOENT ? 0 : rc;
}

/* Removes the device directory path, then, as libxl's path clean-up does,
 * the parents it leaves empty, up to levels of them (at most up to the
 * domain's own directory): under backend/vbd3 nobody else would ever remove
 * them, and they would outlive every vbd.  That includes backend itself:
 * libxl's clean-up keeps it when a guest goes while a twin still holds
 * backend/vbd3, and the sweep of that twin then leaves it empty. */
static int rm_dev_dir(struct rtv_store *s, rtv_txn_t t, char *path, unsigned levels)
{
    int rc = rtv_xs_rm(s, t, path);

    if (rc < 0 && rc != -ENOENT)
        return rc;
    for (unsigned i = 0; i < levels; i++) {
        *strrchr(path, '/') = '\0';
        rc = rm_if_empty(s, t, path);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
    return 0;
}

static int remove_txn(struct rtv_store *s, rtv_txn_t t, void *arg)
{
    const struct blkif_xs_dev *d = arg;
    char be[RTV_XS_PATH_MAX], fe[RTV_XS_PATH_MAX];
    int rc = dev_dirs(d, be, sizeof(be), fe, sizeof(fe));

    if (rc < 0)
        return rc;
    /* device/vbd/<devid> (then device/vbd, device), backend/<type>/<domid>/
     * <devid> (then backend/<type>/<domid>, backend/<type>, backend) */
    rc = rm_dev_dir(s, t, fe, 2);
    return rc < 0 ? rc : rm_dev_dir(s, t, be, 3);
}

int blkif_xs_remove(struct rtv_store *s, const struct blkif_xs_dev *d)
{
    return rtv_xs_transact(s, 0, remove_txn, (void *)d);
}

int blkif_xs_close(struct rtv_store *s, const struct blkif_xs_dev *d)
{
    return rtv_xs_transact(s, 0, close_txn, (void *)d);
}

/* rtv_xs_wait_on's check: the backend reached Closed (a state that cannot
 * be read is waited out like any other). */
static int backend_closed(struct rtv_store *s, void *arg, struct rtv_err *err)
{
    const struct blkif_xs_dev *d = arg;
    unsigned long long st = 0;

    (void)err;
    return blkif_xs_read_uint(s, RTV_XS_NO_TXN, d, RTV_XS_VBD_BE_STATE, 0, 0, 8, false, 0,
                              &st) == 0 && st == XenbusStateClosed;
}

int blkif_xs_detach(struct rtv_store *s, const struct blkif_xs_dev *d, int timeout_ms,
                    bool force)
{
    char path[RTV_XS_PATH_MAX];
    int rc;

    rc = blkif_xs_close(s, d);
    if (rc < 0)
        return rc;
    if ((rc = blkif_xs_path(path, sizeof(path), d, RTV_XS_VBD_BE_STATE, 0, 0)) < 0)
        return rc;
    /* Bounded wait for the backend to reach Closed (it waits for the
     * frontend to get there first). */
    rc = rtv_xs_wait_on(s, path, timeout_ms > 0 ? (unsigned)timeout_ms : 0, backend_closed,
                        (void *)d, NULL);
    if (rc == 0 || force) {
        int rc2 = blkif_xs_remove(s, d);

        /* A forced removal that failed outranks the timeout: the nodes are
         * still there, and a caller told -ETIMEDOUT would think them gone. */
        if (rc == 0 || rc2 < 0)
            rc = rc2;
    }
    return rc;
}
