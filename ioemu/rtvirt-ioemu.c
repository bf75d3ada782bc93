/*
 * rtvirt-ioemu: runtime virtualization and devirtualization of a real
 * 16550 UART of one HVM guest (issue 13; xenstore-schema/rtvirt-paths.md,
 * section 5).  Runs in dom0 as root, one process per guest device, until
 * the domain goes away or it is told to stop (SIGTERM/SIGINT: it hands the
 * device back to the guest first).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/ctl.h"
#include "rtvirt/ioemu_srv.h"
#include "rtvirt/xen_seam.h"
#include "rtvirt/xs_util.h"
#include "probe_irq_cli.h"
#include "uart_port.h"

static const char usage[] =
    "usage: rtvirt-ioemu <domain> [uart0] [--ioport PORT] [--irq N] [--trace FILE]\n"
    "       rtvirt-ioemu probe-irq <domain> --irq N ...   (see probe-irq --help)\n"
    "\n"
    "Manages the guest's real 16550 UART (given to it with `ioports` and `irqs`\n"
    "in its xl.cfg): it starts direct, and is virtualized or devirtualized at\n"
    "runtime on request (`xl-rtvirt virtualize|devirtualize <domain> uart0`, or\n"
    "the store nodes under /local/domain/<id>/rtvirt/ioemu/uart0/).\n"
    "Virtualized, an ioreq server traps the guest's accesses to the ports,\n"
    "emulates the UART's registers for it and drives the real UART in dom0.\n"
    "\n"
    "  <domain>       name or id as in `xl list`\n"
    "  uart0          the device's name in the store (default uart0)\n"
    "  --ioport PORT  first port (e.g. 0x2f8), if the store has no ioport node\n"
    "  --irq N        ISA IRQ (0..15), if the store has no irq node\n"
    "  --trace FILE   every trapped access and every step of a change, one line\n"
    "                 each, prefixed with a monotonic time in microseconds\n"
    "\n"
    "probe-irq asks Xen to route the guest's machine IRQ into it and prints what\n"
    "Xen answered (the evidence for direct mode's interrupt).\n"
    "\n"
    "Exit status: 0 the domain went away or a signal stopped it (device handed\n"
    "back), 1 set-up failed, 2 bad usage.\n";

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static int bad_usage(const char *what, const char *arg)
{
    fprintf(stderr, "rtvirt-ioemu: %s \"%s\" (see rtvirt-ioemu --help)\n", what, arg ? arg : "");
    return 2;
}

int main(int argc, char **argv)
{
    struct ioemu_cfg cfg = { .iodev = "uart0", .irq = -1 };
    const char *domain = NULL, *trace = NULL;
    struct rtv_err err = {0};
    struct rtv_ioreq_srv *x = NULL;
    struct rtv_uart_io uart;
    struct ioemu_srv s;
    struct rtv_xen xen;
    rtv_domid_t dom;
    int npos = 0, rc = 1;

    if (argc > 1 && strcmp(argv[1], "probe-irq") == 0)
        return probe_irq_main(argc - 1, argv + 1);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--ioport") == 0 && i + 1 < argc) {
            unsigned long v = strtoul(argv[++i], &end, 0);

            if (*end || v == 0 || v > 0xfff8)
                return bad_usage("--ioport: not a port", argv[i]);
            cfg.ioport = (uint16_t)v;
        } else if (strcmp(a, "--irq") == 0 && i + 1 < argc) {
            unsigned long v = strtoul(argv[++i], &end, 0);

            if (*end || v > 15)
                return bad_usage("--irq: not an ISA IRQ (0..15)", argv[i]);
            cfg.irq = (int)v;
        } else if (strcmp(a, "--trace") == 0 && i + 1 < argc) {
            trace = argv[++i];
        } else if (a[0] == '-') {
            return bad_usage("unknown option or missing value", a);
        } else if (npos == 0) {
            domain = a;
            npos++;
        } else if (npos == 1) {
            cfg.iodev = a;
            npos++;
        } else {
            return bad_usage("too many arguments at", a);
        }
    }
    if (!domain)
        return bad_usage("no domain given", "");
    if (trace && !(cfg.trace = fopen(trace, "a"))) {
        fprintf(stderr, "rtvirt-ioemu: %s: %s\n", trace, strerror(errno));
        return 1;
    }
    if (rtv_xen_open(&xen, RTV_XEN_STORE, &err) < 0)
        goto out;
    if (rtv_ctl_resolve_domain(xen.xs, domain, &dom, &err) < 0)
        goto out_xen;
    cfg.domid = dom;
    if (rtv_xen_ioreq_open(&x, dom, &err) < 0)
        goto out_xen;
    /* The store's ioport node may override --ioport: ioemu_srv_init reads
     * it; the UART is opened at the port it settles on. */
    if (ioemu_srv_init(&s, &cfg, x, xen.xs, &(struct rtv_uart_io){0}, &err) < 0)
        goto out_x;
    if (uart_port_open(s.cfg.ioport, &uart, &err) < 0) {
        ioemu_srv_fini(&s);
        goto out_x;
    }
    s.dm.dev = uart;
    /* A predecessor killed while the device trapped left its ioreq server
     * in Xen (and vCPUs perhaps waiting on it): take it back first. */
    if (ioemu_srv_adopt_leftover(&s, &err) < 0) {
        fprintf(stderr, "rtvirt-ioemu: %s (going on: the device is direct)\n", err.msg);
        err = (struct rtv_err){0};
    }
    if (s.adopted)
        fprintf(stderr, "rtvirt-ioemu: adopted and destroyed the ioreq server a killed "
                        "rtvirt-ioemu left (%u vCPU(s) were waiting on it)\n", s.adopted_waiting);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    fprintf(stderr, "rtvirt-ioemu: domain %u %s at %#x irq %d: direct; waiting for requests\n",
            dom, s.cfg.iodev, s.cfg.ioport, s.cfg.irq);
    rc = 0;
    while (!stop_signal && !s.stop)
        if (ioemu_srv_run(&s, 1000, &err) < 0) {
            rc = 1;
            break;
        }
    fprintf(stderr, "rtvirt-ioemu: domain %u %s: %s; stopping (%s)\n", dom, s.cfg.iodev,
            s.stop ? "the domain is gone" : stop_signal ? "signal" : err.msg,
            rtv_iov_state_name(&s.dm.iov));
    ioemu_srv_fini(&s);
out_x:
    x->ops->close(x);
out_xen:
    rtv_xen_close(&xen);
out:
    if (err.code)
        fprintf(stderr, "rtvirt-ioemu: %s\n", err.msg);
    if (cfg.trace)
        fclose(cfg.trace);
    return err.code && rc ? 1 : rc;
}
