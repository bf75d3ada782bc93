/*
 * The xenstore contract as C: every node rtvirt may touch, generated from
 * xenstore-schema/rtvirt-paths.md (the normative document), plus the
 * functions code uses to build and check paths and values.
 *
 * Build paths only through rtv_xs_path(): it refuses placeholder values that
 * the schema does not allow, so a guest-supplied name can never smuggle a
 * '/' or '..' into a dom0 path.  Check every value read from the store with
 * rtv_xs_check_value() before using it.
 */
#ifndef RTVIRT_XS_SCHEMA_H
#define RTVIRT_XS_SCHEMA_H

#include <stddef.h>

#include "rtvirt/err.h"
#include "rtvirt/xs_nodes.h"   /* generated: enum rtv_xs_node, struct rtv_xs_args */

enum rtv_xs_type {
    RTV_XS_T_ENUM,
    RTV_XS_T_UINT,
    RTV_XS_T_BOOL,
    RTV_XS_T_STRING,
    RTV_XS_T_NAME,
};

struct rtv_xs_type_spec {
    enum rtv_xs_type     kind;
    unsigned long long   min, max;   /* uint: range; string/name: max length */
    const char *const   *values;     /* enum/bool */
    unsigned             nvalues;
};

struct rtv_xs_param_spec {
    const char              *name;     /* "$DOMID" */
    struct rtv_xs_type_spec  type;
    size_t                   offset;   /* of its field in struct rtv_xs_args */
    const char              *doc;
};

struct rtv_xs_node_spec {
    const char              *id;       /* "ctl-request" */
    const char              *path;     /* template with $PARAMS */
    const char              *writer;
    const char              *perms;
    struct rtv_xs_type_spec  type;
    const char              *default_value;
};

extern const struct rtv_xs_param_spec rtv_xs_params[RTV_XS_PARAM_COUNT];
extern const struct rtv_xs_node_spec  rtv_xs_nodes[RTV_XS_NODE_COUNT];

/* Builds the concrete path of node into buf.  -EINVAL (bad node or
 * placeholder value) or -ENAMETOOLONG, with err naming the culprit. */
int rtv_xs_path(char *buf, size_t len, enum rtv_xs_node node,
                const struct rtv_xs_args *args, struct rtv_err *err);

/* The directory holding node (its path minus the last component). */
int rtv_xs_dir(char *buf, size_t len, enum rtv_xs_node node,
               const struct rtv_xs_args *args, struct rtv_err *err);

/* The last path component of node, e.g. "feature-persistent".  For nodes
 * whose leaf holds a placeholder (ring-ref$RING) this is the template. */
const char *rtv_xs_leaf(enum rtv_xs_node node);

/* Checks value against node's type.  -EINVAL with err naming the node, the
 * value and what is allowed. */
int rtv_xs_check_value(enum rtv_xs_node node, const char *value,
                       struct rtv_err *err);

/* Checks a placeholder's value against its type: 0 or -EINVAL. */
int rtv_xs_check_param(const struct rtv_xs_param_spec *p, const char *value);

/* Finds a node by its schema id ("ctl-request"); -1 if unknown. */
int rtv_xs_node_by_id(const char *id);

/* Renders untrusted text (a value that failed its check, a guest's report)
 * for a message that goes into an error node: at most max bytes of src,
 * printable ones as they are, every other byte as \xNN, "..." when cut, so
 * the message itself is a valid `string` value.  Returns dst. */
char *rtv_xs_quote(char *dst, size_t len, const char *src, size_t max);

/* Describes what a type allows ("one of: pv, emulated, selective"). */
void rtv_xs_type_describe(const struct rtv_xs_type_spec *t, char *buf,
                          size_t len);

#endif
