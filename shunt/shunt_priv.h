/*
 * rtvirt-shunt internals shared by shunt.c, shunt_emu.c, shunt_pv.c and
 * shunt_xs.c.  See shunt.h for who does what.
 */
#ifndef RTVIRT_SHUNT_PRIV_H
#define RTVIRT_SHUNT_PRIV_H

#include <liburing.h>
#include <pthread.h>
#include <stdio.h>

#include "shunt.h"
#include "shunt_nodes.h"

/* One unit of work on one path: a guest request (io != NULL) or a switch
 * flush (io == NULL, gen = the engine's flush generation). */
struct path_op {
    struct shunt   *sh;
    enum rtv_path   path;
    struct rtv_io  *io;
    unsigned        gen;
    enum rtv_io_op  op;
    uint64_t        offset;
    uint32_t        len;
    uint8_t        *buf;
    uint32_t        done_bytes;    /* emulated: progress of a short read/write */
    uint32_t        next_off;      /* pv: next chunk to submit */
    unsigned        chunks_out;    /* pv: chunks in flight */
    int             status;
    uint64_t        due_us;        /* test flush delay */
    struct path_op *next;
};

/* ---- emulated path (shunt_emu.c) ------------------------------------------ */

struct shunt_emu {
    int             fd;
    bool            direct;        /* opened O_DIRECT */
    bool            exclusive;     /* O_EXCL on a block device */
    bool            can_discard;   /* see shunt_can_discard() */
    uint64_t        size;
    struct io_uring ring;
    bool            ring_ok;
    int             efd;           /* io_uring completions */
    unsigned        inflight;
    struct path_op *wait_head, *wait_tail;   /* no SQE free: retried */
};

int  shunt_emu_open(struct shunt_emu *e, const char *path, bool allow_buffered,
                    struct rtv_err *err);
void shunt_emu_close(struct shunt_emu *e);
void shunt_emu_submit(struct shunt_emu *e, struct path_op *op);
/* Reaps completions; each finished op goes to shunt_path_done(). */
void shunt_emu_reap(struct shunt_emu *e);

/* ---- PV path (shunt_pv.c) ------------------------------------------------- */

enum pv_helper_job { PV_JOB_NONE, PV_JOB_CONNECT, PV_JOB_CLOSE };

struct shunt_pv {
    struct shunt     *sh;
    /* owned by the loop thread while connected */
    struct rtv_xen    x;
    struct rtv_front *f;
    unsigned          devid;
    unsigned          max_bytes;   /* largest chunk one front request carries */
    struct path_op   *wait_head, *wait_tail;   /* ring full: retried */
    unsigned          inflight;    /* ops (not chunks) */
    uint64_t          reconnects;  /* sessions beyond the first, closed fronts */
    uint64_t          requeued;    /* requests the front requeued on reconnects */
    /* helper thread */
    enum pv_helper_job job;        /* running, or NONE */
    pthread_t         thread;
    int               pipe[2];     /* helper -> loop: "done" */
    int               job_rc;
    char              job_msg[256];
    struct rtv_xen    job_x;
    struct rtv_front *job_f;
    unsigned          job_devid;
    struct rtv_front_config job_cfg;
};

int  shunt_pv_init(struct shunt_pv *p, struct shunt *sh);
void shunt_pv_fini(struct shunt_pv *p);
bool shunt_pv_connected(const struct shunt_pv *p);
bool shunt_pv_busy(const struct shunt_pv *p);   /* a helper is running */
/* Starts connecting to device/vbd/devid on a helper; -EBUSY if one runs. */
int  shunt_pv_start_connect(struct shunt_pv *p, unsigned devid, int timeout_ms);
/* Hands the connected frontend to a helper that closes it (both ends reach
 * Closed before the rings go).  No-op if not connected. */
int  shunt_pv_start_close(struct shunt_pv *p);
/* Call when p->pipe[0] is readable: joins the helper.  Returns the finished
 * job (PV_JOB_NONE if none) and its result in *rc / p->job_msg. */
enum pv_helper_job shunt_pv_helper_done(struct shunt_pv *p, int *rc);
void shunt_pv_submit(struct shunt_pv *p, struct path_op *op);
/* Handles the frontend's events (completions, backend changes). */
void shunt_pv_poll(struct shunt_pv *p);
/* Adds the frontend's descriptors; returns how many. */
unsigned shunt_pv_pollfds(struct shunt_pv *p, struct pollfd *pfd);

/* ---- xenstore glue (shunt_xs.c) ------------------------------------------- */

enum ctl_phase {
    CTL_IDLE,
    CTL_CONNECTING,   /* PV frontend being connected; emulated I/O goes on */
    CTL_QUIESCING,    /* engine holding/draining/flushing */
};

struct shunt_ctl {
    struct shunt   *sh;
    struct rtv_xen  x;             /* store only; its own connection */
    struct shunt_nodes nodes;      /* the protocol's nodes over x */
    rtv_domid_t     dom;
    char            token[48];
    char            ctl_dir[256];
    enum ctl_phase  phase;
    uint32_t        sw_id;         /* switch being carried out */
    enum rtv_mode   sw_target;
    uint64_t        sw_deadline_us;
    uint32_t        sw_timeout_ms;
    uint32_t        sw_devid;
    bool            connect_pending;    /* waiting for a close helper to end */
    bool            sw_aborted;    /* our bound passed, or dom0 rolled back */
    char            sw_error[512];
    uint32_t        acked;         /* last shunt-ack-id we wrote */
    bool            have_acked;
    enum rtv_mode   acked_mode;    /* the shunt-state written with it */
    bool            failed_adopt;  /* following a stable state failed once */
    bool            dirty;         /* re-read the control nodes */
    bool            switched_pending;   /* engine said switched: report */
    bool            switched_ok;
    bool            flushed_pending;    /* engine gated: report flushed */
    uint64_t        last_resync_us;
    /* from the last snapshot of the control nodes */
    uint32_t        snap_devid, snap_timeout_ms, snap_dm_synced;
    bool            snap_devid_ok;
};

int  shunt_ctl_init(struct shunt_ctl *c, struct shunt *sh, struct rtv_err *err);
void shunt_ctl_fini(struct shunt_ctl *c);
int  shunt_ctl_watch_fd(const struct shunt_ctl *c);
void shunt_ctl_on_watch(struct shunt_ctl *c);
/* After every loop turn: act on what changed, enforce bounds. */
void shunt_ctl_tick(struct shunt_ctl *c);
/* The engine's flushed() callback: waiting for dm-synced-id (may run
 * inside a completion). */
void shunt_ctl_flushed(struct shunt_ctl *c);
/* The engine's switched() callback (may run inside a completion). */
void shunt_ctl_switched(struct shunt_ctl *c, enum rtv_mode mode, bool ok);
/* A helper job finished. */
void shunt_ctl_pv_job_done(struct shunt_ctl *c, enum pv_helper_job job, int rc,
                           const char *msg);
/* Next time the ctl wants a tick (us), 0 = none. */
uint64_t shunt_ctl_next_due(const struct shunt_ctl *c);

/* ---- the shunt ------------------------------------------------------------ */

struct shunt {
    struct shunt_config cfg;
    struct rtv_shunt    eng;
    struct shunt_emu    emu;
    struct shunt_pv     pv;
    struct shunt_ctl    ctl;
    struct path_op     *delayed;   /* test flush delay */
    uint64_t            requests, errors, switches, aborts;
    uint64_t            blackout_max_us;
};

void shunt_log(struct shunt *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void shunt_warn(struct shunt *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A path finished op with status (0 or -errno); frees op. */
void shunt_path_done(struct shunt *sh, struct path_op *op, int status);

#endif
