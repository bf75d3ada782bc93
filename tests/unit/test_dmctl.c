/*
 * rtvirt-shunt's dm control plane (shunt/dmctl.c) against a fake
 * device-mapper (the dm seam, shunt/dm_seam.h) and a scripted dom0 on the
 * local store, with a sysfs tree of the test's own for the PV disk.
 *
 * The fake keeps what the kernel would: the live and inactive tables,
 * suspended or not, the status line's fields and an event counter; its
 * suspend can be held (a drain that does not end) and is interrupted as the
 * real one is; its target takes the flip's messages (prepare, cancel, mode)
 * and reports the flip state, held bios and stall as dm-rtvirt does.
 * It keeps the PV leg device "rtvirt-hda.pv" too (error or linear; its ops
 * are noted "pv:load" and so on), and fails the test if that device is
 * suspended while the guest's table could route a bio to it.
 * Checked: the switch in the protocol's order (connecting -> the PV disk
 * attached by a table swap of the PV leg device -> quiescing -> prepare ->
 * flushed -> dm-synced-id -> the flip by message -> its hold phase -> ack;
 * the PV disk dropped by a swap of the PV leg device after a flip to
 * emulated; the guest's own device never suspended in a switch, except to
 * renew its table after a failover), no suspend in the flip,
 * each bound rolls back to the old route with the reason, dom0's rollback,
 * failover reported and not undone on the shunt's own, a device picked up
 * where a killed shunt left it, and one an initramfs made (root on the
 * shunt).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../shunt/dmctl.h"
#include "rtvirt/clock.h"
#include "rtvirt/ctl.h"
#include "rtvirt/local.h"
#include "rtvirt/xs_schema.h"
#include "hub_fixture.h"
#include "unit.h"
#include "file_fixture.h"
#include "xs_fixture.h"

#define GUEST   5
#define SECTORS 2048u
#define DEVID   "51728"

/* ---- the fake device-mapper ------------------------------------------------- */

/* The PV leg device (error or linear). */
struct fake_leg {
    bool                exists, suspended, has_inactive;
    struct rtv_dm_leg   live, inactive;
};

struct fake_dm {
    pthread_mutex_t     mu;
    struct fake_leg     pv;
    pthread_cond_t      cv;
    bool                exists, suspended, has_inactive;
    struct rtv_dm_table live, inactive;
    struct rtv_dm_status st;
    uint32_t            event_nr;
    bool                hold_suspend;      /* suspend blocks until released */
    bool                deaf_suspend;      /* ... and an interrupt does not end it */
    bool                release_suspend;
    int                 fail_load;         /* -errno for the next load */
    unsigned            fail_loads;        /* ... and as many after it as this says */
    int                 fail_mode;         /* -errno for the next mode message */
    bool                no_clear;          /* a module without clear-failover (1.1) */
    bool                no_direct;         /* a module without pv-disk (before 1.3) */
    char                direct[RTV_DM_DEV_MAX];   /* the PV disk the target sends to direct */
    unsigned            directs, direct_stops;     /* pv-disk <disk> / pv-disk - taken */
    unsigned            flushes;           /* of the guest's device, by the shunt */
    char                dead_disk[RTV_DM_DEV_MAX];  /* under the PV leg when it failed */
    bool                hold_prepare;      /* prepare never gets to prepared */
    uint64_t            drain_ms;          /* a flip's hold phase lasts this long */
    uint64_t            stall_us;          /* ... and reports this stall */
    uint64_t            drain_until_ms;
    unsigned            messages;
    char                state_at_flip[32];    /* shunt-state in the store then */
    pthread_t           in_suspend;
    pthread_t           intr_wait_th;      /* the waiter an interrupt is for */
    bool                suspend_waiting;
    bool                intr_suspend, intr_wait;
    unsigned            creates, loads, clears, suspends, resumes, interrupts;
    char                ops[2048];         /* "create load suspend resume ..." */
    char                state_at_resume[32];  /* shunt-state in the store then */
};

static struct fake_dm fk;

static void note(const char *op)
{
    size_t n = strlen(fk.ops);

    snprintf(fk.ops + n, sizeof(fk.ops) - n, "%s%s", n ? " " : "", op);
}

#define PV_NAME "rtvirt-hda.pv"
#define PV_DEV  "253:1"

static bool is_pv(const char *name)
{
    if (strcmp(name, PV_NAME) == 0)
        return true;
    ck_assert_str_eq(name, "rtvirt-hda");
    return false;
}

static int f_info(void *ctx, const char *name, struct shunt_dm_info *o, struct rtv_err *err)
{
    (void)ctx; (void)err;
    pthread_mutex_lock(&fk.mu);
    if (is_pv(name))
        *o = (struct shunt_dm_info){ .exists = fk.pv.exists, .suspended = fk.pv.suspended,
                                     .live_table = fk.pv.exists,
                                     .inactive_table = fk.pv.has_inactive,
                                     .major = 253, .minor = 1 };
    else
        *o = (struct shunt_dm_info){ .exists = fk.exists, .suspended = fk.suspended,
                                     .live_table = fk.exists, .inactive_table = fk.has_inactive,
                                     .event_nr = fk.event_nr, .major = 253, .minor = 0 };
    pthread_mutex_unlock(&fk.mu);
    return 0;
}

static int f_leg_create(void *ctx, const char *name, const struct rtv_dm_leg *leg,
                        struct rtv_err *err)
{
    (void)ctx;
    ck_assert_str_eq(name, PV_NAME);
    pthread_mutex_lock(&fk.mu);
    ck_assert(!fk.pv.exists);
    fk.pv.exists = true;
    fk.pv.live = *leg;
    note("pv:create");
    pthread_mutex_unlock(&fk.mu);
    (void)err;
    return 0;
}

static int f_leg_load(void *ctx, const char *name, const struct rtv_dm_leg *leg,
                      struct rtv_err *err)
{
    const char *type;
    char params[100];
    int rc;

    (void)ctx;
    ck_assert_str_eq(name, PV_NAME);
    if ((rc = rtv_dm_leg_params(leg, &type, params, sizeof(params), err)) < 0)
        return rc;
    pthread_mutex_lock(&fk.mu);
    fk.loads++;
    note(leg->disk[0] ? "pv:load" : "pv:load-error");
    /* The target must have stopped sending to the disk the PV leg device
     * is about to stop mapping (pv-disk - before the drop). */
    ck_assert_msg(fk.direct[0] == '\0' || strcmp(fk.direct, leg->disk) == 0,
                  "PV leg device loads \"%s\" while the target sends to %s direct",
                  leg->disk, fk.direct);
    if (fk.fail_load) {
        rc = fk.fail_load;
        if (fk.fail_loads > 0)
            fk.fail_loads--;
        else
            fk.fail_load = 0;
        pthread_mutex_unlock(&fk.mu);
        return rtv_err_set(err, -rc, "dm load of " PV_NAME " failed: %s", strerror(-rc));
    }
    fk.pv.inactive = *leg;
    fk.pv.has_inactive = true;
    pthread_mutex_unlock(&fk.mu);
    return 0;
}

static int f_leg_table(void *ctx, const char *name, struct rtv_dm_leg *leg, struct rtv_err *err)
{
    (void)ctx;
    ck_assert_str_eq(name, PV_NAME);
    pthread_mutex_lock(&fk.mu);
    *leg = fk.pv.live;
    pthread_mutex_unlock(&fk.mu);
    return fk.pv.exists ? 0 : rtv_err_set(err, ENXIO, "no device");
}

/* Could the guest's table send a bio to the PV leg device now?  A table
 * over it whose route is pv or selective (in force, or a flip's old route
 * still draining).  Called locked. */
static bool pv_leg_in_use(void)
{
    if (!fk.exists || strcmp(fk.live.pv, PV_DEV) != 0)
        return false;
    return fk.st.in_force != RTV_MODE_EMULATED || fk.st.flip == RTV_DM_FLIP_DRAINING;
}

static int f_create(void *ctx, const char *name, const struct rtv_dm_table *t,
                    struct rtv_err *err)
{
    (void)ctx;
    ck_assert_str_eq(name, "rtvirt-hda");
    pthread_mutex_lock(&fk.mu);
    if (fk.exists) {
        pthread_mutex_unlock(&fk.mu);
        return rtv_err_set(err, EEXIST, "exists");
    }
    fk.exists = true;
    fk.live = *t;
    fk.st = (struct rtv_dm_status){ .in_force = t->mode, .has_flip = true };
    fk.creates++;
    note("create");
    pthread_mutex_unlock(&fk.mu);
    return 0;
}

static int f_load(void *ctx, const char *name, const struct rtv_dm_table *t,
                  struct rtv_err *err)
{
    char params[200];
    int rc;

    (void)ctx; (void)name;
    /* As the kernel would: what the table builder refuses never loads. */
    if ((rc = rtv_dm_table_params(t, params, sizeof(params), err)) < 0)
        return rc;
    pthread_mutex_lock(&fk.mu);
    fk.loads++;
    note("load");
    if (fk.fail_load) {
        rc = fk.fail_load;
        fk.fail_load = 0;
        pthread_mutex_unlock(&fk.mu);
        return rtv_err_set(err, -rc, "dm load of rtvirt-hda failed: device busy");
    }
    fk.inactive = *t;
    fk.has_inactive = true;
    pthread_mutex_unlock(&fk.mu);
    return 0;
}

static int f_clear(void *ctx, const char *name, struct rtv_err *err)
{
    (void)ctx; (void)err;
    pthread_mutex_lock(&fk.mu);
    if (is_pv(name)) {
        fk.pv.has_inactive = false;
        note("pv:clear");
        pthread_mutex_unlock(&fk.mu);
        return 0;
    }
    fk.has_inactive = false;
    fk.clears++;
    note("clear");
    pthread_mutex_unlock(&fk.mu);
    return 0;
}

static int f_suspend(void *ctx, const char *name, struct rtv_err *err)
{
    bool pv = is_pv(name);
    int rc = 0;

    (void)ctx;
    pthread_mutex_lock(&fk.mu);
    if (pv) {
        /* The guest's I/O must never wait here: nothing routed to it. */
        ck_assert_msg(!pv_leg_in_use(), "the PV leg device suspended while the table "
                      "routes to it (%s, flip state %d)", rtv_mode_name(fk.st.in_force),
                      (int)fk.st.flip);
    } else {
        fk.suspends++;
    }
    note(pv ? "pv:suspend" : "suspend");
    fk.in_suspend = pthread_self();
    fk.suspend_waiting = true;
    fk.intr_suspend = false;
    pthread_cond_broadcast(&fk.cv);
    while (fk.hold_suspend && !fk.release_suspend && (fk.deaf_suspend || !fk.intr_suspend))
        pthread_cond_wait(&fk.cv, &fk.mu);
    fk.suspend_waiting = false;
    if (fk.hold_suspend && !fk.release_suspend) {
        rc = rtv_err_set(err, EINTR, "dm suspend of %s failed: interrupted", name);
        note(pv ? "pv:suspend-interrupted" : "suspend-interrupted");
    } else if (pv) {
        fk.pv.suspended = true;
    } else {
        fk.suspended = true;
    }
    pthread_mutex_unlock(&fk.mu);
    return rc;
}

static const char *shunt_state_now(void);

static int f_resume(void *ctx, const char *name, struct rtv_err *err)
{
    (void)ctx; (void)err;
    if (strcmp(name, PV_NAME) == 0) {
        pthread_mutex_lock(&fk.mu);
        if (fk.pv.has_inactive) {
            fk.pv.live = fk.pv.inactive;
            fk.pv.has_inactive = false;
        }
        fk.pv.suspended = false;
        note("pv:resume");
        pthread_mutex_unlock(&fk.mu);
        return 0;
    }
    /* What the shunt reported last before the flip (the control plane's
     * thread: the store is read as dom0 would). */
    snprintf(fk.state_at_resume, sizeof(fk.state_at_resume), "%s", shunt_state_now());
    pthread_mutex_lock(&fk.mu);
    if (fk.has_inactive) {
        fk.live = fk.inactive;
        fk.has_inactive = false;
        fk.st = (struct rtv_dm_status){ .in_force = fk.live.mode, .has_flip = true };
    }
    fk.suspended = false;
    fk.resumes++;
    fk.event_nr++;
    note("resume");
    pthread_cond_broadcast(&fk.cv);
    pthread_mutex_unlock(&fk.mu);
    return 0;
}

static int f_table(void *ctx, const char *name, struct rtv_dm_table *t, struct rtv_err *err)
{
    (void)ctx;
    ck_assert(!is_pv(name));
    pthread_mutex_lock(&fk.mu);
    *t = fk.live;
    pthread_mutex_unlock(&fk.mu);
    return fk.exists ? 0 : rtv_err_set(err, ENXIO, "no device");
}

static int f_status(void *ctx, const char *name, struct rtv_dm_status *st, struct rtv_err *err)
{
    (void)ctx; (void)name; (void)err;
    pthread_mutex_lock(&fk.mu);
    if (fk.st.flip == RTV_DM_FLIP_DRAINING && rtv_now_ms() >= fk.drain_until_ms) {
        fk.st.flip = RTV_DM_FLIP_IDLE;
        fk.st.held = 0;
        fk.st.last_stall_us = fk.stall_us;
    }
    *st = fk.st;
    pthread_mutex_unlock(&fk.mu);
    return 0;
}

static int f_wait_event(void *ctx, const char *name, uint32_t *nr, struct rtv_err *err)
{
    int rc = 0;

    (void)ctx; (void)name;
    /* Two shunts may wait at once (a killed one's thread beside its
     * successor's): an interrupt is for one thread, and stays pending until
     * that thread sees it, as SIGUSR1 to that thread would. */
    pthread_mutex_lock(&fk.mu);
    while (fk.event_nr == *nr && !(fk.intr_wait && pthread_equal(fk.intr_wait_th, pthread_self())))
        pthread_cond_wait(&fk.cv, &fk.mu);
    if (fk.intr_wait && pthread_equal(fk.intr_wait_th, pthread_self())) {
        fk.intr_wait = false;
        rc = rtv_err_set(err, EINTR, "interrupted");
    } else {
        *nr = fk.event_nr;
    }
    pthread_mutex_unlock(&fk.mu);
    return rc;
}

/* The target's flip (dm-rtvirt.c rtv_message), as far as the control plane
 * sees it. */
static int f_message(void *ctx, const char *name, const char *msg, struct rtv_err *err)
{
    enum rtv_mode m;
    char op[40];
    int rc = 0;

    (void)ctx; (void)name;
    if (strncmp(msg, "mode ", 5) == 0)
        snprintf(op, sizeof(op), "mode-%s", msg + 5);
    else
        snprintf(op, sizeof(op), "%s", msg);
    if (strncmp(msg, "mode ", 5) == 0)
        snprintf(fk.state_at_flip, sizeof(fk.state_at_flip), "%s", shunt_state_now());
    pthread_mutex_lock(&fk.mu);
    if (strncmp(msg, "pv-disk ", 8) != 0) {   /* (below) */
        fk.messages++;
        note(op);
    }
    ck_assert(!fk.suspended);   /* never while suspended: the flip is not a swap */
    ck_assert(!fk.pv.suspended);   /* nor while the PV leg device's table is swapped */
    if (strcmp(msg, "prepare") == 0) {
        if (fk.st.flip == RTV_DM_FLIP_DRAINING)
            rc = rtv_err_set(err, EBUSY, "dm message of rtvirt-hda failed: busy");
        else
            fk.st.flip = fk.hold_prepare ? RTV_DM_FLIP_PREPARING : RTV_DM_FLIP_PREPARED;
    } else if (strcmp(msg, "cancel") == 0) {
        if (fk.st.flip != RTV_DM_FLIP_DRAINING)
            fk.st.flip = RTV_DM_FLIP_IDLE;
    } else if (strcmp(msg, "clear-failover") == 0 && !fk.no_clear) {
        if (fk.st.failed_over && (fk.live.mode != RTV_MODE_EMULATED ||
                                  fk.st.flip != RTV_DM_FLIP_IDLE)) {
            rc = rtv_err_set(err, EBUSY, "dm message of rtvirt-hda failed: busy");
        } else if (fk.st.failed_over) {
            /* never while the disk that failed is still the PV leg's */
            ck_assert_msg(strcmp(fk.pv.live.disk, fk.dead_disk) != 0,
                          "clear-failover with the dead disk %s still under the PV leg",
                          fk.dead_disk);
            fk.st.failed_over = false;
        }
    } else if (strncmp(msg, "pv-disk ", 8) == 0 && !fk.no_direct) {
        /* The PV disk direct: a shorter path for the PV leg's bios, kept
         * out of ops (the switch's steps read the same with it).  Only the
         * disk the PV leg device maps, and only once it maps it. */
        if (strcmp(msg + 8, "-") == 0) {
            fk.direct[0] = '\0';
            fk.direct_stops++;
        } else {
            ck_assert_msg(!fk.pv.suspended && strcmp(msg + 8, fk.pv.live.disk) == 0,
                          "%s while the PV leg device maps \"%s\"", msg, fk.pv.live.disk);
            if (strcmp(fk.direct, msg + 8) != 0)   /* (the same again: a no-op) */
                fk.directs++;
            snprintf(fk.direct, sizeof(fk.direct), "%s", msg + 8);
        }
    } else if (strncmp(msg, "mode ", 5) == 0 && rtv_mode_parse(msg + 5, &m) == 0) {
        if (fk.fail_mode) {
            rc = rtv_err_set(err, -fk.fail_mode, "dm message of rtvirt-hda failed: refused");
            fk.fail_mode = 0;
        } else if (fk.st.flip != RTV_DM_FLIP_PREPARED) {
            rc = rtv_err_set(err, EAGAIN, "dm message of rtvirt-hda failed: not prepared");
        } else if (rtv_mode_needs_pv(m) && (fk.live.pv[0] == '\0' || fk.st.failed_over)) {
            rc = rtv_err_set(err, EINVAL, "dm message of rtvirt-hda failed: no PV leg");
        } else if (m == fk.live.mode && !fk.st.failed_over) {
            fk.st.flip = RTV_DM_FLIP_IDLE;
        } else {
            fk.live.mode = m;
            fk.st.in_force = fk.st.failed_over ? RTV_MODE_EMULATED : m;
            fk.st.flips++;
            fk.st.last_stall_us = 0;
            fk.st.flip = RTV_DM_FLIP_DRAINING;
            fk.st.held = fk.drain_ms ? 2 : 0;
            fk.drain_until_ms = rtv_now_ms() + fk.drain_ms;
        }
    } else {
        rc = rtv_err_set(err, EINVAL, "dm message of rtvirt-hda failed: unknown");
    }
    pthread_mutex_unlock(&fk.mu);
    return rc;
}

/* The shunt's flush of the guest's device (flush_at_flip off, before the
 * drop): the target would send it to the dirty legs.  Never while the PV
 * leg device is suspended: keeping a flush out of that suspend is its job. */
static int f_flush(void *ctx, const char *name, struct rtv_err *err)
{
    (void)ctx; (void)err;
    pthread_mutex_lock(&fk.mu);
    ck_assert_str_eq(name, "rtvirt-hda");
    ck_assert(!fk.pv.suspended);
    fk.flushes++;
    note("flush");
    pthread_mutex_unlock(&fk.mu);
    return 0;
}

static void f_interrupt(void *ctx, pthread_t t)
{
    (void)ctx;
    pthread_mutex_lock(&fk.mu);
    fk.interrupts++;
    if (fk.suspend_waiting && pthread_equal(t, fk.in_suspend))
        fk.intr_suspend = true;
    if (!(fk.suspend_waiting && pthread_equal(t, fk.in_suspend))) {
        fk.intr_wait_th = t;
        fk.intr_wait = true;
    }
    pthread_cond_broadcast(&fk.cv);
    pthread_mutex_unlock(&fk.mu);
}

static const struct shunt_dm_ops fake_ops = {
    .info = f_info, .create = f_create, .load = f_load, .clear = f_clear,
    .suspend = f_suspend, .resume = f_resume, .table = f_table, .status = f_status,
    .message = f_message, .wait_event = f_wait_event, .leg_create = f_leg_create,
    .leg_load = f_leg_load, .leg_table = f_leg_table, .flush = f_flush,
    .interrupt = f_interrupt,
};

/* The kernel target failing over (what dm-rtvirt.c does on a PV error). */
static void fake_failover(uint64_t failovers, uint64_t pv_errors)
{
    pthread_mutex_lock(&fk.mu);
    snprintf(fk.dead_disk, sizeof(fk.dead_disk), "%s", fk.pv.live.disk);
    fk.st = (struct rtv_dm_status){ .in_force = RTV_MODE_EMULATED, .failed_over = true,
                                    .failovers = failovers, .pv_errors = pv_errors,
                                    .has_flip = true, .flips = fk.st.flips };
    fk.event_nr++;
    pthread_cond_broadcast(&fk.cv);
    pthread_mutex_unlock(&fk.mu);
}

/* ---- store, sysfs, the shunt ------------------------------------------------------ */

static struct rtv_local_hub *hub;
static struct rtv_xen dom0;
static char sysfs[64];
static struct dmctl *ctl;
static struct dmctl_config cfg;

static struct rtv_xen *guest_x;   /* the shunt's own connection */

static int open_guest(void *ctx, unsigned parts, struct rtv_xen *out, struct rtv_err *err)
{
    (void)ctx;
    int rc = rtv_local_open(hub, GUEST, parts, out);
    if (rc < 0)
        rtv_err_set(err, -rc, "local open: %s", strerror(-rc));
    else
        guest_x = out;
    return rc;
}

/* Who the connection is now (what the guest's "domid" node says on Xen). */
static int self_guest(void *ctx, struct rtv_store *xs, rtv_domid_t *out)
{
    (void)ctx;
    (void)xs;
    *out = guest_x->self;
    return 0;
}

/* Guest GUEST's hda, written and read by dom0. */
#define path(node)     rtv_test_vbd_path((node), GUEST, "hda")
#define put(node, val) rtv_test_put(dom0.xs, path(node), (val))
#define get(node)      rtv_test_get(dom0.xs, path(node), "(absent)")

static const char *shunt_state_now(void)
{
    return get(RTV_XS_SHUNT_STATE);
}


/* Runs the control plane until node reads want, for at most ms of wall
 * time (a bound, not a timing: under ASan on a loaded machine a pass of
 * dmctl_run_once takes far longer than its 10 ms poll). */
static bool run_until(enum rtv_xs_node node, const char *want, int ms)
{
    const uint64_t deadline = rtv_now_ms() + (uint64_t)ms;

    while (strcmp(get(node), want) != 0) {
        if (rtv_now_ms() >= deadline)
            return false;
        ck_assert_int_eq(dmctl_run_once(ctl, 10), 0);
    }
    return true;
}

/* run_until for any path */
static bool run_until_at(const char *p, const char *want, int ms)
{
    const uint64_t deadline = rtv_now_ms() + (uint64_t)ms;

    while (strcmp(rtv_test_get(dom0.xs, p, "(absent)"), want) != 0) {
        if (rtv_now_ms() >= deadline)
            return false;
        ck_assert_int_eq(dmctl_run_once(ctl, 10), 0);
    }
    return true;
}

/* Runs the control plane for ms of wall time (a product bound must pass). */
static void run_for(int ms)
{
    const uint64_t end = rtv_now_ms() + (uint64_t)ms;

    while (rtv_now_ms() < end)
        ck_assert_int_eq(dmctl_run_once(ctl, 10), 0);
}

/* dom0 orders switch id to state from previous; state last, as the
 * coordinator writes them. */
static void order_switch(const char *previous, const char *id, const char *state)
{
    put(RTV_XS_CTL_PREVIOUS, previous);
    put(RTV_XS_CTL_SWITCH_ID, id);
    put(RTV_XS_CTL_STATE, state);
}

/* xen-blkfront connected vbd devid: its disk appears under the xenbus
 * device, with a logical block size of lbs bytes. */
static void blkfront_disk_lbs(const char *devid, const char *name, const char *dev,
                              unsigned long long sectors, unsigned lbs)
{
    char d[512], v[32];

    snprintf(d, sizeof(d), "%s/bus/xen/devices/vbd-%s/block/%s", sysfs, devid, name);
    rtv_test_attr_put(d, "dev", dev);
    snprintf(v, sizeof(v), "%llu", sectors);
    rtv_test_attr_put(d, "size", v);
    snprintf(v, sizeof(v), "%u", lbs);
    rtv_test_attr_put(d, "queue/logical_block_size", v);
}

/* ... of 512-byte blocks, as the emulated disk's. */
static void blkfront_disk(const char *devid, const char *name, const char *dev,
                          unsigned long long sectors)
{
    blkfront_disk_lbs(devid, name, dev, sectors, 512);
}

/* sysfs: a parameter of the dm-rtvirt module. */
static void module_param(const char *name, const char *val)
{
    char rel[200];

    snprintf(rel, sizeof(rel), "module/dm_rtvirt/parameters/%s", name);
    rtv_test_attr_put(sysfs, rel, val);
}

/* sysfs: reads and writes in flight on the block device dev. */
static void inflight(const char *dev, unsigned reads, unsigned writes)
{
    char rel[200], v[32];

    snprintf(rel, sizeof(rel), "dev/block/%s/inflight", dev);
    snprintf(v, sizeof(v), "%8u %8u", reads, writes);
    rtv_test_attr_put(sysfs, rel, v);
}

/* dom0 brought the PV twin up (ctl-devid names it) and the guest's
 * blkfront shows its disk, xvdb. */
static void twin_attached(void)
{
    put(RTV_XS_CTL_DEVID, DEVID);
    blkfront_disk(DEVID, "xvdb", "202:16", SECTORS);
}

static void start_shunt(void)
{
    struct rtv_err err = { 0, "" };

    ctl = dmctl_new(&cfg, &err);
    ck_assert_msg(ctl != NULL, "%s", err.msg);
}

static void setup_env(void)
{
    struct rtv_err err = { 0, "" };

    memset(&fk, 0, sizeof(fk));
    pthread_mutex_init(&fk.mu, NULL);
    pthread_cond_init(&fk.cv, NULL);
    hub = rtv_test_hub_dom0(&dom0);
    rtv_test_make_domain(dom0.xs, GUEST, NULL);
    ck_assert_int_eq(rtv_ctl_manage(dom0.xs, GUEST, "hda", "/srv/hda.img", &err), 0);
    rtv_test_mkdtemp(sysfs, sizeof(sysfs), "rtv-dmctl");
    cfg = (struct dmctl_config){ .vdev = "hda", .emu_dev = "8:0", .emu_name = "sda",
                                 .sectors = SECTORS, .lbs = 512, .sysfs = sysfs, .dm = &fake_ops,
                                 .open_xen = open_guest, .self_domid = self_guest,
                                 .attach_poll_ms = 10 };
}

static void setup(void)
{
    setup_env();
    start_shunt();
}

static void teardown(void)
{
    dmctl_free(ctl);
    ctl = NULL;
    rtv_xen_close(&dom0);
    rtv_local_hub_free(hub);
    rtv_test_rm_tree(sysfs);
}

/* Runs switch id from `from` to `to` through the gate; the PV disk must be
 * there if `to` needs it. */
static void full_switch(const char *from, const char *id, const char *to, const char *state)
{
    char sw[64];

    snprintf(sw, sizeof(sw), "switching-to-%s", to);
    order_switch(from, id, sw);
    ck_assert_msg(run_until(RTV_XS_SHUNT_STATE, "flushed", 3000), "%s / %s",
                  get(RTV_XS_SHUNT_STATE), get(RTV_XS_SHUNT_ERROR));
    put(RTV_XS_CTL_DM_SYNCED_ID, id);
    ck_assert_msg(run_until(RTV_XS_SHUNT_ACK_ID, id, 3000), "%s", get(RTV_XS_SHUNT_ERROR));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), state);
    ck_assert_str_eq(get(RTV_XS_SHUNT_ERROR), "");
    put(RTV_XS_CTL_STATE, to);
}

/* A full switch to pv and the tables it leaves: the guest's device on pv
 * over the PV leg device, which maps the PV disk; neither suspended; the
 * target sending PV bios to that disk direct (unless the module is older
 * than pv-disk). */
static void switch_to_pv(const char *from, const char *id)
{
    full_switch(from, id, "pv", "enlightened");
    ck_assert_int_eq(fk.live.mode, RTV_MODE_PV);
    ck_assert_str_eq(fk.live.pv, PV_DEV);
    ck_assert_str_eq(fk.pv.live.disk, "202:16");
    ck_assert(!fk.suspended && !fk.pv.suspended);
    ck_assert_str_eq(fk.direct, fk.no_direct ? "" : "202:16");
}

/* The tables a switch to emulated (or a rolled-back switch to pv) leaves:
 * the guest's device emulated, still over the PV leg device, which maps no
 * disk any more; neither suspended; the target told to stop sending to the
 * disk direct before the drop. */
static void on_the_emulated_route(void)
{
    ck_assert_int_eq(fk.live.mode, RTV_MODE_EMULATED);
    ck_assert_str_eq(fk.live.pv, PV_DEV);
    ck_assert_str_eq(fk.pv.live.disk, "");
    ck_assert(!fk.suspended && !fk.pv.suspended);
    ck_assert_str_eq(fk.direct, "");
}

/* A full switch to emulated, and the tables it leaves. */
static void switch_to_emulated(const char *from, const char *id)
{
    full_switch(from, id, "emulated", "emulating");
    on_the_emulated_route();
}

/* ---- tests ----------------------------------------------------------------------- */

START_TEST(created_emulated_over_the_emulated_disk)
{
    struct dmctl_status st;

    ck_assert_str_eq(fk.ops, "pv:create create");
    ck_assert_int_eq(fk.live.mode, RTV_MODE_EMULATED);
    ck_assert_str_eq(fk.live.emu, "8:0");
    ck_assert_str_eq(fk.live.pv, PV_DEV);   /* the PV leg device from the first table on */
    ck_assert(fk.pv.exists);
    ck_assert_str_eq(fk.pv.live.disk, "");  /* error: no PV disk */
    ck_assert_uint_eq(fk.pv.live.sectors, SECTORS);
    ck_assert_uint_eq(fk.live.sectors, SECTORS);
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    ck_assert_str_eq(get(RTV_XS_SHUNT_EMULATED_DEV), "sda");
    dmctl_get_status(ctl, &st);
    ck_assert(!st.picked_up);
    /* stable emulated with a switch-id: acknowledged as is, nothing loaded */
    put(RTV_XS_CTL_SWITCH_ID, "3");
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "3", 2000));
    ck_assert_str_eq(fk.ops, "pv:create create");
}
END_TEST

/* The target's constructor sees only the PV leg device (512 while it maps
 * nothing): the shunt compares the blkfront disk's logical block size with
 * the emulated disk's before it attaches anything, and refuses. */
START_TEST(pv_disk_of_another_block_size_is_refused)
{
    put(RTV_XS_CTL_DEVID, DEVID);
    blkfront_disk_lbs(DEVID, "xvdb", "202:16", SECTORS, 4096);
    order_switch("emulated", "6", "switching-to-pv");
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "6", 2000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    ck_assert_contains(get(RTV_XS_SHUNT_ERROR), "PV disk xvdb (vbd 51728) has a logical block "
                       "size of 4096 bytes, the emulated disk 512: not attached");
    ck_assert_str_eq(fk.ops, "pv:create create");
    ck_assert_str_eq(fk.pv.live.disk, "");
    /* the same size: the next switch attaches it */
    blkfront_disk(DEVID, "xvdb", "202:16", SECTORS);
    switch_to_pv("emulated", "7");
}
END_TEST

START_TEST(switch_to_pv_and_back_in_the_protocol_order)
{
    struct dmctl_status st;

    put(RTV_XS_CTL_DEVID, DEVID);
    order_switch("emulated", "1", "switching-to-pv");
    /* the twin's disk is not there yet: the shunt waits, emulated I/O goes on */
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "connecting", 2000));
    run_for(100);
    ck_assert_str_eq(fk.ops, "pv:create create");
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "connecting");
    blkfront_disk(DEVID, "xvdb", "202:16", SECTORS);
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "flushed", 2000));
    /* the PV disk found by devid swapped into the PV leg device (the
     * guest's device never suspended: no bio goes to that leg in emulated
     * mode), still emulated; prepared; running */
    ck_assert_str_eq(fk.ops, "pv:create create pv:load pv:suspend pv:resume prepare");
    ck_assert(!fk.suspended && !fk.has_inactive && !fk.pv.suspended && !fk.pv.has_inactive);
    ck_assert_uint_eq(fk.suspends, 0);
    ck_assert_int_eq(fk.live.mode, RTV_MODE_EMULATED);
    ck_assert_str_eq(fk.live.pv, PV_DEV);
    ck_assert_str_eq(fk.pv.live.disk, "202:16");
    /* the gate: only dm-synced-id = switch-id flips */
    put(RTV_XS_CTL_DM_SYNCED_ID, "7");
    run_for(100);
    ck_assert_int_eq(fk.live.mode, RTV_MODE_EMULATED);
    put(RTV_XS_CTL_DM_SYNCED_ID, "1");
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "1", 2000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "enlightened");
    ck_assert_str_eq(get(RTV_XS_SHUNT_ERROR), "");
    ck_assert_str_ne(get(RTV_XS_SHUNT_BLACKOUT_US), "(absent)");
    ck_assert_str_eq(fk.ops, "pv:create create pv:load pv:suspend pv:resume prepare mode-pv");
    ck_assert_str_eq(fk.state_at_flip, "flushed");   /* it waited at the gate */
    ck_assert(!fk.suspended);
    ck_assert_int_eq(fk.live.mode, RTV_MODE_PV);
    put(RTV_XS_CTL_STATE, "pv");

    /* pv -> selective keeps the PV leg: a flip alone */
    full_switch("pv", "2", "selective", "selective");
    ck_assert_int_eq(fk.live.mode, RTV_MODE_SELECTIVE);
    ck_assert_str_eq(fk.pv.live.disk, "202:16");
    ck_assert_uint_eq(fk.suspends, 0);

    /* back to emulated: no PV disk needed; the flip, then the disk dropped
     * from the PV leg device (its route already emulated, drained) */
    switch_to_emulated("selective", "3");
    ck_assert_str_eq(fk.ops, "pv:create create pv:load pv:suspend pv:resume prepare mode-pv prepare "
                     "mode-selective prepare mode-emulated pv:load-error pv:suspend pv:resume");
    dmctl_get_status(ctl, &st);
    ck_assert_uint_eq(st.switches, 3);
    ck_assert_uint_eq(st.aborts, 0);
    ck_assert_uint_eq(fk.loads, 2);      /* the PV leg device's two */
    ck_assert_uint_eq(fk.suspends + fk.resumes, 0);   /* the guest's device: never */
    ck_assert_uint_eq(fk.st.flips, 3);   /* one table all along */
}
END_TEST

/* dom0 opened the gate before the shunt prepared (rtvirt-backd checks
 * qemu's drive with the request): the flip follows the prepare with nothing
 * reported in between (no `flushed`), both ways. */
START_TEST(gate_open_before_the_suspend_flips_at_once)
{
    twin_attached();
    put(RTV_XS_CTL_DM_SYNCED_ID, "1");
    order_switch("emulated", "1", "switching-to-pv");
    ck_assert_msg(run_until(RTV_XS_SHUNT_ACK_ID, "1", 3000), "%s", get(RTV_XS_SHUNT_ERROR));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "enlightened");
    ck_assert_str_eq(get(RTV_XS_SHUNT_ERROR), "");
    ck_assert_str_eq(fk.ops, "pv:create create pv:load pv:suspend pv:resume prepare mode-pv");
    ck_assert_str_eq(fk.state_at_flip, "quiescing");
    ck_assert_int_eq(fk.live.mode, RTV_MODE_PV);
    put(RTV_XS_CTL_STATE, "pv");

    put(RTV_XS_CTL_DM_SYNCED_ID, "2");
    order_switch("pv", "2", "switching-to-emulated");
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "2", 3000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    ck_assert_str_eq(fk.ops, "pv:create create pv:load pv:suspend pv:resume prepare mode-pv prepare "
                     "mode-emulated pv:load-error pv:suspend pv:resume");
    ck_assert_str_eq(fk.state_at_flip, "quiescing");
    on_the_emulated_route();
}
END_TEST

/* A gate opened for another switch is not open: the shunt waits at it. */
START_TEST(gate_open_for_another_switch_is_waited_at)
{
    twin_attached();
    put(RTV_XS_CTL_DM_SYNCED_ID, "3");
    order_switch("emulated", "4", "switching-to-selective");
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "flushed", 3000));
    run_for(100);
    ck_assert_str_eq(fk.ops, "pv:create create pv:load pv:suspend pv:resume prepare");
    put(RTV_XS_CTL_DM_SYNCED_ID, "4");
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "4", 3000));
    ck_assert_str_eq(fk.state_at_flip, "flushed");
    ck_assert_int_eq(fk.live.mode, RTV_MODE_SELECTIVE);
    ck_assert(!fk.suspended);
}
END_TEST

/* The blackout is the flip's: the mode message, or the longest a bio was
 * held after it, whichever is longer; the ack waits for the hold phase to
 * end (so the figure is known), the I/O never waits for the ack. */
START_TEST(blackout_is_the_flip_and_its_longest_stall)
{
    twin_attached();
    put(RTV_XS_CTL_DM_SYNCED_ID, "1");
    fk.drain_ms = 200;
    fk.stall_us = 4321;
    order_switch("emulated", "1", "switching-to-pv");
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "quiescing", 3000));
    /* flipped, but the target still holds bios: no ack yet */
    const uint64_t end = rtv_now_ms() + 3000;
    while (strstr(fk.ops, "mode-pv") == NULL && rtv_now_ms() < end)
        ck_assert_int_eq(dmctl_run_once(ctl, 10), 0);
    ck_assert_ptr_nonnull(strstr(fk.ops, "mode-pv"));
    ck_assert_int_eq(fk.live.mode, RTV_MODE_PV);
    run_for(50);
    ck_assert_str_ne(get(RTV_XS_SHUNT_ACK_ID), "1");
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "1", 3000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "enlightened");
    ck_assert_str_eq(get(RTV_XS_SHUNT_BLACKOUT_US), "4321");
    ck_assert_uint_eq(fk.suspends, 0);   /* none of the guest's device at all */
}
END_TEST

/* prepare never finishes (a leg that does not answer its flush): bounded;
 * the prepare cancelled, the PV leg this switch attached dropped again. */
START_TEST(prepare_past_its_bound_is_given_up)
{
    put(RTV_XS_CTL_DEVID, DEVID);
    put(RTV_XS_CTL_TIMEOUT_MS, "300");
    blkfront_disk(DEVID, "xvdb", "202:16", SECTORS);
    fk.hold_prepare = true;
    order_switch("emulated", "5", "switching-to-pv");
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "5", 3000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    ck_assert_contains(get(RTV_XS_SHUNT_ERROR), "preparing the flip (the target's flush of "
                       "the legs in force) took longer than 300 ms");
    ck_assert_str_eq(fk.ops, "pv:create create pv:load pv:suspend pv:resume prepare cancel pv:load-error pv:suspend pv:resume");
    on_the_emulated_route();
}
END_TEST

/* The target refuses the flip: nothing moved; rolled back as before it. */
START_TEST(refused_flip_leaves_the_old_route)
{
    twin_attached();
    switch_to_pv("emulated", "1");
    fk.fail_mode = -EIO;
    put(RTV_XS_CTL_DM_SYNCED_ID, "2");
    order_switch("pv", "2", "switching-to-selective");
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "2", 3000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "enlightened");
    ck_assert_contains(get(RTV_XS_SHUNT_ERROR), "the flip to selective failed: dm message");
    ck_assert_int_eq(fk.live.mode, RTV_MODE_PV);
    ck_assert_str_eq(fk.pv.live.disk, "202:16");   /* not attached by this switch: kept */
    ck_assert_int_eq(fk.st.flip, RTV_DM_FLIP_IDLE);
}
END_TEST

/* A shunt killed between the flip to emulated and the drop of the PV leg:
 * the new one finds an emulated table that still holds the leg and drops
 * it (blkfront could not close under it), with no flip. */
START_TEST(leg_left_in_an_emulated_table_is_dropped)
{
    fk.exists = true;
    fk.live = (struct rtv_dm_table){ .mode = RTV_MODE_EMULATED, .emu = "8:0", .pv = "202:16",
                                     .sectors = SECTORS };
    fk.st = (struct rtv_dm_status){ .in_force = RTV_MODE_EMULATED, .has_flip = true };
    put(RTV_XS_CTL_DM_SYNCED_ID, "7");
    order_switch("pv", "7", "emulated");
    start_shunt();
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "7", 3000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    ck_assert_str_eq(fk.live.pv, PV_DEV);   /* the disk out, over the PV leg device now */
    ck_assert_str_eq(fk.ops, "pv:create prepare cancel load suspend resume");
}
END_TEST

START_TEST(pv_disk_that_never_appears_is_given_up)
{
    put(RTV_XS_CTL_DEVID, DEVID);
    put(RTV_XS_CTL_TIMEOUT_MS, "300");
    order_switch("emulated", "4", "switching-to-pv");
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "4", 3000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    ck_assert_contains(get(RTV_XS_SHUNT_ERROR), "PV disk of vbd 51728 did not appear within "
                       "300 ms");
    ck_assert_str_eq(fk.ops, "pv:create create");   /* nothing was loaded */
    /* the same id again changes nothing */
    run_for(600);
    ck_assert_str_eq(fk.ops, "pv:create create");
}
END_TEST

START_TEST(switch_without_devid_fails_cleanly)
{
    order_switch("emulated", "5", "switching-to-pv");
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "5", 2000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    ck_assert_contains(get(RTV_XS_SHUNT_ERROR), "node devid");
    ck_assert_str_eq(fk.ops, "pv:create create");
}
END_TEST

START_TEST(pv_disk_of_another_size_is_refused)
{
    put(RTV_XS_CTL_DEVID, DEVID);
    blkfront_disk(DEVID, "xvdb", "202:16", SECTORS * 2);
    order_switch("emulated", "6", "switching-to-pv");
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "6", 2000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    ck_assert_contains(get(RTV_XS_SHUNT_ERROR), "PV disk xvdb (vbd 51728) has 4096 sectors, "
                       "the emulated disk 2048");
    ck_assert_str_eq(fk.ops, "pv:create create");
}
END_TEST

START_TEST(refused_load_leaves_the_old_table)
{
    twin_attached();
    fk.fail_load = -EBUSY;
    order_switch("emulated", "7", "switching-to-pv");
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "7", 2000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    ck_assert_contains(get(RTV_XS_SHUNT_ERROR), "loading the table to attach the PV disk "
                       "failed: dm load of rtvirt-hda.pv failed");
    ck_assert_str_eq(fk.ops, "pv:create create pv:load pv:clear");
    ck_assert(!fk.suspended && !fk.pv.suspended);
    ck_assert_str_eq(fk.pv.live.disk, "");
}
END_TEST

/* blkfront's disk is in sysfs a moment before it can be opened (lab,
 * 2026-12-07): a load refused with ENXIO is tried again, not the switch
 * failed. */
START_TEST(pv_disk_not_openable_yet_is_tried_again)
{
    twin_attached();
    fk.fail_load = -ENXIO;
    fk.fail_loads = 1;        /* two loads refused */
    order_switch("emulated", "7", "switching-to-pv");
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "flushed", 3000));
    ck_assert_str_eq(fk.ops, "pv:create create pv:load pv:clear pv:load pv:clear pv:load "
                     "pv:suspend pv:resume prepare");
    ck_assert_str_eq(fk.pv.live.disk, "202:16");
    put(RTV_XS_CTL_DM_SYNCED_ID, "7");
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "7", 2000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "enlightened");
    ck_assert_str_eq(get(RTV_XS_SHUNT_ERROR), "");
    ck_assert_int_eq(fk.live.mode, RTV_MODE_PV);
}
END_TEST

/* ... within the switch's bound: past it the switch fails, saying so. */
START_TEST(pv_disk_never_openable_fails_at_the_bound)
{
    put(RTV_XS_CTL_TIMEOUT_MS, "300");
    twin_attached();
    fk.fail_load = -ENXIO;
    fk.fail_loads = 1000000;
    order_switch("emulated", "7", "switching-to-pv");
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "7", 3000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    ck_assert_contains(get(RTV_XS_SHUNT_ERROR), "the PV disk xvdb of vbd 51728 could not be "
                       "opened within 300 ms: dm load of rtvirt-hda.pv failed: No such device "
                       "or address");
    ck_assert_uint_ge(fk.loads, 2);
    ck_assert(!fk.suspended && !fk.pv.suspended);
    ck_assert_str_eq(fk.pv.live.disk, "");
}
END_TEST

START_TEST(suspend_past_its_bound_is_backed_out)
{
    put(RTV_XS_CTL_TIMEOUT_MS, "300");
    twin_attached();
    fk.hold_suspend = true;   /* bios in flight that never drain */
    order_switch("emulated", "8", "switching-to-pv");
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "connecting", 2000));
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "8", 3000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    ck_assert_contains(get(RTV_XS_SHUNT_ERROR), "suspending rtvirt-hda.pv to attach the PV "
                       "disk (draining the bios in flight and flushing the legs) took longer "
                       "than 300 ms");
    ck_assert_str_eq(fk.ops, "pv:create create pv:load pv:suspend pv:suspend-interrupted "
                     "pv:clear");
    ck_assert(!fk.pv.suspended && !fk.pv.has_inactive);
    ck_assert_str_eq(fk.pv.live.disk, "");
    ck_assert_int_eq(fk.live.mode, RTV_MODE_EMULATED);
    ck_assert_uint_ge(fk.interrupts, 1);
}
END_TEST

START_TEST(suspend_that_ends_as_it_is_interrupted_is_resumed)
{
    /* The drain ends just as the bound passes: the interrupt finds no
     * suspend to end, the device is suspended, and must be resumed on its
     * old table. */
    put(RTV_XS_CTL_TIMEOUT_MS, "300");
    twin_attached();
    fk.hold_suspend = true;
    fk.deaf_suspend = true;
    order_switch("emulated", "9", "switching-to-pv");
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "connecting", 2000));
    run_for(500);                /* the bound passes; interrupts are sent */
    ck_assert_uint_ge(fk.interrupts, 1);
    ck_assert_str_ne(get(RTV_XS_SHUNT_ACK_ID), "9");   /* not before it ends */
    pthread_mutex_lock(&fk.mu);
    fk.release_suspend = true;   /* drained after all */
    pthread_cond_broadcast(&fk.cv);
    pthread_mutex_unlock(&fk.mu);
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "9", 3000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    ck_assert_contains(get(RTV_XS_SHUNT_ERROR), "suspending rtvirt-hda.pv to attach the PV "
                       "disk (draining the bios in flight and flushing the legs) took longer "
                       "than 300 ms");
    ck_assert_str_eq(fk.ops, "pv:create create pv:load pv:suspend pv:clear pv:resume");
    ck_assert(!fk.pv.suspended && !fk.pv.has_inactive);
    ck_assert_str_eq(fk.pv.live.disk, "");
    ck_assert(!fk.suspended && !fk.has_inactive);
    ck_assert_int_eq(fk.live.mode, RTV_MODE_EMULATED);
}
END_TEST

START_TEST(gate_past_its_bound_drops_the_attached_leg)
{
    put(RTV_XS_CTL_TIMEOUT_MS, "300");
    twin_attached();
    order_switch("emulated", "10", "switching-to-pv");
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "flushed", 2000));
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "10", 3000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    ck_assert_contains(get(RTV_XS_SHUNT_ERROR), "waiting for dom0's device-model sync "
                       "(dm-synced-id 10) took longer than 300 ms");
    ck_assert_str_eq(fk.ops, "pv:create create pv:load pv:suspend pv:resume prepare cancel pv:load-error pv:suspend pv:resume");
    on_the_emulated_route();
    ck_assert_int_eq(fk.st.flip, RTV_DM_FLIP_IDLE);
    /* dom0 writes dm-synced-id late: no flip any more */
    put(RTV_XS_CTL_DM_SYNCED_ID, "10");
    run_for(200);
    ck_assert_int_eq(fk.live.mode, RTV_MODE_EMULATED);
}
END_TEST

START_TEST(dom0_rollback_at_the_gate)
{
    twin_attached();
    order_switch("emulated", "11", "switching-to-pv");
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "flushed", 2000));
    order_switch("emulated", "11", "rolling-back");
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "11", 2000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    ck_assert_contains(get(RTV_XS_SHUNT_ERROR), "dom0 rolled the switch back");
    ck_assert(!fk.suspended && !fk.has_inactive);
    on_the_emulated_route();
    ck_assert_str_eq(fk.ops, "pv:create create pv:load pv:suspend pv:resume prepare cancel pv:load-error pv:suspend pv:resume");
}
END_TEST

START_TEST(dom0_rollback_after_the_flip_switches_back)
{
    twin_attached();
    order_switch("emulated", "12", "switching-to-pv");
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "flushed", 2000));
    put(RTV_XS_CTL_DM_SYNCED_ID, "12");
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "enlightened", 2000));
    /* dom0's own bound passed just then: it rolls back */
    order_switch("emulated", "12", "rolling-back");
    /* the way back passes the same gate, which dom0 opened for id 12 */
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "emulating", 2000));
    ck_assert_str_eq(fk.ops, "pv:create create pv:load pv:suspend pv:resume prepare mode-pv prepare "
                     "mode-emulated pv:load-error pv:suspend pv:resume");
    ck_assert_str_eq(get(RTV_XS_SHUNT_ACK_ID), "12");
    on_the_emulated_route();
}
END_TEST

/* dom0 ended a switch rolled back while this guest had flipped (the shunt
 * stalled past dom0's bounds): dom0 says emulated, the device is on pv.
 * The first way there fails (the target refuses the flip); it is tried
 * again, and the device ends where dom0 says instead of on the PV path
 * for good (test_switch_component shunt_stalled_past_the_bound_comes_back
 * is the whole story). */
START_TEST(way_to_dom0s_mode_that_failed_is_tried_again)
{
    twin_attached();
    switch_to_pv("emulated", "1");
    fk.fail_mode = -EIO;
    put(RTV_XS_CTL_STATE, "emulated");
    run_for(1000);
    ck_assert_int_eq(fk.fail_mode, 0);   /* the first way back met the refusal */
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "enlightened");
    ck_assert_contains(get(RTV_XS_SHUNT_ERROR), "the flip to emulated failed");
    ck_assert_msg(run_until(RTV_XS_SHUNT_STATE, "emulating", 5000), "still %s: %s",
                  get(RTV_XS_SHUNT_STATE), get(RTV_XS_SHUNT_ERROR));
    ck_assert_str_eq(get(RTV_XS_SHUNT_ACK_ID), "1");
    on_the_emulated_route();
}
END_TEST

START_TEST(failover_is_reported_and_not_undone_alone)
{
    twin_attached();
    switch_to_pv("emulated", "13");
    unsigned loads = fk.loads;

    fake_failover(5, 2);   /* rtvirt-backd died: the target failed over */
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "failed-over", 2000));
    ck_assert_contains(get(RTV_XS_SHUNT_ERROR), "the PV leg 202:16 failed (2 PV errors)");
    ck_assert_contains(get(RTV_XS_SHUNT_ERROR), "5 re-issued");
    /* dom0 still says pv: the shunt does not reload the failed leg */
    run_for(700);
    ck_assert_uint_eq(fk.loads, loads);
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "failed-over");
    /* dom0 switches it to emulated, then (a backend is there again) to pv */
    fk.ops[0] = '\0';
    switch_to_emulated("pv", "14");
    /* the dead disk out of the PV leg device, then the failover's state
     * cleared by the target's message: no swap of the guest's table, no
     * suspend it waits in */
    ck_assert_str_eq(fk.ops, "prepare mode-emulated pv:load-error pv:suspend pv:resume clear-failover");
    ck_assert(!fk.st.failed_over);
    switch_to_pv("emulated", "15");
    ck_assert(!fk.st.failed_over);
    ck_assert_str_eq(fk.ops, "prepare mode-emulated pv:load-error pv:suspend pv:resume clear-failover pv:load pv:suspend pv:resume prepare mode-pv");
    ck_assert_uint_eq(fk.suspends, 0);
}
END_TEST

/* What dom0's coordinator does on failed-over (switch_fsm.c): tears the
 * twin down under the last switch-id (switching-to-emulated, nothing for
 * the shunt to do: that id is answered), then says emulated; the shunt
 * follows through the same gate (dom0 synced that id already): the failed
 * PV disk out of the PV leg device (blkfront can close), the guest's table
 * renewed (the failover's state lives in it), acked as emulating. */
START_TEST(failover_followed_by_dom0_drops_the_failed_leg)
{
    twin_attached();
    switch_to_pv("emulated", "18");
    fake_failover(2, 1);
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "failed-over", 2000));
    unsigned loads = fk.loads;

    order_switch("pv", "18", "switching-to-emulated");
    run_for(700);
    ck_assert_uint_eq(fk.loads, loads);
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "failed-over");
    put(RTV_XS_CTL_STATE, "emulated");
    ck_assert_msg(run_until(RTV_XS_SHUNT_STATE, "emulating", 3000), "%s / %s",
                  get(RTV_XS_SHUNT_STATE), get(RTV_XS_SHUNT_ERROR));
    ck_assert_uint_eq(fk.loads, loads + 1);   /* the PV leg device's error table only */
    on_the_emulated_route();
    ck_assert_str_eq(get(RTV_XS_SHUNT_ACK_ID), "18");
    ck_assert(!fk.st.failed_over);
    /* and it stays there */
    run_for(700);
    ck_assert_uint_eq(fk.loads, loads + 1);
}
END_TEST

/* flush_at_flip off: the PV leg stays dirty after the flip away from it, so
 * before the drop the shunt waits for the PV leg's writes and flushes the
 * guest's device (the target sends that flush to the PV leg and clears its
 * mark): no guest flush meets the PV leg device suspended. */
START_TEST(flush_at_flip_off_flushes_the_device_before_the_drop)
{
    module_param("flush_at_flip", "N");
    inflight(PV_DEV, 1, 3);
    twin_attached();
    switch_to_pv("emulated", "21");
    ck_assert_uint_eq(fk.flushes, 0);   /* towards pv nothing is dropped */
    fk.ops[0] = '\0';
    order_switch("pv", "22", "switching-to-emulated");
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "flushed", 3000));
    put(RTV_XS_CTL_DM_SYNCED_ID, "22");
    run_for(300);
    /* flipped; 3 writes of the PV leg still in flight: no flush, no drop */
    ck_assert_str_eq(fk.ops, "prepare mode-emulated");
    ck_assert_str_ne(get(RTV_XS_SHUNT_ACK_ID), "22");
    inflight(PV_DEV, 1, 0);   /* (a read may still run: the drop waits for it) */
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "22", 3000));
    ck_assert_str_eq(fk.ops, "prepare mode-emulated flush pv:load-error pv:suspend pv:resume");
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    ck_assert_str_eq(get(RTV_XS_SHUNT_ERROR), "");
    ck_assert_str_eq(fk.pv.live.disk, "");
}
END_TEST

/* ... bounded: PV writes that never complete hold the flush back only
 * until timeout-ms; then the drop goes on as without it (its suspend waits
 * for them, bounded too). */
START_TEST(flush_before_the_drop_is_bounded)
{
    module_param("flush_at_flip", "N");
    inflight(PV_DEV, 0, 2);
    twin_attached();
    switch_to_pv("emulated", "23");
    put(RTV_XS_CTL_TIMEOUT_MS, "300");
    fk.ops[0] = '\0';
    switch_to_emulated("pv", "24");
    ck_assert_str_eq(fk.ops, "prepare mode-emulated pv:load-error pv:suspend pv:resume");
    ck_assert_uint_eq(fk.flushes, 0);
    /* The 300 ms were for that flush: the switches below run with the
     * default bound (under 300 ms, the attach's suspend of switch 25 ran
     * out at a host load of 19 in make check). */
    ck_assert_int_eq(rtv_xs_rm(dom0.xs, RTV_XS_NO_TXN, path(RTV_XS_CTL_TIMEOUT_MS)), 0);
    /* flush_at_flip on (the default): nothing of it */
    module_param("flush_at_flip", "Y");
    inflight(PV_DEV, 0, 0);
    switch_to_pv("emulated", "25");
    fk.ops[0] = '\0';
    switch_to_emulated("pv", "26");
    ck_assert_str_eq(fk.ops, "prepare mode-emulated pv:load-error pv:suspend pv:resume");
    ck_assert_uint_eq(fk.flushes, 0);
}
END_TEST

/* A module without clear-failover (dm-rtvirt 1.1) refuses the message: the
 * table is renewed instead (a dm suspend of the guest's device), as before. */
START_TEST(failover_cleared_by_a_renew_on_an_older_module)
{
    fk.no_clear = true;
    twin_attached();
    switch_to_pv("emulated", "18");
    fake_failover(2, 1);
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "failed-over", 2000));
    fk.ops[0] = '\0';
    switch_to_emulated("pv", "19");
    ck_assert_str_eq(fk.ops, "prepare mode-emulated pv:load-error pv:suspend pv:resume "
                     "clear-failover load suspend resume");
    ck_assert(!fk.st.failed_over);
    ck_assert_uint_eq(fk.suspends, 1);
    ck_assert_str_eq(fk.live.pv, PV_DEV);
}
END_TEST

/* The PV disk direct (dm-rtvirt 1.3): the target is told the disk once the
 * PV leg device maps it, before the flip, and told to stop before the PV
 * leg device drops it (f_leg_load fails a drop while it is direct), in a
 * plain way back and after a failover alike. */
START_TEST(pv_bios_go_to_the_pv_disk_direct_between_attach_and_drop)
{
    twin_attached();
    switch_to_pv("emulated", "20");
    full_switch("pv", "21", "selective", "selective");
    ck_assert_str_eq(fk.direct, "202:16");
    ck_assert_uint_eq(fk.directs, 1);   /* (told again: the same disk) */
    switch_to_emulated("selective", "22");
    ck_assert_uint_eq(fk.direct_stops, 1);
    switch_to_pv("emulated", "23");
    fake_failover(1, 1);
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "failed-over", 2000));
    switch_to_emulated("pv", "24");
    ck_assert_uint_eq(fk.directs, 2);
    ck_assert_uint_eq(fk.direct_stops, 2);
}
END_TEST

/* A module before 1.3 refuses pv-disk: the switches are what they were
 * (the PV bios through the PV leg device), with one warning. */
START_TEST(older_module_without_pv_disk_switches_as_before)
{
    fk.no_direct = true;
    twin_attached();
    switch_to_pv("emulated", "25");
    switch_to_emulated("pv", "26");
    switch_to_pv("emulated", "27");
    ck_assert_str_eq(fk.ops, "pv:create create pv:load pv:suspend pv:resume prepare mode-pv "
                     "prepare mode-emulated pv:load-error pv:suspend pv:resume "
                     "pv:load pv:suspend pv:resume prepare mode-pv");
    ck_assert_str_eq(get(RTV_XS_SHUNT_ERROR), "");
}
END_TEST

START_TEST(failed_over_device_switched_to_its_own_mode_reloads)
{
    twin_attached();
    switch_to_pv("emulated", "16");
    fake_failover(1, 1);
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "failed-over", 2000));
    /* a switch to pv while failed over is a real switch, not an ack */
    switch_to_pv("pv", "17");
    /* the PV disk opened afresh in the PV leg device, the guest's table
     * renewed (the failover's state lives in it), then the flip */
    ck_assert_str_eq(fk.ops, "pv:create create pv:load pv:suspend pv:resume prepare mode-pv pv:load pv:suspend pv:resume load suspend resume "
                     "prepare mode-pv");
    ck_assert(!fk.st.failed_over);
}
END_TEST

START_TEST(picked_up_where_a_killed_shunt_left_it)
{
    struct dmctl_status st;

    /* The first shunt is killed at the gate: prepared, not flipped. */
    twin_attached();
    switch_to_pv("emulated", "18");
    order_switch("pv", "19", "switching-to-selective");
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "flushed", 2000));
    ck_assert_int_eq(fk.st.flip, RTV_DM_FLIP_PREPARED);
    /* (dmctl_free would cancel it: a kill -9 does not run it) */
    struct dmctl *dead = ctl;
    (void)dead;
    ctl = NULL;
    start_shunt();
    ck_assert(!fk.suspended && !fk.has_inactive);
    ck_assert_int_eq(fk.st.flip, RTV_DM_FLIP_IDLE);   /* the dead one's prepare cancelled */
    ck_assert_int_eq(fk.live.mode, RTV_MODE_PV);
    ck_assert_uint_eq(fk.creates, 1);
    dmctl_get_status(ctl, &st);
    ck_assert(st.picked_up);
    ck_assert_int_eq(st.mode, RTV_MODE_PV);
    ck_assert_str_eq(st.pv_dev, "202:16");
    /* dom0 still asks for selective: the new shunt runs the switch afresh */
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "flushed", 2000));
    put(RTV_XS_CTL_DM_SYNCED_ID, "19");
    ck_assert(run_until(RTV_XS_SHUNT_ACK_ID, "19", 2000));
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "selective");
    ck_assert_int_eq(fk.live.mode, RTV_MODE_SELECTIVE);
    /* The successor stopped, then the dead shunt's leftovers freed now that
     * nobody uses the fake for it (the successor was once lost here: never
     * freed, its thread left running beside the teardown's shunt). */
    dmctl_free(ctl);
    ctl = dead;
    dmctl_free(ctl);
    ctl = NULL;
    start_shunt();
}
END_TEST

START_TEST(device_over_another_disk_is_not_taken)
{
    struct rtv_err err = { 0, "" };

    fk.exists = true;
    fk.live = (struct rtv_dm_table){ .mode = RTV_MODE_EMULATED, .emu = "8:16",
                                     .sectors = SECTORS };
    ck_assert_ptr_null(dmctl_new(&cfg, &err));
    ck_assert_contains(err.msg, "rtvirt-hda exists over 8:16");
    ck_assert_uint_eq(fk.creates + fk.loads + fk.resumes, 0);   /* left alone */
    fk.exists = false;
    start_shunt();   /* for teardown */
}
END_TEST

/* Root on the shunt (shunt/initramfs-tools): the initramfs made the device,
 * emulated, over the emulated disk; this shunt has no state of its own and
 * dom0 has written no switch yet.  It is picked up as after a restart,
 * untouched (its PV leg "-": the PV leg device is made beside it), and
 * switches on from there: the first switch to pv renews its table over the
 * PV leg device once, in emulated mode; later ones swap only that device. */
START_TEST(adopts_the_device_an_initramfs_made)
{
    struct dmctl_status st;

    fk.exists = true;
    fk.live = (struct rtv_dm_table){ .mode = RTV_MODE_EMULATED, .emu = "8:0",
                                     .sectors = SECTORS };
    fk.st = (struct rtv_dm_status){ .in_force = RTV_MODE_EMULATED };
    start_shunt();
    ck_assert_str_eq(fk.ops, "pv:create");   /* the guest's device: untouched */
    dmctl_get_status(ctl, &st);
    ck_assert(st.picked_up);
    ck_assert_int_eq(st.mode, RTV_MODE_EMULATED);
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    ck_assert_str_eq(get(RTV_XS_SHUNT_EMULATED_DEV), "sda");
    twin_attached();
    switch_to_pv("emulated", "1");
    full_switch("pv", "2", "selective", "selective");
    switch_to_emulated("selective", "3");
    ck_assert_str_eq(fk.ops, "pv:create pv:load pv:suspend pv:resume load suspend resume prepare mode-pv prepare "
                     "mode-selective prepare mode-emulated pv:load-error pv:suspend pv:resume");
    ck_assert_uint_eq(fk.creates, 0);
    ck_assert_int_eq(fk.live.mode, RTV_MODE_EMULATED);
    ck_assert_str_eq(fk.live.pv, PV_DEV);
    fk.ops[0] = '\0';
    switch_to_pv("emulated", "4");
    ck_assert_str_eq(fk.ops, "pv:load pv:suspend pv:resume prepare mode-pv");
}
END_TEST

/* kill -9 of a shunt inside a swap of the PV leg device (here: attaching
 * 202:16): the guest's I/O never waited on it (nothing is routed to that
 * device then), and the next shunt undoes the swap before anything else. */
START_TEST(pv_leg_device_left_suspended_is_undone)
{
    fk.exists = true;
    fk.live = (struct rtv_dm_table){ .mode = RTV_MODE_EMULATED, .emu = "8:0", .pv = PV_DEV,
                                     .sectors = SECTORS };
    fk.st = (struct rtv_dm_status){ .in_force = RTV_MODE_EMULATED, .has_flip = true };
    fk.pv = (struct fake_leg){ .exists = true, .suspended = true, .has_inactive = true,
                               .live = { .disk = "", .sectors = SECTORS },
                               .inactive = { .disk = "202:16", .sectors = SECTORS } };
    start_shunt();
    ck_assert_str_eq(fk.ops, "pv:clear pv:resume");
    ck_assert(!fk.pv.suspended && !fk.pv.has_inactive);
    ck_assert_str_eq(fk.pv.live.disk, "");
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    twin_attached();
    switch_to_pv("emulated", "1");
    ck_assert_uint_eq(fk.suspends, 0);
}
END_TEST

/* The guest's device removed (dmsetup remove rtvirt-hda) with its PV leg
 * device still mapping a disk: nothing is over it, so the disk is dropped
 * at once and the new device created over it. */
START_TEST(pv_leg_device_without_a_device_over_it_is_reset)
{
    fk.pv = (struct fake_leg){ .exists = true, .live = { .disk = "202:16", .sectors = SECTORS } };
    start_shunt();
    ck_assert_str_eq(fk.ops, "pv:load-error pv:suspend pv:resume create");
    ck_assert_str_eq(fk.pv.live.disk, "");
    ck_assert_str_eq(fk.live.pv, PV_DEV);
}
END_TEST

/* A PV leg device of another size, or with a table that is not ours, is
 * not taken. */
START_TEST(pv_leg_device_of_another_size_is_refused)
{
    struct rtv_err err = { 0, "" };

    fk.pv = (struct fake_leg){ .exists = true, .live = { .disk = "", .sectors = SECTORS * 2 } };
    ck_assert_ptr_null(dmctl_new(&cfg, &err));
    ck_assert_contains(err.msg, "rtvirt-hda.pv exists with 4096 sectors");
    ck_assert_str_eq(fk.ops, "");
    fk.pv.exists = false;
    start_shunt();   /* for teardown */
}
END_TEST

START_TEST(failed_over_at_start_is_reported)
{
    fk.exists = true;
    fk.live = (struct rtv_dm_table){ .mode = RTV_MODE_PV, .emu = "8:0", .pv = "202:16",
                                     .sectors = SECTORS };
    fk.st = (struct rtv_dm_status){ .in_force = RTV_MODE_EMULATED, .failed_over = true,
                                    .failovers = 3, .pv_errors = 3 };
    start_shunt();
    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "failed-over");
    ck_assert_contains(get(RTV_XS_SHUNT_ERROR), "had failed before this shunt started");
}
END_TEST

/* A shunt killed between the drop of the dead disk and clear-failover: the
 * next one finds the table emulated over the PV leg device, failed over;
 * following dom0's emulated it clears the state by message, no suspend. */
START_TEST(failover_left_uncleared_by_a_killed_shunt_is_cleared)
{
    fk.exists = true;
    fk.live = (struct rtv_dm_table){ .mode = RTV_MODE_EMULATED, .emu = "8:0", .pv = PV_DEV,
                                     .sectors = SECTORS };
    fk.st = (struct rtv_dm_status){ .in_force = RTV_MODE_EMULATED, .failed_over = true,
                                    .failovers = 3, .pv_errors = 3, .has_flip = true };
    fk.pv.exists = true;
    fk.pv.live = (struct rtv_dm_leg){ .disk = "", .sectors = SECTORS };
    snprintf(fk.dead_disk, sizeof(fk.dead_disk), "202:16");   /* dropped already */
    start_shunt();
    ck_assert_msg(run_until(RTV_XS_SHUNT_STATE, "emulating", 3000), "%s / %s",
                  get(RTV_XS_SHUNT_STATE), get(RTV_XS_SHUNT_ERROR));
    ck_assert(!fk.st.failed_over);
    ck_assert_contains(fk.ops, "clear-failover");
    ck_assert_uint_eq(fk.suspends, 0);
    ck_assert_uint_eq(fk.loads, 0);
}
END_TEST

START_TEST(stopping_at_the_gate_resumes_the_old_table)
{
    twin_attached();
    order_switch("emulated", "20", "switching-to-pv");
    ck_assert(run_until(RTV_XS_SHUNT_STATE, "flushed", 2000));
    dmctl_free(ctl);
    ctl = NULL;
    ck_assert(!fk.suspended && !fk.has_inactive);
    ck_assert_int_eq(fk.live.mode, RTV_MODE_EMULATED);
    ck_assert_str_eq(get(RTV_XS_SHUNT_ACK_ID), "20");
    ck_assert_contains(get(RTV_XS_SHUNT_ERROR), "rtvirt-shunt is stopping");
    start_shunt();
}
END_TEST

START_TEST(pv_disk_found_by_devid_in_sysfs)
{
    struct shunt_disk d;
    struct rtv_err err = { 0, "" };

    ck_assert_int_eq(shunt_disk_of_vbd(sysfs, 51728, &d, &err), -ENOENT);
    blkfront_disk("51728", "xvdb", "202:16", 4096);
    blkfront_disk("51744", "xvdc", "202:32", 8);
    ck_assert_int_eq(shunt_disk_of_vbd(sysfs, 51728, &d, &err), 0);
    ck_assert_str_eq(d.name, "xvdb");
    ck_assert_str_eq(d.dev, "202:16");
    ck_assert_uint_eq(d.sectors, 4096);
    ck_assert_uint_eq(d.lbs, 512);
    blkfront_disk_lbs("51776", "xvde", "202:64", 8, 4096);
    ck_assert_int_eq(shunt_disk_of_vbd(sysfs, 51776, &d, &err), 0);
    ck_assert_uint_eq(d.lbs, 4096);
    blkfront_disk("51760", "xvdd", "garbage", 8);
    ck_assert_int_eq(shunt_disk_of_vbd(sysfs, 51760, &d, &err), -EINVAL);
    ck_assert_contains(err.msg, "\"garbage\" is not major:minor");
    /* a partition has no queue of its own: its disk's is read (sysfs's
     * dev/block/M:m links to the partition's directory, under its disk's) */
    blkfront_disk_lbs("51792", "xvdf", "202:80", 16, 4096);
    char dir[300], link[300];
    snprintf(dir, sizeof(dir), "%s/bus/xen/devices/vbd-51792/block/xvdf/xvdf1", sysfs);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    rtv_test_attr_put(dir, "dev", "202:81");
    rtv_test_attr_put(dir, "size", "8");
    snprintf(link, sizeof(link), "%s/dev/block", sysfs);
    char cmd[1000];
    snprintf(cmd, sizeof(cmd), "mkdir -p %s && ln -s %s %s/202:81", link, dir, link);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(shunt_disk_of_devnum(sysfs, 202, 81, &d, &err), 0);
    ck_assert_str_eq(d.name, "xvdf1");
    ck_assert_uint_eq(d.lbs, 4096);
    /* none at all: refused, named */
    snprintf(cmd, sizeof(cmd), "rm -r %s/bus/xen/devices/vbd-51792/block/xvdf/queue", sysfs);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(shunt_disk_of_devnum(sysfs, 202, 81, &d, &err), -ENOENT);
    ck_assert_contains(err.msg, "queue/logical_block_size");
}
END_TEST

/* xl restore (or migrate) of the guest: the same guest, its connection now
 * domain 7, the old domain's nodes gone with it.  xl-rtvirt restore manages
 * hda of 7 (emulated: it was switched there before the save); the shunt
 * follows 7's nodes, reports there with its emulated disk, and a switch of
 * domain 7 to pv runs as any other. */
#define path7(node) rtv_test_vbd_path((node), 7, "hda")
START_TEST(follows_its_new_domid_after_a_restore)
{
    struct rtv_err err = { 0, "" };

    ck_assert_str_eq(get(RTV_XS_SHUNT_STATE), "emulating");
    rtv_test_make_domain(dom0.xs, 7, NULL);
    ck_assert_int_eq(rtv_local_rebind(guest_x, 7), 0);
    ck_assert_int_eq(rtv_xs_rm(dom0.xs, RTV_XS_NO_TXN, "/local/domain/5"), 0);
    /* not managed yet: the shunt waits, writes nothing, the device runs on */
    run_for(700);
    ck_assert_ptr_null(rtv_test_get(dom0.xs, "/local/domain/7/device/rtvirt", NULL));
    ck_assert_str_eq(fk.ops, "pv:create create");
    ck_assert_int_eq(rtv_ctl_manage(dom0.xs, 7, "hda", "/srv/hda.img", &err), 0);
    ck_assert_msg(run_until_at(path7(RTV_XS_SHUNT_STATE), "emulating", 3000), "%s",
                  rtv_test_get(dom0.xs, path7(RTV_XS_SHUNT_STATE), "(absent)"));
    ck_assert_str_eq(rtv_test_get(dom0.xs, path7(RTV_XS_SHUNT_EMULATED_DEV), "-"), "sda");
    ck_assert_str_eq(fk.ops, "pv:create create");
    /* the switch back to pv, on the new domain's nodes */
    blkfront_disk(DEVID, "xvdb", "202:16", SECTORS);
    rtv_test_put(dom0.xs, path7(RTV_XS_CTL_DEVID), DEVID);
    rtv_test_put(dom0.xs, path7(RTV_XS_CTL_DM_SYNCED_ID), "1");
    rtv_test_put(dom0.xs, path7(RTV_XS_CTL_PREVIOUS), "emulated");
    rtv_test_put(dom0.xs, path7(RTV_XS_CTL_SWITCH_ID), "1");
    rtv_test_put(dom0.xs, path7(RTV_XS_CTL_STATE), "switching-to-pv");
    ck_assert_msg(run_until_at(path7(RTV_XS_SHUNT_ACK_ID), "1", 3000), "%s",
                  rtv_test_get(dom0.xs, path7(RTV_XS_SHUNT_ERROR), "(absent)"));
    ck_assert_str_eq(rtv_test_get(dom0.xs, path7(RTV_XS_SHUNT_STATE), "-"), "enlightened");
    ck_assert_int_eq(fk.live.mode, RTV_MODE_PV);
    ck_assert_str_eq(fk.ops, "pv:create create pv:load pv:suspend pv:resume prepare mode-pv");
}
END_TEST

static Suite *dmctl_suite(void)
{
    Suite *s = suite_create("dmctl");
    TCase *tc = rtv_unit_case(s, "switch", setup, teardown, 30);

    RTV_UNIT_ADD(tc, created_emulated_over_the_emulated_disk,
                     switch_to_pv_and_back_in_the_protocol_order,
                     gate_open_before_the_suspend_flips_at_once,
                     gate_open_for_another_switch_is_waited_at,
                     blackout_is_the_flip_and_its_longest_stall, prepare_past_its_bound_is_given_up,
                     refused_flip_leaves_the_old_route,
                     way_to_dom0s_mode_that_failed_is_tried_again,
                     pv_disk_that_never_appears_is_given_up, switch_without_devid_fails_cleanly,
                     pv_disk_of_another_size_is_refused, pv_disk_of_another_block_size_is_refused,
                     refused_load_leaves_the_old_table, pv_disk_not_openable_yet_is_tried_again,
                     pv_disk_never_openable_fails_at_the_bound, suspend_past_its_bound_is_backed_out,
                     suspend_that_ends_as_it_is_interrupted_is_resumed,
                     gate_past_its_bound_drops_the_attached_leg, dom0_rollback_at_the_gate,
                     dom0_rollback_after_the_flip_switches_back,
                     failover_is_reported_and_not_undone_alone,
                     failover_followed_by_dom0_drops_the_failed_leg,
                     failover_cleared_by_a_renew_on_an_older_module,
                     pv_bios_go_to_the_pv_disk_direct_between_attach_and_drop,
                     older_module_without_pv_disk_switches_as_before,
                     flush_at_flip_off_flushes_the_device_before_the_drop,
                     flush_before_the_drop_is_bounded,
                     failed_over_device_switched_to_its_own_mode_reloads,
                     picked_up_where_a_killed_shunt_left_it,
                     stopping_at_the_gate_resumes_the_old_table, pv_disk_found_by_devid_in_sysfs,
                     follows_its_new_domid_after_a_restore);

    TCase *t2 = rtv_unit_case(s, "start", setup_env, teardown, 0);

    RTV_UNIT_ADD(t2, device_over_another_disk_is_not_taken, adopts_the_device_an_initramfs_made,
                     failed_over_at_start_is_reported,
                     failover_left_uncleared_by_a_killed_shunt_is_cleared,
                     leg_left_in_an_emulated_table_is_dropped,
                     pv_leg_device_left_suspended_is_undone,
                     pv_leg_device_without_a_device_over_it_is_reset,
                     pv_leg_device_of_another_size_is_refused);
    return s;
}

RTV_UNIT_MAIN(dmctl_suite)
