/*
 * The schema's permissions, both ways: which node a concrete path is
 * (placeholders read back out of it), what permissions the schema gives
 * that node, and an audit of a store against them.  See rtvirt/xs_perms.h.
 */
#include "rtvirt/xs_perms.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/xs_util.h"

static const struct rtv_xs_param_spec *param_named(const char *name, size_t len)
{
    for (unsigned i = 0; i < RTV_XS_PARAM_COUNT; i++)
        if (strlen(rtv_xs_params[i].name) == len &&
            strncmp(rtv_xs_params[i].name, name, len) == 0)
            return &rtv_xs_params[i];
    return NULL;
}

/* One template against one path, component by component; a template
 * component is a literal, or a literal prefix and one placeholder (what
 * schema.py allows and the schema uses: ring-ref$RING, queue-$QUEUE). */
static bool match_node(const char *t, const char *p, struct rtv_xs_args *a,
                       char *strs, size_t len)
{
    size_t used = 0;

    memset(a, 0, sizeof(*a));
    while (*t == '/' && *p == '/') {
        size_t tl, pl;
        const char *dollar;

        t++;
        p++;
        tl = strcspn(t, "/");
        pl = strcspn(p, "/");
        dollar = memchr(t, '$', tl);
        if (dollar == NULL) {
            if (tl != pl || strncmp(t, p, tl) != 0)
                return false;
        } else {
            size_t pre = (size_t)(dollar - t), vl = pl - pre;
            const struct rtv_xs_param_spec *ps = param_named(dollar, tl - pre);
            char *field;

            if (ps == NULL || pl <= pre || strncmp(t, p, pre) != 0 || used + vl + 1 > len)
                return false;
            memcpy(strs + used, p + pre, vl);
            strs[used + vl] = '\0';
            if (rtv_xs_check_param(ps, strs + used) != 0)
                return false;
            field = (char *)a + ps->offset;
            if (ps->type.kind == RTV_XS_T_UINT) {
                unsigned long long v;
                rtv_parse_uint(strs + used, ps->type.max, &v);
                memcpy(field, &v, sizeof(v));
            } else {
                const char *s = strs + used;
                memcpy(field, &s, sizeof(s));
                used += vl + 1;
            }
        }
        t += tl;
        p += pl;
    }
    return *t == '\0' && *p == '\0';
}

int rtv_xs_node_match(const char *path, struct rtv_xs_args *a, char *strs,
                      size_t len)
{
    for (int i = 0; i < RTV_XS_NODE_COUNT; i++)
        if (match_node(rtv_xs_nodes[i].path, path, a, strs, len))
            return i;
    return -1;
}

int rtv_xs_node_perms(enum rtv_xs_node node, const struct rtv_xs_args *a,
                      struct rtv_xs_perm *out, unsigned max)
{
    const char *s;
    unsigned n = 0;

    if ((unsigned)node >= RTV_XS_NODE_COUNT)
        return -EINVAL;
    s = rtv_xs_nodes[node].perms;
    while (*s) {
        unsigned bits = RTV_XS_PERM_NONE;
        unsigned long long id;
        size_t tl;

        s += strspn(s, " ");
        tl = strcspn(s, " ");
        if (tl == 0)
            break;
        /* The owner's entry may omit its letter ("$DOMID r0"): none. */
        if (strchr("nrwb", s[0]) && tl > 1) {
            bits = s[0] == 'r' ? RTV_XS_PERM_READ : s[0] == 'w' ? RTV_XS_PERM_WRITE
                 : s[0] == 'b' ? RTV_XS_PERM_BOTH : RTV_XS_PERM_NONE;
            s++;
            tl--;
        }
        if (s[0] == '$') {
            const struct rtv_xs_param_spec *ps = param_named(s, tl);
            if (ps == NULL || ps->type.kind != RTV_XS_T_UINT)
                return -EINVAL;
            memcpy(&id, (const char *)a + ps->offset, sizeof(id));
        } else {
            char num[24];
            if (tl >= sizeof(num))
                return -EINVAL;
            memcpy(num, s, tl);
            num[tl] = '\0';
            if (rtv_parse_uint(num, RTV_DOMID_MAX, &id) < 0)
                return -EINVAL;
        }
        if (id > RTV_DOMID_MAX || n >= max)
            return -EINVAL;
        out[n++] = (struct rtv_xs_perm){ (rtv_domid_t)id, bits };
        s += tl;
    }
    return n > 0 ? (int)n : -EINVAL;
}

/* "n0 r5": a permission list in the schema's notation. */
static void perms_text(char *buf, size_t len, const struct rtv_xs_perm *p, unsigned n)
{
    size_t off = 0;

    buf[0] = '\0';
    for (unsigned i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%c%u", i ? " " : "",
                                "nrwb"[p[i].perms & 3], p[i].domid);
}

/* Same owner (with the same access for everybody else), and the same
 * further entries in any order. */
static bool perms_equal(const struct rtv_xs_perm *x, unsigned nx,
                        const struct rtv_xs_perm *y, unsigned ny)
{
    if (nx != ny || nx == 0 || x[0].domid != y[0].domid || x[0].perms != y[0].perms)
        return false;
    for (unsigned i = 1; i < nx; i++) {
        bool found = false;
        for (unsigned j = 1; j < ny && !found; j++)
            found = x[i].domid == y[j].domid && x[i].perms == y[j].perms;
        if (!found)
            return false;
    }
    return true;
}

struct audit {
    struct rtv_store *s;
    unsigned          checked, mismatches;
    char             *report;
    size_t            len, off;
};

static void say(struct audit *au, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(struct audit *au, const char *fmt, ...)
{
    va_list ap;

    if (au->report == NULL || au->off >= au->len)
        return;
    va_start(ap, fmt);
    au->off += (size_t)vsnprintf(au->report + au->off, au->len - au->off, fmt, ap);
    va_end(ap);
}

static int audit_node(struct audit *au, const char *path)
{
    char strs[RTV_XS_PATH_MAX], want_txt[128], got_txt[128];
    struct rtv_xs_perm want[RTV_XS_PERMS_MAX], *got = NULL;
    struct rtv_xs_args a;
    unsigned ngot = 0;
    int node = rtv_xs_node_match(path, &a, strs, sizeof(strs)), nwant, rc;

    if (node < 0)
        return 0;   /* a directory, or a node of someone else's contract */
    nwant = rtv_xs_node_perms((enum rtv_xs_node)node, &a, want, RTV_XS_PERMS_MAX);
    if (nwant < 0) {
        say(au, "%s: schema node %s: perms \"%s\" unreadable\n", path,
            rtv_xs_nodes[node].id, rtv_xs_nodes[node].perms);
        au->mismatches++;
        return 0;
    }
    if ((rc = rtv_xs_get_perms(au->s, RTV_XS_NO_TXN, path, &got, &ngot)) < 0)
        return rc == -ENOENT ? 0 : rc;   /* gone meanwhile: nothing to judge */
    au->checked++;
    if (!perms_equal(want, (unsigned)nwant, got, ngot)) {
        perms_text(want_txt, sizeof(want_txt), want, (unsigned)nwant);
        perms_text(got_txt, sizeof(got_txt), got, ngot);
        say(au, "%s: perms %s, schema node %s says %s\n", path, got_txt,
            rtv_xs_nodes[node].id, want_txt);
        au->mismatches++;
    }
    free(got);
    return 0;
}

static int audit_tree(struct audit *au, const char *path, unsigned depth)
{
    char **names = NULL;
    unsigned n = 0;
    int rc;

    if (depth > 16)
        return 0;   /* deeper than any schema path */
    if ((rc = audit_node(au, path)) < 0)
        return rc;
    rc = rtv_xs_directory(au->s, RTV_XS_NO_TXN, path, &names, &n);
    if (rc < 0)
        return rc == -ENOENT ? 0 : rc;
    for (unsigned i = 0; i < n && rc >= 0; i++) {
        char child[RTV_XS_PATH_MAX];

        if ((size_t)snprintf(child, sizeof(child), "%s/%s", path, names[i]) >= sizeof(child))
            continue;
        rc = audit_tree(au, child, depth + 1);
    }
    free(names);
    return rc < 0 ? rc : 0;
}

int rtv_xs_perms_audit(struct rtv_store *s, const char *root, unsigned *checked,
                       char *report, size_t len)
{
    struct audit au = { s, 0, 0, report, len, 0 };
    int rc;

    if (report && len)
        report[0] = '\0';
    rc = audit_tree(&au, root, 0);
    if (checked)
        *checked = au.checked;
    return rc < 0 ? rc : (int)au.mismatches;
}
