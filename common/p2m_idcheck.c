/*
 * The identity check from the M2P side (see rtvirt/p2m_idcheck.h).  Shares
 * nothing with the planner (common/p2m_plan.c) on purpose: it is what checks
 * that the planner's plan, run by the patch, left identity behind.
 */
#include <errno.h>
#include <string.h>

#include "rtvirt/p2m_idcheck.h"

/* Frames asked of the lookup at a time: one page of M2P entries. */
#define BATCH 512

/* The run of non-identity gfns being gathered (len 0: none). */
struct run {
    uint64_t first, len, m2p_first;
};

static int run_end(const struct rtv_p2m_idcheck_hooks *hooks, struct run *r,
                   struct rtv_p2m_idcheck_counts *counts)
{
    int rc = 0;

    if ( !r->len )
        return 0;
    counts->ranges++;
    if ( hooks->bad )
        rc = hooks->bad(hooks->ctx, r->first, r->len, r->m2p_first);
    r->len = 0;
    return rc;
}

int rtv_p2m_idcheck(uint64_t gfn_start, uint64_t nr, const struct rtv_p2m_idcheck_hooks *hooks,
                    struct rtv_p2m_idcheck_counts *counts)
{
    uint64_t m2p[BATCH], done;
    struct run r = { 0, 0, 0 };
    int rc;

    /* The last gfn must not wrap, nor be the "no gfn" marker. */
    if ( !hooks || !hooks->m2p || !counts || nr > RTV_M2P_NONE - gfn_start )
        return -EINVAL;
    memset(counts, 0, sizeof(*counts));

    for ( done = 0; done < nr; done += BATCH )
    {
        uint64_t n = nr - done < BATCH ? nr - done : BATCH, i;

        rc = hooks->m2p(hooks->ctx, gfn_start + done, n, m2p);
        if ( rc )
            return rc;
        for ( i = 0; i < n; i++ )
        {
            uint64_t g = gfn_start + done + i;

            counts->pages++;
            if ( m2p[i] == g )
            {
                counts->identity++;
                rc = run_end(hooks, &r, counts);
                if ( rc )
                    return rc;
                continue;
            }
            if ( m2p[i] == RTV_M2P_NONE )
                counts->none++;
            else
                counts->other++;
            if ( !r.len++ )
            {
                r.first = g;
                r.m2p_first = m2p[i];
            }
        }
    }
    return run_end(hooks, &r, counts);
}

int rtv_m2p_extent_count(uint64_t guess, int (*list)(void *ctx, uint64_t k), void *ctx,
                         uint64_t *count)
{
    uint64_t lo = 0, hi = guess;    /* lo lists (0 trivially), hi does not */
    int rc;

    if ( !guess )
        return -EINVAL;
    rc = list(ctx, guess);
    if ( rc < 0 )
        return rc;
    if ( !rc )
    {
        *count = guess;
        return 0;
    }
    while ( hi - lo > 1 )
    {
        uint64_t mid = lo + (hi - lo) / 2;

        rc = list(ctx, mid);
        if ( rc < 0 )
            return rc;
        if ( rc == 0 )
            lo = mid;
        else
            hi = mid;
    }
    if ( !lo )
        return -ENOENT;
    /* The last call must be the one whose listing the caller keeps. */
    rc = list(ctx, lo);
    if ( rc )
        return rc < 0 ? rc : -EIO;
    *count = lo;
    return 0;
}
