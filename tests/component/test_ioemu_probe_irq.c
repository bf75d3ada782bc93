/*
 * `rtvirt-ioemu probe-irq`'s core (ioemu/probe_irq.c) over the fake Xen
 * side (fake_ioreq.c): what Xen answers to each route is reported, Xen's
 * console lines of the call (and only those) are kept beside the errno, a
 * binding Xen takes is removed at once, and one it will not remove is an
 * error.  What the real Xen 4.17 answers is the lab's (step ioemu-probe).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "fake_ioreq.h"
#include "rtvirt/ioemu_probe.h"
#include "unit.h"

static struct fake_xen *f;
static const struct probe_irq_cfg cfg3 = { .irq = 3, .pirq = 3, .pci = true, .dev = 0x1f };

static void setup(void)
{
    f = fake_xen_new(7, 0x2f8);
    ck_assert_ptr_nonnull(f);
    /* what Xen printed before the probe is not its evidence */
    fake_xen_console_print(f, "(XEN) earlier: d7v0 booted");
}

static void teardown(void)
{
    fake_xen_free(f);
}

/* The report printed to a string. */
static char *printed(const struct probe_irq_report *r, bool json)
{
    static char buf[8192];
    FILE *m = fmemopen(buf, sizeof(buf), "w");

    ck_assert_ptr_nonnull(m);
    ioemu_probe_irq_print(r, m, json);
    fclose(m);
    return buf;
}

START_TEST(refused_binds_are_the_result_with_xens_lines)
{
    struct probe_irq_report r;
    struct rtv_err err = {0};

    f->pt_bind_rc = -ESRCH;
    ck_assert_int_eq(ioemu_probe_irq(&f->base, &cfg3, &r, &err), 0);
    ck_assert_uint_eq(r.ntries, 2);
    ck_assert_uint_eq(f->pt_binds, 2);
    ck_assert_uint_eq(f->pt_unbinds, 0);   /* nothing to remove */
    ck_assert_str_eq(r.tries[0].route, "isa");
    ck_assert_int_eq(r.tries[0].rc, -ESRCH);
    ck_assert(r.tries[0].xen_read);
    ck_assert_str_eq(r.tries[0].xen, "(XEN) pt_irq_create_bind failed (-3) for dom7\n");
    ck_assert_str_eq(r.tries[1].route, "pci-intx");
    ck_assert_int_eq(r.tries[1].rc, -ESRCH);
    /* the second try's lines are its own, not the first's again */
    ck_assert_str_eq(r.tries[1].xen, "(XEN) pt_irq_create_bind failed (-3) for dom7\n");
    ck_assert_int_eq(f->pt_last.kind, RTV_PT_IRQ_PCI_INTX);
    ck_assert_uint_eq(f->pt_last.dev, 0x1f);
    ck_assert_uint_eq(f->pt_last.pirq, 3);

    char *t = printed(&r, false);

    ck_assert_contains(t, "isa: bind pirq 3 as the guest's ISA IRQ 3: refused, ESRCH");
    ck_assert_contains(t, "pci-intx: bind pirq 3 as INTA of the guest's (phantom) PCI device 00:1f: refused, ESRCH");
    ck_assert_contains(t, "  xen: (XEN) pt_irq_create_bind failed (-3) for dom7\n");
    ck_assert(strstr(t, "earlier") == NULL);
}
END_TEST

START_TEST(json_report_parses_and_says_what_xen_answered)
{
    struct probe_irq_report r;
    struct rtv_err err = {0};
    json_object *o, *tries, *t0, *v;

    f->pt_bind_rc = -EOPNOTSUPP;
    ck_assert_int_eq(ioemu_probe_irq(&f->base, &cfg3, &r, &err), 0);
    o = json_tokener_parse(printed(&r, true));
    ck_assert_ptr_nonnull(o);
    ck_assert(json_object_object_get_ex(o, "domid", &v));
    ck_assert_int_eq(json_object_get_int(v), 7);
    ck_assert(json_object_object_get_ex(o, "any_bound", &v));
    ck_assert(!json_object_get_boolean(v));
    ck_assert(json_object_object_get_ex(o, "tries", &tries));
    ck_assert_uint_eq(json_object_array_length(tries), 2);
    t0 = json_object_array_get_idx(tries, 0);
    ck_assert(json_object_object_get_ex(t0, "errno", &v));
    ck_assert_str_eq(json_object_get_string(v), "EOPNOTSUPP");
    ck_assert(json_object_object_get_ex(t0, "rc", &v));
    ck_assert_int_eq(json_object_get_int(v), -EOPNOTSUPP);
    ck_assert(json_object_object_get_ex(t0, "xen", &v));
    ck_assert_uint_eq(json_object_array_length(v), 1);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(v, 0)),
                     "(XEN) pt_irq_create_bind failed (-95) for dom7");
    ck_assert(json_object_object_get_ex(t0, "unbind_rc", &v));
    ck_assert_ptr_null(v);   /* not tried: nothing was bound */
    json_object_put(o);
}
END_TEST

START_TEST(a_binding_xen_takes_is_removed_at_once)
{
    struct probe_irq_report r;
    struct rtv_err err = {0};
    struct probe_irq_cfg isa_only = cfg3;

    ck_assert_int_eq(ioemu_probe_irq(&f->base, &cfg3, &r, &err), 0);
    ck_assert_uint_eq(f->pt_binds, 2);
    ck_assert_uint_eq(f->pt_unbinds, 2);
    ck_assert_uint_eq(f->pt_bound, 0);
    ck_assert_int_eq(r.tries[0].rc, 0);
    ck_assert(r.tries[0].unbind_tried);
    ck_assert_int_eq(r.tries[0].unbind_rc, 0);
    ck_assert_str_eq(r.tries[0].xen, "");
    ck_assert_contains(printed(&r, false), "isa: bind pirq 3 as the guest's ISA IRQ 3: bound; unbind ok");
    ck_assert_contains(printed(&r, true), "\"any_bound\":true");

    isa_only.pci = false;
    ck_assert_int_eq(ioemu_probe_irq(&f->base, &isa_only, &r, &err), 0);
    ck_assert_uint_eq(r.ntries, 1);
    ck_assert_uint_eq(f->pt_binds, 3);
}
END_TEST

START_TEST(a_binding_xen_will_not_remove_is_an_error_and_stops_the_probe)
{
    struct probe_irq_report r;
    struct rtv_err err = {0};

    f->pt_unbind_rc = -EBUSY;
    ck_assert_int_eq(ioemu_probe_irq(&f->base, &cfg3, &r, &err), -EBUSY);
    ck_assert_int_eq(err.code, EBUSY);
    ck_assert_contains(err.msg, "still in place");
    ck_assert_uint_eq(f->pt_binds, 1);   /* no second bind while one is stuck */
    ck_assert_uint_eq(f->pt_bound, 1);
    ck_assert_uint_eq(r.ntries, 1);
    ck_assert_contains(printed(&r, false), "unbind FAILED: ");
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(ioemu_probe_irq_suite, "ioemu_probe_irq", "probe", setup, teardown, 30,
                        refused_binds_are_the_result_with_xens_lines,
                        json_report_parses_and_says_what_xen_answered,
                        a_binding_xen_takes_is_removed_at_once,
                        a_binding_xen_will_not_remove_is_an_error_and_stops_the_probe)

RTV_UNIT_MAIN(ioemu_probe_irq_suite)
