/*
 * xl-rtvirt p2m-identity: the operator's command for the P2M identity
 * rebuild, and the writer of the p2m section of the xenstore contract
 * (xenstore-schema/rtvirt-paths.md, section 6).
 *
 * The hypercall's tool is rtvirt-p2m (p2m-tools/), which knows nothing of
 * xenstore; this runs it as a child with --progress-lines, turns its
 * progress lines into xenstore figures (and a progress line on our stderr),
 * and its final JSON into the result nodes.  Every xenstore update is one
 * transaction, retried on EAGAIN.  The wait on the child is bounded by its
 * progress: past P2M_STALL_S seconds without a line it is killed and the
 * run fails.
 */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rtvirt/xs_schema.h"
#include "rtvirt/xs_util.h"
#include "xl_p2m.h"

/* rtvirt-p2m prints a progress line at least every second while it works
 * (and each hypercall is bounded by its batch); ten minutes of silence
 * means it hangs. */
#define P2M_STALL_S 600
#define PATH_LEN 256

struct p2m_fig {
    const char *state;              /* "running", "done", "failed" */
    unsigned long long total, done, pass, remapped, copied, busy, continuations;
    unsigned long long identity, failed;
    char error[1024];
    int final;                      /* identity/failed are known */
};

struct p2m_txn {
    rtv_domid_t dom;
    const struct p2m_fig *f;
};

/* One node of the domain's run record. */
static int put(struct rtv_store *xs, rtv_txn_t t, enum rtv_xs_node node, rtv_domid_t dom,
               const char *val)
{
    struct rtv_xs_args a = { .domid = dom };
    char path[PATH_LEN];

    if ( rtv_xs_path(path, sizeof(path), node, &a, NULL) < 0 )
        return -EINVAL;
    return rtv_xs_write(xs, t, path, val, strlen(val));
}

static int figures_txn(struct rtv_store *xs, rtv_txn_t t, void *arg)
{
    const struct p2m_txn *x = arg;
    const struct p2m_fig *f = x->f;
    rtv_domid_t d = x->dom;
    const struct { enum rtv_xs_node node; unsigned long long v; } nums[] = {
        { RTV_XS_P2M_PAGES_TOTAL, f->total }, { RTV_XS_P2M_PAGES_DONE, f->done },
        { RTV_XS_P2M_PASS, f->pass }, { RTV_XS_P2M_REMAPPED, f->remapped },
        { RTV_XS_P2M_COPIED, f->copied }, { RTV_XS_P2M_BUSY, f->busy },
        { RTV_XS_P2M_CONTINUATIONS, f->continuations },
        { RTV_XS_P2M_ALREADY_IDENTITY, f->identity }, { RTV_XS_P2M_FAILED, f->failed },
    };
    char num[24];
    int rc = 0;

    for ( size_t i = 0; i < sizeof(nums) / sizeof(nums[0]) && rc == 0; i++ )
    {
        snprintf(num, sizeof(num), "%llu", nums[i].v);
        rc = put(xs, t, nums[i].node, d, num);
    }
    rc = rc ? rc : put(xs, t, RTV_XS_P2M_ERROR, d, f->error);
    /* The state last: a watcher that sees done finds every figure final. */
    rc = rc ? rc : put(xs, t, RTV_XS_P2M_STATE, d, f->state);
    return rc;
}

/* One transaction with every node; a store failure is reported once and
 * does not stop the rebuild (the figures are a report, not the work). */
static void publish(struct rtv_store *xs, rtv_domid_t dom, const struct p2m_fig *f)
{
    static int warned;
    struct p2m_txn x = { dom, f };
    int rc = rtv_xs_transact(xs, 0, figures_txn, &x);

    if ( rc < 0 && !warned++ )
        fprintf(stderr, "xl-rtvirt: p2m-identity: cannot record the run in xenstore (%s); "
                "going on\n", strerror(-rc));
}

/* "RTV-P2M-PROGRESS pass=P done=D total=T remapped=R copies=C busy=B
 * continuations=K": every field optional, unknown ones ignored. */
static int parse_progress(const char *line, struct p2m_fig *f)
{
    static const struct { const char *key; size_t off; } keys[] = {
        { "pass=", offsetof(struct p2m_fig, pass) },
        { "done=", offsetof(struct p2m_fig, done) },
        { "total=", offsetof(struct p2m_fig, total) },
        { "remapped=", offsetof(struct p2m_fig, remapped) },
        { "copies=", offsetof(struct p2m_fig, copied) },
        { "busy=", offsetof(struct p2m_fig, busy) },
        { "continuations=", offsetof(struct p2m_fig, continuations) },
    };
    const char *p;
    size_t k;

    if ( strncmp(line, "RTV-P2M-PROGRESS ", 17) != 0 )
        return 0;
    for ( k = 0; k < sizeof(keys) / sizeof(keys[0]); k++ )
        if ( (p = strstr(line, keys[k].key)) )
        {
            char word[32];
            unsigned long long v;

            if ( sscanf(p + strlen(keys[k].key), "%31[0-9]", word) == 1 &&
                 rtv_parse_uint(word, ULLONG_MAX, &v) == 0 )
                *(unsigned long long *)((char *)f + keys[k].off) = v;
        }
    return 1;
}

static unsigned long long jnum(json_object *o, const char *key)
{
    json_object *v;

    return json_object_object_get_ex(o, key, &v) ? (unsigned long long)json_object_get_uint64(v)
                                                 : 0;
}

/* The child's final JSON into the figures. */
static json_object *take_result(const char *text, struct p2m_fig *f)
{
    json_object *o = json_tokener_parse(text), *cl;

    if ( !o || !json_object_is_type(o, json_type_object) )
    {
        json_object_put(o);
        return NULL;
    }
    f->remapped = jnum(o, "remapped");
    f->copied = jnum(o, "copies");
    f->busy = jnum(o, "busy");
    f->continuations = jnum(o, "continuations");
    f->failed = jnum(o, "failed");
    if ( json_object_object_get_ex(o, "classes", &cl) )
        f->identity = jnum(cl, "identity");
    f->final = 1;
    return o;
}

/* Where rtvirt-p2m is: next to us (an install puts both in one sbin), else
 * on PATH. */
static void tool_path(char *buf, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    snprintf(buf, len, "rtvirt-p2m");
    if ( n > 0 )
    {
        char *slash;

        self[n] = '\0';
        if ( (slash = strrchr(self, '/')) )
        {
            slash[1] = '\0';
            if ( strlen(self) + sizeof("rtvirt-p2m") <= len )
            {
                snprintf(buf, len, "%srtvirt-p2m", self);
                if ( access(buf, X_OK) == 0 )
                    return;
            }
        }
    }
    snprintf(buf, len, "rtvirt-p2m");
}

static void show_progress(const struct p2m_fig *f, int tty)
{
    fprintf(stderr, "xl-rtvirt: p2m-identity: pass %llu, %llu/%llu pages (%llu%%), "
            "%llu remapped, %llu busy%s", f->pass, f->done, f->total,
            f->total ? f->done * 100 / f->total : 0, f->remapped, f->busy, tty ? "\r" : "\n");
}

int xl_p2m_identity(struct rtv_store *xs, rtv_domid_t dom, const struct xl_p2m_opts *o)
{
    struct p2m_fig f = { .state = "running" };
    char tool[PATH_MAX], domarg[16], line[2048], *out = NULL;
    const char *argv[16];
    size_t outlen = 0, linelen = 0;
    int in[2], err[2], argc = 0, status = 0, tty = isatty(STDERR_FILENO), shown = 0;
    time_t last_line = time(NULL), last_pub = 0;
    json_object *res = NULL;
    pid_t pid;

    tool_path(tool, sizeof(tool));
    snprintf(domarg, sizeof(domarg), "%u", (unsigned)dom);
    argv[argc++] = tool;
    argv[argc++] = "identity";
    argv[argc++] = domarg;
    argv[argc++] = o->concurrent ? "--concurrent" : "--paused";
    if ( o->range )
    {
        argv[argc++] = "--range";
        argv[argc++] = o->range;
    }
    argv[argc++] = "--json";
    argv[argc++] = "--progress-lines";
    argv[argc] = NULL;

    publish(xs, dom, &f);
    if ( pipe(in) < 0 || pipe(err) < 0 )
    {
        perror("xl-rtvirt: p2m-identity: pipe");
        return EXIT_FAILURE;
    }
    pid = fork();
    if ( pid < 0 )
    {
        perror("xl-rtvirt: p2m-identity: fork");
        return EXIT_FAILURE;
    }
    if ( pid == 0 )
    {
        dup2(in[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        close(in[0]);
        close(in[1]);
        close(err[0]);
        close(err[1]);
        execvp(tool, (char *const *)argv);
        fprintf(stderr, "cannot run %s: %s\n", tool, strerror(errno));
        _exit(127);
    }
    close(in[1]);
    close(err[1]);

    /* Both pipes until both close; progress lines become figures. */
    for ( int open_fds = 2; open_fds > 0; )
    {
        struct pollfd pf[2] = { { in[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };
        char buf[4096];
        ssize_t n;

        if ( poll(pf, 2, 1000) < 0 && errno != EINTR )
            break;
        if ( time(NULL) - last_line > P2M_STALL_S )
        {
            kill(pid, SIGKILL);
            snprintf(f.error, sizeof(f.error), "rtvirt-p2m made no progress for %d s; killed",
                     P2M_STALL_S);
            break;
        }
        if ( pf[0].revents )
        {
            n = read(in[0], buf, sizeof(buf));
            if ( n <= 0 )
            {
                open_fds--;
                pf[0].fd = -1;
                close(in[0]);
                in[0] = -1;
            }
            else
            {
                char *m = realloc(out, outlen + (size_t)n + 1);

                if ( !m )
                    break;
                out = m;
                memcpy(out + outlen, buf, (size_t)n);
                outlen += (size_t)n;
                out[outlen] = '\0';
            }
        }
        if ( pf[1].revents )
        {
            n = read(err[0], buf, sizeof(buf));
            if ( n <= 0 )
            {
                open_fds--;
                close(err[0]);
                err[0] = -1;
                continue;
            }
            for ( ssize_t i = 0; i < n; i++ )
            {
                if ( buf[i] != '\n' && linelen + 1 < sizeof(line) )
                {
                    line[linelen++] = buf[i];
                    continue;
                }
                line[linelen] = '\0';
                linelen = 0;
                last_line = time(NULL);
                if ( parse_progress(line, &f) )
                {
                    if ( time(NULL) != last_pub )
                    {
                        last_pub = time(NULL);
                        publish(xs, dom, &f);
                        show_progress(&f, tty);
                        shown = 1;
                    }
                }
                else if ( line[0] )
                {
                    /* The tool's own messages: shown, the last one kept. */
                    fprintf(stderr, "%s%s\n", shown && tty ? "\n" : "", line);
                    shown = 0;
                    snprintf(f.error, sizeof(f.error), "%.1000s", line);
                }
            }
        }
    }
    if ( in[0] >= 0 )
        close(in[0]);
    if ( err[0] >= 0 )
        close(err[0]);
    if ( shown && tty )
        fputc('\n', stderr);
    waitpid(pid, &status, 0);

    res = out ? take_result(out, &f) : NULL;
    if ( WIFEXITED(status) && WEXITSTATUS(status) == 0 && res )
    {
        f.state = "done";
        f.error[0] = '\0';
        f.done = f.total;
    }
    else
    {
        f.state = "failed";
        if ( !f.error[0] )
            snprintf(f.error, sizeof(f.error), "rtvirt-p2m %s %d",
                     WIFEXITED(status) ? "exited with" : "killed by signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
    publish(xs, dom, &f);

    if ( o->json && res )
        printf("%s\n", json_object_to_json_string_ext(res, JSON_C_TO_STRING_PLAIN));
    else if ( !o->json && res )
        printf("domain %u: %s; %llu pages remapped (%llu copies, %llu hypervisor "
               "continuations), %llu identity, %llu cannot be made identity, %llu busy\n",
               (unsigned)dom, f.state, f.remapped, f.copied, f.continuations, f.identity,
               f.failed, f.busy);
    if ( strcmp(f.state, "done") != 0 )
        fprintf(stderr, "xl-rtvirt: p2m-identity of domain %u failed: %s\n", (unsigned)dom,
                f.error);
    json_object_put(res);
    free(out);
    return strcmp(f.state, "done") == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
