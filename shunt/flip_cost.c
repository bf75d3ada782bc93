/*
 * rtvirt-flip-cost NAME ROUNDS: what the flip's ioctls cost, as rtvirt-shunt
 * makes them (the same dm seam, shunt/dm_libdm.c).  A measurement, not a
 * check: shunt/kmod/qemu-check runs it on a table of both legs under its
 * fio load, once with the module's flush_at_flip on and once off.
 *
 * Each round: a status read (a dm ioctl that changes nothing: the floor),
 * `prepare`, a wait (not timed) until the target is prepared, the `mode`
 * message to the other of emulated and pv (the flip, as the shunt times
 * it: start to return), a wait (not timed) until its hold phase is over.
 * Prints the median, 90th percentile and maximum of each, in us.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dm_seam.h"
#include "rtvirt/clock.h"

#define MAX_ROUNDS 1000

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static void print(const char *what, uint64_t *v, unsigned n)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    printf("flip-cost: %-8s median %llu us, p90 %llu us, max %llu us (%u)\n", what,
           (unsigned long long)v[n / 2], (unsigned long long)v[(n * 9) / 10],
           (unsigned long long)v[n - 1], n);
}

/* Polls the status (1 ms apart, 5 s at most) until the flip state is want. */
static int wait_flip(const char *name, enum rtv_dm_flip want)
{
    const struct shunt_dm_ops *dm = &shunt_dm_libdm_ops;
    struct rtv_dm_status st;
    struct rtv_err err = { 0, "" };

    for (int i = 0; i < 5000; i++) {
        if (dm->status(NULL, name, &st, &err) < 0) {
            fprintf(stderr, "flip-cost: %s\n", err.msg);
            return -1;
        }
        if (st.has_flip && st.flip == want)
            return 0;
        nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
    }
    fprintf(stderr, "flip-cost: %s not %s after 5 s\n", name, rtv_dm_flip_name(want));
    return -1;
}

int main(int argc, char **argv)
{
    const struct shunt_dm_ops *dm = &shunt_dm_libdm_ops;
    static uint64_t t_status[MAX_ROUNDS], t_prepare[MAX_ROUNDS], t_mode[MAX_ROUNDS];
    struct rtv_dm_status st;
    struct rtv_err err = { 0, "" };
    unsigned n;
    bool pv;

    if (argc != 3 || (n = (unsigned)atoi(argv[2])) == 0 || n > MAX_ROUNDS) {
        fprintf(stderr, "usage: rtvirt-flip-cost NAME ROUNDS (1..%d)\n", MAX_ROUNDS);
        return 2;
    }
    if (shunt_dm_libdm_init(&err) < 0 || dm->status(NULL, argv[1], &st, &err) < 0) {
        fprintf(stderr, "flip-cost: %s\n", err.msg);
        return 1;
    }
    pv = st.in_force == RTV_MODE_PV;
    for (unsigned i = 0; i < n; i++) {
        char msg[32];
        uint64_t t0 = rtv_now_us();

        if (dm->status(NULL, argv[1], &st, &err) < 0)
            break;
        t_status[i] = rtv_now_us() - t0;
        t0 = rtv_now_us();
        if (dm->message(NULL, argv[1], "prepare", &err) < 0)
            break;
        t_prepare[i] = rtv_now_us() - t0;
        if (wait_flip(argv[1], RTV_DM_FLIP_PREPARED) < 0)
            return 1;
        pv = !pv;
        rtv_dm_mode_message(pv ? RTV_MODE_PV : RTV_MODE_EMULATED, msg, sizeof(msg));
        t0 = rtv_now_us();
        if (dm->message(NULL, argv[1], msg, &err) < 0)
            break;
        t_mode[i] = rtv_now_us() - t0;
        if (wait_flip(argv[1], RTV_DM_FLIP_IDLE) < 0)
            return 1;
    }
    if (err.msg[0]) {
        fprintf(stderr, "flip-cost: %s\n", err.msg);
        return 1;
    }
    print("status", t_status, n);
    print("prepare", t_prepare, n);
    print("mode", t_mode, n);
    return 0;
}
