/*
 * Child processes of a test: forked so that they die with the test, their
 * SIGTERM held until their own handler exists, and waited for with a
 * bound.  Header-only, as xs_fixture.h.
 *
 * SIGTERM: a process a test forks inherits Check's SIGTERM handler, which
 * kills the test's whole process group (the test, its qemu, every child).
 * A child the test stops with SIGTERM (a daemon) is therefore forked
 * between rtv_test_term_hold() and the parent's rtv_test_term_release(),
 * and releases SIGTERM itself once its own handler and what that handler
 * stops exist: a SIGTERM sent earlier (seen on a loaded host, right after
 * the start) waits until then instead of taking the whole test down.
 */
#ifndef RTV_TESTS_CHILD_PROC_H
#define RTV_TESTS_CHILD_PROC_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static inline void rtv_test_term_hold(sigset_t *old)
{
    sigset_t term;

    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, old);
}

static inline void rtv_test_term_release(const sigset_t *old)
{
    sigprocmask(SIG_SETMASK, old, NULL);
}

/* fork() with a pipe from the child to the parent, for the child to say
 * it is ready or to send what it found: *fd is the pipe's write end in the
 * child and its read end in the parent, the other end closed in each.
 * -1 if the pipe or the fork failed. */
static inline pid_t rtv_test_fork_piped(int *fd)
{
    int p[2];

    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();

    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    close(pid == 0 ? p[0] : p[1]);
    *fd = pid == 0 ? p[1] : p[0];
    return pid;
}

/* fork(), with the child killed when the test process dies: a failed
 * assertion in the test must not leave a daemon, a qemu or a load
 * generator running on the machine.  A child whose parent is already gone
 * exits at once. */
static inline pid_t rtv_test_fork_child(void)
{
    pid_t parent = getpid();
    pid_t pid = fork();

    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
    }
    return pid;
}

/* Waits for pid up to ms; returns its exit status (128 + signal if killed
 * by one), or -1 when it had to be killed at the end of the wait. */
static inline int rtv_test_wait_pid(pid_t pid, int ms)
{
    int st;

    for (int t = 0; t < ms; t += 10) {
        pid_t r = waitpid(pid, &st, WNOHANG);

        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

/* What became of child *pid, in words, for a failure line: still
 * running, exited with a status, or killed by a signal (a crash that
 * printed nothing).  A child reaped here is forgotten (*pid = -1), so that
 * no later kill() hits a reused pid. */
static inline const char *rtv_test_child_fate(pid_t *pid, char *buf, size_t len)
{
    int st;
    pid_t w = *pid > 0 ? waitpid(*pid, &st, WNOHANG) : -1;

    if (w == 0)
        snprintf(buf, len, "pid %d still running", (int)*pid);
    else if (w == *pid && WIFSIGNALED(st))
        snprintf(buf, len, "pid %d killed by signal %d", (int)*pid, WTERMSIG(st));
    else if (w == *pid)
        snprintf(buf, len, "pid %d exited with %d", (int)*pid, WEXITSTATUS(st));
    else
        snprintf(buf, len, "pid %d: %s", (int)*pid, strerror(errno));
    if (w == *pid)
        *pid = -1;
    return buf;
}

#endif
