/*
 * Local store: xenstored's tree, permissions, watches and transactions over
 * the hub's node table.
 *
 * Transactions are optimistic, like xenstored's: a transaction keeps a read
 * set (every real node it looked at, with the generation it saw, 0 meaning
 * "absent") and a write log of low-level ops.  Reads inside the transaction
 * see the log first, then the real tree.  Commit re-checks every generation
 * in the read set under the lock and, if none moved, replays the log and
 * fires the watches then.  Because a write looks at the node it writes and
 * at the parents it would create under, concurrent child additions or
 * removals in those directories also make the commit fail with -EAGAIN.
 * The read set and the log are process-local (only their owner ever needs
 * them); the shared txn table only says which transactions exist, so that
 * rtv_local_release_domain() can kill a dead domain's ones.
 */
#include "hub_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- paths ------------------------------------------------------------------ */

static bool path_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '-' || ch == '/' || ch == '_' ||
           ch == '@';
}

/* xenstored's is_valid_nodename() for absolute paths; special "@..." names
 * only where a watch may name them. */
static int path_check(const char *path, bool special_ok)
{
    if (path == NULL)
        return -EINVAL;
    size_t len = strnlen(path, RTV_XS_PATH_MAX + 1);
    if (len == 0 || len > RTV_XS_PATH_MAX)
        return -EINVAL;
    if (path[0] == '@') {
        if (!special_ok || len == 1)
            return -EINVAL;
        for (size_t i = 1; i < len; i++)
            if (!path_char_ok(path[i]) || path[i] == '/')
                return -EINVAL;
        return 0;
    }
    if (path[0] != '/')
        return -EINVAL;
    if (len > 1 && path[len - 1] == '/')
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (!path_char_ok(path[i]))
            return -EINVAL;
        if (path[i] == '/' && path[i + 1] == '/')
            return -EINVAL;
    }
    return 0;
}

/* True if path is `top` or lies below it. */
static bool path_within(const char *path, const char *top)
{
    size_t tl = strlen(top);
    if (tl == 1 && top[0] == '/')
        return path[0] == '/';
    return strncmp(path, top, tl) == 0 && (path[tl] == '\0' || path[tl] == '/');
}

/* Length of the parent's path ("/" for top-level nodes). */
static size_t parent_len(const char *path, size_t len)
{
    while (len > 0 && path[len - 1] != '/')
        len--;
    return len <= 1 ? 1 : len - 1;
}

static uint32_t path_hash(const char *p, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

/* ---- the real tree (locked) ------------------------------------------------- */

static char *npath(struct rtv_local_hub *hub, uint32_t i)
{
    return hub->paths + (size_t)i * (RTV_XS_PATH_MAX + 1);
}

static char *nval(struct rtv_local_hub *hub, uint32_t i)
{
    return hub->values + (size_t)i * RTV_XS_VALUE_MAX;
}

static uint64_t next_gen(struct rtv_local_hub *hub)
{
    return ++hub->hdr->gen_counter;
}

static uint32_t node_find_n(struct rtv_local_hub *hub, const char *path,
                            size_t len)
{
    uint32_t h = path_hash(path, len);
    for (uint32_t i = hub->buckets[h & (hub->hdr->nbuckets - 1)];
         i != HUB_NONE; i = hub->nodes[i].hnext) {
        struct hub_node *n = &hub->nodes[i];
        if (n->hash == h && n->plen == len && memcmp(npath(hub, i), path, len) == 0)
            return i;
    }
    return HUB_NONE;
}

static uint32_t node_find(struct rtv_local_hub *hub, const char *path)
{
    return node_find_n(hub, path, strlen(path));
}

/* Creates one node under an existing parent.  The caller made sure there
 * is room (free_nodes) and that the node does not exist yet. */
static uint32_t node_create(struct rtv_local_hub *hub, const char *path,
                            uint32_t parent, const void *val, size_t vlen,
                            const struct rtv_xs_perm *perms, unsigned nperms)
{
    uint32_t i;
    for (i = 0; i < hub->hdr->cfg.max_nodes; i++)
        if (!hub->nodes[i].in_use)
            break;
    if (i == hub->hdr->cfg.max_nodes)
        return HUB_NONE;

    size_t len = strlen(path);
    struct hub_node *n = &hub->nodes[i];
    memset(n, 0, sizeof(*n));
    n->in_use = 1;
    n->parent = parent;
    n->first_child = n->next_sibling = HUB_NONE;
    n->hash = path_hash(path, len);
    n->plen = (uint32_t)len;
    memcpy(npath(hub, i), path, len + 1);
    n->vlen = (uint32_t)vlen;
    if (vlen)
        memcpy(nval(hub, i), val, vlen);
    n->nperms = nperms;
    memcpy(n->perms, perms, nperms * sizeof(*perms));
    n->gen = next_gen(hub);

    uint32_t *b = &hub->buckets[n->hash & (hub->hdr->nbuckets - 1)];
    n->hnext = *b;
    *b = i;

    if (parent != HUB_NONE) {
        /* Appended, so listings come out in creation order. */
        uint32_t *link = &hub->nodes[parent].first_child;
        while (*link != HUB_NONE)
            link = &hub->nodes[*link].next_sibling;
        *link = i;
        hub->nodes[parent].gen = next_gen(hub);
    }
    hub->hdr->free_nodes--;
    return i;
}

static void node_unlink_free(struct rtv_local_hub *hub, uint32_t i)
{
    struct hub_node *n = &hub->nodes[i];

    if (n->parent != HUB_NONE) {
        uint32_t *link = &hub->nodes[n->parent].first_child;
        while (*link != HUB_NONE && *link != i)
            link = &hub->nodes[*link].next_sibling;
        if (*link == i)
            *link = n->next_sibling;
    }
    uint32_t *b = &hub->buckets[n->hash & (hub->hdr->nbuckets - 1)];
    while (*b != HUB_NONE && *b != i)
        b = &hub->nodes[*b].hnext;
    if (*b == i)
        *b = n->hnext;
    n->in_use = 0;
    hub->hdr->free_nodes++;
}

/* Iterative post-order: a path of RTV_XS_PATH_MAX can nest ~1500 deep. */
static void node_rm(struct rtv_local_hub *hub, uint32_t root)
{
    uint32_t parent = hub->nodes[root].parent;
    uint32_t cur = root;

    for (;;) {
        if (hub->nodes[cur].first_child != HUB_NONE) {
            cur = hub->nodes[cur].first_child;
            continue;
        }
        uint32_t up = hub->nodes[cur].parent;
        node_unlink_free(hub, cur);
        if (cur == root)
            break;
        cur = up;
    }
    if (parent != HUB_NONE)
        hub->nodes[parent].gen = next_gen(hub);
}

void store_init_root(struct rtv_local_hub *hub)
{
    static const struct rtv_xs_perm root_perm = { 0, RTV_XS_PERM_NONE };
    node_create(hub, "/", HUB_NONE, NULL, 0, &root_perm, 1);
}

/* xenstored's perm_for_conn(): owner and dom0 get everything, a specific
 * entry replaces the default, otherwise the default applies. */
static unsigned perm_for(rtv_domid_t domid, const struct rtv_xs_perm *p,
                         unsigned n)
{
    if (n == 0)
        return domid == 0 ? RTV_XS_PERM_BOTH : RTV_XS_PERM_NONE;
    if (domid == 0 || p[0].domid == domid)
        return RTV_XS_PERM_BOTH;
    for (unsigned i = 1; i < n; i++)
        if (p[i].domid == domid)
            return p[i].perms;
    return p[0].perms;
}

/* ---- watch events (locked) ---------------------------------------------------- */

static void queue_event(struct rtv_local_hub *hub, uint32_t slot,
                        const char *path, const char *token)
{
    struct hub_conn *hc = &hub->conns[slot];
    struct hub_event *ring = &hub->events[(size_t)slot * HUB_EVQ_LEN];

    if (!hc->in_use)
        return;
    /* An identical event still queued says everything this one would. */
    for (uint32_t k = 0; k < hc->evq_count; k++) {
        struct hub_event *e = &ring[(hc->evq_head + k) % HUB_EVQ_LEN];
        if (strcmp(e->path, path) == 0 && strcmp(e->token, token) == 0)
            return;
    }
    if (hc->evq_count == HUB_EVQ_LEN) {
        hc->ev_dropped++;
        return;
    }
    struct hub_event *e = &ring[(hc->evq_head + hc->evq_count) % HUB_EVQ_LEN];
    strcpy(e->path, path);
    strcpy(e->token, token);
    if (hc->evq_count++ == 0)
        hub_fd_raise(hub->watch_fd[slot]);
}

/* A change at `path`: every watch at or above it fires with `path`; a
 * removal also fires the watches below it, with their own path, as
 * xenstored does.  Like xenstored, a watcher only hears about nodes it may
 * read (removed nodes excepted: there is nothing left to protect). */
static void fire(struct rtv_local_hub *hub, const char *path, bool removed)
{
    uint32_t idx = removed ? HUB_NONE : node_find(hub, path);

    for (uint32_t i = 0; i < hub->hdr->cfg.max_watches; i++) {
        struct hub_watch *w = &hub->watches[i];
        if (!w->in_use || w->special)
            continue;
        const char *wpath = hub->watch_str[i].path;
        const char *wtoken = hub->watch_str[i].token;
        if (path_within(path, wpath)) {
            if (idx != HUB_NONE) {
                struct hub_node *n = &hub->nodes[idx];
                rtv_domid_t d = hub->conns[w->conn].domid;
                if (!(perm_for(d, n->perms, n->nperms) & RTV_XS_PERM_READ))
                    continue;
            }
            queue_event(hub, w->conn, path, wtoken);
        } else if (removed && path_within(wpath, path)) {
            queue_event(hub, w->conn, wpath, wtoken);
        }
    }
}

void store_fire_special(struct rtv_local_hub *hub, const char *special)
{
    for (uint32_t i = 0; i < hub->hdr->cfg.max_watches; i++) {
        struct hub_watch *w = &hub->watches[i];
        if (w->in_use && w->special && strcmp(hub->watch_str[i].path, special) == 0)
            queue_event(hub, w->conn, special, hub->watch_str[i].token);
    }
}

/* ---- transactions: process-local side -------------------------------------------- */

enum txn_op_kind { OP_CREATE, OP_SETVAL, OP_RM, OP_SETPERMS };

struct txn_op {
    enum txn_op_kind   kind;
    bool               fire;
    char              *path;
    char              *val;
    size_t             vlen;
    unsigned           nperms;
    struct rtv_xs_perm perms[RTV_XS_PERMS_MAX];
};

struct txn_obs {
    char    *path;
    uint64_t gen;              /* 0: observed absent */
};

struct txn_local {
    struct txn_local *next;
    rtv_txn_t         id;
    uint32_t          shared;  /* index in hub->txns */
    struct txn_op    *ops;
    size_t            nops, cap_ops;
    struct txn_obs   *obs;
    size_t            nobs, cap_obs;
};

static void txn_local_free(struct txn_local *t)
{
    for (size_t i = 0; i < t->nops; i++) {
        free(t->ops[i].path);
        free(t->ops[i].val);
    }
    for (size_t i = 0; i < t->nobs; i++)
        free(t->obs[i].path);
    free(t->ops);
    free(t->obs);
    free(t);
}

/* Unlinks t from c and frees both sides of it.  Locked. */
static void txn_drop(struct local_conn *c, struct txn_local *t)
{
    struct rtv_local_hub *hub = c->hub;
    struct hub_txn *ht = &hub->txns[t->shared];

    if (ht->in_use && ht->id == t->id)
        memset(ht, 0, sizeof(*ht));
    for (struct txn_local **pp = &c->txns; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    txn_local_free(t);
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(*arr, ncap * elem);
    if (p == NULL)
        return -ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

static int obs_note(struct txn_local *t, const char *path, uint64_t gen)
{
    for (size_t i = 0; i < t->nobs; i++)
        if (strcmp(t->obs[i].path, path) == 0)
            return 0;      /* the first sighting is what we must still see */
    if (grow((void **)&t->obs, &t->cap_obs, t->nobs + 1, sizeof(*t->obs)) < 0)
        return -ENOMEM;
    char *p = strdup(path);
    if (p == NULL)
        return -ENOMEM;
    t->obs[t->nobs].path = p;
    t->obs[t->nobs].gen = gen;
    t->nobs++;
    return 0;
}

/* ---- the view: the real tree, or a transaction's picture of it -------------- */

struct xs_ctx {
    struct rtv_local_hub *hub;
    struct local_conn    *c;
    struct txn_local     *t;    /* NULL outside a transaction */
};

/* Points into the tree or the log: valid until the next change to either. */
struct view {
    bool                      exists;
    uint32_t                  idx;    /* real node, HUB_NONE if txn-made */
    const char               *val;
    size_t                    vlen;
    const struct rtv_xs_perm *perms;
    unsigned                  nperms;
};

static int view_get(struct xs_ctx *x, const char *path, struct view *v)
{
    bool have_val = false, have_perms = false;

    memset(v, 0, sizeof(*v));
    v->idx = HUB_NONE;
    if (x->t != NULL) {
        /* Newest op first: the latest word on a path wins. */
        for (size_t i = x->t->nops; i-- > 0;) {
            struct txn_op *op = &x->t->ops[i];
            if (op->kind == OP_RM) {
                if (path_within(path, op->path))
                    return 0;
                continue;
            }
            if (strcmp(op->path, path) != 0)
                continue;
            if ((op->kind == OP_SETVAL || op->kind == OP_CREATE) && !have_val) {
                v->val = op->val;
                v->vlen = op->vlen;
                have_val = true;
            }
            if ((op->kind == OP_SETPERMS || op->kind == OP_CREATE) && !have_perms) {
                v->perms = op->perms;
                v->nperms = op->nperms;
                have_perms = true;
            }
            if (op->kind == OP_CREATE) {
                v->exists = true;
                return 0;
            }
        }
    }

    uint32_t idx = node_find(x->hub, path);
    if (x->t != NULL &&
        obs_note(x->t, path, idx == HUB_NONE ? 0 : x->hub->nodes[idx].gen) < 0)
        return -ENOMEM;
    if (idx == HUB_NONE)
        return 0;
    struct hub_node *n = &x->hub->nodes[idx];
    v->exists = true;
    v->idx = idx;
    if (!have_val) {
        v->val = nval(x->hub, idx);
        v->vlen = n->vlen;
    }
    if (!have_perms) {
        v->perms = n->perms;
        v->nperms = n->nperms;
    }
    return 0;
}

static unsigned view_perm(struct xs_ctx *x, const struct view *v)
{
    return perm_for(x->c->domid, v->perms, v->nperms);
}

/* ---- applying changes: to the tree now, or to the log for commit time --------- */

static int real_apply(struct rtv_local_hub *hub, const struct txn_op *op)
{
    uint32_t idx = node_find(hub, op->path);
    enum txn_op_kind kind = op->kind;

    /* A commit only replays a CREATE onto an absent node (the read set
     * proved it), but a present one would simply take the value. */
    if (kind == OP_CREATE && idx != HUB_NONE)
        kind = OP_SETVAL;

    switch (kind) {
    case OP_CREATE: {
        size_t plen = strlen(op->path);
        uint32_t parent = node_find_n(hub, op->path, parent_len(op->path, plen));
        if (parent == HUB_NONE)
            return -ENOENT;
        if (node_create(hub, op->path, parent, op->val, op->vlen,
                        op->perms, op->nperms) == HUB_NONE)
            return -ENOSPC;
        return 0;
    }
    case OP_SETVAL:
        if (idx == HUB_NONE)
            return -ENOENT;
        hub->nodes[idx].vlen = (uint32_t)op->vlen;
        if (op->vlen)
            memcpy(nval(hub, idx), op->val, op->vlen);
        hub->nodes[idx].gen = next_gen(hub);
        return 0;
    case OP_RM:
        if (idx == HUB_NONE)
            return -ENOENT;
        node_rm(hub, idx);
        return 0;
    case OP_SETPERMS:
        if (idx == HUB_NONE)
            return -ENOENT;
        hub->nodes[idx].nperms = op->nperms;
        memcpy(hub->nodes[idx].perms, op->perms, op->nperms * sizeof(op->perms[0]));
        hub->nodes[idx].gen = next_gen(hub);
        return 0;
    }
    return -EINVAL;
}

/* `op` points at caller storage; in a transaction it is copied into the
 * log, otherwise applied and its watches fired straight away. */
static int apply(struct xs_ctx *x, const struct txn_op *op)
{
    if (x->t == NULL) {
        int rc = real_apply(x->hub, op);
        if (rc == 0 && op->fire)
            fire(x->hub, op->path, op->kind == OP_RM);
        return rc;
    }

    struct txn_local *t = x->t;
    if (grow((void **)&t->ops, &t->cap_ops, t->nops + 1, sizeof(*t->ops)) < 0)
        return -ENOMEM;
    struct txn_op *dst = &t->ops[t->nops];
    *dst = *op;
    dst->path = strdup(op->path);
    dst->val = NULL;
    if (op->kind == OP_CREATE || op->kind == OP_SETVAL) {
        /* Always allocate (and NUL-terminate) so a view can hand it out. */
        dst->val = malloc(op->vlen + 1);
        if (dst->val != NULL) {
            if (op->vlen)
                memcpy(dst->val, op->val, op->vlen);
            dst->val[op->vlen] = '\0';
        }
    }
    if (dst->path == NULL ||
        ((op->kind == OP_CREATE || op->kind == OP_SETVAL) && dst->val == NULL)) {
        free(dst->path);
        free(dst->val);
        return -ENOMEM;
    }
    t->nops++;
    return 0;
}

/* ---- the store ops ----------------------------------------------------------- */

/* Locks the hub and finds the transaction; on success the caller unlocks. */
static int ctx_enter(struct rtv_store *s, rtv_txn_t tid, struct xs_ctx *x)
{
    struct local_conn *c = conn_of(s, xs);

    x->hub = c->hub;
    x->c = c;
    x->t = NULL;
    hub_lock(c->hub);
    if (tid == RTV_XS_NO_TXN)
        return 0;
    for (struct txn_local *t = c->txns; t; t = t->next) {
        if (t->id != tid)
            continue;
        struct hub_txn *ht = &c->hub->txns[t->shared];
        if (!ht->in_use || ht->id != tid) {
            /* release_domain ended it under us. */
            txn_drop(c, t);
            break;
        }
        x->t = t;
        return 0;
    }
    hub_unlock(c->hub);
    return -ENOENT;
}

/* Looks path up for reading: it must exist (-ENOENT) and the caller must
 * have READ on it (-EACCES), as xenstored checks for read/directory/perms. */
static int view_readable(struct xs_ctx *x, const char *path, struct view *v)
{
    int rc = view_get(x, path, v);

    if (rc < 0)
        return rc;
    if (!v->exists)
        return -ENOENT;
    if (!(view_perm(x, v) & RTV_XS_PERM_READ))
        return -EACCES;
    return 0;
}

/* The start of read, directory and get_perms: the arguments checked
 * (result_ok: the caller's result pointers are not NULL), the hub locked,
 * a read fault injected where asked, and path looked up for reading into
 * *v.  0: the hub stays locked for the caller; < 0: nothing is held. */
static int query_enter(struct rtv_store *s, rtv_txn_t tid, const char *path, bool result_ok,
                       bool read_fault, struct xs_ctx *x, struct view *v)
{
    int rc = path_check(path, false);
    if (rc < 0)
        return rc;
    if (!result_ok)
        return -EINVAL;
    if ((rc = ctx_enter(s, tid, x)) < 0)
        return rc;
    if ((read_fault && (rc = hub_fault(x->hub, RTV_FAULT_XS_READ, x->c->domid)) < 0) ||
        (rc = view_readable(x, path, v)) < 0)
        hub_unlock(x->hub);
    return rc;
}

static int local_read(struct rtv_store *s, rtv_txn_t tid, const char *path,
                      char **val, size_t *len)
{
    struct xs_ctx x;
    struct view v;
    int rc = query_enter(s, tid, path, val != NULL, true, &x, &v);
    if (rc < 0)
        return rc;
    char *copy = malloc(v.vlen + 1);
    if (copy == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (v.vlen)
        memcpy(copy, v.val, v.vlen);
    copy[v.vlen] = '\0';
    *val = copy;
    if (len)
        *len = v.vlen;
out:
    hub_unlock(x.hub);
    return rc;
}

/* write and mkdir: create what is missing, top-down, each new node
 * inheriting its parent's permissions with a guest creator as owner. */
static int do_write(struct xs_ctx *x, const char *path, const void *val,
                    size_t vlen, bool is_mkdir)
{
    struct view v;
    int rc = view_get(x, path, &v);
    if (rc < 0)
        return rc;
    if (v.exists) {
        if (is_mkdir)
            return 0;
        if (!(view_perm(x, &v) & RTV_XS_PERM_WRITE))
            return -EACCES;
        struct txn_op op = { .kind = OP_SETVAL, .fire = true,
                             .path = (char *)path, .val = (char *)val,
                             .vlen = vlen };
        return apply(x, &op);
    }

    char anc[RTV_XS_PATH_MAX + 1];
    size_t plen = strlen(path), alen = plen;
    unsigned missing = 0;
    memcpy(anc, path, plen + 1);
    do {
        missing++;
        alen = parent_len(anc, alen);
        anc[alen] = '\0';
        if ((rc = view_get(x, anc, &v)) < 0)
            return rc;
    } while (!v.exists);

    if (!(view_perm(x, &v) & RTV_XS_PERM_WRITE))
        return -EACCES;
    if (x->t == NULL && missing > x->hub->hdr->free_nodes)
        return -ENOSPC;    /* all or nothing, as a real write is */

    struct txn_op op = { .kind = OP_CREATE, .nperms = v.nperms };
    memcpy(op.perms, v.perms, v.nperms * sizeof(v.perms[0]));
    if (x->c->domid != 0)
        op.perms[0].domid = x->c->domid;

    for (size_t i = alen + 1; i <= plen; i++) {
        if (i < plen && path[i] != '/')
            continue;
        anc[i] = '\0';
        memcpy(anc, path, i);
        bool last = i == plen;
        op.path = anc;
        op.fire = last;
        op.val = last ? (char *)val : (char *)"";
        op.vlen = last ? vlen : 0;
        if ((rc = apply(x, &op)) < 0)
            return rc;
    }
    return 0;
}

static int local_write(struct rtv_store *s, rtv_txn_t tid, const char *path,
                       const void *val, size_t len)
{
    struct xs_ctx x;
    int rc = path_check(path, false);
    if (rc < 0)
        return rc;
    if (len > RTV_XS_VALUE_MAX)
        return -E2BIG;
    if (val == NULL && len > 0)
        return -EINVAL;
    if ((rc = ctx_enter(s, tid, &x)) < 0)
        return rc;
    rc = hub_fault(x.hub, RTV_FAULT_XS_WRITE, x.c->domid);
    if (rc == 0)
        rc = do_write(&x, path, val, len, false);
    hub_unlock(x.hub);
    return rc;
}

static int local_mkdir(struct rtv_store *s, rtv_txn_t tid, const char *path)
{
    struct xs_ctx x;
    int rc = path_check(path, false);
    if (rc < 0)
        return rc;
    if ((rc = ctx_enter(s, tid, &x)) < 0)
        return rc;
    rc = do_write(&x, path, "", 0, true);
    hub_unlock(x.hub);
    return rc;
}

static int local_rm(struct rtv_store *s, rtv_txn_t tid, const char *path)
{
    struct xs_ctx x;
    struct view v;
    int rc = path_check(path, false);
    if (rc < 0)
        return rc;
    if (strcmp(path, "/") == 0)
        return -EINVAL;    /* xenstored refuses too */
    if ((rc = ctx_enter(s, tid, &x)) < 0)
        return rc;
    if ((rc = view_get(&x, path, &v)) < 0)
        goto out;
    if (!v.exists) {
        rc = -ENOENT;
        goto out;
    }
    if (!(view_perm(&x, &v) & RTV_XS_PERM_WRITE)) {
        rc = -EACCES;
        goto out;
    }
    struct txn_op op = { .kind = OP_RM, .fire = true, .path = (char *)path };
    rc = apply(&x, &op);
out:
    hub_unlock(x.hub);
    return rc;
}

/* Collects child names; duplicates are skipped. */
struct names {
    char  **v;
    size_t  n, cap, bytes;
};

static int names_add(struct names *nl, const char *name)
{
    for (size_t i = 0; i < nl->n; i++)
        if (strcmp(nl->v[i], name) == 0)
            return 0;
    if (grow((void **)&nl->v, &nl->cap, nl->n + 1, sizeof(char *)) < 0)
        return -ENOMEM;
    if ((nl->v[nl->n] = strdup(name)) == NULL)
        return -ENOMEM;
    nl->bytes += strlen(name) + 1;
    nl->n++;
    return 0;
}

/* Adds `child` if it exists in the view; name is its last component. */
static int names_add_if(struct xs_ctx *x, struct names *nl, const char *child)
{
    struct view cv;
    int rc = view_get(x, child, &cv);
    if (rc < 0 || !cv.exists)
        return rc;
    size_t pl = parent_len(child, strlen(child));
    /* Skip the parent and, unless the parent is "/", the separator. */
    return names_add(nl, child + pl + (pl > 1));
}

static int local_directory(struct rtv_store *s, rtv_txn_t tid, const char *path,
                           char ***names, unsigned *num)
{
    struct xs_ctx x;
    struct view v;
    struct names nl = { 0 };
    int rc = query_enter(s, tid, path, names != NULL && num != NULL, false, &x, &v);
    if (rc < 0)
        return rc;
    size_t plen = strlen(path);
    uint32_t idx = node_find(x.hub, path);
    if (idx != HUB_NONE) {
        for (uint32_t ch = x.hub->nodes[idx].first_child; ch != HUB_NONE;
             ch = x.hub->nodes[ch].next_sibling) {
            if ((rc = names_add_if(&x, &nl, npath(x.hub, ch))) < 0)
                goto out;
        }
    }
    if (x.t != NULL) {
        for (size_t i = 0; i < x.t->nops; i++) {
            struct txn_op *op = &x.t->ops[i];
            if (op->kind != OP_CREATE || strcmp(op->path, "/") == 0)
                continue;
            size_t ol = strlen(op->path);
            if (parent_len(op->path, ol) == plen &&
                strncmp(op->path, path, plen) == 0 &&
                (rc = names_add_if(&x, &nl, op->path)) < 0)
                goto out;
        }
    }

    /* One block: the pointer array, then the strings it points at. */
    char **out = malloc((nl.n + 1) * sizeof(char *) + nl.bytes);
    if (out == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    char *p = (char *)(out + nl.n + 1);
    for (size_t i = 0; i < nl.n; i++) {
        size_t l = strlen(nl.v[i]) + 1;
        memcpy(p, nl.v[i], l);
        out[i] = p;
        p += l;
    }
    out[nl.n] = NULL;
    *names = out;
    *num = (unsigned)nl.n;
out:
    hub_unlock(x.hub);
    for (size_t i = 0; i < nl.n; i++)
        free(nl.v[i]);
    free(nl.v);
    return rc;
}

static int local_get_perms(struct rtv_store *s, rtv_txn_t tid, const char *path,
                           struct rtv_xs_perm **perms, unsigned *num)
{
    struct xs_ctx x;
    struct view v;
    int rc = query_enter(s, tid, path, perms != NULL && num != NULL, false, &x, &v);
    if (rc < 0)
        return rc;
    struct rtv_xs_perm *copy = malloc(v.nperms * sizeof(*copy) + 1);
    if (copy == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    memcpy(copy, v.perms, v.nperms * sizeof(*copy));
    *perms = copy;
    *num = v.nperms;
out:
    hub_unlock(x.hub);
    return rc;
}

static int local_set_perms(struct rtv_store *s, rtv_txn_t tid, const char *path,
                           const struct rtv_xs_perm *perms, unsigned num)
{
    struct xs_ctx x;
    struct view v;
    int rc = path_check(path, false);
    if (rc < 0)
        return rc;
    if (perms == NULL || num == 0 || num > RTV_XS_PERMS_MAX)
        return -EINVAL;
    for (unsigned i = 0; i < num; i++)
        if (perms[i].perms > RTV_XS_PERM_BOTH || perms[i].domid >= RTV_DOMID_MAX)
            return -EINVAL;
    if ((rc = ctx_enter(s, tid, &x)) < 0)
        return rc;
    if ((rc = view_get(&x, path, &v)) < 0)
        goto out;
    if (!v.exists) {
        rc = -ENOENT;
        goto out;
    }
    /* Only the owner (or dom0) may hand out or take away access. */
    if (x.c->domid != 0 && (v.nperms == 0 || v.perms[0].domid != x.c->domid)) {
        rc = -EACCES;
        goto out;
    }
    struct txn_op op = { .kind = OP_SETPERMS, .fire = true, .path = (char *)path,
                         .nperms = num };
    memcpy(op.perms, perms, num * sizeof(*perms));
    rc = apply(&x, &op);
out:
    hub_unlock(x.hub);
    return rc;
}

static int local_txn_start(struct rtv_store *s, rtv_txn_t *tid)
{
    struct local_conn *c = conn_of(s, xs);
    struct rtv_local_hub *hub = c->hub;

    if (tid == NULL)
        return -EINVAL;
    struct txn_local *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -ENOMEM;

    hub_lock(hub);
    int rc = hub_fault(hub, RTV_FAULT_XS_TXN_START, c->domid);
    if (rc < 0) {
        hub_unlock(hub);
        free(t);
        return rc;
    }
    uint32_t i;
    for (i = 0; i < hub->hdr->cfg.max_txns; i++)
        if (!hub->txns[i].in_use)
            break;
    if (i == hub->hdr->cfg.max_txns) {
        hub_unlock(hub);
        free(t);
        return -ENOSPC;
    }
    if (++hub->hdr->txn_counter == RTV_XS_NO_TXN)
        ++hub->hdr->txn_counter;
    struct hub_txn *ht = &hub->txns[i];
    ht->in_use = 1;
    ht->id = hub->hdr->txn_counter;
    ht->conn = c->slot;
    ht->domid = c->domid;
    t->id = ht->id;
    t->shared = i;
    t->next = c->txns;
    c->txns = t;
    *tid = t->id;
    hub_unlock(hub);
    return 0;
}

static int txn_commit(struct xs_ctx *x)
{
    struct rtv_local_hub *hub = x->hub;
    struct txn_local *t = x->t;
    int rc = hub_fault(hub, RTV_FAULT_XS_TXN_COMMIT, x->c->domid);
    if (rc < 0)
        return rc;

    for (size_t i = 0; i < t->nobs; i++) {
        uint32_t idx = node_find(hub, t->obs[i].path);
        uint64_t gen = idx == HUB_NONE ? 0 : hub->nodes[idx].gen;
        if (gen != t->obs[i].gen)
            return -EAGAIN;
    }
    /* Nothing moved since we looked, so the log replays exactly as the
     * transaction saw it; only room can run out, so check that first to
     * keep the commit all or nothing. */
    unsigned creates = 0;
    for (size_t i = 0; i < t->nops; i++)
        creates += t->ops[i].kind == OP_CREATE;
    if (creates > hub->hdr->free_nodes)
        return -ENOSPC;
    for (size_t i = 0; i < t->nops; i++) {
        struct txn_op *op = &t->ops[i];
        rc = real_apply(hub, op);
        if (rc == 0 && op->fire)
            fire(hub, op->path, op->kind == OP_RM);
    }
    return 0;
}

static int local_txn_end(struct rtv_store *s, rtv_txn_t tid, bool abort)
{
    struct xs_ctx x;
    int rc;

    if (tid == RTV_XS_NO_TXN)
        return -EINVAL;
    if ((rc = ctx_enter(s, tid, &x)) < 0)
        return rc;
    rc = abort ? 0 : txn_commit(&x);
    txn_drop(x.c, x.t);
    hub_unlock(x.hub);
    return rc;
}

static int token_check(const char *token)
{
    if (token == NULL)
        return -EINVAL;
    if (strnlen(token, HUB_TOKEN_MAX + 1) > HUB_TOKEN_MAX)
        return -E2BIG;
    return 0;
}

static int watch_args_check(const char *path, const char *token)
{
    int rc = path_check(path, true);

    return rc < 0 ? rc : token_check(token);
}

/* The slot of conn's watch on path with token, or HUB_NONE.  Hub locked. */
static uint32_t watch_find(struct rtv_local_hub *hub, uint32_t conn, const char *path,
                           const char *token)
{
    for (uint32_t i = 0; i < hub->hdr->cfg.max_watches; i++) {
        const struct hub_watch *w = &hub->watches[i];

        if (w->in_use && w->conn == conn && strcmp(hub->watch_str[i].path, path) == 0 &&
            strcmp(hub->watch_str[i].token, token) == 0)
            return i;
    }
    return HUB_NONE;
}

static int local_watch(struct rtv_store *s, const char *path, const char *token)
{
    struct local_conn *c = conn_of(s, xs);
    struct rtv_local_hub *hub = c->hub;
    int rc = watch_args_check(path, token);
    if (rc < 0)
        return rc;

    hub_lock(hub);
    if (watch_find(hub, c->slot, path, token) != HUB_NONE) {
        hub_unlock(hub);
        return -EEXIST;
    }
    uint32_t free_slot = HUB_NONE;
    for (uint32_t i = 0; i < hub->hdr->cfg.max_watches && free_slot == HUB_NONE; i++)
        if (!hub->watches[i].in_use)
            free_slot = i;
    if (free_slot == HUB_NONE) {
        hub_unlock(hub);
        return -ENOSPC;
    }
    struct hub_watch *w = &hub->watches[free_slot];
    w->in_use = 1;
    w->conn = c->slot;
    w->special = path[0] == '@';
    strcpy(hub->watch_str[free_slot].path, path);
    strcpy(hub->watch_str[free_slot].token, token);
    /* xenstored fires a new watch once, so callers read initial state in
     * their handler instead of racing a separate read. */
    queue_event(hub, c->slot, path, token);
    hub_unlock(hub);
    return 0;
}

static int local_unwatch(struct rtv_store *s, const char *path, const char *token)
{
    struct local_conn *c = conn_of(s, xs);
    struct rtv_local_hub *hub = c->hub;
    int rc = watch_args_check(path, token);
    if (rc < 0)
        return rc;

    hub_lock(hub);
    uint32_t i = watch_find(hub, c->slot, path, token);
    if (i != HUB_NONE)
        memset(&hub->watches[i], 0, sizeof(hub->watches[i]));
    hub_unlock(hub);
    return i != HUB_NONE ? 0 : -ENOENT;
}

static int local_watch_fd(struct rtv_store *s)
{
    struct local_conn *c = conn_of(s, xs);
    return c->hub->watch_fd[c->slot];
}

static int local_read_watch(struct rtv_store *s, char **path, char **token)
{
    struct local_conn *c = conn_of(s, xs);
    struct rtv_local_hub *hub = c->hub;
    int rc = 0;

    if (path == NULL || token == NULL)
        return -EINVAL;
    hub_lock(hub);
    struct hub_conn *hc = &hub->conns[c->slot];
    if (hc->evq_count == 0) {
        rc = -EAGAIN;
        goto out;
    }
    struct hub_event *e = &hub->events[(size_t)c->slot * HUB_EVQ_LEN + hc->evq_head];
    char *p = strdup(e->path), *tk = strdup(e->token);
    if (p == NULL || tk == NULL) {
        free(p);
        free(tk);
        rc = -ENOMEM;     /* the event stays queued */
        goto out;
    }
    hc->evq_head = (hc->evq_head + 1) % HUB_EVQ_LEN;
    if (--hc->evq_count == 0)
        hub_fd_drain(hub->watch_fd[c->slot]);
    *path = p;
    *token = tk;
out:
    hub_unlock(hub);
    return rc;
}

void store_slot_watches_closed(struct rtv_local_hub *hub, uint32_t slot)
{
    for (uint32_t i = 0; i < hub->hdr->cfg.max_watches; i++)
        if (hub->watches[i].in_use && hub->watches[i].conn == slot)
            memset(&hub->watches[i], 0, sizeof(hub->watches[i]));
    hub->conns[slot].evq_head = 0;
    hub->conns[slot].evq_count = 0;
    hub_fd_drain(hub->watch_fd[slot]);
}

void store_conn_closed(struct local_conn *c)
{
    while (c->txns != NULL)
        txn_drop(c, c->txns);
    store_slot_watches_closed(c->hub, c->slot);
}

void store_release_domain(struct rtv_local_hub *hub, rtv_domid_t domid)
{
    /* The owners' local halves notice at their next use (-ENOENT). */
    for (uint32_t i = 0; i < hub->hdr->cfg.max_txns; i++)
        if (hub->txns[i].in_use && hub->txns[i].domid == domid)
            memset(&hub->txns[i], 0, sizeof(hub->txns[i]));
}

static void local_store_close(struct rtv_store *s)
{
    struct local_conn *c = conn_of(s, xs);

    hub_lock(c->hub);
    if (hub_conn_ours(c)) {
        store_conn_closed(c);
    } else {
        /* Inherited: the transactions are the opener's, only our copies go. */
        while (c->txns != NULL) {
            struct txn_local *t = c->txns;
            c->txns = t->next;
            txn_local_free(t);
        }
    }
    hub_unlock(c->hub);
    hub_conn_put(c);
}

uint64_t rtv_local_test_dropped(struct rtv_store *s)
{
    struct local_conn *c = conn_of(s, xs);
    hub_lock(c->hub);
    uint64_t d = c->hub->conns[c->slot].ev_dropped;
    hub_unlock(c->hub);
    return d;
}

const struct rtv_store_ops local_store_ops = {
    .name       = "local",
    .read       = local_read,
    .write      = local_write,
    .mkdir      = local_mkdir,
    .rm         = local_rm,
    .directory  = local_directory,
    .get_perms  = local_get_perms,
    .set_perms  = local_set_perms,
    .txn_start  = local_txn_start,
    .txn_end    = local_txn_end,
    .watch      = local_watch,
    .unwatch    = local_unwatch,
    .watch_fd   = local_watch_fd,
    .read_watch = local_read_watch,
    .close      = local_store_close,
};
