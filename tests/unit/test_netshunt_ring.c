/*
 * What rtvirt-netshunt asks of the emulated NIC's receive ring (shunt/
 * netshunt_ring.c): nothing when it is short enough or no bound is set,
 * else the bound, raised to the driver's least and cut to its most.  The
 * ioctl itself needs a NIC: the lab's net flight logs the change.
 */
#include "../../shunt/netshunt_ring.h"
#include "unit.h"

START_TEST(short_rings_and_no_bound_are_left)
{
    ck_assert_uint_eq(netshunt_rx_ring_target(64, 64, 48, 4096), 0);
    ck_assert_uint_eq(netshunt_rx_ring_target(48, 64, 48, 4096), 0);
    ck_assert_uint_eq(netshunt_rx_ring_target(256, 0, 48, 4096), 0);
}
END_TEST

START_TEST(a_long_ring_gets_the_bound_within_the_driver)
{
    ck_assert_uint_eq(netshunt_rx_ring_target(256, 64, 48, 4096), 64);
    /* below the driver's least: its least, if that is still shorter */
    ck_assert_uint_eq(netshunt_rx_ring_target(256, 16, 48, 4096), 48);
    ck_assert_uint_eq(netshunt_rx_ring_target(40, 16, 48, 4096), 0);
    /* a driver that tells no most */
    ck_assert_uint_eq(netshunt_rx_ring_target(1024, 512, 48, 0), 512);
    /* a most below the bound: the most, if that is shorter than now */
    ck_assert_uint_eq(netshunt_rx_ring_target(1024, 800, 48, 512), 512);
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(netshunt_ring_suite, "netshunt_ring", "ring", NULL, NULL, 0,
                        short_rings_and_no_bound_are_left,
                        a_long_ring_gets_the_bound_within_the_driver)

RTV_UNIT_MAIN(netshunt_ring_suite)
