/*
 * Local hub: creation, the lock, connections, fault injection and domain
 * release.  The store, grants and event channels live in their own files;
 * see hub_private.h for the layout and the locking rule.
 */
#include "hub_private.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rtvirt/clock.h"

#define HUB_MAGIC 0x72747648u  /* "rtvH" */

static size_t align_up(size_t v, size_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* Adds one table of n elements of size sz to the layout, overflow-checked. */
static int layout_add(size_t *off, size_t n, size_t sz, size_t *at)
{
    if (sz != 0 && n > (SIZE_MAX / 2) / sz)
        return -ENOMEM;
    *at = align_up(*off, 64);
    if (*at > SIZE_MAX / 2 - n * sz)
        return -ENOMEM;
    *off = *at + n * sz;
    return 0;
}

void hub_lock(struct rtv_local_hub *hub)
{
    int rc = pthread_mutex_lock(&hub->hdr->lock);
    /* The previous holder died mid-operation.  The tables may hold a
     * half-done change, but every op re-validates what it reads, and a
     * wedged hub would hang every other test process: carry on. */
    if (rc == EOWNERDEAD)
        rc = pthread_mutex_consistent(&hub->hdr->lock);
    /* Anything else means the region is not a hub or the mutex was left
     * unrecoverable: our own broken invariant, and carrying on unlocked
     * would corrupt every other user. */
    if (rc != 0)
        abort();
}

void hub_unlock(struct rtv_local_hub *hub)
{
    pthread_mutex_unlock(&hub->hdr->lock);
}

void hub_fd_raise(int fd)
{
    uint64_t one = 1;
    /* Only fails if the counter would overflow, i.e. it is readable. */
    ssize_t n = write(fd, &one, sizeof(one));
    (void)n;
}

void hub_fd_drain(int fd)
{
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof(v));   /* EAGAIN when already zero */
    (void)n;
}

int hub_fault(struct rtv_local_hub *hub, enum rtv_local_fault_op op, rtv_domid_t domid)
{
    struct hub_fault *f = &hub->hdr->faults[op];

    if (f->domid != RTV_FAULT_ANY_DOMID && f->domid != domid)
        return 0;
    if (f->pid != 0 && f->pid != (int32_t)getpid())
        return 0;
    f->calls++;
    if (f->skip > 0) {
        f->skip--;
        return 0;
    }
    if (f->fail > 0) {
        f->fail--;
        f->hits++;
        return -f->err;
    }
    return 0;
}

struct rtv_local_hub *rtv_local_hub_new(const struct rtv_local_config *cfg)
{
    struct rtv_local_config c = {
        .max_nodes = 4096, .max_conns = 32, .max_watches = 256,
        .max_txns = 64, .max_grant_pages = 8192, .max_ports = 512,
    };
    if (cfg != NULL) {
        if (cfg->max_nodes)       c.max_nodes = cfg->max_nodes;
        if (cfg->max_conns)       c.max_conns = cfg->max_conns;
        if (cfg->max_watches)     c.max_watches = cfg->max_watches;
        if (cfg->max_txns)        c.max_txns = cfg->max_txns;
        if (cfg->max_grant_pages) c.max_grant_pages = cfg->max_grant_pages;
        if (cfg->max_ports)       c.max_ports = cfg->max_ports;
    }
    /* Port numbers and grant refs are index + 1 in 32 bits; the node table
     * needs a spare index for HUB_NONE.  Far beyond any sane test. */
    if (c.max_nodes > (1u << 24) || c.max_conns > 4096 ||
        c.max_watches > (1u << 20) || c.max_txns > (1u << 20) ||
        c.max_grant_pages > (1u << 24) || c.max_ports > (1u << 20)) {
        errno = EINVAL;
        return NULL;
    }

    struct rtv_local_hub *hub = calloc(1, sizeof(*hub));
    if (hub == NULL)
        return NULL;
    hub->memfd = -1;
    hub->creator = getpid();

    uint32_t nbuckets = 1;
    while (nbuckets < c.max_nodes)
        nbuckets <<= 1;

    size_t off = sizeof(struct hub_hdr);
    size_t o_nodes, o_paths, o_values, o_buckets, o_conns, o_events, o_portq,
           o_watches, o_wstr, o_txns, o_grants, o_ports;
    int rc = 0;
    rc = rc ? rc : layout_add(&off, c.max_nodes, sizeof(struct hub_node), &o_nodes);
    rc = rc ? rc : layout_add(&off, c.max_nodes, RTV_XS_PATH_MAX + 1, &o_paths);
    rc = rc ? rc : layout_add(&off, c.max_nodes, RTV_XS_VALUE_MAX, &o_values);
    rc = rc ? rc : layout_add(&off, nbuckets, sizeof(uint32_t), &o_buckets);
    rc = rc ? rc : layout_add(&off, c.max_conns, sizeof(struct hub_conn), &o_conns);
    rc = rc ? rc : layout_add(&off, (size_t)c.max_conns * HUB_EVQ_LEN,
                              sizeof(struct hub_event), &o_events);
    rc = rc ? rc : layout_add(&off, (size_t)c.max_conns * c.max_ports,
                              sizeof(uint32_t), &o_portq);
    rc = rc ? rc : layout_add(&off, c.max_watches, sizeof(struct hub_watch), &o_watches);
    rc = rc ? rc : layout_add(&off, c.max_watches, sizeof(struct hub_watch_str), &o_wstr);
    rc = rc ? rc : layout_add(&off, c.max_txns, sizeof(struct hub_txn), &o_txns);
    rc = rc ? rc : layout_add(&off, c.max_grant_pages, sizeof(struct hub_grant), &o_grants);
    rc = rc ? rc : layout_add(&off, c.max_ports, sizeof(struct hub_port), &o_ports);
    if (rc < 0) {
        free(hub);
        errno = -rc;
        return NULL;
    }

    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    hub->size = align_up(off, page);
    /* NORESERVE: the tables are sized for the worst case but only the
     * pages a test touches ever get memory. */
    hub->base = mmap(NULL, hub->size, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (hub->base == MAP_FAILED) {
        int e = errno;
        free(hub);
        errno = e;
        return NULL;
    }
    char *b = hub->base;
    hub->hdr     = (struct hub_hdr *)b;
    hub->nodes   = (struct hub_node *)(b + o_nodes);
    hub->paths   = b + o_paths;
    hub->values  = b + o_values;
    hub->buckets = (uint32_t *)(b + o_buckets);
    hub->conns   = (struct hub_conn *)(b + o_conns);
    hub->events  = (struct hub_event *)(b + o_events);
    hub->portq   = (uint32_t *)(b + o_portq);
    hub->watches = (struct hub_watch *)(b + o_watches);
    hub->watch_str = (struct hub_watch_str *)(b + o_wstr);
    hub->txns    = (struct hub_txn *)(b + o_txns);
    hub->grants  = (struct hub_grant *)(b + o_grants);
    hub->ports   = (struct hub_port *)(b + o_ports);

    struct hub_hdr *h = hub->hdr;
    h->magic = HUB_MAGIC;
    h->cfg = c;
    h->page_size = page;
    h->nbuckets = nbuckets;
    h->free_nodes = c.max_nodes;
    for (uint32_t i = 0; i < nbuckets; i++)
        hub->buckets[i] = HUB_NONE;
    for (unsigned i = 0; i < RTV_FAULT_OP_COUNT; i++)
        h->faults[i].domid = RTV_FAULT_ANY_DOMID;

    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    rc = pthread_mutex_init(&h->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    if (rc != 0) {
        munmap(hub->base, hub->size);
        free(hub);
        errno = rc;
        return NULL;
    }

    hub->watch_fd = malloc(c.max_conns * sizeof(int));
    hub->evtchn_fd = malloc(c.max_conns * sizeof(int));
    if (hub->watch_fd == NULL || hub->evtchn_fd == NULL)
        goto fail;
    for (unsigned i = 0; i < c.max_conns; i++)
        hub->watch_fd[i] = hub->evtchn_fd[i] = -1;
    for (unsigned i = 0; i < c.max_conns; i++) {
        hub->watch_fd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        hub->evtchn_fd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (hub->watch_fd[i] < 0 || hub->evtchn_fd[i] < 0)
            goto fail;
    }

    /* Grant pages: sparse, so only shared pages cost memory; freed pages
     * are punched out, which also hands the next sharer zeroed memory. */
    hub->memfd = memfd_create("rtv-local-grants", MFD_CLOEXEC);
    if (hub->memfd < 0)
        goto fail;
    if (ftruncate(hub->memfd, (off_t)c.max_grant_pages * (off_t)page) < 0)
        goto fail;

    store_init_root(hub);
    return hub;

fail:;
    int e = errno ? errno : ENOMEM;
    rtv_local_hub_free(hub);
    errno = e;
    return NULL;
}

void rtv_local_hub_free(struct rtv_local_hub *hub)
{
    if (hub == NULL)
        return;
    unsigned n = hub->hdr->cfg.max_conns;
    for (unsigned i = 0; hub->watch_fd != NULL && i < n; i++)
        if (hub->watch_fd[i] >= 0)
            close(hub->watch_fd[i]);
    for (unsigned i = 0; hub->evtchn_fd != NULL && i < n; i++)
        if (hub->evtchn_fd[i] >= 0)
            close(hub->evtchn_fd[i]);
    free(hub->watch_fd);
    free(hub->evtchn_fd);
    if (hub->memfd >= 0)
        close(hub->memfd);
    /* A child dropping its inherited copy must not destroy the lock the
     * others still use; unmapping and closing only touch its own copies. */
    if (hub->creator == getpid())
        pthread_mutex_destroy(&hub->hdr->lock);
    munmap(hub->base, hub->size);
    free(hub);
}

/*
 * Locked.  A process killed with connections open (kill -9 of a daemon in
 * the component tests) closes nothing itself; on Xen its kernel closes
 * /dev/xen/evtchn, whose interdomain ports then fall back to unbound on the
 * peer's side (so a restarted backend can bind the frontend's port again),
 * and xenstored drops its watches.  Done here for every connection whose
 * opener is gone, whenever a connection is opened.  Its slot stays taken
 * (its transactions and grant mappings are not tracked per slot; release
 * of the domain clears those), only marked reaped.
 */
static void hub_reap_dead(struct rtv_local_hub *hub)
{
    for (uint32_t i = 0; i < hub->hdr->cfg.max_conns; i++) {
        struct hub_conn *hc = &hub->conns[i];

        if (!hc->in_use || hc->pid <= 0 || kill(hc->pid, 0) == 0 || errno != ESRCH)
            continue;
        evtchn_slot_closed(hub, i);
        store_slot_watches_closed(hub, i);
        hc->pid = 0;
    }
}

int rtv_local_rebind(struct rtv_xen *x, rtv_domid_t domid)
{
    if (x == NULL || x->xs == NULL || domid >= RTV_DOMID_MAX)
        return -EINVAL;
    struct local_conn *c = conn_of(x->xs, xs);

    hub_lock(c->hub);
    c->hub->conns[c->slot].domid = domid;
    c->domid = domid;
    hub_unlock(c->hub);
    x->self = domid;
    return 0;
}

int rtv_local_open(struct rtv_local_hub *hub, rtv_domid_t domid,
                   unsigned parts, struct rtv_xen *out)
{
    if (hub == NULL || out == NULL || domid >= RTV_DOMID_MAX ||
        (parts & RTV_XEN_ALL) == 0 || (parts & ~RTV_XEN_ALL) != 0)
        return -EINVAL;

    struct local_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;

    hub_lock(hub);
    hub_reap_dead(hub);
    uint32_t slot = HUB_NONE;
    for (uint32_t i = 0; i < hub->hdr->cfg.max_conns; i++) {
        if (!hub->conns[i].in_use) {
            slot = i;
            break;
        }
    }
    if (slot == HUB_NONE) {
        hub_unlock(hub);
        free(c);
        return -ENOSPC;
    }
    struct hub_conn *hc = &hub->conns[slot];
    memset(hc, 0, sizeof(*hc));
    hc->in_use = 1;
    hc->domid = domid;
    hc->pid = getpid();
    /* A previous user of the slot may have left its fds readable. */
    hub_fd_drain(hub->watch_fd[slot]);
    hub_fd_drain(hub->evtchn_fd[slot]);
    hub_unlock(hub);

    c->hub = hub;
    c->pid = getpid();
    c->slot = slot;
    c->domid = domid;
    c->xs.ops = &local_store_ops;
    c->gnt.ops = &local_grants_ops;
    c->evtchn.ops = &local_evtchn_ops;

    memset(out, 0, sizeof(*out));
    out->self = domid;
    if (parts & RTV_XEN_STORE) {
        out->xs = &c->xs;
        c->refs++;
    }
    if (parts & RTV_XEN_GRANTS) {
        out->gnt = &c->gnt;
        c->refs++;
    }
    if (parts & RTV_XEN_EVTCHN) {
        out->evtchn = &c->evtchn;
        c->refs++;
    }
    return 0;
}

bool hub_conn_ours(const struct local_conn *c)
{
    return c->pid == getpid();
}

void hub_conn_put(struct local_conn *c)
{
    struct rtv_local_hub *hub = c->hub;

    hub_lock(hub);
    if (--c->refs > 0) {
        hub_unlock(hub);
        return;
    }
    if (hub_conn_ours(c)) {
        memset(&hub->conns[c->slot], 0, sizeof(hub->conns[c->slot]));
        hub_fd_drain(hub->watch_fd[c->slot]);
        hub_fd_drain(hub->evtchn_fd[c->slot]);
    }
    hub_unlock(hub);
    free(c);
}

int rtv_local_release_domain(struct rtv_local_hub *hub, rtv_domid_t domid)
{
    if (hub == NULL || domid >= RTV_DOMID_MAX)
        return -EINVAL;
    hub_lock(hub);
    store_release_domain(hub, domid);
    grants_release_domain(hub, domid);
    evtchn_release_domain(hub, domid);
    store_fire_special(hub, "@releaseDomain");
    hub_unlock(hub);
    return 0;
}

void rtv_local_fault_set_dom(struct rtv_local_hub *hub, enum rtv_local_fault_op op,
                             unsigned domid, unsigned skip, unsigned fail, int err)
{
    if (hub == NULL || (unsigned)op >= RTV_FAULT_OP_COUNT)
        return;
    hub_lock(hub);
    struct hub_fault *f = &hub->hdr->faults[op];
    f->skip = skip;
    f->fail = fail;
    f->calls = 0;
    f->domid = domid < RTV_DOMID_MAX ? domid : RTV_FAULT_ANY_DOMID;
    /* A fault must look like a failure to the caller. */
    f->err = err > 0 ? err : (err < 0 ? -err : EIO);
    hub_unlock(hub);
}

void rtv_local_fault_set_pid(struct rtv_local_hub *hub, enum rtv_local_fault_op op,
                             pid_t pid)
{
    if (hub == NULL || (unsigned)op >= RTV_FAULT_OP_COUNT)
        return;
    hub_lock(hub);
    hub->hdr->faults[op].pid = (int32_t)pid;
    hub->hdr->faults[op].calls = 0;
    hub_unlock(hub);
}

void rtv_local_fault_set(struct rtv_local_hub *hub, enum rtv_local_fault_op op,
                         unsigned skip, unsigned fail, int err)
{
    rtv_local_fault_set_dom(hub, op, RTV_FAULT_ANY_DOMID, skip, fail, err);
}

unsigned rtv_local_fault_calls(struct rtv_local_hub *hub, enum rtv_local_fault_op op)
{
    if (hub == NULL || (unsigned)op >= RTV_FAULT_OP_COUNT)
        return 0;
    hub_lock(hub);
    unsigned calls = hub->hdr->faults[op].calls;
    hub_unlock(hub);
    return calls;
}

int rtv_local_fault_point(struct rtv_local_hub *hub, enum rtv_local_fault_op op,
                          unsigned domid)
{
    if (hub == NULL || (unsigned)op >= RTV_FAULT_OP_COUNT || domid >= RTV_DOMID_MAX)
        return -EINVAL;
    hub_lock(hub);
    int rc = hub_fault(hub, op, (rtv_domid_t)domid);
    hub_unlock(hub);
    return rc;
}

/* The connection behind whichever part of x is open. */
static const struct local_conn *conn_of_xen(const struct rtv_xen *x)
{
    if (x->xs != NULL)
        return conn_of(x->xs, xs);
    if (x->gnt != NULL)
        return conn_of(x->gnt, gnt);
    if (x->evtchn != NULL)
        return conn_of(x->evtchn, evtchn);
    return NULL;
}

int rtv_local_held(const struct rtv_xen *x, struct rtv_local_held *held)
{
    const struct local_conn *c = x != NULL ? conn_of_xen(x) : NULL;

    if (c == NULL || held == NULL)
        return -EINVAL;
    memset(held, 0, sizeof(*held));
    grants_held(c, &held->shared, &held->mapped);
    struct rtv_local_hub *hub = c->hub;
    const struct rtv_local_config *cfg = &hub->hdr->cfg;
    hub_lock(hub);
    for (unsigned i = 0; i < cfg->max_ports; i++)
        held->ports += hub->ports[i].state != PORT_FREE && hub->ports[i].conn == c->slot;
    for (unsigned i = 0; i < cfg->max_watches; i++)
        held->watches += hub->watches[i].in_use && hub->watches[i].conn == c->slot;
    for (unsigned i = 0; i < cfg->max_txns; i++)
        held->txns += hub->txns[i].in_use && hub->txns[i].conn == c->slot;
    hub_unlock(hub);
    return 0;
}

unsigned rtv_local_fault_hits(struct rtv_local_hub *hub,
                              enum rtv_local_fault_op op)
{
    if (hub == NULL || (unsigned)op >= RTV_FAULT_OP_COUNT)
        return 0;
    hub_lock(hub);
    unsigned hits = hub->hdr->faults[op].hits;
    hub_unlock(hub);
    return hits;
}

/* 1 when every thread of pid is stopped (or has exited: a dead thread holds
 * nothing), 0 when one still runs, -errno when pid cannot be read. */
static int threads_stopped(pid_t pid)
{
    char path[96], buf[512];
    struct dirent *e;
    int all = 1;

    snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -errno;
    while (all == 1 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/%ld/task/%.32s/stat", (long)pid, e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;                /* the thread exited meanwhile */
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* "tid (comm) S ...": comm may hold anything, the state follows
         * the last ')'. */
        const char *p = strrchr(buf, ')');
        char state = p != NULL && p[1] == ' ' ? p[2] : '?';
        if (state != 'T' && state != 't' && state != 'Z' && state != 'X')
            all = 0;
    }
    closedir(d);
    return all;
}

int rtv_local_stop_process(struct rtv_local_hub *hub, pid_t pid, int ms)
{
    int rc = 0;

    /* Holding the lock, no thread of pid is inside it; one waiting for it
     * is stopped in its wait, and tries again only once continued. */
    hub_lock(hub);
    if (kill(pid, SIGSTOP) < 0) {
        rc = -errno;
    } else {
        const uint64_t end = rtv_now_ms() + (uint64_t)(ms > 0 ? ms : 0);

        while ((rc = threads_stopped(pid)) == 0 && rtv_now_ms() < end)
            usleep(1000);
        rc = rc == 1 ? 0 : rc == 0 ? -ETIMEDOUT : rc;
    }
    hub_unlock(hub);
    return rc;
}

void rtv_local_test_lock(struct rtv_local_hub *hub)
{
    hub_lock(hub);
}

void rtv_local_test_unlock(struct rtv_local_hub *hub)
{
    hub_unlock(hub);
}
