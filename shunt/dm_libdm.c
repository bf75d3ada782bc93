/*
 * The real dm seam (shunt/dm_seam.h) over libdevmapper: one dm_task per
 * op, as dmsetup does, without forking it.  The only file of rtvirt-shunt
 * that includes libdevmapper.h.
 *
 * Threads: libdevmapper keeps global state (the control fd, its ioctl
 * buffer size, the log hook), so the quick ops run one at a time under a
 * mutex; suspend and wait_event block in the kernel for as long as a drain
 * or an event takes, so they run outside it, each on its own thread (the
 * control fd is opened by init, before any of them).  interrupt() sends
 * SIGUSR1, whose handler is installed without SA_RESTART: the ioctl returns
 * EINTR, and libdevmapper does not retry it.  In the kernel, an interrupted
 * suspend is backed out by dm (__dm_suspend undoes the presuspend and lets
 * the held bios go), so the device runs on in its old table.
 *
 * libdevmapper's own messages go to a per-thread buffer and from there into
 * the rtv_err of the op that failed, so the reason reaches xenstore.
 */
#include "dm_seam.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libdevmapper.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local char last_msg[256];

static void dm_log(int level, const char *file, int line, int dm_errno, const char *f, ...)
{
    va_list ap;

    (void)file;
    (void)line;
    (void)dm_errno;
    if (level > 3)   /* _LOG_ERR: keep errors and warnings, drop the chatter */
        return;
    va_start(ap, f);
    vsnprintf(last_msg, sizeof(last_msg), f, ap);
    va_end(ap);
}

static void on_usr1(int sig)
{
    (void)sig;   /* only there to interrupt a blocked ioctl */
}

int shunt_dm_libdm_init(struct rtv_err *err)
{
    struct sigaction sa;
    struct dm_task *dmt;
    int ok;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;   /* no SA_RESTART: the ioctl returns EINTR */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) < 0)
        return rtv_err_set(err, errno, "sigaction(SIGUSR1): %s", strerror(errno));
    dm_log_with_errno_init(dm_log);
    /* No udev handshake: libdevmapper makes /dev/mapper/<name> itself (the
     * lab guest runs no udev; under udev the rules make the same node). */
    dm_udev_set_sync_support(0);
    /* Opens the control device now, on this thread, and checks the kernel
     * speaks dm at all. */
    last_msg[0] = '\0';
    if ((dmt = dm_task_create(DM_DEVICE_VERSION)) == NULL)
        return rtv_err_set(err, ENOMEM, "dm_task_create failed");
    ok = dm_task_run(dmt);
    dm_task_destroy(dmt);
    if (!ok)
        return rtv_err_set(err, ENODEV, "device-mapper is not usable (modprobe dm-mod?): %s",
                           last_msg[0] ? last_msg : "no reason given");
    return 0;
}

/* Runs dmt (destroying it unless keep), turning a failure into -errno. */
static int run(struct dm_task *dmt, const char *what, const char *name, bool keep,
               struct rtv_err *err)
{
    int ok, e;

    last_msg[0] = '\0';
    ok = dm_task_run(dmt);
    e = ok ? 0 : dm_task_get_errno(dmt);
    if (!keep || !ok)
        dm_task_destroy(dmt);
    if (ok)
        return 0;
    if (e == 0)
        e = EIO;
    return rtv_err_set(err, e, "dm %s of %s failed: %s", what, name,
                       last_msg[0] ? last_msg : strerror(e));
}

static struct dm_task *task(int type, const char *name, struct rtv_err *err)
{
    struct dm_task *dmt = dm_task_create(type);

    if (dmt == NULL) {
        rtv_err_set(err, ENOMEM, "dm_task_create failed");
        return NULL;
    }
    if (!dm_task_set_name(dmt, name)) {
        dm_task_destroy(dmt);
        rtv_err_set(err, EINVAL, "dm name %s refused by libdevmapper", name);
        return NULL;
    }
    return dmt;
}

/* One table of either device: the guest's (t) or its PV leg device's (leg). */
struct any_table {
    const struct rtv_dm_table *t;
    const struct rtv_dm_leg   *leg;
};

static int add_table(struct dm_task *dmt, const struct any_table *a, struct rtv_err *err)
{
    char params[3 * RTV_DM_DEV_MAX];
    const char *type = RTV_DM_TARGET;
    uint64_t sectors;
    int rc;

    if (a->t != NULL) {
        rc = rtv_dm_table_params(a->t, params, sizeof(params), err);
        sectors = a->t->sectors;
    } else {
        rc = rtv_dm_leg_params(a->leg, &type, params, sizeof(params), err);
        sectors = a->leg->sectors;
    }
    if (rc < 0)
        return rc;
    if (!dm_task_add_target(dmt, 0, sectors, type, params))
        return rtv_err_set(err, ENOMEM, "dm_task_add_target failed");
    return 0;
}

static int op_info(void *ctx, const char *name, struct shunt_dm_info *out, struct rtv_err *err)
{
    struct dm_task *dmt;
    struct dm_info i;
    int rc;

    (void)ctx;
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&lock);
    if ((dmt = task(DM_DEVICE_INFO, name, err)) == NULL) {
        pthread_mutex_unlock(&lock);
        return -err->code;
    }
    if ((rc = run(dmt, "info", name, true, err)) == 0) {
        if (!dm_task_get_info(dmt, &i))
            rc = rtv_err_set(err, EIO, "dm info of %s: no answer", name);
        else if (i.exists) {
            out->exists = true;
            out->suspended = i.suspended;
            out->live_table = i.live_table;
            out->inactive_table = i.inactive_table;
            out->event_nr = i.event_nr;
            out->major = (unsigned)i.major;
            out->minor = (unsigned)i.minor;
        }
        dm_task_destroy(dmt);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

/* /dev/mapper/<name>, as `dmsetup mknodes` makes it: with no udev (the lab
 * guest) nothing else does, and libdevmapper only queues the node it makes
 * on create and resume until dm_task_update_nodes().  Called locked. */
static void make_node(const char *name)
{
    struct dm_task *dmt = dm_task_create(DM_DEVICE_MKNODES);

    if (dmt != NULL) {
        if (dm_task_set_name(dmt, name))
            dm_task_run(dmt);
        dm_task_destroy(dmt);
    }
    dm_task_update_nodes();
}

static int with_table(int type, const char *what, const char *name,
                      const struct any_table *t, struct rtv_err *err)
{
    struct dm_task *dmt;
    int rc;

    pthread_mutex_lock(&lock);
    if ((dmt = task(type, name, err)) == NULL) {
        rc = -err->code;
    } else if ((rc = add_table(dmt, t, err)) < 0) {
        dm_task_destroy(dmt);
    } else {
        dm_task_no_open_count(dmt);
        rc = run(dmt, what, name, false, err);
        if (rc == 0 && type == DM_DEVICE_CREATE)
            make_node(name);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

static int op_create(void *ctx, const char *name, const struct rtv_dm_table *t,
                     struct rtv_err *err)
{
    (void)ctx;
    /* With a table, DM_DEVICE_CREATE creates, loads and resumes. */
    return with_table(DM_DEVICE_CREATE, "create", name, &(struct any_table){ .t = t }, err);
}

static int op_load(void *ctx, const char *name, const struct rtv_dm_table *t,
                   struct rtv_err *err)
{
    (void)ctx;
    return with_table(DM_DEVICE_RELOAD, "load", name, &(struct any_table){ .t = t }, err);
}

static int op_leg_create(void *ctx, const char *name, const struct rtv_dm_leg *leg,
                         struct rtv_err *err)
{
    (void)ctx;
    return with_table(DM_DEVICE_CREATE, "create", name, &(struct any_table){ .leg = leg },
                      err);
}

static int op_leg_load(void *ctx, const char *name, const struct rtv_dm_leg *leg,
                       struct rtv_err *err)
{
    (void)ctx;
    return with_table(DM_DEVICE_RELOAD, "load", name, &(struct any_table){ .leg = leg }, err);
}

static int simple(int type, const char *what, const char *name, bool locked,
                  struct rtv_err *err)
{
    struct dm_task *dmt;
    int rc;

    if (locked)
        pthread_mutex_lock(&lock);
    if ((dmt = task(type, name, err)) == NULL) {
        rc = -err->code;
    } else {
        dm_task_no_open_count(dmt);
        /* Never freeze the filesystem above: the target's postsuspend
         * flushes the legs, and a freeze would write back every dirty page
         * of the guest inside the blackout. */
        if (type == DM_DEVICE_SUSPEND)
            dm_task_skip_lockfs(dmt);
        rc = run(dmt, what, name, false, err);
        /* Resume queues a node check (a stat: the node exists); run the
         * queue rather than let it grow with every switch. */
        if (rc == 0 && type == DM_DEVICE_RESUME)
            dm_task_update_nodes();
    }
    if (locked)
        pthread_mutex_unlock(&lock);
    return rc;
}

static int op_clear(void *ctx, const char *name, struct rtv_err *err)
{
    (void)ctx;
    return simple(DM_DEVICE_CLEAR, "clear", name, true, err);
}

static int op_suspend(void *ctx, const char *name, struct rtv_err *err)
{
    (void)ctx;
    return simple(DM_DEVICE_SUSPEND, "suspend", name, false, err);
}

static int op_resume(void *ctx, const char *name, struct rtv_err *err)
{
    (void)ctx;
    return simple(DM_DEVICE_RESUME, "resume", name, true, err);
}

/* The single target of the live table's table or status. */
static int one_target(int type, const char *name, uint64_t *len, char *ttype, size_t tl,
                      char *params, size_t pl, struct rtv_err *err)
{
    struct dm_task *dmt;
    uint64_t start, length;
    char *tt = NULL, *p = NULL;
    void *next;
    int rc;

    pthread_mutex_lock(&lock);
    if ((dmt = task(type, name, err)) == NULL) {
        pthread_mutex_unlock(&lock);
        return -err->code;
    }
    dm_task_no_open_count(dmt);
    if ((rc = run(dmt, type == DM_DEVICE_TABLE ? "table" : "status", name, true, err)) == 0) {
        next = dm_get_next_target(dmt, NULL, &start, &length, &tt, &p);
        if (tt == NULL || p == NULL)
            rc = rtv_err_set(err, ENXIO, "%s has no live table", name);
        else if (next != NULL || start != 0)
            rc = rtv_err_set(err, EINVAL, "%s: not one target from sector 0", name);
        else {
            *len = length;
            snprintf(ttype, tl, "%s", tt);
            snprintf(params, pl, "%s", p);
        }
        dm_task_destroy(dmt);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

/* The live table's single target, as the table or status ioctl prints it. */
struct target_line {
    uint64_t len;
    char     type[32], params[256];
};

static int read_line(int type, const char *name, struct target_line *l, struct rtv_err *err)
{
    return one_target(type, name, &l->len, l->type, sizeof(l->type), l->params,
                      sizeof(l->params), err);
}

static int op_table(void *ctx, const char *name, struct rtv_dm_table *t, struct rtv_err *err)
{
    struct target_line l;
    int rc = read_line(DM_DEVICE_TABLE, name, &l, err);

    (void)ctx;
    return rc < 0 ? rc : rtv_dm_table_parse(l.type, l.len, l.params, t, err);
}

static int op_leg_table(void *ctx, const char *name, struct rtv_dm_leg *leg,
                        struct rtv_err *err)
{
    struct target_line l;
    int rc = read_line(DM_DEVICE_TABLE, name, &l, err);

    (void)ctx;
    return rc < 0 ? rc : rtv_dm_leg_parse(l.type, l.len, l.params, leg, err);
}

static int op_status(void *ctx, const char *name, struct rtv_dm_status *st,
                     struct rtv_err *err)
{
    struct target_line l;
    int rc = read_line(DM_DEVICE_STATUS, name, &l, err);

    (void)ctx;
    return rc < 0 ? rc : rtv_dm_status_parse(l.type, l.params, st, err);
}

static int op_message(void *ctx, const char *name, const char *msg, struct rtv_err *err)
{
    struct dm_task *dmt;
    int rc;

    (void)ctx;
    pthread_mutex_lock(&lock);
    if ((dmt = task(DM_DEVICE_TARGET_MSG, name, err)) == NULL) {
        rc = -err->code;
    } else if (!dm_task_set_sector(dmt, 0) || !dm_task_set_message(dmt, msg)) {
        dm_task_destroy(dmt);
        rc = rtv_err_set(err, ENOMEM, "dm message \"%s\" to %s: refused by libdevmapper",
                         msg, name);
    } else {
        /* The target says why in the kernel log; the errno is its answer. */
        rc = run(dmt, "message", name, false, err);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

static int op_wait_event(void *ctx, const char *name, uint32_t *event_nr, struct rtv_err *err)
{
    struct dm_task *dmt;
    struct dm_info i;
    int rc;

    (void)ctx;
    if ((dmt = task(DM_DEVICE_WAITEVENT, name, err)) == NULL)
        return -err->code;
    dm_task_no_open_count(dmt);
    dm_task_set_event_nr(dmt, *event_nr);
    if ((rc = run(dmt, "wait", name, true, err)) == 0) {
        if (dm_task_get_info(dmt, &i) && i.exists)
            *event_nr = i.event_nr;
        else
            rc = rtv_err_set(err, ENXIO, "%s is gone", name);
        dm_task_destroy(dmt);
    }
    return rc;
}

static int op_flush(void *ctx, const char *name, struct rtv_err *err)
{
    char path[PATH_MAX];
    int fd, rc = 0;

    (void)ctx;
    pthread_mutex_lock(&lock);
    snprintf(path, sizeof(path), "%s/%s", dm_dir(), name);
    pthread_mutex_unlock(&lock);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return rtv_err_set(err, errno, "opening %s to flush it: %s", path, strerror(errno));
    /* blkdev_fsync: writes back what the device's own page cache holds
     * dirty (a mounted filesystem's metadata buffers, as sync(1) would),
     * then blkdev_issue_flush: the empty flush through the target. */
    if (fsync(fd) < 0)
        rc = rtv_err_set(err, errno, "flushing %s: %s", path, strerror(errno));
    close(fd);
    return rc;
}

static void op_interrupt(void *ctx, pthread_t t)
{
    (void)ctx;
    pthread_kill(t, SIGUSR1);
}

const struct shunt_dm_ops shunt_dm_libdm_ops = {
    .info = op_info,
    .create = op_create,
    .load = op_load,
    .clear = op_clear,
    .suspend = op_suspend,
    .resume = op_resume,
    .table = op_table,
    .status = op_status,
    .message = op_message,
    .wait_event = op_wait_event,
    .leg_create = op_leg_create,
    .leg_load = op_leg_load,
    .leg_table = op_leg_table,
    .flush = op_flush,
    .interrupt = op_interrupt,
};
