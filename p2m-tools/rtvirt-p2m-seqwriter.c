/*
 * rtvirt-p2m-seqwriter: the lost-write detector of rtvirt-p2m-selftest's
 * concurrent rebuild, run in the domain being rebuilt (dom0 on itself).
 *
 * A write lost by a concurrent rebuild is one the guest makes to the old
 * frame after the hypervisor copied it and before the P2M points at the new
 * one: afterwards the page reads back what it held before that write.  So
 * the writer numbers its writes and checks every one: write number s
 * stamps a whole page (every word says s) and is remembered as that page's
 * last; the page's next visit, and a final pass over all pages, must find
 * exactly that stamp.  Every write is thus found again or counted lost --
 * unlike a copy loop whose output is rewritten and checksummed at the end.
 *
 * The pages written are the ones that get moved: of a pool of candidate
 * pages (mlocked, gfns from /proc/self/pagemap) it keeps those whose gfn lies
 * in --range, the range the concurrent rebuild is given, and lets the others
 * go.  It writes until --stop FILE exists (or --max-seconds), then prints
 *   RTV-SEQ {"pages":P,"in_range":K,"gfns":"LO-HI","writes":W,
 *            "checked":C,"lost":L,"seconds":S,"first_lost":[...]}
 * after a line "RTV-SEQ-READY ..." once it is writing.  Exit 0 when no
 * write was lost, 1 when one was, 2 on usage errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rtvirt/clock.h"
#include "selfmem.h"

#define SHOW_LOST 4

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    (void)sig;
    stop_signal = 1;
}

static double now(void)
{
    return (double)rtv_now_us() / 1e6;
}

static int parse_u64(const char *arg, const char *val, uint64_t *out)
{
    char *end;

    errno = 0;
    *out = strtoull(val, &end, 0);
    if ( errno || end == val || *end || val[0] == '-' )
    {
        fprintf(stderr, "rtvirt-p2m-seqwriter: %s: '%s' is not a number\n", arg, val);
        return -1;
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: rtvirt-p2m-seqwriter --range FIRST-LAST --stop FILE [--pages N]\n"
               "                            [--candidates N] [--max-seconds S]\n"
               "Writes numbered stamps into its own pages whose gfns lie in the range and\n"
               "checks every write is found again (see the source's head comment).\n"
               "  --pages N        pages to write, at most (default 2048)\n"
               "  --candidates N   pages allocated to find them among (default 32768)\n"
               "  --max-seconds S  stop after S seconds even without FILE (default 3600)\n"
               "  --inject-loss W  undo write number W as a lost write would (to show the\n"
               "                   check can fail; make check does)\n");
}

struct lost {
    uint64_t gfn, want, found;
};

int main(int argc, char **argv)
{
    uint64_t first = 0, last = 0, want_pages = 2048, ncand = 32768, max_s = 3600, inject = 0;
    static unsigned char before[SELFMEM_PAGE];
    uint64_t i, n = 0, in_range = 0, lo = SELFMEM_NO_GFN, hi = 0;
    uint64_t seq = 0, writes = 0, checked = 0, lost = 0;
    const char *stop = NULL;
    unsigned char *cand, **page;
    uint64_t *gfn, *last_seq;
    struct lost shown[SHOW_LOST];
    int pm, have_range = 0, a;
    double t0;

    for ( a = 1; a < argc; a++ )
    {
        const char *val = a + 1 < argc ? argv[a + 1] : NULL;

        if ( !strcmp(argv[a], "--help") || !strcmp(argv[a], "-h") )
        {
            usage(stdout);
            return 0;
        }
        if ( !val )
        {
            fprintf(stderr, "rtvirt-p2m-seqwriter: %s: missing or unknown (see --help)\n",
                    argv[a]);
            return 2;
        }
        a++;
        if ( !strcmp(argv[a - 1], "--range") )
        {
            char *dash = strchr(val, '-'), buf[64];

            if ( !dash || (size_t)(dash - val) >= sizeof(buf) )
            {
                fprintf(stderr, "rtvirt-p2m-seqwriter: --range: '%s' is not FIRST-LAST\n", val);
                return 2;
            }
            memcpy(buf, val, (size_t)(dash - val));
            buf[dash - val] = '\0';
            if ( parse_u64("--range", buf, &first) || parse_u64("--range", dash + 1, &last) )
                return 2;
            if ( last < first )
            {
                fprintf(stderr, "rtvirt-p2m-seqwriter: --range: '%s' ends before it starts\n", val);
                return 2;
            }
            have_range = 1;
        }
        else if ( !strcmp(argv[a - 1], "--stop") )
            stop = val;
        else if ( !strcmp(argv[a - 1], "--pages") )
        {
            if ( parse_u64("--pages", val, &want_pages) )
                return 2;
        }
        else if ( !strcmp(argv[a - 1], "--candidates") )
        {
            if ( parse_u64("--candidates", val, &ncand) )
                return 2;
        }
        else if ( !strcmp(argv[a - 1], "--inject-loss") )
        {
            if ( parse_u64("--inject-loss", val, &inject) )
                return 2;
        }
        else if ( !strcmp(argv[a - 1], "--max-seconds") )
        {
            if ( parse_u64("--max-seconds", val, &max_s) )
                return 2;
        }
        else
        {
            fprintf(stderr, "rtvirt-p2m-seqwriter: unknown option '%s' (see --help)\n",
                    argv[a - 1]);
            return 2;
        }
    }
    if ( !have_range || !stop || !want_pages || !ncand || ncand > (1u << 22) )
    {
        usage(stderr);
        return 2;
    }

    cand = mmap(NULL, ncand * SELFMEM_PAGE, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    page = calloc(ncand, sizeof(*page));
    gfn = calloc(ncand, sizeof(*gfn));
    last_seq = calloc(ncand, sizeof(*last_seq));
    pm = open("/proc/self/pagemap", O_RDONLY);
    if ( cand == MAP_FAILED || !page || !gfn || !last_seq || pm < 0 ||
         mlock(cand, ncand * SELFMEM_PAGE) )
    {
        perror("rtvirt-p2m-seqwriter: candidate pages");
        return 1;
    }
    /* Keep the candidates inside the range; without any, write to the first
     * ones anyway (the result then says in_range 0, and the check fails). */
    for ( i = 0; i < ncand && n < want_pages; i++ )
    {
        unsigned char *va = cand + i * SELFMEM_PAGE;
        uint64_t g = selfmem_gfn(pm, va);

        if ( g == SELFMEM_NO_GFN || g == 0 )
        {
            fprintf(stderr, "rtvirt-p2m-seqwriter: no gfn for a page (root? pagemap?)\n");
            return 1;
        }
        if ( g < first || g > last )
            continue;
        page[n] = va;
        gfn[n++] = g;
    }
    in_range = n;
    for ( i = 0; i < ncand && n < want_pages && in_range == 0; i++, n++ )
    {
        page[n] = cand + i * SELFMEM_PAGE;
        gfn[n] = selfmem_gfn(pm, page[n]);
    }
    /* Let the unused candidates go back to the kernel. */
    for ( i = 0; i < ncand; i++ )
    {
        unsigned char *va = cand + i * SELFMEM_PAGE;
        uint64_t k;
        int used = 0;

        for ( k = 0; k < n && !used; k++ )
            used = page[k] == va;
        if ( !used )
        {
            munlock(va, SELFMEM_PAGE);
            madvise(va, SELFMEM_PAGE, MADV_DONTNEED);
        }
    }
    for ( i = 0; i < n; i++ )
    {
        lo = gfn[i] < lo ? gfn[i] : lo;
        hi = gfn[i] > hi ? gfn[i] : hi;
        selfmem_stamp(page[i], 0);      /* stamp 0: "not written yet" */
    }

    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("RTV-SEQ-READY {\"pages\":%" PRIu64 ",\"in_range\":%" PRIu64 ",\"gfns\":\"%#" PRIx64
           "-%#" PRIx64 "\"}\n", n, in_range, lo, hi);
    fflush(stdout);

    t0 = now();
    while ( !stop_signal )
    {
        uint64_t p = seq % n;

        /* The check of page p's previous write, then the next one. */
        if ( !selfmem_has_stamp(page[p], last_seq[p]) )
        {
            if ( lost < SHOW_LOST )
                shown[lost] = (struct lost){ gfn[p], last_seq[p], selfmem_tag_of(page[p]) };
            lost++;
        }
        else if ( last_seq[p] )
            checked++;
        seq++;
        if ( seq == inject )
            memcpy(before, page[p], SELFMEM_PAGE);
        selfmem_stamp(page[p], seq);
        if ( seq == inject )
            memcpy(page[p], before, SELFMEM_PAGE);  /* as if it hit the old frame */
        last_seq[p] = seq;
        writes++;
        if ( (seq & 255) == 0 && (access(stop, F_OK) == 0 || now() - t0 > (double)max_s) )
            break;
    }
    /* The final pass: every page's last write. */
    for ( i = 0; i < n; i++ )
    {
        if ( !last_seq[i] )
            continue;
        if ( selfmem_has_stamp(page[i], last_seq[i]) )
            checked++;
        else
        {
            if ( lost < SHOW_LOST )
                shown[lost] = (struct lost){ gfn[i], last_seq[i], selfmem_tag_of(page[i]) };
            lost++;
        }
    }

    printf("RTV-SEQ {\"pages\":%" PRIu64 ",\"in_range\":%" PRIu64 ",\"gfns\":\"%#" PRIx64
           "-%#" PRIx64 "\",\"writes\":%" PRIu64 ",\"checked\":%" PRIu64 ",\"lost\":%" PRIu64
           ",\"seconds\":%.1f,\"first_lost\":[", n, in_range, lo, hi, writes, checked, lost,
           now() - t0);
    for ( i = 0; i < lost && i < SHOW_LOST; i++ )
        printf("%s{\"gfn\":%" PRIu64 ",\"want\":%" PRIu64 ",\"found\":%" PRIu64 "}",
               i ? "," : "", shown[i].gfn, shown[i].want, shown[i].found);
    printf("]}\n");
    free(page);
    free(gfn);
    free(last_seq);
    munmap(cand, ncand * SELFMEM_PAGE);
    close(pm);
    return lost ? 1 : 0;
}
