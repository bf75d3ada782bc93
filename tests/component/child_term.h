/*
 * SIGTERM for a daemon child of a component test.
 *
 * A process a test forks inherits Check's SIGTERM handler, which kills the
 * test's whole process group (the test, its qemu, every child).  A child the
 * test stops with SIGTERM (a daemon) is therefore forked between
 * rtv_test_term_hold() and the parent's rtv_test_term_release(), and
 * releases SIGTERM itself once its own handler and what that handler stops
 * exist: a SIGTERM sent earlier (seen on a loaded host, right after the
 * start) waits until then instead of taking the whole test down.
 */
#ifndef RTV_TEST_CHILD_TERM_H
#define RTV_TEST_CHILD_TERM_H

#include <signal.h>

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

#endif
