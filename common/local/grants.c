/*
 * Local grant tables.  One grant is one page of the hub's memfd; the grant
 * ref is the table index + 1 (0 stays invalid, as an unset ref usually is).
 *
 * Both sides map the same memfd page, so a sharer and a mapper in different
 * processes see each other's stores directly, as with real grants.  Like
 * gntshr, unsharing a page the peer still maps only marks it; the entry
 * and its page go when the last mapping does.  Each handle remembers its own
 * mappings (process-local) so unmap/unshare/close know which refs an
 * address stands for; the entry's generation guards against acting on an
 * entry that release_domain already freed and somebody reused.
 */
#include "hub_private.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct gnt_mapping {
    struct gnt_mapping *next;
    void               *addr;
    unsigned            count;
    bool                shared;   /* made by share(): we are the granter */
    rtv_gref_t         *refs;
    uint32_t           *gens;
};

/* Locked. */
static void grant_free(struct rtv_local_hub *hub, uint32_t idx)
{
    struct hub_grant *e = &hub->grants[idx];
    size_t psz = hub->hdr->page_size;

    /* Punching the page returns its memory and makes the next share of
     * it start zeroed, as gntalloc pages do. */
    (void)fallocate(hub->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                    (off_t)e->page * (off_t)psz, (off_t)psz);
    e->in_use = 0;
    e->unshared = 0;
    e->map_count = 0;
    e->gen++;
}

/* Locked: ref's grant if it still is the one of generation gen (the
 * mapping that recorded gen is not stale), else NULL. */
static struct hub_grant *grant_of_gen(struct rtv_local_hub *hub, rtv_gref_t ref,
                                      uint32_t gen)
{
    struct hub_grant *e = &hub->grants[ref - 1];

    return e->in_use && e->gen == gen ? e : NULL;
}

/* Locked: a grant goes once its granter let go of it and nobody maps it
 * any more, just as Xen keeps mapped pages alive. */
static void grant_free_if_done(struct rtv_local_hub *hub, uint32_t i)
{
    const struct hub_grant *e = &hub->grants[i];

    if (e->unshared && e->map_count == 0)
        grant_free(hub, i);
}

/* Locked: the granter lets go of one of its grants. */
static void grant_unshare_one(struct rtv_local_hub *hub, rtv_gref_t ref,
                              uint32_t gen)
{
    struct hub_grant *e = grant_of_gen(hub, ref, gen);

    if (e == NULL)
        return;
    e->unshared = 1;
    grant_free_if_done(hub, ref - 1);
}

/* Locked: a mapper lets go of one of its mappings. */
static void grant_unmap_one(struct rtv_local_hub *hub, rtv_gref_t ref,
                            uint32_t gen)
{
    struct hub_grant *e = grant_of_gen(hub, ref, gen);

    if (e == NULL)
        return;
    if (e->map_count > 0)
        e->map_count--;
    grant_free_if_done(hub, ref - 1);
}

static struct gnt_mapping *mapping_new(unsigned count)
{
    struct gnt_mapping *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->refs = calloc(count, sizeof(*m->refs));
    m->gens = calloc(count, sizeof(*m->gens));
    if (m->refs == NULL || m->gens == NULL) {
        free(m->refs);
        free(m->gens);
        free(m);
        return NULL;
    }
    m->count = count;
    return m;
}

static void mapping_free(struct gnt_mapping *m)
{
    free(m->refs);
    free(m->gens);
    free(m);
}

/* The start of share and map: their arguments checked (at most max
 * grants), then an empty mapping for count of them; NULL with errno set
 * otherwise. */
static struct gnt_mapping *mapping_start(rtv_domid_t peer, unsigned count,
                                         const rtv_gref_t *refs, unsigned max)
{
    struct gnt_mapping *m;

    if (count == 0 || refs == NULL || peer >= RTV_DOMID_MAX) {
        errno = EINVAL;
        return NULL;
    }
    if (count > max) {
        errno = ENOSPC;
        return NULL;
    }
    m = mapping_new(count);
    if (m == NULL)
        errno = ENOMEM;
    return m;
}

/* Reserves count pages of address space, then puts each grant's memfd page
 * into it, so the caller gets one contiguous range whatever the pages. */
static void *map_pages(struct rtv_local_hub *hub, const struct gnt_mapping *m,
                       bool writable)
{
    size_t psz = hub->hdr->page_size;
    char *base = mmap(NULL, (size_t)m->count * psz, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    for (unsigned i = 0; i < m->count; i++) {
        off_t off = (off_t)hub->grants[m->refs[i] - 1].page * (off_t)psz;
        if (mmap(base + (size_t)i * psz, psz, prot, MAP_SHARED | MAP_FIXED,
                 hub->memfd, off) == MAP_FAILED) {
            int e = errno;
            munmap(base, (size_t)m->count * psz);
            errno = e;
            return NULL;
        }
    }
    return base;
}

/* The end of a share or a map, hub locked: kept on the connection (its
 * address), or, rc < 0, dropped (NULL, errno = -rc). */
static void *mapping_end(struct local_conn *c, struct gnt_mapping *m, int rc)
{
    if (rc < 0) {
        hub_unlock(c->hub);
        mapping_free(m);
        errno = -rc;
        return NULL;
    }
    m->next = c->maps;
    c->maps = m;
    hub_unlock(c->hub);
    return m->addr;
}

static void *local_share(struct rtv_grants *g, rtv_domid_t peer, unsigned count,
                         rtv_gref_t *refs, bool writable)
{
    struct local_conn *c = conn_of(g, gnt);
    struct rtv_local_hub *hub = c->hub;
    int rc;
    struct gnt_mapping *m = mapping_start(peer, count, refs, hub->hdr->cfg.max_grant_pages);

    if (m == NULL)
        return NULL;
    m->shared = true;

    hub_lock(hub);
    if ((rc = hub_fault(hub, RTV_FAULT_GNT_SHARE, c->domid)) < 0)
        goto end;
    unsigned got = 0;
    for (uint32_t i = 0; i < hub->hdr->cfg.max_grant_pages && got < count; i++)
        if (!hub->grants[i].in_use)
            m->refs[got++] = i + 1;
    if (got < count) {
        rc = -ENOSPC;
        goto end;
    }
    for (unsigned k = 0; k < count; k++) {
        struct hub_grant *e = &hub->grants[m->refs[k] - 1];
        e->in_use = 1;
        e->unshared = 0;
        e->granter = c->domid;
        e->grantee = peer;
        e->writable = writable;
        e->page = m->refs[k] - 1;
        e->map_count = 0;
        m->gens[k] = e->gen;
    }
    /* The granter always writes its own pages, whatever the peer may do. */
    m->addr = map_pages(hub, m, true);
    if (m->addr == NULL) {
        rc = -errno;
        for (unsigned k = 0; k < count; k++)
            grant_free(hub, m->refs[k] - 1);
        goto end;
    }
    rc = 0;
end:
    if (mapping_end(c, m, rc) == NULL)
        return NULL;
    memcpy(refs, m->refs, count * sizeof(*refs));
    return m->addr;
}

static void *local_map(struct rtv_grants *g, rtv_domid_t peer, unsigned count,
                       const rtv_gref_t *refs, bool writable)
{
    struct local_conn *c = conn_of(g, gnt);
    struct rtv_local_hub *hub = c->hub;
    int rc = 0;
    /* No bound on count here: a ref may be mapped more than once. */
    struct gnt_mapping *m = mapping_start(peer, count, refs, UINT_MAX);

    if (m == NULL)
        return NULL;

    hub_lock(hub);
    if ((rc = hub_fault(hub, RTV_FAULT_GNT_MAP, c->domid)) < 0)
        goto end;
    /* Check every ref before counting any, so a bad one costs nothing. */
    for (unsigned k = 0; k < count; k++) {
        rtv_gref_t ref = refs[k];
        if (ref == 0 || ref > hub->hdr->cfg.max_grant_pages) {
            rc = -EINVAL;
            goto end;
        }
        struct hub_grant *e = &hub->grants[ref - 1];
        if (!e->in_use || e->unshared || e->grantee != c->domid ||
            e->granter != peer) {
            rc = -EINVAL;
            goto end;
        }
        if (writable && !e->writable) {
            rc = -EACCES;
            goto end;
        }
        m->refs[k] = ref;
        m->gens[k] = e->gen;
    }
    for (unsigned k = 0; k < count; k++)
        hub->grants[refs[k] - 1].map_count++;
    m->addr = map_pages(hub, m, writable);
    if (m->addr == NULL) {
        rc = -errno;
        for (unsigned k = 0; k < count; k++)
            grant_unmap_one(hub, m->refs[k], m->gens[k]);
        goto end;
    }
    rc = 0;
end:
    return mapping_end(c, m, rc);
}

/* Locked: unlinks the mapping at addr made by share() or by map(). */
static struct gnt_mapping *mapping_take(struct local_conn *c, void *addr,
                                        unsigned count, bool shared)
{
    for (struct gnt_mapping **pp = &c->maps; *pp; pp = &(*pp)->next) {
        struct gnt_mapping *m = *pp;
        if (m->addr == addr && m->shared == shared) {
            if (m->count != count)
                return NULL;
            *pp = m->next;
            return m;
        }
    }
    return NULL;
}

static void mapping_release(struct rtv_local_hub *hub, struct gnt_mapping *m)
{
    munmap(m->addr, (size_t)m->count * hub->hdr->page_size);
    for (unsigned k = 0; k < m->count; k++) {
        if (m->shared)
            grant_unshare_one(hub, m->refs[k], m->gens[k]);
        else
            grant_unmap_one(hub, m->refs[k], m->gens[k]);
    }
    mapping_free(m);
}

static int unmap_common(struct rtv_grants *g, void *addr, unsigned count,
                        bool shared)
{
    struct local_conn *c = conn_of(g, gnt);
    struct rtv_local_hub *hub = c->hub;

    if (addr == NULL || count == 0)
        return -EINVAL;
    hub_lock(hub);
    struct gnt_mapping *m = mapping_take(c, addr, count, shared);
    if (m != NULL)
        mapping_release(hub, m);
    hub_unlock(hub);
    return m != NULL ? 0 : -EINVAL;
}

static int local_unshare(struct rtv_grants *g, void *addr, unsigned count)
{
    return unmap_common(g, addr, count, true);
}

static int local_unmap(struct rtv_grants *g, void *addr, unsigned count)
{
    return unmap_common(g, addr, count, false);
}

void grants_held(const struct local_conn *c, unsigned *shared, unsigned *mapped)
{
    *shared = *mapped = 0;
    /* c->maps is this process's own list: no lock needed. */
    for (const struct gnt_mapping *m = c->maps; m != NULL; m = m->next)
        *(m->shared ? shared : mapped) += m->count;
}

void grants_conn_closed(struct local_conn *c)
{
    bool ours = hub_conn_ours(c);

    hub_lock(c->hub);
    while (c->maps != NULL) {
        struct gnt_mapping *m = c->maps;
        c->maps = m->next;
        if (ours) {
            mapping_release(c->hub, m);
        } else {
            /* Inherited copies of the opener's mappings: the grants and
             * their counts stay the opener's business. */
            munmap(m->addr, (size_t)m->count * c->hub->hdr->page_size);
            mapping_free(m);
        }
    }
    hub_unlock(c->hub);
}

void grants_release_domain(struct rtv_local_hub *hub, rtv_domid_t domid)
{
    for (uint32_t i = 0; i < hub->hdr->cfg.max_grant_pages; i++) {
        struct hub_grant *e = &hub->grants[i];
        if (!e->in_use)
            continue;
        /* A dead domain's mappings are gone; its own grants go once the
         * peers unmap them. */
        if (e->grantee == domid)
            e->map_count = 0;
        if (e->granter == domid)
            e->unshared = 1;
        grant_free_if_done(hub, i);
    }
}

static void local_grants_close(struct rtv_grants *g)
{
    struct local_conn *c = conn_of(g, gnt);
    grants_conn_closed(c);
    hub_conn_put(c);
}

unsigned rtv_local_test_grants_in_use(struct rtv_local_hub *hub)
{
    unsigned n = 0;
    hub_lock(hub);
    for (uint32_t i = 0; i < hub->hdr->cfg.max_grant_pages; i++)
        n += hub->grants[i].in_use != 0;
    hub_unlock(hub);
    return n;
}

const struct rtv_grants_ops local_grants_ops = {
    .name    = "local",
    .share   = local_share,
    .unshare = local_unshare,
    .map     = local_map,
    .unmap   = local_unmap,
    .close   = local_grants_close,
};
