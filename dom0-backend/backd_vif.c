/*
 * The dom0 side of the NIC switch inside rtvirt-backd; see backd_vif.h.
 *
 * One slot per managed NIC (domain, devid of the emulated NIC) that has had
 * a PV leg: its pv-devid and the xl job running for it, if any.  The store
 * is the truth (pv-devid, the vif's backend directory): a slot only caches
 * it, and a restarted daemon rebuilds it from there.
 */
#include "backd_vif.h"
#include "backd_vif_pin.h"
#include "backd_vif_txq.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rtvirt/clock.h"
#include "rtvirt/coordinator.h"
#include "rtvirt/devclass.h"
#include "rtvirt/log.h"
#include "rtvirt/xs_schema.h"
#include "rtvirt/xs_util.h"

#include <xen/io/xenbus.h>

#define MAX_NICS   64
#define DEVID_SPAN 1000u
#define RETRY_MS   1000u
#define PATH_LEN   256

enum job { JOB_NONE, JOB_ATTACH, JOB_DETACH };

/* Whose entry it is: a slot and a pin both open with it, and are found by
 * it (nic_find). */
struct nic_ref {
    bool        used;
    rtv_domid_t dom;
    char        key[12];        /* the emulated NIC's devid */
};

/* A NIC's PV leg as xl makes and unmakes it. */
struct slot {
    struct nic_ref nic;         /* first: nic_find */
    unsigned    pvdevid;
    bool        known;          /* pvdevid is this NIC's PV leg */
    enum job    job;
    pid_t       pid;
    int         outfd;          /* xl's stdout+stderr */
    char        out[512];       /* its last words */
    size_t      outlen;
    bool        want_down;      /* tear_down asked and not done */
    bool        keep_up;        /* kept (ad_keep) while xl took it down: attach it again */
    bool        reattach;       /* the attach running is that one */
    bool        up_pending;     /* bring_up asked while xl was still at work on the NIC */
    char        mac[24];        /* the PV vif's MAC (bring_up's) */
    uint64_t    retry_at;       /* next detach attempt */
    bool        gate_pending;   /* the port was not forwarding yet */
    bool        hotplug_wait;   /* an earlier incarnation's xl is still bringing the
                                   PV vif up: READY once its hotplug-status says so */
    uint32_t    gate_id;        /* for this switch */
    uint64_t    gate_t0;        /* since (us) */
};

/* A NIC whose bridge ports' learning rtvirt-backd sets (backd_vif_pin.h). */
struct pin {
    struct nic_ref nic;         /* first: nic_find */
    bool        seen;
    bool        gate_ok;        /* the gate of switch gate_id passed */
    uint32_t    gate_id;
    char        tap[32];        /* its emulated leg's port, learning off */
    bool        tap_off;
    bool        warned;         /* a failed write said once */
    unsigned    pv_devid;       /* its PV leg's devid read from the store (0: not read):
                                   a restarted daemon's, until a switch of its own */
    unsigned    txq_was;        /* the tap's tx_queue_len before the bound (0: untouched) */
    bool        txq_warned;
};

struct backd_vif {
    struct rtv_store       *co_xs, *xs;
    struct rtv_coordinator *co;
    rtv_domid_t             bedomid;
    unsigned                next;
    char                    xl[128];
    char                    sysfs[128];
    struct slot             slot[MAX_NICS];
    struct pin              pin[MAX_NICS];
    bool                    pin_on;         /* backd_vif_set_pin */
    unsigned                txq_max;        /* backd_vif_set_tap_queue; 0: leave */
    char                    state_dir[128]; /* backd_vif_set_state_dir; "": none */
    struct rtv_log_sink     log;
    uint64_t                now;
};

#define vlog(v, ...) rtv_logf(&(v)->log, "rtvirt-backd: vif", __VA_ARGS__)

/* ---- store ------------------------------------------------------------------ */

static int ctl_path(char *buf, enum rtv_role role, rtv_domid_t dom, const char *key)
{
    return rtv_devclass_path(&rtv_devclass_vif, role, dom, key, buf, PATH_LEN, NULL);
}

/* A node of the PV vif (section 3b) or the NIC's bridge node. */
static int vif_path(struct backd_vif *v, char *buf, enum rtv_xs_node node, rtv_domid_t dom,
                    unsigned long long devid)
{
    struct rtv_xs_args a = { .bedomid = v->bedomid, .domid = dom, .devid = devid };
    return rtv_xs_path(buf, PATH_LEN, node, &a, NULL);
}

/* path's value, or NULL with *rc: -ENOENT (absent) or the store's failure
 * (which must not be reported as an absent node). */
static char *read_val(struct backd_vif *v, const char *path, int *rc)
{
    char *val = NULL;
    size_t n;

    *rc = rtv_xs_read(v->xs, RTV_XS_NO_TXN, path, &val, &n);
    return *rc == 0 ? val : NULL;
}

/* err for a node read_val() did not return: absent, or unreadable. */
static int node_err(struct rtv_err *err, const char *id, int rc)
{
    if (rc == -ENOENT)
        return rtv_err_set(err, ENOENT, "node %s: absent", id);
    return rtv_err_set(err, -rc, "cannot read node %s: %s", id, strerror(-rc));
}

static bool exists(struct backd_vif *v, const char *path)
{
    char **ents;
    unsigned n;

    if (rtv_xs_directory(v->xs, RTV_XS_NO_TXN, path, &ents, &n) < 0)
        return false;
    free(ents);
    return true;
}

/* The directory of the PV vif's backend / frontend, from a node in it. */
static void vif_dir(struct backd_vif *v, char *buf, enum rtv_xs_node node, rtv_domid_t dom,
                    unsigned devid)
{
    struct rtv_xs_args a = { .bedomid = v->bedomid, .domid = dom, .devid = devid };
    rtv_xs_dir(buf, PATH_LEN, node, &a, NULL);
}

static bool read_pvdevid(struct backd_vif *v, rtv_domid_t dom, const char *key,
                         unsigned *devid)
{
    char p[PATH_LEN];
    unsigned long long n;

    if (ctl_path(p, RTV_R_BACKEND_ID, dom, key) < 0 ||
        rtv_xs_read_uint(v->xs, RTV_XS_NO_TXN, p, 2147483647ull, &n) < 0)
        return false;
    *devid = (unsigned)n;
    return true;
}

/* The PV vif is closing or closed: libxl's remove (xl network-detach)
 * writes its backend's state Closing (and online = 0) before it waits for
 * the vif to close (libxl__initiate_device_generic_remove), and netback
 * answers Closed once the frontend closed.  A detach that failed after
 * that leaves the vif so, and it carries no packet again: xen-netfront
 * closes once it sees its backend Closing and connects again only from
 * Initialising (netback_changed()), which it never returns to.  A store
 * that fails says no. */
static bool leg_closing(struct backd_vif *v, rtv_domid_t dom, unsigned devid)
{
    char p[PATH_LEN];
    unsigned long long st;

    if (vif_path(v, p, RTV_XS_VIF_BE_STATE, dom, devid) < 0 ||
        rtv_xs_read_uint(v->xs, RTV_XS_NO_TXN, p, 8, &st) < 0)
        return false;
    return st == XenbusStateClosing || st == XenbusStateClosed;
}

static bool domain_alive(struct backd_vif *v, rtv_domid_t dom)
{
    char p[64];
    snprintf(p, sizeof(p), "/local/domain/%u", (unsigned)dom);
    return exists(v, p);
}

/* A devid free on both sides: the guest's device/vif (its own NICs) and our
 * backend/vif.  The counter goes round, so a devid is not reused while a
 * frontend may still be closing the device that had it. */
static int pick_devid(struct backd_vif *v, rtv_domid_t dom, unsigned *devid)
{
    char be[PATH_LEN], fe[PATH_LEN];

    for (unsigned tries = 0; tries < DEVID_SPAN; tries++) {
        unsigned id = BACKD_VIF_DEVID_BASE + v->next;

        v->next = (v->next + 1) % DEVID_SPAN;
        vif_dir(v, be, RTV_XS_VIF_BE_STATE, dom, id);
        vif_dir(v, fe, RTV_XS_VIF_FE_STATE, dom, id);
        if (!exists(v, be) && !exists(v, fe)) {
            *devid = id;
            return 0;
        }
    }
    return -ENOSPC;
}

/* ---- slots and xl jobs -------------------------------------------------------- */

/* The entry of dom's NIC key in a table of MAX_NICS entries of stride
 * bytes that each open with a struct nic_ref; or, with create, a free one
 * zeroed and given to it; else NULL. */
static struct nic_ref *nic_find(struct nic_ref *first, size_t stride, rtv_domid_t dom,
                                const char *key, bool create, bool *created)
{
    struct nic_ref *free_ref = NULL;

    for (unsigned i = 0; i < MAX_NICS; i++) {
        struct nic_ref *r = (struct nic_ref *)((char *)first + i * stride);
        if (r->used && r->dom == dom && strcmp(r->key, key) == 0)
            return r;
        if (!r->used && free_ref == NULL)
            free_ref = r;
    }
    if (!create || free_ref == NULL)
        return NULL;
    *created = true;
    memset(free_ref, 0, stride);
    free_ref->used = true;
    free_ref->dom = dom;
    snprintf(free_ref->key, sizeof(free_ref->key), "%s", key);
    return free_ref;
}

static struct slot *slot_get(struct backd_vif *v, rtv_domid_t dom, const char *key,
                             bool create)
{
    bool created = false;
    struct slot *s = (struct slot *)nic_find(&v->slot[0].nic, sizeof(v->slot[0]), dom, key,
                                             create, &created);

    if (created)
        s->outfd = -1;
    return s;
}

static void slot_release(struct slot *s)
{
    if (s->job == JOB_NONE && !s->gate_pending && !s->hotplug_wait)
        s->nic.used = false;
}

/* Runs v->xl with args (NULL-terminated), its output into s->out. */
static int spawn(struct backd_vif *v, struct slot *s, enum job job, char *const args[])
{
    char *argv[12];
    int fds[2];
    pid_t pid;
    unsigned n = 0;

    argv[n++] = v->xl;
    for (unsigned i = 0; args[i] != NULL && n < 11; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    if ((pid = fork()) < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return -e;
    }
    if (pid == 0) {
        /* The child: xl talks to libxl, which waits for the hotplug
         * script; nothing of ours is touched here but stdio. */
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, STDIN_FILENO);
        execvp(argv[0], argv);
        dprintf(STDERR_FILENO, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    s->pid = pid;
    s->outfd = fds[0];
    s->outlen = 0;
    s->out[0] = '\0';
    s->job = job;
    return 0;
}

/* Keeps the last bytes xl said (its error comes last). */
static void drain(struct slot *s)
{
    char buf[256];
    ssize_t n;

    /* buf is smaller than out: a read never replaces all of it. */
    _Static_assert(sizeof(buf) < sizeof(((struct slot *)0)->out), "drain's buffers");
    while (s->outfd >= 0 && (n = read(s->outfd, buf, sizeof(buf))) > 0) {
        size_t keep = sizeof(s->out) - 1;
        if (s->outlen + (size_t)n > keep) {
            size_t drop = s->outlen + (size_t)n - keep;
            memmove(s->out, s->out + drop, s->outlen - drop);
            s->outlen -= drop;
        }
        memcpy(s->out + s->outlen, buf, (size_t)n);
        s->outlen += (size_t)n;
        s->out[s->outlen] = '\0';
    }
    for (char *c = s->out; *c; c++)
        if (*c == '\n')
            *c = ' ';
}

static int start_detach(struct backd_vif *v, struct slot *s)
{
    char dom[16], devid[16];
    char *args[] = { "network-detach", dom, devid, NULL };
    int rc;

    snprintf(dom, sizeof(dom), "%u", (unsigned)s->nic.dom);
    snprintf(devid, sizeof(devid), "%u", s->pvdevid);
    if ((rc = spawn(v, s, JOB_DETACH, args)) < 0) {
        vlog(v, "dom%u vif/%s: cannot run %s network-detach: %s (retrying)",
             (unsigned)s->nic.dom, s->nic.key, v->xl, strerror(-rc));
        s->retry_at = v->now + RETRY_MS;
        return rc;
    }
    vlog(v, "dom%u vif/%s: %s network-detach %u %u", (unsigned)s->nic.dom, s->nic.key, v->xl,
         (unsigned)s->nic.dom, s->pvdevid);
    return 0;
}

/* The PV leg is gone (or never was): forget it and tell the coordinator. */
static void closed(struct backd_vif *v, struct slot *s)
{
    char p[PATH_LEN];
    rtv_domid_t dom = s->nic.dom;
    char key[sizeof(s->nic.key)];

    snprintf(key, sizeof(key), "%s", s->nic.key);
    if (ctl_path(p, RTV_R_BACKEND_ID, dom, key) == 0 && domain_alive(v, dom)) {
        int rc = rtv_xs_rm(v->xs, RTV_XS_NO_TXN, p);
        if (rc < 0 && rc != -ENOENT)
            vlog(v, "dom%u vif/%s: cannot remove pv-devid: %s", (unsigned)dom, key,
                 strerror(-rc));
    }
    s->known = false;
    s->want_down = false;
    slot_release(s);
    rtv_coordinator_backend_event(v->co, dom, key, RTV_FSM_EV_BACKEND_CLOSED, NULL, v->now);
}

static void attach_done(struct backd_vif *v, struct slot *s, int status)
{
    char p[PATH_LEN], msg[700];
    char *hp = NULL;
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;

    /* xl's exit status alone is not the answer: an attach of a devid an
     * earlier incarnation's xl made fails with "exists", and the vif is
     * there and connected all the same. */
    int hrc = -ENOENT;
    if (vif_path(v, p, RTV_XS_VIF_BE_HOTPLUG_STATUS, s->nic.dom, s->pvdevid) == 0)
        hp = read_val(v, p, &hrc);
    if (!ok && hp != NULL && strcmp(hp, "connected") == 0)
        vlog(v, "dom%u vif/%s: xl network-attach failed (%.200s) but vif %u is there and "
             "connected: taking it", (unsigned)s->nic.dom, s->nic.key, s->out, s->pvdevid);
    ok = hp != NULL && strcmp(hp, "connected") == 0;
    bool again = s->reattach;
    s->reattach = false;
    if (s->want_down) {
        /* Called off meanwhile: take away whatever xl made. */
        free(hp);
        start_detach(v, s);
        return;
    }
    if (ok) {
        free(hp);
        vlog(v, "dom%u vif/%s: PV vif %u up (vif%u.%u on the bridge)", (unsigned)s->nic.dom,
             s->nic.key, s->pvdevid, (unsigned)s->nic.dom, s->pvdevid);
        rtv_coordinator_backend_event(v->co, s->nic.dom, s->nic.key, RTV_FSM_EV_BACKEND_READY,
                                      NULL, v->now);
        return;
    }
    if (WIFEXITED(status))
        snprintf(msg, sizeof(msg), "xl network-attach of vif %u exited %d (hotplug-status "
                 "%s): %.400s", s->pvdevid, WEXITSTATUS(status),
                 hp ? hp : hrc == -ENOENT ? "absent" : "unreadable: the store failed",
                 s->out[0] ? s->out : "no output");
    else
        snprintf(msg, sizeof(msg), "xl network-attach of vif %u killed by signal %d: %.400s",
                 s->pvdevid, WIFSIGNALED(status) ? WTERMSIG(status) : 0, s->out);
    /* A daemon killed during a bring-up leaves its xl running; the next
     * one's attach of the same devid fails at once ("device already exists
     * in xenstore") while that xl still waits for the hotplug script (lab,
     * net12-1: rolled back at once).  The vif is on its way: wait for its
     * hotplug-status, within the coordinator's bound. */
    char be[PATH_LEN];
    vif_dir(v, be, RTV_XS_VIF_BE_STATE, s->nic.dom, s->pvdevid);
    if (!again && hp == NULL && hrc == -ENOENT && strstr(s->out, "already exists") != NULL &&
        exists(v, be)) {
        s->hotplug_wait = true;
        vlog(v, "dom%u vif/%s: vif %u is still being brought up by an earlier xl (%.200s): "
             "waiting for its hotplug script", (unsigned)s->nic.dom, s->nic.key, s->pvdevid,
             s->out);
        return;
    }
    free(hp);
    vlog(v, "dom%u vif/%s: %s", (unsigned)s->nic.dom, s->nic.key, msg);
    if (again) {
        closed(v, s);   /* the kept vif is no more: the next switch brings one up */
        return;
    }
    /* The coordinator answers FAILED with a tear-down (it may have left a
     * half-made vif, which the detach removes). */
    rtv_coordinator_backend_event(v->co, s->nic.dom, s->nic.key, RTV_FSM_EV_BACKEND_FAILED,
                                  msg, v->now);
}

static int start_attach(struct backd_vif *v, struct slot *s, struct rtv_err *err);

static void detach_done(struct backd_vif *v, struct slot *s, int status)
{
    char be[PATH_LEN];
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;

    vif_dir(v, be, RTV_XS_VIF_BE_STATE, s->nic.dom, s->pvdevid);
    if (s->keep_up && domain_alive(v, s->nic.dom) && !exists(v, be)) {
        struct rtv_err err = {0};

        s->keep_up = false;
        s->reattach = true;
        vlog(v, "dom%u vif/%s: PV vif %u gone after it was kept: attaching it again",
             (unsigned)s->nic.dom, s->nic.key, s->pvdevid);
        if (start_attach(v, s, &err) == 0)
            return;
        vlog(v, "dom%u vif/%s: %s", (unsigned)s->nic.dom, s->nic.key, err.msg);
        closed(v, s);   /* none: the next switch to pv brings one up */
        return;
    }
    if (!domain_alive(v, s->nic.dom) || !exists(v, be)) {
        vlog(v, "dom%u vif/%s: PV vif %u gone%s", (unsigned)s->nic.dom, s->nic.key, s->pvdevid,
             ok ? "" : " (xl failed, but the domain or the vif is gone)");
        closed(v, s);
        return;
    }
    vlog(v, "dom%u vif/%s: xl network-detach of vif %u %s (%.300s); retrying",
         (unsigned)s->nic.dom, s->nic.key, s->pvdevid, ok ? "left its backend" : "failed",
         s->out[0] ? s->out : "no output");
    /* Kept while xl ran (ad_keep), and xl left it closing: the kept leg is
     * dead, so it goes after all and keep_up attaches a fresh one. */
    if (s->keep_up && leg_closing(v, s->nic.dom, s->pvdevid))
        s->want_down = true;
    if (s->want_down)
        s->retry_at = v->now + RETRY_MS;
}

static void start_pending(struct backd_vif *v, rtv_domid_t dom, const char *key,
                          const char *mac);

/* The vif an earlier xl brings up (attach_done): READY once its hotplug
 * script connected it, FAILED if it says otherwise or the vif went; the
 * coordinator's bound calls the wait off (tear_down). */
static void hotplug_poll(struct backd_vif *v, struct slot *s)
{
    char p[PATH_LEN], be[PATH_LEN], msg[400];
    char *hp = NULL;
    int rc = -ENOENT;

    if (vif_path(v, p, RTV_XS_VIF_BE_HOTPLUG_STATUS, s->nic.dom, s->pvdevid) == 0)
        hp = read_val(v, p, &rc);
    vif_dir(v, be, RTV_XS_VIF_BE_STATE, s->nic.dom, s->pvdevid);
    if (hp == NULL && (rc == -ENOENT ? exists(v, be) : rtv_xs_store_failed(rc)))
        return;   /* not yet (or the store failed: next poll) */
    s->hotplug_wait = false;
    if (hp != NULL && strcmp(hp, "connected") == 0) {
        free(hp);
        vlog(v, "dom%u vif/%s: PV vif %u up (vif%u.%u on the bridge), brought up by an "
             "earlier xl", (unsigned)s->nic.dom, s->nic.key, s->pvdevid, (unsigned)s->nic.dom,
             s->pvdevid);
        rtv_coordinator_backend_event(v->co, s->nic.dom, s->nic.key, RTV_FSM_EV_BACKEND_READY,
                                      NULL, v->now);
        return;
    }
    snprintf(msg, sizeof(msg), "vif %u, brought up by an earlier xl, %s%s", s->pvdevid,
             hp ? "has hotplug-status " : "is gone", hp ? hp : "");
    free(hp);
    vlog(v, "dom%u vif/%s: %s", (unsigned)s->nic.dom, s->nic.key, msg);
    rtv_coordinator_backend_event(v->co, s->nic.dom, s->nic.key, RTV_FSM_EV_BACKEND_FAILED,
                                  msg, v->now);
}

static void poll_jobs(struct backd_vif *v)
{
    for (unsigned i = 0; i < MAX_NICS; i++) {
        struct slot *s = &v->slot[i];
        int status;

        if (!s->nic.used)
            continue;
        if (s->job == JOB_NONE) {
            if (s->want_down && s->retry_at && v->now >= s->retry_at) {
                s->retry_at = 0;
                start_detach(v, s);
            }
            if (s->hotplug_wait)
                hotplug_poll(v, s);
            continue;
        }
        drain(s);
        pid_t r = waitpid(s->pid, &status, WNOHANG);
        if (r == 0)
            continue;
        if (r < 0)
            status = 127 << 8;   /* reaped elsewhere: count it a failure */
        drain(s);
        close(s->outfd);
        s->outfd = -1;
        enum job job = s->job;
        s->job = JOB_NONE;
        s->pid = 0;
        /* What a bring-up that waited for this job needs: the handlers
         * below may release the slot. */
        bool pending = s->up_pending;
        rtv_domid_t dom = s->nic.dom;
        char key[sizeof(s->nic.key)], mac[sizeof(s->mac)];
        snprintf(key, sizeof(key), "%s", s->nic.key);
        snprintf(mac, sizeof(mac), "%s", s->mac);
        s->up_pending = false;
        if (job == JOB_ATTACH)
            attach_done(v, s, status);
        else
            detach_done(v, s, status);
        if (pending)
            start_pending(v, dom, key, mac);
    }
}

/* ---- the coordinator's backend ops -------------------------------------------- */

/* Runs xl network-attach for the slot's NIC with the slot's MAC. */
static int start_attach(struct backd_vif *v, struct slot *s, struct rtv_err *err)
{
    rtv_domid_t dom = s->nic.dom;
    const char *key = s->nic.key;
    char p[PATH_LEN], macarg[40], bridgearg[40], domarg[16], devidarg[24];
    char *bridge = NULL;
    unsigned long long nic;
    int rc;

    rtv_parse_uint(key, 2147483647ull, &nic);
    if ((rc = vif_path(v, p, RTV_XS_VIF_BRIDGE, dom, nic)) < 0 ||
        (bridge = read_val(v, p, &rc)) == NULL)
        rc = node_err(err, "vif-bridge", rc);
    else
        rc = rtv_xs_check_value(RTV_XS_VIF_BRIDGE, bridge, err);
    /* A pv-devid already there is a leg an incarnation killed while it
     * brought it up left behind (its xl may still be running): attach the
     * same devid again, so that there is one leg, never two; libxl
     * serializes the two xl and attach_done() takes a vif that is there
     * and connected as up.  A kept leg attached again (keep_up) keeps its
     * devid the same way. */
    if (rc == 0 && read_pvdevid(v, dom, key, &s->pvdevid)) {
        if (!s->reattach)
            vlog(v, "dom%u vif/%s: pv-devid %u left by an earlier incarnation: attaching "
                 "it again", (unsigned)dom, key, s->pvdevid);
    } else if (rc == 0 && (rc = pick_devid(v, dom, &s->pvdevid)) < 0)
        rtv_err_set(err, -rc, "no free vif devid for dom%u", (unsigned)dom);
    /* pv-devid first: a daemon killed from here on finds the leg. */
    if (rc == 0 && ((rc = ctl_path(p, RTV_R_BACKEND_ID, dom, key)) < 0 ||
                    (rc = rtv_xs_printf(v->xs, RTV_XS_NO_TXN, p, "%u", s->pvdevid)) < 0))
        rtv_err_set(err, -rc, "cannot write pv-devid: %s", strerror(-rc));
    if (rc < 0) {
        free(bridge);
        slot_release(s);
        return rc;
    }
    s->known = true;
    s->want_down = false;
    snprintf(domarg, sizeof(domarg), "%u", (unsigned)dom);
    snprintf(macarg, sizeof(macarg), "mac=%s", s->mac);
    snprintf(bridgearg, sizeof(bridgearg), "bridge=%s", bridge);
    snprintf(devidarg, sizeof(devidarg), "devid=%u", s->pvdevid);
    free(bridge);
    char *args[] = { "network-attach", domarg, "type=vif", macarg, bridgearg, devidarg, NULL };
    if ((rc = spawn(v, s, JOB_ATTACH, args)) < 0) {
        /* Nothing was made: the coordinator's FAILED path tears down, and
         * the detach finds no backend. */
        return rtv_err_set(err, -rc, "cannot run %s: %s", v->xl, strerror(-rc));
    }
    vlog(v, "dom%u vif/%s: %s network-attach %s type=vif %s %s %s", (unsigned)dom, key,
         v->xl, domarg, macarg, bridgearg, devidarg);
    return 0;
}

static int ad_bring_up(void *ctx, rtv_domid_t dom, const char *key, const char *mac,
                       struct rtv_err *err)
{
    struct backd_vif *v = ctx;
    struct slot *s = slot_get(v, dom, key, true);

    if (s == NULL)
        return rtv_err_set(err, ENOSPC, "too many switched NICs (at most %d)", MAX_NICS);
    snprintf(s->mac, sizeof(s->mac), "%s", mac);
    s->keep_up = false;
    if (s->job != JOB_NONE) {
        /* xl is still at work on this NIC's leg (a switch before this one
         * ended without waiting for it: its bound passed): the leg comes
         * up once xl is done, within this switch's bound, instead of the
         * switch failing because xl was slow. */
        s->up_pending = true;
        if (s->job == JOB_DETACH)
            s->want_down = false;   /* no retries of it: this leg is wanted now */
        vlog(v, "dom%u vif/%s: the PV vif is attached once xl is done with vif %u",
             (unsigned)dom, key, s->pvdevid);
        return 0;
    }
    s->reattach = false;
    return start_attach(v, s, err);
}

/* A bring_up that waited for xl: started now that xl is done with the
 * NIC (the slot may have been released and found again meanwhile). */
static void start_pending(struct backd_vif *v, rtv_domid_t dom, const char *key,
                          const char *mac)
{
    struct rtv_err err = {0};
    struct slot *s = slot_get(v, dom, key, true);
    int rc = s == NULL ? rtv_err_set(&err, ENOSPC, "too many switched NICs (at most %d)",
                                     MAX_NICS) : 0;

    if (rc == 0 && s->job != JOB_NONE) {
        s->up_pending = true;   /* xl took another step (a detach after an attach) */
        return;
    }
    if (rc == 0) {
        snprintf(s->mac, sizeof(s->mac), "%s", mac);
        s->reattach = false;
        rc = start_attach(v, s, &err);
    }
    if (rc < 0) {
        vlog(v, "dom%u vif/%s: %s", (unsigned)dom, key, err.msg);
        rtv_coordinator_backend_event(v->co, dom, key, RTV_FSM_EV_BACKEND_FAILED, err.msg,
                                      v->now);
    }
}

static void ad_tear_down(void *ctx, rtv_domid_t dom, const char *key)
{
    struct backd_vif *v = ctx;
    struct slot *s = slot_get(v, dom, key, true);
    unsigned devid;

    if (s == NULL)
        return;   /* no slot: the coordinator's bound reports it */
    s->keep_up = false;
    s->up_pending = false;   /* a bring-up still waiting for xl: called off */
    s->hotplug_wait = false; /* ... or for an earlier xl's hotplug script */
    if (!s->known) {
        if (!read_pvdevid(v, dom, key, &devid)) {
            closed(v, s);   /* nothing to take down */
            return;
        }
        s->pvdevid = devid;
        s->known = true;
    }
    s->want_down = true;
    if (s->job == JOB_ATTACH) {
        /* xl is bringing it up: stop it, then detach what it made. */
        kill(s->pid, SIGTERM);
        return;
    }
    if (s->job == JOB_NONE)
        start_detach(v, s);
}

/* The coordinator gave up waiting: the vif stays as it is.  A detach that
 * is running finishes (killing xl half-way would leave a half-removed
 * device); if it removes the vif, closed() tells the coordinator.  A vif
 * an xl that failed left closing (leg_closing: its netfront closed for
 * good) is not kept as it is: counted as up, every later switch to pv went
 * onto it and rolled back at its bound (component test
 * kept_vif_left_closing_is_replaced).  Its detach goes on being retried,
 * and, as for a vif xl is removing, a fresh one comes up once it is gone. */
static void ad_keep(void *ctx, rtv_domid_t dom, const char *key)
{
    struct backd_vif *v = ctx;
    struct slot *s = slot_get(v, dom, key, false);

    if (s == NULL)
        return;
    bool dead = s->job == JOB_NONE && s->known && leg_closing(v, dom, s->pvdevid);
    if (dead) {
        s->want_down = true;
        if (s->retry_at == 0)
            s->retry_at = v->now;
    } else {
        s->want_down = false;
        s->retry_at = 0;
    }
    /* If the coordinator counts on a PV vif from now on, a vif xl is
     * already taking away comes back once it is gone, so that a switch to
     * pv right after (which then brings nothing up) finds one. */
    const struct rtv_switch_fsm *m = rtv_coordinator_get(v->co, dom, key);
    s->keep_up = (s->job == JOB_DETACH || dead) && m != NULL && m->backend_up;
    vlog(v, "dom%u vif/%s: PV vif %u kept (its tear-down's bound passed)%s", (unsigned)dom,
         key, s->pvdevid, !s->keep_up ? "" : dead ? "; xl left it closing: it is removed, "
         "and attached again once it is gone" : "; xl is removing it already: it is "
         "attached again once it is gone");
}

static bool ad_present(void *ctx, rtv_domid_t dom, const char *key)
{
    struct backd_vif *v = ctx;
    char be[PATH_LEN];
    unsigned devid;

    if (!read_pvdevid(v, dom, key, &devid))
        return false;
    vif_dir(v, be, RTV_XS_VIF_BE_STATE, dom, devid);
    return exists(v, be);
}

/* Reads a small sysfs file into buf (trailing newline dropped). */
static int read_sys(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -errno;
    if (fgets(buf, (int)len, f) == NULL)
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

/* Step 6 (section 2b): the port of the leg the guest goes to is on the
 * NIC's bridge and forwarding (a port still listening or learning drops
 * what reaches it: with STP on, for 2 x forward delay). */
/* 0: the port forwards; -EAGAIN: on the bridge, not forwarding yet; other
 * -errno: it cannot (err says why). */
static int gate_check(struct backd_vif *v, rtv_domid_t dom, const char *key,
                      struct rtv_err *err)
{
    char p[PATH_LEN], sys[PATH_LEN + 64], port[32], want[64], got[64] = "";
    char *state = NULL, *bridge = NULL, *prev = NULL;
    unsigned long long nic;
    unsigned pvdevid;
    bool to_pv;
    int rc = 0;

    rtv_parse_uint(key, 2147483647ull, &nic);
    if ((rc = ctl_path(p, RTV_R_STATE, dom, key)) < 0 || (state = read_val(v, p, &rc)) == NULL) {
        rc = node_err(err, "vif-state", rc);
        goto out;
    }
    if (ctl_path(p, RTV_R_PREVIOUS, dom, key) == 0 && (prev = read_val(v, p, &rc)) == NULL &&
        rc != -ENOENT) {
        rc = node_err(err, "vif-previous", rc);
        goto out;
    }
    rc = 0;
    /* The leg the guest is going to. */
    if (strcmp(state, "rolling-back") == 0)
        to_pv = prev != NULL && strcmp(prev, "pv") == 0;
    else
        to_pv = strstr(state, "pv") != NULL;
    if (to_pv) {
        const struct slot *s = slot_get(v, dom, key, false);
        unsigned long long pv;

        if (s != NULL && (s->job == JOB_DETACH || s->up_pending || s->want_down)) {
            /* xl is still taking the old leg away (a switch's bound left
             * it to its tear-down): the guest must not go to it.  Once it
             * is gone, it is attached again (keep_up) or the bring-up that
             * waited attaches the new leg; the gate then looks at that. */
            rc = rtv_err_set(err, EAGAIN, "vif %u is still being taken down", s->pvdevid);
            goto out;
        }
        if ((rc = ctl_path(p, RTV_R_BACKEND_ID, dom, key)) < 0 ||
            (rc = rtv_xs_read_uint(v->xs, RTV_XS_NO_TXN, p, 2147483647ull, &pv)) < 0) {
            if (rc == -ENOENT)
                rtv_err_set(err, ENOENT, "node vif-pv-devid: absent, no PV vif to go to");
            else
                node_err(err, "vif-pv-devid", rc);
            goto out;
        }
        pvdevid = (unsigned)pv;
        snprintf(port, sizeof(port), "vif%u.%u", (unsigned)dom, pvdevid);
    } else {
        /* qemu's tap for the emulated NIC, as libxl names it. */
        snprintf(port, sizeof(port), "vif%u.%llu-emu", (unsigned)dom, nic);
    }
    if ((rc = vif_path(v, p, RTV_XS_VIF_BRIDGE, dom, nic)) < 0 ||
        (bridge = read_val(v, p, &rc)) == NULL) {
        rc = node_err(err, "vif-bridge", rc);
        goto out;
    }
    snprintf(sys, sizeof(sys), "%s/%s/brport/state", v->sysfs, port);
    if ((rc = read_sys(sys, got, sizeof(got))) < 0) {
        /* Not on the bridge (yet: the hotplug script of a vif whose xl a
         * killed incarnation left running may still be on its way). */
        rc = rtv_err_set(err, EAGAIN, "port %s is on no bridge yet (%s: %s)", port, sys,
                         strerror(-rc));
        goto out;
    }
    /* BR_STATE_FORWARDING (linux/if_bridge.h) */
    if (strcmp(got, "3") != 0) {
        rc = rtv_err_set(err, EAGAIN, "port %s of bridge %s is not forwarding (brport "
                         "state %s)", port, bridge, got);
        goto out;
    }
    snprintf(sys, sizeof(sys), "%s/%s/master", v->sysfs, port);
    ssize_t n = readlink(sys, want, sizeof(want) - 1);
    if (n <= 0) {
        /* brport/ is there, its master link not (yet): the port is being
         * added to (or taken off) a bridge right now */
        rc = rtv_err_set(err, EAGAIN, "port %s has no master bridge yet (%s: %s)", port, sys,
                         n < 0 ? strerror(errno) : "empty link");
        goto out;
    }
    want[n] = '\0';
    const char *base = strrchr(want, '/') ? strrchr(want, '/') + 1 : want;
    if (strcmp(base, bridge) != 0)
        rc = rtv_err_set(err, EINVAL, "port %s is on bridge \"%s\", not on the NIC's "
                         "bridge %s", port, base, bridge);
out:
    free(state);
    free(prev);
    free(bridge);
    return rc;
}

static struct pin *pin_get(struct backd_vif *v, rtv_domid_t dom, const char *key, bool create)
{
    bool created;

    return (struct pin *)nic_find(&v->pin[0].nic, sizeof(v->pin[0]), dom, key, create,
                                  &created);
}

/* A coordinated NIC's entry, seen in this poll, with qemu's tap named as
 * libxl names it; NULL if the table is full or the key is no devid. */
static struct pin *pin_seen(struct backd_vif *v, rtv_domid_t dom, const char *key)
{
    struct pin *p = pin_get(v, dom, key, true);
    unsigned long long nic;

    if (p == NULL || rtv_parse_uint(key, 2147483647ull, &nic) < 0)
        return NULL;
    p->seen = true;
    snprintf(p->tap, sizeof(p->tap), "vif%u.%llu-emu", (unsigned)dom, nic);
    return p;
}

/* One NIC's ports learn as backd_vif_pin_leg() says for its machine m. */
static void pin_one(struct backd_vif *v, rtv_domid_t dom, const char *key,
                    const struct rtv_switch_fsm *m)
{
    struct pin *p = pin_seen(v, dom, key);
    struct slot *s = slot_get(v, dom, key, false);
    struct rtv_err err = {0};
    char pv[32] = "";
    bool changed = false;

    if (p == NULL)
        return;
    enum backd_vif_leg leg = backd_vif_pin_leg(m, p->gate_ok && p->gate_id == m->switch_id);
    /* the PV vif: this daemon's, or, after a restart, the one pv-devid
     * names (read once: a restarted daemon's log said "learns the guest's
     * MAC on  only", net11) */
    if (s != NULL && s->known)
        snprintf(pv, sizeof(pv), "vif%u.%u", (unsigned)dom, s->pvdevid);
    else if (leg == BACKD_VIF_LEG_PV && (p->pv_devid != 0 || read_pvdevid(v, dom, key,
                                                                          &p->pv_devid)))
        snprintf(pv, sizeof(pv), "vif%u.%u", (unsigned)dom, p->pv_devid);
    if (leg == BACKD_VIF_LEG_EMULATED)
        p->pv_devid = 0;   /* the next PV leg is the next switch's */
    if (backd_vif_pin_apply(v->sysfs, p->tap, pv, leg, &changed, &err) < 0) {
        if (!p->warned)
            vlog(v, "dom%u vif/%s: bridge learning: %s", (unsigned)dom, key, err.msg);
        p->warned = true;
        return;
    }
    p->tap_off = leg == BACKD_VIF_LEG_PV;
    if (changed)
        vlog(v, "dom%u vif/%s: the bridge learns the guest's MAC on %s only (switch %u)",
             (unsigned)dom, key, leg == BACKD_VIF_LEG_EMULATED ? p->tap :
             pv[0] ? pv : "the PV vif (its devid unknown)", (unsigned)m->switch_id);
}

/* A switch to PV is running: from its request until it is answered (ok or
 * rolled back).  What waits in the tap when the guest flips is lost; at
 * any other time the queue is the emulated leg's throughput. */
static bool to_pv_window(const struct rtv_switch_fsm *m)
{
    return m->phase != RTV_FSM_STABLE && m->target != RTV_MODE_EMULATED && !m->failing_over;
}

/* The tap gets the length it had before the bound, which is forgotten;
 * false if it could not be written (tried again at the next poll). */
static bool txq_give_back(struct backd_vif *v, struct pin *p, const char *why)
{
    struct rtv_err err = {0};
    bool changed = false;

    if (p->txq_was == 0)
        return true;
    if (backd_vif_txq_restore(v->sysfs, p->tap, p->txq_was, &changed, &err) < 0) {
        if (!p->txq_warned)
            vlog(v, "dom%u vif/%s: tap queue: %s", (unsigned)p->nic.dom, p->nic.key, err.msg);
        p->txq_warned = true;
        return false;
    }
    if (changed)
        vlog(v, "dom%u vif/%s: %s queues %u frames again (%s)", (unsigned)p->nic.dom,
             p->nic.key, p->tap, p->txq_was, why);
    if (v->state_dir[0])
        backd_vif_txq_forget(v->state_dir, p->nic.dom, p->nic.key);
    p->txq_was = 0;
    p->txq_warned = false;
    return true;
}

/* One NIC's tap: its queue bounded while a switch to PV runs, its length
 * given back otherwise (backd_vif_txq.h).  The length is saved before the
 * tap is cut: an incarnation killed in the window leaves it to the next. */
static void txq_one(struct backd_vif *v, rtv_domid_t dom, const char *key,
                    const struct rtv_switch_fsm *m)
{
    struct pin *p = pin_seen(v, dom, key);
    struct rtv_err err = {0};
    unsigned was = 0, cur;
    bool changed = false;
    int rc;

    if (p == NULL)
        return;
    if (v->txq_max == 0 || !to_pv_window(m)) {
        char why[48];

        if (p->txq_was != 0) {
            snprintf(why, sizeof(why), "switch %u answered", (unsigned)m->switch_id);
            txq_give_back(v, p, why);
        }
        return;
    }
    if (p->txq_was == 0) {
        if ((rc = backd_vif_txq_get(v->sysfs, p->tap, &cur, &err)) <= 0 || cur <= v->txq_max)
            goto out;   /* no tap (yet), or short enough */
        if (v->state_dir[0] &&
            (rc = backd_vif_txq_save(v->state_dir, dom, key, cur, &err)) < 0)
            goto out;   /* not cut: a successor could not give it back */
        p->txq_was = cur;
    }
    rc = backd_vif_txq_bound(v->sysfs, p->tap, v->txq_max, &was, &changed, &err);
    if (rc == 0 && changed)
        vlog(v, "dom%u vif/%s: %s queues at most %u frames for the emulated NIC during "
             "switch %u to pv (was %u)", (unsigned)dom, key, p->tap, v->txq_max,
             (unsigned)m->switch_id, was);
out:
    if (rc < 0 && !p->txq_warned)
        vlog(v, "dom%u vif/%s: tap queue: %s", (unsigned)dom, key, err.msg);
    if (rc < 0)
        p->txq_warned = true;
}

/* The gate of switch_id passed: port-ready-id follows, the guest may flip
 * as soon as it sees it, so the ports are set here, before it is written
 * (lab, net9-1: set on the next poll instead, up to 1 s later, the bridge
 * kept the MAC on the vif for 0.85 s after a flip to the e1000). */
static void gate_passed(struct backd_vif *v, rtv_domid_t dom, const char *key,
                        uint32_t switch_id)
{
    struct pin *p = pin_get(v, dom, key, true);
    const struct rtv_switch_fsm *m = rtv_coordinator_get(v->co, dom, key);

    if (p == NULL)
        return;
    p->gate_ok = true;
    p->gate_id = switch_id;
    if (v->pin_on && m != NULL)
        pin_one(v, dom, key, m);
}

static int ad_gate(void *ctx, rtv_domid_t dom, const char *key, const char *mac,
                   uint32_t switch_id, uint64_t *took_us, struct rtv_err *err)
{
    struct backd_vif *v = ctx;
    uint64_t t0 = rtv_now_us();
    int rc = gate_check(v, dom, key, err);

    (void)mac;
    *took_us = rtv_now_us() - t0;
    if (rc == 0)
        gate_passed(v, dom, key, switch_id);
    if (rc != -EAGAIN)
        return rc;
    /* Listening or learning (STP): look again on every poll, until the
     * switch's own bound. */
    struct slot *s = slot_get(v, dom, key, true);
    if (s == NULL)
        return rc;
    s->gate_pending = true;
    s->gate_id = switch_id;
    s->gate_t0 = t0;
    vlog(v, "dom%u vif/%s: %s; waiting", (unsigned)dom, key, err->msg);
    return RTV_DM_SYNC_STARTED;
}

static void poll_gates(struct backd_vif *v)
{
    for (unsigned i = 0; i < MAX_NICS; i++) {
        struct slot *s = &v->slot[i];
        struct rtv_err err = {0};

        if (!s->nic.used || !s->gate_pending)
            continue;
        const struct rtv_switch_fsm *m = rtv_coordinator_get(v->co, s->nic.dom, s->nic.key);
        if (m == NULL || m->switch_id != s->gate_id) {
            s->gate_pending = false;   /* the switch is over */
            continue;
        }
        int rc = gate_check(v, s->nic.dom, s->nic.key, &err);
        if (rc == -EAGAIN && v->now < m->deadline_ms)
            continue;
        s->gate_pending = false;
        if (rc == 0)
            gate_passed(v, s->nic.dom, s->nic.key, s->gate_id);
        rtv_coordinator_dm_sync_done(v->co, s->nic.dom, s->nic.key, s->gate_id, rc,
                                     rtv_now_us() - s->gate_t0, err.msg, v->now);
    }
}

/* Level-triggered, every poll: each coordinated NIC's ports learn as
 * backd_vif_pin_leg() says and its tap's queue is bounded while a switch
 * to PV runs; a NIC no longer coordinated (unmanaged, its domain gone)
 * gets learning back on its tap, and the tap its queue length. */
static void pin_ports(struct backd_vif *v)
{
    const struct rtv_switch_fsm *m;
    const char *key;
    rtv_domid_t dom;

    for (unsigned i = 0; i < MAX_NICS; i++)
        v->pin[i].seen = false;
    for (unsigned i = 0; (m = rtv_coordinator_at(v->co, i, &dom, &key)) != NULL; i++) {
        if (v->pin_on)
            pin_one(v, dom, key, m);
        txq_one(v, dom, key, m);   /* also with no bound: a predecessor's to give back */
    }
    for (unsigned i = 0; i < MAX_NICS; i++) {
        struct pin *p = &v->pin[i];
        struct rtv_err err = {0};
        bool changed = false;

        if (!p->nic.used || p->seen)
            continue;
        if (p->tap_off && backd_vif_pin_release(v->sysfs, p->tap, &changed, &err) < 0)
            vlog(v, "dom%u vif/%s: bridge learning: %s", (unsigned)p->nic.dom, p->nic.key,
                 err.msg);
        else if (changed)
            vlog(v, "dom%u vif/%s: no longer managed: %s learns again", (unsigned)p->nic.dom,
                 p->nic.key, p->tap);
        if (txq_give_back(v, p, "no longer managed"))
            p->nic.used = false;
    }
}

static const struct rtv_coordinator_backend_ops ops = { ad_bring_up, ad_tear_down, ad_present,
                                                  ad_gate, ad_keep };

/* ---- public -------------------------------------------------------------------- */

struct backd_vif *backd_vif_new(struct rtv_store *co_xs, struct rtv_store *ad_xs,
                                rtv_domid_t bedomid, struct rtv_err *err)
{
    struct backd_vif *v = calloc(1, sizeof(*v));

    if (v == NULL) {
        rtv_err_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    v->co_xs = co_xs;
    v->xs = ad_xs;
    v->bedomid = bedomid;
    snprintf(v->xl, sizeof(v->xl), "xl");
    snprintf(v->sysfs, sizeof(v->sysfs), "/sys/class/net");
    v->pin_on = true;
    v->txq_max = BACKD_VIF_TAP_QUEUE;   /* during a switch to pv only (backd_vif_txq.h) */
    v->co = rtv_coordinator_new_class(co_xs, &rtv_devclass_vif, &ops, v, err);
    if (v->co == NULL) {
        free(v);
        return NULL;
    }
    return v;
}

void backd_vif_set_xl(struct backd_vif *v, const char *xl)
{
    snprintf(v->xl, sizeof(v->xl), "%s", xl);
}

void backd_vif_set_sysfs(struct backd_vif *v, const char *dir)
{
    snprintf(v->sysfs, sizeof(v->sysfs), "%s", dir);
}

void backd_vif_set_pin(struct backd_vif *v, bool on)
{
    v->pin_on = on;
}

void backd_vif_set_tap_queue(struct backd_vif *v, unsigned frames)
{
    v->txq_max = frames;
}

void backd_vif_set_state_dir(struct backd_vif *v, const char *dir)
{
    snprintf(v->state_dir, sizeof(v->state_dir), "%s", dir ? dir : "");
}

/* A length a predecessor saved: the NIC's entry holds it, so that the
 * first poll gives it back (or keeps the tap cut while the switch it left
 * runs). */
static void txq_saved(void *ctx, unsigned dom, const char *key, unsigned len)
{
    struct backd_vif *v = ctx;
    struct pin *p = pin_get(v, (rtv_domid_t)dom, key, true);
    unsigned long long nic;

    if (p == NULL || rtv_parse_uint(key, 2147483647ull, &nic) < 0)
        return;
    snprintf(p->tap, sizeof(p->tap), "vif%u.%llu-emu", dom, nic);
    p->txq_was = len;
    vlog(v, "dom%u vif/%s: %s was cut by an earlier incarnation from %u frames", dom, key,
         p->tap, len);
}

static void co_log(void *ctx, const char *msg)
{
    struct backd_vif *v = ctx;
    vlog(v, "%s", msg);
}

void backd_vif_set_log(struct backd_vif *v, void (*log)(void *ctx, const char *msg),
                       void *ctx)
{
    v->log = (struct rtv_log_sink){ log, ctx };
    rtv_coordinator_set_log(v->co, co_log, v);
}

int backd_vif_start(struct backd_vif *v, uint64_t now_ms, struct rtv_err *err)
{
    char **doms;
    unsigned nd;
    int rc;

    v->now = now_ms;
    if ((rc = rtv_coordinator_start(v->co, now_ms, err)) < 0)
        return rc;
    if (v->state_dir[0] && (rc = backd_vif_txq_each(v->state_dir, txq_saved, v)) < 0)
        vlog(v, "cannot read %s for the taps' queue lengths: %s", v->state_dir,
             strerror(-rc));
    /* A NIC stable on its emulated leg has no business with a PV vif: one
     * left there is from an incarnation killed while bringing it up (the
     * state was not published yet) or while tearing it down. */
    if (rtv_xs_directory(v->xs, RTV_XS_NO_TXN, "/local/domain", &doms, &nd) < 0)
        return 0;
    for (unsigned i = 0; i < nd; i++) {
        unsigned long long dom;
        char dir[PATH_LEN], **nics;
        unsigned nn;

        if (rtv_parse_uint(doms[i], RTV_DOMID_MAX, &dom) < 0 || dom == 0)
            continue;
        rtv_devclass_parent(&rtv_devclass_vif, 0, (rtv_domid_t)dom, dir, sizeof(dir));
        if (rtv_xs_directory(v->xs, RTV_XS_NO_TXN, dir, &nics, &nn) < 0)
            continue;
        for (unsigned k = 0; k < nn; k++) {
            const struct rtv_switch_fsm *m = rtv_coordinator_get(v->co, (rtv_domid_t)dom, nics[k]);
            if (m != NULL && m->phase == RTV_FSM_STABLE && m->mode == RTV_MODE_EMULATED &&
                m->backend_up) {
                vlog(v, "dom%llu vif/%s: on its emulated leg with a PV vif left up: "
                     "tearing it down", dom, nics[k]);
                ad_tear_down(v, (rtv_domid_t)dom, nics[k]);
            }
        }
        free(nics);
    }
    free(doms);
    return 0;
}

int backd_vif_fd(const struct backd_vif *v)
{
    return rtv_xs_watch_fd(v->co_xs);
}

void backd_vif_poll(struct backd_vif *v, uint64_t now_ms)
{
    v->now = now_ms;
    rtv_coordinator_poll_watches(v->co, now_ms);
    poll_jobs(v);
    poll_gates(v);
    rtv_coordinator_tick(v->co, now_ms);
    pin_ports(v);
}

unsigned backd_vif_count(const struct backd_vif *v)
{
    return rtv_coordinator_count(v->co);
}

void backd_vif_free(struct backd_vif *v)
{
    if (v == NULL)
        return;
    for (unsigned i = 0; i < MAX_NICS; i++) {
        struct slot *s = &v->slot[i];
        if (s->nic.used && s->outfd >= 0)
            close(s->outfd);
        /* A running xl finishes on its own; the next incarnation finds
         * what it did in the store. */
    }
    /* A stopped daemon leaves the taps as it found them (a switch it
     * leaves running, its successor cuts again). */
    for (unsigned i = 0; i < MAX_NICS; i++)
        if (v->pin[i].nic.used)
            txq_give_back(v, &v->pin[i], "rtvirt-backd stops");
    rtv_coordinator_free(v->co);
    free(v);
}
