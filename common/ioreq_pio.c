/* Port-I/O ioreqs for one device; see rtvirt/ioreq_pio.h. */
#include "rtvirt/ioreq_pio.h"

#include <errno.h>

enum rtv_ioreq_kind rtv_ioreq_pio_decode(const ioreq_t *copy, uint16_t base,
                                         unsigned nports, unsigned width,
                                         struct rtv_ioseq_access *a,
                                         struct rtv_err *err)
{
    /* Xen sends mapcache invalidations to every server; nothing to do. */
    if (copy->type == IOREQ_TYPE_INVALIDATE)
        return RTV_IOREQ_NOTHING;
    if (copy->type != IOREQ_TYPE_PIO) {
        rtv_err_set(err, EOPNOTSUPP, "ioreq type %u is not port I/O", copy->type);
        return RTV_IOREQ_REFUSED;
    }
    if (copy->state != STATE_IOREQ_READY) {
        rtv_err_set(err, EPROTO, "ioreq state %u is not READY", copy->state);
        return RTV_IOREQ_REFUSED;
    }
    if (copy->data_is_ptr || copy->count != 1) {
        rtv_err_set(err, EOPNOTSUPP, "string port I/O (count %u%s) at %#llx",
                    copy->count, copy->data_is_ptr ? ", data in guest memory" : "",
                    (unsigned long long)copy->addr);
        return RTV_IOREQ_REFUSED;
    }
    if (copy->addr < base || copy->addr >= (uint64_t)base + nports) {
        rtv_err_set(err, ERANGE, "port %#llx is outside %#x..%#x",
                    (unsigned long long)copy->addr, base, base + nports - 1);
        return RTV_IOREQ_REFUSED;
    }
    if (copy->size != width) {
        rtv_err_set(err, EOPNOTSUPP, "%u-byte access at %#llx to %u-byte registers",
                    copy->size, (unsigned long long)copy->addr, width);
        return RTV_IOREQ_REFUSED;
    }
    *a = (struct rtv_ioseq_access){
        .offset = (uint16_t)(copy->addr - base),
        .dir = copy->dir == IOREQ_READ ? RTV_IOSEQ_READ : RTV_IOSEQ_WRITE,
        .size = (uint8_t)width,
        .value = copy->dir == IOREQ_READ ? 0 : (uint32_t)copy->data,
    };
    if (width < 4)
        a->value &= (1u << (8 * width)) - 1;
    return RTV_IOREQ_ACCESS;
}

uint64_t rtv_ioreq_pio_answer(const ioreq_t *copy, enum rtv_ioreq_kind kind,
                              uint32_t value)
{
    if (copy->dir != IOREQ_READ)
        return copy->data;
    if (kind == RTV_IOREQ_ACCESS)
        return value;
    /* Nothing drives the bus: all ones, as wide as the read. */
    return copy->size >= 8 ? UINT64_MAX : (UINT64_C(1) << (8 * copy->size)) - 1;
}
