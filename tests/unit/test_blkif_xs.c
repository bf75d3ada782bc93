/*
 * Unit tests for common/blkif_xs.c: vdev names to device ids (as libxl),
 * schema-checked reads, and the toolstack's attach/detach nodes with
 * libxl's permissions, on the local store.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/blkif_abi.h"
#include "rtvirt/blkif_xs.h"
#include "rtvirt/local.h"
#include "unit.h"

START_TEST(test_vdev_names)
{
    static const struct { const char *name; unsigned devid; } ok[] = {
        { "xvda", 51712 }, { "xvdb", 51728 }, { "xvda1", 51713 }, { "xvdp", 51952 },
        { "xvdq", (1u << 28) | (16u << 8) }, { "xvdaa", (1u << 28) | (26u << 8) },
        { "hda", 768 }, { "hdb", 832 }, { "hdc", 5632 }, { "hdd", 5696 },
        { "sda", 2048 }, { "sdb", 2064 }, { "sda3", 2051 }, { "51712", 51712 },
    };
    static const char *const bad[] = { "", "xvd", "xvdA", "vda", "xvda0", "xvda16x",
                                       "xvdabcd", "-1", "hdz", "sdq", "01" };
    unsigned d;

    for (unsigned i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        ck_assert_msg(blkif_vdev_to_devid(ok[i].name, &d) == 0, "%s", ok[i].name);
        ck_assert_msg(d == ok[i].devid, "%s: %u, want %u", ok[i].name, d, ok[i].devid);
    }
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(blkif_vdev_to_devid(bad[i], &d) == -EINVAL, "\"%s\" accepted", bad[i]);
}
END_TEST

/* The extended form's whole disks (the PV twins' numbers). */
START_TEST(test_ext_disk)
{
    unsigned d;

    ck_assert_int_eq(blkif_vdev_to_devid("xvdq", &d), 0);
    ck_assert_int_eq(blkif_devid_ext_disk(d), 16);
    ck_assert_int_eq(blkif_vdev_to_devid("xvdaaa", &d), 0);
    ck_assert_uint_eq(d, BLKIF_DEVID_EXT_DISK(702));
    ck_assert_int_eq(blkif_devid_ext_disk(d), 702);
    ck_assert_int_eq(blkif_devid_ext_disk(BLKIF_DEVID_EXT_DISK(4095)), 4095);
    ck_assert_int_eq(blkif_devid_ext_disk(BLKIF_DEVID_EXT), 0);
    /* A partition, the xvd major, IDE, a plain number, a higher flag. */
    ck_assert_int_eq(blkif_vdev_to_devid("xvdq1", &d), 0);
    ck_assert_int_eq(blkif_devid_ext_disk(d), -1);
    ck_assert_int_eq(blkif_devid_ext_disk(51728), -1);
    ck_assert_int_eq(blkif_devid_ext_disk(768), -1);
    ck_assert_int_eq(blkif_devid_ext_disk(5000), -1);
    ck_assert_int_eq(blkif_devid_ext_disk((2u << 28) | (16u << 8)), -1);
    ck_assert_int_eq(blkif_devid_ext_disk(BLKIF_DEVID_EXT_DISK(16) | (1u << 30)), -1);
}
END_TEST

static struct rtv_local_hub *hub;

static void setup(void)
{
    hub = rtv_local_hub_new(NULL);
    ck_assert_ptr_nonnull(hub);
}

static void teardown(void)
{
    rtv_local_hub_free(hub);
}

START_TEST(test_attach_nodes_and_perms)
{
    struct rtv_xen dom0, dom1, dom2;
    struct blkif_xs_attach a = { { 0, 1, 51712, BLKIF_XS_BTYPE }, "/srv/img/guest.raw", false,
                                 false };
    char *v = NULL;
    unsigned long long n;

    ck_assert_int_eq(rtv_local_open(hub, 0, RTV_XEN_STORE, &dom0), 0);
    ck_assert_int_eq(rtv_local_open(hub, 1, RTV_XEN_STORE, &dom1), 0);
    ck_assert_int_eq(rtv_local_open(hub, 2, RTV_XEN_STORE, &dom2), 0);
    ck_assert_int_eq(blkif_xs_attach(dom0.xs, &a), 0);
    ck_assert_int_eq(blkif_xs_attach(dom0.xs, &a), -EEXIST);

    ck_assert_int_eq(blkif_xs_read(dom0.xs, 0, &a.dev, RTV_XS_VBD_BE_PARAMS, 0, 0, &v, NULL), 0);
    ck_assert_str_eq(v, "/srv/img/guest.raw");
    free(v);
    ck_assert_int_eq(blkif_xs_read(dom1.xs, 0, &a.dev, RTV_XS_VBD_FE_BACKEND, 0, 0, &v, NULL), 0);
    ck_assert_str_eq(v, "/local/domain/0/backend/vbd3/1/51712");    /* rtvirt-backd's */
    free(v);
    ck_assert_int_eq(blkif_xs_read_uint(dom1.xs, 0, &a.dev, RTV_XS_VBD_BE_STATE, 0, 0, 8,
                                        false, 0, &n), 0);
    ck_assert_uint_eq(n, XenbusStateInitialising);

    /* The guest writes its own nodes, not the backend's; others see nothing. */
    ck_assert_int_eq(blkif_xs_printf(dom1.xs, 0, &a.dev, RTV_XS_VBD_FE_STATE, 0, 0, "3"), 0);
    ck_assert_int_eq(blkif_xs_printf(dom1.xs, 0, &a.dev, RTV_XS_VBD_FE_RING_REF, 0, 0, "8"), 0);
    ck_assert_int_eq(blkif_xs_printf(dom1.xs, 0, &a.dev, RTV_XS_VBD_BE_STATE, 0, 0, "4"), -EACCES);
    ck_assert_int_eq(blkif_xs_read(dom2.xs, 0, &a.dev, RTV_XS_VBD_FE_STATE, 0, 0, &v, NULL), -EACCES);
    ck_assert_int_eq(blkif_xs_read(dom2.xs, 0, &a.dev, RTV_XS_VBD_BE_PARAMS, 0, 0, &v, NULL), -EACCES);

    /* Values are checked against the schema on the way in. */
    ck_assert_int_eq(blkif_xs_printf(dom1.xs, 0, &a.dev, RTV_XS_VBD_FE_STATE, 0, 0, "12"), 0);
    ck_assert_int_eq(blkif_xs_read_uint(dom0.xs, 0, &a.dev, RTV_XS_VBD_FE_STATE, 0, 0, 8,
                                        false, 0, &n), -EINVAL);
    ck_assert_int_eq(blkif_xs_read_uint(dom0.xs, 0, &a.dev, RTV_XS_VBD_FE_RING_PAGE_ORDER, 0, 0,
                                        4, true, 0, &n), 0);
    ck_assert_uint_eq(n, 0);     /* absent: the default */

    /* Detach with no backend to answer: times out and leaves the nodes,
     * unless forced. */
    ck_assert_int_eq(blkif_xs_detach(dom0.xs, &a.dev, 200, false), -ETIMEDOUT);
    ck_assert_int_eq(blkif_xs_read_uint(dom0.xs, 0, &a.dev, RTV_XS_VBD_BE_ONLINE, 0, 0, 1,
                                        false, 0, &n), 0);
    ck_assert_uint_eq(n, 0);
    /* Forced, with the removal failing (the close request's transaction
     * commits, the removal's does not): that error, not -ETIMEDOUT, which
     * would say the nodes went. */
    rtv_local_fault_set(hub, RTV_FAULT_XS_TXN_COMMIT, 1, 1, EIO);
    ck_assert_int_eq(blkif_xs_detach(dom0.xs, &a.dev, 100, true), -EIO);
    ck_assert_uint_eq(rtv_local_fault_hits(hub, RTV_FAULT_XS_TXN_COMMIT), 1);
    ck_assert_int_eq(blkif_xs_read(dom0.xs, 0, &a.dev, RTV_XS_VBD_BE_PARAMS, 0, 0, &v, NULL), 0);
    free(v);
    ck_assert_int_eq(blkif_xs_detach(dom0.xs, &a.dev, 100, true), -ETIMEDOUT);
    ck_assert_int_eq(blkif_xs_read(dom0.xs, 0, &a.dev, RTV_XS_VBD_BE_PARAMS, 0, 0, &v, NULL), -ENOENT);
    ck_assert_int_eq(blkif_xs_read(dom0.xs, 0, &a.dev, RTV_XS_VBD_FE_STATE, 0, 0, &v, NULL), -ENOENT);

    /* A bad params value never reaches the store. */
    a.params = "";
    ck_assert_int_eq(blkif_xs_attach(dom0.xs, &a), -EINVAL);
    rtv_xen_close(&dom0);
    rtv_xen_close(&dom1);
    rtv_xen_close(&dom2);
}
END_TEST

START_TEST(test_paths)
{
    struct blkif_xs_dev d = { 0, 7, 768, BLKIF_XS_BTYPE };
    char p[RTV_XS_PATH_MAX];

    ck_assert_int_eq(blkif_xs_path(p, sizeof(p), &d, RTV_XS_VBD_FE_QUEUE_RING_REFN, 2, 3), 0);
    ck_assert_str_eq(p, "/local/domain/7/device/vbd/768/queue-2/ring-ref3");
    ck_assert_int_eq(blkif_xs_path(p, sizeof(p), &d, RTV_XS_VBD_BE_MAX_RING_PAGE_ORDER, 0, 0), 0);
    ck_assert_str_eq(p, "/local/domain/0/backend/vbd3/7/768/max-ring-page-order");
    d.btype = "vbd";     /* the kernel blkback's, as a frontend may follow it */
    ck_assert_int_eq(blkif_xs_path(p, sizeof(p), &d, RTV_XS_VBD_BE_STATE, 0, 0), 0);
    ck_assert_str_eq(p, "/local/domain/0/backend/vbd/7/768/state");
    d.btype = NULL;      /* no backend type: no backend node, but the frontend's */
    ck_assert_int_eq(blkif_xs_path(p, sizeof(p), &d, RTV_XS_VBD_BE_STATE, 0, 0), -EINVAL);
    ck_assert_int_eq(blkif_xs_path(p, sizeof(p), &d, RTV_XS_VBD_FE_STATE, 0, 0), 0);
    d.btype = "tap";     /* not a backend type of the schema */
    ck_assert_int_eq(blkif_xs_path(p, sizeof(p), &d, RTV_XS_VBD_BE_STATE, 0, 0), -EINVAL);
    d.btype = BLKIF_XS_BTYPE;
    d.domid = 40000;     /* not a domain id: refused, not formatted */
    ck_assert_int_lt(blkif_xs_path(p, sizeof(p), &d, RTV_XS_VBD_FE_STATE, 0, 0), 0);
}
END_TEST

/* Removing a vbd takes the parents it leaves empty along, as libxl's path
 * clean-up does (nobody else removes anything under backend/vbd3), and
 * leaves every parent that still holds something. */
static bool exists(struct rtv_store *s, const char *path)
{
    char **names = NULL;
    unsigned n = 0;
    int rc = rtv_xs_directory(s, 0, path, &names, &n);

    free(names);
    return rc == 0;
}

START_TEST(test_remove_takes_empty_parents)
{
    struct rtv_xen dom0;
    struct blkif_xs_attach a1 = { { 0, 1, 51712, BLKIF_XS_BTYPE }, "/i1", false, false };
    struct blkif_xs_attach a2 = { { 0, 1, 51728, BLKIF_XS_BTYPE }, "/i2", false, false };
    struct blkif_xs_attach b1 = { { 0, 2, 51712, BLKIF_XS_BTYPE }, "/i3", false, false };
    struct blkif_xs_attach k1 = { { 0, 1, 768, "vbd" }, "/i4", false, false };

    ck_assert_int_eq(rtv_local_open(hub, 0, RTV_XEN_STORE, &dom0), 0);
    ck_assert_int_eq(blkif_xs_attach(dom0.xs, &a1), 0);
    ck_assert_int_eq(blkif_xs_attach(dom0.xs, &a2), 0);
    ck_assert_int_eq(blkif_xs_attach(dom0.xs, &b1), 0);
    ck_assert_int_eq(blkif_xs_attach(dom0.xs, &k1), 0);

    /* dom1 still has a vbd3 disk: its directories stay. */
    ck_assert_int_eq(blkif_xs_remove(dom0.xs, &a1.dev), 0);
    ck_assert(!exists(dom0.xs, "/local/domain/0/backend/vbd3/1/51712"));
    ck_assert(!exists(dom0.xs, "/local/domain/1/device/vbd/51712"));
    ck_assert(exists(dom0.xs, "/local/domain/0/backend/vbd3/1"));
    /* dom1's last vbd3 disk: backend/vbd3/1 goes; dom2's keeps vbd3;
     * dom1's device/vbd holds the blkback disk and stays. */
    ck_assert_int_eq(blkif_xs_remove(dom0.xs, &a2.dev), 0);
    ck_assert(!exists(dom0.xs, "/local/domain/0/backend/vbd3/1"));
    ck_assert(exists(dom0.xs, "/local/domain/0/backend/vbd3"));
    ck_assert(exists(dom0.xs, "/local/domain/1/device/vbd/768"));
    /* The last vbd3 disk of all: backend/vbd3 goes, backend and the
     * kernel's backend/vbd stay; dom2's empty device/vbd goes too. */
    ck_assert_int_eq(blkif_xs_remove(dom0.xs, &b1.dev), 0);
    ck_assert(!exists(dom0.xs, "/local/domain/0/backend/vbd3"));
    ck_assert(!exists(dom0.xs, "/local/domain/2/device/vbd"));
    ck_assert(exists(dom0.xs, "/local/domain/0/backend/vbd/1/768"));
    ck_assert(exists(dom0.xs, "/local/domain/0/backend"));
    /* Removing what is gone is no error. */
    ck_assert_int_eq(blkif_xs_remove(dom0.xs, &b1.dev), 0);
    /* The last disk of all (blkback's, here): backend and dom1's device
     * go too, the domains' own directories stay. */
    ck_assert_int_eq(blkif_xs_remove(dom0.xs, &k1.dev), 0);
    ck_assert(!exists(dom0.xs, "/local/domain/0/backend"));
    ck_assert(!exists(dom0.xs, "/local/domain/1/device"));
    ck_assert(exists(dom0.xs, "/local/domain/0"));
    ck_assert(exists(dom0.xs, "/local/domain/1"));
    rtv_xen_close(&dom0);
}
END_TEST

static Suite *blkif_xs_suite(void)
{
    Suite *s = suite_create("blkif_xs");
    TCase *tc = rtv_unit_case(s, "core", NULL, NULL, 0);

    RTV_UNIT_ADD(tc, test_vdev_names, test_ext_disk, test_paths);
    TCase *st = rtv_unit_case(s, "store", setup, teardown, 0);
    RTV_UNIT_ADD(st, test_attach_nodes_and_perms, test_remove_takes_empty_parents);
    return s;
}

RTV_UNIT_MAIN(blkif_xs_suite)
