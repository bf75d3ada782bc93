/*
 * Host-side model of a machine for the P2M planner: a checked executor for
 * plans and a generator of synthetic dom0-like P2Ms.  Used by the unit tests
 * and by `rtvirt-p2m simulate`; never compiled into the hypervisor.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "rtvirt/p2m_plan.h"

/* Marks a sparse slot that still needs a frame while the generator runs. */
#define SYNTH_PENDING (RTV_P2M_SPARSE_HOLE - 1)

uint64_t rtv_p2m_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rand_unit(uint64_t *state)
{
    return (double)(rtv_p2m_rand(state) >> 11) * (1.0 / 9007199254740992.0);
}

uint32_t rtv_p2m_model_tag(uint64_t gfn)
{
    return (uint32_t)(gfn * 2654435761u) ^ 0xa5a5a5a5u;
}

/* ---- frames: 2 bits each (four kinds), so 1 TiB's 402M frames take 100 MB */

size_t rtv_p2m_model_kind_bytes(uint64_t nframes)
{
    return (size_t)((nframes + 3) / 4);
}

unsigned int rtv_p2m_model_kind(const struct rtv_p2m_model *m, uint64_t mfn)
{
    if ( mfn >= m->nframes )
        return RTV_FRAME_NOT_RAM;
    return (m->kind[mfn / 4] >> (2 * (mfn % 4))) & 3u;
}

void rtv_p2m_model_set_kind(struct rtv_p2m_model *m, uint64_t mfn, unsigned int kind)
{
    uint8_t *b = &m->kind[mfn / 4];
    unsigned int sh = 2 * (mfn % 4);

    *b = (uint8_t)((*b & ~(3u << sh)) | ((kind & 3u) << sh));
}

unsigned int rtv_p2m_model_frame_kind(void *model, uint64_t mfn)
{
    return rtv_p2m_model_kind(model, mfn);
}

/* ---- the P2M, either form ---------------------------------------------- */

void rtv_p2m_model_range(const struct rtv_p2m_model *m, struct rtv_p2m_range *range,
                         struct rtv_p2m_sparse *sparse)
{
    memset(range, 0, sizeof(*range));
    range->gfn_start = m->gfn_start;
    range->nr = m->nr;
    if ( m->p2m )
    {
        range->p2m = m->p2m;
        return;
    }
    sparse->listed = m->listed;
    sparse->rank = m->rank;
    sparse->mfn = m->mfn;
    sparse->nlisted = m->nlisted;
    range->sparse = sparse;
}

/* The slot of gfn in the model's range, or RTV_P2M_NO_SLOT. */
static uint64_t model_slot(const struct rtv_p2m_model *m, uint64_t gfn)
{
    struct rtv_p2m_range r;
    struct rtv_p2m_sparse s;

    rtv_p2m_model_range(m, &r, &s);
    return rtv_p2m_slot(&r, gfn);
}

/* A slot's frame; a page parked on the scratch frame reads RTV_P2M_SCRATCH
 * (the flat form stores that marker, the 32-bit sparse one SYNTH_PENDING). */
static uint64_t slot_entry(const struct rtv_p2m_model *m, uint64_t slot)
{
    if ( m->p2m )
        return m->p2m[slot];
    switch ( m->mfn[slot] )
    {
    case RTV_P2M_SPARSE_HOLE:
        return RTV_P2M_INVALID_MFN;
    case SYNTH_PENDING:
        return RTV_P2M_SCRATCH;
    default:
        return m->mfn[slot];
    }
}

uint64_t rtv_p2m_model_entry(const struct rtv_p2m_model *m, uint64_t gfn)
{
    uint64_t slot = model_slot(m, gfn);

    if ( slot != RTV_P2M_NO_SLOT )
        return slot_entry(m, slot);
    /* Outside the range there is no entry; an unlisted sparse gfn is
     * identity by definition. */
    return m->p2m || gfn < m->gfn_start || gfn - m->gfn_start >= m->nr
           ? RTV_P2M_INVALID_MFN : gfn;
}

static int refuse(struct rtv_p2m_model *m, uint64_t gfn, const char *why)
{
    if ( !m->error )
    {
        m->error = why;
        m->error_gfn = gfn;
    }
    return -EINVAL;
}

int rtv_p2m_model_apply(void *model, const struct rtv_p2m_op *op)
{
    struct rtv_p2m_model *m = model;
    uint64_t slot = model_slot(m, op->gfn);
    uint32_t data;

    if ( slot == RTV_P2M_NO_SLOT )
        return refuse(m, op->gfn, "gfn outside the range (or identity, unlisted)");
    if ( slot_entry(m, slot) != op->from )
        return refuse(m, op->gfn, "from is not the page's frame");
    if ( !m->p2m && op->to != RTV_P2M_SCRATCH && op->to >= SYNTH_PENDING )
        return refuse(m, op->gfn, "frame beyond the sparse form's 32 bits");

    if ( op->from == RTV_P2M_SCRATCH )
    {
        if ( op->kind != RTV_P2M_OP_RESTORE || !m->scratch_busy )
            return refuse(m, op->gfn, "scratch read while not holding this page");
        data = m->scratch_content;
    }
    else
    {
        if ( rtv_p2m_model_kind(m, op->from) != RTV_FRAME_OWN )
            return refuse(m, op->gfn, "from is not a frame of the domain");
        data = m->content ? m->content[op->from] : 0;
    }

    if ( op->to == RTV_P2M_SCRATCH )
    {
        if ( op->kind != RTV_P2M_OP_SAVE || m->scratch_busy )
            return refuse(m, op->gfn, "scratch written while busy");
        m->scratch_busy = 1;
        m->scratch_content = data;
    }
    else
    {
        if ( op->kind == RTV_P2M_OP_SAVE || op->to != op->gfn )
            return refuse(m, op->gfn, "move to a frame other than the identity one");
        if ( rtv_p2m_model_kind(m, op->to) != RTV_FRAME_FREE )
            return refuse(m, op->gfn, "target frame is not free");
        rtv_p2m_model_set_kind(m, op->to, RTV_FRAME_OWN);
        if ( m->content )
            m->content[op->to] = data;
    }

    if ( op->from == RTV_P2M_SCRATCH )
        m->scratch_busy = 0;
    else
    {
        rtv_p2m_model_set_kind(m, op->from, RTV_FRAME_FREE);
        if ( m->content )
            m->content[op->from] = 0xdeadbeefu;   /* freed data is gone */
    }
    if ( m->p2m )
        m->p2m[slot] = op->to;
    else
        m->mfn[slot] = op->to == RTV_P2M_SCRATCH ? SYNTH_PENDING : (uint32_t)op->to;
    m->applied++;
    return 0;
}

void rtv_p2m_model_fill(struct rtv_p2m_model *m)
{
    uint64_t i;

    if ( !m->content )
        return;
    for ( i = 0; i < m->nr; i++ )
    {
        uint64_t f = rtv_p2m_model_entry(m, m->gfn_start + i);

        if ( f < m->nframes )
            m->content[f] = rtv_p2m_model_tag(m->gfn_start + i);
    }
}

int rtv_p2m_model_verify(const struct rtv_p2m_model *m, const struct rtv_p2m_model *orig,
                         const uint8_t *klass, uint64_t *bad_gfn)
{
    uint64_t i;

    for ( i = 0; i < m->nr; i++ )
    {
        uint64_t g = m->gfn_start + i, f = rtv_p2m_model_entry(m, g);
        uint64_t slot = model_slot(m, g);
        unsigned int k = slot == RTV_P2M_NO_SLOT ? RTV_P2M_IDENTITY : klass[slot];
        int want_identity = k == RTV_P2M_MOVED || k == RTV_P2M_IDENTITY;

        *bad_gfn = g;
        if ( want_identity ? f != g : f != rtv_p2m_model_entry(orig, g) )
            return -1;
        if ( f == RTV_P2M_INVALID_MFN )
            continue;
        if ( rtv_p2m_model_kind(m, f) != RTV_FRAME_OWN )
        {
            /* Only a page that never owned its frame may sit on one that
             * is not ours, and it must not have moved. */
            if ( k != RTV_P2M_FAIL_NOT_OWNED )
                return -1;
            continue;
        }
        /* An aliased page shares its frame (still ours, checked above: not
         * freed under it) with another gfn: the frame holds one tag of the
         * two, the one fill() wrote last. */
        if ( m->content && k != RTV_P2M_FAIL_SOURCE_ALIASED &&
             m->content[f] != rtv_p2m_model_tag(g) )
            return -1;
    }
    return m->scratch_busy ? -1 : 0;
}

/* ---- the synthetic machine ---------------------------------------------- */

uint64_t rtv_p2m_synth_frames(uint64_t nr)
{
    return nr + (nr + 1) / 2;
}

static void synth_progress(const struct rtv_p2m_synth *s, uint64_t done, uint64_t total)
{
    if ( s->progress && (done & ((1u << 22) - 1)) == 0 )
        s->progress(s->ctx, done, total);
}

/*
 * A pseudo-random permutation of [0, n) that needs no memory: a 4-round
 * Feistel network on the smallest even number of bits covering n, walked
 * until it lands below n (each value of the bigger domain maps to exactly
 * one, so the walk stays a permutation).  Replaces a shuffled array of all
 * frames, which was 1.6 GB at 1 TiB.
 */
struct perm {
    uint64_t n, keys[4];
    unsigned int half;
};

static void perm_init(struct perm *p, uint64_t n, uint64_t *rng)
{
    unsigned int bits = 2, k;

    while ( bits < 64 && (1ull << bits) < n )
        bits += 2;
    p->n = n;
    p->half = bits / 2;
    for ( k = 0; k < 4; k++ )
        p->keys[k] = rtv_p2m_rand(rng);
}

static uint64_t perm_at(const struct perm *p, uint64_t x)
{
    uint64_t mask = (1ull << p->half) - 1;

    do {
        uint64_t l = x >> p->half, r = x & mask;
        unsigned int k;

        for ( k = 0; k < 4; k++ )
        {
            uint64_t f = r ^ p->keys[k], t;

            f = (f ^ (f >> 31)) * 0x7fb5d329728ea185ull;
            f = (f ^ (f >> 27)) * 0x81dadef4bc2dd44dull;
            t = r;
            r = l ^ ((f ^ (f >> 33)) & mask);
            l = t;
        }
        x = (l << p->half) | r;
    } while ( x >= p->n );
    return x;
}

static void listed_set(uint64_t *listed, uint64_t i)
{
    listed[i / 64] |= 1ull << (i % 64);
}

void *rtv_p2m_big_alloc(size_t bytes, int zero)
{
    /* Huge-page aligned: whole huge pages, and a block of the sparse index
     * (8 words) in one cache line. */
    const size_t huge = (size_t)2 << 20;
    void *p;

    if ( bytes < huge )
        return zero ? calloc(bytes ? bytes : 1, 1) : malloc(bytes ? bytes : 1);
    if ( posix_memalign(&p, huge, bytes) )
        return NULL;
#ifdef MADV_HUGEPAGE
    /* Before the first touch, so the pages come huge from the start. */
    (void)madvise(p, bytes - bytes % huge, MADV_HUGEPAGE);
#endif
    if ( zero )
        memset(p, 0, bytes);
    return p;
}

void rtv_p2m_model_release(struct rtv_p2m_model *m)
{
    free(m->kind);
    free(m->listed);
    free(m->rank);
    free(m->mfn);
    free(m->content);
    m->kind = NULL;
    m->listed = NULL;
    m->rank = NULL;
    m->mfn = NULL;
    m->content = NULL;
}

int rtv_p2m_synth_build(const struct rtv_p2m_synth *s, struct rtv_p2m_model *m)
{
    uint64_t nr = s->nr, nframes = rtv_p2m_synth_frames(nr), rng = s->seed;
    uint64_t i, slot, ncyc = 0, cap = 0, pos, c = 0, deferred = RTV_P2M_INVALID_MFN;
    uint64_t words = rtv_p2m_sparse_words(nr);
    unsigned int maxc = s->max_cycle < 2 ? 2 : s->max_cycle;
    uint32_t *cyc = NULL;
    struct rtv_p2m_range range;
    struct rtv_p2m_sparse sp;
    struct perm perm;

    /* Frame numbers must stay below the sparse form's two markers. */
    if ( nr == 0 || nframes >= SYNTH_PENDING )
        return -EINVAL;
    memset(m, 0, sizeof(*m));
    m->nframes = nframes;
    m->nr = nr;
    m->kind = rtv_p2m_big_alloc(rtv_p2m_model_kind_bytes(nframes), 1);    /* all free */
    m->listed = rtv_p2m_big_alloc(words * sizeof(uint64_t), 1);
    m->rank = rtv_p2m_big_alloc(rtv_p2m_sparse_rank_entries(nr) * sizeof(uint32_t), 0);
    if ( !m->kind || !m->listed || !m->rank )
        goto nomem;

    /* Which gfns are holes or identity; the rest are listed. */
    for ( i = 0; i < nr; i++ )
    {
        double u = rand_unit(&rng);

        synth_progress(s, i, nr);
        if ( u < s->hole_fraction )
        {
            listed_set(m->listed, i);
            rtv_p2m_model_set_kind(m, i, RTV_FRAME_NOT_RAM);
        }
        else if ( u < s->hole_fraction + s->identity_fraction )
            rtv_p2m_model_set_kind(m, i, RTV_FRAME_OWN);
        else
            listed_set(m->listed, i);
    }
    m->nlisted = rtv_p2m_sparse_rank(m->listed, m->rank, nr);
    m->mfn = rtv_p2m_big_alloc((m->nlisted ? m->nlisted : 1) * sizeof(uint32_t), 0);
    if ( !m->mfn )
        goto nomem;
    rtv_p2m_model_range(m, &range, &sp);

    /* Holes stay holes; each other listed page joins an explicit cycle with
     * probability cycle_fraction, or waits for a frame. */
    for ( i = 0, slot = 0; i < nr; i++ )
    {
        if ( !((m->listed[i / 64] >> (i % 64)) & 1) )
            continue;
        if ( rtv_p2m_model_kind(m, i) == RTV_FRAME_NOT_RAM )
            m->mfn[slot++] = RTV_P2M_SPARSE_HOLE;
        else
        {
            m->mfn[slot++] = SYNTH_PENDING;
            if ( rand_unit(&rng) < s->cycle_fraction )
            {
                if ( ncyc == cap )
                {
                    uint32_t *n;

                    cap = cap ? 2 * cap : 1024;
                    n = realloc(cyc, cap * sizeof(uint32_t));
                    if ( !n )
                        goto nomem;
                    cyc = n;
                }
                cyc[ncyc++] = (uint32_t)i;
            }
        }
    }

    /* Explicit cycles: shuffle the members, cut them into groups.  Frame
     * a[k] holds page a[k+1]; frame a[last] holds a[0].  A last group of
     * one waits for a frame like the others. */
    for ( i = 0; i + 1 < ncyc; i++ )
    {
        uint64_t k = i + rtv_p2m_rand(&rng) % (ncyc - i);
        uint32_t t = cyc[i];

        cyc[i] = cyc[k];
        cyc[k] = t;
    }
    for ( pos = 0; pos + 2 <= ncyc; )
    {
        uint64_t len = 2 + rtv_p2m_rand(&rng) % (maxc - 1), k;

        if ( len > ncyc - pos )
            len = ncyc - pos;
        for ( k = 0; k < len; k++ )
        {
            uint32_t page = cyc[pos + (k + 1) % len];

            m->mfn[rtv_p2m_slot(&range, page)] = cyc[pos + k];
            rtv_p2m_model_set_kind(m, cyc[pos + k], RTV_FRAME_OWN);
        }
        pos += len;
    }
    free(cyc);
    cyc = NULL;

    /* The rest take distinct frames nobody holds yet (their own gfns'
     * frames and the extra ones above nr), in a pseudo-random order: chains,
     * and cycles by chance.  A page never takes its own frame (it would be
     * identity); the frame it skipped goes to the next page. */
    perm_init(&perm, nframes, &rng);
    for ( i = 0, slot = 0; i < nr; i++ )
    {
        uint64_t f;

        synth_progress(s, i, nr);
        if ( !((m->listed[i / 64] >> (i % 64)) & 1) )
            continue;
        if ( m->mfn[slot++] != SYNTH_PENDING )
            continue;
        if ( deferred != RTV_P2M_INVALID_MFN )
        {
            f = deferred;
            deferred = RTV_P2M_INVALID_MFN;
        }
        else
        {
            /* Free frames outnumber the pages still waiting by nr/2, and
             * at most one is ever deferred: the walk cannot run out. */
            do {
                assert(c < nframes);
                f = perm_at(&perm, c++);
            } while ( rtv_p2m_model_kind(m, f) != RTV_FRAME_FREE );
            if ( f == i )
            {
                deferred = f;
                do {
                    assert(c < nframes);
                    f = perm_at(&perm, c++);
                } while ( rtv_p2m_model_kind(m, f) != RTV_FRAME_FREE );
            }
        }
        m->mfn[slot - 1] = (uint32_t)f;
        rtv_p2m_model_set_kind(m, f, RTV_FRAME_OWN);
    }

    /* Frames of [0, nr) nobody took: mostly free, some someone else's. */
    for ( i = 0; i < nr; i++ )
    {
        double u;

        if ( rtv_p2m_model_kind(m, i) != RTV_FRAME_FREE )
            continue;
        u = rand_unit(&rng);
        if ( u < s->other_fraction )
            rtv_p2m_model_set_kind(m, i, RTV_FRAME_OTHER);
        else if ( u < s->other_fraction + s->not_ram_fraction )
            rtv_p2m_model_set_kind(m, i, RTV_FRAME_NOT_RAM);
    }
    return 0;

 nomem:
    free(cyc);
    rtv_p2m_model_release(m);
    return -ENOMEM;
}
