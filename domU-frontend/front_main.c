/*
 * rtvirt-front: attach to a vbd from inside a domU and run the verify
 * workload over it.
 *
 *   rtvirt-front [-v] [--no-persistent] [--ring-page-order N] [--queues N]
 *                [--indirect N] [--ops N] [--seed N] [--region-sectors N]
 *                [--discard-zeroes] [--max-grants N] [--big] [--inflight N]
 *                <devid> verify
 *   rtvirt-front [...] <devid> bench [--pattern seqread|randrw] [--bs BYTES]
 *                [--depth N] [--seconds N]
 *
 * verify: exit status 0 only if every read matched and every request
 * succeeded.  bench: prints one "rtvirt-front: bench ..." line with MB/s and
 * IOPS (a measurement, not a test).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front_bench.h"
#include "front_verify.h"
#include "rtvirt/front_blk.h"
#include "rtvirt/xen_seam.h"
#include "rtvirt/xs_util.h"

static int usage(void)
{
    fprintf(stderr,
            "usage: rtvirt-front [-v] [--no-persistent] [--ring-page-order N] [--queues N]\n"
            "                    [--indirect N] [--ops N] [--seed N] [--region-sectors N]\n"
            "                    [--discard-zeroes] [--max-grants N] [--big] [--inflight N]\n"
            "                    <devid> verify\n"
            "       rtvirt-front [options] <devid> bench [--pattern seqread|randrw] [--bs BYTES]\n"
            "                    [--depth N] [--seconds N]\n");
    return 2;
}

static int num(const char *s, unsigned long long max, unsigned long long *out)
{
    return s != NULL && rtv_parse_uint(s, max, out) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct rtv_front_config cfg;
    struct front_verify_opts o = { .ops = 10000, .seed = 1 };
    struct front_verify_result res;
    unsigned long long v, devid = 0;
    bool have_devid = false, verify = false, bench = false;
    struct front_bench_opts bo = { FRONT_BENCH_SEQ_READ, 65536, 32, 10, 0, 1 };
    struct front_bench_result br;
    struct rtv_err err = { 0, "" };
    struct rtv_xen x;
    struct rtv_front *f;
    char msg[256] = "";
    int rc;

    rtv_front_config_default(&cfg, 0);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *n = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "-v") == 0) cfg.verbose = true;
        else if (strcmp(a, "--no-persistent") == 0) cfg.persistent = false;
        else if (strcmp(a, "--discard-zeroes") == 0) o.discard_zeroes = true;
        else if (strcmp(a, "--big") == 0) o.big_requests = true;
        else if (strcmp(a, "--inflight") == 0 && num(n, 4096, &v) == 0 && v > 0) { o.max_inflight = (unsigned)v; i++; }
        else if (strcmp(a, "--max-grants") == 0 && num(n, UINT32_MAX, &v) == 0 && v > 0) { cfg.max_grants = (unsigned)v; i++; }
        else if (strcmp(a, "--ring-page-order") == 0 && num(n, 4, &v) == 0) { cfg.ring_page_order = (unsigned)v; i++; }
        else if (strcmp(a, "--queues") == 0 && num(n, 16, &v) == 0 && v > 0) { cfg.nr_queues = (unsigned)v; i++; }
        else if (strcmp(a, "--indirect") == 0 && num(n, 1024, &v) == 0) { cfg.max_indirect_segs = (unsigned)v; i++; }
        else if (strcmp(a, "--ops") == 0 && num(n, UINT64_MAX, &v) == 0) { o.ops = v; i++; }
        else if (strcmp(a, "--seed") == 0 && num(n, UINT64_MAX, &v) == 0) { o.seed = v; i++; }
        else if (strcmp(a, "--region-sectors") == 0 && num(n, UINT64_MAX, &v) == 0) { o.region_sectors = v; i++; }
        else if (!have_devid && num(a, 2147483647ull, &devid) == 0) have_devid = true;
        else if (have_devid && strcmp(a, "verify") == 0) verify = true;
        else if (have_devid && strcmp(a, "bench") == 0) bench = true;
        else if (strcmp(a, "--pattern") == 0 && n && strcmp(n, "seqread") == 0) { bo.pattern = FRONT_BENCH_SEQ_READ; i++; }
        else if (strcmp(a, "--pattern") == 0 && n && strcmp(n, "randrw") == 0) { bo.pattern = FRONT_BENCH_RAND_RW; i++; }
        else if (strcmp(a, "--bs") == 0 && num(n, 1u << 22, &v) == 0) { bo.block_bytes = (unsigned)v; i++; }
        else if (strcmp(a, "--depth") == 0 && num(n, 4096, &v) == 0 && v > 0) { bo.depth = (unsigned)v; i++; }
        else if (strcmp(a, "--seconds") == 0 && num(n, 86400, &v) == 0 && v > 0) { bo.seconds = (unsigned)v; i++; }
        else return usage();
    }
    if (!have_devid || verify == bench)
        return usage();
    cfg.devid = (unsigned)devid;

    rc = rtv_xen_open(&x, RTV_XEN_ALL, &err);
    if (rc < 0) {
        fprintf(stderr, "rtvirt-front: %s\n", err.msg);
        return 1;
    }
    rc = rtv_front_open(&x, &cfg, &f, msg, sizeof(msg));
    if (rc < 0) {
        fprintf(stderr, "rtvirt-front: attach vbd %llu: %s\n", devid, msg);
        rtv_xen_close(&x);
        return 1;
    }
    if (bench) {
        rc = front_bench_run(f, &bo, &br);
        printf("rtvirt-front: bench vbd %llu %s bs=%u depth=%u: %.1f MB/s %.0f IOPS "
               "(%llu I/Os in %.2f s, %llu errors)%s%s\n", devid,
               bo.pattern == FRONT_BENCH_SEQ_READ ? "seqread" : "randrw", bo.block_bytes,
               bo.depth, br.seconds > 0 ? br.bytes / br.seconds / 1e6 : 0.0,
               br.seconds > 0 ? br.ios / br.seconds : 0.0, br.ios, br.seconds, br.errors,
               rc < 0 ? ": " : "", rc < 0 ? strerror(-rc) : "");
        rtv_front_close(f);
        rtv_xen_close(&x);
        return rc == 0 && br.errors == 0 ? 0 : 1;
    }
    rc = front_verify_run(f, &o, &res);
    struct rtv_front_info info;
    rtv_front_get_info(f, &info);
    printf("rtvirt-front: vbd %llu: %llu reads, %llu writes, %llu flushes, %llu discards, "
           "%llu bytes, %llu mismatches, %llu I/O errors, %llu grant shares refused: "
           "%s%s%s\n", devid, res.reads,
           res.writes, res.flushes, res.discards, res.bytes, res.mismatches, res.io_errors,
           info.grants_refused,
           rc == 0 ? "PASS" : "FAIL", rc == 0 ? "" : ": ", rc == 0 ? "" : res.first_error);
    rtv_front_close(f);
    rtv_xen_close(&x);
    return rc == 0 ? 0 : 1;
}
