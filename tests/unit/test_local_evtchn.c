/*
 * Unit tests for the local event channels (common/local/evtchn.c): the
 * alloc/bind/notify/pending/unmask round trip in one process and between
 * two processes polling their fds, Linux-evtchn masking, the bind checks,
 * unbind and close, capacity, fault injection and domain release.
 *
 * Fixture: a fresh hub per test, domain 1 (`e1`, the "backend") and
 * domain 2 (`e2`, the "frontend").
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rtvirt/local.h"
#include "child_proc.h"
#include "hub_fixture.h"
#include "unit.h"

static struct rtv_local_hub *hub;
static struct rtv_xen x1, x2;
static struct rtv_evtchn *e1, *e2;

static void setup(void)
{
    hub = rtv_test_hub_two(RTV_XEN_EVTCHN, &x1, &x2);
    e1 = x1.evtchn;
    e2 = x2.evtchn;
}

static void teardown(void)
{
    rtv_test_hub_two_close(hub, &x1, &x2);
}

static bool readable(struct rtv_evtchn *e, int timeout_ms)
{
    struct pollfd pfd = { .fd = e->ops->fd(e), .events = POLLIN };
    return poll(&pfd, 1, timeout_ms) == 1 && (pfd.revents & POLLIN);
}

/* Pops one port; returns it, or 0 if none was pending. */
static rtv_port_t pop(struct rtv_evtchn *e)
{
    rtv_port_t p = 0;
    int rc = e->ops->pending(e, &p);
    if (rc == -EAGAIN)
        return 0;
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_ne(p, 0);
    return p;
}

/* Connects e1 (unbound side) and e2 (binding side); eats the event Xen
 * leaves pending on a freshly bound port. */
static void link_ports(rtv_port_t *p1, rtv_port_t *p2)
{
    ck_assert_int_eq(e1->ops->alloc_unbound(e1, 2, p1), 0);
    ck_assert_int_eq(e2->ops->bind_interdomain(e2, 1, *p1, p2), 0);
    ck_assert_uint_ne(*p1, *p2);
    ck_assert(readable(e2, 0));
    ck_assert_uint_eq(pop(e2), *p2);
    ck_assert_int_eq(e2->ops->unmask(e2, *p2), 0);
    ck_assert(!readable(e2, 0));
    ck_assert(!readable(e1, 0));
}

START_TEST(round_trip)
{
    rtv_port_t p1, p2;
    link_ports(&p1, &p2);

    ck_assert_int_eq(e2->ops->notify(e2, p2), 0);
    ck_assert(readable(e1, 0));
    ck_assert(!readable(e2, 0));
    ck_assert_uint_eq(pop(e1), p1);
    ck_assert_uint_eq(pop(e1), 0);
    ck_assert(!readable(e1, 0));
    ck_assert_int_eq(e1->ops->unmask(e1, p1), 0);

    ck_assert_int_eq(e1->ops->notify(e1, p1), 0);
    ck_assert(readable(e2, 0));
    ck_assert_uint_eq(pop(e2), p2);
    ck_assert_int_eq(e2->ops->unmask(e2, p2), 0);
    ck_assert_str_eq(e1->ops->name, "local");
}
END_TEST

START_TEST(round_trip_across_fork)
{
    rtv_port_t p1;
    ck_assert_int_eq(e1->ops->alloc_unbound(e1, 2, &p1), 0);

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* The frontend process: binds, then answers every kick with one. */
        struct rtv_xen c;
        rtv_port_t p2, got;
        if (rtv_local_open(hub, 2, RTV_XEN_EVTCHN, &c) != 0)
            _exit(1);
        if (c.evtchn->ops->bind_interdomain(c.evtchn, 1, p1, &p2) != 0)
            _exit(2);
        if (c.evtchn->ops->pending(c.evtchn, &got) != 0 || got != p2)
            _exit(3);
        c.evtchn->ops->unmask(c.evtchn, p2);
        if (c.evtchn->ops->notify(c.evtchn, p2) != 0)
            _exit(4);
        for (int i = 0; i < 50; i++) {
            struct pollfd pfd = { .fd = c.evtchn->ops->fd(c.evtchn), .events = POLLIN };
            if (poll(&pfd, 1, 5000) != 1)
                _exit(5);
            if (c.evtchn->ops->pending(c.evtchn, &got) != 0 || got != p2)
                _exit(6);
            c.evtchn->ops->unmask(c.evtchn, p2);
            if (c.evtchn->ops->notify(c.evtchn, p2) != 0)
                _exit(7);
        }
        rtv_xen_close(&c);
        _exit(0);
    }
    for (int i = 0; i <= 50; i++) {
        ck_assert_msg(readable(e1, 5000), "no event in round %d", i);
        ck_assert_uint_eq(pop(e1), p1);
        ck_assert_int_eq(e1->ops->unmask(e1, p1), 0);
        if (i < 50)
            ck_assert_int_eq(e1->ops->notify(e1, p1), 0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child status %d", status);
}
END_TEST

START_TEST(masking)
{
    rtv_port_t p1, p2;
    link_ports(&p1, &p2);

    /* Notifications before the port is read merge into one. */
    ck_assert_int_eq(e2->ops->notify(e2, p2), 0);
    ck_assert_int_eq(e2->ops->notify(e2, p2), 0);
    ck_assert_uint_eq(pop(e1), p1);
    ck_assert_uint_eq(pop(e1), 0);

    /* Delivered means masked: more notifications wait for unmask. */
    ck_assert_int_eq(e2->ops->notify(e2, p2), 0);
    ck_assert(!readable(e1, 0));
    ck_assert_uint_eq(pop(e1), 0);
    ck_assert_int_eq(e1->ops->unmask(e1, p1), 0);
    ck_assert(readable(e1, 0));
    ck_assert_uint_eq(pop(e1), p1);

    /* Unmask with nothing pending delivers nothing; unmasking twice or a
     * port that is not ours is ignored, as Linux's evtchn does. */
    ck_assert_int_eq(e1->ops->unmask(e1, p1), 0);
    ck_assert_int_eq(e1->ops->unmask(e1, p1), 0);
    ck_assert(!readable(e1, 0));
    ck_assert_int_eq(e1->ops->unmask(e1, p2), 0);
    ck_assert_int_eq(e1->ops->unmask(e1, 0), 0);
    ck_assert(!readable(e2, 0));

    /* Several ports, each delivered once. */
    rtv_port_t q1, q2;
    link_ports(&q1, &q2);
    ck_assert_int_eq(e2->ops->notify(e2, q2), 0);
    ck_assert_int_eq(e2->ops->notify(e2, p2), 0);
    ck_assert_int_eq(e2->ops->notify(e2, q2), 0);
    rtv_port_t a = pop(e1), b = pop(e1);
    ck_assert_uint_eq(pop(e1), 0);
    ck_assert((a == q1 && b == p1) || (a == p1 && b == q1));
}
END_TEST

START_TEST(bind_checks)
{
    rtv_port_t p1, for3, lp;

    ck_assert_int_eq(e1->ops->alloc_unbound(e1, 2, &p1), 0);
    ck_assert_int_eq(e1->ops->alloc_unbound(e1, 3, &for3), 0);
    /* Port meant for another domain. */
    ck_assert_int_eq(e2->ops->bind_interdomain(e2, 1, for3, &lp), -EINVAL);
    /* Wrong owner named. */
    ck_assert_int_eq(e2->ops->bind_interdomain(e2, 4, p1, &lp), -EINVAL);
    /* Nonexistent ports. */
    ck_assert_int_eq(e2->ops->bind_interdomain(e2, 1, 0, &lp), -EINVAL);
    ck_assert_int_eq(e2->ops->bind_interdomain(e2, 1, 100000, &lp), -EINVAL);
    ck_assert_int_eq(e2->ops->bind_interdomain(e2, 1, p1 + 50, &lp), -EINVAL);
    ck_assert_int_eq(e2->ops->bind_interdomain(e2, RTV_DOMID_MAX, p1, &lp), -EINVAL);
    ck_assert_int_eq(e1->ops->alloc_unbound(e1, RTV_DOMID_MAX, &lp), -EINVAL);
    /* Bound once, not twice. */
    ck_assert_int_eq(e2->ops->bind_interdomain(e2, 1, p1, &lp), 0);
    rtv_port_t again;
    ck_assert_int_eq(e2->ops->bind_interdomain(e2, 1, p1, &again), -EINVAL);
    /* An interdomain port cannot be the target of a bind either. */
    ck_assert_int_eq(e1->ops->bind_interdomain(e1, 2, lp, &again), -EINVAL);
    /* Notify on ports we do not own. */
    ck_assert_int_eq(e2->ops->notify(e2, p1), -ENOTCONN);
    ck_assert_int_eq(e2->ops->notify(e2, 0), -ENOTCONN);
    ck_assert_int_eq(e2->ops->unbind(e2, p1), -ENOTCONN);
    /* Notify on a still unbound port is dropped, as Xen does. */
    ck_assert_int_eq(e1->ops->notify(e1, for3), 0);
    ck_assert(!readable(e1, 0));
}
END_TEST

START_TEST(unbind_reverts_peer)
{
    rtv_port_t p1, p2, p2b;
    link_ports(&p1, &p2);

    /* A queued, unread event disappears with the port. */
    ck_assert_int_eq(e1->ops->notify(e1, p1), 0);
    ck_assert(readable(e2, 0));
    ck_assert_int_eq(e2->ops->unbind(e2, p2), 0);
    ck_assert(!readable(e2, 0));
    ck_assert_uint_eq(pop(e2), 0);
    ck_assert_int_eq(e2->ops->unbind(e2, p2), -ENOTCONN);
    ck_assert_int_eq(e2->ops->notify(e2, p2), -ENOTCONN);

    /* The other end is unbound again: its notifications go nowhere... */
    ck_assert_int_eq(e1->ops->notify(e1, p1), 0);
    ck_assert(!readable(e2, 0));
    /* ...and the same remote domain may bind it anew. */
    ck_assert_int_eq(e2->ops->bind_interdomain(e2, 1, p1, &p2b), 0);
    ck_assert_uint_eq(pop(e2), p2b);
    ck_assert_int_eq(e2->ops->unmask(e2, p2b), 0);
    ck_assert_int_eq(e1->ops->notify(e1, p1), 0);
    ck_assert_uint_eq(pop(e2), p2b);

    /* The unbound side may unbind too; then the port is gone. */
    ck_assert_int_eq(e1->ops->unbind(e1, p1), 0);
    ck_assert_int_eq(e1->ops->notify(e1, p1), -ENOTCONN);
    ck_assert_int_eq(e2->ops->notify(e2, p2b), 0);    /* dropped */
    ck_assert(!readable(e1, 0));
}
END_TEST

START_TEST(close_unbinds)
{
    rtv_port_t p1, p2, p3;
    link_ports(&p1, &p2);
    ck_assert_int_eq(e2->ops->notify(e2, p2), 0);
    ck_assert(readable(e1, 0));
    rtv_xen_close(&x1);
    ck_assert_ptr_null(x1.evtchn);

    /* e2's port survives, unbound, and nothing reaches anyone. */
    ck_assert_int_eq(e2->ops->notify(e2, p2), 0);
    /* A new connection of domain 1 starts clean and can bind to it. */
    ck_assert_int_eq(rtv_local_open(hub, 1, RTV_XEN_EVTCHN, &x1), 0);
    e1 = x1.evtchn;
    ck_assert(!readable(e1, 0));
    ck_assert_int_eq(e1->ops->bind_interdomain(e1, 2, p2, &p3), 0);
    ck_assert_uint_eq(pop(e1), p3);
}
END_TEST

START_TEST(child_closing_inherited_handles)
{
    rtv_port_t p1, p2;
    link_ports(&p1, &p2);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int rc = e2->ops->notify(e2, p2);     /* usable in the child */
        rtv_xen_close(&x1);
        rtv_xen_close(&x2);
        _exit(rc == 0 ? 0 : 1);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The channel is still bound, and the child's kick arrived. */
    ck_assert(readable(e1, 0));
    ck_assert_uint_eq(pop(e1), p1);
    ck_assert_int_eq(e1->ops->unmask(e1, p1), 0);
    ck_assert_int_eq(e1->ops->notify(e1, p1), 0);
    ck_assert_uint_eq(pop(e2), p2);
}
END_TEST

/* A process killed with its channel bound (kill -9 of a backend daemon)
 * closes nothing itself: as the kernel does for a dead process's
 * /dev/xen/evtchn, the hub closes its ports when the next connection is
 * opened, so the peer's port is unbound again and a successor binds it. */
START_TEST(killed_process_ports_are_closed)
{
    rtv_port_t p2, p3;
    int ready;
    char c;

    ck_assert_int_eq(e2->ops->alloc_unbound(e2, 1, &p2), 0);
    pid_t pid = rtv_test_fork_piped(&ready);
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct rtv_xen xc;
        rtv_port_t pc;

        if (rtv_local_open(hub, 1, RTV_XEN_EVTCHN, &xc) < 0 ||
            xc.evtchn->ops->bind_interdomain(xc.evtchn, 2, p2, &pc) < 0 ||
            write(ready, "b", 1) != 1)
            _exit(1);
        pause();                      /* killed here, nothing closed */
        _exit(2);
    }
    ck_assert_int_eq(read(ready, &c, 1), 1);
    /* Bound to the child: nobody else may bind it. */
    ck_assert_int_eq(e1->ops->bind_interdomain(e1, 2, p2, &p3), -EINVAL);
    kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    /* The successor's connection: the dead one's port is closed first. */
    struct rtv_xen x3;
    ck_assert_int_eq(rtv_local_open(hub, 1, RTV_XEN_EVTCHN, &x3), 0);
    ck_assert_int_eq(x3.evtchn->ops->bind_interdomain(x3.evtchn, 2, p2, &p3), 0);
    ck_assert_uint_eq(pop(x3.evtchn), p3);
    ck_assert_int_eq(x3.evtchn->ops->unmask(x3.evtchn, p3), 0);
    ck_assert_int_eq(e2->ops->notify(e2, p2), 0);
    ck_assert_uint_eq(pop(x3.evtchn), p3);
    rtv_xen_close(&x3);
    close(ready);
}
END_TEST

START_TEST(capacity)
{
    struct rtv_local_config cfg = { .max_ports = 3 };
    struct rtv_local_hub *h = rtv_local_hub_new(&cfg);
    struct rtv_xen a, b;
    rtv_port_t p[4];
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(rtv_local_open(h, 1, RTV_XEN_EVTCHN, &a), 0);
    ck_assert_int_eq(rtv_local_open(h, 2, RTV_XEN_EVTCHN, &b), 0);
    ck_assert_int_eq(a.evtchn->ops->alloc_unbound(a.evtchn, 2, &p[0]), 0);
    ck_assert_int_eq(a.evtchn->ops->alloc_unbound(a.evtchn, 2, &p[1]), 0);
    ck_assert_int_eq(b.evtchn->ops->bind_interdomain(b.evtchn, 1, p[0], &p[2]), 0);
    ck_assert_int_eq(a.evtchn->ops->alloc_unbound(a.evtchn, 2, &p[3]), -ENOSPC);
    ck_assert_int_eq(b.evtchn->ops->bind_interdomain(b.evtchn, 1, p[1], &p[3]), -ENOSPC);
    /* The failed bind left p[1] bindable. */
    ck_assert_int_eq(b.evtchn->ops->unbind(b.evtchn, p[2]), 0);
    ck_assert_int_eq(b.evtchn->ops->bind_interdomain(b.evtchn, 1, p[1], &p[3]), 0);
    /* Every port queued at once still fits the ring. */
    ck_assert_int_eq(b.evtchn->ops->notify(b.evtchn, p[3]), 0);
    rtv_xen_close(&a);
    rtv_xen_close(&b);
    rtv_local_hub_free(h);
}
END_TEST

START_TEST(fault_injection)
{
    rtv_port_t p1, p2, q1, q2;

    ck_assert_int_eq(e1->ops->alloc_unbound(e1, 2, &p1), 0);
    ck_assert_int_eq(e1->ops->alloc_unbound(e1, 2, &q1), 0);
    rtv_local_fault_set(hub, RTV_FAULT_EVTCHN_BIND, 0, 1, EBUSY);
    ck_assert_int_eq(e2->ops->bind_interdomain(e2, 1, p1, &p2), -EBUSY);
    ck_assert_uint_eq(rtv_local_fault_hits(hub, RTV_FAULT_EVTCHN_BIND), 1);
    /* Nothing half-bound: the same port binds now. */
    ck_assert_int_eq(e2->ops->bind_interdomain(e2, 1, p1, &p2), 0);
    ck_assert_int_eq(e2->ops->bind_interdomain(e2, 1, q1, &q2), 0);

    rtv_local_fault_set(hub, RTV_FAULT_EVTCHN_NOTIFY, 1, 2, EIO);
    ck_assert_int_eq(e1->ops->notify(e1, p1), 0);
    ck_assert_int_eq(e1->ops->notify(e1, q1), -EIO);
    ck_assert_int_eq(e1->ops->notify(e1, q1), -EIO);
    ck_assert_int_eq(e1->ops->notify(e1, q1), 0);
    ck_assert_uint_eq(rtv_local_fault_hits(hub, RTV_FAULT_EVTCHN_NOTIFY), 2);

    /* The allocating side's bind fails too, and takes no port. */
    struct rtv_local_held h;
    rtv_port_t r1;
    rtv_local_fault_set_dom(hub, RTV_FAULT_EVTCHN_BIND, 1, 0, 1, EIO);
    ck_assert_int_eq(e1->ops->alloc_unbound(e1, 2, &r1), -EIO);
    ck_assert_uint_eq(rtv_local_fault_calls(hub, RTV_FAULT_EVTCHN_BIND), 1);
    ck_assert_int_eq(rtv_local_held(&x1, &h), 0);
    ck_assert_uint_eq(h.ports, 2);
    ck_assert_int_eq(e1->ops->unbind(e1, q1), 0);
    ck_assert_int_eq(rtv_local_held(&x1, &h), 0);
    ck_assert_uint_eq(h.ports, 1);
}
END_TEST

START_TEST(release_domain)
{
    rtv_port_t p1, p2, u;
    link_ports(&p1, &p2);
    ck_assert_int_eq(e2->ops->alloc_unbound(e2, 1, &u), 0);
    ck_assert_int_eq(e1->ops->notify(e1, p1), 0);

    ck_assert_int_eq(rtv_local_release_domain(hub, 2), 0);
    /* Domain 2's ports are gone, its queued events too. */
    ck_assert(!readable(e2, 0));
    ck_assert_int_eq(e2->ops->notify(e2, p2), -ENOTCONN);
    ck_assert_int_eq(e2->ops->unbind(e2, u), -ENOTCONN);
    rtv_port_t lp;
    ck_assert_int_eq(e1->ops->bind_interdomain(e1, 2, u, &lp), -EINVAL);
    /* Domain 1's end is unbound, waiting for a new domain 2. */
    ck_assert_int_eq(e1->ops->notify(e1, p1), 0);
    ck_assert_int_eq(e2->ops->bind_interdomain(e2, 1, p1, &p2), 0);
    ck_assert_uint_eq(pop(e2), p2);
}
END_TEST

/* Threads of one process: one kicks through its connection, the other
 * waits on its fd; every kick is seen (coalesced kicks count once, so the
 * kicker waits for each to be consumed, as a ring protocol would). */
struct kicker {
    struct rtv_evtchn *e;
    rtv_port_t port;
    int acked;
    int rc;
};

static void *kick_thread(void *p)
{
    struct kicker *k = p;
    for (int i = 0; i < 200 && k->rc == 0; i++) {
        k->rc = k->e->ops->notify(k->e, k->port);
        while (__atomic_load_n(&k->acked, __ATOMIC_SEQ_CST) <= i && k->rc == 0)
            usleep(100);
    }
    return NULL;
}

START_TEST(threads)
{
    rtv_port_t p1, p2;
    link_ports(&p1, &p2);
    struct kicker k = { .e = e2, .port = p2 };
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, kick_thread, &k), 0);
    for (int i = 0; i < 200; i++) {
        ck_assert_msg(readable(e1, 5000), "kick %d lost", i);
        ck_assert_uint_eq(pop(e1), p1);
        ck_assert_int_eq(e1->ops->unmask(e1, p1), 0);
        __atomic_store_n(&k.acked, i + 1, __ATOMIC_SEQ_CST);
    }
    pthread_join(th, NULL);
    ck_assert_int_eq(k.rc, 0);
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(local_evtchn_suite, "local_evtchn", "evtchn", setup, teardown, 30,
                        round_trip, round_trip_across_fork, masking, bind_checks,
                        unbind_reverts_peer, close_unbinds, child_closing_inherited_handles,
                        killed_process_ports_are_closed, capacity, fault_injection, release_domain,
                        threads)

RTV_UNIT_MAIN(local_evtchn_suite)
