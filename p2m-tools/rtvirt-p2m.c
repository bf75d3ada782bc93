/*
 * rtvirt-p2m: look at a domain's P2M, rebuild it to identity through the
 * patched hypervisor's op, and simulate the planner at any size on the host.
 * Commands are a table (name, handler, one-line help); each handles --help.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtvirt/clock.h"
#include "rtvirt/p2m_plan.h"
#include "p2m_tools.h"

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    { "query",    cmd_query,    "query <domain> [--json]: classify every RAM page" },
    { "identity", cmd_identity, "identity <domain> [--range a-b] [--paused|--concurrent] "
                                "[--bookkeeping backmap|refcount|search] [--json]: rebuild to gfn == mfn" },
    { "check-m2p", cmd_check_m2p, "check-m2p <domain> [--range a-b] [--json]: is gfn == mfn, "
                                  "read from Xen's M2P, not through the identity op" },
    { "simulate", cmd_simulate, "simulate --pages N|--memory SIZE [--identity-fraction F] [--seed S] "
                                "[--json] ...: run the planner on a synthetic P2M" },
};

static void usage(FILE *f)
{
    size_t i;

    fprintf(f, "usage: rtvirt-p2m <command> [options]   (rtvirt-p2m <command> --help for more)\n");
    for ( i = 0; i < sizeof(commands) / sizeof(commands[0]); i++ )
        fprintf(f, "  %s\n", commands[i].help);
}

int main(int argc, char **argv)
{
    size_t i;

    if ( argc < 2 )
    {
        usage(stderr);
        return P2M_EXIT_USAGE;
    }
    if ( !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help") )
    {
        usage(stdout);
        return 0;
    }
    for ( i = 0; i < sizeof(commands) / sizeof(commands[0]); i++ )
        if ( !strcmp(argv[1], commands[i].name) )
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "rtvirt-p2m: unknown command '%s' (allowed: query, identity, check-m2p, simulate)\n",
            argv[1]);
    return P2M_EXIT_USAGE;
}

/* ---- argument helpers --------------------------------------------------- */

int p2m_bad_option(const char *cmd, const char *opt, const char *allowed)
{
    fprintf(stderr, "rtvirt-p2m %s: unknown or incomplete option '%s' (allowed: %s; see --help)\n",
            cmd, opt, allowed);
    return P2M_EXIT_USAGE;
}

/* The unsigned number val starts with, in base: no sign, at least one digit,
 * below 2^64; *end is left after it. */
static bool unsigned_prefix(const char *val, int base, unsigned long long *v, char **end)
{
    if ( !val || !*val || *val == '-' || *val == '+' )
        return false;
    errno = 0;
    *v = strtoull(val, end, base);
    return errno == 0 && *end != val;
}

int p2m_arg_u64(const char *cmd, const char *arg, const char *val, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if ( !unsigned_prefix(val, 0, &v, &end) || *end )
        goto bad;
    *out = v;
    return 0;
 bad:
    fprintf(stderr, "rtvirt-p2m %s: %s: '%s' is not a number (allowed: a non-negative "
            "integer, decimal or 0x hex, below 2^64)\n", cmd, arg, val ? val : "");
    return -1;
}

int p2m_arg_size(const char *cmd, const char *arg, const char *val, uint64_t *bytes)
{
    char *end;
    unsigned long long v;
    unsigned int shift = 0;

    if ( !unsigned_prefix(val, 10, &v, &end) )
        goto bad;
    switch ( *end )
    {
    case 'K': case 'k': shift = 10; end++; break;
    case 'M': case 'm': shift = 20; end++; break;
    case 'G': case 'g': shift = 30; end++; break;
    case 'T': case 't': shift = 40; end++; break;
    case '\0': break;
    default: goto bad;
    }
    if ( *end == 'i' && shift )
        end++;
    if ( (*end == 'B' || *end == 'b') )
        end++;
    if ( *end || v > (UINT64_MAX >> shift) )
        goto bad;
    *bytes = (uint64_t)v << shift;
    return 0;
 bad:
    fprintf(stderr, "rtvirt-p2m %s: %s: '%s' is not a size (allowed: bytes with an optional "
            "K, M, G or T suffix, e.g. 64G or 1TiB)\n", cmd, arg, val ? val : "");
    return -1;
}

int p2m_arg_fraction(const char *cmd, const char *arg, const char *val, double *out)
{
    char *end;
    double v;

    errno = 0;
    if ( !val || !*val )
        goto bad;
    v = strtod(val, &end);
    if ( errno || *end || !(v >= 0.0 && v <= 1.0) )
        goto bad;
    *out = v;
    return 0;
 bad:
    fprintf(stderr, "rtvirt-p2m %s: %s: '%s' is not a fraction (allowed: a number from 0 to 1)\n",
            cmd, arg, val ? val : "");
    return -1;
}

int p2m_arg_range(const char *cmd, const char *arg, const char *val,
                  uint64_t *first, uint64_t *last)
{
    const char *dash = val ? strchr(val, '-') : NULL;
    char *end;
    unsigned long long a, b;

    if ( !dash || dash == val || !dash[1] )
        goto bad;
    errno = 0;
    a = strtoull(val, &end, 0);
    if ( errno || end != dash )
        goto bad;
    b = strtoull(dash + 1, &end, 0);
    if ( errno || *end || dash[1] == '-' || a > b )
        goto bad;
    *first = a;
    *last = b;
    return 0;
 bad:
    fprintf(stderr, "rtvirt-p2m %s: %s: '%s' is not a gfn range (allowed: FIRST-LAST, "
            "inclusive, FIRST <= LAST, decimal or 0x hex, e.g. 0x100-0x1ff)\n",
            cmd, arg, val ? val : "");
    return -1;
}

int p2m_arg_domid(const char *cmd, const char *val, uint16_t *domid)
{
    uint64_t v;

    if ( p2m_arg_u64(cmd, "<domid>", val, &v) )
        return -1;
    if ( v >= 0x7ff0 )
    {
        fprintf(stderr, "rtvirt-p2m %s: <domid>: '%s' is out of range (allowed: 0 to "
                "32751, a real domain's id as `xl list` shows it)\n", cmd, val);
        return -1;
    }
    *domid = (uint16_t)v;
    return 0;
}

int p2m_arg_bookkeeping(const char *cmd, const char *arg, const char *val, int *out)
{
    int bk = rtv_p2m_bookkeeping_parse(val);

    if ( bk < 0 )
    {
        fprintf(stderr, "rtvirt-p2m %s: %s: '%s' is not a bookkeeping mode (allowed: backmap, "
                "refcount, search)\n", cmd, arg, val ? val : "");
        return -1;
    }
    *out = bk;
    return 0;
}

/* ---- progress ----------------------------------------------------------- */

double p2m_now(void)
{
    return (double)rtv_now_us() / 1e6;
}

void p2m_progress_init(struct p2m_progress *p, const char *label)
{
    p->label = label;
    p->last = p2m_now();
    p->tty = isatty(STDERR_FILENO);
    p->shown = 0;
}

void p2m_progress_update(struct p2m_progress *p, uint64_t done, uint64_t total)
{
    double now = p2m_now();

    if ( now - p->last < 1.0 || total == 0 )
        return;
    p->last = now;
    p->shown = 1;
    fprintf(stderr, "%s%s: %" PRIu64 "/%" PRIu64 " (%.0f%%)%s", p->tty ? "\r" : "", p->label,
            done, total, 100.0 * (double)done / (double)total, p->tty ? "   " : "\n");
    fflush(stderr);
}

void p2m_progress_done(struct p2m_progress *p)
{
    if ( p->shown && p->tty )
        fputc('\n', stderr);
    p->shown = 0;
}
