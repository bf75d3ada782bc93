/*
 * Unit tests for the P2M identity planner (common/p2m_plan.c).
 *
 * Every plan is executed on the checked model (common/p2m_plan_model.c),
 * which refuses an operation that would clobber a frame or move a page to
 * the wrong place, and then verified: each page the planner says moved is
 * identity and still holds its own data.  The copy count is compared with a
 * lower bound computed here independently, by brute force over the P2M, and
 * the three bookkeeping modes must emit the very same operations.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/p2m_plan.h"
#include "unit.h"

/* ---- a recorded, executed plan ---------------------------------------- */

struct run {
    struct rtv_p2m_model m;
    struct rtv_p2m_op *ops;
    size_t nops, cap;
    uint8_t *klass;
    struct rtv_p2m_counts c;
    int rc;
};

static int record_and_apply(void *ctx, const struct rtv_p2m_op *op)
{
    struct run *r = ctx;

    if ( r->nops == r->cap )
    {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->ops = realloc(r->ops, r->cap * sizeof(*r->ops));
        ck_assert_ptr_nonnull(r->ops);
    }
    r->ops[r->nops++] = *op;
    /* Applied to the very P2M the planner reads: proves it never reads an
     * entry after emitting the operation that changes it. */
    return rtv_p2m_model_apply(&r->m, op);
}

/* The machine every test starts from. */
struct machine {
    uint64_t nframes, gfn_start, nr;
    uint8_t *kind;
    uint64_t *p2m;
};

static struct machine *machine_new(uint64_t nframes, uint64_t gfn_start, uint64_t nr)
{
    struct machine *mc = calloc(1, sizeof(*mc));

    ck_assert_ptr_nonnull(mc);
    mc->nframes = nframes;
    mc->gfn_start = gfn_start;
    mc->nr = nr;
    mc->kind = calloc(nframes + 1, 1);
    mc->p2m = calloc(nr + 1, sizeof(uint64_t));
    ck_assert(mc->kind && mc->p2m);
    return mc;
}

static void machine_free(struct machine *mc)
{
    free(mc->kind);
    free(mc->p2m);
    free(mc);
}

/* Hand-built P2M: map[i] is the frame of gfn gfn_start + i (or INVALID);
 * every mapped frame becomes the domain's, every other frame free. */
static struct machine *hand(uint64_t nframes, uint64_t gfn_start, uint64_t nr,
                            const uint64_t *map)
{
    struct machine *mc = machine_new(nframes, gfn_start, nr);
    uint64_t i;

    memcpy(mc->p2m, map, nr * sizeof(uint64_t));
    for ( i = 0; i < nr; i++ )
        if ( map[i] < nframes )
            mc->kind[map[i]] = RTV_FRAME_OWN;
    return mc;
}

static void run_free(struct run *r)
{
    free(r->m.kind);
    free(r->m.content);
    free(r->m.p2m);
    free(r->m.listed);
    free(r->m.rank);
    free(r->m.mfn);
    free(r->ops);
    free(r->klass);
}

/* The model's packed frame kinds, from a machine's byte-a-frame ones. */
static uint8_t *packed_kinds(const struct machine *mc)
{
    struct rtv_p2m_model m = { .nframes = mc->nframes };
    uint64_t f;

    m.kind = calloc(rtv_p2m_model_kind_bytes(mc->nframes) + 1, 1);
    ck_assert_ptr_nonnull(m.kind);
    for ( f = 0; f < mc->nframes; f++ )
        rtv_p2m_model_set_kind(&m, f, mc->kind[f]);
    return m.kind;
}

/* The machine as the model a plan starts from ("orig" for verify). */
static struct rtv_p2m_model machine_model(const struct machine *mc)
{
    struct rtv_p2m_model m = {
        .nframes = mc->nframes, .gfn_start = mc->gfn_start, .nr = mc->nr, .p2m = mc->p2m,
    };

    return m;
}

/* The machine's range in the sparse form: every page that is not identity
 * listed (holes too), with 32-bit frames. */
static void make_sparse(const struct machine *mc, struct rtv_p2m_model *m)
{
    uint64_t words = rtv_p2m_sparse_words(mc->nr), i, slot = 0;

    m->p2m = NULL;
    m->listed = calloc(words + 1, sizeof(uint64_t));
    m->rank = calloc(words + 1, sizeof(uint32_t));
    m->mfn = calloc(mc->nr + 1, sizeof(uint32_t));
    ck_assert(m->listed && m->rank && m->mfn);
    for ( i = 0; i < mc->nr; i++ )
        if ( mc->p2m[i] != mc->gfn_start + i )
            m->listed[i / 64] |= 1ull << (i % 64);
    m->nlisted = rtv_p2m_sparse_rank(m->listed, m->rank, mc->nr);
    for ( i = 0; i < mc->nr; i++ )
        if ( mc->p2m[i] != mc->gfn_start + i )
            m->mfn[slot++] = mc->p2m[i] == RTV_P2M_INVALID_MFN ? RTV_P2M_SPARSE_HOLE
                                                               : (uint32_t)mc->p2m[i];
    ck_assert_uint_eq(slot, m->nlisted);
}

/* A fresh copy of the machine to plan on, in the flat or the sparse form. */
static void run_setup(const struct machine *mc, int sparse, struct run *r)
{
    memset(r, 0, sizeof(*r));
    r->m.nframes = mc->nframes;
    r->m.gfn_start = mc->gfn_start;
    r->m.nr = mc->nr;
    r->m.kind = packed_kinds(mc);
    r->m.content = calloc(mc->nframes + 1, sizeof(uint32_t));
    ck_assert_ptr_nonnull(r->m.content);
    if ( sparse )
        make_sparse(mc, &r->m);
    else
    {
        r->m.p2m = malloc((mc->nr + 1) * sizeof(uint64_t));
        ck_assert_ptr_nonnull(r->m.p2m);
        memcpy(r->m.p2m, mc->p2m, mc->nr * sizeof(uint64_t));
    }
    rtv_p2m_model_fill(&r->m);
    r->klass = malloc(mc->nr + 1);
    ck_assert_ptr_nonnull(r->klass);
}

/* Plan on a fresh copy of the machine with one bookkeeping mode. */
static void run_plan_form(const struct machine *mc, unsigned int bk, int sparse, struct run *r)
{
    struct rtv_p2m_range range;
    struct rtv_p2m_sparse sp;
    struct rtv_p2m_hooks hooks = {
        .frame_kind = rtv_p2m_model_frame_kind,
        .emit = record_and_apply,
    };
    size_t wsz;
    void *ws;

    run_setup(mc, sparse, r);
    rtv_p2m_model_range(&r->m, &range, &sp);
    wsz = rtv_p2m_workspace_size(&range, bk);
    ws = wsz ? malloc(wsz) : NULL;
    ck_assert(ws || !wsz);

    /* The emit hook reaches the run through ctx; the oracle needs the model,
     * which is the run's first member. */
    hooks.ctx = r;
    r->rc = rtv_p2m_plan(&range, bk, ws, wsz, &hooks, r->klass, &r->c);
    free(ws);
}

static void run_plan(const struct machine *mc, unsigned int bk, struct run *r)
{
    run_plan_form(mc, bk, 0, r);
}

/* ---- the independent lower bound -------------------------------------- */

struct bound {
    uint64_t movable, cycles, identity;
};

/*
 * Brute force, no shared code with the planner: page g can reach identity iff
 * following "who holds frame g" (found by scanning the whole P2M) ends at a
 * free frame, or comes back to g (a cycle), through pages that all own their
 * frames.  Lower bound on copies: one per movable page, one more per cycle.
 */
static struct bound brute_bound(const struct machine *mc)
{
    struct bound b = { 0, 0, 0 };
    uint64_t i, n = mc->nr;

    for ( i = 0; i < n; i++ )
    {
        uint64_t g = mc->gfn_start + i, x = i, steps, min_in_cycle = g;
        int ok = 0, cyc = 0;

        if ( mc->p2m[i] == RTV_P2M_INVALID_MFN )
            continue;
        if ( mc->p2m[i] == g )
        {
            b.identity++;
            continue;
        }
        for ( steps = 0; steps <= n; steps++ )
        {
            uint64_t gx = mc->gfn_start + x, j, holders = 0, holder = 0;

            if ( mc->p2m[x] >= mc->nframes || mc->kind[mc->p2m[x]] != RTV_FRAME_OWN ||
                 mc->p2m[x] == gx || mc->p2m[x] == RTV_P2M_INVALID_MFN )
                break;
            if ( gx >= mc->nframes )
                break;
            if ( mc->kind[gx] == RTV_FRAME_FREE )
            {
                ok = 1;
                break;
            }
            if ( mc->kind[gx] != RTV_FRAME_OWN )
                break;
            for ( j = 0; j < n; j++ )
                if ( mc->p2m[j] == gx )
                {
                    holders++;
                    holder = j;
                }
            if ( holders != 1 )
                break;
            x = holder;
            if ( mc->gfn_start + x < min_in_cycle )
                min_in_cycle = mc->gfn_start + x;
            if ( x == i )
            {
                ok = cyc = 1;
                break;
            }
        }
        if ( ok )
            b.movable++;
        if ( cyc && min_in_cycle == g )
            b.cycles++;
    }
    return b;
}

/* ---- the checks every scenario gets ----------------------------------- */

/*
 * Plan with all three modes; each must execute cleanly, verify, hit the
 * independent lower bound, and emit the same operations with the same counts.
 * Returns the backmap run's counts for scenario-specific checks.
 */
/* Field by field: struct rtv_p2m_op has padding, which memcmp would read. */
static int same_ops(const struct rtv_p2m_op *a, const struct rtv_p2m_op *b, size_t n)
{
    size_t i;

    for ( i = 0; i < n; i++ )
        if ( a[i].kind != b[i].kind || a[i].gfn != b[i].gfn || a[i].from != b[i].from ||
             a[i].to != b[i].to )
            return 0;
    return 1;
}

static void check_run(const struct machine *mc, const struct bound *b, unsigned int bk,
                      int sparse, struct run *r)
{
    struct rtv_p2m_model orig = machine_model(mc);
    uint64_t bad = 0;

    run_plan_form(mc, bk, sparse, r);
    ck_assert_msg(r->rc == 0, "%s%s: plan rc %d, model: %s at gfn %llu",
                  rtv_p2m_bookkeeping_name(bk), sparse ? " sparse" : "", r->rc,
                  r->m.error ? r->m.error : "-", (unsigned long long)r->m.error_gfn);
    ck_assert_msg(rtv_p2m_model_verify(&r->m, &orig, r->klass, &bad) == 0,
                  "%s%s: gfn %llu wrong after the plan", rtv_p2m_bookkeeping_name(bk),
                  sparse ? " sparse" : "", (unsigned long long)bad);
    ck_assert_uint_eq(r->m.applied, r->c.copies);
    ck_assert_uint_eq(r->c.remapped, b->movable);
    ck_assert_uint_eq(r->c.cycles, b->cycles);
    ck_assert_uint_eq(r->c.copies, b->movable + b->cycles);
    ck_assert_uint_eq(r->c.scratch_uses, b->cycles);
    ck_assert_uint_eq(r->c.by_class[RTV_P2M_IDENTITY], b->identity);
    ck_assert_uint_eq(r->c.by_class[RTV_P2M_MOVED], r->c.remapped);
    ck_assert_uint_eq(r->c.by_class[RTV_P2M_TARGET_FREE], 0);
    ck_assert_uint_eq(r->c.by_class[RTV_P2M_TARGET_OWN], 0);
}

/*
 * Plan with all three modes, in both forms; each must execute cleanly,
 * verify, hit the independent lower bound, and emit the same operations
 * with the same counts.  Returns the backmap run's counts for
 * scenario-specific checks.
 */
static struct rtv_p2m_counts check_all_modes(const struct machine *mc)
{
    struct bound b = brute_bound(mc);
    struct run runs[RTV_P2M_BK_COUNT], sp;
    struct rtv_p2m_counts c0;
    unsigned int bk;

    for ( bk = 0; bk < RTV_P2M_BK_COUNT; bk++ )
        check_run(mc, &b, bk, 0, &runs[bk]);
    for ( bk = 1; bk < RTV_P2M_BK_COUNT; bk++ )
    {
        ck_assert_uint_eq(runs[bk].nops, runs[0].nops);
        ck_assert_msg(runs[0].nops == 0 ||
                      same_ops(runs[bk].ops, runs[0].ops, runs[0].nops),
                      "%s emitted a different plan from backmap", rtv_p2m_bookkeeping_name(bk));
        ck_assert(memcmp(runs[bk].klass, runs[0].klass, mc->nr) == 0);
        ck_assert(memcmp(runs[bk].c.by_class, runs[0].c.by_class, sizeof(runs[0].c.by_class)) == 0);
        ck_assert_uint_eq(runs[bk].c.chains, runs[0].c.chains);
    }
    /* The sparse form of the same P2M: the very same plan and counts. */
    for ( bk = 0; bk < RTV_P2M_BK_COUNT; bk++ )
    {
        check_run(mc, &b, bk, 1, &sp);
        ck_assert_uint_eq(sp.nops, runs[0].nops);
        ck_assert_msg(runs[0].nops == 0 ||
                      same_ops(sp.ops, runs[0].ops, runs[0].nops),
                      "sparse %s emitted a different plan from flat backmap",
                      rtv_p2m_bookkeeping_name(bk));
        ck_assert(memcmp(sp.c.by_class, runs[0].c.by_class, sizeof(runs[0].c.by_class)) == 0);
        ck_assert_uint_eq(sp.c.chains, runs[0].c.chains);
        run_free(&sp);
    }
    c0 = runs[0].c;
    for ( bk = 0; bk < RTV_P2M_BK_COUNT; bk++ )
        run_free(&runs[bk]);
    return c0;
}

#define INV RTV_P2M_INVALID_MFN
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- hand-built scenarios --------------------------------------------- */

START_TEST(already_identity)
{
    static const uint64_t map[] = { 0, 1, 2, 3, 4, 5, 6, 7 };
    struct machine *mc = hand(16, 0, NELEM(map), map);
    struct rtv_p2m_counts c = check_all_modes(mc);

    ck_assert_uint_eq(c.by_class[RTV_P2M_IDENTITY], 8);
    ck_assert_uint_eq(c.copies, 0);
    ck_assert_uint_eq(c.failed, 0);
    machine_free(mc);
}
END_TEST

START_TEST(single_move)
{
    static const uint64_t map[] = { 0, 1, 10, 3 };
    struct machine *mc = hand(16, 0, NELEM(map), map);
    struct rtv_p2m_counts c = check_all_modes(mc);

    ck_assert_uint_eq(c.remapped, 1);
    ck_assert_uint_eq(c.copies, 1);
    ck_assert_uint_eq(c.chains, 1);
    ck_assert_uint_eq(c.cycles, 0);
    machine_free(mc);
}
END_TEST

START_TEST(two_cycle)
{
    static const uint64_t map[] = { 1, 0, 2 };
    struct machine *mc = hand(8, 0, NELEM(map), map);
    struct rtv_p2m_counts c = check_all_modes(mc);
    struct run r;

    ck_assert_uint_eq(c.remapped, 2);
    ck_assert_uint_eq(c.cycles, 1);
    ck_assert_uint_eq(c.copies, 3);
    ck_assert_uint_eq(c.scratch_uses, 1);
    /* The exact canonical plan: save the lowest gfn, run, restore. */
    run_plan(mc, RTV_P2M_BK_BACKMAP, &r);
    ck_assert_uint_eq(r.nops, 3);
    ck_assert(r.ops[0].kind == RTV_P2M_OP_SAVE && r.ops[0].gfn == 0 && r.ops[0].from == 1);
    ck_assert(r.ops[1].kind == RTV_P2M_OP_MOVE && r.ops[1].gfn == 1 && r.ops[1].from == 0 &&
              r.ops[1].to == 1);
    ck_assert(r.ops[2].kind == RTV_P2M_OP_RESTORE && r.ops[2].gfn == 0 && r.ops[2].to == 0);
    run_free(&r);
    machine_free(mc);
}
END_TEST

START_TEST(long_cycle)
{
    /* gfn i sits in frame i+1, the last in frame 0: one cycle of 64. */
    uint64_t map[64];
    struct machine *mc;
    struct rtv_p2m_counts c;
    unsigned int i;

    for ( i = 0; i < 64; i++ )
        map[i] = (i + 1) % 64;
    mc = hand(64, 0, 64, map);  /* no spare frame at all: scratch only */
    c = check_all_modes(mc);
    ck_assert_uint_eq(c.cycles, 1);
    ck_assert_uint_eq(c.longest_cycle, 64);
    ck_assert_uint_eq(c.copies, 65);
    machine_free(mc);
}
END_TEST

START_TEST(several_cycles_one_scratch)
{
    /* Three disjoint cycles (2, 3, 4) next to identity pages. */
    static const uint64_t map[] = { 1, 0, 2, 4, 5, 3, 6, 8, 9, 10, 7 };
    struct machine *mc = hand(11, 0, NELEM(map), map);
    struct rtv_p2m_counts c = check_all_modes(mc);

    ck_assert_uint_eq(c.cycles, 3);
    ck_assert_uint_eq(c.scratch_uses, 3);
    ck_assert_uint_eq(c.copies, 9 + 3);
    ck_assert_uint_eq(c.longest_cycle, 4);
    machine_free(mc);
}
END_TEST

START_TEST(chain)
{
    /* g0 in f1, g1 in f2, g2 in f10; frame 0 free.  Moving g0 frees f1 for
     * g1, which frees f2 for g2: three copies, no scratch. */
    static const uint64_t map[] = { 1, 2, 10 };
    struct machine *mc = hand(16, 0, NELEM(map), map);
    struct rtv_p2m_counts c = check_all_modes(mc);
    struct run r;

    ck_assert_uint_eq(c.remapped, 3);
    ck_assert_uint_eq(c.copies, 3);
    ck_assert_uint_eq(c.chains, 1);
    ck_assert_uint_eq(c.scratch_uses, 0);
    run_plan(mc, RTV_P2M_BK_SEARCH, &r);
    ck_assert_uint_eq(r.nops, 3);
    ck_assert(r.ops[0].gfn == 0 && r.ops[1].gfn == 1 && r.ops[2].gfn == 2);
    run_free(&r);
    machine_free(mc);
}
END_TEST

START_TEST(owned_by_others)
{
    /* Frame 0 is Xen's: g0 fails, and g5, waiting for g0's frame 5, is
     * blocked.  g6's frame is free: it moves.  Frame 3 of g3 is someone
     * else's (a foreign mapping): not ours to move. */
    static const uint64_t map[] = { 5, 1, 2, 30, 4, 7, 20 };
    struct machine *mc = hand(32, 0, NELEM(map), map);
    struct rtv_p2m_counts c;

    mc->kind[0] = RTV_FRAME_OTHER;
    mc->kind[30] = RTV_FRAME_OTHER;
    c = check_all_modes(mc);
    ck_assert_uint_eq(c.by_class[RTV_P2M_FAIL_TARGET_OTHER], 1);
    ck_assert_uint_eq(c.by_class[RTV_P2M_FAIL_BLOCKED], 1);
    ck_assert_uint_eq(c.by_class[RTV_P2M_FAIL_NOT_OWNED], 1);
    ck_assert_uint_eq(c.by_class[RTV_P2M_MOVED], 1);
    ck_assert_uint_eq(c.failed, 3);
    ck_assert_uint_eq(c.copies, 1);
    machine_free(mc);
}
END_TEST

START_TEST(not_ram)
{
    /* Frame 0 is not RAM; gfn 2 is a hole (not RAM in the P2M). */
    static const uint64_t map[] = { 9, 1, INV, 3 };
    struct machine *mc = hand(16, 0, NELEM(map), map);
    struct rtv_p2m_counts c;

    mc->kind[0] = RTV_FRAME_NOT_RAM;
    c = check_all_modes(mc);
    ck_assert_uint_eq(c.by_class[RTV_P2M_FAIL_TARGET_NOT_RAM], 1);
    ck_assert_uint_eq(c.by_class[RTV_P2M_HOLE], 1);
    ck_assert_uint_eq(c.by_class[RTV_P2M_IDENTITY], 2);
    ck_assert_uint_eq(c.copies, 0);
    /* Beyond the machine's frames is not RAM too. */
    machine_free(mc);
    {
        static const uint64_t map2[] = { 3, 1 };
        mc = hand(4, 20, NELEM(map2), map2);
        c = check_all_modes(mc);
        ck_assert_uint_eq(c.by_class[RTV_P2M_FAIL_TARGET_NOT_RAM], 2);
        machine_free(mc);
    }
}
END_TEST

START_TEST(partial_range)
{
    /* Domain gfns 0..15 live in frames 0..31; only gfns 4..11 are rebuilt.
     * g2 (outside) sits in frame 5, so g5 cannot go home; g4 and g8 swap;
     * g7 sits in frame 1, wanted by g1 which is not in the range, so g7
     * moves out of it freely (frame 7 is free). */
    static const uint64_t range_map[] = {
        /* g4  g5  g6  g7  g8  g9  g10 g11 */
           8,  20, 6,  1,  4,  21, 10, 22,
    };
    struct machine *mc = hand(32, 4, NELEM(range_map), range_map);
    struct rtv_p2m_counts c;

    mc->kind[5] = RTV_FRAME_OWN;    /* g2's frame */
    mc->kind[0] = RTV_FRAME_OWN;    /* g0's frame */
    c = check_all_modes(mc);
    ck_assert_uint_eq(c.pages, 8);
    ck_assert_uint_eq(c.by_class[RTV_P2M_FAIL_TARGET_OUTSIDE], 1);
    ck_assert_uint_eq(c.cycles, 1);
    /* g4, g8 (cycle), g7, g9, g11 (free targets); g5 fails. */
    ck_assert_uint_eq(c.remapped, 5);
    ck_assert_uint_eq(c.copies, 6);
    machine_free(mc);
}
END_TEST

START_TEST(chain_into_cycle_order)
{
    /* A chain and a cycle sharing nothing, and a chain whose free end has
     * the highest gfn: plans run chains first, lowest free end first. */
    static const uint64_t map[] = { 3, 0, 2, 1, 5, 12 };
    /* g0 in f3, g3 in f1, g1 in f0: cycle 0 -> 3 -> 1 (frame 0 held by g1).
     * g4 in f5, g5 in f12: chain 5 <- 4, frame 4 free after g4 moves. */
    struct machine *mc = hand(16, 0, NELEM(map), map);
    struct rtv_p2m_counts c = check_all_modes(mc);
    struct run r;

    ck_assert_uint_eq(c.cycles, 1);
    ck_assert_uint_eq(c.chains, 1);
    run_plan(mc, RTV_P2M_BK_REFCOUNT, &r);
    ck_assert_uint_eq(r.nops, 2 + 4);
    ck_assert(r.ops[0].kind == RTV_P2M_OP_MOVE && r.ops[0].gfn == 4);
    ck_assert(r.ops[1].kind == RTV_P2M_OP_MOVE && r.ops[1].gfn == 5);
    ck_assert(r.ops[2].kind == RTV_P2M_OP_SAVE && r.ops[2].gfn == 0);
    run_free(&r);
    machine_free(mc);
}
END_TEST

START_TEST(aliased_target)
{
    /* g0 and g1 both map frame 2: g2 cannot take frame 2.  (Xen's HAP P2M
     * never aliases RAM, but the planner must not trust that.) */
    static const uint64_t map[] = { 2, 2, 9 };
    struct machine *mc = hand(16, 0, NELEM(map), map);
    unsigned int bk;

    for ( bk = 0; bk < RTV_P2M_BK_COUNT; bk++ )
    {
        uint8_t ws[64], klass[3];
        struct rtv_p2m_counts c;
        struct rtv_p2m_range range = { 0, 3, mc->p2m, NULL };
        size_t wsz = rtv_p2m_workspace_size(&range, bk);
        struct rtv_p2m_model m = { .nframes = 16, .kind = packed_kinds(mc) };
        struct rtv_p2m_hooks h = { .frame_kind = rtv_p2m_model_frame_kind, .ctx = &m };

        ck_assert_int_eq(rtv_p2m_query(&range, bk, wsz ? ws : NULL, wsz, &h, klass, &c), 0);
        ck_assert_int_eq(klass[2], RTV_P2M_FAIL_TARGET_ALIASED);
        /* ... and neither g0 nor g1 may leave frame 2 (aliased_source). */
        ck_assert_int_eq(klass[0], RTV_P2M_FAIL_SOURCE_ALIASED);
        ck_assert_int_eq(klass[1], RTV_P2M_FAIL_SOURCE_ALIASED);
        free(m.kind);
    }
    machine_free(mc);
}
END_TEST

/*
 * Plan mc in every mode and form: the pages of gfns aliased[] (nal of them)
 * must come out FAIL_SOURCE_ALIASED, counted as failed, and no operation
 * may touch them: moving one would free the frame under the other gfn
 * (a use after free in the hypervisor).  Everything else still verifies.
 */
static void check_source_aliases(const struct machine *mc, const uint64_t *aliased,
                                 size_t nal, uint64_t moved)
{
    struct rtv_p2m_model orig = machine_model(mc);
    unsigned int bk;
    int sparse;

    for ( sparse = 0; sparse < 2; sparse++ )
        for ( bk = 0; bk < RTV_P2M_BK_COUNT; bk++ )
        {
            struct rtv_p2m_range range;
            struct rtv_p2m_sparse sp;
            struct run r;
            uint64_t bad = 0;
            size_t i, j;

            run_plan_form(mc, bk, sparse, &r);
            ck_assert_msg(r.rc == 0, "%s%s: rc %d (%s)", rtv_p2m_bookkeeping_name(bk),
                          sparse ? " sparse" : "", r.rc, r.m.error ? r.m.error : "-");
            rtv_p2m_model_range(&r.m, &range, &sp);
            for ( i = 0; i < nal; i++ )
            {
                uint64_t slot = rtv_p2m_slot(&range, aliased[i]);

                ck_assert_uint_ne(slot, RTV_P2M_NO_SLOT);
                ck_assert_msg(r.klass[slot] == RTV_P2M_FAIL_SOURCE_ALIASED,
                              "%s%s: gfn %llu is %s, not source-aliased",
                              rtv_p2m_bookkeeping_name(bk), sparse ? " sparse" : "",
                              (unsigned long long)aliased[i],
                              rtv_p2m_class_name(r.klass[slot]));
                for ( j = 0; j < r.nops; j++ )
                    ck_assert_uint_ne(r.ops[j].gfn, aliased[i]);
            }
            ck_assert_uint_eq(r.c.by_class[RTV_P2M_FAIL_SOURCE_ALIASED], nal);
            ck_assert_uint_ge(r.c.failed, nal);
            ck_assert_uint_eq(r.c.remapped, moved);
            ck_assert(rtv_p2m_model_verify(&r.m, &orig, r.klass, &bad) == 0);
            run_free(&r);
        }
}

START_TEST(aliased_source)
{
    /* g0 and g2 both map frame 3, and their own frames 0 and 2 are free.
     * Moving g0 would free frame 3 with g2 still mapping it (and the other
     * way round): neither moves.  g1 (frame 5, its own frame 1 free) does;
     * g3 is a hole.  (Only frames inside the range are counted: an alias
     * of a frame outside it is out of the planner's sight, see
     * p2m_plan.h.) */
    static const uint64_t map[] = { 3, 5, 3, INV };
    static const uint64_t aliased[] = { 0, 2 };
    struct machine *mc = hand(16, 0, NELEM(map), map);

    check_source_aliases(mc, aliased, NELEM(aliased), 1);
    machine_free(mc);
}
END_TEST

START_TEST(aliased_source_with_identity_page)
{
    /* g1 is identity (frame 1) and g0 maps frame 1 too: g0 must stay, or
     * frame 1 would be freed under g1.  In the sparse form g1 is not even
     * listed, so only "an unlisted gfn maps its own frame" reveals it. */
    static const uint64_t map[] = { 1, 1, 9 };
    static const uint64_t aliased[] = { 0 };
    struct machine *mc = hand(16, 0, NELEM(map), map);

    check_source_aliases(mc, aliased, NELEM(aliased), 1);
    machine_free(mc);
}
END_TEST

/* ---- bad input and hooks ---------------------------------------------- */

static unsigned int all_free(void *ctx, uint64_t mfn)
{
    (void)ctx;
    return mfn == 7 ? RTV_FRAME_OWN : RTV_FRAME_FREE;
}

static int stop_at_first(void *ctx, const struct rtv_p2m_op *op)
{
    (void)op;
    ++*(int *)ctx;
    return -EINTR;
}

START_TEST(bad_input)
{
    uint64_t p2m[2] = { 7, 1 };
    uint8_t klass[2], ws[16];
    struct rtv_p2m_counts c;
    struct rtv_p2m_range r = { 0, 2, p2m, NULL };
    struct rtv_p2m_hooks h = { .frame_kind = all_free };
    int calls = 0;

    ck_assert_int_eq(rtv_p2m_query(&r, RTV_P2M_BK_COUNT, ws, sizeof(ws), &h, klass, &c), -EINVAL);
    ck_assert_int_eq(rtv_p2m_query(&r, RTV_P2M_BK_BACKMAP, ws, 4, &h, klass, &c), -ENOSPC);
    ck_assert_int_eq(rtv_p2m_query(NULL, RTV_P2M_BK_SEARCH, NULL, 0, &h, klass, &c), -EINVAL);
    r.nr = RTV_P2M_MAX_PAGES + 1;
    ck_assert_int_eq(rtv_p2m_query(&r, RTV_P2M_BK_SEARCH, NULL, 0, &h, klass, &c), -EINVAL);
    r.nr = 2;
    r.gfn_start = RTV_P2M_SCRATCH - 2;
    ck_assert_int_eq(rtv_p2m_query(&r, RTV_P2M_BK_SEARCH, NULL, 0, &h, klass, &c), -EINVAL);
    r.gfn_start = 0;
    p2m[1] = RTV_P2M_SCRATCH;
    ck_assert_int_eq(rtv_p2m_query(&r, RTV_P2M_BK_SEARCH, NULL, 0, &h, klass, &c), -EINVAL);
    p2m[1] = 1;

    /* The emit hook's error stops the plan and comes back unchanged. */
    h.emit = stop_at_first;
    h.ctx = &calls;
    ck_assert_int_eq(rtv_p2m_plan(&r, RTV_P2M_BK_SEARCH, NULL, 0, &h, klass, &c), -EINTR);
    ck_assert_int_eq(calls, 1);
    ck_assert_uint_eq(c.copies, 1);
}
END_TEST

START_TEST(names)
{
    ck_assert_str_eq(rtv_p2m_bookkeeping_name(RTV_P2M_BK_REFCOUNT), "refcount");
    ck_assert_int_eq(rtv_p2m_bookkeeping_parse("search"), RTV_P2M_BK_SEARCH);
    ck_assert_int_eq(rtv_p2m_bookkeeping_parse("bogus"), -1);
    ck_assert_str_eq(rtv_p2m_class_name(RTV_P2M_FAIL_BLOCKED), "blocked");
    ck_assert_str_eq(rtv_p2m_class_name(RTV_P2M_FAIL_SOURCE_ALIASED), "source-aliased");
    ck_assert_str_eq(rtv_p2m_class_name(RTV_P2M_CLASS_COUNT), "?");
    ck_assert(rtv_p2m_class_failed(RTV_P2M_FAIL_SOURCE_ALIASED));
    ck_assert(rtv_p2m_class_failed(RTV_P2M_FAIL_BLOCKED));
    ck_assert(!rtv_p2m_class_failed(RTV_P2M_MOVED));
    ck_assert(!rtv_p2m_class_failed(RTV_P2M_TARGET_OWN));
    ck_assert_str_eq(rtv_p2m_op_name(RTV_P2M_OP_SAVE), "save");
}
END_TEST

/* ---- randomized properties -------------------------------------------- */

static struct machine *synth(uint64_t *rng)
{
    struct rtv_p2m_synth s = {
        .nr = 1 + rtv_p2m_rand(rng) % 1500,
        .identity_fraction = (double)(rtv_p2m_rand(rng) % 100) / 100.0,
        .cycle_fraction = (double)(rtv_p2m_rand(rng) % 100) / 100.0,
        .other_fraction = (double)(rtv_p2m_rand(rng) % 20) / 100.0,
        .not_ram_fraction = (double)(rtv_p2m_rand(rng) % 10) / 100.0,
        .hole_fraction = (double)(rtv_p2m_rand(rng) % 10) / 100.0,
        .max_cycle = 2 + (unsigned int)(rtv_p2m_rand(rng) % 30),
        .seed = rtv_p2m_rand(rng),
    };
    uint64_t nframes = rtv_p2m_synth_frames(s.nr), i;
    struct machine *mc = machine_new(nframes, 0, s.nr);
    struct rtv_p2m_model m;

    if ( s.identity_fraction + s.hole_fraction > 1.0 )
        s.identity_fraction = 1.0 - s.hole_fraction;
    /* Built sparse; the tests' machines are flat, a byte a frame. */
    ck_assert_int_eq(rtv_p2m_synth_build(&s, &m), 0);
    for ( i = 0; i < s.nr; i++ )
        mc->p2m[i] = rtv_p2m_model_entry(&m, i);
    for ( i = 0; i < nframes; i++ )
        mc->kind[i] = (uint8_t)rtv_p2m_model_kind(&m, i);
    rtv_p2m_model_release(&m);
    return mc;
}

START_TEST(random_properties)
{
    /* Fixed seed: a failure names the iteration and reproduces. */
    uint64_t rng = 0x5eed2026u;
    unsigned int iter;
    uint64_t moved = 0, cycles = 0, failed = 0;

    for ( iter = 0; iter < 150; iter++ )
    {
        struct machine *mc = synth(&rng);
        struct rtv_p2m_counts c = check_all_modes(mc);

        moved += c.remapped;
        cycles += c.cycles;
        failed += c.failed;
        machine_free(mc);
    }
    /* The generator must actually exercise every path. */
    ck_assert_uint_gt(moved, 1000);
    ck_assert_uint_gt(cycles, 100);
    ck_assert_uint_gt(failed, 100);
}
END_TEST

START_TEST(synth_is_deterministic)
{
    uint64_t a = 42, b = 42;
    struct machine *x = synth(&a), *y = synth(&b);

    ck_assert_uint_eq(x->nr, y->nr);
    ck_assert(memcmp(x->p2m, y->p2m, x->nr * sizeof(uint64_t)) == 0);
    ck_assert(memcmp(x->kind, y->kind, x->nframes) == 0);
    machine_free(x);
    machine_free(y);
}
END_TEST

START_TEST(model_refuses_bad_ops)
{
    /* The checker must be able to fail: a move onto a busy frame, a second
     * save while the scratch is busy, a move to a non-identity frame. */
    static const uint64_t map[] = { 1, 0, 9 };
    struct machine *mc = hand(16, 0, NELEM(map), map);
    struct rtv_p2m_model m = {
        .nframes = 16, .kind = packed_kinds(mc), .gfn_start = 0, .nr = 3, .p2m = mc->p2m,
    };
    struct rtv_p2m_op busy = { .gfn = 0, .from = 1, .to = 0, .kind = RTV_P2M_OP_MOVE };
    struct rtv_p2m_op save0 = { .gfn = 0, .from = 1, .to = RTV_P2M_SCRATCH, .kind = RTV_P2M_OP_SAVE };
    struct rtv_p2m_op save1 = { .gfn = 1, .from = 0, .to = RTV_P2M_SCRATCH, .kind = RTV_P2M_OP_SAVE };
    struct rtv_p2m_op wrong = { .gfn = 2, .from = 9, .to = 12, .kind = RTV_P2M_OP_MOVE };

    ck_assert_int_eq(rtv_p2m_model_apply(&m, &busy), -EINVAL);
    ck_assert_str_eq(m.error, "target frame is not free");
    ck_assert_int_eq(rtv_p2m_model_apply(&m, &save0), 0);
    ck_assert_int_eq(rtv_p2m_model_apply(&m, &save1), -EINVAL);
    ck_assert_int_eq(rtv_p2m_model_apply(&m, &wrong), -EINVAL);
    free(m.kind);
    machine_free(mc);
}
END_TEST

/* ---- continuations ---------------------------------------------------- */

/*
 * The hypervisor preempts a rebuild between two operations and, on the
 * continuation, plans afresh from the P2M as it then is (a page parked on
 * the scratch frame is just a page on some frame of the domain then).  So
 * a plan cut after any number of operations and re-planned until done must
 * end where one uninterrupted plan ends, with as many copies.
 */
struct slice {
    struct rtv_p2m_model *m;
    uint64_t budget;            /* operations this invocation may still apply */
};

static unsigned int slice_kind(void *ctx, uint64_t mfn)
{
    return rtv_p2m_model_kind(((struct slice *)ctx)->m, mfn);
}

static int slice_emit(void *ctx, const struct rtv_p2m_op *op)
{
    struct slice *s = ctx;

    if ( !s->budget )
        return 1;                       /* "preempted": come back later */
    s->budget--;
    return rtv_p2m_model_apply(s->m, op);
}

/* What Xen's scratch is between invocations: an ordinary frame of the
 * domain (the highest free one here), holding the parked page. */
static void park_on_frame(struct rtv_p2m_model *m)
{
    uint64_t i, f = m->nframes;

    if ( !m->scratch_busy )
        return;
    while ( f-- > 0 && rtv_p2m_model_kind(m, f) != RTV_FRAME_FREE )
        ;
    ck_assert_uint_lt(f, m->nframes);
    for ( i = 0; i < m->nr && m->p2m[i] != RTV_P2M_SCRATCH; i++ )
        ;
    ck_assert_uint_lt(i, m->nr);
    rtv_p2m_model_set_kind(m, f, RTV_FRAME_OWN);
    m->content[f] = m->scratch_content;
    m->p2m[i] = f;
    m->scratch_busy = 0;
}

/* One invocation on the run's model (either form, REFCOUNT bookkeeping)
 * with room for `budget` operations; returns rtv_p2m_plan()'s rc. */
static int plan_slice(struct run *r, uint64_t budget)
{
    struct slice sl = { .m = &r->m, .budget = budget };
    struct rtv_p2m_hooks hooks = { .frame_kind = slice_kind, .emit = slice_emit, .ctx = &sl };
    struct rtv_p2m_range range;
    struct rtv_p2m_sparse sp;
    size_t wsz;
    void *ws;
    int rc;

    rtv_p2m_model_range(&r->m, &range, &sp);
    wsz = rtv_p2m_workspace_size(&range, RTV_P2M_BK_REFCOUNT);
    ws = malloc(wsz + 1);
    ck_assert_ptr_nonnull(ws);
    rc = rtv_p2m_plan(&range, RTV_P2M_BK_REFCOUNT, ws, wsz, &hooks, r->klass, &r->c);
    free(ws);
    return rc;
}

/* Re-plan slices of `every` operations until a plan completes; returns the
 * invocations it took and the operations applied in *applied. */
static unsigned int plan_in_slices(uint64_t every, struct run *r, uint64_t *applied)
{
    unsigned int calls = 0;
    int rc;

    do {
        ck_assert_uint_lt(calls, 100000);
        calls++;
        rc = plan_slice(r, every);
        ck_assert_msg(rc == 0 || rc == 1, "slice plan rc %d, model: %s", rc,
                      r->m.error ? r->m.error : "-");
        park_on_frame(&r->m);
    } while ( rc == 1 );
    *applied = r->m.applied;
    return calls;
}

START_TEST(continuations_end_where_one_plan_ends)
{
    static const uint64_t every[] = { 1, 2, 3, 7, 32 };
    uint64_t rng = 0xc0ffee17u, preempted = 0;
    unsigned int iter, e;

    for ( iter = 0; iter < 40; iter++ )
    {
        struct machine *mc = synth(&rng);
        struct run whole;

        run_plan(mc, RTV_P2M_BK_REFCOUNT, &whole);
        ck_assert_int_eq(whole.rc, 0);
        for ( e = 0; e < NELEM(every); e++ )
        {
            struct run cut;
            uint64_t applied, i;
            unsigned int calls;

            run_setup(mc, 0, &cut);
            calls = plan_in_slices(every[e], &cut, &applied);
            if ( whole.c.copies > every[e] )
            {
                ck_assert_uint_gt(calls, 1);
                preempted++;
            }
            ck_assert_msg(memcmp(cut.m.p2m, whole.m.p2m, mc->nr * sizeof(uint64_t)) == 0,
                          "iteration %u, every %llu: the P2M differs from one plan's", iter,
                          (unsigned long long)every[e]);
            ck_assert_uint_eq(applied, whole.c.copies);
            /* Data: every page holds its own tag, wherever it is now. */
            for ( i = 0; i < mc->nr; i++ )
            {
                uint64_t f = cut.m.p2m[i];

                if ( f < mc->nframes && rtv_p2m_model_kind(&cut.m, f) == RTV_FRAME_OWN )
                    ck_assert_uint_eq(cut.m.content[f], rtv_p2m_model_tag(i));
            }
            run_free(&cut);
        }
        run_free(&whole);
        machine_free(mc);
    }
    ck_assert_uint_gt(preempted, 50);
}
END_TEST

START_TEST(a_preempted_plan_says_what_moved)
{
    /*
     * Cut short by its emit hook, a plan leaves each page's class as far as
     * it got: MOVED where it moved the page, TARGET_* where it had not yet.
     * The sparse form's refcount bookkeeping keeps that in its directory
     * and writes the classes at the end; the flat form writes them as it
     * goes.  Both must say the same, page by page.
     */
    static const uint64_t budget[] = { 1, 2, 5, 17, 64 };
    uint64_t rng = 0x5eedf00du, cut = 0;
    unsigned int iter, e;

    for ( iter = 0; iter < 30; iter++ )
    {
        struct machine *mc = synth(&rng);

        for ( e = 0; e < NELEM(budget); e++ )
        {
            struct run fl, sp;
            uint64_t i, slot = 0;
            int rf, rs;

            run_setup(mc, 0, &fl);
            run_setup(mc, 1, &sp);
            rf = plan_slice(&fl, budget[e]);
            rs = plan_slice(&sp, budget[e]);

            ck_assert_int_eq(rf, rs);
            ck_assert(rf == 0 || rf == 1);
            cut += rf == 1;
            ck_assert_uint_eq(fl.m.applied, sp.m.applied);
            ck_assert_uint_eq(fl.c.remapped, sp.c.remapped);
            ck_assert(memcmp(fl.c.by_class, sp.c.by_class, sizeof(fl.c.by_class)) == 0);
            for ( i = 0; i < mc->nr; i++ )
            {
                if ( !((sp.m.listed[i / 64] >> (i % 64)) & 1) )
                {
                    ck_assert_uint_eq(fl.klass[i], RTV_P2M_IDENTITY);
                    continue;
                }
                ck_assert_msg(fl.klass[i] == sp.klass[slot],
                              "iteration %u, budget %llu, gfn %llu: flat says %s, sparse %s",
                              iter, (unsigned long long)budget[e], (unsigned long long)i,
                              rtv_p2m_class_name(fl.klass[i]), rtv_p2m_class_name(sp.klass[slot]));
                slot++;
            }
            run_free(&fl);
            run_free(&sp);
        }
        machine_free(mc);
    }
    ck_assert_uint_gt(cut, 50);
}
END_TEST

START_TEST(sparse_index_checked)
{
    /* The planner trusts the index for every lookup, so it checks it. */
    static const uint64_t map[] = { 3, 1, 0, 2 };   /* gfn 1 identity */
    struct machine *mc = hand(8, 0, NELEM(map), map);
    struct rtv_p2m_model m = machine_model(mc);
    struct rtv_p2m_range range;
    struct rtv_p2m_sparse sp;
    struct rtv_p2m_hooks h = { .frame_kind = rtv_p2m_model_frame_kind };
    struct rtv_p2m_counts c;
    uint8_t klass[4];

    m.kind = packed_kinds(mc);
    h.ctx = &m;
    make_sparse(mc, &m);
    ck_assert_uint_eq(m.nlisted, 3);
    rtv_p2m_model_range(&m, &range, &sp);
    ck_assert_int_eq(rtv_p2m_query(&range, RTV_P2M_BK_SEARCH, NULL, 0, &h, klass, &c), 0);
    ck_assert_uint_eq(c.by_class[RTV_P2M_IDENTITY], 1);
    ck_assert_uint_eq(c.by_class[RTV_P2M_TARGET_OWN], 3);
    ck_assert_uint_eq(rtv_p2m_slot(&range, 1), RTV_P2M_NO_SLOT);
    ck_assert_uint_eq(rtv_p2m_slot(&range, 3), 2);
    sp.nlisted = 2;                                 /* count disagrees */
    ck_assert_int_eq(rtv_p2m_query(&range, RTV_P2M_BK_SEARCH, NULL, 0, &h, klass, &c), -EINVAL);
    sp.nlisted = 3;
    m.rank[0] = 1;                                  /* rank disagrees */
    ck_assert_int_eq(rtv_p2m_query(&range, RTV_P2M_BK_SEARCH, NULL, 0, &h, klass, &c), -EINVAL);
    m.rank[0] = 0;
    m.listed[0] |= 1ull << 5;                       /* a bit past the range */
    sp.nlisted = 4;
    ck_assert_int_eq(rtv_p2m_query(&range, RTV_P2M_BK_SEARCH, NULL, 0, &h, klass, &c), -EINVAL);
    range.p2m = mc->p2m;                            /* both forms at once */
    ck_assert_int_eq(rtv_p2m_query(&range, RTV_P2M_BK_SEARCH, NULL, 0, &h, klass, &c), -EINVAL);
    free(m.kind);
    free(m.listed);
    free(m.rank);
    free(m.mfn);
    machine_free(mc);
}
END_TEST

static Suite *p2m_plan_suite(void)
{
    Suite *s = suite_create("p2m_plan");
    TCase *hb = rtv_unit_case(s, "hand-built", NULL, NULL, 0);
    TCase *rnd = rtv_unit_case(s, "random", NULL, NULL, 120);

    RTV_UNIT_ADD(hb, already_identity, single_move, two_cycle, long_cycle,
                     several_cycles_one_scratch, chain, owned_by_others, not_ram, partial_range,
                     chain_into_cycle_order, aliased_target, aliased_source,
                     aliased_source_with_identity_page, bad_input, names, model_refuses_bad_ops,
                     sparse_index_checked);

    RTV_UNIT_ADD(rnd, random_properties, synth_is_deterministic,
                      continuations_end_where_one_plan_ends, a_preempted_plan_says_what_moved);
    return s;
}

RTV_UNIT_MAIN(p2m_plan_suite)
