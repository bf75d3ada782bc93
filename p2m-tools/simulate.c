/*
 * rtvirt-p2m simulate: the planner of common/p2m_plan.c on a synthetic
 * dom0-like P2M of any size, once per bookkeeping mode, next to a lower bound
 * computed here by a separate linear-time walk (so the table is a check, not
 * the planner agreeing with itself).
 *
 * The machine is kept in the planner's sparse form: memory in proportion to
 * the pages that are not identity.  At 1 TiB of 4 KiB pages, half identity
 * (268M pages, 134M listed, 402M frames): frame kinds 96 MiB (2 bits a
 * frame), the index 48 MiB (1 bit a page and a 32-bit rank every 64),
 * listed frames 512 MiB (4 bytes a listed page); the planner adds classes
 * (1 byte a listed page) and its bookkeeping (refcount's directory, 4
 * bits a page of the range: 128 MiB; backmap 4 bytes a listed page); the
 * bound takes 1 byte a listed page and 2 bits a frame of the range, freed
 * before planning.
 * --verify adds content tags and a copy of the machine.  The big arrays
 * ask for transparent huge pages (rtv_p2m_big_alloc()).
 *
 * The resident memory of the planning itself is measured, not estimated:
 * the kernel's peak-RSS mark is reset just before rtv_p2m_plan() (Linux
 * /proc/self/clear_refs "5") and read just after (VmHWM).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    /* filled in as it runs, for the output */
    uint64_t nlisted, peak_rss;
};

struct mode_result {
    int ran;
    const char *skipped;
    double seconds;
    double cpu_seconds;     /* CPU time of the planning: what a shared, loaded
                             * host's wall clock hides */
    double phase_cpu[3];    /* of it: classify, chains, cycles */
    double alloc_cpu_seconds;   /* faulting in the classes and workspace, before */
    struct rtv_p2m_counts c;
    uint64_t hash;
    size_t ws_bytes;
    uint64_t planner_bytes;     /* the sparse P2M, classes and workspace */
    uint64_t plan_rss;          /* peak resident bytes while planning (0: unknown) */
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
           "Builds a synthetic dom0-like P2M (gfns 0..N-1, frames 0..1.5N-1) in the\n"
           "planner's sparse form and runs the identity planner on it with each\n"
           "bookkeeping mode, printing copies, cycles, scratch uses, time and the\n"
           "resident memory of the planning next to the lower bound (movable pages +\n"
           "cycles).\n"
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
    if ( o->nr == 0 || rtv_p2m_synth_frames(o->nr) >= 0xfffffffeull )
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

enum { ST_UNSEEN, ST_YES, ST_NO };

/*
 * Walked the other way from the planner: from each page whose target frame
 * is free, back through "the page that wants the frame I hold" (gfn ==
 * that frame), counting every frame's holders across the whole range first
 * instead of using the planner's bookkeeping.  What no such walk reaches is
 * movable only on a cycle, found by walking from it until it comes back.
 * Memory: 2 bits a frame of the range, 1 byte a listed page.
 */
struct bound_walk {
    const struct rtv_p2m_model *m;
    struct rtv_p2m_range r;
    struct rtv_p2m_sparse sp;
    uint8_t *holders;           /* 2 bits a frame below nr: 0, 1, 2 = more */
    uint8_t *st;                /* per slot */
};

static unsigned int holders(const struct bound_walk *w, uint64_t f)
{
    return (w->holders[f / 4] >> (2 * (f % 4))) & 3u;
}

/* Can page `slot` (gfn g) leave its frame at all: RAM, not identity, its
 * frame the domain's own. */
static int can_leave(const struct bound_walk *w, uint64_t slot, uint64_t g, uint64_t *f)
{
    uint32_t v = w->m->mfn[slot];

    *f = v;
    return v != RTV_P2M_SPARSE_HOLE && v != g &&
           rtv_p2m_model_kind(w->m, v) == RTV_FRAME_OWN;
}

/* The page that waits for the frame `f` once its holder left: gfn f, if it
 * can leave and nobody else holds f.  Returns its slot or RTV_P2M_NO_SLOT. */
static uint64_t waiter(const struct bound_walk *w, uint64_t f)
{
    uint64_t s = rtv_p2m_slot(&w->r, f), ff;

    if ( s == RTV_P2M_NO_SLOT || holders(w, f) != 1 || !can_leave(w, s, f, &ff) )
        return RTV_P2M_NO_SLOT;
    return s;
}

static int compute_bound(const struct rtv_p2m_model *m, struct bound *b)
{
    struct bound_walk w = { .m = m };
    uint64_t nr = m->nr, i, slot, f;
    struct p2m_progress pr;

    memset(b, 0, sizeof(*b));
    rtv_p2m_model_range(m, &w.r, &w.sp);
    w.holders = rtv_p2m_big_alloc((nr + 3) / 4, 1);
    w.st = rtv_p2m_big_alloc(m->nlisted ? m->nlisted : 1, 1);
    if ( !w.holders || !w.st )
    {
        free(w.holders);
        free(w.st);
        return -1;
    }
    p2m_progress_init(&pr, "rtvirt-p2m simulate: lower bound");
    b->identity = nr - m->nlisted;
    for ( slot = 0; slot < m->nlisted; slot++ )
    {
        uint32_t v = m->mfn[slot];

        if ( v < nr && holders(&w, v) < 2 )
            w.holders[v / 4] = (uint8_t)(w.holders[v / 4] + (1u << (2 * (v % 4))));
    }

    /* Back from every free end. */
    for ( i = 0, slot = 0; i < nr; i++ )
    {
        uint64_t s;

        if ( (i & 0xfffff) == 0 )
            p2m_progress_update(&pr, i, 2 * nr);
        if ( !((m->listed[i / 64] >> (i % 64)) & 1) )
            continue;
        s = slot++;
        if ( m->mfn[s] == i )
            b->identity++;
        if ( !can_leave(&w, s, i, &f) || rtv_p2m_model_kind(m, i) != RTV_FRAME_FREE )
            continue;
        for ( ; s != RTV_P2M_NO_SLOT && w.st[s] == ST_UNSEEN; s = waiter(&w, f) )
        {
            w.st[s] = ST_YES;
            b->movable++;
            f = m->mfn[s];
        }
    }
    /* The rest: on a cycle, or not movable. */
    for ( i = 0, slot = 0; i < nr; i++ )
    {
        uint64_t s, x, len = 0;

        if ( (i & 0xfffff) == 0 )
            p2m_progress_update(&pr, nr + i, 2 * nr);
        if ( !((m->listed[i / 64] >> (i % 64)) & 1) )
            continue;
        s = slot++;
        if ( w.st[s] != ST_UNSEEN )
            continue;
        if ( !can_leave(&w, s, i, &f) || rtv_p2m_model_kind(m, i) != RTV_FRAME_OWN ||
             holders(&w, i) != 1 )
        {
            w.st[s] = ST_NO;
            continue;
        }
        /* Walk while pages are new; a cycle comes back to s. */
        for ( x = s; x != RTV_P2M_NO_SLOT && w.st[x] == ST_UNSEEN; x = waiter(&w, f) )
        {
            w.st[x] = ST_NO;            /* until proven on the cycle */
            f = m->mfn[x];
            len++;
        }
        if ( x != s )
            continue;
        b->cycles++;
        b->movable += len;
        for ( x = s; len--; x = waiter(&w, m->mfn[x]) )
            w.st[x] = ST_YES;
    }
    p2m_progress_done(&pr);
    free(w.holders);
    free(w.st);
    return 0;
}

/* ---- running one mode ------------------------------------------------- */

static double cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


struct run_ctx {
    struct rtv_p2m_model *m;    /* applied to when verifying, else NULL */
    struct rtv_p2m_model *oracle;
    uint64_t hash;
    struct p2m_progress pr;
    unsigned int phase;
    double phase_start;
    double phase_cpu[3];    /* CPU seconds of classify, chains, cycles */
    char label[64];
    const char *mode;
};

static unsigned int sim_kind(void *ctx, uint64_t mfn)
{
    struct run_ctx *r = ctx;

    return rtv_p2m_model_kind(r->oracle, mfn);
}

static void sim_prefetch(void *ctx, uint64_t mfn)
{
    struct run_ctx *r = ctx;

    if ( mfn < r->oracle->nframes )
        __builtin_prefetch(&r->oracle->kind[mfn / 4]);
}

/* FNV-1a over every operation's four words (a word at a time: the hash is
 * inside the timed planning): equal hashes, equal plans. */
static int sim_emit(void *ctx, const struct rtv_p2m_op *op)
{
    struct run_ctx *r = ctx;

    r->hash = (r->hash ^ op->kind) * 0x100000001b3ull;
    r->hash = (r->hash ^ op->gfn) * 0x100000001b3ull;
    r->hash = (r->hash ^ op->from) * 0x100000001b3ull;
    r->hash = (r->hash ^ op->to) * 0x100000001b3ull;
    return r->m ? rtv_p2m_model_apply(r->m, op) : 0;
}

static void sim_progress(void *ctx, unsigned int phase, uint64_t done, uint64_t total)
{
    static const char *const names[] = { "classify", "chains", "cycles" };
    struct run_ctx *r = ctx;

    if ( phase != r->phase || !r->pr.label )
    {
        double now = cpu_now();

        /* Before the first report: building the bookkeeping, classify's. */
        r->phase_cpu[r->phase < 3 ? r->phase : 0] += now - r->phase_start;
        r->phase_start = now;
        p2m_progress_done(&r->pr);
        r->phase = phase;
        snprintf(r->label, sizeof(r->label), "rtvirt-p2m simulate: %s %s", r->mode,
                 phase < 3 ? names[phase] : "?");
        p2m_progress_init(&r->pr, r->label);
    }
    p2m_progress_update(&r->pr, done, total);
}

/*
 * Linux: the peak-RSS mark (VmHWM) read back and reset (clear_refs 5), so
 * the planning's own peak is measured; the run's peak is the largest mark
 * seen across the resets (getrusage() would report the reset one).  0
 * where the kernel has neither.
 */
static uint64_t run_peak_rss;

static uint64_t rss_peak(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[128];
    unsigned long long kb = 0;

    if ( !f )
        return 0;
    while ( fgets(line, sizeof(line), f) )
        if ( sscanf(line, "VmHWM: %llu kB", &kb) == 1 )
            break;
    fclose(f);
    if ( (uint64_t)kb * 1024 > run_peak_rss )
        run_peak_rss = (uint64_t)kb * 1024;
    return (uint64_t)kb * 1024;
}

static void rss_peak_reset(void)
{
    FILE *f;

    rss_peak();
    f = fopen("/proc/self/clear_refs", "w");
    if ( f )
    {
        fputs("5", f);
        fclose(f);
    }
}

/* A private copy of the machine a plan is applied to, with content tags. */
static int model_copy(const struct rtv_p2m_model *base, struct rtv_p2m_model *work)
{
    size_t kb = rtv_p2m_model_kind_bytes(base->nframes);
    uint64_t words = rtv_p2m_sparse_words(base->nr), nl = base->nlisted ? base->nlisted : 1;

    *work = *base;
    work->kind = rtv_p2m_big_alloc(kb, 0);
    work->listed = rtv_p2m_big_alloc(words * sizeof(uint64_t), 0);
    work->rank = rtv_p2m_big_alloc(rtv_p2m_sparse_rank_entries(base->nr) * sizeof(uint32_t), 0);
    work->mfn = rtv_p2m_big_alloc(nl * sizeof(uint32_t), 0);
    work->content = rtv_p2m_big_alloc(base->nframes * sizeof(uint32_t), 0);
    if ( !work->kind || !work->listed || !work->rank || !work->mfn || !work->content )
    {
        rtv_p2m_model_release(work);
        return -1;
    }
    memcpy(work->kind, base->kind, kb);
    memcpy(work->listed, base->listed, words * sizeof(uint64_t));
    memcpy(work->rank, base->rank, rtv_p2m_sparse_rank_entries(base->nr) * sizeof(uint32_t));
    memcpy(work->mfn, base->mfn, nl * sizeof(uint32_t));
    rtv_p2m_model_fill(work);
    return 0;
}

static int run_mode(const struct sim_opts *o, struct rtv_p2m_model *base, unsigned int bk,
                    struct mode_result *res)
{
    struct rtv_p2m_model work;
    struct run_ctx rc = { .hash = 0xcbf29ce484222325ull, .mode = rtv_p2m_bookkeeping_name(bk) };
    struct rtv_p2m_hooks hooks = {
        .frame_kind = sim_kind, .emit = sim_emit, .prefetch = sim_prefetch,
        .progress = sim_progress, .ctx = &rc,
    };
    struct rtv_p2m_range range;
    struct rtv_p2m_sparse sp;
    uint64_t slots = base->nlisted;
    uint8_t *klass;
    void *ws = NULL;
    double t0, c0;

    memset(res, 0, sizeof(*res));
    res->verified = -1;
    rc.oracle = base;
    rc.phase = ~0u;
    rtv_p2m_model_range(base, &range, &sp);
    res->ws_bytes = rtv_p2m_workspace_size(&range, bk);
    if ( bk == RTV_P2M_BK_SEARCH && base->nr > o->search_max )
    {
        res->skipped = "quadratic: a P2M scan per lookup (raise --search-max-pages to run it)";
        return 0;
    }
    if ( o->verify )
    {
        /* Plan against a private copy the plan is applied to, so the next
         * mode starts from the same machine. */
        if ( model_copy(base, &work) )
        {
            fprintf(stderr, "rtvirt-p2m %s: out of memory for --verify\n", CMD);
            return -1;
        }
        rc.m = &work;
        rc.oracle = &work;
    }
    rtv_p2m_model_range(rc.oracle, &range, &sp);

    /* Everything the planning holds, counted from the time it starts: the
     * classes and workspace it is given (touched only by it). */
    rss_peak_reset();
    klass = rtv_p2m_big_alloc(slots, 0);
    if ( !klass || (res->ws_bytes && !(ws = rtv_p2m_big_alloc(res->ws_bytes, 0))) )
    {
        fprintf(stderr, "rtvirt-p2m %s: out of memory for the %s workspace (%zu bytes)\n",
                CMD, rc.mode, res->ws_bytes);
        free(klass);
        if ( o->verify )
            rtv_p2m_model_release(&work);
        return -1;
    }
    /* Fault the planner's buffers in before the clock starts: the kernel
     * zeroes a fresh page at its first touch, which is the allocation's
     * cost, not the planning's, and in a VM a dear one (at 1 TiB, 256 MiB:
     * 1-2 s of system time, and the user time of the first touches after).
     * Timed apart (alloc_cpu_seconds); still counted in the resident memory,
     * whose mark was reset before the allocation. */
    c0 = cpu_now();
    memset(klass, 0, slots);
    if ( ws )
        memset(ws, 0, res->ws_bytes);
    res->alloc_cpu_seconds = cpu_now() - c0;
    c0 = cpu_now();
    rc.phase_start = c0;
    t0 = p2m_now();
    res->rc = rtv_p2m_plan(&range, bk, ws, res->ws_bytes, &hooks, klass, &res->c);
    res->seconds = p2m_now() - t0;
    res->cpu_seconds = cpu_now() - c0;
    if ( rc.phase < 3 )
        rc.phase_cpu[rc.phase] += cpu_now() - rc.phase_start;
    memcpy(res->phase_cpu, rc.phase_cpu, sizeof(res->phase_cpu));
    res->plan_rss = rss_peak();
    res->planner_bytes = rtv_p2m_sparse_words(base->nr) * sizeof(uint64_t) +
                         rtv_p2m_sparse_rank_entries(base->nr) * sizeof(uint32_t) +
                         slots * sizeof(uint32_t) + slots + res->ws_bytes;
    p2m_progress_done(&rc.pr);
    res->hash = rc.hash;
    res->ran = 1;
    if ( o->verify )
    {
        uint64_t bad = 0;

        res->verified = res->rc == 0 &&
                        rtv_p2m_model_verify(&work, base, klass, &bad) == 0;
        if ( !res->verified )
            fprintf(stderr, "rtvirt-p2m %s: %s: verification failed at gfn %" PRIu64 " (%s)\n",
                    CMD, rc.mode, work.error ? work.error_gfn : bad,
                    work.error ? work.error : "wrong frame or data after the plan");
        rtv_p2m_model_release(&work);
    }
    free(klass);
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
    printf("%" PRIu64 " pages listed (not identity); process peak RSS (whole run) %.0f MiB\n",
           o->nlisted, (double)o->peak_rss / 1048576.0);
    printf("%-9s %10s %8s %12s %10s %8s %12s %11s %11s %11s %7s %9s %s\n", "mode", "time_s",
           "cpu_s", "copies", "cycles", "scratch", "failed", "workspace", "planner", "plan_rss",
           "bound", "verified", "plan");
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
        printf("%-9s %10.3f %8.3f %12" PRIu64 " %10" PRIu64 " %8" PRIu64 " %12" PRIu64
               " %8.1fMiB %8.1fMiB %8.1fMiB %7s %9s %016" PRIx64 "\n",
               rtv_p2m_bookkeeping_name(bk), r[bk].seconds, r[bk].cpu_seconds, r[bk].c.copies, r[bk].c.cycles,
               r[bk].c.scratch_uses, r[bk].c.failed, (double)r[bk].ws_bytes / 1048576.0,
               (double)r[bk].planner_bytes / 1048576.0, (double)r[bk].plan_rss / 1048576.0,
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
           "\"seed\":%" PRIu64 ",\"generate_seconds\":%.3f,\"listed\":%" PRIu64
           ",\"peak_rss_bytes\":%" PRIu64 ","
           "\"lower_bound\":{\"copies\":%" PRIu64 ",\"movable\":%" PRIu64 ",\"cycles\":%" PRIu64
           ",\"identity\":%" PRIu64 ",\"seconds\":%.3f},\"modes\":[",
           o->nr, o->nr << PAGE_SHIFT, o->synth.identity_fraction, o->synth.seed, synth_s,
           o->nlisted, o->peak_rss, b->movable + b->cycles, b->movable, b->cycles, b->identity, bound_s);
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
        printf(",\"seconds\":%.3f,\"cpu_seconds\":%.3f,\"copies\":%" PRIu64 ",\"cycles\":%" PRIu64
               ",\"scratch_uses\":%" PRIu64 ",\"remapped\":%" PRIu64 ",\"chains\":%" PRIu64
               ",\"longest_cycle\":%" PRIu64 ",\"lookups\":%" PRIu64 ",\"failed\":%" PRIu64
               ",\"workspace_bytes\":%zu,\"planner_bytes\":%" PRIu64 ",\"plan_rss_bytes\":%"
               PRIu64 ",\"at_lower_bound\":%s,\"plan_hash\":\"%016" PRIx64 "\"",
               r[bk].seconds, r[bk].cpu_seconds, r[bk].c.copies, r[bk].c.cycles,
               r[bk].c.scratch_uses,
               r[bk].c.remapped, r[bk].c.chains, r[bk].c.longest_cycle, r[bk].c.lookups,
               r[bk].c.failed, r[bk].ws_bytes, r[bk].planner_bytes, r[bk].plan_rss,
               r[bk].c.copies == b->movable + b->cycles ? "true" : "false", r[bk].hash);
        printf(",\"phase_cpu_seconds\":{\"classify\":%.3f,\"chains\":%.3f,\"cycles\":%.3f}"
               ",\"alloc_cpu_seconds\":%.3f",
               r[bk].phase_cpu[0], r[bk].phase_cpu[1], r[bk].phase_cpu[2],
               r[bk].alloc_cpu_seconds);
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
    struct rtv_p2m_model m;
    struct mode_result res[RTV_P2M_BK_COUNT];
    struct bound b;
    struct p2m_progress pr;
    double t0, synth_s, bound_s;
    int rc, identical = 1, ok = 1, first = -1;
    unsigned int bk;

    rc = parse(argc, argv, &o);
    if ( rc )
        return rc;

    o.synth.nr = o.nr;
    p2m_progress_init(&pr, "rtvirt-p2m simulate: generating");
    o.synth.progress = synth_progress;
    o.synth.ctx = &pr;
    t0 = p2m_now();
    rc = rtv_p2m_synth_build(&o.synth, &m);
    synth_s = p2m_now() - t0;
    p2m_progress_done(&pr);
    if ( rc )
    {
        fprintf(stderr, "rtvirt-p2m %s: generator refused the parameters (%d%s)\n", CMD, rc,
                rc == -ENOMEM ? ": out of memory" : "");
        return P2M_EXIT_FAIL;
    }
    o.nlisted = m.nlisted;

    t0 = p2m_now();
    if ( compute_bound(&m, &b) )
    {
        fprintf(stderr, "rtvirt-p2m %s: out of memory for the lower bound\n", CMD);
        rtv_p2m_model_release(&m);
        return P2M_EXIT_FAIL;
    }
    bound_s = p2m_now() - t0;

    for ( bk = 0; bk < RTV_P2M_BK_COUNT; bk++ )
    {
        memset(&res[bk], 0, sizeof(res[bk]));
        if ( !o.modes[bk] )
            continue;
        if ( run_mode(&o, &m, bk, &res[bk]) )
        {
            rtv_p2m_model_release(&m);
            return P2M_EXIT_FAIL;
        }
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
    rss_peak();
    o.peak_rss = run_peak_rss;
    if ( o.json )
        print_json(&o, &b, synth_s, bound_s, res, identical);
    else
        print_text(&o, &b, synth_s, bound_s, res, identical);
    rtv_p2m_model_release(&m);
    return ok && identical ? 0 : P2M_EXIT_FAIL;
}
