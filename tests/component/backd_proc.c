/* rtvirt-backd's engine in a child process of a component test (backd_proc.h). */
#include "backd_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child_proc.h"
#include "rtvirt/clock.h"
#include "unit.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

int rtv_test_leak_check(void)
{
#if defined(__SANITIZE_ADDRESS__)
    /* _exit() skips LeakSanitizer's own check at exit: ask for it here. */
    return __lsan_do_recoverable_leak_check() != 0;
#else
    return 0;
#endif
}

int rtv_test_held_nothing(const struct rtv_xen *x, const char *who)
{
    struct rtv_local_held h;

    if (rtv_local_held(x, &h) < 0) {
        fprintf(stderr, "%s: cannot read what it holds\n", who);
        return 1;
    }
    if (h.shared || h.mapped || h.ports || h.watches || h.txns) {
        fprintf(stderr, "%s still holds %u shared and %u mapped grant pages, %u ports, "
                "%u watches, %u transactions\n", who, h.shared, h.mapped, h.ports,
                h.watches, h.txns);
        return 1;
    }
    return 0;
}

/* The child's daemon and its SIGTERM. */
static struct backd *child_backd;
static volatile sig_atomic_t child_term;

static void on_term(int sig)
{
    (void)sig;
    child_term = 1;
    if (child_backd != NULL)
        backd_stop(child_backd);
}

/* The child's loop: short runs, after each the counters if they changed.
 * Those writes never block (the daemon must not stall on a test that is
 * not reading: a record that did not fit is sent again after the next
 * run); the last one, after the stop, does. */
static int backend_child_run(int fd)
{
    struct backd_stats st, sent;
    bool unsent = true;
    int rc = 0;

    fcntl(fd, F_SETFL, O_NONBLOCK);
    while (!child_term && rc == 0) {
        rc = backd_run(child_backd, 20);
        backd_get_stats(child_backd, &st);
        if (unsent || memcmp(&st, &sent, sizeof(st)) != 0) {
            unsent = write(fd, &st, sizeof(st)) != (ssize_t)sizeof(st);
            sent = st;
        }
    }
    fcntl(fd, F_SETFL, 0);
    backd_get_stats(child_backd, &st);
    if (write(fd, &st, sizeof(st)) != (ssize_t)sizeof(st))
        return BACKD_PROC_PIPE;
    return rc < 0 ? BACKD_PROC_RUN_FAILED : 0;
}

struct backend_proc start_backend(struct rtv_local_hub *hub, const struct backd_config *cfg)
{
    int p[2];
    struct backend_proc bp;
    sigset_t old;

    memset(&bp, 0, sizeof(bp));
    ck_assert_int_eq(pipe(p), 0);
    rtv_test_term_hold(&old);
    bp.pid = fork();
    ck_assert_int_ge(bp.pid, 0);
    if (bp.pid == 0) {
        struct rtv_xen x;
        struct sigaction sa;

        close(p[0]);
        if (rtv_local_open(hub, 0, RTV_XEN_ALL, &x) < 0)
            _exit(BACKD_PROC_OPEN_FAILED);
        child_backd = backd_new(&x, cfg);
        if (child_backd == NULL)
            _exit(BACKD_PROC_NEW_FAILED);
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_term;
        sigaction(SIGTERM, &sa, NULL);
        rtv_test_term_release(&old);
        int rc = backend_child_run(p[1]);
        backd_free(child_backd);
        if (rc == 0 && rtv_test_held_nothing(&x, "rtvirt-backd"))
            rc = BACKD_PROC_HELD;
        rtv_xen_close(&x);
        if (rc == 0 && rtv_test_leak_check())
            rc = BACKD_PROC_LEAKED;
        _exit(rc);
    }
    rtv_test_term_release(&old);
    close(p[1]);
    bp.stats_fd = p[0];
    return bp;
}

void drain_backend(struct backend_proc *bp)
{
    struct pollfd pfd = { .fd = bp->stats_fd, .events = POLLIN };

    while (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN) &&
           read(bp->stats_fd, &bp->last, sizeof(bp->last)) == (ssize_t)sizeof(bp->last))
        ;
}

void wait_backend(struct backend_proc *bp, bool (*ok)(const struct backd_stats *), int ms)
{
    struct pollfd pfd = { .fd = bp->stats_fd, .events = POLLIN };
    uint64_t end = rtv_now_ms() + (uint64_t)ms;

    while (!ok(&bp->last) && rtv_now_ms() < end)
        if (poll(&pfd, 1, 50) == 1)
            ck_assert_int_eq(read(bp->stats_fd, &bp->last, sizeof(bp->last)),
                             (ssize_t)sizeof(bp->last));
}

int stop_backend_status(struct backend_proc bp, struct backd_stats *last)
{
    struct pollfd pfd = { .fd = bp.stats_fd, .events = POLLIN };
    ssize_t n;

    kill(bp.pid, SIGTERM);
    /* Its records up to the end of the pipe: it may wait for room there. */
    do {
        if (poll(&pfd, 1, 5000) != 1)
            break;
        n = read(bp.stats_fd, &bp.last, sizeof(bp.last));
        ck_assert(n == 0 || n == (ssize_t)sizeof(bp.last));
    } while (n > 0);
    int rc = rtv_test_wait_pid(bp.pid, 5000);
    close(bp.stats_fd);
    if (last != NULL)
        *last = bp.last;
    return rc;
}

struct backd_stats stop_backend(struct backend_proc bp)
{
    struct backd_stats st;

    /* 0: the last record was written, nothing held, nothing leaked. */
    ck_assert_int_eq(stop_backend_status(bp, &st), 0);
    return st;
}

struct backd_stats stop_surviving_backend(struct backend_proc bp)
{
    ck_assert_int_eq(waitpid(bp.pid, NULL, WNOHANG), 0);
    return stop_backend(bp);
}
