/*
 * Finding the dm device's legs in sysfs (dmctl.h: shunt_disk_*).
 *
 * The PV leg is the disk the stock xen-blkfront made for
 * device/vbd/<devid>: blkfront adds its gendisk under the xenbus device
 * "vbd-<devid>", so sysfs has bus/xen/devices/vbd-<devid>/block/<name>/
 * once the frontend is Connected, and only then.  Its name (xvdb, or xvdb1
 * for a devid that is not a whole-disk number) is never guessed.
 */
#include "dmctl.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rtvirt/xs_util.h"

static int read_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    int rc = 0;

    if (f == NULL)
        return -errno;
    if (fgets(buf, (int)len, f) == NULL)
        rc = -EIO;
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return rc;
}

/* The logical block size of the disk whose sysfs directory is dir: its
 * queue's, or for a partition (no queue of its own) its disk's. */
static int read_lbs(const char *dir, unsigned *lbs, struct rtv_err *err)
{
    char path[512], v[64];
    unsigned long long n;
    int rc;

    snprintf(path, sizeof(path), "%s/queue/logical_block_size", dir);
    if ((rc = read_line(path, v, sizeof(v))) == -ENOENT) {
        snprintf(path, sizeof(path), "%s/../queue/logical_block_size", dir);
        rc = read_line(path, v, sizeof(v));
    }
    if (rc < 0)
        return rtv_err_set(err, -rc, "%s: %s", path, strerror(-rc));
    if (rtv_parse_uint(v, 65536, &n) < 0 || n < 512)
        return rtv_err_set(err, EINVAL, "%s: \"%s\" is not a logical block size", path, v);
    *lbs = (unsigned)n;
    return 0;
}

/* dev ("M:m"), size (sectors) and logical block size of the disk whose
 * sysfs directory is dir. */
static int read_disk(const char *dir, const char *name, struct shunt_disk *d,
                     struct rtv_err *err)
{
    char path[512], v[64];
    unsigned long long sectors;
    unsigned lbs = 0;
    unsigned ma, mi;
    char extra;
    int rc;

    snprintf(path, sizeof(path), "%s/dev", dir);
    if ((rc = read_line(path, v, sizeof(v))) < 0)
        return rtv_err_set(err, -rc, "%s: %s", path, strerror(-rc));
    if (sscanf(v, "%u:%u%c", &ma, &mi, &extra) != 2)
        return rtv_err_set(err, EINVAL, "%s: \"%s\" is not major:minor", path, v);
    snprintf(path, sizeof(path), "%s/size", dir);
    if ((rc = read_line(path, v, sizeof(v))) < 0)
        return rtv_err_set(err, -rc, "%s: %s", path, strerror(-rc));
    if (rtv_parse_uint(v, UINT64_MAX, &sectors) < 0)
        return rtv_err_set(err, EINVAL, "%s: \"%s\" is not a sector count", path, v);
    if ((rc = read_lbs(dir, &lbs, err)) < 0)
        return rc;
    memset(d, 0, sizeof(*d));
    snprintf(d->name, sizeof(d->name), "%.63s", name);
    rtv_dm_devnum(d->dev, sizeof(d->dev), ma, mi);
    d->sectors = sectors;
    d->lbs = lbs;
    return 0;
}

int shunt_disk_of_vbd(const char *sysfs, unsigned devid, struct shunt_disk *d,
                      struct rtv_err *err)
{
    char dir[300], disk[600];
    struct dirent *e;
    DIR *dh;
    int rc = -ENOENT;

    snprintf(dir, sizeof(dir), "%s/bus/xen/devices/vbd-%u/block", sysfs, devid);
    if ((dh = opendir(dir)) == NULL) {
        rc = -errno;
        return rtv_err_set(err, -rc, "%s: %s", dir, strerror(-rc));
    }
    while ((e = readdir(dh)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(disk, sizeof(disk), "%s/%s", dir, e->d_name);
        rc = read_disk(disk, e->d_name, d, err);
        break;
    }
    closedir(dh);
    if (rc == -ENOENT)
        rtv_err_set(err, ENOENT, "%s: no disk yet", dir);
    return rc;
}

int shunt_disk_of_devnum(const char *sysfs, unsigned major, unsigned minor,
                         struct shunt_disk *d, struct rtv_err *err)
{
    char dir[300], link[512], name[64];
    ssize_t n;
    const char *base;

    snprintf(dir, sizeof(dir), "%s/dev/block/%u:%u", sysfs, major, minor);
    n = readlink(dir, link, sizeof(link) - 1);
    if (n < 0)
        snprintf(name, sizeof(name), "%u:%u", major, minor);   /* a plain directory */
    else {
        link[n] = '\0';
        base = strrchr(link, '/');
        snprintf(name, sizeof(name), "%.63s", base ? base + 1 : link);
    }
    return read_disk(dir, name, d, err);
}

int shunt_writes_in_flight(const char *sysfs, const char *dev, unsigned long *writes,
                           struct rtv_err *err)
{
    char path[300], v[64];
    unsigned long r, w;
    char extra;
    int rc;

    snprintf(path, sizeof(path), "%s/dev/block/%s/inflight", sysfs, dev);
    if ((rc = read_line(path, v, sizeof(v))) < 0)
        return rtv_err_set(err, -rc, "%s: %s", path, strerror(-rc));
    if (sscanf(v, "%lu %lu %c", &r, &w, &extra) != 2)
        return rtv_err_set(err, EINVAL, "%s: \"%s\" is not \"reads writes\"", path, v);
    *writes = w;
    return 0;
}

bool shunt_flush_at_flip(const char *sysfs)
{
    char path[300], v[16];

    snprintf(path, sizeof(path), "%s/module/dm_rtvirt/parameters/flush_at_flip", sysfs);
    if (read_line(path, v, sizeof(v)) < 0)
        return true;   /* the module's default */
    return !(v[0] == 'N' || v[0] == 'n' || v[0] == '0');
}
