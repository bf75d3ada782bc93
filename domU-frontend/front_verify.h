/*
 * The verify workload of rtvirt-front (also driven by the component test):
 * random reads, writes (plain, FUA, barrier), flushes and discards over a
 * region of the disk, several in flight at once but never overlapping, with
 * a model of what every sector must hold.  Every read is checked against
 * the model, and the whole region is read back and checked at the end.
 */
#ifndef RTVIRT_FRONT_VERIFY_H
#define RTVIRT_FRONT_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtvirt/front_blk.h"

struct front_verify_opts {
    unsigned long long ops;       /* requests to issue */
    uint64_t seed;
    uint64_t region_sectors;      /* 0: min(disk, 16384) */
    unsigned max_inflight;        /* 0: 16 */
    bool     discard_zeroes;      /* discarded sectors must read back as zero */
    bool     big_requests;        /* favour requests that need indirect */
    int      stall_timeout_ms;    /* fail if nothing completes this long (0: 30 s) */
    /* Called after each submission with the number submitted so far. */
    void   (*on_submit)(void *arg, unsigned long long n);
    void    *hook_arg;
};

struct front_verify_result {
    unsigned long long reads, writes, flushes, discards, bytes;
    unsigned long long mismatches, io_errors;
    char first_error[256];
};

/* 0 when everything verified; -EIO on a mismatch or I/O error, -ETIMEDOUT on
 * a stall, other -errno on setup failure.  res is filled either way. */
int front_verify_run(struct rtv_front *f, const struct front_verify_opts *o,
                     struct front_verify_result *res);

#endif
