/*
 * The queue in front of a switched NIC's emulated leg; see backd_vif_txq.h.
 */
#include "backd_vif_txq.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtvirt/seam.h"

#define TXQ_MAX 1000000ull   /* what the kernel takes is far below; a bound on our parse */

/* The tap's tx_queue_len; -ENOENT: no such netdev. */
static int get_len(const char *path, unsigned *len)
{
    char buf[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return -e;
    buf[n] = '\0';
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (end == buf || (*end != '\0' && *end != '\n') || errno != 0 || v > TXQ_MAX)
        return -EINVAL;
    *len = (unsigned)v;
    return 0;
}

static int set_len(const char *path, unsigned len, struct rtv_err *err)
{
    char buf[16];
    /* O_TRUNC as a shell's ">" (sysfs ignores it; a plain file needs it) */
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);

    if (fd < 0) {
        if (errno == ENOENT)
            return 0;   /* the tap went meanwhile */
        return rtv_err_set(err, errno, "%s: %s", path, strerror(errno));
    }
    int l = snprintf(buf, sizeof(buf), "%u", len);
    ssize_t n = write(fd, buf, (size_t)l);
    int e = errno;
    close(fd);
    if (n != l)
        return rtv_err_set(err, n < 0 ? e : EIO, "%s <- %u: %s", path, len,
                           strerror(n < 0 ? e : EIO));
    return 1;
}

/* The tap's path and length: 1 found, 0 no such tap (or none named), -errno. */
static int tap_len(const char *sysfs, const char *tap, char *p, size_t plen, unsigned *cur,
                   struct rtv_err *err)
{
    int rc;

    if (tap == NULL || tap[0] == '\0')
        return 0;
    snprintf(p, plen, "%s/%s/tx_queue_len", sysfs, tap);
    if ((rc = get_len(p, cur)) == -ENOENT)
        return 0;
    if (rc < 0)
        return rtv_err_set(err, -rc, "%s: %s", p, strerror(-rc));
    return 1;
}

int backd_vif_txq_bound(const char *sysfs, const char *tap, unsigned max, unsigned *was,
                        bool *changed, struct rtv_err *err)
{
    char p[256];
    unsigned cur;
    int rc;

    *was = 0;
    if (max == 0 || (rc = tap_len(sysfs, tap, p, sizeof(p), &cur, err)) <= 0)
        return max == 0 ? 0 : rc;
    if (cur <= max)
        return 0;
    if ((rc = set_len(p, max, err)) < 0)
        return rc;
    if (rc > 0) {
        *was = cur;
        *changed = true;
    }
    return 0;
}

int backd_vif_txq_restore(const char *sysfs, const char *tap, unsigned len, bool *changed,
                          struct rtv_err *err)
{
    char p[256];
    unsigned cur;
    int rc;

    if (len == 0 || (rc = tap_len(sysfs, tap, p, sizeof(p), &cur, err)) <= 0)
        return len == 0 ? 0 : rc;
    if (cur == len)
        return 0;
    if ((rc = set_len(p, len, err)) < 0)
        return rc;
    *changed = rc > 0;
    return 0;
}

/* ---- the length to give back, across incarnations ---------------------------- */

#define SAVE_PREFIX "vif-txq-"

static int save_path(char *buf, size_t len, const char *dir, unsigned dom, const char *key)
{
    int n = snprintf(buf, len, "%s/" SAVE_PREFIX "%u-%s", dir, dom, key);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int backd_vif_txq_get(const char *sysfs, const char *tap, unsigned *len, struct rtv_err *err)
{
    char p[256];

    return tap_len(sysfs, tap, p, sizeof(p), len, err);
}

int backd_vif_txq_save(const char *dir, unsigned dom, const char *key, unsigned len,
                       struct rtv_err *err)
{
    char p[256], tmp[272], buf[16];
    int rc;

    if ((rc = save_path(p, sizeof(p), dir, dom, key)) < 0)
        return rtv_err_set(err, -rc, "%s/" SAVE_PREFIX "%u-%s: name too long", dir, dom, key);
    snprintf(tmp, sizeof(tmp), "%s.new", p);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return rtv_err_set(err, errno, "%s: %s", tmp, strerror(errno));
    int l = snprintf(buf, sizeof(buf), "%u\n", len);
    ssize_t n = write(fd, buf, (size_t)l);
    int e = n < 0 ? errno : EIO;
    bool ok = n == l;

    if (close(fd) < 0 && ok) {
        ok = false;
        e = errno;
    }
    if (ok && rename(tmp, p) < 0) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        return rtv_err_set(err, e, "%s: %s", p, strerror(e));
    }
    return 0;
}

int backd_vif_txq_load(const char *dir, unsigned dom, const char *key, unsigned *len)
{
    char p[256];
    int rc;

    if ((rc = save_path(p, sizeof(p), dir, dom, key)) < 0)
        return rc;
    if ((rc = get_len(p, len)) == -ENOENT)
        return 0;
    if (rc == 0 && *len == 0)
        rc = -EINVAL;   /* 0 is "untouched": never saved */
    return rc < 0 ? rc : 1;
}

void backd_vif_txq_forget(const char *dir, unsigned dom, const char *key)
{
    char p[256];

    if (save_path(p, sizeof(p), dir, dom, key) == 0)
        unlink(p);
}

int backd_vif_txq_each(const char *dir,
                       void (*fn)(void *ctx, unsigned dom, const char *key, unsigned len),
                       void *ctx)
{
    DIR *d = opendir(dir);
    int n = 0;

    if (d == NULL)
        return errno == ENOENT ? 0 : -errno;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        const char *name = e->d_name;
        char key[16], *end;
        unsigned len;

        if (strncmp(name, SAVE_PREFIX, strlen(SAVE_PREFIX)) != 0)
            continue;
        name += strlen(SAVE_PREFIX);
        errno = 0;
        unsigned long dom = strtoul(name, &end, 10);
        /* <dom>-<key>, the key a devid (a ".new" left by a crash is not) */
        if (end == name || *end != '-' || errno != 0 || dom > RTV_DOMID_MAX ||
            strlen(end + 1) == 0 || strlen(end + 1) >= sizeof(key) ||
            strspn(end + 1, "0123456789") != strlen(end + 1))
            continue;
        snprintf(key, sizeof(key), "%s", end + 1);
        if (backd_vif_txq_load(dir, (unsigned)dom, key, &len) == 1) {
            fn(ctx, (unsigned)dom, key, len);
            n++;
        }
    }
    closedir(d);
    return n;
}
