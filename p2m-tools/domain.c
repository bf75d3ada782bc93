/*
 * rtvirt-p2m query / identity: drive XENMEM_rtvirt_p2m_identity on a real
 * domain through the Xen seam (common/xen/xen_p2m.c).  A range larger than
 * one call takes (RTV_P2M_IDENTITY_MAX_GFNS) is walked in windows; a swap
 * whose partner lies in another window is then reported as
 * target-own-outside-range, so give --range covering both to rebuild it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/p2m_hypercall.h"
#include "rtvirt/p2m_plan.h"
#include "rtvirt/xen_p2m.h"
#include "p2m_tools.h"

struct dom_opts {
    const char *cmd;
    uint16_t domid;
    int have_range;
    uint64_t first, last;
    unsigned int op;
    uint32_t flags;
    int bookkeeping;
    int json;
    uint64_t batch;
    uint64_t window;
    int progress_lines;     /* machine-readable progress (xl-rtvirt's) */
};

struct totals {
    uint64_t classes[RTV_P2M_IDENTITY_NR_CLASSES];
    uint64_t remapped, copies, cycles, scratch_uses, continuations, calls;
    /* Pages a window's last call found busy (a busy page is retried by
     * every call, so summing calls would count it again and again). */
    uint64_t busy;
    /* ... and what the current window's last call found busy, until the
     * window ends and it joins busy: the progress lines show both. */
    uint64_t busy_now;
    /* Wall time of the whole command's hypercalls (all passes), for the
     * pages-per-second figure of the lab flight. */
    double seconds;
    /* Copies asked of the next call (0: no limit): see next_batch(). */
    uint64_t batch;
};

/*
 * A call keeps the calling vCPU inside the hypervisor until its batch is
 * done: the hypervisor's continuations keep Xen responsive but do not let
 * the caller's kernel schedule, so a call of much more than a second trips
 * the kernel's soft-lockup and RCU-stall watchdogs (seen in the lab: PVH
 * dom0 rebuilding itself at 218 pages/s in batches of 4096, 19 s a call,
 * "soft lockup - CPU#0 stuck for 21s!" a dozen times).  So the batch
 * follows the pace: the copies the last call made per second, times
 * CALL_SECONDS, between BATCH_MIN and --batch; the first call asks for
 * BATCH_FIRST.
 */
#define CALL_SECONDS 1.0
#define BATCH_MIN    32      /* the hypervisor's own minimum before it may preempt */
#define BATCH_FIRST  256

static uint64_t clamp_batch(const struct dom_opts *o, double want)
{
    if ( o->batch == 0 )
        return 0;                       /* --batch 0: no limit, as asked */
    if ( want > (double)o->batch )
        return o->batch;
    return want < BATCH_MIN ? (o->batch < BATCH_MIN ? o->batch : BATCH_MIN) : (uint64_t)want;
}

static void next_batch(const struct dom_opts *o, struct totals *t, uint64_t copies,
                       double seconds)
{
    /* Too few copies say more about the call's fixed cost (reading the
     * window, planning) than about the pace. */
    if ( copies >= BATCH_MIN && seconds > 0 )
        t->batch = clamp_batch(o, (double)copies / seconds * CALL_SECONDS);
}

static void query_help(void)
{
    printf("usage: rtvirt-p2m query <domid> [--range FIRST-LAST] [--window N] [--bookkeeping MODE]\n"
           "                        [--json]\n"
           "\n"
           "Classifies every RAM page of an HVM/PVH domain's P2M (default: gfn 0 to the\n"
           "domain's highest gfn): already identity, target frame free, target frame\n"
           "holds another of its pages (swap/cycle), target owned by Xen or another\n"
           "domain, target not RAM.  Needs the patched hypervisor (xen-patches/); a stock\n"
           "one is refused with \"this hypervisor lacks the rtvirt identity op\".\n"
           "\n"
           "  --range FIRST-LAST     inclusive gfn range, decimal or 0x hex\n"
           "  --window N             gfns per call (default and most: 4194304)\n"
           "  --bookkeeping MODE     backmap (default), refcount or search\n"
           "  --json                 one JSON object on stdout\n");
}

static void identity_help(void)
{
    printf("usage: rtvirt-p2m identity <domid> [--range FIRST-LAST] [--paused|--concurrent]\n"
           "                           [--batch N] [--window N]\n"
           "                           [--bookkeeping backmap|refcount|search] [--json]\n"
           "\n"
           "Rebuilds the range of the domain's P2M so that gfn == mfn wherever the query\n"
           "says it can: pages already identity stay, others are copied into their own\n"
           "frame, cycles go through one scratch frame.  Prints pages remapped, copies,\n"
           "cycles, and the pages that could not be made identity, by reason.\n"
           "\n"
           "  --paused               pause the domain for each step (default)\n"
           "  --concurrent           let it run; each page is write-protected while moved\n"
           "  --range FIRST-LAST     inclusive gfn range (default: the whole P2M)\n"
           "  --batch N              at most N copies per call (default 4096, 0 = no\n"
           "                         limit); between calls the calling kernel gets to\n"
           "                         schedule, so each call is sized from the last one's\n"
           "                         pace to last about a second\n"
           "  --window N             gfns per call (default 65536; each call reads its\n"
           "                         whole window); a cycle must fit in one window\n"
           "  --bookkeeping MODE     backmap (default), refcount or search (quadratic)\n"
           "  --json                 one JSON object on stdout\n"
           "  --progress-lines       progress as lines \"RTV-P2M-PROGRESS pass=P done=D\n"
           "                         total=T remapped=R copies=C busy=B continuations=K\"\n"
           "                         on stderr, about once a second (xl-rtvirt reads them)\n");
}

static int parse(int argc, char **argv, struct dom_opts *o)
{
    const char *allowed = o->op == RTV_P2M_IDENTITY_OP_QUERY
        ? "--range, --window, --bookkeeping, --json, --help"
        : "--range, --paused, --concurrent, --batch, --window, --bookkeeping, --json, "
          "--progress-lines, --help";
    int i, have_dom = 0, modes = 0;

    for ( i = 1; i < argc; i++ )
    {
        const char *a = argv[i];

        if ( !strcmp(a, "--help") || !strcmp(a, "-h") )
        {
            if ( o->op == RTV_P2M_IDENTITY_OP_QUERY )
                query_help();
            else
                identity_help();
            exit(0);
        }
        if ( !strcmp(a, "--json") )
            o->json = 1;
        else if ( o->op == RTV_P2M_IDENTITY_OP_REBUILD && !strcmp(a, "--progress-lines") )
            o->progress_lines = 1;
        else if ( o->op == RTV_P2M_IDENTITY_OP_REBUILD && !strcmp(a, "--paused") )
        {
            o->flags = RTV_P2M_IDENTITY_F_PAUSED;
            modes++;
        }
        else if ( o->op == RTV_P2M_IDENTITY_OP_REBUILD && !strcmp(a, "--concurrent") )
        {
            o->flags = RTV_P2M_IDENTITY_F_CONCURRENT;
            modes++;
        }
        else if ( !strcmp(a, "--range") && i + 1 < argc )
        {
            if ( p2m_arg_range(o->cmd, a, argv[++i], &o->first, &o->last) )
                return P2M_EXIT_USAGE;
            o->have_range = 1;
        }
        else if ( o->op == RTV_P2M_IDENTITY_OP_REBUILD && !strcmp(a, "--batch") &&
                  i + 1 < argc )
        {
            if ( p2m_arg_u64(o->cmd, a, argv[++i], &o->batch) )
                return P2M_EXIT_USAGE;
            if ( o->batch > UINT32_MAX )
            {
                fprintf(stderr, "rtvirt-p2m %s: --batch: '%s' is out of range (allowed: 0 to "
                        "4294967295)\n", o->cmd, argv[i]);
                return P2M_EXIT_USAGE;
            }
        }
        else if ( !strcmp(a, "--window") && i + 1 < argc )
        {
            if ( p2m_arg_u64(o->cmd, a, argv[++i], &o->window) )
                return P2M_EXIT_USAGE;
            if ( o->window == 0 || o->window > RTV_P2M_IDENTITY_MAX_GFNS )
            {
                fprintf(stderr, "rtvirt-p2m %s: --window: '%s' is out of range (allowed: 1 to "
                        "%llu gfns)\n", o->cmd, argv[i], RTV_P2M_IDENTITY_MAX_GFNS);
                return P2M_EXIT_USAGE;
            }
        }
        else if ( !strcmp(a, "--bookkeeping") && i + 1 < argc )
        {
            if ( p2m_arg_bookkeeping(o->cmd, a, argv[++i], &o->bookkeeping) )
                return P2M_EXIT_USAGE;
        }
        else if ( a[0] == '-' )
            return p2m_bad_option(o->cmd, a, allowed);
        else if ( !have_dom )
        {
            if ( p2m_arg_domid(o->cmd, a, &o->domid) )
                return P2M_EXIT_USAGE;
            have_dom = 1;
        }
        else
        {
            fprintf(stderr, "rtvirt-p2m %s: unexpected argument '%s' (one <domid> only)\n",
                    o->cmd, a);
            return P2M_EXIT_USAGE;
        }
    }
    if ( !have_dom )
    {
        fprintf(stderr, "rtvirt-p2m %s: <domid> is required (see --help)\n", o->cmd);
        return P2M_EXIT_USAGE;
    }
    if ( modes > 1 )
    {
        fprintf(stderr, "rtvirt-p2m %s: --paused and --concurrent exclude each other\n", o->cmd);
        return P2M_EXIT_USAGE;
    }
    return 0;
}

static void print_result(const struct dom_opts *o, const struct totals *t)
{
    unsigned int k;
    uint64_t failed = 0;
    const char *mode = o->op == RTV_P2M_IDENTITY_OP_QUERY ? "query"
        : o->flags & RTV_P2M_IDENTITY_F_CONCURRENT ? "concurrent" : "paused";

    for ( k = 0; k < RTV_P2M_CLASS_COUNT; k++ )
        if ( rtv_p2m_class_failed(k) )
            failed += t->classes[k];
    if ( o->json )
    {
        printf("{\"domain\":%u,\"first_gfn\":%" PRIu64 ",\"last_gfn\":%" PRIu64
               ",\"mode\":\"%s\",\"bookkeeping\":\"%s\",\"calls\":%" PRIu64
               ",\"continuations\":%" PRIu64 ",\"remapped\":%" PRIu64 ",\"copies\":%" PRIu64
               ",\"cycles\":%" PRIu64 ",\"scratch_uses\":%" PRIu64 ",\"busy\":%" PRIu64
               ",\"failed\":%" PRIu64 ",\"seconds\":%.3f,\"classes\":{",
               o->domid, o->first, o->last, mode, rtv_p2m_bookkeeping_name(o->bookkeeping),
               t->calls, t->continuations, t->remapped, t->copies, t->cycles, t->scratch_uses,
               t->busy, failed, t->seconds);
        for ( k = 0; k < RTV_P2M_CLASS_COUNT; k++ )
            printf("%s\"%s\":%" PRIu64, k ? "," : "", rtv_p2m_class_name(k), t->classes[k]);
        printf("}}\n");
        return;
    }
    printf("domain %u, gfns %#" PRIx64 "-%#" PRIx64 " (%" PRIu64 " pages), %s, %s bookkeeping\n",
           o->domid, o->first, o->last, o->last - o->first + 1, mode,
           rtv_p2m_bookkeeping_name(o->bookkeeping));
    for ( k = 0; k < RTV_P2M_CLASS_COUNT; k++ )
        if ( t->classes[k] )
            printf("  %-26s %12" PRIu64 "\n", rtv_p2m_class_name(k), t->classes[k]);
    if ( o->op == RTV_P2M_IDENTITY_OP_REBUILD )
        printf("remapped %" PRIu64 ", copies %" PRIu64 ", cycles %" PRIu64 ", scratch uses %"
               PRIu64 ", busy %" PRIu64 ", failed %" PRIu64 ", hypervisor continuations %"
               PRIu64 ", %.3f s\n", t->remapped, t->copies, t->cycles, t->scratch_uses, t->busy,
               failed, t->continuations, t->seconds);
}

/*
 * One pass over the range in windows; each window is called again while the
 * hypervisor says "more" (its batch was used up).  Counters add up; the
 * class counts are the state each window was left in.  Returns 0 or -1
 * (error printed).
 */
/* --progress-lines: one line, at most about once a second unless `force`. */
static void progress_line(const struct dom_opts *o, const struct totals *t, unsigned int pass,
                          uint64_t done, int force)
{
    static double last;

    if ( !o->progress_lines || (!force && p2m_now() - last < 1.0) )
        return;
    last = p2m_now();
    fprintf(stderr, "RTV-P2M-PROGRESS pass=%u done=%" PRIu64 " total=%" PRIu64 " remapped=%"
            PRIu64 " copies=%" PRIu64 " busy=%" PRIu64 " continuations=%" PRIu64 "\n",
            pass + 1, done, o->last - o->first + 1, t->remapped, t->copies, t->busy + t->busy_now,
            t->continuations);
    fflush(stderr);
}

static int one_pass(struct rtv_xen_p2m *x, const struct dom_opts *o, struct totals *t,
                    struct p2m_progress *pr, unsigned int pass, uint64_t *pass_remapped)
{
    struct rtv_err err = { 0 };
    uint64_t gfn = o->first, before = t->remapped;
    /*
     * Gfns of the range this pass has covered, for the progress figures:
     * the windows done, plus, in the window being rebuilt, its gfns that
     * need no more copy (each call's classes say how many are still
     * movable).  A window is one call's range and most rebuilds fit in one,
     * so the window's start alone would read 0 until the very end.
     */
    uint64_t covered = 0;
    unsigned int k;

    memset(t->classes, 0, sizeof(t->classes));
    t->busy = 0;
    t->busy_now = 0;
    for ( ;; )
    {
        uint64_t left = o->last - gfn + 1;      /* 0: the whole 2^64 */
        struct rtv_p2m_identity_arg a = {
            .version = RTV_P2M_IDENTITY_VERSION,
            .domid = o->domid,
            .op = (uint8_t)o->op,
            .bookkeeping = (uint8_t)o->bookkeeping,
            .flags = o->op == RTV_P2M_IDENTITY_OP_REBUILD ? o->flags : 0,
            .max_copies = o->op == RTV_P2M_IDENTITY_OP_REBUILD ? (uint32_t)t->batch : 0,
            .first_gfn = gfn,
            .nr_gfns = left > o->window || left == 0 ? o->window : left,
        };
        double call_start;
        int more;

        if ( o->progress_lines )
            progress_line(o, t, pass, covered, 0);
        else
            p2m_progress_update(pr, covered, o->last - o->first + 1);
        call_start = p2m_now();
        more = rtv_xen_p2m_call(x, &a, &err);
        if ( more >= 0 && o->op == RTV_P2M_IDENTITY_OP_REBUILD )
            next_batch(o, t, a.copies, p2m_now() - call_start);
        if ( more < 0 )
        {
            fprintf(stderr, "rtvirt-p2m %s: domain %u, gfns %#" PRIx64 "+%#" PRIx64 ": %s\n",
                    o->cmd, o->domid, a.first_gfn, a.nr_gfns, err.msg);
            return -1;
        }
        t->calls++;
        t->remapped += a.remapped;
        t->copies += a.copies;
        t->cycles += a.cycles;
        t->scratch_uses += a.scratch_uses;
        t->continuations += a.continuations;
        if ( more )
        {
            uint64_t movable = a.class_count[RTV_P2M_TARGET_FREE] +
                               a.class_count[RTV_P2M_TARGET_OWN];

            covered = gfn - o->first + (movable < a.nr_gfns ? a.nr_gfns - movable : 0);
            t->busy_now = a.busy;
            if ( p2m_now() - pr->last >= 1.0 )
            {
                pr->last = p2m_now();
                fprintf(stderr, "rtvirt-p2m %s: %" PRIu64 " remapped so far; %" PRIu64
                        " still movable in gfns %#" PRIx64 "+%#" PRIx64 "\n", o->cmd,
                        t->remapped, movable, a.first_gfn, a.nr_gfns);
            }
            if ( a.copies == 0 && a.busy == 0 )
            {
                fprintf(stderr, "rtvirt-p2m %s: the hypervisor asked for another call "
                        "but made no progress; going on\n", o->cmd);
                more = 0;
            }
            else
                continue;               /* same window, next batch */
        }
        for ( k = 0; k < RTV_P2M_IDENTITY_NR_CLASSES; k++ )
            t->classes[k] += a.class_count[k];
        t->busy += a.busy;
        t->busy_now = 0;
        if ( a.nr_gfns >= left && left != 0 )
            break;
        gfn += a.nr_gfns;
        covered = gfn - o->first;
    }
    progress_line(o, t, pass, o->last - o->first + 1, 1);
    *pass_remapped = t->remapped - before;
    return 0;
}

static int run(int argc, char **argv, const char *cmd, unsigned int op)
{
    struct dom_opts o = {
        .cmd = cmd, .op = op, .flags = 0, .batch = 4096,
        .window = op == RTV_P2M_IDENTITY_OP_REBUILD ? 65536 : RTV_P2M_IDENTITY_MAX_GFNS,
    };
    struct totals t;
    struct rtv_xen_p2m *x = NULL;
    struct rtv_err err = { 0 };
    struct p2m_progress pr;
    unsigned int pass;
    int rc;

    rc = parse(argc, argv, &o);
    if ( rc )
        return rc;
    if ( op == RTV_P2M_IDENTITY_OP_REBUILD && !o.flags )
        o.flags = RTV_P2M_IDENTITY_F_PAUSED;

    if ( rtv_xen_p2m_open(&x, &err) < 0 )
    {
        fprintf(stderr, "rtvirt-p2m %s: %s\n", cmd, err.msg);
        return P2M_EXIT_FAIL;
    }
    if ( !o.have_range )
    {
        o.first = 0;
        if ( rtv_xen_p2m_max_gfn(x, o.domid, &o.last, &err) < 0 )
        {
            fprintf(stderr, "rtvirt-p2m %s: %s\n", cmd, err.msg);
            rtv_xen_p2m_close(x);
            return P2M_EXIT_FAIL;
        }
    }

    memset(&t, 0, sizeof(t));
    t.batch = clamp_batch(&o, BATCH_FIRST);
    t.seconds = p2m_now();
    p2m_progress_init(&pr, op == RTV_P2M_IDENTITY_OP_QUERY ? "rtvirt-p2m query"
                                                           : "rtvirt-p2m identity");
    /*
     * A chain or cycle crossing a window boundary shows up in a window as a
     * page whose target holds a page outside it.  Chains resolve on a later
     * pass, once the far end has moved; so pass again while a pass made
     * progress and such pages remain.  A cycle across windows never does:
     * widen --window (or give --range) to take it in one call.
     */
    for ( pass = 0; pass < 16; pass++ )
    {
        uint64_t moved = 0;

        if ( one_pass(x, &o, &t, &pr, pass, &moved) < 0 )
        {
            t.seconds = p2m_now() - t.seconds;
            p2m_progress_done(&pr);
            if ( t.calls > 1 )
                print_result(&o, &t);   /* what the earlier calls did */
            rtv_xen_p2m_close(x);
            return P2M_EXIT_FAIL;
        }
        if ( op != RTV_P2M_IDENTITY_OP_REBUILD || !moved ||
             t.classes[RTV_P2M_TARGET_FREE] + t.classes[RTV_P2M_TARGET_OWN] +
             t.classes[RTV_P2M_FAIL_TARGET_OUTSIDE] + t.classes[RTV_P2M_FAIL_BLOCKED] == 0 )
            break;
    }
    t.seconds = p2m_now() - t.seconds;
    p2m_progress_done(&pr);
    rtv_xen_p2m_close(x);
    print_result(&o, &t);
    return 0;
}

int cmd_query(int argc, char **argv)
{
    return run(argc, argv, "query", RTV_P2M_IDENTITY_OP_QUERY);
}

int cmd_identity(int argc, char **argv)
{
    return run(argc, argv, "identity", RTV_P2M_IDENTITY_OP_REBUILD);
}
