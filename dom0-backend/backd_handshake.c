/*
 * rtvirt-backd's XenbusState handshake of xen/io/blkif.h, backend side, one
 * device at a time: reading what the toolstack wrote, opening the image,
 * publishing the features, connecting the rings (backd_io.c maps them),
 * taking a live ring over from a killed predecessor, and closing.
 *
 * backd_dev_update is idempotent: every watch event (ours coalesce, the
 * real xenstored's may too) rescans the backend tree (backd_scan.c) and
 * re-evaluates every device from what the store says now, publishing a
 * state only when it changes.  A device moves:
 *
 *   found --features, InitWait--> InitWait
 *   InitWait + frontend Initialised/Connected --map rings, bind--> Connected
 *   frontend Closing --drain I/O--> Closing
 *   frontend Closed --drain I/O, unmap rings--> Closed
 *   Closed + frontend Initialising again (reconnect) --> InitWait
 *   backend directory removed (toolstack detach) --drain--> freed
 *
 * The ring is unmapped only once the frontend has reached Closed (or gone),
 * never while it might still be using it.
 */
#include "backd_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rtvirt/clock.h"
#include "rtvirt/xs_util.h"

/* ---- small store helpers ------------------------------------------------------ */

/*
 * A store that fails an operation (rtv_xs_store_failed: not a node absent
 * or malformed, which is the toolstack's or the frontend's doing and is
 * reported as such) fails nobody's device at once: the device is updated
 * again BACKD_RETRY_MS later, and a setup or connect that still fails after
 * BACKD_RETRY_MAX tries in a row is reported like any attach failure.  A
 * connected device is never closed for it.  Before this, one failed read or
 * write left a device in InitWait or Closing until some other event came,
 * and blamed the frontend ("bad multi-queue-num-queues") or the toolstack
 * ("frontend node (absent)") for it (found by the seam fault sweep,
 * tests/component/test_fault_sweep.c).
 */
#define BACKD_RETRY_MAX 50

/* Schedules the retry; false once d has failed too often in a row (then
 * nothing is scheduled and the caller reports). */
static bool retry_later(struct backd_dev *d, const char *what, int rc, bool bounded)
{
    if (bounded && d->retries >= BACKD_RETRY_MAX)
        return false;
    if (d->retries++ == 0)
        backd_err("dom%u/%u: %s: %s; trying again every %d ms", d->domid, d->devid, what,
                  strerror(-rc), BACKD_RETRY_MS);
    d->retry_at = rtv_now_ms() + BACKD_RETRY_MS;
    return true;
}

/* Reads a number node of d (schema-checked); absent gives def when def_ok. */
static int rd_uint(struct backd_dev *d, enum rtv_xs_node node, unsigned queue,
                   unsigned ring, unsigned long long max, bool def_ok,
                   unsigned long long def, unsigned long long *out)
{
    return blkif_xs_read_uint(d->b->x->xs, RTV_XS_NO_TXN, &d->xd, node, queue, ring,
                              max, def_ok, def, out);
}

static int rd_str(struct backd_dev *d, enum rtv_xs_node node, char **val)
{
    return blkif_xs_read(d->b->x->xs, RTV_XS_NO_TXN, &d->xd, node, 0, 0, val, NULL);
}

/*
 * Our writes to a device's backend directory land only while the directory
 * is there: each goes in a transaction that first reads the directory's
 * state node (the toolstack writes it with the directory), as Linux's
 * xenbus_switch_state() does.  A plain write after the toolstack (or the
 * switch's tear-down of a destroyed guest's twin) removed the directory
 * would bring it back holding that one node; the next rescan would then
 * keep the device and nobody would remove it again.  Seen in make check on
 * a loaded host: the Closed of a destroyed guest's twin written just after
 * the twin was removed.  -ENOENT when the directory is gone.
 */
static int dir_present(struct rtv_store *s, rtv_txn_t t, struct backd_dev *d)
{
    char *cur = NULL;
    int rc = blkif_xs_read(s, t, &d->xd, RTV_XS_VBD_BE_STATE, 0, 0, &cur, NULL);

    free(cur);
    return rc;
}

struct dev_write {
    struct backd_dev *d;
    enum rtv_xs_node node;
    const char *val;
};

static int dev_write_txn(struct rtv_store *s, rtv_txn_t t, void *arg)
{
    const struct dev_write *w = arg;
    int rc = dir_present(s, t, w->d);

    return rc < 0 ? rc : blkif_xs_printf(s, t, &w->d->xd, w->node, 0, 0, "%s", w->val);
}

static int dev_write(struct backd_dev *d, enum rtv_xs_node node, const char *val)
{
    struct dev_write w = { d, node, val };

    return rtv_xs_transact(d->b->x->xs, 0, dev_write_txn, &w);
}

static void publish_state(struct backd_dev *d, int state)
{
    char val[8];
    int rc;

    if (d->be_state == state)
        return;
    snprintf(val, sizeof(val), "%d", state);
    rc = dev_write(d, RTV_XS_VBD_BE_STATE, val);
    if (rc == -ENOENT)
        return;     /* removed: the rescan that follows drops the device */
    if (rc < 0) {
        /* be_state stays: the next update decides the same and writes again. */
        if (rtv_xs_store_failed(rc))
            retry_later(d, "cannot write the backend state", rc, false);
        else
            backd_err("dom%u/%u: cannot write backend state: %s", d->domid, d->devid,
                      strerror(-rc));
        return;
    }
    backd_log(d->b, "dom%u/%u: backend state %d -> %d", d->domid, d->devid,
              d->be_state, state);
    d->be_state = state;
    d->retries = 0;
}

/* Attach failure: reported where tools look (as FreeBSD blkback does). */
static void report_error(struct backd_dev *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void report_error(struct backd_dev *d, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    backd_err("dom%u/%u: %s", d->domid, d->devid, msg);
    dev_write(d, RTV_XS_VBD_BE_HOTPLUG_ERROR, msg);
    dev_write(d, RTV_XS_VBD_BE_HOTPLUG_STATUS, "error");
    d->failed = true;
}

/* ---- device creation ---------------------------------------------------------- */

struct features_txn {
    struct backd_dev *d;
};

static int write_features(struct rtv_store *s, rtv_txn_t t, void *arg)
{
    struct backd_dev *d = ((struct features_txn *)arg)->d;
    const struct backd_config *c = &d->b->cfg;
    bool discard = c->discard && !d->read_only;
    int rc = dir_present(s, t, d);

    if (rc < 0)
        return rc;

#define W(node, ...) do { \
        if ((rc = blkif_xs_printf(s, t, &d->xd, RTV_XS_##node, 0, 0, __VA_ARGS__)) < 0) \
            return rc; \
    } while (0)
    W(VBD_BE_SECTORS, "%" PRIu64, d->nr_sectors);
    W(VBD_BE_SECTOR_SIZE, "%u", RTV_BLKIF_SECTOR_SIZE);
    W(VBD_BE_INFO, "%u", d->read_only ? VDISK_READONLY : 0u);
    W(VBD_BE_FEATURE_FLUSH_CACHE, "1");
    W(VBD_BE_FEATURE_BARRIER, "%d", c->barrier ? 1 : 0);
    W(VBD_BE_FEATURE_DISCARD, "%d", discard ? 1 : 0);
    if (discard) {
        W(VBD_BE_DISCARD_GRANULARITY, "%u", RTV_BLKIF_PAGE_SIZE);
        W(VBD_BE_DISCARD_ALIGNMENT, "0");
        W(VBD_BE_DISCARD_SECURE, "0");
    }
    W(VBD_BE_FEATURE_PERSISTENT, "%d", c->persistent ? 1 : 0);
    if (c->max_indirect_segs > 0)
        W(VBD_BE_FEATURE_MAX_INDIRECT_SEGMENTS, "%u", c->max_indirect_segs);
    W(VBD_BE_MULTI_QUEUE_MAX_QUEUES, "%u", c->max_queues);
    W(VBD_BE_MAX_RING_PAGE_ORDER, "%u", c->max_ring_page_order);
    W(VBD_BE_HOTPLUG_STATUS, "connected");
    W(VBD_BE_STATE, "%d", XenbusStateInitWait);
#undef W
    return 0;
}

/* Opens params (d->read_only set) and sizes it; failures are reported. */
static int open_image(struct backd_dev *d, const char *params)
{
    struct backd *b = d->b;
    struct stat st;
    int rc;

    d->fd = open(params, (d->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (d->fd < 0) {
        rc = -errno;
        report_error(d, "cannot open %s: %s", params, strerror(errno));
        return rc;
    }
    if (fstat(d->fd, &st) < 0) {
        rc = -errno;
        report_error(d, "cannot stat %s: %s", params, strerror(errno));
        return rc;
    }
    if (S_ISBLK(st.st_mode)) {
        uint64_t bytes = 0;

        if (ioctl(d->fd, BLKGETSIZE64, &bytes) < 0) {
            rc = -errno;
            report_error(d, "cannot size %s: %s", params, strerror(errno));
            return rc;
        }
        d->nr_sectors = bytes >> RTV_BLKIF_SECTOR_SHIFT;
    } else if (S_ISREG(st.st_mode)) {
        d->nr_sectors = (uint64_t)st.st_size >> RTV_BLKIF_SECTOR_SHIFT;
    } else {
        report_error(d, "%s is neither a regular file nor a block device", params);
        return -EINVAL;
    }
    backd_log(b, "dom%u/%u: serving %s (%" PRIu64 " sectors, %s)", d->domid,
              d->devid, params, d->nr_sectors, d->read_only ? "ro" : "rw");
    return 0;
}

static int dev_connect(struct backd_dev *d, bool takeover, char *why, size_t why_len);

static void dev_watch_frontend(struct backd_dev *d)
{
    snprintf(d->watch_token, sizeof(d->watch_token), "fe:%u:%u", d->domid, d->devid);
    if (blkif_xs_path(d->fe_state_path, sizeof(d->fe_state_path), &d->xd,
                      RTV_XS_VBD_FE_STATE, 0, 0) == 0 &&
        rtv_xs_watch(d->b->x->xs, d->fe_state_path, d->watch_token) == 0)
        d->fe_watched = true;
    else
        backd_err("dom%u/%u: cannot watch the frontend state", d->domid, d->devid);
}

/*
 * A device found Connected on both ends: a predecessor of ours served it
 * and was killed (or stopped).  The stock blkfront never re-initialises a
 * Connected ring for a backend that offers a new session (it ignores
 * InitWait then, blkback_changed()), and its requests on the ring wait for
 * an answer forever, so the ring is taken over as it is: mapped again from
 * the frontend's ring-ref/event-channel, its indexes and unanswered
 * requests restored from the journals (backd_journal.h).  The frontend
 * sees a stall, no error and no state change.  False: not possible (the
 * reason logged); the caller offers a new session as before.
 */
static bool dev_takeover(struct backd_dev *d)
{
    struct backd *b = d->b;
    unsigned long long fe, be;
    char why[300] = "";

    /* Closing with the frontend still Connected is live too: a close was
     * asked of the ring (xl block-detach, or the switch's tear-down of a
     * PV twin right after our start) before we adopted it.  Offering a new
     * session instead would overwrite that request with InitWait, and a
     * frontend that never closes holds the tear-down (make check,
     * kill_coordinator_at_the_gate on the dm route). */
    if (rd_uint(d, RTV_XS_VBD_BE_STATE, 0, 0, 8, false, 0, &be) < 0 ||
        (be != XenbusStateConnected && be != XenbusStateClosing) ||
        rd_uint(d, RTV_XS_VBD_FE_STATE, 0, 0, 8, false, 0, &fe) < 0 ||
        fe != XenbusStateConnected)
        return false;       /* not live: the usual handshake */
    /* Not taken over either when the store failed a read (> 0): the usual
     * handshake then. */
    if (dev_connect(d, true, why, sizeof(why)) != 0) {
        backd_err("dom%u/%u: found Connected, cannot take the ring over (%s): offering "
                  "a new session; a stock blkfront will not take it", d->domid, d->devid,
                  why[0] ? why : "see above");
        return false;
    }
    d->be_state = (int)be;  /* a close asked goes on from here (dev_update) */
    b->st.takeovers++;
    unsigned replay = 0;
    for (unsigned i = 0; i < d->nr_queues; i++)
        replay += d->q[i].replay_n;
    backd_err("dom%u/%u: took over the live ring(s) of a previous rtvirt-backd: %u "
              "queue(s), %u unanswered request(s) to serve again", d->domid, d->devid,
              d->nr_queues, replay);
    for (unsigned i = 0; i < d->nr_queues; i++) {
        /* The predecessor may have died between a response and its
         * notification: tell the frontend to look. */
        b->x->evtchn->ops->notify(b->x->evtchn, d->q[i].port);
        backd_queue_kick(&d->q[i]);
    }
    return true;
}

/*
 * rtvirt-backd --orphans close (backd.h, fail_rings): the daemon that
 * served d is gone for good.  The image is fdatasync'ed first (what that
 * daemon wrote reaches the disk, so a flush on the ring can be answered
 * truthfully); a live ring is taken over as a restarted daemon would, which
 * answers every request on it without executing it (serve_request); then
 * the vbd is closed as libxl's detach does (online = 0, Closing), so the
 * guest's blkfront fails whatever comes next, and it is Closed once the
 * frontend is (backd_dev_update).  Always 1: set up, one way or the other.
 */
static int dev_setup_failing(struct backd_dev *d)
{
    struct backd *b = d->b;
    int rc;

    d->synced = fdatasync(d->fd) == 0;
    if (!d->synced)
        backd_err("dom%u/%u: fdatasync of the image failed (%s): flushes on its ring "
                  "are answered with an error too", d->domid, d->devid, strerror(errno));
    d->set_up = true;
    d->retries = 0;
    if (!dev_takeover(d)) {      /* backd_new made sure state_dir is set */
        backd_journal_remove_dev(b->cfg.state_dir, d->domid, d->devid);
        backd_err("dom%u/%u: no live ring to answer (not Connected on both ends, or no "
                  "journal); closing the vbd", d->domid, d->devid);
    } else {
        backd_err("dom%u/%u: its daemon is gone for good: %llu request(s) so far answered "
                  "without being executed; closing the vbd", d->domid, d->devid,
                  b->st.unexecuted);
    }
    dev_watch_frontend(d);
    rc = blkif_xs_close(b->x->xs, &d->xd);
    if (rc == 0)
        d->be_state = XenbusStateClosing;
    else if (rc != -ENOENT)
        backd_err("dom%u/%u: cannot close the vbd: %s (tried again on its next event)",
                  d->domid, d->devid, strerror(-rc));
    return 1;
}

struct backd_dev *backd_dev_new(struct backd *b, rtv_domid_t domid, unsigned devid)
{
    struct backd_dev *d = calloc(1, sizeof(*d));

    if (d == NULL)
        return NULL;
    d->b = b;
    d->domid = domid;
    d->devid = devid;
    d->fd = -1;
    d->be_state = -1;
    d->xd = (struct blkif_xs_dev){ b->x->self, domid, devid, BLKIF_XS_BTYPE };
    /* Where the frontend must be: the directory of its state node. */
    if (rtv_xs_dir(d->fe_path, sizeof(d->fe_path), RTV_XS_VBD_FE_STATE,
                   &(struct rtv_xs_args){ .domid = domid, .devid = devid }, NULL) < 0)
        d->fe_path[0] = '\0';
    for (unsigned i = 0; i < BLKIF_XS_MAX_QUEUES; i++) {
        d->q[i].dev = d;
        d->q[i].idx = i;
    }
    d->next = b->devs;
    b->devs = d;
    b->st.devices++;
    return d;
}

/* The store failed a setup step: 0 when it is tried again later, -1 when
 * it failed too often (reported, Closing). */
static int setup_store_failed(struct backd_dev *d, const char *what, int rc)
{
    if (retry_later(d, what, rc, true))
        return 0;
    report_error(d, "%s: %s (the store failed %d times in a row)", what, strerror(-rc),
                 BACKD_RETRY_MAX);
    publish_state(d, XenbusStateClosing);
    return -1;
}

static int setup_failed(struct backd_dev *d)
{
    publish_state(d, XenbusStateClosing);
    return -1;
}

/* Reads what the toolstack wrote, opens the image, publishes the features
 * and InitWait: 1 done, 0 the store failed (tried again later), -1 failed
 * (reported, Closing). */
static int dev_setup(struct backd_dev *d)
{
    struct backd *b = d->b;
    unsigned long long fid;
    char *fe = NULL, *params = NULL, *mode = NULL;
    int rc;

    /* The toolstack wrote these; still, a path we would watch and read
     * ring references from must be exactly the one blkif.h implies. */
    rc = rd_str(d, RTV_XS_VBD_BE_FRONTEND, &fe);
    if (rtv_xs_store_failed(rc))
        return setup_store_failed(d, "cannot read the frontend node", rc);
    if (rc < 0 || strcmp(fe, d->fe_path) != 0) {
        report_error(d, "frontend node %s is not %s", rc < 0 ? "(absent)" : fe,
                     d->fe_path);
        free(fe);
        return setup_failed(d);
    }
    free(fe);
    rc = rd_uint(d, RTV_XS_VBD_BE_FRONTEND_ID, 0, 0, RTV_DOMID_MAX, false, 0, &fid);
    if (rtv_xs_store_failed(rc))
        return setup_store_failed(d, "cannot read frontend-id", rc);
    if (rc < 0 || fid != d->domid) {
        report_error(d, "frontend-id does not name domain %u", d->domid);
        return setup_failed(d);
    }
    rc = rd_str(d, RTV_XS_VBD_BE_PARAMS, &params);
    if (rtv_xs_store_failed(rc))
        return setup_store_failed(d, "cannot read params", rc);
    if (rc < 0) {
        report_error(d, "cannot read params: %s", strerror(-rc));
        return setup_failed(d);
    }
    rc = rd_str(d, RTV_XS_VBD_BE_MODE, &mode);
    if (rtv_xs_store_failed(rc)) {
        free(params);
        return setup_store_failed(d, "cannot read mode", rc);
    }
    if (rc < 0 && rc != -ENOENT) {
        report_error(d, "mode is neither r nor w");
        free(params);
        return setup_failed(d);
    }
    d->read_only = rc == 0 && strcmp(mode, "r") == 0;
    free(mode);
    rc = open_image(d, params);
    free(params);
    if (rc < 0)
        return setup_failed(d);
    if (b->cfg.fail_rings)
        return dev_setup_failing(d);
    if (b->cfg.state_dir != NULL) {
        if (dev_takeover(d)) {
            d->set_up = true;
            d->retries = 0;
            dev_watch_frontend(d);
            return 1;
        }
        backd_journal_remove_dev(b->cfg.state_dir, d->domid, d->devid);
    }
    struct features_txn ft = { d };
    rc = rtv_xs_transact(b->x->xs, 0, write_features, &ft);
    if (rtv_xs_store_failed(rc)) {
        close(d->fd);          /* opened again by the retry */
        d->fd = -1;
        return setup_store_failed(d, "cannot publish features", rc);
    }
    if (rc < 0) {
        report_error(d, "cannot publish features: %s", strerror(-rc));
        return setup_failed(d);
    }
    d->set_up = true;
    d->retries = 0;
    d->be_state = XenbusStateInitWait;
    dev_watch_frontend(d);
    backd_log(b, "dom%u/%u: new device, InitWait", d->domid, d->devid);
    return 1;
}

void backd_dev_free(struct backd_dev *d)
{
    struct backd *b = d->b;

    /* A daemon that stops leaves the rings live (the frontends stay
     * Connected) and their journals for the next incarnation to take over;
     * a device that goes takes its journals with it. */
    for (unsigned i = 0; i < d->nr_queues; i++)
        backd_queue_disconnect(&d->q[i], b->stopping);
    backd_pgnt_flush(d);
    free(d->pg);
    if (d->fe_watched)
        rtv_xs_unwatch(b->x->xs, d->fe_state_path, d->watch_token);
    if (d->fd >= 0)
        close(d->fd);
    for (struct backd_dev **pp = &b->devs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    }
    b->st.devices--;
    backd_log(b, "dom%u/%u: device removed", d->domid, d->devid);
    free(d);
}

/* ---- connect ------------------------------------------------------------------- */

/* The store failed a read of the frontend's connect nodes: 1 when tried
 * again later, or -EIO when it failed too often (reported). */
static int connect_store_failed(struct backd_dev *d, const char *what, int rc)
{
    if (retry_later(d, what, rc, true))
        return 1;
    report_error(d, "%s: %s (the store failed %d times in a row)", what, strerror(-rc),
                 BACKD_RETRY_MAX);
    return -EIO;
}

/* Reads queue qi's ring references and event channel (the top-level nodes
 * for a single queue, queue-N/ ones with multi-queue) and connects it. */
static int connect_queue(struct backd_dev *d, struct backd_queue *q, unsigned qi,
                         bool multi, unsigned order, bool takeover, char *why,
                         size_t why_len)
{
    rtv_gref_t refs[BLKIF_XS_MAX_RING_PAGES];
    unsigned long long v;
    unsigned n = 1u << order;
    enum rtv_xs_node ref_node = multi ? (order ? RTV_XS_VBD_FE_QUEUE_RING_REFN
                                               : RTV_XS_VBD_FE_QUEUE_RING_REF)
                                      : (order ? RTV_XS_VBD_FE_RING_REFN
                                               : RTV_XS_VBD_FE_RING_REF);
    enum rtv_xs_node evt_node = multi ? RTV_XS_VBD_FE_QUEUE_EVENT_CHANNEL
                                      : RTV_XS_VBD_FE_EVENT_CHANNEL;
    int rc;

    for (unsigned i = 0; i < n; i++) {
        rc = rd_uint(d, ref_node, qi, i, UINT32_MAX, false, 0, &v);
        if (rtv_xs_store_failed(rc))
            return connect_store_failed(d, "cannot read the ring references", rc);
        if (rc < 0) {
            report_error(d, "queue %u: bad or missing ring-ref%s (%s)", qi,
                         order ? "N" : "", strerror(-rc));
            return rc;
        }
        refs[i] = (rtv_gref_t)v;
    }
    rc = rd_uint(d, evt_node, qi, 0, UINT32_MAX, false, 0, &v);
    if (rtv_xs_store_failed(rc))
        return connect_store_failed(d, "cannot read the event channel", rc);
    if (rc < 0) {
        report_error(d, "queue %u: bad or missing event-channel (%s)", qi, strerror(-rc));
        return rc;
    }
    rc = backd_queue_connect(q, refs, n, (rtv_port_t)v, takeover, why, why_len);
    if (rc < 0 && !takeover)
        report_error(d, "queue %u: cannot map ring or bind event channel: %s", qi,
                     strerror(-rc));
    return rc;
}

/* takeover: the rings are live (a killed predecessor served them); a
 * failure is not reported as the device's (the caller falls back to a new
 * session) and why[] says what was missing. */
static int dev_connect(struct backd_dev *d, bool takeover, char *why, size_t why_len)
{
    struct backd *b = d->b;
    unsigned long long nq, order, pers;
    char *proto = NULL;
    int rc;

    rc = rd_str(d, RTV_XS_VBD_FE_PROTOCOL, &proto);
    if (rtv_xs_store_failed(rc))
        return connect_store_failed(d, "cannot read the protocol", rc);
    if (rc == -EINVAL || (rc == 0 && strcmp(proto, XEN_IO_PROTO_ABI_NATIVE) != 0)) {
        report_error(d, "unsupported protocol \"%s\"", proto ? proto : "(invalid)");
        free(proto);
        return -EPROTONOSUPPORT;
    }
    free(proto);
    rc = rd_uint(d, RTV_XS_VBD_FE_MULTI_QUEUE_NUM_QUEUES, 0, 0, b->cfg.max_queues, true, 1,
                 &nq);
    if (rtv_xs_store_failed(rc))
        return connect_store_failed(d, "cannot read multi-queue-num-queues", rc);
    if (rc < 0 || nq == 0) {
        report_error(d, "bad multi-queue-num-queues (max %u)", b->cfg.max_queues);
        return -EINVAL;
    }
    rc = rd_uint(d, RTV_XS_VBD_FE_RING_PAGE_ORDER, 0, 0, b->cfg.max_ring_page_order, true, 0,
                 &order);
    if (rtv_xs_store_failed(rc))
        return connect_store_failed(d, "cannot read ring-page-order", rc);
    if (rc < 0) {
        report_error(d, "bad ring-page-order (max %u)", b->cfg.max_ring_page_order);
        return rc;
    }
    rc = rd_uint(d, RTV_XS_VBD_FE_FEATURE_PERSISTENT, 0, 0, 1, true, 0, &pers);
    if (rtv_xs_store_failed(rc))
        return connect_store_failed(d, "cannot read feature-persistent", rc);
    if (rc < 0)
        pers = 0;    /* a garbled optional feature is just not negotiated */
    d->persistent = b->cfg.persistent && pers == 1;

    d->nr_queues = 0;
    d->quiescing = false;
    for (unsigned i = 0; i < nq; i++) {
        rc = connect_queue(d, &d->q[i], i, nq > 1, (unsigned)order, takeover, why,
                           why_len);
        if (rc != 0) {
            /* A takeover given up keeps the journals it opened: the caller
             * removes them all once it has decided. */
            for (unsigned j = 0; j < i; j++)
                backd_queue_disconnect(&d->q[j], takeover);
            return rc;
        }
        d->nr_queues = i + 1;
    }

    d->lim.nr_sectors = d->nr_sectors;
    d->lim.read_only = d->read_only;
    d->lim.flush = true;
    d->lim.barrier = b->cfg.barrier;
    d->lim.discard = b->cfg.discard && !d->read_only;
    d->lim.max_indirect_segs = b->cfg.max_indirect_segs;
    if (d->persistent && d->pg == NULL) {
        d->nr_pg = b->cfg.max_persistent_grants * 4 / 3 + 1;
        d->pg = calloc(d->nr_pg, sizeof(*d->pg));
        if (d->pg == NULL)
            d->persistent = false;
    }
    b->st.connects++;
    d->retries = 0;
    backd_log(b, "dom%u/%u: connected: %u queue(s), ring order %llu, persistent %d",
              d->domid, d->devid, d->nr_queues, order, d->persistent);
    return 0;
}

/* Stops taking requests and drops the rings once nothing is in flight.
 * Returns false while I/O is still running (we are called again then). */
static bool dev_quiesce_disconnect(struct backd_dev *d)
{
    d->quiescing = true;             /* take nothing new off the ring */
    if (backd_dev_inflight(d) > 0) {
        d->update_pending = true;
        return false;
    }
    for (unsigned i = 0; i < d->nr_queues; i++)
        backd_queue_disconnect(&d->q[i], false);
    d->nr_queues = 0;
    backd_pgnt_flush(d);
    return true;
}

/* When failing the rings of a daemon gone for good: a frontend that closes
 * may have put requests on its ring since we last looked (Linux blkfront
 * says Closed without waiting for them), and nobody else will ever answer
 * them; they are answered (not executed) before the ring goes. */
static void answer_before_closing(struct backd_dev *d)
{
    for (unsigned i = 0; d->b->cfg.fail_rings && !d->quiescing && i < d->nr_queues; i++)
        backd_queue_kick(&d->q[i]);
}

void backd_dev_update(struct backd_dev *d)
{
    unsigned long long fe, online, be;
    bool fe_read;
    int rc;

    d->update_pending = false;
    d->retry_at = 0;                 /* this is the retry, if one was due */
    if (d->gone) {
        if (dev_quiesce_disconnect(d))
            backd_dev_free(d);
        return;
    }
    if (!d->set_up && !d->failed && dev_setup(d) == 0)
        return;                      /* the store failed: tried again later */
    rc = rd_uint(d, RTV_XS_VBD_FE_STATE, 0, 0, 8, false, 0, &fe);
    fe_read = rc == 0;
    if (rc == -ENOENT || rc == -EINVAL || rc == -ERANGE) {
        fe = XenbusStateClosed;     /* frontend gone (or garbage): treat as Closed */
    } else if (rc < 0) {
        /* The store failed us, not the frontend: decide nothing now, look
         * again shortly (never closing a device for it). */
        retry_later(d, "cannot read the frontend state", rc, false);
        return;
    }
    /* Absent means 0, as the schema (and Linux blkback) say; a store that
     * fails the read takes nothing offline. */
    if (rd_uint(d, RTV_XS_VBD_BE_ONLINE, 0, 0, 1, true, 0, &online) < 0)
        online = 1;
    /* xl block-detach writes our state node to Closing itself. */
    if (rd_uint(d, RTV_XS_VBD_BE_STATE, 0, 0, 8, false, 0, &be) == 0 &&
        (int)be != d->be_state && be == XenbusStateClosing)
        d->be_state = XenbusStateClosing;

    if (d->b->cfg.fail_rings && d->be_state != XenbusStateClosing &&
        d->be_state != XenbusStateClosed && blkif_xs_close(d->b->x->xs, &d->xd) == 0)
        d->be_state = XenbusStateClosing;   /* dev_setup_failing could not write it */
    switch (fe) {
    case XenbusStateInitialising:
        /* A frontend starting (again) after we closed: offer a new session
         * (never when failing the rings of a daemon gone for good). */
        if ((d->be_state == XenbusStateClosed || d->be_state == XenbusStateConnected) &&
            online && !d->failed && !d->b->cfg.fail_rings) {
            if (!dev_quiesce_disconnect(d))
                return;
            publish_state(d, XenbusStateInitWait);
        }
        break;
    case XenbusStateInitialised:
    case XenbusStateConnected:
        if (d->be_state == XenbusStateInitWait && !d->failed && online &&
            fe == XenbusStateInitialised) {
            char why[8] = "";

            /* Connected already when only the state write failed before. */
            rc = d->nr_queues == 0 ? dev_connect(d, false, why, sizeof(why)) : 0;
            if (rc > 0)
                break;               /* the store failed: tried again later */
            if (rc < 0) {
                publish_state(d, XenbusStateClosing);
                break;
            }
            publish_state(d, XenbusStateConnected);
            for (unsigned i = 0; i < d->nr_queues; i++)
                backd_queue_kick(&d->q[i]);
        }
        /* A frontend still Connected to a ring we could not take over
         * (dev_setup: no journal) must re-initialise first: we wait in
         * InitWait. */
        break;
    case XenbusStateClosing:
        answer_before_closing(d);
        if (!dev_quiesce_disconnect(d))
            return;
        publish_state(d, XenbusStateClosing);
        break;
    case XenbusStateClosed:
    case XenbusStateUnknown:
        answer_before_closing(d);
        if (!dev_quiesce_disconnect(d))
            return;
        /* Said before the backend's own Closed, so the log proves the order
         * (the lab's detach check reads it: polling the store misses the
         * frontend's Closed, which libxl removes moments later). */
        if (d->be_state != XenbusStateClosed)
            backd_log(d->b, "dom%u/%u: frontend %s", d->domid, d->devid,
                      fe_read ? (fe == XenbusStateClosed ? "Closed" : "Unknown")
                              : "gone or unreadable");
        publish_state(d, XenbusStateClosed);
        break;
    default:
        /* Reconfiguring/Reconfigured: not part of blkif; nothing to do. */
        break;
    }
}

void backd_dev_update_drained(struct backd *b)
{
    for (struct backd_dev *d = b->devs, *next; d != NULL; d = next) {
        next = d->next;
        if (d->update_pending && backd_dev_inflight(d) == 0)
            backd_dev_update(d);    /* may free d */
    }
}
