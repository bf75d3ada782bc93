/*
 * What the in-dom0 P2M tools (rtvirt-p2m-cycles, rtvirt-p2m-seqwriter) do
 * with their own pages: find a page's gfn, stamp a page with a tag so that
 * every word of it says which tag it holds, check that.
 */
#ifndef RTV_SELFMEM_H
#define RTV_SELFMEM_H

#include <stdint.h>

#define SELFMEM_PAGE 4096u
#define SELFMEM_NO_GFN (~(uint64_t)0)

/* The gfn backing virtual address va, read from /proc/self/pagemap (open
 * as pm; needs root for frame numbers), or SELFMEM_NO_GFN.  In a PVH or HVM
 * domain the kernel's frame numbers are gfns. */
uint64_t selfmem_gfn(int pm, const void *va);
/* Every 64-bit word i of the page becomes tag ^ (i * an odd constant). */
void selfmem_stamp(void *page, uint64_t tag);
/* 1 if the page holds selfmem_stamp(tag) exactly. */
int selfmem_has_stamp(const void *page, uint64_t tag);
/* The page's first word read back as a tag (what a stale page holds). */
uint64_t selfmem_tag_of(const void *page);

#endif
