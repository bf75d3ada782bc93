/*
 * Path building and value checking over the generated node table.
 * The table comes from xenstore-schema/rtvirt-paths.md; see rtvirt/xs_schema.h.
 */
#include "rtvirt/xs_schema.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "rtvirt/xs_util.h"

void rtv_xs_type_describe(const struct rtv_xs_type_spec *t, char *buf,
                          size_t len)
{
    size_t off = 0;

    switch (t->kind) {
    case RTV_XS_T_ENUM:
    case RTV_XS_T_BOOL:
        off = (size_t)snprintf(buf, len, "one of:");
        for (unsigned i = 0; i < t->nvalues && off < len; i++)
            off += (size_t)snprintf(buf + off, len - off, "%s %s",
                                    i ? "," : "", t->values[i]);
        break;
    case RTV_XS_T_UINT:
        snprintf(buf, len, "a decimal number from %llu to %llu", t->min, t->max);
        break;
    case RTV_XS_T_STRING:
        snprintf(buf, len, "text of at most %llu printable characters", t->max);
        break;
    case RTV_XS_T_NAME:
        snprintf(buf, len,
                 "1 to %llu characters of [a-z0-9-], starting with a letter",
                 t->max);
        break;
    }
}

char *rtv_xs_quote(char *dst, size_t len, const char *src, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t off = 0, i;

    if (len == 0)
        return dst;
    for (i = 0; src[i] != '\0' && i < max; i++) {
        unsigned char c = (unsigned char)src[i];
        bool plain = c >= 0x20 && c != 0x7f && c != '\\';

        if (off + (plain ? 1 : 4) >= len)
            break;
        if (plain) {
            dst[off++] = (char)c;
        } else {
            dst[off++] = '\\';
            dst[off++] = 'x';
            dst[off++] = hex[c >> 4];
            dst[off++] = hex[c & 15];
        }
    }
    if (src[i] != '\0' && off + 3 < len) {
        memcpy(dst + off, "...", 3);
        off += 3;
    }
    dst[off] = '\0';
    return dst;
}

/* 0 if value fits t; otherwise -EINVAL (err filled, naming `what`). */
static int check_typed(const struct rtv_xs_type_spec *t, const char *what,
                       const char *value, struct rtv_err *err)
{
    char allowed[256], shown[64 * 4 + 4];
    unsigned long long n;
    size_t len = strlen(value);
    int ok = 0;

    switch (t->kind) {
    case RTV_XS_T_ENUM:
    case RTV_XS_T_BOOL:
        for (unsigned i = 0; i < t->nvalues && !ok; i++)
            ok = strcmp(value, t->values[i]) == 0;
        break;
    case RTV_XS_T_UINT:
        ok = rtv_parse_uint(value, t->max, &n) == 0 && n >= t->min;
        break;
    case RTV_XS_T_STRING:
        ok = len <= t->max;
        for (size_t i = 0; i < len && ok; i++)
            ok = (unsigned char)value[i] >= 0x20 && value[i] != 0x7f;
        break;
    case RTV_XS_T_NAME:
        ok = len >= 1 && len <= t->max && value[0] >= 'a' && value[0] <= 'z';
        for (size_t i = 0; i < len && ok; i++)
            ok = (value[i] >= 'a' && value[i] <= 'z') ||
                 (value[i] >= '0' && value[i] <= '9') || value[i] == '-';
        break;
    }
    if (ok)
        return 0;
    rtv_xs_type_describe(t, allowed, sizeof(allowed));
    /* The value is untrusted and may hold anything: quoted, so that the
     * message can be published as it is. */
    return rtv_err_set(err, EINVAL, "%s: value \"%s\" not allowed; allowed: %s",
                       what, rtv_xs_quote(shown, sizeof(shown), value, 64), allowed);
}

int rtv_xs_check_value(enum rtv_xs_node node, const char *value,
                       struct rtv_err *err)
{
    char what[160];

    if ((unsigned)node >= RTV_XS_NODE_COUNT)
        return rtv_err_set(err, EINVAL, "unknown xenstore node number %d", (int)node);
    if (value == NULL)
        return rtv_err_set(err, EINVAL, "node %s: no value", rtv_xs_nodes[node].id);
    snprintf(what, sizeof(what), "node %s", rtv_xs_nodes[node].id);
    return check_typed(&rtv_xs_nodes[node].type, what, value, err);
}

int rtv_xs_check_param(const struct rtv_xs_param_spec *p, const char *value)
{
    return check_typed(&p->type, p->name, value, NULL);
}

/* Renders one placeholder's value from args, checked against its type. */
static int format_param(const struct rtv_xs_param_spec *p,
                        const struct rtv_xs_args *args, const char *node_id,
                        char *buf, size_t len, struct rtv_err *err)
{
    const char *field = (const char *)args + p->offset;
    char what[160];

    snprintf(what, sizeof(what), "node %s: parameter %s", node_id, p->name);
    if (p->type.kind == RTV_XS_T_UINT) {
        unsigned long long v;
        memcpy(&v, field, sizeof(v));
        snprintf(buf, len, "%llu", v);
    } else {
        const char *s;
        memcpy(&s, field, sizeof(s));
        if (s == NULL)
            return rtv_err_set(err, EINVAL, "%s: missing", what);
        if (strlen(s) >= len)
            return rtv_err_set(err, ENAMETOOLONG, "%s: value too long", what);
        strcpy(buf, s);
    }
    return check_typed(&p->type, what, buf, err);
}

static int build(char *buf, size_t len, enum rtv_xs_node node,
                 const struct rtv_xs_args *args, int drop_leaf,
                 struct rtv_err *err)
{
    if ((unsigned)node >= RTV_XS_NODE_COUNT)
        return rtv_err_set(err, EINVAL, "unknown xenstore node number %d", (int)node);
    if (buf == NULL || len == 0)
        return rtv_err_set(err, EINVAL, "no buffer for the path");

    const struct rtv_xs_node_spec *n = &rtv_xs_nodes[node];
    const char *t = n->path;
    const char *end = t + strlen(t);
    size_t off = 0;

    if (drop_leaf)
        end = strrchr(t, '/');

    while (t < end) {
        char piece[RTV_XS_PATH_MAX];
        size_t plen;

        if (*t == '$') {
            size_t nlen = 1;
            while (t + nlen < end && t[nlen] >= 'A' && t[nlen] <= 'Z')
                nlen++;
            const struct rtv_xs_param_spec *p = NULL;
            for (unsigned i = 0; i < RTV_XS_PARAM_COUNT; i++)
                if (strlen(rtv_xs_params[i].name) == nlen &&
                    strncmp(rtv_xs_params[i].name, t, nlen) == 0)
                    p = &rtv_xs_params[i];
            /* The generator refuses templates with unknown placeholders. */
            if (p == NULL)
                return rtv_err_set(err, EINVAL, "node %s: bad template", n->id);
            int rc = format_param(p, args, n->id, piece, sizeof(piece), err);
            if (rc < 0)
                return rc;
            t += nlen;
        } else {
            const char *next = strchr(t, '$');
            if (next == NULL || next > end)
                next = end;
            plen = (size_t)(next - t);
            memcpy(piece, t, plen);
            piece[plen] = '\0';
            t = next;
        }
        plen = strlen(piece);
        if (off + plen >= len || off + plen >= RTV_XS_PATH_MAX)
            return rtv_err_set(err, ENAMETOOLONG, "node %s: path longer than %zu bytes",
                               n->id, len - 1);
        memcpy(buf + off, piece, plen);
        off += plen;
    }
    buf[off] = '\0';
    return 0;
}

int rtv_xs_path(char *buf, size_t len, enum rtv_xs_node node,
                const struct rtv_xs_args *args, struct rtv_err *err)
{
    return build(buf, len, node, args, 0, err);
}

int rtv_xs_dir(char *buf, size_t len, enum rtv_xs_node node,
               const struct rtv_xs_args *args, struct rtv_err *err)
{
    return build(buf, len, node, args, 1, err);
}

const char *rtv_xs_leaf(enum rtv_xs_node node)
{
    if ((unsigned)node >= RTV_XS_NODE_COUNT)
        return NULL;
    return strrchr(rtv_xs_nodes[node].path, '/') + 1;
}

int rtv_xs_node_by_id(const char *id)
{
    for (int i = 0; i < RTV_XS_NODE_COUNT; i++)
        if (strcmp(rtv_xs_nodes[i].id, id) == 0)
            return i;
    return -1;
}
