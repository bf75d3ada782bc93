/*
 * A device's modes: where its I/O goes.  emulated = all of it through the
 * emulated device (qemu); pv = all of it over the PV ring; selective = reads
 * and writes over the PV ring, the rest emulated (seed 004).
 */
#ifndef RTVIRT_MODE_H
#define RTVIRT_MODE_H

#include <stdbool.h>

enum rtv_mode {
    RTV_MODE_EMULATED,
    RTV_MODE_PV,
    RTV_MODE_SELECTIVE,
    RTV_MODE_COUNT
};

/* "emulated", "pv", "selective". */
const char *rtv_mode_name(enum rtv_mode m);
/* 0, or -EINVAL for anything else (including NULL). */
int rtv_mode_parse(const char *s, enum rtv_mode *out);
/* Does this mode route anything over the PV ring? */
bool rtv_mode_needs_pv(enum rtv_mode m);
/* The shunt-state value that confirms the shunt runs in mode m. */
const char *rtv_mode_shunt_state(enum rtv_mode m);

#endif
