/*
 * rtvirt-switchd-lab: the dom0 side of the live switch for the lab, until
 * rtvirt-backd runs the coordinator itself.  It is common/coordinator.c
 * with the toolstack half of the PV backend (vbd_adapter.c) over the real
 * seam; the vbds it writes are served by a running rtvirt-backd.
 *
 *   rtvirt-switchd-lab [-v] [--devid-base N]
 *
 * Runs until SIGTERM/SIGINT.  Every managed device (xl-rtvirt manage) of
 * every domain is coordinated, as the schema's section 1 says.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rtvirt/coordinator.h"
#include "rtvirt/xen_seam.h"
#include "rtvirt/xs_util.h"
#include "vbd_adapter.h"

static volatile sig_atomic_t stop;
static bool verbose;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void log_line(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "rtvirt-switchd-lab: %s\n", msg);
}

int main(int argc, char **argv)
{
    struct rtv_xen x, ax;
    struct rtv_err err = { 0, "" };
    unsigned long long base = 5000;
    struct sigaction sa;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            verbose = true;
        } else if (strcmp(argv[i], "--devid-base") == 0 && i + 1 < argc &&
                   rtv_parse_uint(argv[i + 1], 2147482647ull, &base) == 0) {
            i++;
        } else {
            fprintf(stderr, "usage: rtvirt-switchd-lab [-v] [--devid-base N]\n"
                            "The lab's stand-in for rtvirt-backd's switch coordinator.\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (rtv_xen_open(&x, RTV_XEN_STORE, &err) < 0 || rtv_xen_open(&ax, RTV_XEN_STORE, &err) < 0) {
        fprintf(stderr, "rtvirt-switchd-lab: %s\n", err.msg);
        return 1;
    }
    struct vbd_adapter *a = vbd_adapter_new(ax.xs, x.self, (unsigned)base);
    struct rtv_coordinator *co = a ? rtv_coordinator_new(x.xs, &vbd_adapter_ops, a, &err) : NULL;
    if (co == NULL) {
        fprintf(stderr, "rtvirt-switchd-lab: out of memory\n");
        return 1;
    }
    vbd_adapter_set_coordinator(a, co);
    if (verbose)
        rtv_coordinator_set_log(co, log_line, NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (rtv_coordinator_start(co, now_ms(), &err) < 0) {
        fprintf(stderr, "rtvirt-switchd-lab: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "rtvirt-switchd-lab: coordinating %u device(s)\n", rtv_coordinator_count(co));
    while (!stop) {
        struct pollfd pfd[2] = {
            { .fd = rtv_xs_watch_fd(x.xs), .events = POLLIN },
            { .fd = rtv_xs_watch_fd(ax.xs), .events = POLLIN },
        };
        /* 50 ms: the coordinator wants a tick at least every 100 ms. */
        if (poll(pfd, 2, 50) < 0 && errno != EINTR)
            break;
        rtv_coordinator_poll_watches(co, now_ms());
        vbd_adapter_poll(a, now_ms());
        rtv_coordinator_tick(co, now_ms());
    }
    rtv_coordinator_free(co);
    vbd_adapter_free(a);
    rtv_xen_close(&ax);
    rtv_xen_close(&x);
    return 0;
}
