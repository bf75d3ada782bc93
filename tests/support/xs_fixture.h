/*
 * Store helpers the tests share: write a node or fail the test, read one
 * back as a string that an assertion can compare, a guest's domain as the
 * toolstack makes it, and a device node's path.
 * Header-only (static inline): every test program is one object plus the
 * libraries, and the Makefile's CHECK_CFLAGS puts this folder on the include
 * path of every test object.
 */
#ifndef RTV_TESTS_XS_FIXTURE_H
#define RTV_TESTS_XS_FIXTURE_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/xs_schema.h"
#include "rtvirt/xs_util.h"

/* Writes path = val outside any transaction, or fails the test. */
static inline void rtv_test_put(struct rtv_store *xs, const char *path, const char *val)
{
    ck_assert_msg(rtv_xs_write(xs, RTV_XS_NO_TXN, path, val, strlen(val)) == 0,
                  "cannot write %s = \"%s\"", path, val);
}

/* path's value, copied into one of four buffers used in turn (so a few
 * reads can sit in one assertion), cut at 1 KiB; `absent` (may be NULL)
 * when the node is not there. */
static inline const char *rtv_test_get(struct rtv_store *xs, const char *path,
                                       const char *absent)
{
    static char buf[4][1100];
    static unsigned i;
    char *v;
    size_t n;

    if (rtv_xs_read(xs, RTV_XS_NO_TXN, path, &v, &n) < 0)
        return absent;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof(buf[i]), "%s", v);
    free(v);
    return buf[i];
}

/* Domain dom as libxl leaves a running guest: /local/domain/<dom> (dom0
 * owns it, the guest reads), its name (NULL: none) written after, so that
 * it inherits those permissions as libxl's does, and device/ (the guest
 * owns it, dom0 reads), where frontends and the shunt write. */
static inline void rtv_test_make_domain(struct rtv_store *dom0, unsigned dom,
                                        const char *name)
{
    const struct rtv_xs_perm dom_perms[2] = { { 0, RTV_XS_PERM_NONE },
                                              { dom, RTV_XS_PERM_READ } };
    const struct rtv_xs_perm dev_perms[2] = { { dom, RTV_XS_PERM_NONE },
                                              { 0, RTV_XS_PERM_READ } };
    char p[64];

    snprintf(p, sizeof(p), "/local/domain/%u", dom);
    ck_assert_int_eq(rtv_xs_mkdir(dom0, RTV_XS_NO_TXN, p), 0);
    ck_assert_int_eq(rtv_xs_set_perms(dom0, RTV_XS_NO_TXN, p, dom_perms, 2), 0);
    if (name != NULL) {
        snprintf(p, sizeof(p), "/local/domain/%u/name", dom);
        rtv_test_put(dom0, p, name);
    }
    snprintf(p, sizeof(p), "/local/domain/%u/device", dom);
    ck_assert_int_eq(rtv_xs_mkdir(dom0, RTV_XS_NO_TXN, p), 0);
    ck_assert_int_eq(rtv_xs_set_perms(dom0, RTV_XS_NO_TXN, p, dev_perms, 2), 0);
}

/* The schema's path of a block device node of domain dom's vdev, in one of
 * four buffers used in turn. */
static inline const char *rtv_test_vbd_path(enum rtv_xs_node node, unsigned dom,
                                            const char *vdev)
{
    static char buf[4][256];
    static unsigned i;
    struct rtv_xs_args a = { .domid = dom, .vdev = vdev };

    i = (i + 1) % 4;
    ck_assert_int_eq(rtv_xs_path(buf[i], sizeof(buf[i]), node, &a, NULL), 0);
    return buf[i];
}

#endif
