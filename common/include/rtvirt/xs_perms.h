/*
 * The xenstore contract's permissions, checked both ways: the `perms` of
 * every schema node (xenstore-schema/rtvirt-paths.md) against what the code
 * really left on the nodes of a store.  Tests run the audit after their
 * scenarios (tests/component/); it needs dom0's (privileged) view.
 */
#ifndef RTVIRT_XS_PERMS_H
#define RTVIRT_XS_PERMS_H

#include <stddef.h>

#include "rtvirt/seam.h"
#include "rtvirt/xs_schema.h"

/* Which schema node a concrete path is: its index, with the placeholders'
 * values in *a (strings copied into strs[len]); -1 if none. */
int rtv_xs_node_match(const char *path, struct rtv_xs_args *a, char *strs,
                      size_t len);

/* The permissions the schema gives node for those placeholder values, in
 * xenstore's order (owner first); the count, or -EINVAL. */
int rtv_xs_node_perms(enum rtv_xs_node node, const struct rtv_xs_args *a,
                      struct rtv_xs_perm *out, unsigned max);

/* Walks the store below root and compares the permissions of every node
 * the schema names with the schema's.  *checked (may be NULL) gets how many
 * nodes were compared; each mismatch is a line in report (as many as fit).
 * The number of mismatches, or a negative errno from the store. */
int rtv_xs_perms_audit(struct rtv_store *s, const char *root, unsigned *checked,
                       char *report, size_t len);

#endif
