/*
 * Unit and component tests: the permissions the code left in the store are the
 * schema's (common/xs_perms.c), for every node the schema names.
 */
#ifndef RTV_TESTS_SCHEMA_PERMS_H
#define RTV_TESTS_SCHEMA_PERMS_H

#include <check.h>

#include "rtvirt/xs_perms.h"

/* xs must be dom0's (privileged) connection. */
static inline void ck_assert_perms_match_schema(struct rtv_store *xs)
{
    char report[2048];
    unsigned checked = 0;
    int rc = rtv_xs_perms_audit(xs, "/local/domain", &checked, report, sizeof(report));

    ck_assert_msg(rc == 0, "%d of %u schema node(s) with other permissions than the "
                  "schema's:\n%s", rc, checked, report);
    /* Called where the scenario has written its nodes: an audit that found
     * none to check would pass without looking. */
    ck_assert_msg(checked > 0, "no schema node in the store to check");
}

#endif
