/*
 * xl-rtvirt p2m-identity (xl-scripts/xl_p2m.c) over the local store, with a
 * stand-in rtvirt-p2m on PATH that prints what the real one prints: the run
 * must be watchable in xenstore while it runs (state running, pages-done of
 * pages-total) and end in done with the tool's figures, or in failed with
 * the tool's own message.  The hypercall itself is the lab's (flight p2m).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rtvirt/local.h"
#include "rtvirt/xs_util.h"
#include "file_fixture.h"
#include "hub_fixture.h"
#include "schema_perms.h"
#include "unit.h"
#include "xs_fixture.h"
#include "../../xl-scripts/xl_p2m.h"

static struct rtv_local_hub *hub;
static struct rtv_xen dom0;
static char dir[64];

/* The stand-in: records its arguments, fails for domain 7 as a stock
 * hypervisor makes the real one fail, else reports progress, waits (at
 * most 10 s) until the test saw that progress in xenstore, and ends. */
static const char tool[] =
    "#!/bin/sh\n"
    "echo \"$*\" > \"$P2M_DIR/args\"\n"
    "if [ \"$2\" = 7 ]; then\n"
    "  echo 'rtvirt-p2m identity: this hypervisor lacks the rtvirt identity op' >&2; exit 1\n"
    "fi\n"
    "echo 'RTV-P2M-PROGRESS pass=1 done=100 total=4096 remapped=50 copies=51 busy=0 continuations=3' >&2\n"
    "n=0; while [ ! -e \"$P2M_DIR/seen\" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done\n"
    "echo 'RTV-P2M-PROGRESS pass=1 done=4096 total=4096 remapped=2000 copies=2010 busy=4 continuations=9' >&2\n"
    "echo '{\"domain\":5,\"remapped\":2000,\"copies\":2010,\"cycles\":10,\"busy\":4,"
    "\"continuations\":9,\"failed\":12,\"classes\":{\"identity\":4000}}'\n";

static char *get(const char *node)
{
    char path[128], *v = NULL;
    size_t n;

    snprintf(path, sizeof(path), "/local/domain/5/rtvirt/p2m/%s", node);
    if ( rtv_xs_read(dom0.xs, RTV_XS_NO_TXN, path, &v, &n) < 0 )
        return NULL;
    return v;
}

static int is(const char *node, const char *want)
{
    char *v = get(node);
    int ok = v && strcmp(v, want) == 0;

    free(v);
    return ok;
}

static void setup(void)
{
    char path[96], *p = getenv("PATH");
    static char newpath[4096];

    hub = rtv_test_hub_dom0(&dom0);
    rtv_test_make_domain(dom0.xs, 5, "guest5");
    rtv_test_make_domain(dom0.xs, 7, "guest7");
    rtv_test_mkdtemp(dir, sizeof(dir), "rtv-xl-p2m");
    snprintf(path, sizeof(path), "%s/rtvirt-p2m", dir);
    rtv_test_write_file(path, tool, true);
    snprintf(newpath, sizeof(newpath), "%s:%s", dir, p ? p : "/bin:/usr/bin");
    setenv("PATH", newpath, 1);
    setenv("P2M_DIR", dir, 1);
}

static void teardown(void)
{
    rtv_xen_close(&dom0);
    rtv_local_hub_free(hub);
    rtv_test_rm_tree(dir);
}

struct call {
    rtv_domid_t dom;
    struct xl_p2m_opts o;
    int rc;
};

static void *run(void *arg)
{
    struct call *c = arg;

    c->rc = xl_p2m_identity(dom0.xs, c->dom, &c->o);
    return NULL;
}

START_TEST(a_run_is_watchable_and_ends_done)
{
    struct call c = { .dom = 5, .o = { .range = "0-0xfff", .concurrent = 1, .json = 1 } };
    char seen[96], line[256] = "";
    pthread_t t;
    FILE *f;
    int i;

    pthread_create(&t, NULL, run, &c);
    /* While the stand-in waits: running, with its progress (bounded). */
    for ( i = 0; i < 100 && !(is("state", "running") && is("pages-done", "100")); i++ )
        usleep(100000);
    ck_assert_msg(i < 100, "no running state with pages-done 100 in xenstore");
    ck_assert(is("pages-total", "4096"));
    ck_assert(is("remapped", "50"));
    snprintf(seen, sizeof(seen), "%s/seen", dir);
    f = fopen(seen, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    pthread_join(t, NULL);

    ck_assert_int_eq(c.rc, 0);
    ck_assert(is("state", "done"));
    ck_assert(is("pages-done", "4096"));
    ck_assert(is("remapped", "2000"));
    ck_assert(is("copied", "2010"));
    ck_assert(is("busy", "4"));
    ck_assert(is("continuations", "9"));
    ck_assert(is("already-identity", "4000"));
    ck_assert(is("failed", "12"));
    /* Section 6's permissions: dom0 writes, the guest reads (the
     * directory of the domain libxl made, inherited). */
    ck_assert_perms_match_schema(dom0.xs);
    ck_assert(is("error", ""));
    snprintf(seen, sizeof(seen), "%s/args", dir);
    f = fopen(seen, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    fclose(f);
    ck_assert_str_eq(line, "identity 5 --concurrent --range 0-0xfff --json --progress-lines\n");
}
END_TEST

START_TEST(a_refusal_ends_failed_with_the_reason)
{
    struct call c = { .dom = 7, .o = { 0 } };
    char path[96], *v = NULL;
    size_t n;

    run(&c);
    ck_assert_int_eq(c.rc, 1);
    snprintf(path, sizeof(path), "/local/domain/7/rtvirt/p2m/state");
    ck_assert_int_eq(rtv_xs_read(dom0.xs, RTV_XS_NO_TXN, path, &v, &n), 0);
    ck_assert_str_eq(v, "failed");
    free(v);
    snprintf(path, sizeof(path), "/local/domain/7/rtvirt/p2m/error");
    ck_assert_int_eq(rtv_xs_read(dom0.xs, RTV_XS_NO_TXN, path, &v, &n), 0);
    ck_assert_ptr_nonnull(strstr(v, "lacks the rtvirt identity op"));
    free(v);
    ck_assert_perms_match_schema(dom0.xs);
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(xl_p2m_suite, "xl_p2m", "p2m-identity", setup, teardown, 30,
                        a_run_is_watchable_and_ends_done, a_refusal_ends_failed_with_the_reason)

RTV_UNIT_MAIN(xl_p2m_suite)
