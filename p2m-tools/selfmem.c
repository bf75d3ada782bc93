/* See selfmem.h. */
#include <sys/types.h>
#include <unistd.h>

#include "selfmem.h"

#define SPREAD 0x9e3779b97f4a7c15ull    /* odd: word i gets its own value */

uint64_t selfmem_gfn(int pm, const void *va)
{
    uint64_t e = 0;
    off_t off = (off_t)((uintptr_t)va / SELFMEM_PAGE) * 8;

    /* Bit 63: present; bits 0-54: the frame (zero without CAP_SYS_ADMIN). */
    if ( pread(pm, &e, sizeof(e), off) != sizeof(e) || !(e >> 63) )
        return SELFMEM_NO_GFN;
    return e & ((1ull << 55) - 1);
}

void selfmem_stamp(void *page, uint64_t tag)
{
    volatile uint64_t *w = page;    /* every store must reach memory */
    unsigned int i;

    for ( i = 0; i < SELFMEM_PAGE / 8; i++ )
        w[i] = tag ^ (i * SPREAD);
}

int selfmem_has_stamp(const void *page, uint64_t tag)
{
    const volatile uint64_t *w = page;
    unsigned int i;

    for ( i = 0; i < SELFMEM_PAGE / 8; i++ )
        if ( w[i] != (tag ^ (i * SPREAD)) )
            return 0;
    return 1;
}

uint64_t selfmem_tag_of(const void *page)
{
    return *(const volatile uint64_t *)page;    /* word 0: tag ^ 0 */
}
