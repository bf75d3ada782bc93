/*
 * rtvirt-p2m-cycles: run inside a PVH dom0 on the patched hypervisor (by
 * xen-patches/boot-smoke) to drive the cycle path of the identity rebuild,
 * which a freshly booted dom0 never needs (its targets are all free).
 *
 * It takes pages of its own mlocked buffer, finds their gfns in
 * /proc/self/pagemap, and rotates groups of them through the P2M with
 * XENMEM_add_to_physmap(XENMAPSPACE_gmfn) -- a1 -> spare, a2 -> a1, ...,
 * spare -> ak, then repopulates the spare -- so that, if the pages were
 * identity, each group becomes a cycle of the domain's own pages.  Then it
 * rebuilds (one call, no batch limit) and checks: the rebuild reports the
 * cycles and scratch uses, copies == remapped + cycles, every buffer page
 * still holds what the rotation put there, and the query afterwards has no
 * target-own pages left in the buffer's range.
 *
 * Only its own buffer is touched, so the rest of dom0 does not notice.
 * Output: one line "RTV-CYCLES <json>"; exit 0 when every check passed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rtvirt/p2m_hypercall.h"
#include "rtvirt/p2m_plan.h"
#include "rtvirt/xen_p2m.h"
#include "selfmem.h"

#define PAGE SELFMEM_PAGE
#define NGROUPS 3
static const unsigned int group_len[NGROUPS] = { 2, 3, 5 };

static int failed;

static void check(int ok, const char *what)
{
    fprintf(stderr, "rtvirt-p2m-cycles: %s %s\n", ok ? "PASS" : "FAIL", what);
    failed |= !ok;
}

static int call(struct rtv_xen_p2m *x, unsigned int op, uint64_t first, uint64_t nr,
                struct rtv_p2m_identity_arg *a)
{
    struct rtv_err err = { 0 };
    int rc;

    memset(a, 0, sizeof(*a));
    a->version = RTV_P2M_IDENTITY_VERSION;
    a->domid = 0;
    a->op = (uint8_t)op;
    a->bookkeeping = RTV_P2M_BK_BACKMAP;
    a->flags = op == RTV_P2M_IDENTITY_OP_REBUILD ? RTV_P2M_IDENTITY_F_PAUSED : 0;
    a->first_gfn = first;
    a->nr_gfns = nr;
    rc = rtv_xen_p2m_call(x, a, &err);
    if ( rc < 0 )
        fprintf(stderr, "rtvirt-p2m-cycles: %s\n", err.msg);
    return rc;
}

int main(int argc, char **argv)
{
    unsigned int total = 0, g, i, k;
    unsigned char *buf;
    uint64_t *gfn, lo = ~0ull, hi = 0, own_rotated;
    uint32_t *tag_at;               /* expected tag per buffer page */
    struct rtv_xen_p2m *x = NULL;
    struct rtv_err err = { 0 };
    struct rtv_p2m_identity_arg q0, rb, q1;
    int pm, rc;

    if ( argc > 1 )
    {
        bool help = !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h");

        fprintf(help ? stdout : stderr,
                "usage: rtvirt-p2m-cycles   (no arguments; root, in a PVH dom0 on the\n"
                "       patched hypervisor)\n"
                "Rotates pages of its own buffer into cycles of 2, 3 and 5 and checks the\n"
                "identity rebuild takes them through the scratch frame with their data intact.\n"
                "Prints one line \"RTV-CYCLES <json>\"; exit 0 when every check passed.\n");
        if ( !help )
            fprintf(stderr, "rtvirt-p2m-cycles: unexpected argument '%s'\n", argv[1]);
        return help ? 0 : 2;
    }

    for ( g = 0; g < NGROUPS; g++ )
        total += group_len[g];
    total += 1;                     /* the spare */
    buf = mmap(NULL, (size_t)total * PAGE, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    gfn = calloc(total, sizeof(*gfn));
    tag_at = calloc(total, sizeof(*tag_at));
    if ( buf == MAP_FAILED || !gfn || !tag_at || mlock(buf, (size_t)total * PAGE) )
    {
        perror("rtvirt-p2m-cycles: buffer");
        return 1;
    }
    pm = open("/proc/self/pagemap", O_RDONLY);
    for ( i = 0; i < total; i++ )
    {
        tag_at[i] = 0x51000000u + i;
        selfmem_stamp(buf + (size_t)i * PAGE, tag_at[i]);
        gfn[i] = pm >= 0 ? selfmem_gfn(pm, buf + (size_t)i * PAGE) : SELFMEM_NO_GFN;
        if ( gfn[i] == SELFMEM_NO_GFN )
        {
            fprintf(stderr, "rtvirt-p2m-cycles: no gfn for buffer page %u (root? pagemap?)\n", i);
            return 1;
        }
        if ( gfn[i] < lo )
            lo = gfn[i];
        if ( gfn[i] > hi )
            hi = gfn[i];
    }
    if ( rtv_xen_p2m_open(&x, &err) < 0 )
    {
        fprintf(stderr, "rtvirt-p2m-cycles: %s\n", err.msg);
        return 1;
    }

    /* Everything happens inside [lo, hi]: the buffer's own gfns. */
    if ( call(x, RTV_P2M_IDENTITY_OP_QUERY, lo, hi - lo + 1, &q0) < 0 )
        return 1;

    /* Rotate each group through the spare (the last buffer page). */
    for ( g = 0, k = 0; g < NGROUPS; k += group_len[g], g++ )
    {
        unsigned int n = group_len[g], spare = total - 1;
        uint32_t first_tag = tag_at[k];

        rc = rtv_xen_p2m_move_gfn(x, 0, gfn[k], gfn[spare], &err);
        for ( i = 1; rc == 0 && i < n; i++ )
        {
            rc = rtv_xen_p2m_move_gfn(x, 0, gfn[k + i], gfn[k + i - 1], &err);
            tag_at[k + i - 1] = tag_at[k + i];
        }
        if ( rc == 0 )
            rc = rtv_xen_p2m_move_gfn(x, 0, gfn[spare], gfn[k + n - 1], &err);
        tag_at[k + n - 1] = first_tag;
        /* The spare's gfn is a hole now; give it a page before it is touched. */
        if ( rc == 0 )
            rc = rtv_xen_p2m_populate(x, 0, gfn[spare], &err);
        if ( rc )
        {
            fprintf(stderr, "rtvirt-p2m-cycles: %s\n", err.msg);
            return 1;
        }
    }
    for ( i = 0, k = 1; i + 1 < total; i++ )
        k &= selfmem_has_stamp(buf + (size_t)i * PAGE, tag_at[i]);
    check(k, "rotation moved the data with the gfns as expected");

    if ( call(x, RTV_P2M_IDENTITY_OP_QUERY, lo, hi - lo + 1, &q1) < 0 )
        return 1;
    own_rotated = q1.class_count[RTV_P2M_TARGET_OWN];
    check(own_rotated >= q0.class_count[RTV_P2M_TARGET_OWN] + total - 1,
          "the query sees the rotated pages as target-own (swaps/cycles)");

    rc = call(x, RTV_P2M_IDENTITY_OP_REBUILD, lo, hi - lo + 1, &rb);
    check(rc == 0, "rebuild call succeeded");
    check(rb.cycles >= NGROUPS, "rebuild went through the cycles");
    check(rb.scratch_uses == rb.cycles, "one scratch use per cycle");
    check(rb.copies == rb.remapped + rb.cycles, "copies == remapped + cycles");
    for ( i = 0, k = 1; i + 1 < total; i++ )
        k &= selfmem_has_stamp(buf + (size_t)i * PAGE, tag_at[i]);
    check(k, "every buffer page kept its data through the rebuild");

    if ( call(x, RTV_P2M_IDENTITY_OP_QUERY, lo, hi - lo + 1, &q1) < 0 )
        return 1;
    check(q1.class_count[RTV_P2M_TARGET_OWN] == 0, "no target-own page left in the buffer's range");

    printf("RTV-CYCLES {\"pages\":%u,\"groups\":[2,3,5],\"gfns\":\"%#" PRIx64 "-%#" PRIx64
           "\",\"target_own_rotated\":%" PRIu64
           ",\"remapped\":%" PRIu64 ",\"copies\":%" PRIu64 ",\"cycles\":%" PRIu64
           ",\"scratch_uses\":%" PRIu64 ",\"busy\":%" PRIu64 ",\"continuations\":%" PRIu64
           ",\"ok\":%s}\n", total - 1, lo, hi, own_rotated,
           rb.remapped, rb.copies, rb.cycles, rb.scratch_uses, rb.busy, rb.continuations,
           failed ? "false" : "true");
    rtv_xen_p2m_close(x);
    return failed;
}
