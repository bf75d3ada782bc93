/*
 * libFuzzer: what a guest controls in rtvirt-ioemu, from the vCPU's ioreq
 * to the 16550 model.
 *
 * Every trapped access is the guest's doing: Xen copies it into the ioreq
 * page, rtvirt-ioemu decodes a copy (rtv_ioreq_pio_decode) and hands a
 * port access to the device model (rtv_uart_dm_access), which answers it,
 * holds it (a change is under way) or asks for it again later.  Here the
 * input is a script of such ioreqs, every field as the input says, mixed
 * with what happens around them: bytes arriving on the line and leaving
 * it, the operator's virtualize/devirtualize, time passing.  The device
 * behind the model is the model itself (rtv_uart_model_io), as in
 * tests/unit/test_uart_dm.c.
 *
 * Invariants, besides no crash or sanitizer report:
 *   - a decoded access is one port of the device, its width, one byte of
 *     value; a refused ioreq says why; a read answer is as wide as the read;
 *   - the model only answers or holds an access while it traps the ports,
 *     and trap()/untrap() alternate, dm.trapped saying the last;
 *   - every held access is answered exactly once, with its own cookie, and
 *     never more are held than the log has room for;
 *   - a change the operator asked for ends (ok or rolled back) within its
 *     bound plus the model's own slack, once time passes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "rtvirt/ioemu_ctl.h"
#include "rtvirt/ioreq_pio.h"
#include "rtvirt/uart16550.h"
#include "rtvirt/uart_dm.h"

#define BASE     0x2f8u
#define MAX_OPS  512u
#define MAX_HELD 64u

static struct {
    struct rtv_uart      uart;       /* the device on the other side */
    struct rtv_uart_dm   dm;
    struct rtv_ioemu_ctl ctl;
    uint64_t now;
    bool     trapped;                /* what trap() was last told */
    uint64_t held[MAX_HELD];         /* cookies waiting for an answer */
    unsigned nheld;
    uint64_t next_cookie;
    uint32_t req_id;
    uint64_t asked_at;               /* a change asked (0: none) */
    uint64_t bound_us;
} w;

static void trap(void *ctx, bool on)
{
    FUZZ_CHECK(ctx == &w);
    FUZZ_CHECK(on != w.trapped);     /* never twice the same way */
    w.trapped = on;
}

static void answer(void *ctx, uint64_t cookie, uint32_t value)
{
    unsigned i;

    FUZZ_CHECK(ctx == &w);
    FUZZ_CHECK(value <= 0xffu);
    for (i = 0; i < w.nheld && w.held[i] != cookie; i++)
        ;
    FUZZ_CHECK(i < w.nheld);         /* held, and not answered before */
    w.held[i] = w.held[--w.nheld];
}

static uint64_t clock_now(void *ctx)
{
    FUZZ_CHECK(ctx == &w);
    return w.now;
}

static const struct rtv_uart_dm_ops ops = { .trap = trap, .answer = answer,
                                            .now_us = clock_now };

static void finished(const struct rtv_iov_out *done)
{
    struct rtv_ioemu_ctl_out out;

    if (!done->finished)
        return;
    rtv_ioemu_ctl_finished(&w.ctl, done, &out);
    w.asked_at = 0;
}

/* One ioreq as the input writes it. */
static void guest_ioreq(struct fuzz_in *in)
{
    ioreq_t r;
    struct rtv_ioseq_access a;
    struct rtv_err err = { 0, "" };
    uint8_t f = fuzz_u8(in);
    uint32_t v = 0;

    memset(&r, 0, sizeof(r));
    r.addr = (f & 0x80) ? fuzz_u64(in) : BASE + (fuzz_u8(in) & 0x0f);
    r.data = fuzz_u32(in);
    r.count = (f & 0x40) ? fuzz_u32(in) : 1;
    r.size = (f & 0x20) ? fuzz_u32(in) : 1;
    r.state = (f & 0x10) ? fuzz_u8(in) & 0x0f : STATE_IOREQ_READY;
    r.data_is_ptr = (f >> 3) & 1;
    r.dir = (f >> 2) & 1;
    r.df = (f >> 1) & 1;
    r.type = (f & 1) ? fuzz_u8(in) : IOREQ_TYPE_PIO;

    enum rtv_ioreq_kind k = rtv_ioreq_pio_decode(&r, BASE, RTV_UART_NPORTS, 1, &a, &err);
    if (k == RTV_IOREQ_REFUSED) {
        FUZZ_CHECK(err.msg[0] != '\0');
    } else if (k == RTV_IOREQ_ACCESS) {
        FUZZ_CHECK(a.offset < RTV_UART_NPORTS && a.size == 1 && a.value <= 0xffu);
        FUZZ_CHECK(a.dir == (r.dir == IOREQ_READ ? RTV_IOSEQ_READ : RTV_IOSEQ_WRITE));
        if (!w.dm.trapped) {         /* direct: the guest reaches the UART */
            if (a.dir == RTV_IOSEQ_READ)
                v = rtv_uart_read(&w.uart, a.offset);
            else
                rtv_uart_write(&w.uart, a.offset, (uint8_t)a.value);
        } else if (w.nheld < MAX_HELD) {
            uint64_t cookie = ++w.next_cookie;

            switch (rtv_uart_dm_access(&w.dm, &a, cookie, &v)) {
            case RTV_UART_DM_ANSWERED:
                FUZZ_CHECK(v <= 0xffu);
                break;
            case RTV_UART_DM_HELD:
                w.held[w.nheld++] = cookie;
                FUZZ_CHECK(w.nheld <= RTV_UART_DM_LOG);
                break;
            case RTV_UART_DM_RETRY:
                break;
            }
        }
    }
    uint64_t ans = rtv_ioreq_pio_answer(&r, k, v);
    if (r.dir == IOREQ_READ && r.size > 0 && r.size < 8)
        FUZZ_CHECK(ans < (UINT64_C(1) << (8 * r.size)) || k == RTV_IOREQ_ACCESS);
}

/* The operator asks for a change (its bound from the input). */
static void operator_asks(struct fuzz_in *in)
{
    struct rtv_ioemu_ctl_out out;
    struct rtv_iov_out done;
    char id[16], bound[16];
    unsigned ms = 1 + fuzz_u8(in) % 200u;

    snprintf(id, sizeof(id), "%u", ++w.req_id);
    snprintf(bound, sizeof(bound), "%u", ms);
    rtv_ioemu_ctl_request(&w.ctl, w.dm.trapped ? "devirtualize" : "virtualize", id, bound,
                          w.now, &out);
    rtv_uart_dm_carry(&w.dm, w.now, &out.iov, &done);
    finished(&done);
    if (w.asked_at == 0 && w.dm.iov.phase != RTV_IOV_STABLE) {
        w.asked_at = w.now;
        w.bound_us = (uint64_t)ms * 1000u;
    }
}

/* The line: a byte comes in, or the UART's transmitter sends one. */
static void line(struct fuzz_in *in)
{
    uint8_t b = fuzz_u8(in), x;

    if (b & 1) {
        rtv_uart_rx_push(&w.uart, fuzz_u8(in));
    } else if (rtv_uart_tx_pop(&w.uart, &x)) {
        rtv_uart_tx_done(&w.uart);
    }
}

static void time_passes(uint64_t us)
{
    struct rtv_iov_out done;

    w.now += us;
    rtv_uart_dm_poll(&w.dm, w.now, &done);
    finished(&done);
    FUZZ_CHECK(w.dm.trapped == w.trapped);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = { data, size };
    struct rtv_uart_io io;
    uint8_t own = fuzz_u8(&in);

    memset(&w, 0, sizeof(w));
    w.now = 1;
    rtv_uart_init(&w.uart);
    io = rtv_uart_model_io(&w.uart);
    rtv_uart_dm_init(&w.dm, &io, &ops, &w,
                     (struct rtv_uart_dm_own){ .ier = own & 0x0f, .mcr = (own >> 4) & 0x0f,
                                               .fcr = 0x01 },
                     (uint8_t)(fuzz_u8(&in) & 0xc0));
    rtv_ioemu_ctl_init(&w.ctl, &w.dm.iov, 0);
    for (unsigned n = 0; n < MAX_OPS && in.n > 0; n++) {
        switch (fuzz_u8(&in) % 5u) {
        case 0: case 1: guest_ioreq(&in); break;
        case 2: operator_asks(&in); break;
        case 3: line(&in); break;
        default: time_passes(1 + fuzz_u16(&in)); break;
        }
        FUZZ_CHECK(w.dm.trapped == w.trapped);
    }
    /* Time passes with no guest: whatever was asked ends within its bound
     * (plus the model's slack: a takeover waits for the transmitter). */
    for (unsigned i = 0; i < 4000 && w.asked_at != 0; i++) {
        struct rtv_uart_fifo *tx = &w.uart.tx;
        uint8_t x;

        while (tx->count > 0 && rtv_uart_tx_pop(&w.uart, &x))
            rtv_uart_tx_done(&w.uart);
        time_passes(1000);
    }
    FUZZ_CHECK(w.asked_at == 0);
    /* ... and every access it held was answered by then. */
    FUZZ_CHECK(w.nheld == 0);
    return 0;
}
