/*
 * The two byte streams the UART tests carry through the device model
 * (test_uart_dm on the host's model alone, test_ioemu_component through
 * rtvirt-ioemu's server): byte i of each is a function of i, so a byte lost,
 * doubled or reordered anywhere in a cycle is seen at the place it happened;
 * and the tests' random source, a fixed generator so that a failing run is
 * the same run again.  Header-only, as xs_fixture.h.
 */
#ifndef RTV_TESTS_UART_STREAMS_H
#define RTV_TESTS_UART_STREAMS_H

#include <stddef.h>
#include <stdint.h>

/* What the guest writes to the UART, and what the line's far end sends. */
static inline uint8_t guest_byte(size_t i) { return (uint8_t)(i * 7 + 3); }
static inline uint8_t host_byte(size_t i) { return (uint8_t)(i * 13 + 5); }

/* A number below n from the generator whose state is *rng (any seed). */
static inline unsigned rtv_test_rnd(uint32_t *rng, unsigned n)
{
    *rng = *rng * 1103515245u + 12345u;
    return (*rng >> 16) % n;
}

#endif
