/*
 * rtvirt-shunt: run in the HVM guest (as root), in front of the emulated
 * disk.  The filesystem then sits on /dev/mapper/rtvirt-<vdev>, a dm device
 * (target rtvirt, shunt/kmod/) this program creates and drives
 * (dmctl.h), and dom0's switch requests (xl-rtvirt switch) move its I/O
 * between the emulated disk and the stock xen-blkfront disk while it
 * stays mounted.  No guest I/O passes through this process.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "rtvirt/xen_seam.h"
#include "rtvirt/xs_schema.h"
#include "dmctl.h"

static volatile sig_atomic_t stop_asked;

static void on_signal(int sig)
{
    (void)sig;
    stop_asked = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: rtvirt-shunt --emulated DEV --vdev NAME [options]\n"
        "\n"
        "Creates /dev/mapper/rtvirt-NAME over the emulated disk DEV (or picks it up\n"
        "where it is) and switches it between DEV and the PV disk dom0 brings up, as\n"
        "dom0's rtvirt control nodes for NAME say (xenstore:\n"
        "/local/domain/<self>/rtvirt/vbd/NAME).  Needs dm-mod, dm-rtvirt.ko and\n"
        "xen-blkfront.  Guest I/O never passes through this process.\n"
        "\n"
        "  --emulated DEV   the guest's emulated disk (e.g. /dev/sda): nothing else may\n"
        "                   mount it\n"
        "  --vdev NAME      the rtvirt device name dom0 manages (e.g. hda)\n"
        "  --mode emulated  the starting mode (the only one: dom0 moves it from there)\n"
        "  -v, --verbose    log every switch step\n"
        "  -h, --help       this text\n");
}

static int open_real(void *ctx, unsigned parts, struct rtv_xen *out, struct rtv_err *err)
{
    (void)ctx;
    return rtv_xen_open(out, parts, err);
}

/* xl restore / migrate give the guest a new domid: dmctl asks at each resync. */
static int self_real(void *ctx, struct rtv_store *xs, rtv_domid_t *out)
{
    (void)ctx;
    return rtv_xen_self_domid(xs, out);
}

/* The dm route: the emulated disk's device number and size from sysfs. */
static int run_dm(const char *emulated, const char *vdev, bool verbose)
{
    struct dmctl_config cfg = { .vdev = vdev, .sysfs = "/sys", .dm = &shunt_dm_libdm_ops,
                                .open_xen = open_real, .self_domid = self_real,
                                .verbose = verbose };
    struct rtv_err err = { 0, "" };
    struct shunt_disk emu;
    struct sigaction sa;
    struct dmctl *c;
    struct stat st;
    int rc = 0;

    if (stat(emulated, &st) < 0 || !S_ISBLK(st.st_mode)) {
        fprintf(stderr, "rtvirt-shunt: --emulated %s: %s\n", emulated,
                S_ISBLK(st.st_mode) ? strerror(errno) : "not a block device");
        return 2;
    }
    if (shunt_disk_of_devnum("/sys", major(st.st_rdev), minor(st.st_rdev), &emu, &err) < 0) {
        fprintf(stderr, "rtvirt-shunt: --emulated %s: %s\n", emulated, err.msg);
        return 1;
    }
    cfg.emu_dev = emu.dev;
    cfg.sectors = emu.sectors;
    cfg.lbs = emu.lbs;
    const char *base = strrchr(emulated, '/');
    cfg.emu_name = base ? base + 1 : emulated;
    if (shunt_dm_libdm_init(&err) < 0) {
        fprintf(stderr, "rtvirt-shunt: %s\n", err.msg);
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;   /* no SA_RESTART: poll returns, the loop ends */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if ((c = dmctl_new(&cfg, &err)) == NULL) {
        fprintf(stderr, "rtvirt-shunt: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "rtvirt-shunt: /dev/mapper/rtvirt-%s over %s (%s, %llu sectors)\n",
            vdev, emulated, emu.dev, (unsigned long long)emu.sectors);
    while (!stop_asked) {
        if ((rc = dmctl_run_once(c, 200)) < 0) {
            fprintf(stderr, "rtvirt-shunt: loop failed: %s\n", strerror(-rc));
            break;
        }
    }
    dmctl_free(c);   /* the device stays, running */
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "emulated", required_argument, NULL, 'e' },
        { "vdev",     required_argument, NULL, 'd' },
        { "mode",     required_argument, NULL, 'm' },
        { "verbose",  no_argument,       NULL, 'v' },
        { "help",     no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct rtv_err err = { 0, "" };
    const char *emulated = NULL, *vdev = NULL;
    bool verbose = false;
    int c;

    while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (c) {
        case 'e': emulated = optarg; break;
        case 'd': vdev = optarg; break;
        case 'm':
            if (strcmp(optarg, "emulated") != 0) {
                fprintf(stderr, "rtvirt-shunt: --mode %s: the shunt starts on the emulated "
                        "path; dom0 switches it (xl-rtvirt switch)\n", optarg);
                return 2;
            }
            break;
        case 'v': verbose = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || !emulated || !vdev) {
        fprintf(stderr, "rtvirt-shunt: %s\n", optind < argc ? "unexpected argument"
                : !emulated ? "--emulated is required" : "--vdev is required");
        usage(stderr);
        return 2;
    }
    /* The name ends up in xenstore paths: refuse what the schema refuses,
     * before touching anything. */
    char probe[256];
    struct rtv_xs_args pa = { .domid = 1, .vdev = vdev };
    if (rtv_xs_path(probe, sizeof(probe), RTV_XS_CTL_STATE, &pa, &err) < 0) {
        fprintf(stderr, "rtvirt-shunt: --vdev %s: %s\n", vdev, err.msg);
        return 2;
    }
    return run_dm(emulated, vdev, verbose);
}
