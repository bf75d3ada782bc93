/*
 * rtvirt-backd: the dom0 blkif backend daemon (see backd.h) and the dom0
 * side of the live switch protocol (backd_switch.h), in one event loop.
 *
 *   rtvirt-backd [-v] [--no-switch] [--twin-base VDEV] [--no-qmp | --qmp-dir DIR]
 *                [--qmp-timeout MS] [--qmp-flush-at-flip] [--bridge-learning pin|leave]
 *                [--tap-queue FRAMES]
 *                [--no-persistent]
 *                [--no-discard] [--no-barrier] [--max-queues N]
 *                [--max-ring-page-order N] [--max-indirect-segments N]
 *                [--state-dir DIR | --no-takeover]
 *   rtvirt-backd --orphans close [--orphans-timeout S] [-v] [any option above]
 *   ... --dry-run: what either would run, printed; nothing touched
 *
 * Serves every device written under
 * /local/domain/<self>/backend/vbd3/<domid>/<devid> (rtvirt-vbd attach, the
 * switch's twins) whose params names an image file or block device; the
 * kernel's xen-blkback keeps serving libxl's backend/vbd (blkif_xs.h says
 * why the two never meet).  Unless --no-switch, it also answers switch
 * requests for every managed device (xl-rtvirt manage), bringing up each PV
 * twin as one of the 1000 whole xvd disks from VDEV on (default xvdaaa;
 * backd_switch.h says why that form).  Presence is
 * published in /local/domain/0/rtvirt/backd.  The ring journals that let a
 * restarted daemon take over the live rings (backd_journal.h) live in
 * --state-dir (default BACKD_STATE_DIR, tmpfs: they must outlive the
 * process, and mean nothing after a reboot).
 */
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backd.h"
#include "backd_gone.h"
#include "backd_switch.h"
#include "backd_vif.h"
#include "rtvirt/blkif_xs.h"
#include "rtvirt/clock.h"
#include "rtvirt/xen_seam.h"
#include "rtvirt/xs_schema.h"
#include "rtvirt/xs_util.h"

#ifndef BACKD_STATE_DIR
#define BACKD_STATE_DIR  "/run/rtvirt-backd"
#endif

/* How long --orphans close waits, by default, for the guests to fail over
 * after their rings were failed (they do at their next I/O). */
#define BACKD_ORPHANS_TIMEOUT_S 60u

static struct backd *the_backd;
static volatile sig_atomic_t stop_asked;

static void on_signal(int sig)
{
    (void)sig;
    stop_asked = 1;
    if (the_backd != NULL)
        backd_stop(the_backd);
}

static int usage(void)
{
    fprintf(stderr, "usage: rtvirt-backd [-v] [--no-switch] [--twin-base VDEV] "
                    "[--no-persistent] [--no-discard] [--no-barrier] [--max-queues N] "
                    "[--max-ring-page-order N] [--max-indirect-segments N]\n"
                    "       [--state-dir DIR | --no-takeover]\n"
                    "  --no-switch     serve vbds only; do not answer switch requests\n"
                    "  --twin-base VDEV  PV twins of switched disks are the %u whole xvd disks\n"
                    "                  from VDEV on (default %s; an extended one: xvdq..)\n"
                    "  --qmp-dir DIR   qemu monitor sockets DIR/qmp-libxl-<domid> (default %s):\n"
                    "                  qemu's drive is checked (raw) at every switch request;\n"
                    "                  no socket: the switch is rolled back\n"
                    "  --qmp-flush-at-flip  also flush qemu's drive, once the guest drained,\n"
                    "                  before every flip (inside the blackout)\n"
                    "  --qmp-timeout MS  bound on each exchange with qemu's monitor (default\n"
                    "                  %u, 100..600000); past it the switch is rolled back\n"
                    "  --no-qmp        no device model in dom0 to sync (stub domains): flip\n"
                    "                  without it\n"
                    "  --bridge-learning pin|leave  pin (default): the bridge learns a switched\n"
                    "                  NIC's MAC only from the port of the leg the guest is on\n"
                    "                  (or told to go to); leave: as the hotplug scripts made it\n"
                    "  --tap-queue FRAMES  bound the queue of a switched NIC's emulated leg (its\n"
                    "                  tap's tx_queue_len) while a switch to PV runs: what\n"
                    "                  still waits there at the flip is lost (default %u; 0:\n"
                    "                  leave it)\n"
                    "  --state-dir DIR ring journals, NIC taps' lengths (default %s,\n"
                    "                  tmpfs): a restarted daemon takes over the live rings\n"
                    "                  its predecessor served, and gives back a tap it cut\n"
                    "  --no-takeover   no journals: after a restart a guest's blkfront waits\n"
                    "                  for a backend forever\n"
                    "usage: rtvirt-backd --orphans close [--orphans-timeout S] [-v] [options]\n"
                    "  --orphans close rtvirt-backd is gone for good (systemd gave up on it;\n"
                    "                  rtvirt-backd-orphans.service runs this then): answer every\n"
                    "                  request on its rings with an error without executing it,\n"
                    "                  close every vbd it served, follow each guest that fails\n"
                    "                  over to its emulated path, then exit.  Refused while a\n"
                    "                  daemon runs.  Options as the daemon's (--state-dir, ...)\n"
                    "  --orphans-timeout S  how long to wait for the guests to fail over\n"
                    "                  (default %u s); a guest that does later is followed by\n"
                    "                  the next daemon\n"
                    "  --dry-run       (either form) print what would run and exit, touching\n"
                    "                  nothing: a check of a unit's command line\n",
                    BACKD_SWITCH_DEVID_SPAN,
                    BACKD_SWITCH_TWIN_BASE, BACKD_SWITCH_QMP_DIR, BACKD_SWITCH_QMP_TIMEOUT_MS,
                    BACKD_VIF_TAP_QUEUE,
                    BACKD_STATE_DIR, BACKD_ORPHANS_TIMEOUT_S);
    return 2;
}

/* On a clean exit: the presence directory goes with its nodes, and dom0's
 * rtvirt directory too if nothing else (ioemu, p2m) lives there, so a
 * stopped daemon leaves the store as it found it. */
static void remove_presence(struct rtv_store *xs)
{
    char dir[256], *slash;
    char **ents = NULL;
    unsigned n = 0;

    if (rtv_xs_dir(dir, sizeof(dir), RTV_XS_BACKD_STATE, &(struct rtv_xs_args){ 0 }, NULL) < 0)
        return;
    rtv_xs_rm(xs, RTV_XS_NO_TXN, dir);
    if ((slash = strrchr(dir, '/')) == NULL)
        return;
    *slash = '\0';
    if (rtv_xs_directory(xs, RTV_XS_NO_TXN, dir, &ents, &n) == 0 && n == 0)
        rtv_xs_rm(xs, RTV_XS_NO_TXN, dir);
    free(ents);   /* one allocation (seam.h) */
}

static void switch_log(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "rtvirt-backd: switch: %s\n", msg);
}

static void vif_log(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "rtvirt-backd: vif: %s\n", msg);
}

/* The dom0 side of the switch over x's domain, on two more store
 * connections (backd_switch.h says why), logging to stderr; NULL: said
 * why.  The caller closes cx and ax (also on failure: what was opened). */
static struct backd_switch *open_switch(const struct rtv_xen *x, struct rtv_xen *cx,
                                        struct rtv_xen *ax, unsigned twin_base)
{
    struct rtv_err err = { 0, "" };
    struct backd_switch *sw = NULL;

    if (rtv_xen_open(cx, RTV_XEN_STORE, &err) < 0 ||
        rtv_xen_open(ax, RTV_XEN_STORE, &err) < 0 ||
        (sw = backd_switch_new(cx->xs, ax->xs, x->self, twin_base, &err)) == NULL) {
        fprintf(stderr, "rtvirt-backd: cannot start the switch: %s\n", err.msg);
        return NULL;
    }
    backd_switch_set_log(sw, switch_log, NULL);
    return sw;
}

static int num_arg(const char *s, unsigned long long max, unsigned *out)
{
    unsigned long long v;

    if (s == NULL || rtv_parse_uint(s, max, &v) < 0)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/*
 * rtvirt-backd --orphans close: the daemon is gone for good (dom0-backend/
 * README.md, "Gone for good").  Its rings are failed (backd.h, fail_rings)
 * and the coordinator runs only to follow the guests that fail over (the
 * failover published with why the PV leg went), refusing any switch to PV.
 * 0: every vbd closed (guests that did not fail over within the bound are
 * named; the next daemon follows them); 1: it could not run or rings are
 * left open.
 */
static int run_orphans(struct backd_config *cfg, unsigned twin_base, unsigned timeout_s)
{
    struct rtv_xen x, cx = { 0 }, ax = { 0 };
    struct rtv_err err = { 0, "" };
    struct backd_switch *sw = NULL;
    struct sigaction sa;
    char cause[160];
    pid_t other, last;
    int rc = 1;

    if (rtv_xen_open(&x, RTV_XEN_ALL, &err) < 0) {
        fprintf(stderr, "rtvirt-backd: %s\n", err.msg);
        return 1;
    }
    /* Only once the daemon is gone: while it lives it may still complete a
     * write, and one landing after the guest re-issued that write on the
     * emulated leg (or wrote there since) would put stale data back. */
    if ((other = backd_running_pid(x.xs, getpid(), &last)) != 0) {
        fprintf(stderr, "rtvirt-backd: --orphans close: rtvirt-backd (pid %ld) is running: "
                        "its rings are not orphans; stop it first\n", (long)other);
        rtv_xen_close(&x);
        return 1;
    }
    if (last != 0)
        snprintf(cause, sizeof(cause), "rtvirt-backd (pid %ld) is gone for good; "
                 "rtvirt-backd --orphans close failed its rings", (long)last);
    else
        snprintf(cause, sizeof(cause), "rtvirt-backd is gone for good; "
                 "rtvirt-backd --orphans close failed its rings");
    /* The daemon does not start while this runs (its pid check). */
    rtv_xs_printf(x.xs, RTV_XS_NO_TXN, BACKD_PID_PATH, "%ld", (long)getpid());
    rtv_xs_printf(x.xs, RTV_XS_NO_TXN, BACKD_STATE_PATH, "orphans");
    cfg->fail_rings = true;
    the_backd = backd_new(&x, cfg);
    if (the_backd == NULL) {
        fprintf(stderr, "rtvirt-backd: cannot start: %s\n", strerror(errno));
        goto out;
    }
    if ((sw = open_switch(&x, &cx, &ax, twin_base)) == NULL)
        goto out;
    backd_switch_set_qmp(sw, NULL);       /* nothing flips here */
    backd_switch_set_gone(sw, cause);
    if (backd_switch_start(sw, rtv_now_ms(), &err) < 0) {
        fprintf(stderr, "rtvirt-backd: cannot start the switch: %s\n", err.msg);
        goto out;
    }
    backd_attach_switch(the_backd, sw);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    fprintf(stderr, "rtvirt-backd: --orphans close: %s\n", cause);

    uint64_t deadline = rtv_now_ms() + (uint64_t)timeout_s * 1000;
    unsigned open = 0, on_pv = 0;
    struct backd_stats st;

    while (!stop_asked) {
        int r = backd_run(the_backd, 200);

        if (r < 0) {
            fprintf(stderr, "rtvirt-backd: event loop failed: %s\n", strerror(-r));
            break;
        }
        open = backd_open_devices(the_backd);
        on_pv = backd_switch_on_pv(sw);
        if ((open == 0 && on_pv == 0) || rtv_now_ms() >= deadline)
            break;
    }
    backd_get_stats(the_backd, &st);
    fprintf(stderr, "rtvirt-backd: --orphans close: %llu ring(s) taken over, %llu request(s) "
            "answered without being executed, %u vbd(s) not closed, %u switched disk(s) "
            "still on a PV mode%s\n", st.takeovers, st.unexecuted, open, on_pv,
            on_pv ? " (their guests did not fail over yet: the next rtvirt-backd follows "
                    "them when they do)" : "");
    rc = open == 0 && !stop_asked ? 0 : 1;
out:
    backd_free(the_backd);
    the_backd = NULL;
    backd_switch_free(sw);
    rtv_xs_rm(x.xs, RTV_XS_NO_TXN, BACKD_PID_PATH);
    rtv_xs_rm(x.xs, RTV_XS_NO_TXN, BACKD_STATE_PATH);
    remove_presence(x.xs);
    if (ax.xs)
        rtv_xen_close(&ax);
    if (cx.xs)
        rtv_xen_close(&cx);
    rtv_xen_close(&x);
    return rc;
}

int main(int argc, char **argv)
{
    struct backd_config cfg;
    struct rtv_xen x, cx = { 0 }, ax = { 0 }, vx = { 0 };
    struct rtv_err err = { 0, "" };
    struct sigaction sa;
    struct backd_switch *sw = NULL;
    struct backd_vif *vif = NULL;
    struct backd_stats st;
    bool with_switch = true;
    const char *qmp_dir = BACKD_SWITCH_QMP_DIR;
    unsigned qmp_timeout_ms = BACKD_SWITCH_QMP_TIMEOUT_MS;
    bool qmp_flush = false;
    bool pin_learning = true;
    unsigned tap_queue = BACKD_VIF_TAP_QUEUE;
    const char *twin_vdev = BACKD_SWITCH_TWIN_BASE;
    unsigned twin_base;
    bool orphans = false;
    unsigned orphans_timeout_s = BACKD_ORPHANS_TIMEOUT_S;
    bool dry_run = false;
    int rc;

    backd_config_default(&cfg);
    cfg.state_dir = BACKD_STATE_DIR;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "-v") == 0)
            cfg.verbose = true;
        else if (strcmp(a, "--orphans") == 0) {
            if (++i >= argc || strcmp(argv[i], "close") != 0) {
                fprintf(stderr, "rtvirt-backd: --orphans %s: the only action is "
                                "\"close\"\n", i < argc ? argv[i] : "(missing)");
                return usage();
            }
            orphans = true;
        } else if (strcmp(a, "--orphans-timeout") == 0) {
            const char *v = ++i < argc ? argv[i] : NULL;

            if (num_arg(v, 86400, &orphans_timeout_s) < 0) {
                fprintf(stderr, "rtvirt-backd: --orphans-timeout %s: not a number of "
                                "seconds in 0..86400\n", v ? v : "(missing)");
                return usage();
            }
        }
        else if (strcmp(a, "--dry-run") == 0)
            dry_run = true;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        }
        else if (strcmp(a, "--no-switch") == 0)
            with_switch = false;
        else if (strcmp(a, "--no-qmp") == 0)
            qmp_dir = NULL;
        else if (strcmp(a, "--bridge-learning") == 0) {
            const char *v = ++i < argc ? argv[i] : NULL;

            if (v == NULL || (strcmp(v, "pin") != 0 && strcmp(v, "leave") != 0)) {
                fprintf(stderr, "rtvirt-backd: --bridge-learning %s: \"pin\" or "
                                "\"leave\"\n", v ? v : "(missing)");
                return usage();
            }
            pin_learning = strcmp(v, "pin") == 0;
        }
        else if (strcmp(a, "--tap-queue") == 0) {
            const char *v = ++i < argc ? argv[i] : NULL;

            if (num_arg(v, 100000, &tap_queue) < 0) {
                fprintf(stderr, "rtvirt-backd: --tap-queue %s: not a number of frames "
                                "in 0..100000\n", v ? v : "(missing)");
                return usage();
            }
        }
        else if (strcmp(a, "--qmp-flush-at-flip") == 0)
            qmp_flush = true;
        else if (strcmp(a, "--qmp-dir") == 0) {
            if (++i >= argc)
                return usage();
            qmp_dir = argv[i];
        }
        else if (strcmp(a, "--qmp-timeout") == 0) {
            const char *v = ++i < argc ? argv[i] : NULL;

            if (num_arg(v, 600000, &qmp_timeout_ms) < 0 || qmp_timeout_ms < 100) {
                fprintf(stderr, "rtvirt-backd: --qmp-timeout %s: not a number of "
                                "milliseconds in 100..600000\n", v ? v : "(missing)");
                return usage();
            }
        }
        else if (strcmp(a, "--state-dir") == 0) {
            if (++i >= argc)
                return usage();
            cfg.state_dir = argv[i];
        }
        else if (strcmp(a, "--no-takeover") == 0)
            cfg.state_dir = NULL;
        else if (strcmp(a, "--twin-base") == 0) {
            if (++i >= argc)
                return usage();
            twin_vdev = argv[i];
        }
        else if (strcmp(a, "--no-persistent") == 0)
            cfg.persistent = false;
        else if (strcmp(a, "--no-discard") == 0)
            cfg.discard = false;
        else if (strcmp(a, "--no-barrier") == 0)
            cfg.barrier = false;
        else if (strcmp(a, "--max-queues") == 0) {
            if (num_arg(argv[++i < argc ? i : 0], 16, &cfg.max_queues) < 0 || cfg.max_queues == 0)
                return usage();
        } else if (strcmp(a, "--max-ring-page-order") == 0) {
            if (num_arg(argv[++i < argc ? i : 0], 4, &cfg.max_ring_page_order) < 0)
                return usage();
        } else if (strcmp(a, "--max-indirect-segments") == 0) {
            if (num_arg(argv[++i < argc ? i : 0], 1024, &cfg.max_indirect_segs) < 0)
                return usage();
        } else
            return usage();
    }

    if (blkif_vdev_to_devid(twin_vdev, &twin_base) < 0) {
        fprintf(stderr, "rtvirt-backd: --twin-base %s: not a vdev (xvdq, 268439552, ...)\n",
                twin_vdev);
        return usage();
    }

    if (orphans && cfg.state_dir == NULL) {
        fprintf(stderr, "rtvirt-backd: --orphans close needs the ring journals: not with "
                        "--no-takeover\n");
        return 2;
    }
    /* What a unit's command line would run, touching nothing (no Xen, no
     * state directory): dom0-backend/check-units.sh runs the units'
     * ExecStart= with it. */
    if (dry_run) {
        printf("rtvirt-backd: would run: %s; state-dir %s; twin base %s (vbd %u)%s",
               orphans ? "--orphans close" : "the daemon",
               cfg.state_dir ? cfg.state_dir : "none (--no-takeover)", twin_vdev, twin_base,
               with_switch ? "" : "; --no-switch");
        if (orphans)
            printf("; orphans-timeout %u s", orphans_timeout_s);
        printf("\n");
        return 0;
    }
    if (cfg.state_dir != NULL && mkdir(cfg.state_dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "rtvirt-backd: --state-dir %s: %s\n", cfg.state_dir, strerror(errno));
        return 1;
    }
    if (orphans)
        return run_orphans(&cfg, twin_base, orphans_timeout_s);
    rc = rtv_xen_open(&x, RTV_XEN_ALL, &err);
    if (rc < 0) {
        fprintf(stderr, "rtvirt-backd: %s\n", err.msg);
        return 1;
    }
    /* One daemon per host: two would both serve (and fight over) every vbd;
     * nor while --orphans close fails the rings of the last one. */
    pid_t other, last;
    if ((other = backd_running_pid(x.xs, getpid(), &last)) != 0) {
        fprintf(stderr, "rtvirt-backd: already running (pid %ld)\n", (long)other);
        rtv_xen_close(&x);
        return 1;
    }
    the_backd = backd_new(&x, &cfg);
    if (the_backd == NULL) {
        fprintf(stderr, "rtvirt-backd: cannot start: %s\n", strerror(errno));
        rtv_xen_close(&x);
        return 1;
    }
    /* The switch: two more store connections (backd_switch.h says why). */
    if (with_switch) {
        if ((sw = open_switch(&x, &cx, &ax, twin_base)) == NULL)
            goto out;
        backd_switch_set_qmp(sw, qmp_dir);
        backd_switch_set_qmp_timeout(sw, qmp_timeout_ms);
        backd_switch_set_qmp_flush_at_flip(sw, qmp_flush);
        if (backd_switch_start(sw, rtv_now_ms(), &err) < 0) {
            fprintf(stderr, "rtvirt-backd: cannot start the switch: %s\n", err.msg);
            goto out;
        }
        /* The NIC switch: its coordinator on a fourth connection. */
        if (rtv_xen_open(&vx, RTV_XEN_STORE, &err) < 0 ||
            (vif = backd_vif_new(vx.xs, ax.xs, x.self, &err)) == NULL) {
            fprintf(stderr, "rtvirt-backd: cannot start the NIC switch: %s\n", err.msg);
            goto out;
        }
        backd_vif_set_log(vif, vif_log, NULL);
        backd_vif_set_pin(vif, pin_learning);
        backd_vif_set_tap_queue(vif, tap_queue);
        backd_vif_set_state_dir(vif, cfg.state_dir);
        if (backd_vif_start(vif, rtv_now_ms(), &err) < 0) {
            fprintf(stderr, "rtvirt-backd: cannot start the NIC switch: %s\n", err.msg);
            goto out;
        }
        backd_switch_attach_vif(sw, vif);
        backd_attach_switch(the_backd, sw);
        fprintf(stderr, "rtvirt-backd: coordinating %u switchable disk(s) and %u NIC(s), "
                "PV twins from %s (vbd %u)\n", backd_switch_count(sw), backd_vif_count(vif),
                twin_vdev, twin_base);
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    rtv_xs_printf(x.xs, RTV_XS_NO_TXN, BACKD_PID_PATH, "%ld", (long)getpid());
    rtv_xs_printf(x.xs, RTV_XS_NO_TXN, BACKD_STATE_PATH, "running");
    rc = backd_run(the_backd, -1);
    if (rc < 0)
        fprintf(stderr, "rtvirt-backd: event loop failed: %s\n", strerror(-rc));
    backd_get_stats(the_backd, &st);
    /* What the data path cost in grant work, for the lab's benchmark log. */
    fprintf(stderr, "rtvirt-backd: served %llu request(s), %llu indirect, %llu error(s); "
            "grant pages: %llu persistent map(s), %llu persistent hit(s), %llu one-shot, "
            "%llu refused for the cache; completions: %llu answered in the pass that "
            "submitted them, %llu after a wake\n", st.requests, st.indirect, st.errors,
            st.persistent_maps, st.persistent_hits, st.oneshot_maps, st.persistent_refused,
            st.completions_awake, st.completions_woken);
    rtv_xs_printf(x.xs, RTV_XS_NO_TXN, BACKD_STATE_PATH, "stopping");
    backd_free(the_backd);
    backd_switch_free(sw);
    backd_vif_free(vif);
    rtv_xs_rm(x.xs, RTV_XS_NO_TXN, BACKD_PID_PATH);
    rtv_xs_rm(x.xs, RTV_XS_NO_TXN, BACKD_STATE_PATH);
    remove_presence(x.xs);
    rtv_xen_close(&vx);
    rtv_xen_close(&ax);
    rtv_xen_close(&cx);
    rtv_xen_close(&x);
    return rc < 0 ? 1 : 0;

out:
    backd_free(the_backd);
    backd_switch_free(sw);
    backd_vif_free(vif);
    if (vx.xs)
        rtv_xen_close(&vx);
    if (ax.xs)
        rtv_xen_close(&ax);
    if (cx.xs)
        rtv_xen_close(&cx);
    rtv_xen_close(&x);
    return 1;
}
