/*
 * Component test of rtvirt-ioemu on the host: its server (ioemu/ioemu_srv.c,
 * as the daemon runs it, in a thread of its own) over the local store and
 * the fake Xen side (fake_ioreq.h), with
 *
 *   the guest     a polled 8250 driver on one vCPU: its accesses reach the
 *                 "real" UART directly while Xen's mapping is in place, and
 *                 go through the ioreq page to the server while it traps;
 *   the line      the UART's far end: takes what the UART transmits, feeds a
 *                 numbered stream in, never faster than the FIFO empties;
 *   the operator  rtv_ioemu_request / rtv_ioemu_status (what xl-rtvirt
 *                 does) at random moments, one change after the other.
 *
 * Every byte must cross exactly once and in order both ways through >= 12
 * changes; line settings the guest programs while virtualized must be on the
 * UART afterwards; a virtualize asked in the middle of the guest's divisor
 * sequence must wait for its end; afterwards the server is gone, the mapping
 * back, the guest's IRQ line low, the store directory removed.
 * RTV_IOEMU_TRACE=FILE keeps the server's trace.
 */
#include <errno.h>
#include <linux/serial_reg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child_proc.h"
#include "fake_ioreq.h"
#include "rtvirt/clock.h"
#include "rtvirt/ioemu_req.h"
#include "rtvirt/ioemu_srv.h"
#include "rtvirt/local.h"
#include "rtvirt/xs_util.h"
#include "schema_perms.h"
#include "uart_streams.h"
#include "hub_fixture.h"
#include "unit.h"
#include "xs_fixture.h"

#define DOM     5
#define PORT    0x2f8
#define BYTES   2500u
#define CYCLES  12u

static struct rtv_local_hub *hub;
static struct rtv_xen srvx, opx;
static struct fake_xen *fx;
static struct ioemu_srv srv;
static pthread_t srv_thread;
static atomic_bool srv_stop;
static bool srv_joined;
static uint32_t rng = 4242;


/* ---- the line ----------------------------------------------------------- */

static uint8_t host_got[BYTES + 64];
static size_t host_got_len, host_fed;
static size_t feed_upto = BYTES, send_upto = BYTES;   /* the streams' lengths so far */
static unsigned line_ticks;

static void line_tick(void *arg)
{
    uint8_t b;

    (void)arg;
    fake_xen_lock(fx);
    rtv_uart_tx_done(&fx->uart);
    if (rtv_uart_tx_pop(&fx->uart, &b) && host_got_len < sizeof(host_got))
        host_got[host_got_len++] = b;
    /* never into a FIFO past half full: an overrun would be the line's fault */
    if (++line_ticks % 2 == 0 && host_fed < feed_upto && fx->uart.rx.count < 8 &&
        (fx->uart.fcr & UART_FCR_ENABLE_FIFO))
        rtv_uart_rx_push(&fx->uart, host_byte(host_fed++));
    fake_xen_unlock(fx);
}

/* ---- the guest ---------------------------------------------------------- */

static uint8_t guest_got[BYTES + 64];
static size_t guest_got_len, guest_sent;

static uint8_t gin(unsigned off)
{
    return fake_xen_guest_io(fx, off, false, 0, line_tick, NULL);
}

static void gout(unsigned off, uint8_t v)
{
    fake_xen_guest_io(fx, off, true, v, line_tick, NULL);
}

static void guest_line_settings(uint16_t divisor, uint8_t lcr)
{
    gout(UART_LCR, lcr | UART_LCR_DLAB);
    gout(UART_DLL, divisor & 0xff);
    gout(UART_DLM, divisor >> 8);
    gout(UART_LCR, lcr);
}

static void guest_setup(void)
{
    guest_line_settings(1, UART_LCR_WLEN8);
    gout(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT |
                   UART_FCR_TRIGGER_14);
    gout(UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
    gout(UART_IER, 0);   /* polled */
}

/* One round of the polled driver: take what came, send a burst. */
static void guest_step(void)
{
    uint8_t lsr = gin(UART_LSR);

    if (lsr & UART_LSR_DR) {
        uint8_t b = gin(UART_RX);

        if (guest_got_len < sizeof(guest_got))
            guest_got[guest_got_len++] = b;
    } else if ((lsr & UART_LSR_THRE) && guest_sent < send_upto) {
        for (unsigned i = 0; i < 16 && guest_sent < send_upto; i++)
            gout(UART_TX, guest_byte(guest_sent++));
    }
    line_tick(NULL);
}

/* ---- the server thread, set-up, the operator ------------------------------ */

static void *srv_main(void *arg)
{
    struct rtv_err err = {0};

    (void)arg;
    while (!atomic_load(&srv_stop))
        if (ioemu_srv_run(&srv, 2, &err) < 0)
            break;
    return NULL;
}

static FILE *trace_file(void)
{
    const char *p = getenv("RTV_IOEMU_TRACE");

    return p ? fopen(p, "a") : NULL;
}

static const struct ioemu_cfg srv_cfg = { .domid = DOM, .iodev = "uart0", .ioport = PORT,
                                          .irq = 3 };

/* The store, the operator's connection, the fake Xen and the streams. */
static void setup_world(void)
{
    hub = rtv_test_hub_dom0(&opx);
    rtv_test_make_domain(opx.xs, DOM, NULL);
    fx = fake_xen_new(DOM, PORT);
    ck_assert_ptr_nonnull(fx);
    host_got_len = host_fed = guest_got_len = guest_sent = 0;
    feed_upto = send_upto = BYTES;
}

static void teardown_world(void)
{
    fake_xen_free(fx);
    rtv_xen_close(&opx);
    rtv_local_hub_free(hub);
}

/* ... and the server in a thread, as the daemon runs it. */
static void setup(void)
{
    struct ioemu_cfg cfg = srv_cfg;
    struct rtv_uart_io io;
    struct rtv_err err = {0};

    setup_world();
    cfg.trace = trace_file();
    ck_assert_int_eq(rtv_local_open(hub, 0, RTV_XEN_STORE, &srvx), 0);
    io = fake_xen_uart_io(fx);
    ck_assert_msg(ioemu_srv_init(&srv, &cfg, &fx->base, srvx.xs, &io, &err) == 0, "%s", err.msg);
    atomic_store(&srv_stop, false);
    srv_joined = false;
    ck_assert_int_eq(pthread_create(&srv_thread, NULL, srv_main, NULL), 0);
}

static void teardown(void)
{
    atomic_store(&srv_stop, true);
    if (!srv_joined)
        pthread_join(srv_thread, NULL);
    if (srv.cfg.trace)
        fclose(srv.cfg.trace);
    rtv_xen_close(&srvx);
    teardown_world();
}

/* Stops the server thread and tears it down as the daemon does at exit
 * (the guest keeps running meanwhile: a devirtualize may be needed). */
static void stop_server(void)
{
    atomic_store(&srv_stop, true);
    pthread_join(srv_thread, NULL);
    srv_joined = true;
    ioemu_srv_fini(&srv);
}

static void status(struct rtv_ioemu_status *st)
{
    struct rtv_err err = {0};

    ck_assert_msg(rtv_ioemu_status(opx.xs, DOM, "uart0", st, &err) == 0, "%s", err.msg);
}

/* Asks for a change, each of its waits bounded by bound_ms. */
static uint32_t ask_bounded(const char *what, unsigned bound_ms)
{
    struct rtv_err err = {0};
    uint32_t id;

    ck_assert_msg(rtv_ioemu_request(opx.xs, DOM, "uart0", what, bound_ms, &id, &err) == 0, "%s",
                  err.msg);
    return id;
}

static uint32_t ask(const char *what)
{
    return ask_bounded(what, 2000);
}

/* Runs the guest until request id is answered (bounded); the answer. */
static void guest_until_answered(uint32_t id, struct rtv_ioemu_status *st)
{
    uint64_t until = rtv_now_us() + 60000000u;   /* however loaded the host */

    for (unsigned i = 0; rtv_now_us() < until; i++) {
        guest_step();
        if (i % 8 == 0) {
            status(st);
            if (st->result_id >= id && strcmp(st->state, "virtualizing") != 0 &&
                strcmp(st->state, "devirtualizing") != 0)
                return;
        }
    }
    ck_abort_msg("request %u not answered (state %s)", id, st->state);
}

START_TEST(bytes_cross_exactly_once_through_cycles)
{
    struct rtv_ioemu_status st;
    unsigned cycles = 0, steps = 0;
    bool settings_changed = false, mid_divisor_done = false;

    guest_setup();
    status(&st);
    ck_assert_str_eq(st.state, "direct");
    ck_assert_str_eq(st.model, "uart16550");
    while ((cycles < CYCLES || guest_sent < BYTES || host_got_len < BYTES ||
            guest_got_len < BYTES || strcmp(st.state, "direct") != 0) && steps < 2000000) {
        unsigned run = 50 + rtv_test_rnd(&rng, 400);

        for (unsigned i = 0; i < run; i++, steps++)
            guest_step();
        if (cycles == 4 && !mid_divisor_done) {
            /* A virtualize asked between DLAB set and DLAB clear must wait. */
            uint32_t id;

            gout(UART_LCR, UART_LCR_WLEN8 | UART_LCR_DLAB);
            gout(UART_DLL, 1);
            /* a bound far above the 300 ticks below, even on a loaded host */
            id = ask_bounded("virtualize", 30000);
            /* the server thread takes the request (bounded: 30 s, however
             * loaded the host) */
            uint64_t until = rtv_now_us() + 30000000u;

            while (strcmp(st.state, "virtualizing") != 0 && rtv_now_us() < until) {
                line_tick(NULL);
                status(&st);
                usleep(100);
            }
            for (unsigned i = 0; i < 300; i++) {
                line_tick(NULL);
                if (i % 30 == 0) {
                    status(&st);
                    ck_assert_msg(strcmp(st.state, "virtualizing") == 0,
                                  "the change did not wait for the divisor sequence: %s", st.state);
                }
            }
            gout(UART_DLM, 0);
            gout(UART_LCR, UART_LCR_WLEN8);
            guest_until_answered(id, &st);
            ck_assert_str_eq(st.result, "ok");
            ck_assert_str_eq(st.state, "virtualized");
            ck_assert_uint_eq(st.resets, 0);
            mid_divisor_done = true;
            cycles++;
            continue;
        }
        if (strcmp(st.state, "virtualized") == 0 && cycles >= 6 && !settings_changed) {
            guest_line_settings(3, UART_LCR_WLEN8 | UART_LCR_PARITY | UART_LCR_EPAR);
            settings_changed = true;
        }
        uint32_t id = ask(strcmp(st.state, "direct") == 0 ? "virtualize" : "devirtualize");

        guest_until_answered(id, &st);
        ck_assert_msg(strcmp(st.result, "ok") == 0, "change %u: %s: %s", id, st.result, st.error);
        ck_assert_uint_eq(st.resets, 0);
        cycles++;
    }
    ck_assert_uint_ge(cycles, CYCLES);
    ck_assert_str_eq(st.state, "direct");
    ck_assert_uint_eq(st.changes, cycles);
    ck_assert_uint_eq(host_got_len, BYTES);
    ck_assert_uint_eq(guest_got_len, BYTES);
    for (size_t i = 0; i < BYTES; i++) {
        ck_assert_msg(host_got[i] == guest_byte(i), "guest->host byte %zu", i);
        ck_assert_msg(guest_got[i] == host_byte(i), "host->guest byte %zu", i);
    }
    /* Set while virtualized, in force on the UART once handed back. */
    ck_assert_msg(settings_changed, "no line settings change happened while virtualized");
    ck_assert_uint_eq(fx->uart.dll | fx->uart.dlm << 8, 3);
    ck_assert_uint_eq(fx->uart.lcr, UART_LCR_WLEN8 | UART_LCR_PARITY | UART_LCR_EPAR);
    ck_assert_uint_eq(fx->lost, 0);
    /* No server went while a vCPU still had an answer to pick up. */
    ck_assert_uint_eq(fx->answers_lost, 0);
    ck_assert_uint_eq(fx->stranded, 0);
    /* While virtualized the guest's accesses really went through the server. */
    ck_assert_uint_gt(srv.accesses, 1000);
    ck_assert(fx->mapped);
    ck_assert(!fx->server);
    ck_assert_uint_eq(fx->creates, cycles / 2);
    ck_assert_uint_eq(fx->destroys, cycles / 2);
    ck_assert(!fx->irq);
    /* What the server left in the store has the schema's permissions
     * (section 5: dom0's only, the guest reads none of it). */
    ck_assert_perms_match_schema(opx.xs);
    stop_server();
    /* Leak check: the store directory is gone with the daemon. */
    char *v;
    size_t len;
    ck_assert_int_eq(rtv_xs_read(opx.xs, RTV_XS_NO_TXN, "/local/domain/5/rtvirt", &v, &len),
                     -ENOENT);
}
END_TEST

START_TEST(failed_trap_rolls_back_and_the_guest_keeps_its_device)
{
    struct rtv_ioemu_status st;
    uint32_t id;

    guest_setup();
    fx->fail_creates = 1;
    id = ask("virtualize");
    guest_until_answered(id, &st);
    ck_assert_str_eq(st.result, "rolled-back");
    ck_assert_str_eq(st.state, "direct");
    ck_assert_contains(st.error, "injected");
    ck_assert_uint_eq(st.result_id, id);
    /* xl-rtvirt's --wait sees that answer at once, and says what it last
     * saw when the id it waits for is never answered. */
    struct rtv_ioemu_status w;
    struct rtv_err err = {0};
    ck_assert_int_eq(rtv_ioemu_wait(opx.xs, DOM, "uart0", id, 2000, &w, &err), 0);
    ck_assert_str_eq(w.result, "rolled-back");
    ck_assert_int_eq(rtv_ioemu_wait(opx.xs, DOM, "uart0", id + 1, 50, &w, &err), -ETIMEDOUT);
    ck_assert_contains(err.msg, "not answered within 50 ms (state direct");
    ck_assert(fx->mapped);
    ck_assert(!fx->server);
    /* The next one works, and the device still carries bytes. */
    id = ask("virtualize");
    guest_until_answered(id, &st);
    ck_assert_str_eq(st.result, "ok");
    ck_assert_str_eq(st.state, "virtualized");
    for (unsigned i = 0; i < 3000 && host_got_len < 64; i++)
        guest_step();
    ck_assert_uint_ge(host_got_len, 64);
    /* Stopping the daemon while virtualized hands the device back first. */
    stop_server();
    ck_assert(fx->mapped);
    ck_assert(!fx->server);
    ck_assert_uint_eq(fx->lost, 0);
}
END_TEST

START_TEST(bad_requests_are_answered_with_error)
{
    struct rtv_ioemu_status st;
    struct rtv_err err = {0};

    ck_assert_int_eq(rtv_xs_printf(opx.xs, RTV_XS_NO_TXN,
                                   "/local/domain/5/rtvirt/ioemu/uart0/request", "sideways"), 0);
    ck_assert_int_eq(rtv_xs_printf(opx.xs, RTV_XS_NO_TXN,
                                   "/local/domain/5/rtvirt/ioemu/uart0/request-id", "7"), 0);
    guest_until_answered(7, &st);
    ck_assert_str_eq(st.result, "error");
    ck_assert_str_eq(st.state, "direct");
    ck_assert(!fx->server);
    /* xl-rtvirt's side refuses it before writing anything. */
    uint32_t id;
    ck_assert_int_lt(rtv_ioemu_request(opx.xs, DOM, "uart0", "sideways", 0, &id, &err), 0);
    ck_assert_int_lt(rtv_ioemu_request(opx.xs, DOM, "uart1", "virtualize", 0, &id, &err), 0);
    ck_assert_contains(err.msg, "not managed");
    stop_server();
}
END_TEST

/* ---- kill -9: the server in processes of its own ------------------------ */

static volatile sig_atomic_t child_stop;

static void child_on_term(int sig)
{
    (void)sig;
    child_stop = 1;
}

/* rtvirt-ioemu as its main() runs it: init, adopt what a killed
 * predecessor left, the loop; SIGTERM hands the device back.  The child
 * dies with the test (PR_SET_PDEATHSIG). */
static pid_t start_server_process(void)
{
    pid_t pid;
    sigset_t old;

    rtv_test_term_hold(&old);
    pid = rtv_test_fork_child();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct ioemu_cfg cfg = srv_cfg;
        struct rtv_uart_io io = fake_xen_uart_io(fx);
        struct rtv_err err = {0};
        struct ioemu_srv s;
        struct rtv_xen x;

        cfg.trace = trace_file();
        if (rtv_local_open(hub, 0, RTV_XEN_STORE, &x) < 0)
            _exit(10);
        if (ioemu_srv_init(&s, &cfg, &fx->base, x.xs, &io, &err) < 0 ||
            ioemu_srv_adopt_leftover(&s, &err) < 0) {
            fprintf(stderr, "server child: %s\n", err.msg);
            _exit(11);
        }
        signal(SIGTERM, child_on_term);
        rtv_test_term_release(&old);
        while (!child_stop)
            if (ioemu_srv_run(&s, 2, &err) < 0)
                _exit(12);
        ioemu_srv_fini(&s);
        _exit(0);
    }
    rtv_test_term_release(&old);
    return pid;
}

static void kill9(pid_t pid)
{
    int st;

    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* The store's record of the server: its id, or -1 when absent. */
static long server_record(void)
{
    char *v = NULL;
    size_t len;
    long id;

    if (rtv_xs_read(opx.xs, RTV_XS_NO_TXN, "/local/domain/5/rtvirt/ioemu/uart0/ioreq-server",
                    &v, &len) < 0)
        return -1;
    id = strtol(v, NULL, 10);
    free(v);
    return id;
}

/* Runs the guest until both streams have crossed up to their limits
 * (what is in flight is then nowhere but in the guest and the line). */
static void guest_until_streams_across(void)
{
    for (unsigned i = 0; i < 2000000 && (host_got_len < send_upto || guest_got_len < feed_upto);
         i++)
        guest_step();
    ck_assert_uint_eq(host_got_len, send_upto);
    ck_assert_uint_eq(guest_got_len, feed_upto);
}

/* While the guest's vCPU waits on the dead server: the line goes on, and
 * after `start_after` ticks the successor is started (once). */
struct successor {
    unsigned ticks, start_after;
    bool     taken;   /* the dead server had taken the request (INPROCESS) */
    pid_t    pid;
};

static void wait_then_successor(void *arg)
{
    struct successor *w = arg;

    line_tick(NULL);
    if (++w->ticks == w->start_after) {
        /* What a server killed a moment later would have left: the
         * request taken but not answered, and the guest's line high. */
        fake_xen_lock(fx);
        if (w->taken)
            fx->page.vcpu_ioreq[0].state = STATE_IOREQ_INPROCESS;
        fx->irq = true;
        fake_xen_unlock(fx);
        w->pid = start_server_process();
    }
    /* ~10 s and more of 20 us waits: nobody released the vCPU */
    ck_assert_msg(w->ticks < w->start_after + 500000, "the vCPU still waits on the old server");
}

/* Kills the server while the device traps, then makes one guest access:
 * its vCPU waits on the server the dead process left until the successor
 * adopts it (taken: as if the dead one had taken the request before it
 * died).  Returns the successor; *value what a read got. */
static pid_t kill_and_access(pid_t srv_pid, bool taken, unsigned off, bool is_write, uint8_t v,
                             uint8_t *value)
{
    struct successor w = { .start_after = 200, .taken = taken, .pid = -1 };
    unsigned adopts = fx->adopts;
    struct rtv_ioemu_status st;

    status(&st);
    ck_assert_str_eq(st.state, "virtualized");
    ck_assert_int_eq(server_record(), fx->server_id);
    kill9(srv_pid);
    *value = fake_xen_guest_io(fx, off, is_write, v, wait_then_successor, &w);
    ck_assert_msg(w.ticks >= w.start_after, "the access did not wait for a successor (%u ticks)",
                  w.ticks);
    ck_assert_int_gt(w.pid, 0);
    ck_assert_uint_eq(fx->adopts, adopts + 1);
    /* The successor destroys the server once the vCPU took its answer. */
    for (unsigned i = 0; i < 200000 && (fx->server || server_record() >= 0); i++) {
        line_tick(NULL);
        usleep(10);
    }
    ck_assert(!fx->server);
    ck_assert(fx->mapped);
    ck_assert_int_eq(server_record(), -1);
    ck_assert_uint_eq(fx->answers_lost, 0);
    ck_assert_uint_eq(fx->stranded, 0);
    ck_assert(!fx->irq);
    status(&st);
    ck_assert_str_eq(st.state, "direct");
    return w.pid;
}

static void wait_direct(void)
{
    struct rtv_ioemu_status st = {0};
    struct rtv_err err = {0};
    uint64_t until = rtv_now_us() + 30000000u;

    while (rtv_now_us() < until) {
        if (rtv_ioemu_status(opx.xs, DOM, "uart0", &st, &err) == 0 &&
            strcmp(st.state, "direct") == 0)
            return;
        usleep(1000);
    }
    ck_abort_msg("the server did not come up (state %s)", st.state);
}

START_TEST(killed_server_is_adopted_and_its_waiting_vcpu_released)
{
    struct rtv_ioemu_status st;
    pid_t pid = start_server_process();
    unsigned destroys;
    uint8_t got;
    uint32_t id;

    wait_direct();
    guest_setup();
    /* Round 1: killed while virtualized, the vCPU waits in a read. */
    send_upto = feed_upto = 400;
    id = ask("virtualize");
    guest_until_answered(id, &st);
    ck_assert_str_eq(st.result, "ok");
    guest_until_streams_across();
    pid = kill_and_access(pid, false, UART_LCR, false, 0, &got);
    /* served by the real UART: the guest's line settings */
    ck_assert_uint_eq(got, UART_LCR_WLEN8);

    /* Round 2: the successor works; killed again, the vCPU waits in a
     * write of the stream's next byte (taken by the dead server, never
     * answered), which must reach the line. */
    send_upto = feed_upto = 900;
    id = ask("virtualize");
    guest_until_answered(id, &st);
    ck_assert_str_eq(st.result, "ok");
    guest_until_streams_across();
    pid = kill_and_access(pid, true, UART_TX, true, guest_byte(guest_sent), &got);
    guest_sent++;
    send_upto++;

    /* The third server carries the rest through a whole cycle. */
    send_upto = feed_upto = 1500;
    id = ask("virtualize");
    guest_until_answered(id, &st);
    ck_assert_str_eq(st.result, "ok");
    id = ask("devirtualize");
    guest_until_answered(id, &st);
    ck_assert_str_eq(st.result, "ok");
    guest_until_streams_across();
    for (size_t i = 0; i < send_upto; i++)
        ck_assert_msg(host_got[i] == guest_byte(i), "guest->host byte %zu", i);
    for (size_t i = 0; i < feed_upto; i++)
        ck_assert_msg(guest_got[i] == host_byte(i), "host->guest byte %zu", i);
    ck_assert_uint_eq(fx->lost, 0);

    /* Killed while direct, with a record naming no server of ours: the
     * successor forgets it and destroys nothing. */
    kill9(pid);
    ck_assert_int_eq(rtv_xs_printf(opx.xs, RTV_XS_NO_TXN,
                                   "/local/domain/5/rtvirt/ioemu/uart0/ioreq-server", "9"), 0);
    destroys = fx->destroys;
    pid = start_server_process();
    for (unsigned i = 0; i < 30000 && server_record() >= 0; i++)
        usleep(1000);
    ck_assert_int_eq(server_record(), -1);
    ck_assert_uint_eq(fx->destroys, destroys);
    ck_assert_uint_eq(fx->adopts, 2);

    /* SIGTERM: the last one leaves nothing behind. */
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    int wst;
    ck_assert_int_eq(waitpid(pid, &wst, 0), pid);
    ck_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    char *v;
    size_t len;
    ck_assert_int_eq(rtv_xs_read(opx.xs, RTV_XS_NO_TXN, "/local/domain/5/rtvirt", &v, &len),
                     -ENOENT);
    ck_assert(fx->mapped);
    ck_assert(!fx->server);
}
END_TEST

static Suite *ioemu_component_suite(void)
{
    Suite *s = suite_create("ioemu_component");
    TCase *tc = rtv_unit_case(s, "server", setup, teardown, 240);
    TCase *tk = rtv_unit_case(s, "kill", setup_world, teardown_world, 240);

    RTV_UNIT_ADD(tc, bytes_cross_exactly_once_through_cycles,
                     failed_trap_rolls_back_and_the_guest_keeps_its_device,
                     bad_requests_are_answered_with_error);
    RTV_UNIT_ADD(tk, killed_server_is_adopted_and_its_waiting_vcpu_released);
    return s;
}

RTV_UNIT_MAIN(ioemu_component_suite)
