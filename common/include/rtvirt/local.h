/*
 * The local transport: a stand-in for xenstored, the grant tables and event
 * channels, for host tests and benchmarks.  Not a fake pretending to be Xen:
 * nothing here proves Xen behaviour, that is the lab's job.  It exists so
 * the core and the programs can run, and be broken on purpose, without a
 * hypervisor.
 *
 * A hub lives in one MAP_SHARED region plus one memfd of grant pages and a
 * fixed set of eventfds, all created by rtv_local_hub_new().  Threads share
 * it directly; processes share it by being fork()ed after it was created
 * (the mutex is process-shared and robust, so a child killed with SIGKILL
 * while holding it does not wedge the others).  Capacities are fixed at
 * creation; running out is an error (-ENOSPC), never silent.
 *
 * Each rtv_local_open() is one "connection" acting as a given domain: the
 * store checks xenstore permissions against that domid (0 is privileged),
 * grants are checked against it, and event channels are bound for it.
 */
#ifndef RTVIRT_LOCAL_H
#define RTVIRT_LOCAL_H

#include <sys/types.h>

#include "rtvirt/seam.h"

struct rtv_local_hub;

struct rtv_local_config {
    unsigned max_nodes;        /* store nodes;           default 4096 */
    unsigned max_conns;        /* simultaneous opens;    default 32   */
    unsigned max_watches;      /* across all conns;      default 256  */
    unsigned max_txns;         /* open transactions;     default 64   */
    unsigned max_grant_pages;  /* shared pages in total; default 8192 */
    unsigned max_ports;        /* event channel ports;   default 512  */
};

/* NULL config = defaults.  Returns NULL with errno set on failure. */
struct rtv_local_hub *rtv_local_hub_new(const struct rtv_local_config *cfg);
/* Only the process that created the hub should free it, after every other
 * user has closed or exited. */
void rtv_local_hub_free(struct rtv_local_hub *hub);

/* Opens the parts asked for (enum rtv_xen_parts) as domain `domid`. */
int rtv_local_open(struct rtv_local_hub *hub, rtv_domid_t domid,
                   unsigned parts, struct rtv_xen *out);

/* What xl restore and xl migrate do to a guest's xenstore connection: the
 * same connection (x's store, opened by rtv_local_open) acts as domain domid
 * from now on, its watches kept.  For tests of code that follows its domid. */
int rtv_local_rebind(struct rtv_xen *x, rtv_domid_t domid);

/* Tells watchers of "@releaseDomain" that a domain went away, and drops
 * that domain's grants, ports and connections' open transactions, as Xen
 * does when a guest dies. */
int rtv_local_release_domain(struct rtv_local_hub *hub, rtv_domid_t domid);

/* Stops process pid (SIGSTOP) where it holds no lock of the hub, and waits
 * (at most ms) until all its threads are stopped.  On Xen a stopped dom0
 * daemon holds nothing its guests wait for; the hub is one structure under
 * one lock, and a process stopped inside it would hang every other user of
 * the hub (a frontend stuck in its next grant or notify).  The hub's lock
 * is held from the signal until pid is seen stopped.  0, -ETIMEDOUT (not
 * stopped within ms: the lock is let go, so the test must fail), or the
 * -errno of kill() or of reading /proc. */
int rtv_local_stop_process(struct rtv_local_hub *hub, pid_t pid, int ms);

/*
 * Fault injection, SQLite-style: the next `skip` calls of an operation
 * succeed, then the following `fail` calls return -err (or NULL/errno),
 * then it behaves again.  Used by tests to walk every error path.
 *
 * One injector for every seam operation, so a test sweeps them all the same
 * way: count how many calls a scenario makes (rtv_local_fault_calls() after a
 * clean run), then fail the N-th for every N it reaches.  A fault may be
 * aimed at one domain's calls (the daemon is dom0, a guest its own id), so
 * the count and the N-th call are that side's alone.
 */
enum rtv_local_fault_op {
    RTV_FAULT_XS_WRITE,
    RTV_FAULT_XS_READ,
    RTV_FAULT_XS_TXN_COMMIT,   /* err is usually EAGAIN */
    RTV_FAULT_GNT_SHARE,
    RTV_FAULT_GNT_MAP,
    RTV_FAULT_EVTCHN_BIND,     /* bind_interdomain and alloc_unbound */
    RTV_FAULT_EVTCHN_NOTIFY,
    RTV_FAULT_XS_TXN_START,
    /* Not a hub operation: a test's wrapper of the daemon's io_uring_submit
     * asks rtv_local_fault_point() (the hub only keeps the count). */
    RTV_FAULT_IO_SUBMIT,
    RTV_FAULT_OP_COUNT
};

/* Any domain's calls (rtv_local_fault_set_dom). */
#define RTV_FAULT_ANY_DOMID 0xFFFFu

void rtv_local_fault_set(struct rtv_local_hub *hub, enum rtv_local_fault_op op,
                         unsigned skip, unsigned fail, int err);
/* As rtv_local_fault_set, counting and failing only calls made by domid
 * (RTV_FAULT_ANY_DOMID: everyone's).  Resets the call count. */
void rtv_local_fault_set_dom(struct rtv_local_hub *hub, enum rtv_local_fault_op op,
                             unsigned domid, unsigned skip, unsigned fail, int err);
/* Narrows op's fault to one process's calls, pid 0 undoing it: a domain
 * is several processes (dom0: the daemon, the toolstack, the test polling
 * the store), and a sweep of the daemon's calls must neither count nor
 * fail the others'.  Kept until set again (rtv_local_fault_set_dom leaves
 * it); resets the call count. */
void rtv_local_fault_set_pid(struct rtv_local_hub *hub, enum rtv_local_fault_op op,
                             pid_t pid);
/* How many faults of that op were actually injected so far. */
unsigned rtv_local_fault_hits(struct rtv_local_hub *hub,
                              enum rtv_local_fault_op op);
/* How many calls of that op (by the domain aimed at) since it was last set. */
unsigned rtv_local_fault_calls(struct rtv_local_hub *hub,
                               enum rtv_local_fault_op op);
/* One call of op by domid, for an operation outside the hub (see
 * RTV_FAULT_IO_SUBMIT): 0 to go ahead, or -err when a fault is injected. */
int rtv_local_fault_point(struct rtv_local_hub *hub, enum rtv_local_fault_op op,
                          unsigned domid);

/*
 * What a connection still holds of the seam: after a program closed what
 * it opened on it (a frontend its device, a daemon its devices), all of it
 * must be zero, or the program leaks a resource Xen would keep for it
 * (the hub itself gives everything back when the connection closes).
 */
struct rtv_local_held {
    unsigned shared;      /* pages share()d and not unshared */
    unsigned mapped;      /* pages map()ped and not unmapped */
    unsigned ports;       /* event channel ports bound or allocated */
    unsigned watches;
    unsigned txns;        /* transactions started, not ended */
};
int rtv_local_held(const struct rtv_xen *x, struct rtv_local_held *held);

#endif /* RTVIRT_LOCAL_H */
