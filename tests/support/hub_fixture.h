/*
 * The local seam's hub as tests start it: for the seam's own tests, one
 * hub and two domains on it, 1 and 2, each connected with the seam parts
 * asked for, and all of it closed again; for the tests of the toolstack
 * and the daemons over the store, a hub and dom0's store on it.
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

/* A new hub (default configuration) with dom0's store connection in dom0. */
static inline struct rtv_local_hub *rtv_test_hub_dom0(struct rtv_xen *dom0)
{
    struct rtv_local_hub *hub = rtv_local_hub_new(NULL);

    ck_assert_ptr_nonnull(hub);
    ck_assert_int_eq(rtv_local_open(hub, 0, RTV_XEN_STORE, dom0), 0);
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
