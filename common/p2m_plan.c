/*
 * rtvirt P2M identity planner: classification and plan.  See
 * common/include/rtvirt/p2m_plan.h for the model; this file is also compiled
 * inside the patched hypervisor (xen-patches/), so it uses nothing but the
 * caller's memory and the hooks.
 */
#ifdef __XEN__
#include <xen/bitops.h>
#include <xen/errno.h>
#include <xen/lib.h>
#include <xen/string.h>
#define RTV_ASSERT(x) ASSERT(x)
/* Xen links no libgcc: its own bit helpers. */
#define RTV_POPCOUNT64(x) hweight64(x)
#define RTV_CTZ64(x) find_first_set_bit(x)
#else
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#define RTV_ASSERT(x) assert(x)
#ifdef __POPCNT__
#define RTV_POPCOUNT64(x) ((unsigned int)__builtin_popcountll(x))
#else
/* Without the instruction the builtin is a libgcc call; this is faster. */
static inline unsigned int rtv_popcount64(uint64_t x)
{
    x -= (x >> 1) & 0x5555555555555555ull;
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (unsigned int)((x * 0x0101010101010101ull) >> 56);
}
#define RTV_POPCOUNT64(x) rtv_popcount64(x)
#endif
#define RTV_CTZ64(x) ((unsigned int)__builtin_ctzll(x))
#endif

#include "rtvirt/p2m_plan.h"

/* backmap slot values: 0 = no page of the range maps this frame. */
#define BM_MANY 0xffffffffu

/* How often long loops report progress (slots). */
#define PROGRESS_EVERY (1u << 16)

struct planner {
    const struct rtv_p2m_range *r;
    const struct rtv_p2m_sparse *s; /* NULL: the flat form */
    uint64_t slots;
    unsigned int bk;
    uint32_t *backmap;      /* BACKMAP: per frame's slot, occupant slot + 1 */
    uint8_t *fcount;        /* REFCOUNT, flat: per frame of the range, 2 bits:
                             * 0, 1, 2 (= more than one) */
    struct dir_entry *dir;  /* REFCOUNT, sparse: the directory (below) */
    const struct rtv_p2m_hooks *h;
    uint8_t *klass;
    struct rtv_p2m_counts *c;
    int aliased;            /* some frame of the range has two occupants (the
                             * bookkeeping saw it), or SEARCH: look for them */
};

/*
 * REFCOUNT over a sparse range keeps a directory, one entry a word of the
 * index (64 gfns), two entries a cache line: the word and its rank (copied
 * from the caller's index) beside 2 bits a gfn.  Those bits count frame
 * g's occupants while classifying (frame g's count sits at gfn g's place,
 * as in the flat form's fcount), then say "gfn g still has to move"
 * (bits[0], one bit a gfn: TARGET_FREE or TARGET_OWN, not yet moved).  So
 * the chains' and cycles' step "which slot waits for frame x, and must it
 * still move" is one cache line where the caller's index and klass[] took
 * three (listed[], rank[], the slot's class); klass[] gets MOVED in one
 * sequential pass at the end (settle_moved()).  32 bytes a 64 gfns: 1 TiB
 * of pages (268M) takes 128 MiB here, where the counts alone took 64.
 */
struct dir_entry {
    uint64_t listed;
    uint32_t rank;
    uint32_t unused;
    uint64_t bits[2];
};

/* Walks the slots in order with their gfns (both forms). */
struct cursor {
    uint64_t slot, gfn;     /* the current slot, valid after next() */
    uint64_t word, bits;    /* sparse: listed[word] with the bits done cleared */
};

static int in_range(const struct rtv_p2m_range *r, uint64_t gfn)
{
    return gfn >= r->gfn_start && gfn - r->gfn_start < r->nr;
}

uint64_t rtv_p2m_slots(const struct rtv_p2m_range *range)
{
    return range->sparse ? range->sparse->nlisted : range->nr;
}

uint64_t rtv_p2m_sparse_words(uint64_t nr)
{
    return (nr + 63) / 64;
}

uint64_t rtv_p2m_sparse_rank_entries(uint64_t nr)
{
    return (rtv_p2m_sparse_words(nr) + RTV_P2M_RANK_WORDS - 1) / RTV_P2M_RANK_WORDS;
}

uint64_t rtv_p2m_sparse_rank(const uint64_t *listed, uint32_t *rank, uint64_t nr)
{
    uint64_t w, words = rtv_p2m_sparse_words(nr), n = 0;

    for ( w = 0; w < words; w++ )
    {
        uint64_t bits = listed[w];

        if ( w == words - 1 && (nr & 63) )
            bits &= (1ull << (nr & 63)) - 1;
        if ( w % RTV_P2M_RANK_WORDS == 0 )
            rank[w / RTV_P2M_RANK_WORDS] = (uint32_t)n;
        n += RTV_POPCOUNT64(bits);
    }
    return n;
}

/* The slot of gfn, or RTV_P2M_NO_SLOT: outside the range, or unlisted
 * (sparse: identity).  The rank of the gfn's block of words plus the
 * popcounts of the block's words before it and of its own word's bits
 * below it. */
static uint64_t slot_of(const struct rtv_p2m_range *r, uint64_t gfn)
{
    const struct rtv_p2m_sparse *s = r->sparse;
    uint64_t off, word, w, v, n;
    unsigned int bit;

    if ( !in_range(r, gfn) )
        return RTV_P2M_NO_SLOT;
    off = gfn - r->gfn_start;
    if ( !s )
        return off;
    w = off / 64;
    word = s->listed[w];
    bit = off % 64;
    if ( !((word >> bit) & 1) )
        return RTV_P2M_NO_SLOT;
    n = s->rank[w / RTV_P2M_RANK_WORDS];
    for ( v = w - w % RTV_P2M_RANK_WORDS; v < w; v++ )
        n += RTV_POPCOUNT64(s->listed[v]);
    return n + RTV_POPCOUNT64(word & ((1ull << bit) - 1));
}

uint64_t rtv_p2m_slot(const struct rtv_p2m_range *range, uint64_t gfn)
{
    return slot_of(range, gfn);
}

/* The frame a slot's gfn maps (RTV_P2M_INVALID_MFN: not RAM). */
static uint64_t mfn_at(const struct planner *p, uint64_t slot)
{
    uint32_t m;

    if ( !p->s )
        return p->r->p2m[slot];
    m = p->s->mfn[slot];
    return m == RTV_P2M_SPARSE_HOLE ? RTV_P2M_INVALID_MFN : m;
}

/* The directory's entry of gfn (in the range) and the gfn's bit in a word. */
static struct dir_entry *dir_of(const struct planner *p, uint64_t gfn)
{
    return &p->dir[(gfn - p->r->gfn_start) / 64];
}

static unsigned int dir_bit(const struct planner *p, uint64_t gfn)
{
    return (unsigned int)((gfn - p->r->gfn_start) % 64);
}

/* Does the page in slot (of gfn) still have to move: TARGET_FREE or
 * TARGET_OWN, and not moved (or blocked) yet? */
static int pending(const struct planner *p, uint64_t slot, uint64_t gfn)
{
    if ( p->dir )
        return (int)((dir_of(p, gfn)->bits[0] >> dir_bit(p, gfn)) & 1);
    return p->klass[slot] == RTV_P2M_TARGET_FREE || p->klass[slot] == RTV_P2M_TARGET_OWN;
}

/* The page of slot (of gfn) moved: recorded for the walks and, at once or
 * by settle_moved(), in klass. */
static void mark_moved(struct planner *p, uint64_t slot, uint64_t gfn)
{
    if ( p->dir )
        dir_of(p, gfn)->bits[0] &= ~(1ull << dir_bit(p, gfn));
    else
        p->klass[slot] = RTV_P2M_MOVED;
}

static void mark_blocked(struct planner *p, uint64_t slot, uint64_t gfn)
{
    if ( p->dir )
        dir_of(p, gfn)->bits[0] &= ~(1ull << dir_bit(p, gfn));
    p->klass[slot] = RTV_P2M_FAIL_BLOCKED;
}

/*
 * The slot of the page that waits for frame x (the page of gfn x) if it
 * still has to move, else RTV_P2M_NO_SLOT.  Such a page is TARGET_OWN:
 * frame x was one of the domain's own (a page of the range held it), so its
 * page cannot have found it free.
 */
static inline __attribute__((__always_inline__)) uint64_t
waiting_slot(const struct planner *p, uint64_t x)
{
    const struct dir_entry *e;
    unsigned int bit;
    uint64_t slot;

    if ( !p->dir )
    {
        slot = slot_of(p->r, x);
        return slot != RTV_P2M_NO_SLOT && p->klass[slot] == RTV_P2M_TARGET_OWN
            ? slot : RTV_P2M_NO_SLOT;
    }
    if ( !in_range(p->r, x) )
        return RTV_P2M_NO_SLOT;
    e = dir_of(p, x);
    bit = dir_bit(p, x);
    if ( !((e->bits[0] >> bit) & 1) )
        return RTV_P2M_NO_SLOT;
    return e->rank + RTV_POPCOUNT64(e->listed & ((1ull << bit) - 1));
}

static void cursor_init(const struct planner *p, struct cursor *cu)
{
    cu->slot = ~(uint64_t)0;
    cu->gfn = 0;
    cu->word = 0;
    cu->bits = p->s && p->r->nr ? p->s->listed[0] : 0;
}

/* Advance to the next slot; 0 at the end.  Inlined: it is the inner step
 * of every pass over the slots. */
static inline __attribute__((__always_inline__)) int
cursor_next(const struct planner *p, struct cursor *cu)
{
    const struct rtv_p2m_range *r = p->r;
    uint64_t words;

    if ( ++cu->slot >= p->slots )
        return 0;
    if ( !p->s )
    {
        cu->gfn = r->gfn_start + cu->slot;
        return 1;
    }
    words = rtv_p2m_sparse_words(r->nr);
    while ( !cu->bits )
    {
        /* start() checked the index: the slots run out before the words. */
        RTV_ASSERT(cu->word + 1 < words);
        cu->bits = p->s->listed[++cu->word];
    }
    cu->gfn = r->gfn_start + cu->word * 64 + RTV_CTZ64(cu->bits);
    cu->bits &= cu->bits - 1;
    return 1;
}

static void progress(const struct planner *p, unsigned int phase, uint64_t done)
{
    if ( p->h->progress && (done % PROGRESS_EVERY) == 0 )
        p->h->progress(p->h->ctx, phase, done, p->slots);
}

/*
 * Software prefetch, AHEAD slots ahead in the sequential loops: the loads
 * they lead to (a frame's index word, its slot's class) land at random
 * places of arrays far bigger than any cache.
 *
 * The helpers must be inlined before GCC's IPA passes see them: a function
 * whose only effect is __builtin_prefetch is "pure" to GCC 12
 * (-fdump-tree-local-pure-const1: "found to be looping pure"), so a call
 * to it, returning nothing, is dead code and was deleted: until 2026-12-07
 * the chains and cycles ran with no prefetch of their own at all (4 prefetch
 * instructions in the object, all in count_frames() and classify; 20 with
 * the attribute).  Measured at 1 TiB: the chains' CPU time went from
 * 6.8-7.7 s to 4.3-4.9 s, the same plan.  (Spelt __always_inline__: Xen's
 * compiler.h makes always_inline a macro.)
 */
#define PREFETCH_HELPER static inline __attribute__((__always_inline__)) void
#define AHEAD 16

PREFETCH_HELPER prefetch_slot(const struct planner *p, uint64_t slot)
{
    /* With the directory, the walks read no class. */
    if ( !p->dir )
        __builtin_prefetch(&p->klass[slot]);
    if ( p->s )
        __builtin_prefetch(&p->s->mfn[slot]);
    else
        __builtin_prefetch(&p->r->p2m[slot]);
}

PREFETCH_HELPER prefetch_index(const struct planner *p, uint64_t gfn)
{
    uint64_t off = gfn - p->r->gfn_start;

    if ( p->dir && in_range(p->r, gfn) )
        __builtin_prefetch(&p->dir[off / 64]);
    else if ( p->s && in_range(p->r, gfn) )
    {
        __builtin_prefetch(&p->s->listed[off / 64]);
        __builtin_prefetch(&p->s->rank[off / 64 / RTV_P2M_RANK_WORDS]);
    }
}

size_t rtv_p2m_workspace_size(const struct rtv_p2m_range *range, unsigned int bookkeeping)
{
    if ( !range || range->nr > RTV_P2M_MAX_PAGES )
        return 0;
    switch ( bookkeeping )
    {
    case RTV_P2M_BK_BACKMAP:
        return (size_t)rtv_p2m_slots(range) * sizeof(uint32_t);
    case RTV_P2M_BK_REFCOUNT:
        /* sparse: the directory, and room to align it to a cache line */
        if ( range->sparse )
            return (size_t)(rtv_p2m_sparse_words(range->nr) * sizeof(struct dir_entry) + 64);
        return (size_t)((range->nr + 3) / 4);
    default:
        return 0;
    }
}

static unsigned int fcount_get(const struct planner *p, uint64_t t)
{
    uint64_t i = t - p->r->gfn_start;

    if ( p->dir )
        return (unsigned int)(p->dir[i / 64].bits[i % 64 / 32] >> (2 * (i % 32))) & 3u;
    return (p->fcount[i / 4] >> (2 * (i % 4))) & 3u;
}

/*
 * How many pages of the range map frame t (0, 1, or 2 meaning "more").  t is
 * always a non-identity gfn of the range (some page's identity target: the
 * page itself, in slot ts), so the arrays cover it.
 */
static unsigned int occupants(struct planner *p, uint64_t ts, uint64_t t)
{
    p->c->lookups++;
    switch ( p->bk )
    {
    case RTV_P2M_BK_BACKMAP:
    {
        uint32_t v = p->backmap[ts];

        return v == 0 ? 0 : v == BM_MANY ? 2 : 1;
    }
    case RTV_P2M_BK_REFCOUNT:
        /* The count is all this mode keeps; callers never need the name. */
        return fcount_get(p, t);
    default:
    {
        /* SEARCH: every slot every time, since an alias anywhere in the
         * range changes the answer.  This is the mode's price: no memory,
         * O(n).  (An unlisted sparse gfn maps its own frame, never t.) */
        unsigned int n = 0;
        uint64_t i;

        for ( i = 0; i < p->slots; i++ )
            if ( mfn_at(p, i) == t && ++n > 1 )
                return 2;
        return n;
    }
    }
}

/*
 * REFCOUNT: count every slot's frame at the frame's own place, which needs
 * no index lookup (a frame of the range is a gfn of it: t - gfn_start), so
 * each slot costs one load at a random place, prefetched AHEAD slots on.
 */
static void count_frames(struct planner *p)
{
    uint64_t i, m;

    for ( i = 0; i < p->slots; i++ )
    {
        if ( i + AHEAD < p->slots )
        {
            m = mfn_at(p, i + AHEAD);
            if ( in_range(p->r, m) )
                __builtin_prefetch(&p->fcount[(m - p->r->gfn_start) / 4], 1);
        }
        m = mfn_at(p, i);
        if ( in_range(p->r, m) )
        {
            uint64_t f = m - p->r->gfn_start;
            unsigned int sh = 2 * (f % 4), n = (p->fcount[f / 4] >> sh) & 3u;

            if ( n )
                p->aliased = 1;
            if ( n < 2 )
                p->fcount[f / 4] = (uint8_t)(p->fcount[f / 4] + (1u << sh));
        }
    }
}

/*
 * The same into the directory, and, since this pass is where each slot's
 * frame is loaded anyway, the oracle's word on that frame too: klass[slot]
 * says HOLE (not RAM), FAIL_NOT_OWNED (someone else's frame) or TARGET_OWN
 * (the domain's: classify() takes it from there).  The two loads at random
 * places a slot, the frame's count and its kind, overlap here, which leaves
 * classify() nothing but sequential reads.
 */
static void dir_count_frames(struct planner *p)
{
    const struct rtv_p2m_hooks *h = p->h;
    uint64_t i, m;

    for ( i = 0; i < p->slots; i++ )
    {
        if ( i + AHEAD < p->slots )
        {
            m = mfn_at(p, i + AHEAD);
            if ( in_range(p->r, m) )
                __builtin_prefetch(&p->dir[(m - p->r->gfn_start) / 64], 1);
            if ( h->prefetch && m != RTV_P2M_INVALID_MFN )
                h->prefetch(h->ctx, m);
        }
        m = mfn_at(p, i);
        if ( m == RTV_P2M_INVALID_MFN )
        {
            p->klass[i] = RTV_P2M_HOLE;
            continue;
        }
        p->klass[i] = h->frame_kind(h->ctx, m) == RTV_FRAME_OWN ? RTV_P2M_TARGET_OWN
                                                                : RTV_P2M_FAIL_NOT_OWNED;
        if ( in_range(p->r, m) )
        {
            uint64_t f = m - p->r->gfn_start, *w = &p->dir[f / 64].bits[f % 64 / 32];
            unsigned int sh = 2 * (f % 32);

            /* A second occupant, or frame f's own gfn is unlisted, i.e.
             * identity: it maps frame f too (same cache line). */
            if ( ((*w >> sh) & 3u) || !((p->dir[f / 64].listed >> (f % 64)) & 1) )
                p->aliased = 1;
            if ( ((*w >> sh) & 3u) < 2 )
                *w += 1ull << sh;
        }
    }
}

/*
 * BACKMAP: the occupant's slot + 1 in the slot of the frame's gfn.  Three
 * stages, each a load at a random place of a big array: the frame's index
 * word (prefetched 2 * AHEAD slots on), its slot (found AHEAD slots on, its
 * entry prefetched), the entry.  At 1 TiB almost every one misses the
 * caches; staged, they overlap.
 */
static void map_occupants(struct planner *p)
{
    uint64_t pending[AHEAD];    /* slots found, AHEAD slots on */
    uint64_t i;

    for ( i = 0; i < p->slots && i < 2 * AHEAD; i++ )
        prefetch_index(p, mfn_at(p, i));
    for ( i = 0; i < p->slots && i < AHEAD; i++ )
    {
        pending[i] = slot_of(p->r, mfn_at(p, i));
        if ( pending[i] != RTV_P2M_NO_SLOT )
            __builtin_prefetch(&p->backmap[pending[i]], 1);
    }
    for ( i = 0; i < p->slots; i++ )
    {
        uint64_t slot = pending[i % AHEAD];

        if ( i + 2 * AHEAD < p->slots )
            prefetch_index(p, mfn_at(p, i + 2 * AHEAD));
        if ( i + AHEAD < p->slots )
        {
            uint64_t ahead = slot_of(p->r, mfn_at(p, i + AHEAD));

            pending[i % AHEAD] = ahead;
            if ( ahead != RTV_P2M_NO_SLOT )
                __builtin_prefetch(&p->backmap[ahead], 1);
        }
        if ( slot != RTV_P2M_NO_SLOT )
        {
            if ( p->backmap[slot] )
                p->aliased = 1;
            p->backmap[slot] = p->backmap[slot] ? BM_MANY : (uint32_t)(i + 1);
        }
        else if ( p->s && in_range(p->r, mfn_at(p, i)) )
            p->aliased = 1;     /* the frame's gfn is unlisted: identity */
    }
}

static int build_bookkeeping(struct planner *p, void *ws, size_t ws_size)
{
    size_t need = rtv_p2m_workspace_size(p->r, p->bk);

    if ( ws_size < need )
        return -ENOSPC;
    /* No slots (a sparse range with nothing listed): nothing to count, and
     * the caller may rightly give no workspace at all. */
    if ( p->bk == RTV_P2M_BK_SEARCH || !p->slots )
        return 0;
    if ( p->bk == RTV_P2M_BK_BACKMAP )
    {
        memset(ws, 0, need);
        p->backmap = ws;
        map_occupants(p);
    }
    else if ( p->s )
    {
        uint64_t w, words = rtv_p2m_sparse_words(p->r->nr), n = 0;
        uintptr_t a = ((uintptr_t)ws + 63) & ~(uintptr_t)63;

        /* need has the 64 bytes of slack this takes */
        p->dir = (struct dir_entry *)a;
        for ( w = 0; w < words; w++ )
        {
            struct dir_entry e = { .listed = p->s->listed[w], .rank = (uint32_t)n };

            p->dir[w] = e;
            n += RTV_POPCOUNT64(e.listed);
        }
        dir_count_frames(p);
    }
    else
    {
        memset(ws, 0, need);
        p->fcount = ws;
        count_frames(p);
    }
    return 0;
}

/*
 * Pages whose own frame another gfn of the range maps too: moving one would
 * free the frame under the other (in the hypervisor, a use after free), so
 * none of them moves.  Xen's HAP P2M should never alias RAM, but the P2M is
 * the peer's word here.  The counting passes noted whether any frame of the
 * range has two occupants (p->aliased), so a P2M without aliases pays
 * nothing; SEARCH keeps no counts and always looks (quadratic, as its every
 * lookup).  Only frames of the range are counted: see p2m_plan.h.  The mark
 * reaches classify() in klass[]; with the directory, whose klass[] already
 * says whether the slot's frame is ours, only a page of our own is marked.
 */
static void mark_source_aliases(struct planner *p)
{
    uint64_t i;

    if ( p->bk == RTV_P2M_BK_SEARCH )
        p->aliased = 1;
    if ( !p->aliased )
        return;
    for ( i = 0; i < p->slots; i++ )
    {
        uint64_t m = mfn_at(p, i), ms;
        int alias = 0;

        if ( m != RTV_P2M_INVALID_MFN && in_range(p->r, m) )
        {
            /* Unlisted (sparse): gfn m is identity, so it maps m as well. */
            ms = slot_of(p->r, m);
            alias = ms == RTV_P2M_NO_SLOT || occupants(p, ms, m) > 1;
        }
        if ( p->dir )
        {
            if ( alias && p->klass[i] == RTV_P2M_TARGET_OWN )
                p->klass[i] = RTV_P2M_FAIL_SOURCE_ALIASED;
        }
        else
            p->klass[i] = alias ? RTV_P2M_FAIL_SOURCE_ALIASED : RTV_P2M_HOLE;
    }
}

static unsigned int classify(struct planner *p, uint64_t k, uint64_t g)
{
    uint64_t m = mfn_at(p, k);

    if ( m == RTV_P2M_INVALID_MFN )
        return RTV_P2M_HOLE;
    if ( m == g )
        return RTV_P2M_IDENTITY;
    /* Marked by mark_source_aliases(); a frame not ours is NOT_OWNED below
     * (with the directory only our own pages were marked). */
    if ( p->aliased && p->klass[k] == RTV_P2M_FAIL_SOURCE_ALIASED &&
         (p->dir || p->h->frame_kind(p->h->ctx, m) == RTV_FRAME_OWN) )
        return RTV_P2M_FAIL_SOURCE_ALIASED;
    /* A gfn mapping someone else's frame (grant, foreign map) has nothing
     * of its own to move.  (With the directory, dir_count_frames() asked.) */
    if ( p->dir ? p->klass[k] != RTV_P2M_TARGET_OWN
                : p->h->frame_kind(p->h->ctx, m) != RTV_FRAME_OWN )
        return RTV_P2M_FAIL_NOT_OWNED;

    switch ( p->h->frame_kind(p->h->ctx, g) )
    {
    case RTV_FRAME_FREE:
        return RTV_P2M_TARGET_FREE;
    case RTV_FRAME_OWN:
        /* Frame g's occupants are counted in g's own slot, k. */
        switch ( occupants(p, k, g) )
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

static void count_classes(const struct planner *p, struct rtv_p2m_counts *c)
{
    uint64_t i;
    unsigned int k;

    /* Four histograms: one counter's increments would wait on each other. */
    uint64_t h[4][RTV_P2M_CLASS_COUNT] = { { 0 } };

    for ( i = 0; i + 4 <= p->slots; i += 4 )
    {
        h[0][p->klass[i]]++;
        h[1][p->klass[i + 1]]++;
        h[2][p->klass[i + 2]]++;
        h[3][p->klass[i + 3]]++;
    }
    for ( ; i < p->slots; i++ )
        h[0][p->klass[i]]++;
    for ( k = 0; k < RTV_P2M_CLASS_COUNT; k++ )
        c->by_class[k] = h[0][k] + h[1][k] + h[2][k] + h[3][k];
    /* Unlisted sparse gfns are identity. */
    c->by_class[RTV_P2M_IDENTITY] += p->r->nr - p->slots;
    c->failed = 0;
    for ( k = 0; k < RTV_P2M_CLASS_COUNT; k++ )
        if ( rtv_p2m_class_failed(k) )
            c->failed += c->by_class[k];
}

/* The caller's sparse index must be what rtv_p2m_sparse_rank() makes of it:
 * the planner trusts it for every lookup.  O(nr / 64). */
static int sparse_ok(const struct rtv_p2m_range *r)
{
    const struct rtv_p2m_sparse *s = r->sparse;
    uint64_t w, words = rtv_p2m_sparse_words(r->nr), n = 0;

    if ( s->nlisted > r->nr || (r->nr && (!s->listed || !s->rank)) ||
         (s->nlisted && !s->mfn) )
        return 0;
    for ( w = 0; w < words; w++ )
    {
        if ( w % RTV_P2M_RANK_WORDS == 0 && s->rank[w / RTV_P2M_RANK_WORDS] != n )
            return 0;
        n += RTV_POPCOUNT64(s->listed[w]);
    }
    if ( (r->nr & 63) && (s->listed[words - 1] >> (r->nr & 63)) )
        return 0;                   /* bits past the range */
    return n == s->nlisted;
}

/* A directory word classified: its counts give way to its pending bits. */
static void dir_settle_word(struct planner *p, uint64_t w, uint64_t *mask)
{
    p->dir[w].bits[0] = *mask;
    p->dir[w].bits[1] = 0;
    *mask = 0;
}

/* Directory: a page no longer pending that klass still calls TARGET_FREE
 * or TARGET_OWN was moved.  One pass in slot order, after the walks. */
static void settle_moved(struct planner *p)
{
    uint64_t w, words = rtv_p2m_sparse_words(p->r->nr);

    if ( !p->dir )
        return;
    for ( w = 0; w < words; w++ )
    {
        const struct dir_entry *e = &p->dir[w];
        uint64_t bits = e->listed, slot = e->rank, end = slot + RTV_POPCOUNT64(bits);

        /* A word's slots are consecutive; with nothing pending (a plan that
         * ran to its end) each is settled by its class alone. */
        if ( !e->bits[0] )
        {
            for ( ; slot < end; slot++ )
                if ( p->klass[slot] == RTV_P2M_TARGET_FREE || p->klass[slot] == RTV_P2M_TARGET_OWN )
                    p->klass[slot] = RTV_P2M_MOVED;
            continue;
        }
        for ( ; bits; bits &= bits - 1, slot++ )
            if ( (p->klass[slot] == RTV_P2M_TARGET_FREE ||
                  p->klass[slot] == RTV_P2M_TARGET_OWN) &&
                 !((e->bits[0] >> RTV_CTZ64(bits)) & 1) )
                p->klass[slot] = RTV_P2M_MOVED;
    }
}

/* Check the input, build the bookkeeping, classify every slot; count the
 * classes when `count` (a plan counts them once, at its end). */
static int start(struct planner *p, const struct rtv_p2m_range *range,
                 unsigned int bookkeeping, void *ws, size_t ws_size,
                 const struct rtv_p2m_hooks *hooks, uint8_t *klass,
                 struct rtv_p2m_counts *counts, int count)
{
    struct cursor cu;
    uint64_t i, fw = 0, mask = 0;
    int rc;

    if ( !range || !hooks || !hooks->frame_kind || !counts ||
         bookkeeping >= RTV_P2M_BK_COUNT )
        return -EINVAL;
    if ( range->nr > RTV_P2M_MAX_PAGES ||
         range->gfn_start > RTV_P2M_SCRATCH - 1 - range->nr ||
         (range->p2m && range->sparse) ||
         (range->nr && !range->p2m && !range->sparse) ||
         (range->sparse && !sparse_ok(range)) )
        return -EINVAL;
    if ( rtv_p2m_slots(range) && !klass )
        return -EINVAL;
    /* The scratch marker is ours; a P2M that names it is corrupt.  (Sparse
     * frames are 32-bit: they cannot.) */
    if ( range->p2m )
        for ( i = 0; i < range->nr; i++ )
            if ( range->p2m[i] == RTV_P2M_SCRATCH )
                return -EINVAL;

    memset(p, 0, sizeof(*p));
    memset(counts, 0, sizeof(*counts));
    p->r = range;
    p->s = range->sparse;
    p->slots = rtv_p2m_slots(range);
    p->bk = bookkeeping;
    p->h = hooks;
    p->klass = klass;
    p->c = counts;
    counts->pages = range->nr;

    rc = build_bookkeeping(p, ws, ws_size);
    if ( rc )
        return rc;
    mark_source_aliases(p);

    cursor_init(p, &cu);
    while ( cursor_next(p, &cu) )
    {
        unsigned int k;

        progress(p, 0, cu.slot);
        /* (With the directory the frames' kinds were asked already.) */
        if ( hooks->prefetch && !p->dir && cu.slot + AHEAD < p->slots )
            hooks->prefetch(hooks->ctx, mfn_at(p, cu.slot + AHEAD));
        /* Directory: the words before this slot's are classified, so their
         * counts are done with (a gfn's count is read for itself only);
         * they become pending bits. */
        while ( p->dir && fw < cu.word )
            dir_settle_word(p, fw++, &mask);
        k = classify(p, cu.slot, cu.gfn);
        klass[cu.slot] = (uint8_t)k;
        if ( p->dir && (k == RTV_P2M_TARGET_FREE || k == RTV_P2M_TARGET_OWN) )
            mask |= 1ull << dir_bit(p, cu.gfn);
    }
    while ( p->dir && fw < rtv_p2m_sparse_words(range->nr) )
        dir_settle_word(p, fw++, &mask);
    if ( count )
        count_classes(p, counts);
    return 0;
}

int rtv_p2m_query(const struct rtv_p2m_range *range,
                  unsigned int bookkeeping, void *ws, size_t ws_size,
                  const struct rtv_p2m_hooks *hooks,
                  uint8_t *klass, struct rtv_p2m_counts *counts)
{
    struct planner p;

    return start(&p, range, bookkeeping, ws, ws_size, hooks, klass, counts, 1);
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

/*
 * Chains are walked LANES at a time, a step of each in turn: a step is a
 * few dependent loads at random places (the frame just vacated, its slot,
 * that slot's class and frame), and steps of different chains do not depend
 * on each other, so walking them side by side lets their cache misses
 * overlap instead of queueing (at 1 TiB most of them miss every cache).
 * Each chain's own moves stay in order, which is all a move needs: its
 * target frame was vacated by the chain's previous move.
 */
#define LANES 64

struct lane {
    uint64_t g;             /* gfn of the page to move next, then the frame
                             * it vacated: the gfn of the page after it */
    uint32_t idx;           /* its slot (slots are below RTV_P2M_MAX_PAGES) */
};

/* Every chain: from each TARGET_FREE page, then every page waiting on it. */
static int run_chains(struct planner *p)
{
    struct lane lane[LANES];
    struct cursor cu;
    unsigned int n = 0, i, j;
    int more = 1, rc;

    cursor_init(p, &cu);
    for ( ;; )
    {
        while ( n < LANES && more && (more = cursor_next(p, &cu)) )
        {
            progress(p, 1, cu.slot);
            if ( p->klass[cu.slot] != RTV_P2M_TARGET_FREE )
                continue;
            p->c->chains++;
            lane[n].idx = (uint32_t)cu.slot;
            lane[n].g = cu.gfn;
            n++;
        }
        if ( !n )
            return 0;

        /* Move each lane's page; its old frame is the next page's gfn. */
        for ( i = 0; i < n; i++ )
        {
            struct lane *l = &lane[i];
            uint64_t from = mfn_at(p, l->idx);

            /* A chain's pages are RAM: TARGET_FREE / TARGET_OWN say so. */
            RTV_ASSERT(from != RTV_P2M_INVALID_MFN);
            rc = emit(p, RTV_P2M_OP_MOVE, l->g, from, l->g);
            if ( rc )
                return rc;
            mark_moved(p, l->idx, l->g);
            p->c->remapped++;
            l->g = from;
            prefetch_index(p, from);
        }
        /* The page that wants frame `from` is gfn `from`: find its slot.
         * It moves next if it waited for exactly that frame: TARGET_OWN
         * means exactly one page of the range held it, and that was us. */
        for ( i = j = 0; i < n; i++ )
        {
            uint64_t next = p->dir ? waiting_slot(p, lane[i].g) : slot_of(p->r, lane[i].g);

            if ( next == RTV_P2M_NO_SLOT )
                continue;
            lane[j].idx = (uint32_t)next;
            lane[j].g = lane[i].g;
            prefetch_slot(p, next);
            j++;
        }
        /* (Without the directory the class is read here, a pass later,
         * so that its loads overlap.) */
        for ( i = n = 0; i < j; i++ )
            if ( p->dir || p->klass[lane[i].idx] == RTV_P2M_TARGET_OWN )
                lane[n++] = lane[i];
    }
}

/*
 * What is still TARGET_OWN after the chains lies on a cycle, or on a path
 * that runs into a page that cannot move (blocked).  Each is walked from the
 * first of its pages the scan meets (its lowest gfn) through "the page that
 * wants my frame"; a cycle is then emitted through the scratch frame, a
 * blocked path marked.  Cycles share the one scratch frame, so they are
 * emitted one after another, in scan order; but their walks, a couple of
 * cache misses a step like the chains', run CYCLE_LANES at a time: a window
 * of the next TARGET_OWN pages of the scan, each walked a step in turn, the
 * oldest emitted as soon as its walk ends.
 *
 * Walks in one window may meet: TARGET_OWN pages form disjoint paths and
 * cycles (a page wants one frame, a frame has one occupant), so a later
 * window page is on an earlier one's cycle or path, or on neither.  Once the
 * earlier one is emitted, that page is no longer TARGET_OWN and is dropped
 * at its turn; a walk stops at any page that is not TARGET_OWN, so no entry
 * is read after the operation that changes it.  The plan is the one a walk
 * at a time would make.
 */
#ifdef __XEN__
#define CYCLE_LANES 4       /* on the hypervisor's stack; its ranges are small */
#else
#define CYCLE_LANES 32
#endif
/* Pages of a cycle remembered by its walk, so emitting it needs no second
 * walk; longer cycles are walked again. */
#define CYCLE_SEEN 15

enum { WALKING, WALK_CYCLE, WALK_BLOCKED };

struct cycle_walk {
    uint64_t idx, g;        /* the first page: its slot and gfn */
    uint64_t x;             /* the frame reached: the next page's gfn */
    uint64_t xs;            /* that page's slot (RTV_P2M_NO_SLOT: none) */
    uint64_t len;           /* pages on the walk, the first included */
    uint32_t seen[CYCLE_SEEN];  /* slots of pages 2 .. len */
    unsigned int state;
};

static void walk_start(struct planner *p, struct cycle_walk *w, uint64_t idx, uint64_t g)
{
    w->idx = idx;
    w->g = g;
    w->x = mfn_at(p, idx);
    w->len = 1;
    w->state = WALKING;
    prefetch_index(p, w->x);
}

/* One step, in two halves so that each half's loads of every walk overlap:
 * find the slot of the page that wants frame x (and fetch its class and
 * frame), then follow it. */
static void walk_find(struct planner *p, struct cycle_walk *w)
{
    if ( w->x == w->g )
    {
        w->state = WALK_CYCLE;
        return;
    }
    w->xs = p->dir ? waiting_slot(p, w->x) : slot_of(p->r, w->x);
    if ( w->xs == RTV_P2M_NO_SLOT )
        w->state = WALK_BLOCKED;
    else
        prefetch_slot(p, w->xs);
}

static void walk_follow(struct planner *p, struct cycle_walk *w)
{
    /* len bound: a walk longer than the range is corrupt input. */
    if ( (!p->dir && p->klass[w->xs] != RTV_P2M_TARGET_OWN) || w->len > p->slots )
    {
        w->state = WALK_BLOCKED;
        return;
    }
    if ( w->len <= CYCLE_SEEN )
        w->seen[w->len - 1] = (uint32_t)w->xs;
    w->x = mfn_at(p, w->xs);
    w->len++;
    prefetch_index(p, w->x);
}

/* Emit the cycle or mark the blocked path of a finished walk. */
static int walk_emit(struct planner *p, const struct cycle_walk *w)
{
    uint64_t idx = w->idx, g = w->g, x, xs, i;
    int rc;

    /* On the cycle or path of a page emitted before it. */
    if ( !pending(p, idx, g) )
        return 0;

    if ( w->state == WALK_BLOCKED )
    {
        for ( x = g, xs = idx; xs != RTV_P2M_NO_SLOT; xs = waiting_slot(p, x) )
        {
            mark_blocked(p, xs, x);
            x = mfn_at(p, xs);
        }
        return 0;
    }

    p->c->cycles++;
    if ( w->len > p->c->longest_cycle )
        p->c->longest_cycle = w->len;
    /* Read each P2M entry before emitting its operation: emit may apply it
     * to the very array we read. */
    x = mfn_at(p, idx);
    rc = emit(p, RTV_P2M_OP_SAVE, g, x, RTV_P2M_SCRATCH);
    if ( rc )
        return rc;
    mark_moved(p, idx, g);
    for ( i = 0; x != g; i++ )
    {
        uint64_t next;

        /* seen[i] is page x's slot when the whole cycle fitted. */
        xs = w->len - 1 <= CYCLE_SEEN ? w->seen[i] : slot_of(p->r, x);
        next = mfn_at(p, xs);
        rc = emit(p, RTV_P2M_OP_MOVE, x, next, x);
        if ( rc )
            return rc;
        mark_moved(p, xs, x);
        p->c->remapped++;
        x = next;
    }
    rc = emit(p, RTV_P2M_OP_RESTORE, g, RTV_P2M_SCRATCH, g);
    if ( rc )
        return rc;
    p->c->remapped++;
    return 0;
}

/*
 * The next page of the cycles' scan, in slot order: TARGET_OWN and not moved
 * by the chains.  With the directory only those pages are pending then (the
 * chains moved every TARGET_FREE page), so the scan reads their bits, a word
 * of 64 gfns at a time, instead of every slot's class; without it, the
 * cursor and the classes.  0 at the end.
 */
struct own_scan {
    struct cursor cu;
    uint64_t w, bits;       /* directory: word w's pending bits still to visit */
};

static int own_next(struct planner *p, struct own_scan *sc)
{
    if ( !p->dir )
    {
        while ( cursor_next(p, &sc->cu) )
        {
            progress(p, 2, sc->cu.slot);
            if ( p->klass[sc->cu.slot] == RTV_P2M_TARGET_OWN )
                return 1;
        }
        return 0;
    }
    /* As it is now: a walk emitted since may have moved pages of the word. */
    sc->bits &= p->dir[sc->w].bits[0];
    while ( !sc->bits )
    {
        if ( ++sc->w >= rtv_p2m_sparse_words(p->r->nr) )
            return 0;
        sc->bits = p->dir[sc->w].bits[0];
        if ( p->h->progress && sc->w % (PROGRESS_EVERY / 64) == 0 )
            p->h->progress(p->h->ctx, 2, p->dir[sc->w].rank, p->slots);
    }
    sc->cu.gfn = p->r->gfn_start + sc->w * 64 + RTV_CTZ64(sc->bits);
    sc->bits &= sc->bits - 1;
    sc->cu.slot = waiting_slot(p, sc->cu.gfn);
    RTV_ASSERT(sc->cu.slot != RTV_P2M_NO_SLOT && p->klass[sc->cu.slot] == RTV_P2M_TARGET_OWN);
    return 1;
}

static int run_cycles(struct planner *p)
{
    struct cycle_walk win[CYCLE_LANES];
    struct own_scan sc;
    unsigned int head = 0, n = 0, i;
    int more = 1, rc;

    cursor_init(p, &sc.cu);
    sc.w = 0;
    sc.bits = p->dir && p->r->nr ? p->dir[0].bits[0] : 0;
    if ( p->dir && p->h->progress )
        p->h->progress(p->h->ctx, 2, 0, p->slots);
    for ( ;; )
    {
        /* Fill the window in scan order (a ring: head is the oldest). */
        while ( n < CYCLE_LANES && more && (more = own_next(p, &sc)) )
            walk_start(p, &win[(head + n++) % CYCLE_LANES], sc.cu.slot, sc.cu.gfn);
        if ( !n )
            return 0;

        for ( i = 0; i < n; i++ )
            if ( win[(head + i) % CYCLE_LANES].state == WALKING )
                walk_find(p, &win[(head + i) % CYCLE_LANES]);
        for ( i = 0; i < n; i++ )
            if ( win[(head + i) % CYCLE_LANES].state == WALKING )
                walk_follow(p, &win[(head + i) % CYCLE_LANES]);

        /* Emit in scan order: only the oldest walks that have ended. */
        while ( n && win[head].state != WALKING )
        {
            rc = walk_emit(p, &win[head]);
            if ( rc )
                return rc;
            head = (head + 1) % CYCLE_LANES;
            n--;
        }
    }
}

int rtv_p2m_plan(const struct rtv_p2m_range *range,
                 unsigned int bookkeeping, void *ws, size_t ws_size,
                 const struct rtv_p2m_hooks *hooks,
                 uint8_t *klass, struct rtv_p2m_counts *counts)
{
    struct planner p;
    int rc;

    rc = start(&p, range, bookkeeping, ws, ws_size, hooks, klass, counts, 0);
    if ( rc )
        return rc;

    /* Chains first: they need no scratch, and running them before cycles
     * keeps the order canonical whatever the bookkeeping. */
    rc = run_chains(&p);
    if ( !rc )
        rc = run_cycles(&p);
    if ( rc )
        goto out;
    /* Every TARGET_FREE / TARGET_OWN page has been moved or blocked. */
    RTV_ASSERT(p.c->copies == p.c->remapped + p.c->cycles);
    RTV_ASSERT(p.c->scratch_uses == p.c->cycles);

 out:
    settle_moved(&p);
    count_classes(&p, counts);
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
    [RTV_P2M_FAIL_SOURCE_ALIASED] = "source-aliased",
};

static const char *const bk_names[RTV_P2M_BK_COUNT] = {
    [RTV_P2M_BK_BACKMAP] = "backmap",
    [RTV_P2M_BK_REFCOUNT] = "refcount",
    [RTV_P2M_BK_SEARCH] = "search",
};

int rtv_p2m_class_failed(unsigned int klass)
{
    return (klass >= RTV_P2M_FAIL_TARGET_OTHER && klass <= RTV_P2M_FAIL_BLOCKED) ||
           klass == RTV_P2M_FAIL_SOURCE_ALIASED;
}

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
