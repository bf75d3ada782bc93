/* xl-rtvirt create (xl_create.c). */
#ifndef XL_CREATE_H
#define XL_CREATE_H

#include <stdbool.h>

#include "rtvirt/err.h"
#include "rtvirt/seam.h"
#include "rtvirt/xlcfg.h"

/* One device of the config's `rtvirt` list, with what manage needs. */
struct xl_create_item {
    bool nic;
    char dev[32];        /* hda, vif/0 */
    char image[512];     /* a disk's target */
    char mac[18];        /* a NIC's */
    char bridge[64];
};

struct xl_create_plan {
    char                  name[64];
    unsigned              n;
    struct xl_create_item items[RTV_XLCFG_MAX];
};

/* Checks every device of cfg's `rtvirt` list against its disk and vif lists
 * before anything runs; -EINVAL etc. naming the entry, its value and what is
 * allowed. */
int xl_create_plan(const struct rtv_xlcfg *cfg, struct xl_create_plan *plan,
                   struct rtv_err *err);

/* Runs `<xl> create [-p] <cfg_path>`, then puts each planned device of the new
 * domain under rtvirt; returns the exit status (messages on stderr, one line
 * per device on stdout). */
int xl_create_run(struct rtv_store *xs, const char *xl, const char *cfg_path, bool paused,
                  const struct xl_create_plan *plan);

#endif
