/*
 * xl-rtvirt: the operator's command for rtvirt, in the style of xl.
 *
 *   xl-rtvirt switch <domain> <vdev> pv|emulated|selective [--wait] [--timeout S]
 *   xl-rtvirt status <domain> [<vdev>] [--json]
 *   xl-rtvirt manage <domain> <vdev> --image PATH
 *   xl-rtvirt manage <domain> vif/<devid> --mac MAC --bridge BRIDGE
 *   xl-rtvirt unmanage <domain> <vdev>
 *   xl-rtvirt virtualize|devirtualize <domain> <iodev> [--wait] [--timeout S]
 *   xl-rtvirt create <xl.cfg> [--paused]
 *   xl-rtvirt save <domain> <file> / restore <file> [--paused]
 *   xl-rtvirt migrate [-s SSHCOMMAND] <domain> <host>
 *   xl-rtvirt p2m-identity <domain> [--range A-B] [--paused|--concurrent] [--json]
 *
 * Everything it does is plain xenstore reads and writes of the nodes in
 * xenstore-schema/rtvirt-paths.md (through librtvirt's ctl functions), so
 * orchestration tools can do the same without it.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/ctl.h"
#include "rtvirt/ioemu_req.h"
#include "rtvirt/xen_seam.h"
#include "rtvirt/xs_util.h"
#include "xl_create.h"
#include "xl_move.h"
#include "xl_p2m.h"

static const char usage[] =
    "usage: xl-rtvirt <command> [arguments]\n"
    "\n"
    "  switch <domain> <vdev> pv|emulated|selective [--wait] [--timeout S] [--shunt-ready S]\n"
    "        Ask rtvirt-backd to move a managed disk, live, onto the PV ring\n"
    "        (pv), back to the emulated disk (emulated), or reads/writes via PV\n"
    "        and the rest emulated (selective); a NIC (vif/<devid>) onto a PV\n"
    "        vif (pv) or back to its emulated NIC (emulated).  --timeout S bounds each step of\n"
    "        the switch (default 10 s; past it the switch is rolled back);\n"
    "        --wait waits for the outcome (at most 4 x S) and exits 0 only if\n"
    "        the switch succeeded.  --shunt-ready S first waits (at most S s) until\n"
    "        the guest's shunt reports on this domain (after a restore or migration).\n"
    "  virtualize <domain> <iodev> [--wait] [--timeout S]\n"
    "  devirtualize <domain> <iodev> [--wait] [--timeout S]\n"
    "        Ask rtvirt-ioemu to trap and emulate a real device the guest drives\n"
    "        directly (virtualize), or to hand it back (devirtualize), at an\n"
    "        I/O-sequence boundary.  --timeout S bounds each wait of the change\n"
    "        (default 1 s; past it the device is reset and the change goes on);\n"
    "        --wait waits for the outcome (at most 4 x S + 2 s).\n"
    "  status <domain> [<vdev>|<iodev>] [--json]\n"
    "        Show the mode, last result and counters of managed disks and NICs,\n"
    "        and of devices under rtvirt-ioemu.\n"
    "  manage <domain> <vdev> --image PATH\n"
    "        Put a disk that runs emulated under rtvirt; PATH is the dom0 image\n"
    "        file or block device behind it.\n"
    "  manage <domain> vif/<devid> --mac MAC --bridge BRIDGE\n"
    "        Put an emulated NIC under rtvirt: <devid> its index in the guest's\n"
    "        vif list, MAC its MAC, BRIDGE the dom0 bridge its tap is on (the PV\n"
    "        vif a switch brings up gets the same MAC, on the same bridge).\n"
    "  unmanage <domain> <vdev>\n"
    "        Release a disk (it must be on the emulated path).\n"
    "  create <xl.cfg> [--paused]\n"
    "        xl create the guest, then put the devices its config lists in\n"
    "        rtvirt = [ \"hda\", \"vif/0\" ] under rtvirt (each disk's image from\n"
    "        its disk entry, each NIC's MAC and bridge from its vif entry), all\n"
    "        checked before xl runs.  $RTVIRT_XL names the xl to run (default xl).\n"
    "  p2m-identity <domain> [--range A-B] [--paused|--concurrent] [--json]\n"
    "        Rebuild the domain's P2M so that gfn == mfn wherever it can be (the\n"
    "        patched hypervisor's op, through rtvirt-p2m): paused (default) or\n"
    "        while it runs.  Progress (pages done / total) on stderr; the run's\n"
    "        state and figures in xenstore (/local/domain/<domid>/rtvirt/p2m/)\n"
    "        for tools to watch.  A-B: inclusive gfns, decimal or 0x hex.\n"
    "\n"
    "<domain> is a name or id as in `xl list`; <vdev> a disk's xl vdev (hda, xvda)\n"
    "or a NIC as vif/<devid> (vif/0); <iodev> a device under rtvirt-ioemu (uart0).\n"
    "Exit status: 0 ok, 1 the operation failed, 2 bad usage.\n";

enum { EXIT_BAD_USAGE = 2 };

struct opts {
    int         wait;
    int         json;
    unsigned    timeout_s;
    unsigned    shunt_ready_s;
    const char *image;
    const char *mac, *bridge;
    const char *range;
    const char *ssh;
    int         paused, concurrent;
};

static int fail(const struct rtv_err *err)
{
    fprintf(stderr, "xl-rtvirt: %s\n", err->msg);
    return EXIT_FAILURE;
}

__attribute__((format(printf, 1, 2)))
static int bad_usage(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "xl-rtvirt: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see xl-rtvirt --help)\n");
    return EXIT_BAD_USAGE;
}

static void print_status_text(const struct rtv_ctl_status *st)
{
    printf("%-6s %-22s result %-11s (request %llu)  switches %llu  rollbacks %llu"
           "  last blackout %llu us (qemu sync %llu us)  shunt %s\n",
           st->vdev, st->state, st->result[0] ? st->result : "-",
           (unsigned long long)st->result_id, (unsigned long long)st->switches,
           (unsigned long long)st->rollbacks, (unsigned long long)st->blackout_us,
           (unsigned long long)st->dm_sync_us,
           st->shunt_state[0] ? st->shunt_state : "(not running)");
    if (st->error[0])
        printf("       error: %s\n", st->error);
}

static json_object *status_json(const struct rtv_ctl_status *st)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "domid", json_object_new_int(st->domid));
    json_object_object_add(o, "vdev", json_object_new_string(st->vdev));
    json_object_object_add(o, "state", json_object_new_string(st->state));
    json_object_object_add(o, "image", json_object_new_string(st->image));
    json_object_object_add(o, "result", json_object_new_string(st->result));
    json_object_object_add(o, "result_id", json_object_new_uint64(st->result_id));
    json_object_object_add(o, "request_id", json_object_new_uint64(st->request_id));
    json_object_object_add(o, "error", json_object_new_string(st->error));
    json_object_object_add(o, "shunt_state", json_object_new_string(st->shunt_state));
    json_object_object_add(o, "switches", json_object_new_uint64(st->switches));
    json_object_object_add(o, "rollbacks", json_object_new_uint64(st->rollbacks));
    json_object_object_add(o, "blackout_us", json_object_new_uint64(st->blackout_us));
    json_object_object_add(o, "held", json_object_new_uint64(st->held));
    json_object_object_add(o, "dm_sync_us", json_object_new_uint64(st->dm_sync_us));
    return o;
}

static void print_ioemu_text(const struct rtv_ioemu_status *st)
{
    printf("%-6s %-22s result %-11s (request %llu)  changes %llu  resets %llu  rollbacks %llu"
           "  last: held %llu us, seek %llu us, busy %llu, logged %llu  (%s at %#llx irq %llu)\n",
           st->iodev, st->state, st->result[0] ? st->result : "-",
           (unsigned long long)st->result_id, (unsigned long long)st->changes,
           (unsigned long long)st->resets, (unsigned long long)st->rollbacks,
           (unsigned long long)st->held_us, (unsigned long long)st->seek_us,
           (unsigned long long)st->busy, (unsigned long long)st->logged, st->model,
           (unsigned long long)st->ioport, (unsigned long long)st->irq);
    if (st->error[0])
        printf("       error: %s\n", st->error);
}

static json_object *ioemu_json(const struct rtv_ioemu_status *st)
{
    json_object *o = json_object_new_object();
    const struct { const char *k; uint64_t v; } nums[] = {
        { "ioport", st->ioport }, { "irq", st->irq }, { "request_id", st->request_id },
        { "result_id", st->result_id }, { "changes", st->changes }, { "resets", st->resets },
        { "rollbacks", st->rollbacks }, { "seek_us", st->seek_us }, { "held_us", st->held_us },
        { "busy", st->busy }, { "logged", st->logged }, { "replayed", st->replayed },
    };

    json_object_object_add(o, "domid", json_object_new_int(st->domid));
    json_object_object_add(o, "iodev", json_object_new_string(st->iodev));
    json_object_object_add(o, "model", json_object_new_string(st->model));
    json_object_object_add(o, "state", json_object_new_string(st->state));
    json_object_object_add(o, "result", json_object_new_string(st->result));
    json_object_object_add(o, "error", json_object_new_string(st->error));
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        json_object_object_add(o, nums[i].k, json_object_new_uint64(nums[i].v));
    return o;
}

/* Devices under rtvirt-ioemu (all of dom's, or the one named) into arr or
 * stdout.  *found: how many were shown. */
static int ioemu_status(struct rtv_store *xs, rtv_domid_t dom, const char *iodev,
                        json_object *arr, unsigned *found)
{
    struct rtv_err err = {0};
    struct rtv_ioemu_status st;
    char **names = NULL;
    unsigned n = 1;
    int rc = EXIT_SUCCESS;

    if (iodev == NULL && rtv_ioemu_list(xs, dom, &names, &n, &err) < 0)
        return fail(&err);
    for (unsigned i = 0; i < n; i++) {
        if (rtv_ioemu_status(xs, dom, iodev ? iodev : names[i], &st, &err) < 0) {
            if (iodev == NULL)
                rc = fail(&err);
            continue;
        }
        (*found)++;
        if (arr)
            json_object_array_add(arr, ioemu_json(&st));
        else
            print_ioemu_text(&st);
    }
    free(names);
    return rc;
}

static int cmd_ioemu(struct rtv_store *xs, rtv_domid_t dom, const char *iodev,
                     const char *request, const struct opts *o)
{
    struct rtv_err err = {0};
    struct rtv_ioemu_status st;
    unsigned step_s = o->timeout_s ? o->timeout_s : 1;
    uint32_t id;

    if (rtv_ioemu_request(xs, dom, iodev, request, o->timeout_s * 1000u, &id, &err) < 0)
        return fail(&err);
    if (!o->wait) {
        printf("request %u: %s %s of domain %u (xl-rtvirt status %u %s to follow it)\n",
               id, request, iodev, (unsigned)dom, (unsigned)dom, iodev);
        return EXIT_SUCCESS;
    }
    if (rtv_ioemu_wait(xs, dom, iodev, id, 4 * step_s * 1000u + 2000u, &st, &err) < 0)
        return fail(&err);
    if (o->json) {
        json_object *j = ioemu_json(&st);

        json_object_object_add(j, "request", json_object_new_uint64(id));
        printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY));
        json_object_put(j);
    }
    if (st.result_id != id) {
        fprintf(stderr, "xl-rtvirt: request %u was superseded by request %llu; %s is now %s\n",
                id, (unsigned long long)st.result_id, iodev, st.state);
        return EXIT_FAILURE;
    }
    if (strcmp(st.result, "ok") != 0) {
        fprintf(stderr, "xl-rtvirt: %s %s (request %u): %s: %s (now %s)\n", request, iodev, id,
                st.result, st.error[0] ? st.error : "no reason given", st.state);
        return EXIT_FAILURE;
    }
    if (!o->json)
        printf("%s of domain %u is now %s (guest held %llu us, boundary after %llu us)%s%s\n",
               iodev, (unsigned)dom, st.state, (unsigned long long)st.held_us,
               (unsigned long long)st.seek_us, st.error[0] ? "; " : "", st.error);
    return EXIT_SUCCESS;
}

static int cmd_status(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                      const struct opts *o)
{
    struct rtv_err err = {0};
    struct rtv_ctl_status st;
    char **names = NULL;
    unsigned n = 1;
    int rc = EXIT_SUCCESS;

    unsigned found = 0;

    if (vdev == NULL && rtv_ctl_list(xs, dom, &names, &n, &err) < 0)
        return fail(&err);
    json_object *arr = o->json ? json_object_new_array() : NULL;
    /* A name that is no managed disk or NIC may be a device under rtvirt-ioemu. */
    if (vdev != NULL && rtv_ctl_status(xs, dom, vdev, &st, &err) == -ENOENT) {
        struct rtv_err disk_err = err;

        n = 0;
        rc = ioemu_status(xs, dom, vdev, arr, &found);
        if (found == 0)
            rc = fail(&disk_err);
    } else if (vdev == NULL) {
        rc = ioemu_status(xs, dom, NULL, arr, &found);
    }
    if (!o->json && n == 0 && found == 0 && vdev == NULL)
        printf("domain %u has no disks, NICs or devices under rtvirt\n", (unsigned)dom);
    for (unsigned i = 0; i < n; i++) {
        if (rtv_ctl_status(xs, dom, vdev ? vdev : names[i], &st, &err) < 0) {
            rc = fail(&err);
            continue;
        }
        if (arr)
            json_object_array_add(arr, status_json(&st));
        else
            print_status_text(&st);
    }
    if (arr) {
        printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY));
        json_object_put(arr);
    }
    free(names);
    return rc;
}

static int cmd_switch(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                      const char *mode, const struct opts *o)
{
    struct rtv_err err = {0};
    struct rtv_ctl_status st;
    uint32_t id;

    if (o->shunt_ready_s &&
        rtv_ctl_wait_shunt(xs, dom, vdev, o->shunt_ready_s * 1000u, &err) < 0)
        return fail(&err);
    if (!o->wait) {
        if (rtv_ctl_request(xs, dom, vdev, mode, o->timeout_s * 1000u, &id, &err) < 0)
            return fail(&err);
        printf("request %u: %s of domain %u to %s (xl-rtvirt status %u %s to follow it)\n",
               id, vdev, (unsigned)dom, mode, (unsigned)dom, vdev);
        return EXIT_SUCCESS;
    }
    int rc = rtv_ctl_switch(xs, dom, vdev, mode, o->timeout_s * 1000u, &id, &st, &err);
    /* an answered request (ok, failed or superseded) is shown as JSON too */
    if (o->json && (rc == 0 || rc == -EBUSY || rc == -EIO)) {
        json_object *j = status_json(&st);
        json_object_object_add(j, "request", json_object_new_uint64(id));
        printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY));
        json_object_put(j);
    }
    if (rc < 0)
        return fail(&err);
    if (!o->json)
        printf("%s of domain %u is now %s (blackout %llu us)%s%s\n", vdev,
               (unsigned)dom, st.state, (unsigned long long)st.blackout_us,
               st.error[0] ? "; " : "", st.error);
    return EXIT_SUCCESS;
}

/* --timeout S: whole seconds, 1..600 (the schema's timeout-ms range). */
static int parse_timeout(const char *arg, struct opts *o)
{
    unsigned long long v;

    if (arg == NULL || rtv_parse_uint(arg, 600, &v) < 0 || v == 0)
        return bad_usage("--timeout \"%s\": give whole seconds from 1 to 600",
                         arg ? arg : "");
    o->timeout_s = (unsigned)v;
    return 0;
}

/* create: everything checked before xl runs, so a bad list starts nothing. */
static int cmd_create(int npos, char **pos, const struct opts *o)
{
    struct rtv_xlcfg cfg;
    struct xl_create_plan plan;
    struct rtv_err err = { 0 };
    struct rtv_xen x;
    const char *xl = getenv("RTVIRT_XL");

    if (npos != 2)
        return bad_usage("%s", "create takes one xl.cfg");
    if (o->range || o->concurrent || o->image || o->mac || o->bridge || o->wait)
        return bad_usage("%s", "create takes only --paused");
    if (rtv_xlcfg_read(pos[1], &cfg, &err) < 0)
        return fail(&err);
    if (xl_create_plan(&cfg, &plan, &err) < 0) {
        fprintf(stderr, "xl-rtvirt: %s: %s\n", pos[1], err.msg);
        return EXIT_FAILURE;
    }
    if (rtv_xen_open(&x, RTV_XEN_STORE, &err) < 0)
        return fail(&err);
    int rc = xl_create_run(x.xs, xl && *xl ? xl : "xl", pos[1], o->paused, &plan);
    rtv_xen_close(&x);
    return rc;
}

/* save, restore, migrate (xl_move.c): xl moves the guest, its disks emulated
 * meanwhile and brought back to their modes after. */
static int cmd_move(int npos, char **pos, const struct opts *o)
{
    struct rtv_err err = { 0 };
    struct rtv_xen x;
    const char *xl = getenv("RTVIRT_XL");
    const char *cmd = pos[0];
    unsigned step_ms = o->timeout_s * 1000u;
    struct xl_move_ops ops = { xl_move_switch, xl_move_ready, &step_ms };
    int restore = strcmp(cmd, "restore") == 0, migrate = strcmp(cmd, "migrate") == 0;
    int rc;

    if (npos != (restore ? 2 : 3))
        return bad_usage("wrong number of arguments for \"%s\"", cmd);
    if (o->range || o->concurrent || o->image || o->mac || o->bridge || o->wait || o->json ||
        o->shunt_ready_s ||
        (o->paused && !restore) || (o->ssh && !migrate))
        return bad_usage("%s takes only %s--timeout S", cmd,
                         restore ? "--paused, " : migrate ? "-s SSHCOMMAND, " : "");
    if (!xl || !*xl)
        xl = "xl";
    if (rtv_xen_open(&x, RTV_XEN_STORE, &err) < 0)
        return fail(&err);
    rc = restore ? xl_move_restore(x.xs, &ops, xl, pos[1], o->paused)
       : migrate ? xl_move_migrate(x.xs, &ops, xl, o->ssh, pos[1], pos[2])
       : xl_move_save(x.xs, &ops, xl, pos[1], pos[2]);
    rtv_xen_close(&x);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    struct rtv_err err = {0};
    char *pos[4];
    int npos = 0;

    /* Options may come before or after the positional arguments, as with xl. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return EXIT_SUCCESS;
        } else if (strcmp(a, "--wait") == 0) {
            o.wait = 1;
        } else if (strcmp(a, "--json") == 0) {
            o.json = 1;
        } else if (strcmp(a, "--timeout") == 0) {
            if (parse_timeout(i + 1 < argc ? argv[++i] : NULL, &o))
                return EXIT_BAD_USAGE;
        } else if (strcmp(a, "--range") == 0) {
            if (i + 1 >= argc)
                return bad_usage("%s", "--range needs FIRST-LAST");
            o.range = argv[++i];
        } else if (strcmp(a, "--paused") == 0) {
            o.paused = 1;
        } else if (strcmp(a, "--concurrent") == 0) {
            o.concurrent = 1;
        } else if (strcmp(a, "--image") == 0) {
            if (i + 1 >= argc)
                return bad_usage("%s", "--image needs a PATH");
            o.image = argv[++i];
        } else if (strcmp(a, "--mac") == 0) {
            if (i + 1 >= argc)
                return bad_usage("%s", "--mac needs a MAC");
            o.mac = argv[++i];
        } else if (strcmp(a, "--shunt-ready") == 0) {
            struct opts t = o;
            if (parse_timeout(i + 1 < argc ? argv[++i] : NULL, &t))
                return EXIT_BAD_USAGE;
            o.shunt_ready_s = t.timeout_s;
        } else if (strcmp(a, "-s") == 0 || strcmp(a, "--ssh") == 0) {
            if (i + 1 >= argc)
                return bad_usage("%s", "-s needs an SSHCOMMAND");
            o.ssh = argv[++i];
        } else if (strcmp(a, "--bridge") == 0) {
            if (i + 1 >= argc)
                return bad_usage("%s", "--bridge needs a BRIDGE");
            o.bridge = argv[++i];
        } else if (a[0] == '-') {
            return bad_usage("unknown option \"%s\"", a);
        } else if (npos < 4) {
            pos[npos++] = argv[i];
        } else {
            return bad_usage("too many arguments at \"%s\"", a);
        }
    }
    if (npos < 1)
        return bad_usage("%s", "no command given");

    const char *cmd = pos[0];
    if (strcmp(cmd, "create") == 0)
        return cmd_create(npos, pos, &o);
    if (strcmp(cmd, "save") == 0 || strcmp(cmd, "restore") == 0 ||
        strcmp(cmd, "migrate") == 0)
        return cmd_move(npos, pos, &o);
    int ioemu = strcmp(cmd, "virtualize") == 0 || strcmp(cmd, "devirtualize") == 0;
    int need = strcmp(cmd, "switch") == 0 ? 4 : strcmp(cmd, "status") == 0 ? 2
             : strcmp(cmd, "manage") == 0 || strcmp(cmd, "unmanage") == 0 || ioemu ? 3
             : strcmp(cmd, "p2m-identity") == 0 ? 2 : -1;
    if (need < 0)
        return bad_usage("unknown command \"%s\"; commands: switch, status, manage, unmanage, "
                         "create, save, restore, migrate, virtualize, devirtualize, p2m-identity", cmd);
    if (npos < need || (npos > need && !(strcmp(cmd, "status") == 0 && npos == 3)))
        return bad_usage("wrong number of arguments for \"%s\"", cmd);
    int nic = npos > 2 && strncmp(pos[2], "vif/", 4) == 0;
    if (strcmp(cmd, "manage") == 0 && !nic && o.image == NULL)
        return bad_usage("%s", "manage needs --image PATH (a disk)");
    if (strcmp(cmd, "manage") == 0 && nic && (o.mac == NULL || o.bridge == NULL))
        return bad_usage("%s", "manage of a NIC needs --mac MAC and --bridge BRIDGE");
    if (o.paused && o.concurrent)
        return bad_usage("%s", "--paused and --concurrent exclude each other");
    if ((o.range || o.paused || o.concurrent) && strcmp(cmd, "p2m-identity") != 0)
        return bad_usage("--range, --paused and --concurrent are p2m-identity's, not %s's", cmd);

    struct rtv_xen x;
    if (rtv_xen_open(&x, RTV_XEN_STORE, &err) < 0)
        return fail(&err);
    rtv_domid_t dom;
    int rc;
    if (rtv_ctl_resolve_domain(x.xs, pos[1], &dom, &err) < 0) {
        rc = fail(&err);
    } else if (ioemu) {
        rc = cmd_ioemu(x.xs, dom, pos[2], cmd, &o);
    } else if (strcmp(cmd, "switch") == 0) {
        rc = cmd_switch(x.xs, dom, pos[2], pos[3], &o);
    } else if (strcmp(cmd, "status") == 0) {
        rc = cmd_status(x.xs, dom, npos == 3 ? pos[2] : NULL, &o);
    } else if (strcmp(cmd, "p2m-identity") == 0) {
        struct xl_p2m_opts po = { .range = o.range, .concurrent = o.concurrent, .json = o.json };
        rc = xl_p2m_identity(x.xs, dom, &po);
    } else if (strcmp(cmd, "manage") == 0) {
        if (nic) {
            rc = rtv_ctl_manage_vif(x.xs, dom, pos[2], o.mac, o.bridge, &err) < 0
                 ? fail(&err) : 0;
            if (rc == 0)
                printf("%s of domain %u is under rtvirt (MAC %s, bridge %s)\n", pos[2],
                       (unsigned)dom, o.mac, o.bridge);
        } else {
            rc = rtv_ctl_manage(x.xs, dom, pos[2], o.image, &err) < 0 ? fail(&err) : 0;
            if (rc == 0)
                printf("%s of domain %u is under rtvirt (image %s)\n", pos[2],
                       (unsigned)dom, o.image);
        }
    } else {
        rc = rtv_ctl_unmanage(x.xs, dom, pos[2], &err) < 0 ? fail(&err) : 0;
    }
    rtv_xen_close(&x);
    return rc;
}
