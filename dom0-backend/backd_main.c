/*
 * rtvirt-backd: the dom0 blkif backend daemon (see backd.h).
 *
 *   rtvirt-backd [-v] [--no-persistent] [--no-discard] [--no-barrier]
 *                [--max-queues N] [--max-ring-page-order N]
 *                [--max-indirect-segments N]
 *
 * Serves every device the toolstack creates under
 * /local/domain/<self>/backend/vbd/<domid>/<devid> whose params names an image
 * file or block device.  Presence is published in /local/domain/0/rtvirt/backd.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backd.h"
#include "rtvirt/xen_seam.h"
#include "rtvirt/xs_util.h"

#define BACKD_STATE_PATH "/local/domain/0/rtvirt/backd/state"
#define BACKD_PID_PATH   "/local/domain/0/rtvirt/backd/pid"

static struct backd *the_backd;

static void on_signal(int sig)
{
    (void)sig;
    if (the_backd != NULL)
        backd_stop(the_backd);
}

static int usage(void)
{
    fprintf(stderr, "usage: rtvirt-backd [-v] [--no-persistent] [--no-discard] "
                    "[--no-barrier] [--max-queues N] [--max-ring-page-order N] "
                    "[--max-indirect-segments N]\n");
    return 2;
}

static int num_arg(const char *s, unsigned long long max, unsigned *out)
{
    unsigned long long v;

    if (s == NULL || rtv_parse_uint(s, max, &v) < 0)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int main(int argc, char **argv)
{
    struct backd_config cfg;
    struct rtv_xen x;
    struct rtv_err err = { 0, "" };
    struct sigaction sa;
    int rc;

    backd_config_default(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "-v") == 0)
            cfg.verbose = true;
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

    rc = rtv_xen_open(&x, RTV_XEN_ALL, &err);
    if (rc < 0) {
        fprintf(stderr, "rtvirt-backd: %s\n", err.msg);
        return 1;
    }
    /* One daemon per host: two would both serve (and fight over) every vbd. */
    unsigned long long other;
    if (rtv_xs_read_uint(x.xs, RTV_XS_NO_TXN, BACKD_PID_PATH, 4194304, &other) == 0 &&
        (pid_t)other != getpid() && kill((pid_t)other, 0) == 0) {
        fprintf(stderr, "rtvirt-backd: already running (pid %llu)\n", other);
        rtv_xen_close(&x);
        return 1;
    }
    the_backd = backd_new(&x, &cfg);
    if (the_backd == NULL) {
        fprintf(stderr, "rtvirt-backd: cannot start: %s\n", strerror(errno));
        rtv_xen_close(&x);
        return 1;
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
    rtv_xs_printf(x.xs, RTV_XS_NO_TXN, BACKD_STATE_PATH, "stopping");
    backd_free(the_backd);
    rtv_xs_rm(x.xs, RTV_XS_NO_TXN, BACKD_PID_PATH);
    rtv_xs_rm(x.xs, RTV_XS_NO_TXN, BACKD_STATE_PATH);
    rtv_xen_close(&x);
    return rc < 0 ? 1 : 0;
}
