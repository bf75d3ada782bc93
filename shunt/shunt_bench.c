/*
 * rtvirt-shunt-bench: what the shunt's NBD path costs in userspace, on the
 * host (no Xen, no kernel nbd: the host used for development cannot load
 * it).  Reads a file with O_DIRECT directly, then the same reads through
 * the shunt's NBD server on a socketpair (the shunt on its emulated path,
 * the local store standing in for xenstore), and prints both.
 *
 *   rtvirt-shunt-bench FILE [MiB] [seconds-per-case]
 *
 * The guest adds the kernel nbd driver's own cost on top; the lab step
 * tests/lab/steps/switch-nbd-cost measures that (fio on /dev/sda vs /dev/nbd0).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/nbd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rtvirt/clock.h"
#include "rtvirt/local.h"
#include "shunt.h"

static struct rtv_local_hub *hub;

static int open_local(void *ctx, unsigned parts, struct rtv_xen *out, struct rtv_err *err)
{
    (void)ctx;
    int rc = rtv_local_open(hub, 0, parts, out);
    if (rc < 0)
        rtv_err_set(err, -rc, "local open: %s", strerror(-rc));
    return rc;
}

static int serve(const char *file, int fd)
{
    struct shunt_config cfg;
    struct rtv_err err = { 0, "" };

    shunt_config_default(&cfg);
    cfg.emulated = file;
    cfg.vdev = "hda";
    cfg.open_xen = open_local;
    struct shunt *sh = shunt_new(&cfg, &err);
    if (sh == NULL) {
        fprintf(stderr, "shunt: %s\n", err.msg);
        return 1;
    }
    struct shunt_nbd *srv = shunt_nbd_new(sh, fd);
    for (int rc = 1; rc > 0;) {
        struct pollfd pfd;

        shunt_nbd_pollfd(srv, &pfd);
        if (shunt_run_once(sh, &pfd, 1, 100) < 0)
            break;
        rc = shunt_nbd_handle(srv, pfd.revents);
    }
    shunt_nbd_free(srv);
    shunt_free(sh);
    return 0;
}

static int xfer(int fd, void *p, size_t n, bool wr)
{
    uint8_t *b = p;

    while (n > 0) {
        ssize_t r = wr ? write(fd, b, n) : read(fd, b, n);
        if (r <= 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

/* One QD1 read through NBD. */
static int nbd_read(int fd, uint64_t off, uint32_t len, void *buf)
{
    struct nbd_request rq;
    struct nbd_reply rp;

    memset(&rq, 0, sizeof(rq));
    rq.magic = htobe32(NBD_REQUEST_MAGIC);
    rq.type = htobe32(NBD_CMD_READ);
    rq.from = htobe64(off);
    rq.len = htobe32(len);
    if (xfer(fd, &rq, sizeof(rq), true) < 0 || xfer(fd, &rp, sizeof(rp), false) < 0 ||
        rp.error != 0 || xfer(fd, buf, len, false) < 0)
        return -1;
    return 0;
}

struct result {
    double mbs, iops, lat_us;
};

static struct result run_case(int fd, bool nbd, uint64_t size, uint32_t bs, bool rnd,
                              double secs, void *buf)
{
    uint64_t n = 0, off = 0, s = 88172645463325252ull;
    double t0 = ((double)rtv_now_us() / 1e6), t;

    do {
        for (int i = 0; i < 64; i++) {
            if (rnd) {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                off = (s % (size / bs)) * bs;
            } else {
                off = (off + bs) % size;
            }
            int rc = nbd ? nbd_read(fd, off, bs, buf)
                         : (pread(fd, buf, bs, (off_t)off) == (ssize_t)bs ? 0 : -1);
            if (rc < 0) {
                fprintf(stderr, "read failed at %llu\n", (unsigned long long)off);
                exit(1);
            }
            n++;
        }
        t = ((double)rtv_now_us() / 1e6) - t0;
    } while (t < secs);
    return (struct result){ (double)n * bs / t / 1048576.0, (double)n / t, t / (double)n * 1e6 };
}

int main(int argc, char **argv)
{
    const char *file;
    uint64_t mib = 256;
    double secs = 3;
    void *buf;
    int sv[2];

    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: rtvirt-shunt-bench FILE [MiB (256)] [seconds per case (3)]\n"
                "Creates FILE (O_DIRECT must work there), reads it directly and through\n"
                "the shunt's NBD server on a socketpair, QD1, and prints both.\n");
        return argc < 2 ? 2 : 0;
    }
    file = argv[1];
    if (argc > 2)
        mib = strtoull(argv[2], NULL, 10);
    if (argc > 3)
        secs = strtod(argv[3], NULL);
    int fd = open(file, O_RDWR | O_CREAT, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)(mib << 20)) < 0) {
        fprintf(stderr, "%s: %s\n", file, strerror(errno));
        return 1;
    }
    /* Real data, not holes: a hole reads without touching the disk. */
    if (posix_memalign(&buf, 4096, 1 << 20) != 0)
        return 1;
    memset(buf, 0xA5, 1 << 20);
    for (uint64_t i = 0; i < mib; i++)
        if (pwrite(fd, buf, 1 << 20, (off_t)(i << 20)) != 1 << 20)
            return 1;
    fsync(fd);
    close(fd);

    hub = rtv_local_hub_new(NULL);
    if (hub == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return 1;
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[1]);
        _exit(serve(file, sv[0]));
    }
    close(sv[0]);
    int dfd = open(file, O_RDONLY | O_DIRECT);
    if (dfd < 0) {
        fprintf(stderr, "%s: O_DIRECT: %s\n", file, strerror(errno));
        return 1;
    }
    static const struct { uint32_t bs; bool rnd; const char *name; } cases[] = {
        { 4096, true, "4k random read, QD1" },
        { 131072, false, "128k sequential read, QD1" },
    };
    printf("%-28s %12s %12s %12s %12s %10s\n", "case", "direct MB/s", "nbd MB/s", "direct us",
           "nbd us", "nbd/direct");
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct result d = run_case(dfd, false, mib << 20, cases[i].bs, cases[i].rnd, secs, buf);
        struct result n = run_case(sv[1], true, mib << 20, cases[i].bs, cases[i].rnd, secs, buf);
        printf("%-28s %12.1f %12.1f %12.1f %12.1f %10.2f\n", cases[i].name, d.mbs, n.mbs,
               d.lat_us, n.lat_us, d.mbs > 0 ? n.mbs / d.mbs : 0.0);
    }
    close(dfd);
    close(sv[1]);
    int st;
    waitpid(pid, &st, 0);
    rtv_local_hub_free(hub);
    unlink(file);
    return 0;
}
