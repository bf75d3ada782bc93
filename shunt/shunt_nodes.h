/*
 * The shunt's side of xenstore-schema/rtvirt-paths.md as data: dom0's
 * control nodes (section 1) read in one transaction and validated, and the
 * guest's report (section 2) written in one transaction, ack last, for the
 * dm control plane (dmctl.c): the protocol's reads and writes in one place,
 * apart from the switch machine.
 */
#ifndef RTVIRT_SHUNT_NODES_H
#define RTVIRT_SHUNT_NODES_H

#include <stdbool.h>
#include <stdint.h>

#include "rtvirt/seam.h"
#include "rtvirt/mode.h"

#define SHUNT_NODES_COUNT 6        /* control nodes in a snapshot */
#define SHUNT_DEFAULT_TIMEOUT_MS 10000u

struct shunt_nodes {
    struct rtv_store *xs;
    rtv_domid_t       dom;
    const char       *vdev;
    /* Bad dom0 values are logged once each (not on every resync). */
    void            (*warn)(void *arg, const char *msg);
    void             *warn_arg;
    char              warned[SHUNT_NODES_COUNT][64];
};

/* One consistent view of dom0's control nodes; a bad value reads as absent. */
struct shunt_ctl_snap {
    bool          managed;     /* state is there and valid */
    bool          switching;   /* state = switching-to-<mode> */
    bool          rollback;    /* state = rolling-back */
    enum rtv_mode mode;        /* the stable mode, or the switch's target */
    uint32_t      id;          /* switch-id (0 if absent) */
    enum rtv_mode previous;    /* emulated if absent: the path that always exists */
    bool          devid_ok;
    uint32_t      devid;
    uint32_t      timeout_ms;  /* SHUNT_DEFAULT_TIMEOUT_MS if absent */
    uint32_t      dm_synced;   /* 0 if absent */
};

/* Reads state, switch-id, previous, devid, timeout-ms and dm-synced-id in
 * one transaction (dom0 writes state, switch-id and previous together: an
 * old state must never pair with a new switch-id).  0 or -errno. */
int shunt_nodes_read(struct shunt_nodes *n, struct shunt_ctl_snap *out);

/* dm-synced-id alone, outside a transaction: at the gate every round trip
 * is blackout.  0 with *out set, or -errno (absent or bad: -ENOENT/-EINVAL). */
int shunt_nodes_read_dm_synced(struct shunt_nodes *n, uint32_t *out);

struct shunt_report {
    const char *state;         /* shunt-state */
    const char *error;         /* shunt-error; NULL: leave as is */
    bool        numbers;       /* write blackout (and held, if held_known) */
    uint64_t    blackout_us;
    bool        held_known;
    uint64_t    held;
    bool        ack;           /* write shunt-ack-id = ack_id, last */
    uint32_t    ack_id;
    const char *emulated_dev;  /* NULL: leave as is */
};

/* Writes r in one transaction (retried on EAGAIN); 0 or -errno. */
int shunt_nodes_report(struct shunt_nodes *n, const struct shunt_report *r);

/* The control directory to watch. */
int shunt_nodes_ctl_dir(const struct shunt_nodes *n, char *buf, size_t len);

#endif
