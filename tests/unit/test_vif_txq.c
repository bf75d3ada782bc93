/*
 * The bound on a switched NIC's tap queue (dom0-backend/backd_vif_txq.c):
 * a longer queue cut to the bound with its length remembered, a shorter one
 * left, the length given back, an absent tap skipped, a tap whose length
 * cannot be read reported; the length to give back kept in the state
 * directory for a restarted daemon.  The netdevs' sysfs is a directory of
 * tx_queue_len files here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../dom0-backend/backd_vif_txq.h"
#include "file_fixture.h"
#include "unit.h"

static char dir[64];

/* A tap: <name>/tx_queue_len. */
static void tap(const char *name, const char *len)
{
    rtv_test_dev_attr_put(dir, name, "tx_queue_len", len);
}

static unsigned qlen(const char *name)
{
    char v[24];
    unsigned n = 0;

    ck_assert_int_eq(sscanf(rtv_test_dev_attr_get(dir, name, "tx_queue_len", v, sizeof(v)),
                            "%u", &n), 1);
    return n;
}

static void setup(void)
{
    rtv_test_mkdtemp(dir, sizeof(dir), "rtv-txq");
}

static void teardown(void)
{
    rtv_test_rm_tree(dir);
}

START_TEST(a_long_queue_is_cut_and_given_back)
{
    struct rtv_err err = {0};
    unsigned was = 0;
    bool changed = false;

    tap("vif1.0-emu", "1000");
    ck_assert_int_eq(backd_vif_txq_bound(dir, "vif1.0-emu", 32, &was, &changed, &err), 0);
    ck_assert(changed);
    ck_assert_uint_eq(was, 1000);
    ck_assert_uint_eq(qlen("vif1.0-emu"), 32);

    /* Level-triggered: bounded already, nothing written, nothing to
     * remember (the caller keeps the first length). */
    changed = false;
    ck_assert_int_eq(backd_vif_txq_bound(dir, "vif1.0-emu", 32, &was, &changed, &err), 0);
    ck_assert(!changed);
    ck_assert_uint_eq(was, 0);

    ck_assert_int_eq(backd_vif_txq_restore(dir, "vif1.0-emu", 1000, &changed, &err), 0);
    ck_assert(changed);
    ck_assert_uint_eq(qlen("vif1.0-emu"), 1000);
}
END_TEST

START_TEST(a_short_queue_and_no_bound_are_left)
{
    struct rtv_err err = {0};
    unsigned was = 7;
    bool changed = false;

    tap("vif2.0-emu", "16");
    ck_assert_int_eq(backd_vif_txq_bound(dir, "vif2.0-emu", 32, &was, &changed, &err), 0);
    ck_assert(!changed);
    ck_assert_uint_eq(was, 0);
    ck_assert_uint_eq(qlen("vif2.0-emu"), 16);

    /* --tap-queue 0: the tap as qemu made it. */
    tap("vif3.0-emu", "1000");
    ck_assert_int_eq(backd_vif_txq_bound(dir, "vif3.0-emu", 0, &was, &changed, &err), 0);
    ck_assert(!changed);
    ck_assert_uint_eq(qlen("vif3.0-emu"), 1000);

    /* Never bounded (0): nothing to give back. */
    ck_assert_int_eq(backd_vif_txq_restore(dir, "vif3.0-emu", 0, &changed, &err), 0);
    ck_assert(!changed);
    ck_assert_uint_eq(qlen("vif3.0-emu"), 1000);
}
END_TEST

START_TEST(an_absent_tap_is_skipped)
{
    struct rtv_err err = {0};
    unsigned was = 0;
    bool changed = false;

    ck_assert_int_eq(backd_vif_txq_bound(dir, "vif9.0-emu", 32, &was, &changed, &err), 0);
    ck_assert_int_eq(backd_vif_txq_restore(dir, "vif9.0-emu", 1000, &changed, &err), 0);
    ck_assert(!changed);
}
END_TEST

START_TEST(an_unreadable_length_is_an_error)
{
    struct rtv_err err = {0};
    unsigned was = 0;
    bool changed = false;
    char p[160];

    /* tx_queue_len that is a directory (EISDIR, even for root), then one
     * that holds no number: reported, not taken for an absent tap. */
    snprintf(p, sizeof(p), "%s/vif4.0-emu/tx_queue_len", dir);
    rtv_test_mkdir_p(p);
    ck_assert_int_lt(backd_vif_txq_bound(dir, "vif4.0-emu", 32, &was, &changed, &err), 0);
    ck_assert_contains(err.msg, "vif4.0-emu/tx_queue_len");
    ck_assert(!changed);

    tap("vif5.0-emu", "lots");
    ck_assert_int_eq(backd_vif_txq_bound(dir, "vif5.0-emu", 32, &was, &changed, &err),
                     -EINVAL);
    ck_assert(!changed);
}
END_TEST

struct saved {
    unsigned n, dom, len;
    char key[16];
};

static void record_saved(void *ctx, unsigned dom, const char *key, unsigned len)
{
    struct saved *s = ctx;

    s->n++;
    s->dom = dom;
    s->len = len;
    snprintf(s->key, sizeof(s->key), "%s", key);
}

/* The length to give back across incarnations: saved, found again by a
 * restarted daemon's scan (its NIC named), forgotten; a file that holds no
 * length and the saver's own temporary file are not taken for one. */
START_TEST(a_saved_length_outlives_the_daemon)
{
    char p[160];
    unsigned len = 0;
    struct rtv_err err = {0};
    struct saved seen = {0};

    ck_assert_int_eq(backd_vif_txq_load(dir, 3, "0", &len), 0);
    ck_assert_int_eq(backd_vif_txq_save(dir, 3, "0", 1000, &err), 0);
    ck_assert_int_eq(backd_vif_txq_load(dir, 3, "0", &len), 1);
    ck_assert_uint_eq(len, 1000);
    ck_assert_int_eq(backd_vif_txq_save(dir, 3, "0", 500, &err), 0);   /* replaced whole */
    ck_assert_int_eq(backd_vif_txq_load(dir, 3, "0", &len), 1);
    ck_assert_uint_eq(len, 500);

    snprintf(p, sizeof(p), "%s/vif-txq-4-0", dir);
    rtv_test_write_file(p, "0\n", false);          /* 0 is "never cut" */
    ck_assert_int_eq(backd_vif_txq_load(dir, 4, "0", &len), -EINVAL);
    snprintf(p, sizeof(p), "%s/vif-txq-5-0.new", dir);
    rtv_test_write_file(p, "77\n", false);
    snprintf(p, sizeof(p), "%s/journal-5-768-0", dir);   /* the ring journals' neighbour */
    rtv_test_write_file(p, "x", false);

    ck_assert_int_eq(backd_vif_txq_each(dir, record_saved, &seen), 1);
    ck_assert_uint_eq(seen.n, 1);
    ck_assert_uint_eq(seen.dom, 3);
    ck_assert_str_eq(seen.key, "0");
    ck_assert_uint_eq(seen.len, 500);

    backd_vif_txq_forget(dir, 3, "0");
    backd_vif_txq_forget(dir, 3, "0");              /* absent is fine */
    ck_assert_int_eq(backd_vif_txq_load(dir, 3, "0", &len), 0);
    seen.n = 0;
    ck_assert_int_eq(backd_vif_txq_each(dir, record_saved, &seen), 0);
    ck_assert_uint_eq(seen.n, 0);

    snprintf(p, sizeof(p), "%s/none", dir);
    ck_assert_int_eq(backd_vif_txq_each(p, record_saved, &seen), 0);   /* no directory */
    ck_assert_int_lt(backd_vif_txq_save(p, 3, "0", 1000, &err), 0);
    ck_assert_contains(err.msg, "vif-txq-3-0");
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(vif_txq_suite, "vif_txq", "txq", setup, teardown, 0,
                        a_long_queue_is_cut_and_given_back, a_short_queue_and_no_bound_are_left,
                        an_absent_tap_is_skipped, an_unreadable_length_is_an_error,
                        a_saved_length_outlives_the_daemon)

RTV_UNIT_MAIN(vif_txq_suite)
