/*
 * Unit tests for the local grant tables (common/local/grants.c): share/map
 * round trips within a process and across fork(), the checks a map must
 * pass (grantee, granter, ref, writability), gntshr-style deferred freeing,
 * capacity, fault injection, close and domain release.
 *
 * Fixture: a fresh hub per test, domain 1 sharing (`g1`) and domain 2
 * mapping (`g2`).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rtvirt/local.h"
#include "../../common/local/hub_private.h"
#include "hub_fixture.h"
#include "unit.h"

static struct rtv_local_hub *hub;
static struct rtv_xen x1, x2;
static struct rtv_grants *g1, *g2;
static size_t psz;

static void setup(void)
{
    hub = rtv_test_hub_two(RTV_XEN_GRANTS, &x1, &x2);
    g1 = x1.gnt;
    g2 = x2.gnt;
    psz = (size_t)sysconf(_SC_PAGESIZE);
}

static void teardown(void)
{
    rtv_test_hub_two_close(hub, &x1, &x2);
}

static void fill(void *p, size_t len, unsigned seed)
{
    unsigned char *b = p;
    for (size_t i = 0; i < len; i++)
        b[i] = (unsigned char)(seed * 31 + i * 7);
}

/* p holds bytes [from, from + len) of what fill(seed) wrote. */
static bool same_at(const void *p, size_t from, size_t len, unsigned seed)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++)
        if (b[i] != (unsigned char)(seed * 31 + (from + i) * 7))
            return false;
    return true;
}

static bool same(const void *p, size_t len, unsigned seed)
{
    return same_at(p, 0, len, seed);
}

START_TEST(share_map_round_trip)
{
    rtv_gref_t refs[3];
    unsigned char *a = g1->ops->share(g1, 2, 3, refs, true);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(rtv_local_test_grants_in_use(hub), 3);
    for (int i = 0; i < 3; i++)
        ck_assert_uint_ne(refs[i], 0);
    /* Freshly shared pages are zeroed. */
    for (size_t i = 0; i < 3 * psz; i++)
        ck_assert_uint_eq(a[i], 0);
    fill(a, 3 * psz, 1);

    unsigned char *b = g2->ops->map(g2, 1, 3, refs, true);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    ck_assert(same(b, 3 * psz, 1));
    fill(b, 3 * psz, 2);
    ck_assert(same(a, 3 * psz, 2));

    /* Refs in another order map the pages in that order. */
    rtv_gref_t rev[3] = { refs[2], refs[1], refs[0] };
    unsigned char *c = g2->ops->map(g2, 1, 3, rev, false);
    ck_assert_ptr_nonnull(c);
    ck_assert_mem_eq(c, a + 2 * psz, psz);
    ck_assert_mem_eq(c + 2 * psz, a, psz);

    ck_assert_int_eq(g2->ops->unmap(g2, c, 3), 0);
    ck_assert_int_eq(g2->ops->unmap(g2, b, 3), 0);
    ck_assert_int_eq(g1->ops->unshare(g1, a, 3), 0);
    ck_assert_uint_eq(rtv_local_test_grants_in_use(hub), 0);
}
END_TEST

START_TEST(round_trip_across_fork)
{
    rtv_gref_t refs[2];
    unsigned char *a = g1->ops->share(g1, 7, 2, refs, true);
    ck_assert_ptr_nonnull(a);
    fill(a, 2 * psz, 3);

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* Another process, acting as domain 7, maps and answers. */
        struct rtv_xen x7;
        if (rtv_local_open(hub, 7, RTV_XEN_GRANTS, &x7) != 0)
            _exit(1);
        unsigned char *b = x7.gnt->ops->map(x7.gnt, 1, 2, refs, true);
        if (b == NULL)
            _exit(2);
        if (!same(b, 2 * psz, 3))
            _exit(3);
        fill(b, 2 * psz, 4);
        if (x7.gnt->ops->unmap(x7.gnt, b, 2) != 0)
            _exit(4);
        rtv_xen_close(&x7);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child status %d", status);
    ck_assert(same(a, 2 * psz, 4));
    ck_assert_int_eq(g1->ops->unshare(g1, a, 2), 0);
    ck_assert_uint_eq(rtv_local_test_grants_in_use(hub), 0);
}
END_TEST

START_TEST(map_checks_domains_and_refs)
{
    rtv_gref_t refs[2];
    void *a = g1->ops->share(g1, 2, 2, refs, true);
    ck_assert_ptr_nonnull(a);

    /* Wrong granter named by the mapper. */
    errno = 0;
    ck_assert_ptr_null(g2->ops->map(g2, 3, 2, refs, true));
    ck_assert_int_eq(errno, EINVAL);
    /* Right granter, but the mapper is not the grantee. */
    struct rtv_xen x3;
    ck_assert_int_eq(rtv_local_open(hub, 3, RTV_XEN_GRANTS, &x3), 0);
    errno = 0;
    ck_assert_ptr_null(x3.gnt->ops->map(x3.gnt, 1, 1, refs, false));
    ck_assert_int_eq(errno, EINVAL);
    rtv_xen_close(&x3);
    /* Unknown refs: 0, out of range, one bad among good ones. */
    rtv_gref_t bad[3] = { 0, 0xFFFFFFFFu, refs[0] + 1000 };
    for (int i = 0; i < 3; i++) {
        errno = 0;
        ck_assert_ptr_null(g2->ops->map(g2, 1, 1, &bad[i], false));
        ck_assert_int_eq(errno, EINVAL);
    }
    rtv_gref_t mix[2] = { refs[0], bad[2] };
    ck_assert_ptr_null(g2->ops->map(g2, 1, 2, mix, false));
    /* Arguments. */
    errno = 0;
    ck_assert_ptr_null(g2->ops->map(g2, 1, 0, refs, false));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(g1->ops->share(g1, RTV_DOMID_MAX, 1, refs, false));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(g1->ops->share(g1, 2, 0, refs, false));
    ck_assert_int_eq(errno, EINVAL);

    /* The failed attempts counted no mapping: unshare frees at once. */
    ck_assert_int_eq(g1->ops->unshare(g1, a, 2), 0);
    ck_assert_uint_eq(rtv_local_test_grants_in_use(hub), 0);
    /* And a freed ref no longer maps. */
    errno = 0;
    ck_assert_ptr_null(g2->ops->map(g2, 1, 1, refs, false));
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(read_only_grants)
{
    rtv_gref_t ref;
    unsigned char *a = g1->ops->share(g1, 2, 1, &ref, false);
    ck_assert_ptr_nonnull(a);
    fill(a, psz, 5);

    errno = 0;
    ck_assert_ptr_null(g2->ops->map(g2, 1, 1, &ref, true));
    ck_assert_int_eq(errno, EACCES);
    unsigned char *b = g2->ops->map(g2, 1, 1, &ref, false);
    ck_assert_ptr_nonnull(b);
    ck_assert(same(b, psz, 5));

    /* The read-only mapping really is: a store through it faults. */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        ((volatile unsigned char *)b)[0] = 0xAA;
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status));
    ck_assert(same(a, psz, 5));
    ck_assert_int_eq(g2->ops->unmap(g2, b, 1), 0);
    ck_assert_int_eq(g1->ops->unshare(g1, a, 1), 0);
}
END_TEST

START_TEST(unshare_while_mapped_defers_free)
{
    rtv_gref_t refs[2];
    unsigned char *a = g1->ops->share(g1, 2, 2, refs, true);
    ck_assert_ptr_nonnull(a);
    fill(a, 2 * psz, 6);
    unsigned char *b = g2->ops->map(g2, 1, 2, refs, true);
    unsigned char *c = g2->ops->map(g2, 1, 1, &refs[1], false);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(c);

    ck_assert_int_eq(g1->ops->unshare(g1, a, 2), 0);
    /* Still there for the mapper, but no new mappings. */
    ck_assert_uint_eq(rtv_local_test_grants_in_use(hub), 2);
    ck_assert(same(b, 2 * psz, 6));
    errno = 0;
    ck_assert_ptr_null(g2->ops->map(g2, 1, 1, refs, false));
    ck_assert_int_eq(errno, EINVAL);
    /* A new share cannot be handed a page that is still mapped. */
    rtv_gref_t other;
    void *d = g1->ops->share(g1, 2, 1, &other, true);
    ck_assert_ptr_nonnull(d);
    ck_assert(other != refs[0] && other != refs[1]);

    ck_assert_int_eq(g2->ops->unmap(g2, b, 2), 0);
    ck_assert_uint_eq(rtv_local_test_grants_in_use(hub), 2);    /* c holds refs[1] */
    ck_assert(same_at(c, psz, psz, 6));
    ck_assert_int_eq(g2->ops->unmap(g2, c, 1), 0);
    ck_assert_uint_eq(rtv_local_test_grants_in_use(hub), 1);
    ck_assert_int_eq(g1->ops->unshare(g1, d, 1), 0);
    ck_assert_uint_eq(rtv_local_test_grants_in_use(hub), 0);
}
END_TEST

START_TEST(unmap_bad_args)
{
    rtv_gref_t ref;
    unsigned char *a = g1->ops->share(g1, 2, 1, &ref, true);
    unsigned char *b = g2->ops->map(g2, 1, 1, &ref, true);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);

    ck_assert_int_eq(g2->ops->unmap(g2, b + psz, 1), -EINVAL);
    ck_assert_int_eq(g2->ops->unmap(g2, b, 2), -EINVAL);
    ck_assert_int_eq(g2->ops->unmap(g2, NULL, 1), -EINVAL);
    ck_assert_int_eq(g2->ops->unmap(g2, a, 1), -EINVAL);   /* not g2's */
    ck_assert_int_eq(g1->ops->unshare(g1, b, 1), -EINVAL); /* a mapping, not a share */
    ck_assert_int_eq(g2->ops->unshare(g2, b, 1), -EINVAL);
    ck_assert_int_eq(g2->ops->unmap(g2, b, 1), 0);
    ck_assert_int_eq(g2->ops->unmap(g2, b, 1), -EINVAL);   /* twice */
    ck_assert_int_eq(g1->ops->unshare(g1, a, 1), 0);
    ck_assert_int_eq(g1->ops->unshare(g1, a, 1), -EINVAL);
}
END_TEST

START_TEST(child_closing_inherited_handles)
{
    rtv_gref_t ref;
    unsigned char *a = g1->ops->share(g1, 2, 1, &ref, true);
    ck_assert_ptr_nonnull(a);
    unsigned char *m = g2->ops->map(g2, 1, 1, &ref, true);
    ck_assert_ptr_nonnull(m);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        m[0] = 0x5A;              /* the inherited mapping is live */
        rtv_xen_close(&x1);
        rtv_xen_close(&x2);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_uint_eq(a[0], 0x5A);
    ck_assert_uint_eq(rtv_local_test_grants_in_use(hub), 1);
    /* Still mapped and shared as far as the hub is concerned. */
    ck_assert_int_eq(g1->ops->unshare(g1, a, 1), 0);
    ck_assert_uint_eq(rtv_local_test_grants_in_use(hub), 1);
    ck_assert_int_eq(g2->ops->unmap(g2, m, 1), 0);
    ck_assert_uint_eq(rtv_local_test_grants_in_use(hub), 0);
}
END_TEST

START_TEST(capacity_and_reuse)
{
    struct rtv_local_config cfg = { .max_grant_pages = 4 };
    struct rtv_local_hub *h = rtv_local_hub_new(&cfg);
    struct rtv_xen x;
    rtv_gref_t refs[5];
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(rtv_local_open(h, 1, RTV_XEN_GRANTS, &x), 0);

    unsigned char *a = x.gnt->ops->share(x.gnt, 2, 3, refs, true);
    ck_assert_ptr_nonnull(a);
    fill(a, 3 * psz, 7);
    errno = 0;
    ck_assert_ptr_null(x.gnt->ops->share(x.gnt, 2, 2, refs + 3, true));
    ck_assert_int_eq(errno, ENOSPC);
    errno = 0;
    ck_assert_ptr_null(x.gnt->ops->share(x.gnt, 2, 5, refs, true));
    ck_assert_int_eq(errno, ENOSPC);
    unsigned char *b = x.gnt->ops->share(x.gnt, 2, 1, refs + 3, true);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(x.gnt->ops->unshare(x.gnt, a, 3), 0);
    /* Reused pages come back zeroed, not with the last user's data. */
    unsigned char *c = x.gnt->ops->share(x.gnt, 2, 3, refs, true);
    ck_assert_ptr_nonnull(c);
    for (size_t i = 0; i < 3 * psz; i++)
        ck_assert_uint_eq(c[i], 0);
    rtv_xen_close(&x);      /* close unshares everything */
    ck_assert_uint_eq(rtv_local_test_grants_in_use(h), 0);
    rtv_local_hub_free(h);
}
END_TEST

START_TEST(fault_injection)
{
    rtv_gref_t refs[4];

    rtv_local_fault_set(hub, RTV_FAULT_GNT_SHARE, 1, 1, ENOMEM);
    void *a = g1->ops->share(g1, 2, 1, &refs[0], true);
    ck_assert_ptr_nonnull(a);
    errno = 0;
    ck_assert_ptr_null(g1->ops->share(g1, 2, 1, &refs[1], true));
    ck_assert_int_eq(errno, ENOMEM);
    void *b = g1->ops->share(g1, 2, 1, &refs[1], true);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(rtv_local_fault_hits(hub, RTV_FAULT_GNT_SHARE), 1);
    ck_assert_uint_eq(rtv_local_test_grants_in_use(hub), 2);   /* no leak */

    rtv_local_fault_set(hub, RTV_FAULT_GNT_MAP, 0, 2, EFAULT);
    for (int i = 0; i < 2; i++) {
        errno = 0;
        ck_assert_ptr_null(g2->ops->map(g2, 1, 1, &refs[0], true));
        ck_assert_int_eq(errno, EFAULT);
    }
    void *m = g2->ops->map(g2, 1, 1, &refs[0], true);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(rtv_local_fault_hits(hub, RTV_FAULT_GNT_MAP), 2);
    /* What each side holds: failed calls took nothing. */
    struct rtv_local_held h1, h2;
    ck_assert_int_eq(rtv_local_held(&x1, &h1), 0);
    ck_assert_int_eq(rtv_local_held(&x2, &h2), 0);
    ck_assert_uint_eq(h1.shared, 2);
    ck_assert_uint_eq(h1.mapped, 0);
    ck_assert_uint_eq(h2.shared, 0);
    ck_assert_uint_eq(h2.mapped, 1);
    ck_assert_int_eq(g2->ops->unmap(g2, m, 1), 0);
    ck_assert_int_eq(g1->ops->unshare(g1, a, 1), 0);
    ck_assert_int_eq(g1->ops->unshare(g1, b, 1), 0);
    ck_assert_uint_eq(rtv_local_test_grants_in_use(hub), 0);
    ck_assert_int_eq(rtv_local_held(&x1, &h1), 0);
    ck_assert_uint_eq(h1.shared + h1.mapped, 0);
}
END_TEST

START_TEST(close_and_release_domain)
{
    rtv_gref_t r1, r2;
    unsigned char *a = g1->ops->share(g1, 2, 1, &r1, true);
    ck_assert_ptr_nonnull(a);
    unsigned char *m = g2->ops->map(g2, 1, 1, &r1, true);
    ck_assert_ptr_nonnull(m);
    fill(a, psz, 8);

    /* The granter goes away (closes its handle): the mapper keeps the page. */
    rtv_xen_close(&x1);
    ck_assert_uint_eq(rtv_local_test_grants_in_use(hub), 1);
    ck_assert(same(m, psz, 8));
    ck_assert_int_eq(g2->ops->unmap(g2, m, 1), 0);
    ck_assert_uint_eq(rtv_local_test_grants_in_use(hub), 0);

    /* Domain 1 again, granting; then the *mapper's* domain dies: its
     * mappings stop pinning the grant, and the granter can free it. */
    ck_assert_int_eq(rtv_local_open(hub, 1, RTV_XEN_GRANTS, &x1), 0);
    g1 = x1.gnt;
    a = g1->ops->share(g1, 2, 1, &r2, true);
    ck_assert_ptr_nonnull(a);
    m = g2->ops->map(g2, 1, 1, &r2, true);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(rtv_local_release_domain(hub, 2), 0);
    ck_assert_int_eq(g1->ops->unshare(g1, a, 1), 0);
    ck_assert_uint_eq(rtv_local_test_grants_in_use(hub), 0);
    /* The dead domain's late unmap is harmless. */
    ck_assert_int_eq(g2->ops->unmap(g2, m, 1), 0);

    /* The granter's domain dies while the peer maps: freed at last unmap. */
    a = g1->ops->share(g1, 2, 1, &r1, true);
    m = g2->ops->map(g2, 1, 1, &r1, true);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(rtv_local_release_domain(hub, 1), 0);
    ck_assert_uint_eq(rtv_local_test_grants_in_use(hub), 1);
    errno = 0;
    ck_assert_ptr_null(g2->ops->map(g2, 1, 1, &r1, true));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(g2->ops->unmap(g2, m, 1), 0);
    ck_assert_uint_eq(rtv_local_test_grants_in_use(hub), 0);
    ck_assert_int_eq(g1->ops->unshare(g1, a, 1), 0);    /* stale, ignored */
    ck_assert_uint_eq(rtv_local_test_grants_in_use(hub), 0);
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(local_grants_suite, "local_grants", "grants", setup, teardown, 0,
                        share_map_round_trip, round_trip_across_fork, map_checks_domains_and_refs,
                        read_only_grants, unshare_while_mapped_defers_free, unmap_bad_args,
                        child_closing_inherited_handles, capacity_and_reuse, fault_injection,
                        close_and_release_domain)

RTV_UNIT_MAIN(local_grants_suite)
