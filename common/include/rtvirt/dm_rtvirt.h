/*
 * The guest's dm device as text: the table line of the device-mapper target
 * "rtvirt" (shunt/kmod/dm-rtvirt.c) built from (mode, legs, size), and its
 * table and status lines parsed back.  Pure: rtvirt-shunt's libdevmapper
 * seam (shunt/dm_libdm.c) hands these strings to and from the kernel.
 *
 *   table:  <start> <len> rtvirt <emulated|pv|selective> <emu_dev> <pv_dev|->
 *   status: <start> <len> rtvirt <mode-in-force> <ok|failed-over> <failovers> <pv_errors>
 *           [<flip-state> <held> <flips> <last-flip-stall-us>]
 *   message: prepare | cancel | mode <emulated|pv|selective>   (the flip)
 *            clear-failover (1.2) | pv-disk <disk|-> (1.3)
 *
 * (shunt/README.md, "The kernel data path", is the reference for both.)
 * Only the target's own part, after "rtvirt", is parsed or built here;
 * start and length travel beside it, as in libdevmapper's API.
 */
#ifndef RTVIRT_DM_RTVIRT_H
#define RTVIRT_DM_RTVIRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtvirt/err.h"
#include "rtvirt/mode.h"

#define RTV_DM_TARGET   "rtvirt"
#define RTV_DM_DEV_MAX  64      /* a leg: "major:minor" or a /dev path */
#define RTV_DM_NAME_MAX 128     /* DM_NAME_LEN */

/* One table of the device: a single rtvirt target over the whole disk. */
struct rtv_dm_table {
    enum rtv_mode mode;
    char          emu[RTV_DM_DEV_MAX];   /* the emulated leg; always there */
    char          pv[RTV_DM_DEV_MAX];    /* the PV leg; "" = none ("-") */
    uint64_t      sectors;               /* <len>, 512-byte sectors */
};

/* Where the target's flip is (shunt/README.md, "The flip"). */
enum rtv_dm_flip {
    RTV_DM_FLIP_IDLE,
    RTV_DM_FLIP_PREPARING,      /* `prepare` is flushing the legs in force */
    RTV_DM_FLIP_PREPARED,       /* ready for `mode` */
    RTV_DM_FLIP_DRAINING,       /* flipped; bios that overlap the old legs' last
                                   writes are held until those legs are flushed */
    RTV_DM_FLIP_COUNT
};

struct rtv_dm_status {
    enum rtv_mode in_force;     /* the mode in force, or emulated once failed over */
    bool          failed_over;
    uint64_t      failovers;    /* bios re-issued on the emulated leg */
    uint64_t      pv_errors;    /* PV-leg completions with an error */
    bool          has_flip;     /* the four fields below were there (target >= 1.1) */
    enum rtv_dm_flip flip;
    uint64_t      held;         /* bios held by the flip now */
    uint64_t      flips;        /* mode messages that changed the route (this table) */
    uint64_t      last_stall_us;  /* the longest a bio was held by the last flip */
};

/* "rtvirt-<vdev>" into buf; -EINVAL (named) for a vdev the schema's
 * `name 15` refuses, -ENAMETOOLONG if buf is short. */
int rtv_dm_name(char *buf, size_t len, const char *vdev, struct rtv_err *err);

/* The target's parameters "<mode> <emu> <pv|->" for t, after checking what
 * the kernel would refuse (so the refusal has a name here, not only in the
 * guest's kernel log): no sectors, a leg that is empty, too long or holds
 * white space, pv/selective without a PV leg, the same device twice. */
int rtv_dm_table_params(const struct rtv_dm_table *t, char *buf, size_t len,
                        struct rtv_err *err);

/* Parses one target of a live table: type must be "rtvirt", params as the
 * kernel prints them back.  t->sectors is set to sectors.  -EINVAL, named,
 * for anything else (another target type, a wrong field count, an unknown
 * mode, pv/selective without a PV leg). */
int rtv_dm_table_parse(const char *type, uint64_t sectors, const char *params,
                       struct rtv_dm_table *t, struct rtv_err *err);

/* Parses the target's status "<mode> <ok|failed-over> <n> <n>", and the
 * flip's "<idle|preparing|prepared|draining> <n> <n> <n>" after it when
 * there (has_flip). */
int rtv_dm_status_parse(const char *type, const char *params, struct rtv_dm_status *st,
                        struct rtv_err *err);

/* The message that flips the target to mode: "mode <name>". */
int rtv_dm_mode_message(enum rtv_mode mode, char *buf, size_t len);

const char *rtv_dm_flip_name(enum rtv_dm_flip f);

/* "major:minor" of a block device into buf. */
int rtv_dm_devnum(char *buf, size_t len, unsigned major, unsigned minor);

/*
 * The PV leg device "rtvirt-<vdev>.pv" (shunt/README.md, "The PV leg
 * device"): the rtvirt table's PV leg from its first table on, a dm device
 * of its own whose table is either "error" (no PV disk: nothing may be
 * routed to it) or "linear <disk> 0" (the stock blkfront disk).  Attaching
 * and dropping the PV disk swap this device's table, never the guest's.
 * The '.' keeps it apart from any "rtvirt-<vdev>" (a vdev has no '.').
 */
#define RTV_DM_PV_SUFFIX ".pv"

struct rtv_dm_leg {
    char     disk[RTV_DM_DEV_MAX];   /* the PV disk; "" = none (target "error") */
    uint64_t sectors;
};

/* "rtvirt-<vdev>.pv" into buf (the same checks as rtv_dm_name). */
int rtv_dm_pv_name(char *buf, size_t len, const char *vdev, struct rtv_err *err);

/* The target type ("error" or "linear") and its parameters ("" or
 * "<disk> 0") of leg's table.  -EINVAL (named) for no sectors or a disk
 * name dm would not take. */
int rtv_dm_leg_params(const struct rtv_dm_leg *leg, const char **type, char *buf, size_t len,
                      struct rtv_err *err);

/* Parses the PV leg device's live table back: "error", or "linear" over
 * one disk from offset 0.  Anything else is not ours: -EINVAL, named. */
int rtv_dm_leg_parse(const char *type, uint64_t sectors, const char *params,
                     struct rtv_dm_leg *leg, struct rtv_err *err);

#endif
