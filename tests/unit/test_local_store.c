/*
 * Unit tests for the local store (common/local/store.c, hub.c): the tree,
 * path rules, permissions, watches, transactions, fault injection, domain
 * release and the robust hub lock.
 *
 * Every test gets a fresh hub from a checked fixture (run in the forked test
 * process) with a dom0 connection `d0`; tests open guest connections as they
 * need them.  Assertions are about what the store must guarantee (xenstored's
 * semantics as local.h/seam.h state them), never about incidental content.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child_proc.h"
#include "rtvirt/local.h"
#include "rtvirt/xs_util.h"
#include "../../common/local/hub_private.h"
#include "hub_fixture.h"
#include "unit.h"

/* Scratch nodes in a guest's home: store fixtures, not rtvirt protocol
 * nodes, hence the opt-outs from the xenstore-schema code check. */
static const char P5_X[]    = "/local/domain/5/x";     /* xs-schema: not-a-node */
static const char P5_Y[]    = "/local/domain/5/y";     /* xs-schema: not-a-node */
static const char P5_A[]    = "/local/domain/5/a";     /* xs-schema: not-a-node */
static const char P5_AB[]   = "/local/domain/5/a/b";   /* xs-schema: not-a-node */
static const char P5_NONE[] = "/local/domain/5/none";  /* xs-schema: not-a-node */

static struct rtv_local_hub *hub;
static struct rtv_xen d0;

static void setup(void)
{
    hub = rtv_test_hub_dom0(&d0);
}

static void teardown(void)
{
    rtv_xen_close(&d0);
    rtv_local_hub_free(hub);
    hub = NULL;
}

/* ---- helpers ----------------------------------------------------------- */

static void put(struct rtv_store *s, rtv_txn_t t, const char *p, const char *v)
{
    int rc = rtv_xs_write(s, t, p, v, strlen(v));
    ck_assert_msg(rc == 0, "write %s: %d", p, rc);
}

static void expect_val(struct rtv_store *s, rtv_txn_t t, const char *p,
                       const char *want)
{
    char *v = NULL;
    size_t len = 0;
    int rc = rtv_xs_read(s, t, p, &v, &len);
    ck_assert_msg(rc == 0, "read %s: %d", p, rc);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert_str_eq(v, want);
    free(v);
}

static void expect_err(struct rtv_store *s, rtv_txn_t t, const char *p, int err)
{
    char *v = NULL;
    size_t len;
    int rc = rtv_xs_read(s, t, p, &v, &len);
    ck_assert_msg(rc == err, "read %s: %d, wanted %d", p, rc, err);
    ck_assert_ptr_null(v);
}

static struct rtv_store *guest(struct rtv_xen *x, rtv_domid_t domid)
{
    ck_assert_int_eq(rtv_local_open(hub, domid, RTV_XEN_STORE, x), 0);
    return x->xs;
}

/* dom0 sets up /local/domain/<id> owned by the guest, as the toolstack does. */
static void make_domain_dir(rtv_domid_t domid)
{
    char p[64];
    struct rtv_xs_perm perm = { domid, RTV_XS_PERM_NONE };
    snprintf(p, sizeof(p), "/local/domain/%u", domid);
    ck_assert_int_eq(rtv_xs_mkdir(d0.xs, 0, p), 0);
    ck_assert_int_eq(rtv_xs_set_perms(d0.xs, 0, p, &perm, 1), 0);
}

#define MAX_EV 128
struct evs {
    unsigned n;
    char path[MAX_EV][256];
    char token[MAX_EV][64];
};

static void drain(struct rtv_store *s, struct evs *e)
{
    char *p, *t;
    memset(e, 0, sizeof(*e));
    while (rtv_xs_read_watch(s, &p, &t) == 0) {
        if (e->n < MAX_EV) {
            snprintf(e->path[e->n], sizeof(e->path[0]), "%s", p);
            snprintf(e->token[e->n], sizeof(e->token[0]), "%s", t);
        }
        e->n++;
        free(p);
        free(t);
    }
}

static bool has_ev(const struct evs *e, const char *path, const char *token)
{
    for (unsigned i = 0; i < e->n && i < MAX_EV; i++)
        if (strcmp(e->path[i], path) == 0 && strcmp(e->token[i], token) == 0)
            return true;
    return false;
}

static bool fd_readable(int fd, int timeout_ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    return poll(&pfd, 1, timeout_ms) == 1 && (pfd.revents & POLLIN);
}

/* ---- basics ------------------------------------------------------------ */

START_TEST(read_write_basics)
{
    struct rtv_store *s = d0.xs;
    expect_err(s, 0, "/a", -ENOENT);
    put(s, 0, "/a", "one");
    expect_val(s, 0, "/a", "one");
    put(s, 0, "/a", "");
    expect_val(s, 0, "/a", "");

    /* Binary values keep their length; the copy is NUL-terminated. */
    char *v;
    size_t len;
    ck_assert_int_eq(rtv_xs_write(s, 0, "/bin", "x\0y", 3), 0);
    ck_assert_int_eq(rtv_xs_read(s, 0, "/bin", &v, &len), 0);
    ck_assert_uint_eq(len, 3);
    ck_assert_mem_eq(v, "x\0y", 4);
    free(v);

    /* Missing parents appear with empty values. */
    put(s, 0, "/p/q/r", "deep");
    expect_val(s, 0, "/p", "");
    expect_val(s, 0, "/p/q", "");
    expect_val(s, 0, "/p/q/r", "deep");
    /* The root always exists. */
    expect_val(s, 0, "/", "");
}
END_TEST

START_TEST(directory_mkdir_rm)
{
    struct rtv_store *s = d0.xs;
    char **names;
    unsigned n;

    put(s, 0, "/d/x", "1");
    put(s, 0, "/d/y", "2");
    ck_assert_int_eq(rtv_xs_mkdir(s, 0, "/d/z"), 0);
    ck_assert_int_eq(rtv_xs_mkdir(s, 0, "/d/z"), 0);   /* existing is fine */
    expect_val(s, 0, "/d/z", "");
    put(s, 0, "/d/x/deeper", "3");

    ck_assert_int_eq(rtv_xs_directory(s, 0, "/d", &names, &n), 0);
    ck_assert_uint_eq(n, 3);
    bool seen[3] = { false };
    for (unsigned i = 0; i < n; i++) {
        if (strcmp(names[i], "x") == 0) seen[0] = true;
        else if (strcmp(names[i], "y") == 0) seen[1] = true;
        else if (strcmp(names[i], "z") == 0) seen[2] = true;
        else ck_abort_msg("unexpected child %s", names[i]);
    }
    ck_assert(seen[0] && seen[1] && seen[2]);
    free(names);    /* one block: ASan/LSan would flag anything left */

    ck_assert_int_eq(rtv_xs_directory(s, 0, "/d/y", &names, &n), 0);
    ck_assert_uint_eq(n, 0);
    free(names);
    ck_assert_int_eq(rtv_xs_directory(s, 0, "/nope", &names, &n), -ENOENT);

    /* rm takes the whole subtree and only it. */
    ck_assert_int_eq(rtv_xs_rm(s, 0, "/d/x"), 0);
    expect_err(s, 0, "/d/x", -ENOENT);
    expect_err(s, 0, "/d/x/deeper", -ENOENT);
    expect_val(s, 0, "/d/y", "2");
    ck_assert_int_eq(rtv_xs_rm(s, 0, "/d/x"), -ENOENT);
    ck_assert_int_eq(rtv_xs_rm(s, 0, "/"), -EINVAL);
    ck_assert_int_eq(rtv_xs_rm(s, 0, "/d"), 0);
    ck_assert_int_eq(rtv_xs_directory(s, 0, "/d", &names, &n), -ENOENT);

    /* A removed name can be created again, fresh. */
    put(s, 0, "/d/x", "again");
    expect_err(s, 0, "/d/x/deeper", -ENOENT);
    expect_val(s, 0, "/d/x", "again");
}
END_TEST

START_TEST(path_validation)
{
    struct rtv_store *s = d0.xs;
    static const char *bad[] = {
        "", "a", "a/b", "/a/", "//a", "/a//b", "/a b", "/a.b", "/a\n",
        "@releaseDomain", "/\xc3\xa9",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(rtv_xs_write(s, 0, bad[i], "v", 1) == -EINVAL, "write '%s'", bad[i]);
        ck_assert_msg(rtv_xs_mkdir(s, 0, bad[i]) == -EINVAL, "mkdir '%s'", bad[i]);
        ck_assert_msg(rtv_xs_rm(s, 0, bad[i]) == -EINVAL, "rm '%s'", bad[i]);
        expect_err(s, 0, bad[i], -EINVAL);
    }
    ck_assert_int_eq(rtv_xs_write(s, 0, NULL, "v", 1), -EINVAL);
    /* Every allowed character. */
    put(s, 0, "/AZaz09-_@/x", "ok");

    /* Length limits: the path itself, and the value. */
    static char longp[RTV_XS_PATH_MAX + 2];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    longp[RTV_XS_PATH_MAX + 1] = '\0';
    ck_assert_int_eq(rtv_xs_write(s, 0, longp, "v", 1), -EINVAL);
    longp[RTV_XS_PATH_MAX] = '\0';
    put(s, 0, longp, "max length path is fine");

    static char big[RTV_XS_VALUE_MAX + 1];
    memset(big, 'v', sizeof(big));
    ck_assert_int_eq(rtv_xs_write(s, 0, "/big", big, RTV_XS_VALUE_MAX + 1), -E2BIG);
    ck_assert_int_eq(rtv_xs_write(s, 0, "/big", big, RTV_XS_VALUE_MAX), 0);
    char *v;
    size_t len;
    ck_assert_int_eq(rtv_xs_read(s, 0, "/big", &v, &len), 0);
    ck_assert_uint_eq(len, RTV_XS_VALUE_MAX);
    free(v);

    /* Special paths: only for watches. */
    ck_assert_int_eq(rtv_xs_watch(s, "@releaseDomain", "t"), 0);
    ck_assert_int_eq(rtv_xs_watch(s, "@", "t"), -EINVAL);
    ck_assert_int_eq(rtv_xs_watch(s, "rel", "t"), -EINVAL);
    ck_assert_int_eq(rtv_xs_watch(s, "/ok", NULL), -EINVAL);
}
END_TEST

/* ---- permissions ------------------------------------------------------- */

START_TEST(perms_guest_vs_dom0)
{
    struct rtv_xen g5, g6;
    struct rtv_store *s5 = guest(&g5, 5), *s6 = guest(&g6, 6);
    struct rtv_xs_perm *perms;
    unsigned n;

    put(d0.xs, 0, "/tool/secret", "x");
    /* Root and dom0's nodes: default NONE for everybody else. */
    ck_assert_int_eq(rtv_xs_write(s5, 0, "/tool/secret", "y", 1), -EACCES);
    ck_assert_int_eq(rtv_xs_write(s5, 0, "/tool/new", "y", 1), -EACCES);
    ck_assert_int_eq(rtv_xs_mkdir(s5, 0, "/elsewhere"), -EACCES);
    ck_assert_int_eq(rtv_xs_rm(s5, 0, "/tool/secret"), -EACCES);
    expect_err(s5, 0, "/tool/secret", -EACCES);
    expect_val(d0.xs, 0, "/tool/secret", "x");

    make_domain_dir(5);
    /* The owner may do anything under its own directory... */
    put(s5, 0, "/local/domain/5/device/vbd/768/state", "1");
    ck_assert_int_eq(rtv_xs_get_perms(s5, 0, "/local/domain/5/device/vbd", &perms, &n), 0);
    ck_assert_uint_ge(n, 1);
    ck_assert_uint_eq(perms[0].domid, 5);   /* creator owns what it made */
    free(perms);
    /* ...another guest nothing, not even read... */
    expect_err(s6, 0, "/local/domain/5/device/vbd/768/state", -EACCES);
    ck_assert_int_eq(rtv_xs_write(s6, 0, P5_X, "1", 1), -EACCES);
    char **names;
    ck_assert_int_eq(rtv_xs_directory(s6, 0, "/local/domain/5", &names, &n), -EACCES);
    /* ...and dom0 everything. */
    expect_val(d0.xs, 0, "/local/domain/5/device/vbd/768/state", "1");
    put(d0.xs, 0, "/local/domain/5/device/vbd/768/backend", "/x");

    /* dom0 writing in the guest's tree leaves the guest as owner. */
    ck_assert_int_eq(rtv_xs_get_perms(d0.xs, 0, "/local/domain/5/device/vbd/768/backend",
                                      &perms, &n), 0);
    ck_assert_uint_eq(perms[0].domid, 5);
    free(perms);

    /* Granting 6 read access: 6 reads, still cannot write or set perms. */
    struct rtv_xs_perm p2[2] = { { 5, RTV_XS_PERM_NONE }, { 6, RTV_XS_PERM_READ } };
    ck_assert_int_eq(rtv_xs_set_perms(s5, 0, "/local/domain/5/device/vbd/768/state", p2, 2), 0);
    expect_val(s6, 0, "/local/domain/5/device/vbd/768/state", "1");
    ck_assert_int_eq(rtv_xs_write(s6, 0, "/local/domain/5/device/vbd/768/state", "2", 1), -EACCES);
    ck_assert_int_eq(rtv_xs_set_perms(s6, 0, "/local/domain/5/device/vbd/768/state", p2, 1), -EACCES);
    /* A default of READ opens it to everybody. */
    struct rtv_xs_perm pub = { 5, RTV_XS_PERM_READ };
    ck_assert_int_eq(rtv_xs_set_perms(s5, 0, "/local/domain/5/device", &pub, 1), 0);
    struct rtv_xen g7;
    expect_val(guest(&g7, 7), 0, "/local/domain/5/device", "");

    /* Bad permission lists. */
    struct rtv_xs_perm badp = { 5, 7 };
    ck_assert_int_eq(rtv_xs_set_perms(s5, 0, "/local/domain/5", &badp, 1), -EINVAL);
    ck_assert_int_eq(rtv_xs_set_perms(s5, 0, "/local/domain/5", p2, 0), -EINVAL);
    ck_assert_int_eq(rtv_xs_set_perms(s5, 0, P5_NONE, p2, 1), -ENOENT);

    /* A guest that gives its node away loses control of it. */
    struct rtv_xs_perm give = { 6, RTV_XS_PERM_NONE };
    ck_assert_int_eq(rtv_xs_set_perms(s5, 0, "/local/domain/5/device/vbd/768/backend", &give, 1), 0);
    ck_assert_int_eq(rtv_xs_write(s5, 0, "/local/domain/5/device/vbd/768/backend", "z", 1), -EACCES);
    put(s6, 0, "/local/domain/5/device/vbd/768/backend", "mine");

    rtv_xen_close(&g5);
    rtv_xen_close(&g6);
    rtv_xen_close(&g7);
}
END_TEST

/* ---- watches ----------------------------------------------------------- */

START_TEST(watch_fires_on_register_and_change)
{
    struct rtv_store *s = d0.xs;
    struct evs e;
    int fd = rtv_xs_watch_fd(s);

    ck_assert(!fd_readable(fd, 0));
    ck_assert_int_eq(rtv_xs_watch(s, "/w", "tok"), 0);
    ck_assert(fd_readable(fd, 0));
    drain(s, &e);
    ck_assert_uint_eq(e.n, 1);
    ck_assert(has_ev(&e, "/w", "tok"));        /* fires even for an absent node */
    ck_assert(!fd_readable(fd, 0));
    char *p, *t;
    ck_assert_int_eq(rtv_xs_read_watch(s, &p, &t), -EAGAIN);

    put(s, 0, "/w", "1");
    put(s, 0, "/w/a/b", "2");                   /* subtree: event names the node */
    put(s, 0, "/wx", "3");                      /* a sibling with a common prefix */
    put(s, 0, "/other/w", "4");
    ck_assert(fd_readable(fd, 0));
    drain(s, &e);
    ck_assert(has_ev(&e, "/w", "tok"));
    ck_assert(has_ev(&e, "/w/a/b", "tok"));
    for (unsigned i = 0; i < e.n; i++)
        ck_assert_msg(strncmp(e.path[i], "/w", 2) == 0 &&
                      (e.path[i][2] == '\0' || e.path[i][2] == '/'),
                      "unrelated event %s", e.path[i]);

    /* A second watch with another token on the same path fires separately. */
    ck_assert_int_eq(rtv_xs_watch(s, "/w/a", "two"), 0);
    ck_assert_int_eq(rtv_xs_watch(s, "/w/a", "two"), -EEXIST);
    drain(s, &e);
    struct rtv_xs_perm perm = { 0, RTV_XS_PERM_READ };
    ck_assert_int_eq(rtv_xs_set_perms(s, 0, "/w/a/b", &perm, 1), 0);
    drain(s, &e);
    ck_assert(has_ev(&e, "/w/a/b", "tok"));
    ck_assert(has_ev(&e, "/w/a/b", "two"));

    /* rm: watchers above hear the removed path, watchers below their own. */
    ck_assert_int_eq(rtv_xs_watch(s, "/w/a/b/c", "below"), 0);
    drain(s, &e);
    ck_assert_int_eq(rtv_xs_rm(s, 0, "/w/a"), 0);
    drain(s, &e);
    ck_assert(has_ev(&e, "/w/a", "tok"));
    ck_assert(has_ev(&e, "/w/a", "two"));
    ck_assert(has_ev(&e, "/w/a/b/c", "below"));

    /* mkdir fires; mkdir of an existing node changes nothing. */
    ck_assert_int_eq(rtv_xs_mkdir(s, 0, "/w/m"), 0);
    drain(s, &e);
    ck_assert(has_ev(&e, "/w/m", "tok"));

    /* Unwatch stops it; unknown watches are ENOENT. */
    ck_assert_int_eq(rtv_xs_unwatch(s, "/w", "tok"), 0);
    ck_assert_int_eq(rtv_xs_unwatch(s, "/w", "tok"), -ENOENT);
    put(s, 0, "/w", "5");
    drain(s, &e);
    ck_assert(!has_ev(&e, "/w", "tok"));
}
END_TEST

START_TEST(watch_respects_read_perms)
{
    struct rtv_xen g5, g6;
    struct rtv_store *s5 = guest(&g5, 5), *s6 = guest(&g6, 6);
    struct evs e;

    make_domain_dir(5);
    ck_assert_int_eq(rtv_xs_watch(s5, "/local/domain/5", "own"), 0);
    ck_assert_int_eq(rtv_xs_watch(s6, "/local/domain/5", "spy"), 0);
    drain(s5, &e);
    drain(s6, &e);
    ck_assert_uint_eq(e.n, 1);      /* registration still fires */

    put(d0.xs, 0, "/local/domain/5/data", "x");
    drain(s5, &e);
    ck_assert(has_ev(&e, "/local/domain/5/data", "own"));
    drain(s6, &e);
    ck_assert_uint_eq(e.n, 0);

    /* Removal is told to everybody watching: nothing left to hide. */
    ck_assert_int_eq(rtv_xs_rm(d0.xs, 0, "/local/domain/5/data"), 0);
    drain(s6, &e);
    ck_assert(has_ev(&e, "/local/domain/5/data", "spy"));
    rtv_xen_close(&g5);
    rtv_xen_close(&g6);
}
END_TEST

START_TEST(watch_coalescing_and_overflow)
{
    struct rtv_store *s = d0.xs;
    struct evs e;
    char p[64];

    ck_assert_int_eq(rtv_xs_watch(s, "/c", "t"), 0);
    /* Identical events merge: many writes, one queued event. */
    for (int i = 0; i < 500; i++)
        put(s, 0, "/c", "v");
    drain(s, &e);
    ck_assert_uint_ge(e.n, 1);
    ck_assert_uint_le(e.n, 2);
    ck_assert(has_ev(&e, "/c", "t"));

    /* Distinct events beyond the ring are dropped and counted, not UB. */
    for (int i = 0; i < 3 * HUB_EVQ_LEN; i++) {
        snprintf(p, sizeof(p), "/c/%d", i);
        put(s, 0, p, "v");
    }
    ck_assert_uint_gt(rtv_local_test_dropped(s), 0);
    drain(s, &e);
    ck_assert_uint_eq(e.n, HUB_EVQ_LEN);
    ck_assert(!fd_readable(rtv_xs_watch_fd(s), 0));
    /* The ring works again once read. */
    put(s, 0, "/c/after", "v");
    drain(s, &e);
    ck_assert_uint_eq(e.n, 1);
    ck_assert(has_ev(&e, "/c/after", "t"));
}
END_TEST

START_TEST(watch_across_fork)
{
    struct rtv_store *s = d0.xs;
    struct evs e;
    struct rtv_xs_perm perm = { 3, RTV_XS_PERM_NONE };

    ck_assert_int_eq(rtv_xs_mkdir(s, 0, "/shared"), 0);
    ck_assert_int_eq(rtv_xs_set_perms(s, 0, "/shared", &perm, 1), 0);
    ck_assert_int_eq(rtv_xs_watch(s, "/shared", "t"), 0);
    drain(s, &e);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* A separate process acting as domain 3. */
        struct rtv_xen c;
        if (rtv_local_open(hub, 3, RTV_XEN_STORE, &c) != 0)
            _exit(1);
        int rc = rtv_xs_write(c.xs, 0, "/shared/from-child", "hi", 2);
        rtv_xen_close(&c);
        _exit(rc == 0 ? 0 : 2);
    }
    ck_assert(fd_readable(rtv_xs_watch_fd(s), 5000));
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    drain(s, &e);
    ck_assert(has_ev(&e, "/shared/from-child", "t"));
    expect_val(s, 0, "/shared/from-child", "hi");
}
END_TEST

START_TEST(child_closing_inherited_connection)
{
    struct rtv_store *s = d0.xs;
    struct evs e;
    rtv_txn_t t;

    ck_assert_int_eq(rtv_xs_watch(s, "/inh", "t"), 0);
    ck_assert_int_eq(rtv_xs_txn_start(s, &t), 0);
    drain(s, &e);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* The child may use what it inherited... */
        int rc = rtv_xs_write(d0.xs, 0, "/inh/child", "1", 1);
        /* ...and its cleanup must not tear down the parent's connection. */
        rtv_xen_close(&d0);
        _exit(rc == 0 ? 0 : 1);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    put(s, 0, "/inh/parent", "1");
    drain(s, &e);
    ck_assert(has_ev(&e, "/inh/child", "t"));
    ck_assert(has_ev(&e, "/inh/parent", "t"));
    put(s, t, "/inh/txn", "1");
    ck_assert_int_eq(rtv_xs_txn_end(s, t, false), 0);
    expect_val(s, 0, "/inh/txn", "1");
}
END_TEST

/* ---- transactions ------------------------------------------------------ */

START_TEST(txn_isolation_and_commit)
{
    struct rtv_store *s = d0.xs;
    rtv_txn_t t;
    char **names;
    unsigned n;

    put(s, 0, "/t/old", "o");
    ck_assert_int_eq(rtv_xs_txn_start(s, &t), 0);
    ck_assert_uint_ne(t, RTV_XS_NO_TXN);
    put(s, t, "/t/new/leaf", "n");
    put(s, t, "/t/old", "changed");
    /* Inside: own writes visible.  Outside: nothing yet. */
    expect_val(s, t, "/t/new/leaf", "n");
    expect_val(s, t, "/t/new", "");
    expect_val(s, t, "/t/old", "changed");
    expect_err(s, 0, "/t/new/leaf", -ENOENT);
    expect_err(s, 0, "/t/new", -ENOENT);
    expect_val(s, 0, "/t/old", "o");
    ck_assert_int_eq(rtv_xs_directory(s, t, "/t", &names, &n), 0);
    ck_assert_uint_eq(n, 2);
    free(names);
    ck_assert_int_eq(rtv_xs_directory(s, 0, "/t", &names, &n), 0);
    ck_assert_uint_eq(n, 1);
    free(names);

    ck_assert_int_eq(rtv_xs_txn_end(s, t, false), 0);
    expect_val(s, 0, "/t/new/leaf", "n");
    expect_val(s, 0, "/t/old", "changed");
    /* The id is gone once ended. */
    expect_err(s, t, "/t/old", -ENOENT);
    ck_assert_int_eq(rtv_xs_txn_end(s, t, false), -ENOENT);
}
END_TEST

START_TEST(txn_rm_and_abort)
{
    struct rtv_store *s = d0.xs;
    rtv_txn_t t;
    char **names;
    unsigned n;

    put(s, 0, "/r/a/b", "1");
    put(s, 0, "/r/c", "2");
    ck_assert_int_eq(rtv_xs_txn_start(s, &t), 0);
    ck_assert_int_eq(rtv_xs_rm(s, t, "/r/a"), 0);
    expect_err(s, t, "/r/a/b", -ENOENT);
    expect_val(s, 0, "/r/a/b", "1");
    ck_assert_int_eq(rtv_xs_rm(s, t, "/r/a"), -ENOENT);
    /* Re-created inside the same transaction: old children stay gone. */
    put(s, t, "/r/a/z", "new");
    expect_err(s, t, "/r/a/b", -ENOENT);
    ck_assert_int_eq(rtv_xs_directory(s, t, "/r/a", &names, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(names[0], "z");
    free(names);
    ck_assert_int_eq(rtv_xs_txn_end(s, t, true), 0);    /* abort */
    expect_val(s, 0, "/r/a/b", "1");
    expect_err(s, 0, "/r/a/z", -ENOENT);

    ck_assert_int_eq(rtv_xs_txn_start(s, &t), 0);
    ck_assert_int_eq(rtv_xs_rm(s, t, "/r/a"), 0);
    put(s, t, "/r/a/z", "new");
    ck_assert_int_eq(rtv_xs_txn_end(s, t, false), 0);
    expect_err(s, 0, "/r/a/b", -ENOENT);
    expect_val(s, 0, "/r/a/z", "new");
}
END_TEST

START_TEST(txn_conflicts)
{
    struct rtv_store *s = d0.xs;
    struct rtv_xen other;
    struct rtv_store *o = guest(&other, 0);
    rtv_txn_t t;
    char *v;
    char **names;
    unsigned n;

    /* A node read by the transaction changes underneath it. */
    put(s, 0, "/k/a", "1");
    ck_assert_int_eq(rtv_xs_txn_start(s, &t), 0);
    ck_assert_int_eq(rtv_xs_read(s, t, "/k/a", &v, NULL), 0);
    free(v);
    put(o, 0, "/k/a", "2");
    put(s, t, "/k/b", "x");
    ck_assert_int_eq(rtv_xs_txn_end(s, t, false), -EAGAIN);
    expect_err(s, 0, "/k/b", -ENOENT);      /* nothing of it applied */

    /* A node the transaction found absent appears. */
    ck_assert_int_eq(rtv_xs_txn_start(s, &t), 0);
    expect_err(s, t, "/k/c", -ENOENT);
    put(o, 0, "/k/c", "3");
    ck_assert_int_eq(rtv_xs_txn_end(s, t, false), -EAGAIN);

    /* A directory it listed gains a child. */
    ck_assert_int_eq(rtv_xs_txn_start(s, &t), 0);
    ck_assert_int_eq(rtv_xs_directory(s, t, "/k", &names, &n), 0);
    free(names);
    put(o, 0, "/k/d", "4");
    ck_assert_int_eq(rtv_xs_txn_end(s, t, false), -EAGAIN);

    /* Two writers of the same node: the second commit loses. */
    rtv_txn_t t2;
    ck_assert_int_eq(rtv_xs_txn_start(s, &t), 0);
    ck_assert_int_eq(rtv_xs_txn_start(o, &t2), 0);
    put(s, t, "/k/a", "from-t");
    put(o, t2, "/k/a", "from-t2");
    ck_assert_int_eq(rtv_xs_txn_end(o, t2, false), 0);
    ck_assert_int_eq(rtv_xs_txn_end(s, t, false), -EAGAIN);
    expect_val(s, 0, "/k/a", "from-t2");

    /* Unrelated changes elsewhere do not conflict. */
    ck_assert_int_eq(rtv_xs_txn_start(s, &t), 0);
    expect_val(s, t, "/k/a", "from-t2");
    put(o, 0, "/elsewhere/x", "1");
    put(s, t, "/k/a", "mine");
    ck_assert_int_eq(rtv_xs_txn_end(s, t, false), 0);
    expect_val(s, 0, "/k/a", "mine");
    rtv_xen_close(&other);
}
END_TEST

struct body_arg {
    struct rtv_store *intruder;
    unsigned runs;
    unsigned conflicts_left;
};

/* Reads a counter and writes it back incremented; the first runs have a
 * second connection change the counter between the read and the commit. */
static int bump_body(struct rtv_store *s, rtv_txn_t t, void *arg)
{
    struct body_arg *a = arg;
    unsigned long long v = 0;
    int rc;

    a->runs++;
    rc = rtv_xs_read_uint(s, t, "/n", 1000000, &v);
    if (rc < 0 && rc != -ENOENT)
        return rc;
    if (a->conflicts_left > 0) {
        a->conflicts_left--;
        rc = rtv_xs_printf(a->intruder, 0, "/n", "%llu", v + 100);
        if (rc < 0)
            return rc;
    }
    return rtv_xs_printf(s, t, "/n", "%llu", v + 1);
}

START_TEST(transact_retries)
{
    struct rtv_xen other;
    struct body_arg a = { .intruder = guest(&other, 0), .conflicts_left = 2 };

    put(d0.xs, 0, "/n", "0");
    ck_assert_int_eq(rtv_xs_transact(d0.xs, 0, bump_body, &a), 0);
    ck_assert_uint_eq(a.runs, 3);
    /* intruder wrote 100 twice on top of what it read, then our +1 */
    expect_val(d0.xs, 0, "/n", "201");
    rtv_xen_close(&other);
}
END_TEST

START_TEST(transact_injected_commit_eagain)
{
    struct body_arg a = { 0 };

    rtv_local_fault_set(hub, RTV_FAULT_XS_TXN_COMMIT, 0, 3, EAGAIN);
    ck_assert_int_eq(rtv_xs_transact(d0.xs, 0, bump_body, &a), 0);
    ck_assert_uint_eq(a.runs, 4);
    ck_assert_uint_eq(rtv_local_fault_hits(hub, RTV_FAULT_XS_TXN_COMMIT), 3);
    expect_val(d0.xs, 0, "/n", "1");

    /* skip: the first commit succeeds, the next fails */
    rtv_local_fault_set(hub, RTV_FAULT_XS_TXN_COMMIT, 1, 1, EAGAIN);
    rtv_txn_t t;
    ck_assert_int_eq(rtv_xs_txn_start(d0.xs, &t), 0);
    ck_assert_int_eq(rtv_xs_txn_end(d0.xs, t, false), 0);
    ck_assert_int_eq(rtv_xs_txn_start(d0.xs, &t), 0);
    put(d0.xs, t, "/n", "lost");
    ck_assert_int_eq(rtv_xs_txn_end(d0.xs, t, false), -EAGAIN);
    expect_val(d0.xs, 0, "/n", "1");
    ck_assert_uint_eq(rtv_local_fault_hits(hub, RTV_FAULT_XS_TXN_COMMIT), 4);
}
END_TEST

START_TEST(transact_budget_exhausted)
{
    struct body_arg a = { 0 };

    rtv_local_fault_set(hub, RTV_FAULT_XS_TXN_COMMIT, 0, 1000, EAGAIN);
    ck_assert_int_eq(rtv_xs_transact(d0.xs, 5, bump_body, &a), -EAGAIN);
    ck_assert_uint_eq(a.runs, 5);
    ck_assert_uint_eq(rtv_local_fault_hits(hub, RTV_FAULT_XS_TXN_COMMIT), 5);
    expect_err(d0.xs, 0, "/n", -ENOENT);
    /* No transaction leaked: the table is not full of dead ones. */
    rtv_local_fault_set(hub, RTV_FAULT_XS_TXN_COMMIT, 0, 0, 0);
    ck_assert_int_eq(rtv_xs_transact(d0.xs, 0, bump_body, &a), 0);
}
END_TEST

START_TEST(txn_watches_fire_at_commit)
{
    struct rtv_store *s = d0.xs;
    struct evs e;
    rtv_txn_t t;

    ck_assert_int_eq(rtv_xs_watch(s, "/tw", "t"), 0);
    drain(s, &e);
    ck_assert_int_eq(rtv_xs_txn_start(s, &t), 0);
    put(s, t, "/tw/x", "1");
    ck_assert_int_eq(rtv_xs_mkdir(s, t, "/tw/y"), 0);
    drain(s, &e);
    ck_assert_uint_eq(e.n, 0);
    ck_assert(!fd_readable(rtv_xs_watch_fd(s), 0));
    ck_assert_int_eq(rtv_xs_txn_end(s, t, false), 0);
    drain(s, &e);
    ck_assert(has_ev(&e, "/tw/x", "t"));
    ck_assert(has_ev(&e, "/tw/y", "t"));

    /* Aborted or failed transactions fire nothing. */
    ck_assert_int_eq(rtv_xs_txn_start(s, &t), 0);
    put(s, t, "/tw/z", "1");
    ck_assert_int_eq(rtv_xs_txn_end(s, t, true), 0);
    rtv_local_fault_set(hub, RTV_FAULT_XS_TXN_COMMIT, 0, 1, EAGAIN);
    ck_assert_int_eq(rtv_xs_txn_start(s, &t), 0);
    put(s, t, "/tw/z", "1");
    ck_assert_int_eq(rtv_xs_txn_end(s, t, false), -EAGAIN);
    drain(s, &e);
    ck_assert_uint_eq(e.n, 0);
}
END_TEST

START_TEST(txn_perms_checked_inside)
{
    struct rtv_xen g5;
    struct rtv_store *s5 = guest(&g5, 5);
    rtv_txn_t t;

    make_domain_dir(5);
    put(d0.xs, 0, "/dom0only", "x");
    ck_assert_int_eq(rtv_xs_txn_start(s5, &t), 0);
    ck_assert_int_eq(rtv_xs_write(s5, t, "/dom0only", "y", 1), -EACCES);
    expect_err(s5, t, "/dom0only", -EACCES);
    put(s5, t, P5_AB, "ok");
    ck_assert_int_eq(rtv_xs_txn_end(s5, t, false), 0);
    struct rtv_xs_perm *perms;
    unsigned n;
    ck_assert_int_eq(rtv_xs_get_perms(d0.xs, 0, P5_A, &perms, &n), 0);
    ck_assert_uint_eq(perms[0].domid, 5);
    free(perms);
    expect_val(d0.xs, 0, "/dom0only", "x");
    rtv_xen_close(&g5);
}
END_TEST

/* Threads sharing one connection: every increment must survive. */
struct thr_arg {
    struct rtv_store *s;
    int rc;
};

static int incr_body(struct rtv_store *s, rtv_txn_t t, void *arg)
{
    (void)arg;
    unsigned long long v = 0;
    int rc = rtv_xs_read_uint(s, t, "/cnt", 1000000, &v);
    if (rc < 0 && rc != -ENOENT)
        return rc;
    return rtv_xs_printf(s, t, "/cnt", "%llu", v + 1);
}

static void *incr_thread(void *p)
{
    struct thr_arg *a = p;
    for (int i = 0; i < 200 && a->rc == 0; i++)
        a->rc = rtv_xs_transact(a->s, 1000, incr_body, NULL);
    return NULL;
}

START_TEST(threads_share_connection)
{
    pthread_t th[4];
    struct thr_arg a[4];

    for (int i = 0; i < 4; i++) {
        a[i].s = d0.xs;
        a[i].rc = 0;
        ck_assert_int_eq(pthread_create(&th[i], NULL, incr_thread, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(a[i].rc, 0);
    }
    expect_val(d0.xs, 0, "/cnt", "800");
}
END_TEST

/* ---- faults, capacity, release, robustness ------------------------------ */

START_TEST(fault_write_read)
{
    struct rtv_store *s = d0.xs;

    rtv_local_fault_set(hub, RTV_FAULT_XS_WRITE, 1, 2, EIO);
    ck_assert_int_eq(rtv_xs_write(s, 0, "/f", "1", 1), 0);
    ck_assert_int_eq(rtv_xs_write(s, 0, "/f", "2", 1), -EIO);
    ck_assert_int_eq(rtv_xs_write(s, 0, "/f", "3", 1), -EIO);
    ck_assert_int_eq(rtv_xs_write(s, 0, "/f", "4", 1), 0);
    ck_assert_uint_eq(rtv_local_fault_hits(hub, RTV_FAULT_XS_WRITE), 2);
    expect_val(s, 0, "/f", "4");

    rtv_local_fault_set(hub, RTV_FAULT_XS_READ, 0, 1, ENOMEM);
    expect_err(s, 0, "/f", -ENOMEM);
    expect_val(s, 0, "/f", "4");
    ck_assert_uint_eq(rtv_local_fault_hits(hub, RTV_FAULT_XS_READ), 1);
}
END_TEST

/* A fault aimed at one domain: only its calls count and fail; the count
 * starts again when the fault is set. */
START_TEST(fault_aimed_at_a_domain)
{
    struct rtv_xen g5;
    struct rtv_store *s5 = guest(&g5, 5);
    rtv_txn_t t;

    make_domain_dir(5);
    rtv_local_fault_set_dom(hub, RTV_FAULT_XS_WRITE, 5, 1, 1, EIO);
    put(d0.xs, 0, "/f", "dom0");                 /* not counted, not failed */
    ck_assert_int_eq(rtv_xs_write(s5, 0, P5_AB, "1", 1), 0);
    put(d0.xs, 0, "/f", "dom0 again");
    ck_assert_int_eq(rtv_xs_write(s5, 0, P5_AB, "2", 1), -EIO);
    ck_assert_int_eq(rtv_xs_write(s5, 0, P5_AB, "3", 1), 0);
    ck_assert_uint_eq(rtv_local_fault_calls(hub, RTV_FAULT_XS_WRITE), 3);
    ck_assert_uint_eq(rtv_local_fault_hits(hub, RTV_FAULT_XS_WRITE), 1);
    expect_val(s5, 0, P5_AB, "3");

    /* Transaction start, counted for everyone. */
    rtv_local_fault_set(hub, RTV_FAULT_XS_TXN_START, 1, 1, ENOSPC);
    ck_assert_int_eq(rtv_xs_txn_start(s5, &t), 0);
    ck_assert_int_eq(rtv_xs_txn_end(s5, t, true), 0);
    ck_assert_int_eq(rtv_xs_txn_start(d0.xs, &t), -ENOSPC);
    ck_assert_uint_eq(rtv_local_fault_calls(hub, RTV_FAULT_XS_TXN_START), 2);

    /* A fault point for an operation outside the hub. */
    rtv_local_fault_set_dom(hub, RTV_FAULT_IO_SUBMIT, 0, 0, 1, EAGAIN);
    ck_assert_int_eq(rtv_local_fault_point(hub, RTV_FAULT_IO_SUBMIT, 5), 0);
    ck_assert_int_eq(rtv_local_fault_point(hub, RTV_FAULT_IO_SUBMIT, 0), -EAGAIN);
    ck_assert_int_eq(rtv_local_fault_point(hub, RTV_FAULT_IO_SUBMIT, 0), 0);
    ck_assert_uint_eq(rtv_local_fault_calls(hub, RTV_FAULT_IO_SUBMIT), 2);
    rtv_xen_close(&g5);
}
END_TEST

/* What a connection holds: its watches and open transactions. */
START_TEST(held_watches_and_txns)
{
    struct rtv_local_held h;
    rtv_txn_t t;

    ck_assert_int_eq(rtv_local_held(&d0, &h), 0);
    ck_assert_uint_eq(h.watches + h.txns + h.ports + h.shared + h.mapped, 0);
    ck_assert_int_eq(rtv_xs_watch(d0.xs, "/hw", "t"), 0);
    ck_assert_int_eq(rtv_xs_txn_start(d0.xs, &t), 0);
    ck_assert_int_eq(rtv_local_held(&d0, &h), 0);
    ck_assert_uint_eq(h.watches, 1);
    ck_assert_uint_eq(h.txns, 1);
    ck_assert_int_eq(rtv_xs_txn_end(d0.xs, t, true), 0);
    ck_assert_int_eq(rtv_xs_unwatch(d0.xs, "/hw", "t"), 0);
    ck_assert_int_eq(rtv_local_held(&d0, &h), 0);
    ck_assert_uint_eq(h.watches + h.txns, 0);
}
END_TEST

START_TEST(capacity_limits)
{
    struct rtv_local_config cfg = { .max_nodes = 6, .max_conns = 2,
                                    .max_watches = 2, .max_txns = 2 };
    struct rtv_local_hub *h = rtv_local_hub_new(&cfg);
    struct rtv_xen x, y, z;
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(rtv_local_open(h, 0, RTV_XEN_STORE, &x), 0);
    ck_assert_int_eq(rtv_local_open(h, 1, RTV_XEN_STORE, &y), 0);
    ck_assert_int_eq(rtv_local_open(h, 2, RTV_XEN_STORE, &z), -ENOSPC);

    /* "/" + 5 nodes.  A write that needs more than what is left creates
     * nothing at all. */
    ck_assert_int_eq(rtv_xs_write(x.xs, 0, "/a/b", "", 0), 0);
    ck_assert_int_eq(rtv_xs_write(x.xs, 0, "/c/d/e/f", "", 0), -ENOSPC);
    expect_err(x.xs, 0, "/c", -ENOENT);
    ck_assert_int_eq(rtv_xs_write(x.xs, 0, "/c/d/e", "", 0), 0);
    ck_assert_int_eq(rtv_xs_write(x.xs, 0, "/g", "", 0), -ENOSPC);
    ck_assert_int_eq(rtv_xs_write(x.xs, 0, "/a/b", "still writable", 14), 0);
    /* Freed nodes are reusable. */
    ck_assert_int_eq(rtv_xs_rm(x.xs, 0, "/c"), 0);
    ck_assert_int_eq(rtv_xs_write(x.xs, 0, "/g/h/i", "", 0), 0);

    /* A commit that would not fit fails whole. */
    rtv_txn_t t, t2, t3;
    ck_assert_int_eq(rtv_xs_txn_start(x.xs, &t), 0);
    ck_assert_int_eq(rtv_xs_write(x.xs, t, "/j", "", 0), 0);
    ck_assert_int_eq(rtv_xs_write(x.xs, t, "/k", "", 0), 0);
    ck_assert_int_eq(rtv_xs_txn_start(x.xs, &t2), 0);
    ck_assert_int_eq(rtv_xs_txn_start(x.xs, &t3), -ENOSPC);
    ck_assert_int_eq(rtv_xs_txn_end(x.xs, t2, true), 0);
    ck_assert_int_eq(rtv_xs_txn_end(x.xs, t, false), -ENOSPC);
    expect_err(x.xs, 0, "/j", -ENOENT);

    ck_assert_int_eq(rtv_xs_watch(x.xs, "/a", "1"), 0);
    ck_assert_int_eq(rtv_xs_watch(y.xs, "/a", "2"), 0);
    ck_assert_int_eq(rtv_xs_watch(x.xs, "/a", "3"), -ENOSPC);
    ck_assert_int_eq(rtv_xs_unwatch(y.xs, "/a", "2"), 0);
    ck_assert_int_eq(rtv_xs_watch(x.xs, "/a", "3"), 0);

    /* Closing frees the connection slot and its watches. */
    rtv_xen_close(&x);
    ck_assert_ptr_null(x.xs);
    ck_assert_int_eq(rtv_local_open(h, 2, RTV_XEN_STORE, &z), 0);
    ck_assert_int_eq(rtv_xs_watch(z.xs, "/a", "4"), 0);
    rtv_xen_close(&y);
    rtv_xen_close(&z);
    rtv_local_hub_free(h);
}
END_TEST

START_TEST(open_rejects_bad_args)
{
    struct rtv_xen x;
    ck_assert_int_eq(rtv_local_open(hub, RTV_DOMID_MAX, RTV_XEN_STORE, &x), -EINVAL);
    ck_assert_int_eq(rtv_local_open(hub, 1, 0, &x), -EINVAL);
    ck_assert_int_eq(rtv_local_open(hub, 1, 1u << 7, &x), -EINVAL);
    ck_assert_int_eq(rtv_local_open(hub, 1, RTV_XEN_STORE, NULL), -EINVAL);
    ck_assert_int_eq(rtv_local_open(hub, 4, RTV_XEN_STORE, &x), 0);
    ck_assert_uint_eq(x.self, 4);
    ck_assert_ptr_null(x.gnt);
    ck_assert_ptr_null(x.evtchn);
    ck_assert_str_eq(x.xs->ops->name, "local");
    rtv_xen_close(&x);
    rtv_xen_close(&x);      /* closing a cleared bundle is harmless */
    rtv_xen_close(NULL);

    /* Absurd capacities are refused up front, not discovered later. */
    struct rtv_local_config cfg = { .max_nodes = 1u << 30 };
    errno = 0;
    ck_assert_ptr_null(rtv_local_hub_new(&cfg));
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(release_domain_fires_and_ends_txns)
{
    struct rtv_xen g5;
    struct rtv_store *s5 = guest(&g5, 5);
    struct evs e;
    rtv_txn_t t;

    make_domain_dir(5);
    ck_assert_int_eq(rtv_xs_watch(d0.xs, "@releaseDomain", "rel"), 0);
    ck_assert_int_eq(rtv_xs_watch(d0.xs, "@introduceDomain", "intro"), 0);
    drain(d0.xs, &e);
    ck_assert_uint_eq(e.n, 2);

    ck_assert_int_eq(rtv_xs_txn_start(s5, &t), 0);
    put(s5, t, P5_X, "1");
    ck_assert_int_eq(rtv_local_release_domain(hub, 5), 0);
    ck_assert(fd_readable(rtv_xs_watch_fd(d0.xs), 0));
    drain(d0.xs, &e);
    ck_assert_uint_eq(e.n, 1);
    ck_assert(has_ev(&e, "@releaseDomain", "rel"));
    ck_assert_int_eq(rtv_xs_txn_end(s5, t, false), -ENOENT);
    expect_err(d0.xs, 0, P5_X, -ENOENT);
    ck_assert_int_eq(rtv_local_release_domain(hub, RTV_DOMID_MAX), -EINVAL);
    /* Ordinary writes do not fire special watches. */
    put(d0.xs, 0, P5_Y, "1");
    drain(d0.xs, &e);
    ck_assert_uint_eq(e.n, 0);
    rtv_xen_close(&g5);
}
END_TEST

START_TEST(child_freeing_inherited_hub)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        rtv_xen_close(&d0);
        rtv_local_hub_free(hub);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    put(d0.xs, 0, "/still", "here");
    expect_val(d0.xs, 0, "/still", "here");
    struct rtv_xen other;
    expect_val(guest(&other, 0), 0, "/still", "here");
    rtv_xen_close(&other);
}
END_TEST

START_TEST(robust_lock_survives_sigkill)
{
    int fd;
    pid_t pid = rtv_test_fork_piped(&fd);
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        rtv_local_test_lock(hub);
        char c = 'L';
        if (write(fd, &c, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char c;
    ck_assert_int_eq(read(fd, &c, 1), 1);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status));
    /* Would hang (and hit Check's timeout) if the lock were wedged. */
    put(d0.xs, 0, "/after", "alive");
    expect_val(d0.xs, 0, "/after", "alive");
    /* And it still excludes: a holder makes our next op wait for it.  The
     * holder says 'U' just before it unlocks, so a write that waited finds
     * the 'U' already there.  Not a measured wait (it was >= 200 ms of a
     * 300 ms hold): on a loaded host our own start can come late. */
    close(fd);
    pid = rtv_test_fork_piped(&fd);
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        rtv_local_test_lock(hub);
        char l = 'L', u = 'U';
        if (write(fd, &l, 1) != 1)
            _exit(1);
        usleep(300 * 1000);
        if (write(fd, &u, 1) != 1)
            _exit(1);
        rtv_local_test_unlock(hub);
        _exit(0);
    }
    ck_assert_int_eq(read(fd, &c, 1), 1);
    ck_assert_int_eq(c, 'L');
    put(d0.xs, 0, "/after", "still");
    struct pollfd said = { .fd = fd, .events = POLLIN };
    ck_assert_msg(poll(&said, 1, 0) == 1, "write did not wait for the lock holder");
    ck_assert_int_eq(read(fd, &c, 1), 1);
    ck_assert_int_eq(c, 'U');
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fd);
}
END_TEST

/* A process stopped by rtv_local_stop_process() holds no lock of the hub.
 * The holder here has the lock about 96% of the time (5 ms held, let go
 * for 0.2 ms), so a plain SIGSTOP nearly always stops it holding it, and
 * the probe's write then waits for a holder that never runs again. */
START_TEST(stopped_process_holds_no_lock)
{
    int fd;
    char c;
    pid_t holder = rtv_test_fork_piped(&fd);

    ck_assert_int_ge(holder, 0);
    if (holder == 0) {
        for (bool said = false;; said = true) {
            rtv_local_test_lock(hub);
            if (!said && write(fd, "L", 1) != 1)
                _exit(1);
            usleep(5000);
            rtv_local_test_unlock(hub);
            usleep(200);
        }
    }
    ck_assert_int_eq(read(fd, &c, 1), 1);
    ck_assert_int_eq(rtv_local_stop_process(hub, holder, 5000), 0);
    pid_t probe = fork();
    ck_assert_int_ge(probe, 0);
    if (probe == 0)
        _exit(rtv_xs_write(d0.xs, 0, "/probe", "ran", 3) == 0 ? 0 : 1);
    ck_assert_msg(rtv_test_wait_pid(probe, 3000) == 0,
                  "a write waited 3 s for the stopped process: it kept the hub's lock");
    expect_val(d0.xs, 0, "/probe", "ran");
    ck_assert_int_eq(kill(holder, SIGKILL), 0);
    ck_assert_int_eq(waitpid(holder, NULL, 0), holder);
    /* A process that is gone is said so, not waited for. */
    ck_assert_int_eq(rtv_local_stop_process(hub, holder, 100), -ESRCH);
    close(fd);
}
END_TEST

static Suite *local_store_suite(void)
{
    Suite *s = suite_create("local_store");
    TCase *tree = rtv_unit_case(s, "tree", setup, teardown, 0);
    TCase *watch = rtv_unit_case(s, "watch", setup, teardown, 0);
    TCase *txn = rtv_unit_case(s, "txn", setup, teardown, 30);
    TCase *hubc = rtv_unit_case(s, "hub", setup, teardown, 0);

    RTV_UNIT_ADD(tree, read_write_basics, directory_mkdir_rm, path_validation,
                       perms_guest_vs_dom0);

    RTV_UNIT_ADD(watch, watch_fires_on_register_and_change, watch_respects_read_perms,
                        watch_coalescing_and_overflow, watch_across_fork,
                        child_closing_inherited_connection);

    RTV_UNIT_ADD(txn, txn_isolation_and_commit, txn_rm_and_abort, txn_conflicts,
                      transact_retries, transact_injected_commit_eagain,
                      transact_budget_exhausted, txn_watches_fire_at_commit,
                      txn_perms_checked_inside, threads_share_connection);

    RTV_UNIT_ADD(hubc, fault_write_read, fault_aimed_at_a_domain, held_watches_and_txns,
                       capacity_limits, open_rejects_bad_args,
                       release_domain_fires_and_ends_txns, child_freeing_inherited_hub,
                       robust_lock_survives_sigkill, stopped_process_holds_no_lock);
    return s;
}

RTV_UNIT_MAIN(local_store_suite)
