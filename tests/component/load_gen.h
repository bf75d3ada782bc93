/*
 * The switch component test's load: a filesystem's I/O on the guest's dm
 * device (fake_dm_kernel.h), on a thread of its own, with a model of every
 * block.  Random 4 KiB writes, reads, discards and flushes at queue depth
 * 16, some writes and reads of 64 KiB and 256 KiB (the PV leg splits
 * them), never two requests on one block at once; every read is checked
 * against the model.  Once told to stop it drains, reads every block back
 * through the device, flushes, and checks every block in the image file
 * itself, whichever leg wrote it.
 */
#ifndef RTV_TEST_LOAD_GEN_H
#define RTV_TEST_LOAD_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "fake_dm_kernel.h"

#define LG_BLK 4096u

/* What the load generator saw. */
struct lg_result {
    uint64_t writes, reads, flushes, trims, verified_blocks;
    uint64_t errors, mismatches, image_mismatches;
    uint64_t max_latency_us, median_latency_us;
    char     first_error[200];
};

struct lg_config {
    struct fake_kernel *k;          /* the device */
    const char         *image;      /* the file behind it, checked at the end */
    uint32_t            nblocks;    /* LG_BLK blocks of the device */
    uint64_t            seed;
    unsigned            stall_ms;   /* a bio held longer is a failure */
};

struct lg;

/* NULL: out of memory.  One per process (the device's callbacks find it). */
struct lg *lg_new(const struct lg_config *cfg);
/* Runs the load on a thread until stop_fd is readable.  0 or -errno. */
int  lg_start(struct lg *g, int stop_fd);
/* True once the thread has checked everything (or given up). */
bool lg_finished(struct lg *g);
/* Waits for the thread; the result. */
void lg_join(struct lg *g, struct lg_result *res);
void lg_free(struct lg *g);

static inline uint64_t lg_xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

#endif
