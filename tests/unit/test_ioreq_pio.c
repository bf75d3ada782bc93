/*
 * Port-I/O ioreqs for one device (a 16550 at COM2, 0x2f8..0x2ff): what is
 * decoded into an access, what is refused and why, and the answers.
 */
#include <errno.h>

#include "rtvirt/ioreq_pio.h"
#include "unit.h"

#define BASE 0x2f8

static ioreq_t pio(uint64_t addr, int dir, uint64_t data)
{
    ioreq_t r;

    memset(&r, 0, sizeof(r));
    r.addr = addr;
    r.data = data;
    r.count = 1;
    r.size = 1;
    r.state = STATE_IOREQ_READY;
    r.dir = dir;
    r.type = IOREQ_TYPE_PIO;
    return r;
}

static enum rtv_ioreq_kind decode(const ioreq_t *r, struct rtv_ioseq_access *a,
                                  struct rtv_err *err)
{
    return rtv_ioreq_pio_decode(r, BASE, 8, 1, a, err);
}

START_TEST(decodes_reads_and_writes)
{
    struct rtv_ioseq_access a;
    struct rtv_err err = {0};
    ioreq_t r = pio(BASE + 3, IOREQ_WRITE, 0x1283);   /* a byte out: 0x83 */

    ck_assert_int_eq(decode(&r, &a, &err), RTV_IOREQ_ACCESS);
    ck_assert_uint_eq(a.offset, 3);
    ck_assert_uint_eq(a.dir, RTV_IOSEQ_WRITE);
    ck_assert_uint_eq(a.size, 1);
    ck_assert_uint_eq(a.value, 0x83);
    ck_assert_uint_eq(rtv_ioreq_pio_answer(&r, RTV_IOREQ_ACCESS, 0x55), 0x1283);

    r = pio(BASE, IOREQ_READ, 0xdead);
    ck_assert_int_eq(decode(&r, &a, &err), RTV_IOREQ_ACCESS);
    ck_assert_uint_eq(a.offset, 0);
    ck_assert_uint_eq(a.dir, RTV_IOSEQ_READ);
    ck_assert_uint_eq(a.value, 0);
    ck_assert_uint_eq(rtv_ioreq_pio_answer(&r, RTV_IOREQ_ACCESS, 0x41), 0x41);

    r = pio(BASE + 7, IOREQ_READ, 0);
    ck_assert_int_eq(decode(&r, &a, &err), RTV_IOREQ_ACCESS);
    ck_assert_uint_eq(a.offset, 7);
    ck_assert_int_eq(err.code, 0);
}
END_TEST

START_TEST(wider_registers_keep_their_width)
{
    struct rtv_ioseq_access a;
    ioreq_t r = pio(0x1000, IOREQ_WRITE, 0x123456789abcull);

    r.size = 2;
    ck_assert_int_eq(rtv_ioreq_pio_decode(&r, 0x1000, 4, 2, &a, NULL), RTV_IOREQ_ACCESS);
    ck_assert_uint_eq(a.value, 0x9abc);
    ck_assert_uint_eq(a.size, 2);
    r.size = 4;
    ck_assert_int_eq(rtv_ioreq_pio_decode(&r, 0x1000, 4, 4, &a, NULL), RTV_IOREQ_ACCESS);
    ck_assert_uint_eq(a.value, 0x56789abc);
}
END_TEST

START_TEST(invalidate_needs_nothing)
{
    struct rtv_ioseq_access a;
    ioreq_t r = pio(0, IOREQ_WRITE, 0);

    r.type = IOREQ_TYPE_INVALIDATE;
    ck_assert_int_eq(decode(&r, &a, NULL), RTV_IOREQ_NOTHING);
}
END_TEST

/* What is refused, and the reason names it. */
START_TEST(refusals_name_the_fault)
{
    struct rtv_ioseq_access a;
    struct rtv_err err;
    ioreq_t r;

    r = pio(BASE, IOREQ_READ, 0);
    r.type = IOREQ_TYPE_COPY;
    memset(&err, 0, sizeof(err));
    ck_assert_int_eq(decode(&r, &a, &err), RTV_IOREQ_REFUSED);
    ck_assert_int_eq(err.code, EOPNOTSUPP);
    ck_assert_contains(err.msg, "ioreq type 1 is not port I/O");

    r = pio(BASE, IOREQ_READ, 0);
    r.state = STATE_IORESP_READY;
    ck_assert_int_eq(decode(&r, &a, &err), RTV_IOREQ_REFUSED);
    ck_assert_int_eq(err.code, EPROTO);
    ck_assert_contains(err.msg, "state 3 is not READY");

    r = pio(BASE, IOREQ_WRITE, 0);
    r.count = 4;
    ck_assert_int_eq(decode(&r, &a, &err), RTV_IOREQ_REFUSED);
    ck_assert_contains(err.msg, "string port I/O (count 4) at 0x2f8");
    r.count = 1;
    r.data_is_ptr = 1;
    ck_assert_int_eq(decode(&r, &a, &err), RTV_IOREQ_REFUSED);
    ck_assert_contains(err.msg, "(count 1, data in guest memory)");
    r.count = 0;
    r.data_is_ptr = 0;
    ck_assert_int_eq(decode(&r, &a, &err), RTV_IOREQ_REFUSED);

    r = pio(BASE - 1, IOREQ_READ, 0);
    ck_assert_int_eq(decode(&r, &a, &err), RTV_IOREQ_REFUSED);
    ck_assert_int_eq(err.code, ERANGE);
    ck_assert_contains(err.msg, "port 0x2f7 is outside 0x2f8..0x2ff");
    r = pio(BASE + 8, IOREQ_READ, 0);
    ck_assert_int_eq(decode(&r, &a, &err), RTV_IOREQ_REFUSED);
    ck_assert_contains(err.msg, "port 0x300 is outside");
    r = pio(BASE + 0x10000ull, IOREQ_READ, 0);   /* no wrap to the range */
    ck_assert_int_eq(decode(&r, &a, &err), RTV_IOREQ_REFUSED);

    r = pio(BASE + 4, IOREQ_READ, 0);
    r.size = 2;
    ck_assert_int_eq(decode(&r, &a, &err), RTV_IOREQ_REFUSED);
    ck_assert_int_eq(err.code, EOPNOTSUPP);
    ck_assert_contains(err.msg, "2-byte access at 0x2fc to 1-byte registers");
}
END_TEST

START_TEST(refused_reads_float_high)
{
    ioreq_t r = pio(BASE, IOREQ_READ, 0x1234);

    ck_assert_uint_eq(rtv_ioreq_pio_answer(&r, RTV_IOREQ_REFUSED, 0x41), 0xff);
    r.size = 2;
    ck_assert_uint_eq(rtv_ioreq_pio_answer(&r, RTV_IOREQ_REFUSED, 0x41), 0xffff);
    r.size = 4;
    ck_assert_uint_eq(rtv_ioreq_pio_answer(&r, RTV_IOREQ_REFUSED, 0x41), 0xffffffffu);
    r.size = 8;
    ck_assert_uint_eq(rtv_ioreq_pio_answer(&r, RTV_IOREQ_REFUSED, 0x41), UINT64_MAX);
    r = pio(BASE, IOREQ_WRITE, 0x99);
    ck_assert_uint_eq(rtv_ioreq_pio_answer(&r, RTV_IOREQ_REFUSED, 0x41), 0x99);
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(ioreq_pio_suite, "ioreq_pio", "ioreq_pio", NULL, NULL, 0,
                        decodes_reads_and_writes, wider_registers_keep_their_width,
                        invalidate_needs_nothing, refusals_name_the_fault, refused_reads_float_high)

RTV_UNIT_MAIN(ioreq_pio_suite)
