/*
 * The local seam's hub for the tests of the seam itself: one hub and two
 * domains on it, 1 and 2, each connected with the seam parts asked for,
 * and all of it closed again.
 * Header-only, as xs_fixture.h.
 */
#ifndef RTV_TESTS_HUB_FIXTURE_H
#define RTV_TESTS_HUB_FIXTURE_H

#include <check.h>

#include "rtvirt/local.h"

/* A new hub (default configuration) with domain 1 in a and domain 2 in b. */
static inline struct rtv_local_hub *rtv_test_hub_two(unsigned parts, struct rtv_xen *a,
                                                     struct rtv_xen *b)
{
    struct rtv_local_hub *hub = rtv_local_hub_new(NULL);

    ck_assert_ptr_nonnull(hub);
    ck_assert_int_eq(rtv_local_open(hub, 1, parts, a), 0);
    ck_assert_int_eq(rtv_local_open(hub, 2, parts, b), 0);
    return hub;
}

/* Closes both connections, then the hub. */
static inline void rtv_test_hub_two_close(struct rtv_local_hub *hub, struct rtv_xen *a,
                                          struct rtv_xen *b)
{
    rtv_xen_close(a);
    rtv_xen_close(b);
    rtv_local_hub_free(hub);
}

#endif
