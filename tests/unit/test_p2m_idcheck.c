/*
 * Unit tests for the identity check from the M2P side (common/p2m_idcheck.c)
 * against a fake M2P: an array of frame -> gfn entries the tests write, with
 * a fault injected on demand; and the search for the table's extent count
 * against a fake exact lister.  The real table (common/xen/xen_m2p.c) is
 * only read in the lab.
 */
#include <errno.h>
#include <stdint.h>

#include "rtvirt/p2m_idcheck.h"
#include "unit.h"

#define FRAMES 2000u

struct fake_m2p {
    uint64_t entry[FRAMES];     /* beyond: RTV_M2P_NONE, as the seam reads it */
    uint64_t reads, fail_at;    /* fail_at: 1-based read that fails, 0 none */
    /* runs reported */
    uint64_t first[16], count[16], m2p_first[16];
    unsigned int nruns, stop_after;
};

static int fake_read(void *ctx, uint64_t mfn, uint64_t n, uint64_t *gfn)
{
    struct fake_m2p *f = ctx;
    uint64_t i;

    if ( ++f->reads == f->fail_at )
        return -EIO;
    for ( i = 0; i < n; i++ )
        gfn[i] = mfn + i < FRAMES ? f->entry[mfn + i] : RTV_M2P_NONE;
    return 0;
}

static int fake_bad(void *ctx, uint64_t first, uint64_t count, uint64_t m2p_first)
{
    struct fake_m2p *f = ctx;

    ck_assert_uint_lt(f->nruns, 16);
    f->first[f->nruns] = first;
    f->count[f->nruns] = count;
    f->m2p_first[f->nruns] = m2p_first;
    f->nruns++;
    return f->stop_after && f->nruns == f->stop_after ? 7 : 0;
}

/* Every frame holds its own gfn. */
static struct fake_m2p *identity_machine(void)
{
    struct fake_m2p *f = calloc(1, sizeof(*f));
    uint64_t i;

    ck_assert_ptr_nonnull(f);
    for ( i = 0; i < FRAMES; i++ )
        f->entry[i] = i;
    return f;
}

static int check(struct fake_m2p *f, uint64_t start, uint64_t nr, struct rtv_p2m_idcheck_counts *c)
{
    struct rtv_p2m_idcheck_hooks h = { .m2p = fake_read, .bad = fake_bad, .ctx = f };

    return rtv_p2m_idcheck(start, nr, &h, c);
}

START_TEST(all_identity)
{
    struct fake_m2p *f = identity_machine();
    struct rtv_p2m_idcheck_counts c;

    ck_assert_int_eq(check(f, 0, FRAMES, &c), 0);
    ck_assert_uint_eq(c.pages, FRAMES);
    ck_assert_uint_eq(c.identity, FRAMES);
    ck_assert_uint_eq(c.ranges, 0);
    ck_assert_uint_eq(f->nruns, 0);
    /* 2000 frames in batches of 512: four reads. */
    ck_assert_uint_eq(f->reads, 4);
    free(f);
}
END_TEST

START_TEST(runs_are_coalesced_and_named)
{
    struct fake_m2p *f = identity_machine();
    struct rtv_p2m_idcheck_counts c;
    uint64_t i;

    /* A swap (frames 10, 11 hold each other's gfn), a freed frame (500),
     * and a run across the 512-entry batch boundary (510 .. 515). */
    f->entry[10] = 11;
    f->entry[11] = 10;
    f->entry[500] = RTV_M2P_NONE;
    for ( i = 510; i <= 515; i++ )
        f->entry[i] = 7000 + i;
    ck_assert_int_eq(check(f, 0, FRAMES, &c), 0);
    ck_assert_uint_eq(c.identity, FRAMES - 9);
    ck_assert_uint_eq(c.other, 8);
    ck_assert_uint_eq(c.none, 1);
    ck_assert_uint_eq(c.ranges, 3);
    ck_assert_uint_eq(f->nruns, 3);
    ck_assert(f->first[0] == 10 && f->count[0] == 2 && f->m2p_first[0] == 11);
    ck_assert(f->first[1] == 500 && f->count[1] == 1 && f->m2p_first[1] == RTV_M2P_NONE);
    ck_assert(f->first[2] == 510 && f->count[2] == 6 && f->m2p_first[2] == 7510);
    free(f);
}
END_TEST

START_TEST(range_edges)
{
    struct fake_m2p *f = identity_machine();
    struct rtv_p2m_idcheck_counts c;

    /* A bad gfn at each end of a sub-range, and one just outside it. */
    f->entry[99] = 5;
    f->entry[100] = 6;
    f->entry[199] = 7;
    f->entry[200] = 8;
    ck_assert_int_eq(check(f, 100, 100, &c), 0);
    ck_assert_uint_eq(c.pages, 100);
    ck_assert_uint_eq(c.identity, 98);
    ck_assert_uint_eq(f->nruns, 2);
    ck_assert(f->first[0] == 100 && f->count[0] == 1);
    ck_assert(f->first[1] == 199 && f->count[1] == 1 && f->m2p_first[1] == 7);
    /* Beyond the table: no frame, so not identity, one run to the end. */
    f->nruns = 0;
    ck_assert_int_eq(check(f, FRAMES - 2, 5, &c), 0);
    ck_assert_uint_eq(c.identity, 2);
    ck_assert_uint_eq(c.none, 3);
    ck_assert(f->nruns == 1 && f->first[0] == FRAMES && f->count[0] == 3);
    /* An empty range is trivially identity. */
    ck_assert_int_eq(check(f, 0, 0, &c), 0);
    ck_assert_uint_eq(c.pages, 0);
    free(f);
}
END_TEST

START_TEST(errors_stop_the_check)
{
    struct fake_m2p *f = identity_machine();
    struct rtv_p2m_idcheck_counts c;
    struct rtv_p2m_idcheck_hooks no_lookup = { .ctx = f };

    f->fail_at = 2;
    ck_assert_int_eq(check(f, 0, FRAMES, &c), -EIO);
    f->fail_at = 0;
    f->entry[3] = 4;
    f->entry[30] = 4;
    f->stop_after = 1;                  /* the bad hook says stop */
    ck_assert_int_eq(check(f, 0, FRAMES, &c), 7);
    ck_assert_uint_eq(f->nruns, 1);
    ck_assert_int_eq(rtv_p2m_idcheck(0, 1, &no_lookup, &c), -EINVAL);
    ck_assert_int_eq(rtv_p2m_idcheck(0, 1, NULL, &c), -EINVAL);
    /* The last gfn would be the "no gfn" marker, or wrap. */
    ck_assert_int_eq(check(f, RTV_M2P_NONE - 1, 2, &c), -EINVAL);
    ck_assert_int_eq(check(f, RTV_M2P_NONE, 1, &c), -EINVAL);
    free(f);
}
END_TEST

START_TEST(counts_without_a_bad_hook)
{
    struct fake_m2p *f = identity_machine();
    struct rtv_p2m_idcheck_hooks h = { .m2p = fake_read, .ctx = f };
    struct rtv_p2m_idcheck_counts c;

    f->entry[1] = 2;
    f->entry[2] = 1;
    f->entry[9] = RTV_M2P_NONE;
    ck_assert_int_eq(rtv_p2m_idcheck(0, 10, &h, &c), 0);
    ck_assert_uint_eq(c.ranges, 2);
    ck_assert_uint_eq(c.identity, 7);
    free(f);
}
END_TEST

/* A table of `size` extents behind an exact lister, as libxenctrl's
 * XENMEM_machphys_mfn_list: k > size lists nothing and says "fewer". */
struct fake_lister {
    uint64_t size, calls, last, fail_at;    /* fail_at: 1-based call that errs */
};

static int fake_list(void *ctx, uint64_t k)
{
    struct fake_lister *l = ctx;

    if ( ++l->calls == l->fail_at )
        return -EIO;
    /* A call that fails leaves the caller's buffer as nothing to keep. */
    l->last = k > l->size ? 0 : k;
    return k > l->size;
}

START_TEST(extent_count_found_whatever_the_guess)
{
    static const uint64_t sizes[] = { 1, 2, 5, 6, 7, 63, 64, 1000 };
    unsigned int i, d;

    for ( i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++ )
        for ( d = 0; d < 4; d++ )
        {
            /* guesses of the size, one and two too many, and many more */
            uint64_t guess = sizes[i] + (d < 3 ? d : 3 * sizes[i] + 17), n = 0;
            struct fake_lister l = { .size = sizes[i] };

            ck_assert_int_eq(rtv_m2p_extent_count(guess, fake_list, &l, &n), 0);
            ck_assert_uint_eq(n, sizes[i]);
            /* the last listing the caller keeps is of the count returned */
            ck_assert_uint_eq(l.last, sizes[i]);
            ck_assert_uint_le(l.calls, 2 + 64);
            if ( !d )
                ck_assert_uint_eq(l.calls, 1);
        }
}
END_TEST

START_TEST(extent_count_guess_below_the_table)
{
    /* Asked for fewer than it has, Xen lists that many: the guess stands
     * (the frames beyond it are simply not read). */
    struct fake_lister l = { .size = 10 };
    uint64_t n = 0;

    ck_assert_int_eq(rtv_m2p_extent_count(4, fake_list, &l, &n), 0);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(l.calls, 1);
}
END_TEST

START_TEST(extent_count_failures)
{
    struct fake_lister none = { .size = 0 }, err = { .size = 3, .fail_at = 2 },
                       first = { .size = 3, .fail_at = 1 };
    uint64_t n = 99;

    ck_assert_int_eq(rtv_m2p_extent_count(5, fake_list, &none, &n), -ENOENT);
    ck_assert_int_eq(rtv_m2p_extent_count(9, fake_list, &err, &n), -EIO);
    ck_assert_int_eq(rtv_m2p_extent_count(2, fake_list, &first, &n), -EIO);
    ck_assert_int_eq(rtv_m2p_extent_count(0, fake_list, &none, &n), -EINVAL);
    ck_assert_uint_eq(n, 99);
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(p2m_idcheck_suite, "p2m_idcheck", "core", NULL, NULL, 0,
                        all_identity, runs_are_coalesced_and_named, range_edges,
                        errors_stop_the_check, counts_without_a_bad_hook,
                        extent_count_found_whatever_the_guess, extent_count_guess_below_the_table,
                        extent_count_failures)

RTV_UNIT_MAIN(p2m_idcheck_suite)
