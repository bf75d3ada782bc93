/*
 * `rtvirt-ioemu probe-irq`: what Xen answers when asked to route the
 * guest's machine IRQ into it; see rtvirt/ioemu_probe.h.
 */
#include "rtvirt/ioemu_probe.h"

#include <errno.h>
#include <string.h>

#include <json-c/json.h>

/* Console reads are bounded: Xen may print while we read. */
#define CONSOLE_CHUNK     4096u
#define CONSOLE_MAX_READS 4096u

/* Moves *index to the end of Xen's console ring. */
static int console_end(struct rtv_ioreq_srv *x, uint32_t *index, struct rtv_err *err)
{
    static char chunk[CONSOLE_CHUNK];

    for (unsigned i = 0; i < CONSOLE_MAX_READS; i++) {
        uint32_t n = sizeof(chunk);
        int rc = x->ops->console(x, index, chunk, &n, err);

        if (rc < 0 || n == 0)
            return rc;
    }
    return 0;
}

/* What Xen printed from *index on, as much as fits in text (NUL-ended). */
static int console_since(struct rtv_ioreq_srv *x, uint32_t *index, char *text, size_t size,
                         struct rtv_err *err)
{
    size_t have = 0;

    text[0] = '\0';
    while (have + 1 < size) {
        uint32_t n = (uint32_t)(size - 1 - have);
        int rc = x->ops->console(x, index, text + have, &n, err);

        if (rc < 0)
            return rc;
        if (n == 0)
            break;
        have += n;
    }
    text[have] = '\0';
    return 0;
}

/* One route: bind, what Xen printed meanwhile, unbind if it took. */
static int try_route(struct rtv_ioreq_srv *x, struct probe_irq_try *t, struct rtv_err *err)
{
    struct rtv_err e = {0};
    uint32_t index = 0;

    /* The console is the evidence beside the errno, not a precondition:
     * a console that cannot be read leaves xen_read false. */
    t->xen_read = console_end(x, &index, &e) == 0;
    e = (struct rtv_err){0};
    t->rc = x->ops->pt_irq(x, &t->bind, true, &e);
    if (t->rc < 0)
        snprintf(t->error, sizeof(t->error), "%s", e.msg);
    if (t->xen_read) {
        e = (struct rtv_err){0};
        t->xen_read = console_since(x, &index, t->xen, sizeof(t->xen), &e) == 0;
    }
    if (t->rc < 0)
        return 0;
    t->unbind_tried = true;
    e = (struct rtv_err){0};
    t->unbind_rc = x->ops->pt_irq(x, &t->bind, false, &e);
    if (t->unbind_rc < 0) {
        snprintf(t->unbind_error, sizeof(t->unbind_error), "%s", e.msg);
        return rtv_err_set(err, -t->unbind_rc,
                           "Xen took the %s binding of pirq %u and refused to remove it (%s): "
                           "it is still in place", t->route, t->bind.pirq, e.msg);
    }
    return 0;
}

int ioemu_probe_irq(struct rtv_ioreq_srv *x, const struct probe_irq_cfg *cfg,
                    struct probe_irq_report *r, struct rtv_err *err)
{
    int rc;

    memset(r, 0, sizeof(*r));
    r->domid = x->domid;
    r->cfg = *cfg;
    r->tries[r->ntries++] = (struct probe_irq_try){
        .route = "isa",
        .bind = { .kind = RTV_PT_IRQ_ISA, .pirq = cfg->pirq, .isa_irq = cfg->irq },
    };
    if (cfg->pci)
        r->tries[r->ntries++] = (struct probe_irq_try){
            .route = "pci-intx",
            .bind = { .kind = RTV_PT_IRQ_PCI_INTX, .pirq = cfg->pirq, .bus = cfg->bus,
                      .dev = cfg->dev, .intx = cfg->intx },
        };
    for (unsigned i = 0; i < r->ntries; i++) {
        rc = try_route(x, &r->tries[i], err);
        if (rc < 0) {
            r->ntries = i + 1;   /* no further bind while one is stuck */
            return rc;
        }
    }
    return 0;
}

static const char *errno_name(int rc)
{
    const char *n = rc < 0 ? strerrorname_np(-rc) : NULL;

    return n ? n : rc < 0 ? "unknown" : "";
}

/* "pirq 3 as the guest's ISA IRQ 3" / "... INTA of phantom PCI 00:1f" */
static void describe(const struct probe_irq_try *t, char *buf, size_t size)
{
    if (t->bind.kind == RTV_PT_IRQ_ISA)
        snprintf(buf, size, "pirq %u as the guest's ISA IRQ %u", t->bind.pirq, t->bind.isa_irq);
    else
        snprintf(buf, size, "pirq %u as INT%c of the guest's (phantom) PCI device %02x:%02x",
                 t->bind.pirq, 'A' + (t->bind.intx & 3), t->bind.bus, t->bind.dev);
}

static json_object *xen_lines_json(const struct probe_irq_try *t)
{
    json_object *a = json_object_new_array();
    const char *p = t->xen;

    while (*p) {
        size_t n = strcspn(p, "\n");

        if (n)
            json_object_array_add(a, json_object_new_string_len(p, (int)n));
        p += n + (p[n] == '\n');
    }
    return a;
}

static void print_json(const struct probe_irq_report *r, FILE *out)
{
    json_object *o = json_object_new_object(), *tries = json_object_new_array();
    bool any_bound = false;

    json_object_object_add(o, "domid", json_object_new_int(r->domid));
    json_object_object_add(o, "irq", json_object_new_int(r->cfg.irq));
    json_object_object_add(o, "pirq", json_object_new_int(r->cfg.pirq));
    for (unsigned i = 0; i < r->ntries; i++) {
        const struct probe_irq_try *t = &r->tries[i];
        json_object *j = json_object_new_object();
        char what[128];

        describe(t, what, sizeof(what));
        any_bound |= t->rc == 0;
        json_object_object_add(j, "route", json_object_new_string(t->route));
        json_object_object_add(j, "what", json_object_new_string(what));
        json_object_object_add(j, "rc", json_object_new_int(t->rc));
        json_object_object_add(j, "errno", json_object_new_string(errno_name(t->rc)));
        json_object_object_add(j, "error", json_object_new_string(t->error));
        json_object_object_add(j, "xen", t->xen_read ? xen_lines_json(t) : NULL);
        json_object_object_add(j, "unbind_rc",
                               t->unbind_tried ? json_object_new_int(t->unbind_rc) : NULL);
        json_object_array_add(tries, j);
    }
    json_object_object_add(o, "tries", tries);
    json_object_object_add(o, "any_bound", json_object_new_boolean(any_bound));
    fprintf(out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

static void print_text(const struct probe_irq_report *r, FILE *out)
{
    fprintf(out, "domain %u, machine IRQ %u (the guest's pirq %u):\n", r->domid, r->cfg.irq,
            r->cfg.pirq);
    for (unsigned i = 0; i < r->ntries; i++) {
        const struct probe_irq_try *t = &r->tries[i];
        const char *p = t->xen;
        char what[128];

        describe(t, what, sizeof(what));
        if (t->rc < 0)
            fprintf(out, "%s: bind %s: refused, %s (%s)\n", t->route, what, errno_name(t->rc),
                    strerror(-t->rc));
        else
            fprintf(out, "%s: bind %s: bound; unbind %s%s%s\n", t->route, what,
                    t->unbind_rc < 0 ? "FAILED: " : "ok", t->unbind_error,
                    t->unbind_rc < 0 ? " (still bound)" : "");
        if (!t->xen_read)
            fprintf(out, "  (Xen's console could not be read)\n");
        else if (!*p)
            fprintf(out, "  (Xen printed nothing)\n");
        while (*p) {
            size_t n = strcspn(p, "\n");

            if (n)
                fprintf(out, "  xen: %.*s\n", (int)n, p);
            p += n + (p[n] == '\n');
        }
    }
}

void ioemu_probe_irq_print(const struct probe_irq_report *r, FILE *out, bool json)
{
    if (json)
        print_json(r, out);
    else
        print_text(r, out);
}
