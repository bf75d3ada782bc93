/*
 * `rtvirt-ioemu probe-irq`: the command line of ioemu/probe_irq.c, over
 * the real device-model seam.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe_irq_cli.h"
#include "rtvirt/ctl.h"
#include "rtvirt/ioemu_probe.h"
#include "rtvirt/xen_seam.h"

static const char usage[] =
    "usage: rtvirt-ioemu probe-irq <domain> --irq N [--pirq N] [--pci-dev BB:DD]\n"
    "                              [--intx A-D] [--no-pci] [--json]\n"
    "\n"
    "Asks Xen to route the machine IRQ N (given to the guest with `irqs` in its\n"
    "xl.cfg) into the HVM guest, the two ways Xen has (XEN_DOMCTL_bind_pt_irq):\n"
    "as the guest's ISA IRQ N, and as the INTx of a PCI device the guest does not\n"
    "have; prints what Xen answered to each (errno, and the lines Xen printed on\n"
    "its console meanwhile) and removes at once any binding Xen took.  Evidence\n"
    "for issue 13's direct mode: can the guest's driver get the UART's interrupt.\n"
    "\n"
    "  <domain>        name or id as in `xl list`\n"
    "  --irq N         the machine IRQ (0..15), and the guest's ISA IRQ for it\n"
    "  --pirq N        the guest's pirq of it (default N: libxl asks for pirq = irq)\n"
    "  --pci-dev BB:DD the phantom PCI device (hex, default 00:1f)\n"
    "  --intx A-D      its pin (default A)\n"
    "  --no-pci        only the ISA route\n"
    "  --json          one JSON object instead of text\n"
    "\n"
    "Exit status: 0 every bind was asked and nothing is left bound, whatever Xen\n"
    "answered (a refusal is the result); 1 the probe could not run, or Xen kept\n"
    "a binding it would not remove; 2 bad usage.\n";

static int bad_usage(const char *what, const char *arg)
{
    fprintf(stderr, "rtvirt-ioemu probe-irq: %s \"%s\" (see rtvirt-ioemu probe-irq --help)\n",
            what, arg ? arg : "");
    return 2;
}

static int parse_u8(const char *s, unsigned long max, uint8_t *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 0);

    if (!*s || *end || v > max)
        return -1;
    *out = (uint8_t)v;
    return 0;
}

int probe_irq_main(int argc, char **argv)
{
    struct probe_irq_cfg cfg = { .pci = true, .dev = 0x1f };
    struct probe_irq_report report;
    const char *domain = NULL;
    struct rtv_err err = {0};
    struct rtv_ioreq_srv *x = NULL;
    struct rtv_xen xen;
    rtv_domid_t dom;
    bool json = false, have_irq = false, have_pirq = false;
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        unsigned bus, dev;
        char tail;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--irq") == 0 && i + 1 < argc) {
            if (parse_u8(argv[++i], 15, &cfg.irq) < 0)
                return bad_usage("--irq: not an ISA IRQ (0..15)", argv[i]);
            have_irq = true;
        } else if (strcmp(a, "--pirq") == 0 && i + 1 < argc) {
            if (parse_u8(argv[++i], 255, &cfg.pirq) < 0)
                return bad_usage("--pirq: not a pirq (0..255)", argv[i]);
            have_pirq = true;
        } else if (strcmp(a, "--pci-dev") == 0 && i + 1 < argc) {
            if (sscanf(argv[++i], "%x:%x%c", &bus, &dev, &tail) != 2 || bus > 0xff || dev > 0x1f)
                return bad_usage("--pci-dev: not BB:DD (hex, device 00..1f)", argv[i]);
            cfg.bus = (uint8_t)bus;
            cfg.dev = (uint8_t)dev;
        } else if (strcmp(a, "--intx") == 0 && i + 1 < argc) {
            const char *p = argv[++i];

            if (strlen(p) != 1 || p[0] < 'A' || p[0] > 'D')
                return bad_usage("--intx: not A, B, C or D", p);
            cfg.intx = (uint8_t)(p[0] - 'A');
        } else if (strcmp(a, "--no-pci") == 0) {
            cfg.pci = false;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (a[0] == '-') {
            return bad_usage("unknown option or missing value", a);
        } else if (!domain) {
            domain = a;
        } else {
            return bad_usage("too many arguments at", a);
        }
    }
    if (!domain)
        return bad_usage("no domain given", "");
    if (!have_irq)
        return bad_usage("no --irq given", "");
    if (!have_pirq)
        cfg.pirq = cfg.irq;
    if (rtv_xen_open(&xen, RTV_XEN_STORE, &err) < 0)
        goto out;
    if (rtv_ctl_resolve_domain(xen.xs, domain, &dom, &err) < 0)
        goto out_xen;
    if (rtv_xen_ioreq_open(&x, dom, &err) < 0)
        goto out_xen;
    rc = ioemu_probe_irq(x, &cfg, &report, &err) < 0 ? 1 : 0;
    ioemu_probe_irq_print(&report, stdout, json);
    x->ops->close(x);
out_xen:
    rtv_xen_close(&xen);
out:
    if (err.code)
        fprintf(stderr, "rtvirt-ioemu probe-irq: %s\n", err.msg);
    return rc;
}
