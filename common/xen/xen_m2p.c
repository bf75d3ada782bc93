/*
 * Xen's M2P, mapped read-only from DOMID_XEN (see rtvirt/xen_m2p.h).  The
 * table is Xen's to write: every read is of an entry as it is at that time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xenctrl.h>
#include <xenforeignmemory.h>

#include "rtvirt/p2m_idcheck.h"
#include "rtvirt/xen_m2p.h"

/* An M2P extent: 2 MiB of 8-byte entries, 512 contiguous frames. */
#define EXTENT_BYTES    ((uint64_t)2 << 20)
#define EXTENT_ENTRIES  (EXTENT_BYTES / sizeof(xen_pfn_t))
#define EXTENT_FRAMES   (EXTENT_BYTES / XC_PAGE_SIZE)

struct rtv_xen_m2p {
    xenforeignmemory_handle *fmem;
    const xen_pfn_t *table;     /* extents * EXTENT_ENTRIES entries */
    uint8_t *mapped;            /* per extent: every frame mapped */
    unsigned long max_mfn;
    uint64_t extents;
};

void rtv_xen_m2p_close(struct rtv_xen_m2p *m)
{
    if ( !m )
        return;
    if ( m->table )
        xenforeignmemory_unmap(m->fmem, (void *)m->table, m->extents * EXTENT_FRAMES);
    if ( m->fmem )
        xenforeignmemory_close(m->fmem);
    free(m->mapped);
    free(m);
}

/* One XENMEM_machphys_mfn_list call of k extents, in the shape of
 * rtv_m2p_extent_count()'s lister. */
struct lister {
    xc_interface *xch;
    xen_pfn_t *ext;
};

static int list_extents(void *ctx, uint64_t k)
{
    struct lister *l = ctx;

    /* libxenctrl fails without an errno when Xen lists fewer than k. */
    errno = 0;
    if ( !xc_machphys_mfn_list(l->xch, (unsigned long)k, l->ext) )
        return 0;
    return errno ? -errno : 1;
}

/*
 * Which extents of the table exist: their first frames (0 = a hole).  The
 * count asked for first is the one XENMEM_maximum_ram_page's frame implies;
 * the lab's PVH dom0 (flight p2m, 2026-12-07 03:20) got a failure with no
 * errno for it ("Input/output error", what this code used to put in), so
 * most likely Xen's table, which ends at its max_page, is shorter (not
 * proven on Xen yet).  rtv_m2p_extent_count() finds the real count; frames
 * beyond the table read as no gfn.
 */
static int extent_frames(unsigned long max_mfn, xen_pfn_t **ext, uint64_t *n,
                         struct rtv_err *err)
{
    struct lister l = { xc_interface_open(NULL, NULL, 0), NULL };
    uint64_t guess = ((uint64_t)max_mfn + 1 + EXTENT_ENTRIES - 1) / EXTENT_ENTRIES;
    int rc;

    if ( !l.xch )
        return rtv_err_set(err, errno ? errno : EIO, "cannot open libxenctrl; run as root in "
                           "dom0");
    *ext = l.ext = calloc(guess, sizeof(**ext));
    if ( !*ext )
    {
        xc_interface_close(l.xch);
        return rtv_err_set(err, ENOMEM, "out of memory");
    }
    rc = rtv_m2p_extent_count(guess, list_extents, &l, n);
    xc_interface_close(l.xch);
    if ( rc == -ENOENT )
        return rtv_err_set(err, ENOENT, "XENMEM_machphys_mfn_list failed: Xen listed fewer "
                           "extents than asked, even for one");
    if ( rc )
        return rtv_err_set(err, -rc, "XENMEM_machphys_mfn_list failed: %s", strerror(-rc));
    return 0;
}

static int max_ram_page(unsigned long *max_mfn, struct rtv_err *err)
{
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    int rc;

    if ( !xch )
        return rtv_err_set(err, errno ? errno : EIO, "cannot open libxenctrl; run as root in "
                           "dom0");
    rc = xc_maximum_ram_page(xch, max_mfn);
    xc_interface_close(xch);
    if ( rc < 0 )
        return rtv_err_set(err, errno ? errno : EIO, "XENMEM_maximum_ram_page failed");
    return 0;
}

int rtv_xen_m2p_open(struct rtv_xen_m2p **out, struct rtv_err *err)
{
    struct rtv_xen_m2p *m = calloc(1, sizeof(*m));
    xen_pfn_t *ext = NULL, *frames = NULL;
    int *errs = NULL, rc;
    uint64_t e, f;

    if ( !m )
        return rtv_err_set(err, ENOMEM, "out of memory");
    rc = max_ram_page(&m->max_mfn, err);
    if ( !rc )
        rc = extent_frames(m->max_mfn, &ext, &m->extents, err);
    if ( rc )
        goto fail;
    m->mapped = calloc(m->extents, 1);
    frames = calloc(m->extents * EXTENT_FRAMES, sizeof(*frames));
    errs = calloc(m->extents * EXTENT_FRAMES, sizeof(*errs));
    m->fmem = xenforeignmemory_open(NULL, 0);
    if ( !m->mapped || !frames || !errs || !m->fmem )
    {
        rc = rtv_err_set(err, m->fmem ? ENOMEM : (errno ? errno : EIO),
                         m->fmem ? "out of memory" : "cannot open libxenforeignmemory");
        goto fail;
    }
    /* A hole is asked for as frame 0 and refused per page (errs[]). */
    for ( e = 0; e < m->extents; e++ )
        for ( f = 0; f < EXTENT_FRAMES; f++ )
            frames[e * EXTENT_FRAMES + f] = ext[e] ? ext[e] + f : 0;
    m->table = xenforeignmemory_map(m->fmem, DOMID_XEN, PROT_READ, m->extents * EXTENT_FRAMES,
                                    frames, errs);
    if ( !m->table )
    {
        rc = rtv_err_set(err, errno ? errno : EIO, "cannot map the M2P from DOMID_XEN: %s",
                         strerror(errno ? errno : EIO));
        goto fail;
    }
    for ( e = 0; e < m->extents; e++ )
    {
        m->mapped[e] = ext[e] != 0;
        for ( f = 0; f < EXTENT_FRAMES; f++ )
            if ( errs[e * EXTENT_FRAMES + f] )
                m->mapped[e] = 0;
    }
    free(ext);
    free(frames);
    free(errs);
    *out = m;
    return 0;

 fail:
    free(ext);
    free(frames);
    free(errs);
    rtv_xen_m2p_close(m);
    return rc;
}

uint64_t rtv_xen_m2p_max_mfn(const struct rtv_xen_m2p *m)
{
    return m->max_mfn;
}

int rtv_xen_m2p_read(void *ctx, uint64_t mfn, uint64_t n, uint64_t *gfn)
{
    const struct rtv_xen_m2p *m = ctx;
    uint64_t i;

    for ( i = 0; i < n; i++, mfn++ )
    {
        xen_pfn_t v;

        if ( mfn > m->max_mfn || mfn / EXTENT_ENTRIES >= m->extents ||
             !m->mapped[mfn / EXTENT_ENTRIES] )
        {
            gfn[i] = RTV_M2P_NONE;
            continue;
        }
        v = m->table[mfn];
        /* INVALID_M2P_ENTRY (~0) is ours; SHARED_M2P_ENTRY (~0 - 1) names no
         * gfn of one domain either. */
        gfn[i] = v >= (xen_pfn_t)~0UL - 1 ? RTV_M2P_NONE : (uint64_t)v;
    }
    return 0;
}
