/*
 * Store helpers the tests share: write a node or fail the test, read one
 * back as a string that an assertion can compare, and a device node's path.
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
