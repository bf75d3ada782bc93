/*
 * rtvirt P2M identity planner: classification and plan.  See
 * common/include/rtvirt/p2m_plan.h for the model; this file is also compiled
 * inside the patched hypervisor (xen-patches/), so it uses nothing but the
 * caller's memory and the hooks.
 */
#ifdef __XEN__
#include <xen/errno.h>
#include <xen/lib.h>
#include <xen/string.h>
#define RTV_ASSERT(x) ASSERT(x)
#else
#include <assert.h>
#include <errno.h>
#include <string.h>
#define RTV_ASSERT(x) assert(x)
#endif

#include "rtvirt/p2m_plan.h"

/* backmap slot values: 0 = no page of the range maps this frame. */
#define BM_MANY 0xffffffffu

/* How often long loops report progress (pages). */
#define PROGRESS_EVERY (1u << 16)

struct planner {
    const struct rtv_p2m_range *r;
    unsigned int bk;
    uint32_t *backmap;      /* BACKMAP: slot = frame - gfn_start, value = index + 1 */
    uint8_t *refcnt;        /* REFCOUNT: 0, 1, 2 (= more than one) */
    const struct rtv_p2m_hooks *h;
    uint8_t *klass;
    struct rtv_p2m_counts *c;
};

static int in_range(const struct rtv_p2m_range *r, uint64_t gfn)
{
    return gfn >= r->gfn_start && gfn - r->gfn_start < r->nr;
}

static void progress(const struct planner *p, unsigned int phase, uint64_t done)
{
    if ( p->h->progress && (done % PROGRESS_EVERY) == 0 )
        p->h->progress(p->h->ctx, phase, done, p->r->nr);
}

size_t rtv_p2m_workspace_size(uint64_t nr, unsigned int bookkeeping)
{
    if ( nr > RTV_P2M_MAX_PAGES )
        return 0;
    switch ( bookkeeping )
    {
    case RTV_P2M_BK_BACKMAP:
        return (size_t)nr * sizeof(uint32_t);
    case RTV_P2M_BK_REFCOUNT:
        return (size_t)nr;
    default:
        return 0;
    }
}

/*
 * How many pages of the range map frame t (0, 1, or 2 meaning "more"), and
 * the index of the one when there is exactly one.  t is always a gfn of the
 * range (it is some page's identity target), so the arrays cover it.
 */
static unsigned int occupants(struct planner *p, uint64_t t, uint64_t *idx)
{
    const struct rtv_p2m_range *r = p->r;
    uint64_t slot = t - r->gfn_start;

    RTV_ASSERT(in_range(r, t));
    p->c->lookups++;
    switch ( p->bk )
    {
    case RTV_P2M_BK_BACKMAP:
    {
        uint32_t v = p->backmap[slot];

        if ( v == 0 )
            return 0;
        if ( v == BM_MANY )
            return 2;
        *idx = v - 1;
        return 1;
    }
    case RTV_P2M_BK_REFCOUNT:
        /* The count is all this mode keeps; callers never need the name. */
        return p->refcnt[slot];
    default:
    {
        /* SEARCH: the whole range every time, since an alias anywhere in it
         * changes the answer.  This is the mode's price: no memory, O(n). */
        unsigned int n = 0;
        uint64_t i;

        for ( i = 0; i < r->nr; i++ )
            if ( r->p2m[i] == t )
            {
                *idx = i;
                if ( ++n > 1 )
                    return 2;
            }
        return n;
    }
    }
}

static int build_bookkeeping(struct planner *p, void *ws, size_t ws_size)
{
    const struct rtv_p2m_range *r = p->r;
    uint64_t i;

    if ( ws_size < rtv_p2m_workspace_size(r->nr, p->bk) )
        return -ENOSPC;
    if ( p->bk == RTV_P2M_BK_SEARCH )
        return 0;
    memset(ws, 0, rtv_p2m_workspace_size(r->nr, p->bk));
    if ( p->bk == RTV_P2M_BK_BACKMAP )
        p->backmap = ws;
    else
        p->refcnt = ws;

    for ( i = 0; i < r->nr; i++ )
    {
        uint64_t m = r->p2m[i];
        uint64_t slot;

        if ( !in_range(r, m) )
            continue;
        slot = m - r->gfn_start;
        if ( p->backmap )
            p->backmap[slot] = p->backmap[slot] ? BM_MANY : (uint32_t)(i + 1);
        else if ( p->refcnt[slot] < 2 )
            p->refcnt[slot]++;
    }
    return 0;
}

static unsigned int classify(struct planner *p, uint64_t i)
{
    const struct rtv_p2m_range *r = p->r;
    uint64_t g = r->gfn_start + i, m = r->p2m[i], occ = 0;

    if ( m == RTV_P2M_INVALID_MFN )
        return RTV_P2M_HOLE;
    if ( m == g )
        return RTV_P2M_IDENTITY;
    /* A gfn mapping someone else's frame (grant, foreign map) has nothing
     * of its own to move. */
    if ( p->h->frame_kind(p->h->ctx, m) != RTV_FRAME_OWN )
        return RTV_P2M_FAIL_NOT_OWNED;

    switch ( p->h->frame_kind(p->h->ctx, g) )
    {
    case RTV_FRAME_FREE:
        return RTV_P2M_TARGET_FREE;
    case RTV_FRAME_OWN:
        switch ( occupants(p, g, &occ) )
        {
        case 0:
            /* Ours, but no gfn of the range maps it: a page outside the
             * range, or one the domain holds without a mapping. */
            return RTV_P2M_FAIL_TARGET_OUTSIDE;
        case 1:
            return RTV_P2M_TARGET_OWN;
        default:
            return RTV_P2M_FAIL_TARGET_ALIASED;
        }
    case RTV_FRAME_NOT_RAM:
        return RTV_P2M_FAIL_TARGET_NOT_RAM;
    default:
        return RTV_P2M_FAIL_TARGET_OTHER;
    }
}

static void count_classes(const struct rtv_p2m_range *r, const uint8_t *klass,
                          struct rtv_p2m_counts *c)
{
    uint64_t i;
    unsigned int k;

    memset(c->by_class, 0, sizeof(c->by_class));
    for ( i = 0; i < r->nr; i++ )
        c->by_class[klass[i]]++;
    c->failed = 0;
    for ( k = RTV_P2M_FAIL_TARGET_OTHER; k <= RTV_P2M_FAIL_BLOCKED; k++ )
        c->failed += c->by_class[k];
}

static int start(struct planner *p, const struct rtv_p2m_range *range,
                 unsigned int bookkeeping, void *ws, size_t ws_size,
                 const struct rtv_p2m_hooks *hooks, uint8_t *klass,
                 struct rtv_p2m_counts *counts)
{
    uint64_t i;
    int rc;

    if ( !range || !hooks || !hooks->frame_kind || !klass || !counts ||
         bookkeeping >= RTV_P2M_BK_COUNT )
        return -EINVAL;
    if ( range->nr > RTV_P2M_MAX_PAGES ||
         range->gfn_start > RTV_P2M_SCRATCH - 1 - range->nr ||
         (range->nr && !range->p2m) )
        return -EINVAL;
    /* The scratch marker is ours; a P2M that names it is corrupt. */
    for ( i = 0; i < range->nr; i++ )
        if ( range->p2m[i] == RTV_P2M_SCRATCH )
            return -EINVAL;

    memset(p, 0, sizeof(*p));
    memset(counts, 0, sizeof(*counts));
    p->r = range;
    p->bk = bookkeeping;
    p->h = hooks;
    p->klass = klass;
    p->c = counts;
    counts->pages = range->nr;

    rc = build_bookkeeping(p, ws, ws_size);
    if ( rc )
        return rc;

    for ( i = 0; i < range->nr; i++ )
    {
        progress(p, 0, i);
        klass[i] = (uint8_t)classify(p, i);
    }
    count_classes(range, klass, counts);
    return 0;
}

int rtv_p2m_query(const struct rtv_p2m_range *range,
                  unsigned int bookkeeping, void *ws, size_t ws_size,
                  const struct rtv_p2m_hooks *hooks,
                  uint8_t *klass, struct rtv_p2m_counts *counts)
{
    struct planner p;

    return start(&p, range, bookkeeping, ws, ws_size, hooks, klass, counts);
}

static int emit(struct planner *p, unsigned int kind, uint64_t gfn,
                uint64_t from, uint64_t to)
{
    struct rtv_p2m_op op = { .gfn = gfn, .from = from, .to = to, .kind = kind };

    p->c->copies++;
    if ( kind == RTV_P2M_OP_SAVE )
        p->c->scratch_uses++;
    return p->h->emit ? p->h->emit(p->h->ctx, &op) : 0;
}

/* Move page idx (target free) and then every page waiting on it, in turn. */
static int run_chain(struct planner *p, uint64_t idx)
{
    const struct rtv_p2m_range *r = p->r;
    int rc;

    p->c->chains++;
    for ( ;; )
    {
        uint64_t g = r->gfn_start + idx, from = r->p2m[idx];

        rc = emit(p, RTV_P2M_OP_MOVE, g, from, g);
        if ( rc )
            return rc;
        p->klass[idx] = RTV_P2M_MOVED;
        p->c->remapped++;
        /* Frame `from` is free now; the page that wants it is gfn `from`.
         * TARGET_OWN means exactly one page of the range held that frame,
         * and that was us. */
        if ( !in_range(r, from) || p->klass[from - r->gfn_start] != RTV_P2M_TARGET_OWN )
            return 0;
        idx = from - r->gfn_start;
        RTV_ASSERT(r->p2m[idx] != RTV_P2M_INVALID_MFN);
    }
}

/*
 * Walk from TARGET_OWN page idx through "the page that wants my frame".  On a
 * cycle (the walk comes back) emit it through the scratch frame; otherwise the
 * walk ran into a page that will never move, so everything on it is blocked.
 */
static int run_cycle_or_block(struct planner *p, uint64_t idx)
{
    const struct rtv_p2m_range *r = p->r;
    uint64_t g = r->gfn_start + idx, x = r->p2m[idx], len = 1;
    int cycle = 1, rc;

    while ( x != g )
    {
        /* len bound: a walk longer than the range is corrupt input. */
        if ( !in_range(r, x) || p->klass[x - r->gfn_start] != RTV_P2M_TARGET_OWN ||
             len > r->nr )
        {
            cycle = 0;
            break;
        }
        x = r->p2m[x - r->gfn_start];
        len++;
    }

    if ( !cycle )
    {
        x = g;
        while ( in_range(r, x) && p->klass[x - r->gfn_start] == RTV_P2M_TARGET_OWN )
        {
            p->klass[x - r->gfn_start] = RTV_P2M_FAIL_BLOCKED;
            x = r->p2m[x - r->gfn_start];
        }
        return 0;
    }

    p->c->cycles++;
    if ( len > p->c->longest_cycle )
        p->c->longest_cycle = len;
    /* Read each P2M entry before emitting its operation: emit may apply it
     * to the very array we read. */
    x = r->p2m[idx];
    rc = emit(p, RTV_P2M_OP_SAVE, g, x, RTV_P2M_SCRATCH);
    if ( rc )
        return rc;
    p->klass[idx] = RTV_P2M_MOVED;
    while ( x != g )
    {
        uint64_t xi = x - r->gfn_start, next = r->p2m[xi];

        rc = emit(p, RTV_P2M_OP_MOVE, x, next, x);
        if ( rc )
            return rc;
        p->klass[xi] = RTV_P2M_MOVED;
        p->c->remapped++;
        x = next;
    }
    rc = emit(p, RTV_P2M_OP_RESTORE, g, RTV_P2M_SCRATCH, g);
    if ( rc )
        return rc;
    p->c->remapped++;
    return 0;
}

int rtv_p2m_plan(const struct rtv_p2m_range *range,
                 unsigned int bookkeeping, void *ws, size_t ws_size,
                 const struct rtv_p2m_hooks *hooks,
                 uint8_t *klass, struct rtv_p2m_counts *counts)
{
    struct planner p;
    uint64_t i;
    int rc;

    rc = start(&p, range, bookkeeping, ws, ws_size, hooks, klass, counts);
    if ( rc )
        return rc;

    /* Chains first: they need no scratch, and running them before cycles
     * keeps the order canonical whatever the bookkeeping. */
    for ( i = 0; i < range->nr; i++ )
    {
        progress(&p, 1, i);
        if ( klass[i] == RTV_P2M_TARGET_FREE )
        {
            rc = run_chain(&p, i);
            if ( rc )
                goto out;
        }
    }
    for ( i = 0; i < range->nr; i++ )
    {
        progress(&p, 2, i);
        if ( klass[i] == RTV_P2M_TARGET_OWN )
        {
            rc = run_cycle_or_block(&p, i);
            if ( rc )
                goto out;
        }
    }
    /* Every TARGET_FREE / TARGET_OWN page has been moved or blocked. */
    RTV_ASSERT(p.c->copies == p.c->remapped + p.c->cycles);
    RTV_ASSERT(p.c->scratch_uses == p.c->cycles);

 out:
    count_classes(range, klass, counts);
    return rc;
}

static const char *const class_names[RTV_P2M_CLASS_COUNT] = {
    [RTV_P2M_HOLE] = "hole",
    [RTV_P2M_IDENTITY] = "identity",
    [RTV_P2M_TARGET_FREE] = "target-free",
    [RTV_P2M_TARGET_OWN] = "target-own",
    [RTV_P2M_FAIL_TARGET_OTHER] = "target-other-owner",
    [RTV_P2M_FAIL_TARGET_NOT_RAM] = "target-not-ram",
    [RTV_P2M_FAIL_TARGET_OUTSIDE] = "target-own-outside-range",
    [RTV_P2M_FAIL_TARGET_ALIASED] = "target-aliased",
    [RTV_P2M_FAIL_NOT_OWNED] = "not-owned",
    [RTV_P2M_FAIL_BLOCKED] = "blocked",
    [RTV_P2M_MOVED] = "moved",
};

static const char *const bk_names[RTV_P2M_BK_COUNT] = {
    [RTV_P2M_BK_BACKMAP] = "backmap",
    [RTV_P2M_BK_REFCOUNT] = "refcount",
    [RTV_P2M_BK_SEARCH] = "search",
};

const char *rtv_p2m_class_name(unsigned int klass)
{
    return klass < RTV_P2M_CLASS_COUNT ? class_names[klass] : "?";
}

const char *rtv_p2m_bookkeeping_name(unsigned int bookkeeping)
{
    return bookkeeping < RTV_P2M_BK_COUNT ? bk_names[bookkeeping] : "?";
}

const char *rtv_p2m_op_name(unsigned int kind)
{
    switch ( kind )
    {
    case RTV_P2M_OP_MOVE:
        return "move";
    case RTV_P2M_OP_SAVE:
        return "save";
    case RTV_P2M_OP_RESTORE:
        return "restore";
    default:
        return "?";
    }
}

int rtv_p2m_bookkeeping_parse(const char *name)
{
    unsigned int i;

    for ( i = 0; i < RTV_P2M_BK_COUNT; i++ )
        if ( name && strcmp(name, bk_names[i]) == 0 )
            return (int)i;
    return -1;
}
