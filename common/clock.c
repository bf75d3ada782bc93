/* The monotonic clock; see rtvirt/clock.h. */
#include "rtvirt/clock.h"

#include <time.h>

uint64_t rtv_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t rtv_now_ms(void)
{
    return rtv_now_us() / 1000u;
}

uint64_t rtv_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
