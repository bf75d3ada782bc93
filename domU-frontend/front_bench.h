/*
 * A fixed-pattern load generator over librtvirt-front, for the benchmark
 * table of issue 4 (rtvirt-front -> backend has no block device fio could
 * drive, so rtvirt-front measures itself).  Not a test: it checks nothing
 * but I/O status.
 */
#ifndef RTVIRT_FRONT_BENCH_H
#define RTVIRT_FRONT_BENCH_H

#include <stdint.h>

#include "rtvirt/front_blk.h"

enum front_bench_pattern {
    FRONT_BENCH_SEQ_READ,     /* sequential reads, wrapping over the region */
    FRONT_BENCH_RAND_RW,      /* random reads and writes, half each */
};

struct front_bench_opts {
    enum front_bench_pattern pattern;
    unsigned block_bytes;     /* multiple of 512, <= max_request_bytes */
    unsigned depth;           /* requests kept in flight */
    unsigned seconds;
    uint64_t region_sectors;  /* 0: the whole disk */
    uint64_t seed;
};

struct front_bench_result {
    double seconds;
    unsigned long long ios, bytes, errors;
};

int front_bench_run(struct rtv_front *f, const struct front_bench_opts *o,
                    struct front_bench_result *r);

#endif
