/*
 * Private layout of the local hub (see rtvirt/local.h for what it is for).
 *
 * Everything a hub shares between processes sits in one MAP_SHARED region:
 * a header (lock, counters, fault table) followed by fixed-size tables.
 * Nothing inside the region is a pointer: a fork()ed child maps the region
 * at the same address today, but indices keep the layout honest should a
 * hub ever be mapped elsewhere, and they make "is this entry still the one
 * I saw" checks cheap (slot + generation).
 *
 * Process-local state (transaction read sets and write logs, the list of
 * grant mappings a handle made) lives in malloc'd memory hanging off the
 * connection handle, because it only ever matters to the process that made
 * it.  The shared tables record just enough of it (which transactions are
 * open, who maps which grant) for other processes and release_domain to act.
 *
 * Locking: one process-shared robust mutex guards the whole region and the
 * process-local lists of the handles.  Operations are short and the hub is
 * a test and benchmark transport, so one lock beats clever locking.
 */
#ifndef RTVIRT_LOCAL_HUB_PRIVATE_H
#define RTVIRT_LOCAL_HUB_PRIVATE_H

#include "rtvirt/local.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HUB_NONE          UINT32_MAX
/* A watch token is a caller's cookie; xenstored bounds it only by the
 * payload size, we bound it so event slots have a fixed size. */
#define HUB_TOKEN_MAX     256
/* Watch events queued per connection before new ones are dropped (and
 * counted): watch handlers re-read the store, so a lost duplicate costs
 * nothing and identical queued events are merged anyway. */
#define HUB_EVQ_LEN       64

/* ---- shared tables --------------------------------------------------------- */

struct hub_node {
    uint32_t in_use;
    uint32_t parent;       /* node index, HUB_NONE for "/" */
    uint32_t first_child;
    uint32_t next_sibling;
    uint32_t hnext;        /* hash chain */
    uint32_t hash;
    uint32_t plen;
    uint32_t vlen;
    uint64_t gen;          /* from hub_hdr.gen_counter; 0 is never used */
    uint32_t nperms;
    struct rtv_xs_perm perms[RTV_XS_PERMS_MAX];
};

struct hub_event {
    char path[RTV_XS_PATH_MAX + 1];
    char token[HUB_TOKEN_MAX + 1];
};

struct hub_conn {
    uint32_t    in_use;
    rtv_domid_t domid;
    pid_t       pid;           /* opener, for diagnostics */
    uint32_t    evq_head;      /* watch event ring */
    uint32_t    evq_count;
    uint64_t    ev_dropped;
    uint32_t    pq_head;       /* pending event channel port ring */
    uint32_t    pq_count;
};

/* Kept apart from its strings so that scanning the watches on every
 * change touches a few cache lines, not a page per watch. */
struct hub_watch {
    uint32_t in_use;
    uint32_t conn;
    uint32_t special;          /* an "@..." name, never fired by changes */
};

struct hub_watch_str {
    char path[RTV_XS_PATH_MAX + 1];
    char token[HUB_TOKEN_MAX + 1];
};

struct hub_txn {
    uint32_t    in_use;
    rtv_txn_t   id;
    uint32_t    conn;
    rtv_domid_t domid;
};

struct hub_grant {
    uint32_t    in_use;
    uint32_t    unshared;      /* granter let go; freed at the last unmap */
    rtv_domid_t granter;
    rtv_domid_t grantee;
    uint32_t    writable;
    uint32_t    page;          /* page index in the memfd */
    uint32_t    map_count;
    uint32_t    gen;           /* bumped on free so stale unmaps are ignored */
};

enum hub_port_state {
    PORT_FREE = 0,
    PORT_UNBOUND,              /* waiting for remote_domid to bind */
    PORT_INTERDOMAIN,
};

struct hub_port {
    uint32_t    state;         /* enum hub_port_state */
    uint32_t    conn;          /* owning connection slot */
    rtv_domid_t domid;         /* owning domain */
    rtv_domid_t remote_domid;
    uint32_t    peer;          /* peer port number when interdomain */
    uint32_t    pending;       /* notified while masked */
    uint32_t    masked;        /* delivered, not yet unmasked */
    uint32_t    queued;        /* sitting in the owner's port ring */
};

struct hub_fault {
    uint32_t skip;
    uint32_t fail;
    int32_t  err;
    uint32_t hits;
    uint32_t calls;            /* calls by domid since the fault was set */
    uint32_t domid;            /* whose calls count; RTV_FAULT_ANY_DOMID */
    int32_t  pid;              /* and only this process's (0: any process) */
};

struct hub_hdr {
    uint32_t                magic;
    pthread_mutex_t         lock;
    struct rtv_local_config cfg;
    size_t                  page_size;
    uint64_t                gen_counter;
    uint32_t                txn_counter;
    uint32_t                free_nodes;
    uint32_t                nbuckets;
    struct hub_fault        faults[RTV_FAULT_OP_COUNT];
};

/* ---- the process-local handles -------------------------------------------- */

struct rtv_local_hub {
    void              *base;
    size_t             size;
    struct hub_hdr    *hdr;
    struct hub_node   *nodes;
    char              *paths;      /* [max_nodes][RTV_XS_PATH_MAX + 1] */
    char              *values;     /* [max_nodes][RTV_XS_VALUE_MAX] */
    uint32_t          *buckets;    /* [nbuckets] node index chains */
    struct hub_conn   *conns;
    struct hub_event  *events;     /* [max_conns][HUB_EVQ_LEN] */
    uint32_t          *portq;      /* [max_conns][max_ports] */
    struct hub_watch  *watches;
    struct hub_watch_str *watch_str;   /* [max_watches] */
    struct hub_txn    *txns;
    struct hub_grant  *grants;
    struct hub_port   *ports;
    pid_t              creator;
    int                memfd;
    int               *watch_fd;   /* [max_conns] eventfds */
    int               *evtchn_fd;  /* [max_conns] eventfds */
};

struct txn_local;
struct gnt_mapping;

/* One rtv_local_open(): the parts are embedded so each op finds the
 * connection with container_of, and the slot is freed when the last
 * opened part is closed.
 *
 * A child fork()ed after the open inherits a copy of this struct and may
 * use the connection, but only the opening process tears down its shared
 * side (slot, watches, ports, grants): a child closing what it inherited,
 * e.g. in generic cleanup code, frees its own copies and leaves the
 * parent's connection alone. */
struct local_conn {
    struct rtv_local_hub *hub;
    pid_t                 pid;        /* the opener */
    uint32_t              slot;
    rtv_domid_t           domid;
    unsigned              refs;
    struct rtv_store      xs;
    struct rtv_grants     gnt;
    struct rtv_evtchn     evtchn;
    struct txn_local     *txns;
    struct gnt_mapping   *maps;
};

#define conn_of(ptr, member) \
    ((struct local_conn *)((char *)(ptr) - offsetof(struct local_conn, member)))

/* ---- shared helpers (hub.c) ----------------------------------------------- */

void hub_lock(struct rtv_local_hub *hub);
void hub_unlock(struct rtv_local_hub *hub);
/* One call of `op` by domid: counted, and a fault consumed if armed for
 * that domain: 0 to go ahead, or -err. Locked. */
int hub_fault(struct rtv_local_hub *hub, enum rtv_local_fault_op op, rtv_domid_t domid);
/* Keeps eventfd readability equal to "ring not empty". Locked. */
void hub_fd_raise(int fd);
void hub_fd_drain(int fd);
/* Drops one connection reference; the last one frees the slot (if the
 * caller is the opener) and the handle. */
void hub_conn_put(struct local_conn *c);
/* True in the process that opened c (see struct local_conn). */
bool hub_conn_ours(const struct local_conn *c);

/* ---- per-module hooks ------------------------------------------------------ */

extern const struct rtv_store_ops   local_store_ops;
extern const struct rtv_grants_ops  local_grants_ops;
extern const struct rtv_evtchn_ops  local_evtchn_ops;

void store_init_root(struct rtv_local_hub *hub);
/* Locked: the connection's watches, transactions and queued events go. */
void store_conn_closed(struct local_conn *c);
/* Locked: abort (shared side of) every transaction of domid. */
void store_release_domain(struct rtv_local_hub *hub, rtv_domid_t domid);
/* Locked: queue an event for every watch of exactly `special`. */
void store_fire_special(struct rtv_local_hub *hub, const char *special);
void grants_conn_closed(struct local_conn *c);          /* unlocked */
/* What c's grant handle still has shared and mapped. */
void grants_held(const struct local_conn *c, unsigned *shared, unsigned *mapped);
void grants_release_domain(struct rtv_local_hub *hub, rtv_domid_t domid);
void evtchn_conn_closed(struct local_conn *c);          /* locked */
/* Locked: what the kernel does when a process dies with its evtchn and
 * xenstore fds open (hub_reap_dead()). */
void evtchn_slot_closed(struct rtv_local_hub *hub, uint32_t slot);
void store_slot_watches_closed(struct rtv_local_hub *hub, uint32_t slot);
void evtchn_release_domain(struct rtv_local_hub *hub, rtv_domid_t domid);

/* ---- test-only hooks -------------------------------------------------------- */

/* Takes the hub lock and returns without releasing it, so a test can kill
 * the holder and prove the robust mutex recovers. */
void rtv_local_test_lock(struct rtv_local_hub *hub);
void rtv_local_test_unlock(struct rtv_local_hub *hub);
/* Watch events this connection dropped because its ring was full. */
uint64_t rtv_local_test_dropped(struct rtv_store *s);
/* Grant entries still allocated (shared or awaiting their last unmap). */
unsigned rtv_local_test_grants_in_use(struct rtv_local_hub *hub);

#endif /* RTVIRT_LOCAL_HUB_PRIVATE_H */
