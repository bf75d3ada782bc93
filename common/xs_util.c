/* Store helpers on top of the seam; see rtvirt/xs_util.h. */
#include "rtvirt/xs_util.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rtvirt/clock.h"

int rtv_xs_transact(struct rtv_store *s, unsigned max_tries,
                    rtv_xs_txn_fn fn, void *arg)
{
    if (max_tries == 0)
        max_tries = RTV_XS_TXN_TRIES;

    for (unsigned try = 0; try < max_tries; try++) {
        rtv_txn_t t;
        int rc = rtv_xs_txn_start(s, &t);
        if (rc < 0)
            return rc;

        rc = fn(s, t, arg);
        if (rc < 0) {
            rtv_xs_txn_end(s, t, true);
            if (rc == -EAGAIN)
                continue;
            return rc;
        }
        rc = rtv_xs_txn_end(s, t, false);
        if (rc != -EAGAIN)
            return rc;
        /* Someone changed what we read: redo the whole body on fresh data. */
    }
    return -EAGAIN;
}

int rtv_xs_printf(struct rtv_store *s, rtv_txn_t t, const char *path,
                  const char *fmt, ...)
{
    char buf[RTV_XS_VALUE_MAX + 1];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= sizeof(buf))
        return -E2BIG;
    return rtv_xs_write(s, t, path, buf, (size_t)n);
}

int rtv_parse_uint(const char *text, unsigned long long max,
                   unsigned long long *out)
{
    unsigned long long v = 0;

    if (text == NULL || text[0] == '\0')
        return -EINVAL;
    if (text[0] == '0' && text[1] != '\0')
        return -EINVAL;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*p - '0');
        /* v * 10 + d > max, written so that nothing can wrap around. */
        if (v > max / 10 || d > max - v * 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int rtv_xs_read_uint(struct rtv_store *s, rtv_txn_t t, const char *path,
                     unsigned long long max, unsigned long long *out)
{
    char *val;
    size_t len;
    int rc = rtv_xs_read(s, t, path, &val, &len);
    if (rc < 0)
        return rc;
    rc = strlen(val) == len ? rtv_parse_uint(val, max, out) : -EINVAL;
    free(val);
    return rc;
}

int rtv_xs_wait_on(struct rtv_store *s, const char *dir, unsigned timeout_ms,
                   rtv_xs_wait_fn done, void *arg, struct rtv_err *err)
{
    static unsigned serial;
    uint64_t deadline = rtv_now_ms() + timeout_ms;
    char token[64], *p, *tok;
    int rc;

    snprintf(token, sizeof(token), "rtv-wait-%ld-%u", (long)getpid(), ++serial);
    if ((rc = rtv_xs_watch(s, dir, token)) < 0)
        return rtv_err_set(err, -rc, "cannot watch %s: %s", dir, strerror(-rc));
    for (;;) {
        if ((rc = done(s, arg, err)) != 0) {
            rc = rc > 0 ? 0 : rc;
            break;
        }
        uint64_t now = rtv_now_ms();
        if (now >= deadline) {
            rc = -ETIMEDOUT;
            break;
        }
        struct pollfd pfd = { .fd = rtv_xs_watch_fd(s), .events = POLLIN };
        int left = (int)(deadline - now);
        if (poll(&pfd, 1, left > 200 ? 200 : left) < 0 && errno != EINTR) {
            rc = rtv_err_set(err, errno, "poll: %s", strerror(errno));
            break;
        }
        while (rtv_xs_read_watch(s, &p, &tok) == 0) {
            free(p);
            free(tok);
        }
    }
    rtv_xs_unwatch(s, dir, token);
    return rc;
}

int rtv_xs_read_text(struct rtv_store *s, rtv_txn_t t, const char *path,
                     char *buf, size_t len)
{
    char *v;
    size_t n;
    int rc = rtv_xs_read(s, t, path, &v, &n);

    buf[0] = '\0';
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    snprintf(buf, len, "%s", v);
    free(v);
    return 0;
}

int rtv_xs_rm_empty_parents(struct rtv_store *s, rtv_txn_t t, const char *path,
                            unsigned levels)
{
    char dir[RTV_XS_PATH_MAX], *slash;

    snprintf(dir, sizeof(dir), "%s", path);
    for (unsigned up = 0; up < levels; up++) {
        char **ents = NULL;
        unsigned n = 0;
        int rc;

        if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
            return 0;
        *slash = '\0';
        rc = rtv_xs_directory(s, t, dir, &ents, &n);
        free(ents);
        if (rc == -ENOENT)
            continue;
        if (rc < 0)
            return rc;
        if (n > 0)
            return 0;   /* another device (or anything else) still there */
        if ((rc = rtv_xs_rm(s, t, dir)) < 0 && rc != -ENOENT)
            return rc;
    }
    return 0;
}

bool rtv_xs_store_failed(int rc)
{
    return rc < 0 && rc != -ENOENT && rc != -EINVAL && rc != -ERANGE && rc != -E2BIG &&
           rc != -EACCES;
}
