/*
 * The blkif ABI, taken from libxen-dev's public headers (xen/io/blkif.h and
 * xen/io/ring.h) and never redeclared here.  This wrapper only supplies what
 * those headers expect their includer to provide in userspace: the interface
 * version (so ring.h does not fall back to the legacy mb()/rmb()/wmb()
 * names) and the xen_mb/xen_rmb/xen_wmb barriers, which libxenctrl's header
 * would normally define.  Core code must not include xenctrl.h.
 */
#ifndef RTVIRT_BLKIF_ABI_H
#define RTVIRT_BLKIF_ABI_H

#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1
#endif

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Full fences: the ring protocol needs store->load ordering in
 * RING_FINAL_CHECK_FOR_*() and RING_PUSH_*_AND_CHECK_NOTIFY(), which only a
 * sequentially consistent fence gives on x86. */
#ifndef xen_mb
#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif
#ifndef xen_rmb
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#endif
#ifndef xen_wmb
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif

#include <xen/io/blkif.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>

/* blkif sectors are always 512 bytes (feature-large-sector-size aside,
 * which rtvirt does not negotiate); ring pages are always 4 KiB. */
#define RTV_BLKIF_SECTOR_SHIFT   9
#define RTV_BLKIF_SECTOR_SIZE    (1u << RTV_BLKIF_SECTOR_SHIFT)
#define RTV_BLKIF_PAGE_SIZE      (1u << XEN_PAGE_SHIFT)
#define RTV_BLKIF_SECTORS_PER_PAGE (RTV_BLKIF_PAGE_SIZE / RTV_BLKIF_SECTOR_SIZE)
/* Segment descriptors per indirect page. */
#define RTV_BLKIF_SEGS_PER_INDIRECT_PAGE \
    (RTV_BLKIF_PAGE_SIZE / sizeof(struct blkif_request_segment))

#endif
