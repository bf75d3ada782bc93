/*
 * The one clock every bound and measurement uses: CLOCK_MONOTONIC, so a
 * wall-clock step (NTP, an operator's `date`) never stretches or cuts a wait.
 */
#ifndef RTVIRT_CLOCK_H
#define RTVIRT_CLOCK_H

#include <stdint.h>

uint64_t rtv_now_ms(void);
uint64_t rtv_now_us(void);

/* Wall-clock milliseconds (CLOCK_REALTIME), only for log stamps that are
 * lined up with another machine's or another program's (the lab matches a
 * guest's lines with dom0's): never for a bound or a duration. */
uint64_t rtv_wall_ms(void);

#endif
