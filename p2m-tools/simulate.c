/*
 * rtvirt-p2m simulate: the planner of common/p2m_plan.c on a synthetic
 * dom0-like P2M of any size, once per bookkeeping mode, next to a lower bound
 * computed here by a separate linear-time walk (so the table is a check, not
 * the planner agreeing with itself).
 *
 * Memory at 1 TiB of 4 KiB pages (268M pages, 402M frames): P2M 2 GiB,
 * frame kinds 384 MiB, classes 256 MiB, backmap 1 GiB, the generator's
 * shuffle 1.5 GiB (freed before planning), the bound's inverse map 1 GiB
 * (freed too); --verify adds content tags and a P2M copy (~4 GiB).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/p2m_plan.h"
#include "p2m_tools.h"

#define CMD "simulate"
#define PAGE_SHIFT 12

struct sim_opts {
    uint64_t nr;
    struct rtv_p2m_synth synth;
    int modes[RTV_P2M_BK_COUNT];
    uint64_t search_max;
    int json, verify;
};

struct mode_result {
    int ran;
    const char *skipped;
    double seconds;
    struct rtv_p2m_counts c;
    uint64_t hash;
    size_t ws_bytes;
    int verified;           /* -1 not asked, 0 failed, 1 passed */
    int rc;
};

struct bound {
    uint64_t movable, cycles, identity;
};

static void sim_help(void)
{
    printf("usage: rtvirt-p2m simulate (--pages N | --memory SIZE) [options]\n"
           "\n"
           "Builds a synthetic dom0-like P2M (gfns 0..N-1, frames 0..1.5N-1) and runs the\n"
           "identity planner on it with each bookkeeping mode, printing copies, cycles,\n"
           "scratch uses and time next to the lower bound (movable pages + cycles).\n"
           "\n"
           "  --pages N               pages of 4 KiB (1 .. %" PRIu64 ")\n"
           "  --memory SIZE           or memory size: 1G, 64G, 1T ...\n"
           "  --identity-fraction F   pages already identity (0..1, default 0.5)\n"
           "  --seed S                generator seed (default 1)\n"
           "  --cycle-fraction F      non-identity pages put in explicit cycles (default 0.1)\n"
           "  --max-cycle L           longest explicit cycle, 2.. (default 8)\n"
           "  --other-fraction F      free target frames given to Xen/others (default 0.01)\n"
           "  --not-ram-fraction F    free target frames made not-RAM (default 0.005)\n"
           "  --hole-fraction F       gfns that are not RAM (default 0)\n"
           "  --bookkeeping MODE      backmap, refcount, search or all (default all)\n"
           "  --search-max-pages N    skip the quadratic search mode above N pages\n"
           "                          (default 262144 = 1 GiB)\n"
           "  --verify                execute every plan on the model and check the result\n"
           "  --json                  one JSON object on stdout\n"
           "\n"
           "Exit status 0 when every mode ran at the lower bound with identical plans\n"
           "(and verified, with --verify); progress goes to stderr.\n",
           (uint64_t)RTV_P2M_MAX_PAGES * 2 / 3);
}

static int parse(int argc, char **argv, struct sim_opts *o)
{
    int i, have_size = 0;
    uint64_t v;

    memset(o, 0, sizeof(*o));
    o->synth.identity_fraction = 0.5;
    o->synth.cycle_fraction = 0.1;
    o->synth.other_fraction = 0.01;
    o->synth.not_ram_fraction = 0.005;
    o->synth.max_cycle = 8;
    o->synth.seed = 1;
    o->search_max = 262144;
    for ( i = 0; i < RTV_P2M_BK_COUNT; i++ )
        o->modes[i] = 1;

    for ( i = 1; i < argc; i++ )
    {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        double *frac = NULL;

        if ( !strcmp(a, "--help") || !strcmp(a, "-h") )
        {
            sim_help();
            exit(0);
        }
        if ( !strcmp(a, "--json") ) { o->json = 1; continue; }
        if ( !strcmp(a, "--verify") ) { o->verify = 1; continue; }
        if ( !val )
            return p2m_bad_option(CMD, a, "--pages, --memory, --identity-fraction, --seed, "
                                  "--cycle-fraction, --max-cycle, --other-fraction, "
                                  "--not-ram-fraction, --hole-fraction, --bookkeeping, "
                                  "--search-max-pages, --verify, --json, --help");
        i++;
        if ( !strcmp(a, "--pages") )
        {
            if ( p2m_arg_u64(CMD, a, val, &o->nr) )
                return P2M_EXIT_USAGE;
            have_size = 1;
        }
        else if ( !strcmp(a, "--memory") )
        {
            if ( p2m_arg_size(CMD, a, val, &v) )
                return P2M_EXIT_USAGE;
            o->nr = v >> PAGE_SHIFT;
            have_size = 1;
        }
        else if ( !strcmp(a, "--seed") )
        {
            if ( p2m_arg_u64(CMD, a, val, &o->synth.seed) )
                return P2M_EXIT_USAGE;
        }
        else if ( !strcmp(a, "--search-max-pages") )
        {
            if ( p2m_arg_u64(CMD, a, val, &o->search_max) )
                return P2M_EXIT_USAGE;
        }
        else if ( !strcmp(a, "--max-cycle") )
        {
            if ( p2m_arg_u64(CMD, a, val, &v) )
                return P2M_EXIT_USAGE;
            if ( v < 2 || v > 1000000 )
            {
                fprintf(stderr, "rtvirt-p2m %s: %s: '%s' is out of range (allowed: 2 to "
                        "1000000)\n", CMD, a, val);
                return P2M_EXIT_USAGE;
            }
            o->synth.max_cycle = (unsigned int)v;
        }
        else if ( !strcmp(a, "--bookkeeping") )
        {
            int bk, k;

            if ( !strcmp(val, "all") )
                for ( k = 0; k < RTV_P2M_BK_COUNT; k++ )
                    o->modes[k] = 1;
            else
            {
                if ( p2m_arg_bookkeeping(CMD, a, val, &bk) )
                    return P2M_EXIT_USAGE;
                for ( k = 0; k < RTV_P2M_BK_COUNT; k++ )
                    o->modes[k] = k == bk;
            }
        }
        else if ( !strcmp(a, "--identity-fraction") )
            frac = &o->synth.identity_fraction;
        else if ( !strcmp(a, "--cycle-fraction") )
            frac = &o->synth.cycle_fraction;
        else if ( !strcmp(a, "--other-fraction") )
            frac = &o->synth.other_fraction;
        else if ( !strcmp(a, "--not-ram-fraction") )
            frac = &o->synth.not_ram_fraction;
        else if ( !strcmp(a, "--hole-fraction") )
            frac = &o->synth.hole_fraction;
        else
            return p2m_bad_option(CMD, a, "see rtvirt-p2m simulate --help");
        if ( frac && p2m_arg_fraction(CMD, a, val, frac) )
            return P2M_EXIT_USAGE;
    }

    if ( !have_size )
    {
        fprintf(stderr, "rtvirt-p2m %s: --pages or --memory is required (see --help)\n", CMD);
        return P2M_EXIT_USAGE;
    }
    if ( o->nr == 0 || rtv_p2m_synth_frames(o->nr) > 0xffffffffull )
    {
        fprintf(stderr, "rtvirt-p2m %s: --pages: %" PRIu64 " is out of range (allowed: 1 to %"
                PRIu64 ", i.e. up to ~10 TiB of 4 KiB pages)\n", CMD, o->nr,
                (uint64_t)0xffffffffull * 2 / 3);
        return P2M_EXIT_USAGE;
    }
    if ( o->synth.identity_fraction + o->synth.hole_fraction > 1.0 ||
         o->synth.other_fraction + o->synth.not_ram_fraction > 1.0 )
    {
        fprintf(stderr, "rtvirt-p2m %s: --identity-fraction + --hole-fraction and "
                "--other-fraction + --not-ram-fraction must each be at most 1\n", CMD);
        return P2M_EXIT_USAGE;
    }
    return 0;
}

/* ---- the independent lower bound -------------------------------------- */

#define INV_NONE 0u
#define INV_MANY 0xffffffffu

enum { ST_UNKNOWN, ST_WALK, ST_YES, ST_NO, ST_SKIP };

/* Next page on "who holds my target frame": index, or -1 target free
 * (movable end), -2 cannot move. */
static int64_t succ(const struct rtv_p2m_model *m, const uint32_t *inv, uint64_t g)
{
    uint64_t f = m->p2m[g];

    if ( f >= m->nframes || m->kind[f] != RTV_FRAME_OWN || g >= m->nframes )
        return -2;
    switch ( m->kind[g] )
    {
    case RTV_FRAME_FREE:
        return -1;
    case RTV_FRAME_OWN:
        return inv[g] == INV_NONE || inv[g] == INV_MANY ? -2 : (int64_t)inv[g] - 1;
    default:
        return -2;
    }
}

static int compute_bound(const struct rtv_p2m_model *m, struct bound *b)
{
    uint64_t nr = m->nr, g;
    uint32_t *inv = calloc(nr, sizeof(uint32_t));
    uint8_t *st = calloc(nr, 1);
    struct p2m_progress pr;

    memset(b, 0, sizeof(*b));
    if ( !inv || !st )
    {
        free(inv);
        free(st);
        return -1;
    }
    p2m_progress_init(&pr, "rtvirt-p2m simulate: lower bound");
    for ( g = 0; g < nr; g++ )
    {
        uint64_t f = m->p2m[g];

        if ( f == RTV_P2M_INVALID_MFN || f == g )
        {
            st[g] = ST_SKIP;
            b->identity += f == g;
        }
        if ( f < nr )
            inv[f] = inv[f] == INV_NONE ? (uint32_t)(g + 1) : INV_MANY;
    }
    for ( g = 0; g < nr; g++ )
    {
        uint64_t x = g;
        int64_t s = 0;
        uint8_t res;

        if ( (g & 0xfffff) == 0 )
            p2m_progress_update(&pr, g, nr);
        if ( st[g] != ST_UNKNOWN )
            continue;
        while ( st[x] == ST_UNKNOWN )
        {
            st[x] = ST_WALK;
            s = succ(m, inv, x);
            if ( s < 0 )
                break;
            x = (uint64_t)s;
        }
        if ( s < 0 )
            res = s == -1 ? ST_YES : ST_NO;
        else if ( st[x] == ST_WALK )
        {
            res = ST_YES;       /* came back onto this walk: a cycle */
            b->cycles++;
        }
        else
            res = st[x] == ST_YES ? ST_YES : ST_NO;
        for ( x = g; st[x] == ST_WALK; )
        {
            st[x] = res;
            s = succ(m, inv, x);
            if ( s < 0 )
                break;
            x = (uint64_t)s;
        }
    }
    for ( g = 0; g < nr; g++ )
        b->movable += st[g] == ST_YES;
    p2m_progress_done(&pr);
    free(inv);
    free(st);
    return 0;
}

/* ---- running one mode ------------------------------------------------- */

struct run_ctx {
    struct rtv_p2m_model *m;    /* applied to when verifying, else NULL */
    struct rtv_p2m_model *oracle;
    uint64_t hash;
    struct p2m_progress pr;
    unsigned int phase;
    char label[64];
    const char *mode;
};

static unsigned int sim_kind(void *ctx, uint64_t mfn)
{
    struct run_ctx *r = ctx;

    return rtv_p2m_model_frame_kind(r->oracle, mfn);
}

/* FNV-1a over every operation: equal hashes, equal plans. */
static int sim_emit(void *ctx, const struct rtv_p2m_op *op)
{
    struct run_ctx *r = ctx;
    uint64_t w[4] = { op->kind, op->gfn, op->from, op->to };
    const unsigned char *p = (const unsigned char *)w;
    size_t i;

    for ( i = 0; i < sizeof(w); i++ )
        r->hash = (r->hash ^ p[i]) * 0x100000001b3ull;
    return r->m ? rtv_p2m_model_apply(r->m, op) : 0;
}

static void sim_progress(void *ctx, unsigned int phase, uint64_t done, uint64_t total)
{
    static const char *const names[] = { "classify", "chains", "cycles" };
    struct run_ctx *r = ctx;

    if ( phase != r->phase || !r->pr.label )
    {
        p2m_progress_done(&r->pr);
        r->phase = phase;
        snprintf(r->label, sizeof(r->label), "rtvirt-p2m simulate: %s %s", r->mode,
                 phase < 3 ? names[phase] : "?");
        p2m_progress_init(&r->pr, r->label);
    }
    p2m_progress_update(&r->pr, done, total);
}

static int run_mode(const struct sim_opts *o, struct rtv_p2m_model *base, unsigned int bk,
                    uint8_t *klass, struct mode_result *res)
{
    struct rtv_p2m_model work;
    struct run_ctx rc = { .hash = 0xcbf29ce484222325ull, .mode = rtv_p2m_bookkeeping_name(bk) };
    struct rtv_p2m_hooks hooks = {
        .frame_kind = sim_kind, .emit = sim_emit, .progress = sim_progress, .ctx = &rc,
    };
    struct rtv_p2m_range range = { 0, base->nr, base->p2m };
    void *ws = NULL;
    double t0;

    memset(res, 0, sizeof(*res));
    res->verified = -1;
    rc.oracle = base;
    rc.phase = ~0u;
    res->ws_bytes = rtv_p2m_workspace_size(base->nr, bk);
    if ( bk == RTV_P2M_BK_SEARCH && base->nr > o->search_max )
    {
        res->skipped = "quadratic: a P2M scan per lookup (raise --search-max-pages to run it)";
        return 0;
    }
    if ( res->ws_bytes && !(ws = malloc(res->ws_bytes)) )
    {
        fprintf(stderr, "rtvirt-p2m %s: out of memory for the %s workspace (%zu bytes)\n",
                CMD, rc.mode, res->ws_bytes);
        return -1;
    }
    if ( o->verify )
    {
        /* Plan against a private copy the plan is applied to, so the next
         * mode starts from the same machine. */
        work = *base;
        work.kind = malloc(base->nframes);
        work.content = malloc(base->nframes * sizeof(uint32_t));
        work.p2m = malloc(base->nr * sizeof(uint64_t));
        if ( !work.kind || !work.content || !work.p2m )
        {
            fprintf(stderr, "rtvirt-p2m %s: out of memory for --verify\n", CMD);
            free(work.kind);
            free(work.content);
            free(work.p2m);
            free(ws);
            return -1;
        }
        memcpy(work.kind, base->kind, base->nframes);
        memcpy(work.p2m, base->p2m, base->nr * sizeof(uint64_t));
        rtv_p2m_model_fill(&work);
        rc.m = &work;
        rc.oracle = &work;
        range.p2m = work.p2m;
    }

    t0 = p2m_now();
    res->rc = rtv_p2m_plan(&range, bk, ws, res->ws_bytes, &hooks, klass, &res->c);
    res->seconds = p2m_now() - t0;
    p2m_progress_done(&rc.pr);
    res->hash = rc.hash;
    res->ran = 1;
    if ( o->verify )
    {
        uint64_t bad = 0;

        res->verified = res->rc == 0 &&
                        rtv_p2m_model_verify(&work, base->p2m, klass, &bad) == 0;
        if ( !res->verified )
            fprintf(stderr, "rtvirt-p2m %s: %s: verification failed at gfn %" PRIu64 " (%s)\n",
                    CMD, rc.mode, work.error ? work.error_gfn : bad,
                    work.error ? work.error : "wrong frame or data after the plan");
        free(work.kind);
        free(work.content);
        free(work.p2m);
    }
    free(ws);
    return 0;
}

/* ---- output ----------------------------------------------------------- */

static void print_text(const struct sim_opts *o, const struct bound *b, double synth_s,
                       double bound_s, const struct mode_result *r, int identical)
{
    unsigned int bk;

    printf("pages %" PRIu64 " (%.2f GiB), identity fraction %.3f, seed %" PRIu64
           ", generated in %.1f s\n", o->nr, (double)o->nr / 262144.0,
           o->synth.identity_fraction, o->synth.seed, synth_s);
    printf("lower bound: %" PRIu64 " copies = %" PRIu64 " movable non-identity pages + %"
           PRIu64 " cycles (%" PRIu64 " already identity; computed in %.1f s)\n",
           b->movable + b->cycles, b->movable, b->cycles, b->identity, bound_s);
    printf("%-9s %10s %12s %10s %8s %12s %11s %7s %9s %s\n", "mode", "time_s", "copies",
           "cycles", "scratch", "failed", "workspace", "bound", "verified", "plan");
    for ( bk = 0; bk < RTV_P2M_BK_COUNT; bk++ )
    {
        if ( !o->modes[bk] )
            continue;
        if ( !r[bk].ran )
        {
            printf("%-9s skipped: %s\n", rtv_p2m_bookkeeping_name(bk),
                   r[bk].skipped ? r[bk].skipped : "error");
            continue;
        }
        printf("%-9s %10.3f %12" PRIu64 " %10" PRIu64 " %8" PRIu64 " %12" PRIu64
               " %8.1fMiB %7s %9s %016" PRIx64 "\n",
               rtv_p2m_bookkeeping_name(bk), r[bk].seconds, r[bk].c.copies, r[bk].c.cycles,
               r[bk].c.scratch_uses, r[bk].c.failed, (double)r[bk].ws_bytes / 1048576.0,
               r[bk].c.copies == b->movable + b->cycles ? "=" : "MISSED",
               r[bk].verified < 0 ? "-" : r[bk].verified ? "yes" : "NO", r[bk].hash);
    }
    printf("plans identical across modes: %s\n", identical ? "yes" : "NO");
}

static void print_json(const struct sim_opts *o, const struct bound *b, double synth_s,
                       double bound_s, const struct mode_result *r, int identical)
{
    unsigned int bk, k;
    const char *sep = "";

    printf("{\"pages\":%" PRIu64 ",\"memory_bytes\":%" PRIu64 ",\"identity_fraction\":%g,"
           "\"seed\":%" PRIu64 ",\"generate_seconds\":%.3f,"
           "\"lower_bound\":{\"copies\":%" PRIu64 ",\"movable\":%" PRIu64 ",\"cycles\":%" PRIu64
           ",\"identity\":%" PRIu64 ",\"seconds\":%.3f},\"modes\":[",
           o->nr, o->nr << PAGE_SHIFT, o->synth.identity_fraction, o->synth.seed, synth_s,
           b->movable + b->cycles, b->movable, b->cycles, b->identity, bound_s);
    for ( bk = 0; bk < RTV_P2M_BK_COUNT; bk++ )
    {
        if ( !o->modes[bk] )
            continue;
        printf("%s{\"bookkeeping\":\"%s\"", sep, rtv_p2m_bookkeeping_name(bk));
        sep = ",";
        if ( !r[bk].ran )
        {
            printf(",\"skipped\":\"%s\"}", r[bk].skipped ? r[bk].skipped : "error");
            continue;
        }
        printf(",\"seconds\":%.3f,\"copies\":%" PRIu64 ",\"cycles\":%" PRIu64
               ",\"scratch_uses\":%" PRIu64 ",\"remapped\":%" PRIu64 ",\"chains\":%" PRIu64
               ",\"longest_cycle\":%" PRIu64 ",\"lookups\":%" PRIu64 ",\"failed\":%" PRIu64
               ",\"workspace_bytes\":%zu,\"at_lower_bound\":%s,\"plan_hash\":\"%016" PRIx64 "\"",
               r[bk].seconds, r[bk].c.copies, r[bk].c.cycles, r[bk].c.scratch_uses,
               r[bk].c.remapped, r[bk].c.chains, r[bk].c.longest_cycle, r[bk].c.lookups,
               r[bk].c.failed, r[bk].ws_bytes,
               r[bk].c.copies == b->movable + b->cycles ? "true" : "false", r[bk].hash);
        printf(",\"verified\":%s,\"classes\":{",
               r[bk].verified < 0 ? "null" : r[bk].verified ? "true" : "false");
        for ( k = 0; k < RTV_P2M_CLASS_COUNT; k++ )
            printf("%s\"%s\":%" PRIu64, k ? "," : "", rtv_p2m_class_name(k), r[bk].c.by_class[k]);
        printf("}}");
    }
    printf("],\"plans_identical\":%s}\n", identical ? "true" : "false");
}

/* ---- the command ------------------------------------------------------ */

static void synth_progress(void *ctx, uint64_t done, uint64_t total)
{
    p2m_progress_update(ctx, done, total);
}

int cmd_simulate(int argc, char **argv)
{
    struct sim_opts o;
    struct rtv_p2m_model m = { 0 };
    struct mode_result res[RTV_P2M_BK_COUNT];
    struct bound b;
    struct p2m_progress pr;
    uint32_t *scratch;
    uint8_t *klass;
    uint64_t nframes;
    double t0, synth_s, bound_s;
    int rc, identical = 1, ok = 1, first = -1;
    unsigned int bk;

    rc = parse(argc, argv, &o);
    if ( rc )
        return rc;
    nframes = rtv_p2m_synth_frames(o.nr);
    m.kind = malloc(nframes);
    m.p2m = malloc(o.nr * sizeof(uint64_t));
    scratch = malloc(nframes * sizeof(uint32_t));
    klass = malloc(o.nr);
    if ( !m.kind || !m.p2m || !scratch || !klass )
    {
        fprintf(stderr, "rtvirt-p2m %s: out of memory for %" PRIu64 " pages\n", CMD, o.nr);
        return P2M_EXIT_FAIL;
    }

    o.synth.nr = o.nr;
    p2m_progress_init(&pr, "rtvirt-p2m simulate: generating");
    o.synth.progress = synth_progress;
    o.synth.ctx = &pr;
    t0 = p2m_now();
    rc = rtv_p2m_synth_build(&o.synth, &m, scratch);
    synth_s = p2m_now() - t0;
    p2m_progress_done(&pr);
    free(scratch);
    if ( rc )
    {
        fprintf(stderr, "rtvirt-p2m %s: generator refused the parameters (%d)\n", CMD, rc);
        return P2M_EXIT_FAIL;
    }

    t0 = p2m_now();
    if ( compute_bound(&m, &b) )
    {
        fprintf(stderr, "rtvirt-p2m %s: out of memory for the lower bound\n", CMD);
        return P2M_EXIT_FAIL;
    }
    bound_s = p2m_now() - t0;

    for ( bk = 0; bk < RTV_P2M_BK_COUNT; bk++ )
    {
        memset(&res[bk], 0, sizeof(res[bk]));
        if ( !o.modes[bk] )
            continue;
        if ( run_mode(&o, &m, bk, klass, &res[bk]) )
            return P2M_EXIT_FAIL;
        if ( !res[bk].ran )
            continue;
        if ( res[bk].rc )
        {
            fprintf(stderr, "rtvirt-p2m %s: %s: planner failed (%d)\n", CMD,
                    rtv_p2m_bookkeeping_name(bk), res[bk].rc);
            ok = 0;
        }
        if ( res[bk].c.copies != b.movable + b.cycles || res[bk].verified == 0 )
            ok = 0;
        if ( first < 0 )
            first = (int)bk;
        else if ( res[bk].hash != res[first].hash ||
                  res[bk].c.copies != res[first].c.copies )
            identical = 0;
    }
    if ( o.json )
        print_json(&o, &b, synth_s, bound_s, res, identical);
    else
        print_text(&o, &b, synth_s, bound_s, res, identical);
    free(m.kind);
    free(m.p2m);
    free(klass);
    return ok && identical ? 0 : P2M_EXIT_FAIL;
}
