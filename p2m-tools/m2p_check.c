/*
 * rtvirt-p2m check-m2p <domid>: the identity check that does not trust the
 * identity op (issue 17).  For every gfn g of the range, Xen's M2P must say
 * that machine frame g holds gfn g; the runs where it does not are printed.
 * The check is common/p2m_idcheck.c, the table common/xen/xen_m2p.c; see
 * rtvirt/p2m_idcheck.h for what it proves and what it cannot.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/err.h"
#include "rtvirt/p2m_idcheck.h"
#include "rtvirt/xen_m2p.h"
#include "rtvirt/xen_p2m.h"
#include "p2m_tools.h"

#define CMD "check-m2p"
/* Runs printed in full; the rest are counted. */
#define SHOWN_RUNS 64

struct m2p_opts {
    uint16_t domid;
    uint64_t first, last;
    int have_range, json;
};

struct check_ctx {
    struct rtv_xen_m2p *m2p;
    int json;
    uint64_t runs;          /* reported so far */
};

static void help(void)
{
    printf("usage: rtvirt-p2m check-m2p <domid> [--range FIRST-LAST] [--json]\n"
           "\n"
           "Checks that every gfn g of the range is at machine frame g, reading Xen's\n"
           "machine-to-phys table (frame g must hold gfn g) instead of asking the\n"
           "identity op, so the patched hypervisor's code does not vouch for itself.\n"
           "Prints each run of gfns that is not identity with what frame FIRST holds.\n"
           "\n"
           "  --range FIRST-LAST  inclusive gfn range (default: the whole P2M)\n"
           "  --json              one JSON object on stdout\n"
           "\n"
           "Exit status 0 when the whole range is identity, 1 when it is not or the\n"
           "table cannot be read, 2 for a bad command line.\n");
}

static int parse(int argc, char **argv, struct m2p_opts *o)
{
    int i, have_dom = 0;

    memset(o, 0, sizeof(*o));
    for ( i = 1; i < argc; i++ )
    {
        const char *a = argv[i];

        if ( !strcmp(a, "--help") || !strcmp(a, "-h") )
        {
            help();
            exit(0);
        }
        if ( !strcmp(a, "--json") )
            o->json = 1;
        else if ( !strcmp(a, "--range") && i + 1 < argc )
        {
            if ( p2m_arg_range(CMD, a, argv[++i], &o->first, &o->last) )
                return P2M_EXIT_USAGE;
            o->have_range = 1;
        }
        else if ( a[0] == '-' )
            return p2m_bad_option(CMD, a, "--range, --json, --help");
        else if ( !have_dom )
        {
            if ( p2m_arg_domid(CMD, a, &o->domid) )
                return P2M_EXIT_USAGE;
            have_dom = 1;
        }
        else
        {
            fprintf(stderr, "rtvirt-p2m %s: unexpected argument '%s' (one <domid> only)\n",
                    CMD, a);
            return P2M_EXIT_USAGE;
        }
    }
    if ( !have_dom )
    {
        fprintf(stderr, "rtvirt-p2m %s: <domid> is required (see --help)\n", CMD);
        return P2M_EXIT_USAGE;
    }
    return 0;
}

static void print_m2p(uint64_t v)
{
    if ( v == RTV_M2P_NONE )
        printf("null");
    else
        printf("%" PRIu64, v);
}

static int read_m2p(void *ctx, uint64_t mfn, uint64_t n, uint64_t *gfn)
{
    return rtv_xen_m2p_read(((struct check_ctx *)ctx)->m2p, mfn, n, gfn);
}

static int show_run(void *ctx, uint64_t first, uint64_t count, uint64_t m2p_first)
{
    struct check_ctx *s = ctx;

    if ( s->runs++ >= SHOWN_RUNS )
        return 0;
    if ( s->json )
    {
        printf("%s{\"first\":%" PRIu64 ",\"count\":%" PRIu64 ",\"frame_first_holds\":",
               s->runs > 1 ? "," : "", first, count);
        print_m2p(m2p_first);
        printf("}");
    }
    else if ( m2p_first == RTV_M2P_NONE )
        printf("not identity: gfns %#" PRIx64 "-%#" PRIx64 " (%" PRIu64 " pages): frame %#"
               PRIx64 " holds no gfn\n", first, first + count - 1, count, first);
    else
        printf("not identity: gfns %#" PRIx64 "-%#" PRIx64 " (%" PRIu64 " pages): frame %#"
               PRIx64 " holds gfn %#" PRIx64 "\n", first, first + count - 1, count, first,
               m2p_first);
    return 0;
}

int cmd_check_m2p(int argc, char **argv)
{
    struct m2p_opts o;
    struct rtv_err err = { 0 };
    struct check_ctx cx = { NULL, 0, 0 };
    struct rtv_p2m_idcheck_hooks h = { .m2p = read_m2p, .bad = show_run, .ctx = &cx };
    struct rtv_p2m_idcheck_counts c;
    double t0;
    int rc = parse(argc, argv, &o);

    if ( rc )
        return rc;
    if ( !o.have_range )
    {
        struct rtv_xen_p2m *x = NULL;

        /* XENMEM_maximum_gpfn: a stock op, not the identity op. */
        o.first = 0;
        rc = rtv_xen_p2m_open(&x, &err);
        if ( !rc )
            rc = rtv_xen_p2m_max_gfn(x, o.domid, &o.last, &err);
        rtv_xen_p2m_close(x);
        if ( rc )
        {
            fprintf(stderr, "rtvirt-p2m %s: %s\n", CMD, err.msg);
            return P2M_EXIT_FAIL;
        }
    }
    if ( rtv_xen_m2p_open(&cx.m2p, &err) )
    {
        fprintf(stderr, "rtvirt-p2m %s: %s\n", CMD, err.msg);
        return P2M_EXIT_FAIL;
    }
    cx.json = o.json;
    if ( o.json )
        printf("{\"domid\":%u,\"first\":%" PRIu64 ",\"last\":%" PRIu64 ",\"runs\":[",
               (unsigned)o.domid, o.first, o.last);
    t0 = p2m_now();
    rc = rtv_p2m_idcheck(o.first, o.last - o.first + 1, &h, &c);
    if ( o.json )
        printf("],\"rc\":%d,\"max_mfn\":%" PRIu64 ",\"pages\":%" PRIu64 ",\"identity\":%"
               PRIu64 ",\"other\":%" PRIu64 ",\"none\":%" PRIu64 ",\"ranges\":%" PRIu64
               ",\"runs_shown\":%" PRIu64 ",\"seconds\":%.3f,\"all_identity\":%s}\n", rc,
               rtv_xen_m2p_max_mfn(cx.m2p), c.pages, c.identity, c.other, c.none, c.ranges,
               cx.runs < SHOWN_RUNS ? cx.runs : SHOWN_RUNS, p2m_now() - t0,
               !rc && c.identity == c.pages ? "true" : "false");
    else if ( !rc )
        printf("domain %u gfns %#" PRIx64 "-%#" PRIx64 ": %" PRIu64 " pages, %" PRIu64
               " identity by the M2P, %" PRIu64 " at a frame holding another gfn, %" PRIu64
               " at a frame holding none; %" PRIu64 " runs%s\n", (unsigned)o.domid, o.first,
               o.last, c.pages, c.identity, c.other, c.none, c.ranges,
               c.ranges > SHOWN_RUNS ? " (the first 64 shown)" : "");
    rtv_xen_m2p_close(cx.m2p);
    if ( rc )
    {
        fprintf(stderr, "rtvirt-p2m %s: reading the M2P failed (%d)\n", CMD, rc);
        return P2M_EXIT_FAIL;
    }
    return c.identity == c.pages ? 0 : P2M_EXIT_FAIL;
}
