/*
 * The 16550 UART's I/O sequences, as an rtv_ioseq table (production: the
 * one rtvirt-ioemu feeds).  Offsets and bits are linux/serial_reg.h's.
 *
 * What is a sequence, and why it must not be split between two drivers:
 *
 *  - divisor: LCR with DLAB set -> DLL -> DLM (either order) -> LCR with
 *    DLAB clear.  While DLAB is set, offsets 0 and 1 are the divisor latch,
 *    not RBR/THR/IER: a driver handed the device in between would read and
 *    write the wrong registers.  Every access is legal while DLAB is set
 *    (drivers read the latch back, probe EFR with LCR=0xBF, ...), so these
 *    states take any access; only an LCR write with DLAB clear ends it.
 *  - interrupt: an IIR read that reports an interrupt -> servicing (LSR,
 *    RBR, MSR reads, THR and IER writes) -> an IIR read that reports none.
 *    The driver acts on what it read from IIR/LSR; the device it reads
 *    RBR from must be the one whose IIR said data was there.  An IIR read
 *    that reports another interrupt closes one round and opens the next.
 *  - receive: an LSR read with DR -> the RBR read that takes the byte.
 *  - transmit: an LSR read with THRE -> THR writes (a FIFO burst: the
 *    driver learnt the FIFO is empty and fills it without looking again).
 *    A burst has no closing access: any other access ends it.  Its state
 *    is nonetheless a boundary (a second start state, as seed 002 [0041]
 *    allows): what the driver knows is only that the FIFO had room, and a
 *    change empties the transmitter before it hands the device over
 *    (iovirt's DRAINED), so the rest of the burst fits on either side.
 *    A guest that transmits without pause re-reads LSR into the next
 *    burst and would otherwise never be found between two sequences.
 *
 * A guest whose last access left it inside receive (it read LSR with DR,
 * then went quiet) keeps the device off a boundary until the caller's
 * bound passes and the device is reset (rtvirt/iovirt.h).
 */
#include <linux/serial_reg.h>

#include "rtvirt/uart16550.h"

#define ANY RTV_IOSEQ_ANY_OFFSET
#define R   RTV_IOSEQ_READ
#define W   RTV_IOSEQ_WRITE
#define RW  RTV_IOSEQ_ANY_DIR

enum { IDLE, DLAB, DLL_SET, DLM_SET, DIVISOR, ISR, RX, TX };

static const struct rtv_ioseq_state states[] = {
    [IDLE]    = { "idle", .boundary = true },
    [DLAB]    = { "dlab-set", .boundary = false },
    [DLL_SET] = { "dll-written", .boundary = false },
    [DLM_SET] = { "dlm-written", .boundary = false },
    [DIVISOR] = { "divisor-written", .boundary = false },
    [ISR]     = { "interrupt-service", .boundary = false },
    [RX]      = { "rx-ready", .open_ended = true },
    [TX]      = { "tx-burst", .boundary = true, .open_ended = true },
};

#define DLAB_ON(from, to)  { from, to, UART_LCR, W, false, UART_LCR_DLAB, UART_LCR_DLAB, "divisor" }
#define DLAB_OFF(from)     { from, IDLE, UART_LCR, W, false, UART_LCR_DLAB, 0, "divisor" }
#define INSIDE(st, seq)    { st, st, ANY, RW, false, 0, 0, seq }

static const struct rtv_ioseq_trans trans[] = {
    /* From idle: what opens each sequence. */
    DLAB_ON(IDLE, DLAB),
    { IDLE, ISR, UART_IIR, R, false, UART_IIR_NO_INT, 0, "interrupt" },
    { IDLE, RX, UART_LSR, R, false, UART_LSR_DR, UART_LSR_DR, "receive" },
    { IDLE, TX, UART_LSR, R, false, UART_LSR_THRE, UART_LSR_THRE, "transmit" },

    /* divisor */
    { DLAB, DLL_SET, UART_DLL, W, false, 0, 0, "divisor" },
    { DLAB, DLM_SET, UART_DLM, W, false, 0, 0, "divisor" },
    { DLL_SET, DIVISOR, UART_DLM, W, false, 0, 0, "divisor" },
    { DLM_SET, DIVISOR, UART_DLL, W, false, 0, 0, "divisor" },
    DLAB_OFF(DLAB), DLAB_OFF(DLL_SET), DLAB_OFF(DLM_SET), DLAB_OFF(DIVISOR),
    INSIDE(DLAB, "divisor"), INSIDE(DLL_SET, "divisor"),
    INSIDE(DLM_SET, "divisor"), INSIDE(DIVISOR, "divisor"),

    /* interrupt */
    { ISR, IDLE, UART_IIR, R, false, UART_IIR_NO_INT, UART_IIR_NO_INT, "interrupt" },
    { ISR, ISR, UART_IIR, R, true, UART_IIR_NO_INT, 0, "interrupt" },
    { ISR, DLAB, UART_LCR, W, true, UART_LCR_DLAB, UART_LCR_DLAB, "divisor" },
    INSIDE(ISR, "interrupt"),

    /* receive (polled) */
    { RX, IDLE, UART_RX, R, false, 0, 0, "receive" },
    { RX, RX, UART_LSR, R, false, UART_LSR_DR, UART_LSR_DR, "receive" },

    /* transmit burst */
    { TX, TX, UART_TX, W, false, 0, 0, "transmit" },
    { TX, TX, UART_LSR, R, false, UART_LSR_THRE, UART_LSR_THRE, "transmit" },
};

/* Holding the guest off: LSR says no room to write (DR stays true, so the
 * guest can still empty the receive FIFO: an RBR read opens nothing) and
 * IIR says no interrupt pending. */
static const struct rtv_ioseq_busy busy[] = {
    { UART_LSR, UART_LSR_THRE | UART_LSR_TEMT, 0 },
    { UART_IIR, UART_IIR_ID, UART_IIR_NO_INT },
};

const struct rtv_ioseq_table rtv_uart16550_seq = {
    .name = "16550",
    .nports = RTV_UART_NPORTS,
    .states = states,
    .nstates = sizeof(states) / sizeof(states[0]),
    .trans = trans,
    .ntrans = sizeof(trans) / sizeof(trans[0]),
    .initial = IDLE,
    .unmatched = RTV_IOSEQ_UNMATCHED_RESTART,
    .busy = busy,
    .nbusy = sizeof(busy) / sizeof(busy[0]),
};
