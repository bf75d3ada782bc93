/*
 * rtvirt Xen seam: the only way rtvirt code reaches xenstore, grant tables
 * and event channels.
 *
 * Two implementations sit behind these ops tables:
 *   - the real one (common/xen/), a thin adapter over libxenstore,
 *     libxengnttab/libxengntshr and libxenevtchn: the only code in rtvirt
 *     that calls libxen* directly;
 *   - the local one (common/local/), a "hub" in shared memory: an in-process
 *     store with xenstore's watch, permission and transaction semantics, grant
 *     pages backed by one memfd, and event channels over eventfds.  A hub
 *     created before fork() is shared by parent and children, so host tests
 *     and benchmarks can run a backend and a frontend as separate processes.
 *
 * Conventions (both implementations):
 *   - every int-returning op returns 0 (or a non-negative value where said)
 *     on success and a negative errno on failure; nothing aborts on peer or
 *     store content;
 *   - strings handed out (values, directory listings, watch events) are
 *     malloc'd by the seam and freed by the caller with free();
 *   - a directory listing is one allocation: free(names) frees it all, as
 *     with libxenstore's xs_directory();
 *   - a transaction that conflicts ends with -EAGAIN; use rtv_xs_transact()
 *     (xs_util.h), which retries, rather than looping by hand.
 */
#ifndef RTVIRT_SEAM_H
#define RTVIRT_SEAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint16_t rtv_domid_t;

/* Xen's DOMID_FIRST_RESERVED: ids at or above it are not real domains. */
#define RTV_DOMID_MAX 0x7FEFu

/* ---- xenstore ------------------------------------------------------------ */

typedef uint32_t rtv_txn_t;
#define RTV_XS_NO_TXN ((rtv_txn_t)0)

/* Permission bits as in xenstore: the first entry of a node's permission
 * list names its owner (who may always read and write) and the access
 * everybody else gets by default; later entries grant specific domains more.
 * Dom0 is privileged and bypasses permission checks. */
enum rtv_xs_perm_bits {
    RTV_XS_PERM_NONE  = 0,
    RTV_XS_PERM_READ  = 1,
    RTV_XS_PERM_WRITE = 2,
    RTV_XS_PERM_BOTH  = 3,
};

struct rtv_xs_perm {
    rtv_domid_t domid;
    unsigned    perms;   /* enum rtv_xs_perm_bits */
};

/* Upper bounds the local store enforces, chosen to match xenstored's
 * defaults so code that works locally does not fail on a real host. */
#define RTV_XS_PATH_MAX   3072  /* XENSTORE_ABS_PATH_MAX */
#define RTV_XS_VALUE_MAX  4096  /* XENSTORE_PAYLOAD_MAX */
#define RTV_XS_PERMS_MAX  8

struct rtv_store;

struct rtv_store_ops {
    const char *name;   /* "xen" or "local", for logs */

    /* *val gets a NUL-terminated copy (len excludes the NUL). -ENOENT if absent. */
    int (*read)(struct rtv_store *s, rtv_txn_t t, const char *path,
                char **val, size_t *len);
    /* Creates missing parents with empty values, as xenstore does. */
    int (*write)(struct rtv_store *s, rtv_txn_t t, const char *path,
                 const void *val, size_t len);
    int (*mkdir)(struct rtv_store *s, rtv_txn_t t, const char *path);
    /* Removes the node and its subtree.  -ENOENT if absent. */
    int (*rm)(struct rtv_store *s, rtv_txn_t t, const char *path);
    /* Child names (not full paths), one allocation. */
    int (*directory)(struct rtv_store *s, rtv_txn_t t, const char *path,
                     char ***names, unsigned *num);
    int (*get_perms)(struct rtv_store *s, rtv_txn_t t, const char *path,
                     struct rtv_xs_perm **perms, unsigned *num);
    int (*set_perms)(struct rtv_store *s, rtv_txn_t t, const char *path,
                     const struct rtv_xs_perm *perms, unsigned num);

    int (*txn_start)(struct rtv_store *s, rtv_txn_t *t);
    /* abort=false commits; -EAGAIN means a conflicting change won: redo. */
    int (*txn_end)(struct rtv_store *s, rtv_txn_t t, bool abort);

    /* Registering fires one event for the watched path at once, as
     * xenstore does; afterwards any change to the path or below it fires.
     * Events may be coalesced: handlers must be idempotent and re-read. */
    int (*watch)(struct rtv_store *s, const char *path, const char *token);
    int (*unwatch)(struct rtv_store *s, const char *path, const char *token);
    /* Readable when a watch event is queued. */
    int (*watch_fd)(struct rtv_store *s);
    /* Pops one event without blocking; -EAGAIN when none is queued. */
    int (*read_watch)(struct rtv_store *s, char **path, char **token);

    void (*close)(struct rtv_store *s);
};

struct rtv_store {
    const struct rtv_store_ops *ops;
};

/* ---- grant tables -------------------------------------------------------- */

typedef uint32_t rtv_gref_t;

struct rtv_grants;

struct rtv_grants_ops {
    const char *name;
    /* Granting side (gntshr/gntalloc): allocate count pages, grant them to
     * peer, fill refs[count], return one contiguous mapping or NULL with
     * errno set. */
    void *(*share)(struct rtv_grants *g, rtv_domid_t peer, unsigned count,
                   rtv_gref_t *refs, bool writable);
    int (*unshare)(struct rtv_grants *g, void *addr, unsigned count);
    /* Mapping side (gnttab): map count grants of peer contiguously, or
     * NULL with errno set (EINVAL for an unknown ref or wrong domain,
     * EACCES for a write mapping of a read-only grant). */
    void *(*map)(struct rtv_grants *g, rtv_domid_t peer, unsigned count,
                 const rtv_gref_t *refs, bool writable);
    int (*unmap)(struct rtv_grants *g, void *addr, unsigned count);
    void (*close)(struct rtv_grants *g);
};

struct rtv_grants {
    const struct rtv_grants_ops *ops;
};

/* ---- event channels ------------------------------------------------------ */

typedef uint32_t rtv_port_t;

struct rtv_evtchn;

struct rtv_evtchn_ops {
    const char *name;
    /* Readable when a port is pending. */
    int (*fd)(struct rtv_evtchn *e);
    int (*alloc_unbound)(struct rtv_evtchn *e, rtv_domid_t remote,
                         rtv_port_t *port);
    int (*bind_interdomain)(struct rtv_evtchn *e, rtv_domid_t remote,
                            rtv_port_t remote_port, rtv_port_t *local_port);
    int (*notify)(struct rtv_evtchn *e, rtv_port_t port);
    int (*unbind)(struct rtv_evtchn *e, rtv_port_t port);
    /* Pops one pending port into *port; -EAGAIN when none.  As with Linux's
     * evtchn device, a delivered port stays masked until unmask(). On the
     * real seam call it only after fd() polled readable (it may block). */
    int (*pending)(struct rtv_evtchn *e, rtv_port_t *port);
    int (*unmask)(struct rtv_evtchn *e, rtv_port_t port);
    void (*close)(struct rtv_evtchn *e);
};

struct rtv_evtchn {
    const struct rtv_evtchn_ops *ops;
};

/* ---- the bundle programs hold --------------------------------------------- */

struct rtv_xen {
    struct rtv_store   *xs;
    struct rtv_grants  *gnt;
    struct rtv_evtchn  *evtchn;
    rtv_domid_t         self;     /* our own domain id */
};

/* Which parts to open: a coordinator needs only the store. */
enum rtv_xen_parts {
    RTV_XEN_STORE  = 1u << 0,
    RTV_XEN_GRANTS = 1u << 1,
    RTV_XEN_EVTCHN = 1u << 2,
    RTV_XEN_ALL    = RTV_XEN_STORE | RTV_XEN_GRANTS | RTV_XEN_EVTCHN,
};

/* Closes whichever parts are open and clears the bundle (either seam). */
void rtv_xen_close(struct rtv_xen *x);

/* ---- thin call wrappers (so callers read like libxenstore) ---------------- */

static inline int rtv_xs_read(struct rtv_store *s, rtv_txn_t t, const char *p,
                              char **val, size_t *len)
{ return s->ops->read(s, t, p, val, len); }
static inline int rtv_xs_write(struct rtv_store *s, rtv_txn_t t, const char *p,
                               const void *val, size_t len)
{ return s->ops->write(s, t, p, val, len); }
static inline int rtv_xs_mkdir(struct rtv_store *s, rtv_txn_t t, const char *p)
{ return s->ops->mkdir(s, t, p); }
static inline int rtv_xs_rm(struct rtv_store *s, rtv_txn_t t, const char *p)
{ return s->ops->rm(s, t, p); }
static inline int rtv_xs_directory(struct rtv_store *s, rtv_txn_t t,
                                   const char *p, char ***names, unsigned *n)
{ return s->ops->directory(s, t, p, names, n); }
static inline int rtv_xs_get_perms(struct rtv_store *s, rtv_txn_t t,
                                   const char *p, struct rtv_xs_perm **perms,
                                   unsigned *n)
{ return s->ops->get_perms(s, t, p, perms, n); }
static inline int rtv_xs_set_perms(struct rtv_store *s, rtv_txn_t t,
                                   const char *p,
                                   const struct rtv_xs_perm *perms, unsigned n)
{ return s->ops->set_perms(s, t, p, perms, n); }
static inline int rtv_xs_txn_start(struct rtv_store *s, rtv_txn_t *t)
{ return s->ops->txn_start(s, t); }
static inline int rtv_xs_txn_end(struct rtv_store *s, rtv_txn_t t, bool abort)
{ return s->ops->txn_end(s, t, abort); }
static inline int rtv_xs_watch(struct rtv_store *s, const char *p,
                               const char *token)
{ return s->ops->watch(s, p, token); }
static inline int rtv_xs_unwatch(struct rtv_store *s, const char *p,
                                 const char *token)
{ return s->ops->unwatch(s, p, token); }
static inline int rtv_xs_watch_fd(struct rtv_store *s)
{ return s->ops->watch_fd(s); }
static inline int rtv_xs_read_watch(struct rtv_store *s, char **p, char **token)
{ return s->ops->read_watch(s, p, token); }

#endif /* RTVIRT_SEAM_H */
