/*
 * Host-side model of a machine for the P2M planner: a checked executor for
 * plans and a generator of synthetic dom0-like P2Ms.  Used by the unit tests
 * and by `rtvirt-p2m simulate`; never compiled into the hypervisor.
 */
#include <errno.h>
#include <string.h>

#include "rtvirt/p2m_plan.h"

/* Marks a gfn that still needs a frame while the generator runs. */
#define SYNTH_PENDING (~(uint64_t)0 - 2)

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

unsigned int rtv_p2m_model_frame_kind(void *model, uint64_t mfn)
{
    const struct rtv_p2m_model *m = model;

    return mfn < m->nframes ? m->kind[mfn] : RTV_FRAME_NOT_RAM;
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
    uint64_t *e;
    uint32_t data;

    if ( op->gfn < m->gfn_start || op->gfn - m->gfn_start >= m->nr )
        return refuse(m, op->gfn, "gfn outside the range");
    e = &m->p2m[op->gfn - m->gfn_start];
    if ( *e != op->from )
        return refuse(m, op->gfn, "from is not the page's frame");

    if ( op->from == RTV_P2M_SCRATCH )
    {
        if ( op->kind != RTV_P2M_OP_RESTORE || !m->scratch_busy )
            return refuse(m, op->gfn, "scratch read while not holding this page");
        data = m->scratch_content;
    }
    else
    {
        if ( op->from >= m->nframes || m->kind[op->from] != RTV_FRAME_OWN )
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
        if ( op->to >= m->nframes || m->kind[op->to] != RTV_FRAME_FREE )
            return refuse(m, op->gfn, "target frame is not free");
        m->kind[op->to] = RTV_FRAME_OWN;
        if ( m->content )
            m->content[op->to] = data;
    }

    if ( op->from == RTV_P2M_SCRATCH )
        m->scratch_busy = 0;
    else
    {
        m->kind[op->from] = RTV_FRAME_FREE;
        if ( m->content )
            m->content[op->from] = 0xdeadbeefu;   /* freed data is gone */
    }
    *e = op->to;
    m->applied++;
    return 0;
}

void rtv_p2m_model_fill(struct rtv_p2m_model *m)
{
    uint64_t i;

    for ( i = 0; i < m->nr; i++ )
        if ( m->p2m[i] < m->nframes && m->content )
            m->content[m->p2m[i]] = rtv_p2m_model_tag(m->gfn_start + i);
}

int rtv_p2m_model_verify(const struct rtv_p2m_model *m, const uint64_t *orig_p2m,
                         const uint8_t *klass, uint64_t *bad_gfn)
{
    uint64_t i;

    for ( i = 0; i < m->nr; i++ )
    {
        uint64_t g = m->gfn_start + i, f = m->p2m[i];
        int want_identity = klass[i] == RTV_P2M_MOVED || klass[i] == RTV_P2M_IDENTITY;

        *bad_gfn = g;
        if ( want_identity ? f != g : f != orig_p2m[i] )
            return -1;
        if ( f == RTV_P2M_INVALID_MFN )
            continue;
        if ( f >= m->nframes || m->kind[f] != RTV_FRAME_OWN )
        {
            /* Only a page that never owned its frame may sit on one that
             * is not ours, and it must not have moved. */
            if ( klass[i] != RTV_P2M_FAIL_NOT_OWNED )
                return -1;
            continue;
        }
        if ( m->content && m->content[f] != rtv_p2m_model_tag(g) )
            return -1;
    }
    return m->scratch_busy ? -1 : 0;
}

uint64_t rtv_p2m_synth_frames(uint64_t nr)
{
    return nr + (nr + 1) / 2;
}

static void synth_progress(const struct rtv_p2m_synth *s, uint64_t done, uint64_t total)
{
    if ( s->progress && (done & ((1u << 22) - 1)) == 0 )
        s->progress(s->ctx, done, total);
}

int rtv_p2m_synth_build(const struct rtv_p2m_synth *s, struct rtv_p2m_model *m,
                        uint32_t *scratch)
{
    uint64_t nr = s->nr, nframes = rtv_p2m_synth_frames(nr), rng = s->seed;
    uint64_t i, nu = 0, ncyc, pos, pool, j;
    unsigned int maxc = s->max_cycle < 2 ? 2 : s->max_cycle;

    if ( nframes > 0xffffffffull || !m->kind || !m->p2m || !scratch )
        return -EINVAL;
    m->nframes = nframes;
    m->gfn_start = 0;
    m->nr = nr;
    m->scratch_busy = 0;
    m->applied = 0;
    m->error = NULL;
    memset(m->kind, RTV_FRAME_FREE, nframes);

    /* Which gfns are holes, identity, or need a frame (listed in scratch). */
    for ( i = 0; i < nr; i++ )
    {
        double u = rand_unit(&rng);

        synth_progress(s, i, nr);
        if ( u < s->hole_fraction )
        {
            m->p2m[i] = RTV_P2M_INVALID_MFN;
            m->kind[i] = RTV_FRAME_NOT_RAM;
        }
        else if ( u < s->hole_fraction + s->identity_fraction )
        {
            m->p2m[i] = i;
            m->kind[i] = RTV_FRAME_OWN;
        }
        else
        {
            m->p2m[i] = SYNTH_PENDING;
            scratch[nu++] = (uint32_t)i;
        }
    }

    /* Explicit cycles: shuffle the pending list, cut its head into groups.
     * Frame a[k] holds page a[k+1]; frame a[last] holds a[0]. */
    ncyc = (uint64_t)(s->cycle_fraction * (double)nu);
    for ( i = 0; i < ncyc; i++ )
    {
        uint64_t k = i + rtv_p2m_rand(&rng) % (nu - i);
        uint32_t t = scratch[i];

        scratch[i] = scratch[k];
        scratch[k] = t;
    }
    for ( pos = 0; pos + 2 <= ncyc; )
    {
        uint64_t len = 2 + rtv_p2m_rand(&rng) % (maxc - 1), k;

        if ( len > ncyc - pos )
            len = ncyc - pos;
        for ( k = 0; k < len; k++ )
        {
            uint32_t page = scratch[pos + (k + 1) % len];

            m->p2m[page] = scratch[pos + k];
            m->kind[scratch[pos + k]] = RTV_FRAME_OWN;
        }
        pos += len;
    }

    /* The rest take distinct random frames from a pool of their own frames
     * and the extra frames above nr: chains, and cycles by chance. */
    pool = 0;
    for ( i = pos; i < nu; i++ )
        if ( m->p2m[scratch[i]] == SYNTH_PENDING )
            scratch[pool++] = scratch[i];
    for ( i = nr; i < nframes; i++ )
        scratch[pool++] = (uint32_t)i;
    j = 0;
    for ( i = 0; i < nr; i++ )
    {
        uint64_t k;
        uint32_t t;

        synth_progress(s, i, nr);
        if ( m->p2m[i] != SYNTH_PENDING )
            continue;
        k = j + rtv_p2m_rand(&rng) % (pool - j);
        t = scratch[j];
        scratch[j] = scratch[k];
        scratch[k] = t;
        if ( scratch[j] == i )
        {
            /* Not identity by construction: take the next one.  The pool has
             * at least one frame more than there are takers. */
            k = j + 1 + rtv_p2m_rand(&rng) % (pool - j - 1);
            t = scratch[j];
            scratch[j] = scratch[k];
            scratch[k] = t;
        }
        m->p2m[i] = scratch[j];
        m->kind[scratch[j]] = RTV_FRAME_OWN;
        j++;
    }

    /* Frames of [0, nr) nobody took: mostly free, some someone else's. */
    for ( i = 0; i < nr; i++ )
    {
        double u;

        if ( m->kind[i] != RTV_FRAME_FREE )
            continue;
        u = rand_unit(&rng);
        if ( u < s->other_fraction )
            m->kind[i] = RTV_FRAME_OTHER;
        else if ( u < s->other_fraction + s->not_ram_fraction )
            m->kind[i] = RTV_FRAME_NOT_RAM;
    }
    rtv_p2m_model_fill(m);
    return 0;
}
