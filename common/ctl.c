/*
 * The orchestrator's side of the contract; see rtvirt/ctl.h.
 * Every node named here comes from the schema table (rtv_xs_path).
 */
#include "rtvirt/ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rtvirt/xs_schema.h"
#include "rtvirt/xs_util.h"

#define PATH_LEN 256

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int node_path(char *buf, enum rtv_xs_node node, rtv_domid_t dom,
                     const char *vdev, struct rtv_err *err)
{
    struct rtv_xs_args a = { .domid = dom, .vdev = vdev };
    return rtv_xs_path(buf, PATH_LEN, node, &a, err);
}

/* Reads a node into buf ("" if absent).  Other errors are returned. */
static int read_into(struct rtv_store *xs, rtv_txn_t t, const char *path,
                     char *buf, size_t len)
{
    char *v;
    size_t n;
    int rc = rtv_xs_read(xs, t, path, &v, &n);

    buf[0] = '\0';
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    snprintf(buf, len, "%s", v);
    free(v);
    return 0;
}

static int read_node(struct rtv_store *xs, rtv_txn_t t, enum rtv_xs_node node,
                     rtv_domid_t dom, const char *vdev, char *buf, size_t len)
{
    char path[PATH_LEN];
    int rc = node_path(path, node, dom, vdev, NULL);
    return rc < 0 ? rc : read_into(xs, t, path, buf, len);
}

/* A number the coordinator or guest wrote; anything unparsable counts as 0
 * (the writer is told of its bad value elsewhere). */
static uint64_t read_num(struct rtv_store *xs, rtv_txn_t t,
                         enum rtv_xs_node node, rtv_domid_t dom,
                         const char *vdev)
{
    char buf[32];
    unsigned long long v = 0;

    if (read_node(xs, t, node, dom, vdev, buf, sizeof(buf)) == 0)
        rtv_parse_uint(buf, UINT64_MAX, &v);
    return v;
}

bool rtv_ctl_state_is_transient(const char *state)
{
    return strncmp(state, "switching-", 10) == 0 ||
           strcmp(state, "rolling-back") == 0;
}

int rtv_ctl_resolve_domain(struct rtv_store *xs, const char *name_or_id,
                           rtv_domid_t *out, struct rtv_err *err)
{
    char path[PATH_LEN], name[80];
    unsigned long long id;
    char **ids;
    unsigned n;
    int rc;

    if (name_or_id == NULL || name_or_id[0] == '\0')
        return rtv_err_set(err, EINVAL, "no domain given (a name or id, as in xl list)");

    if (rtv_parse_uint(name_or_id, RTV_DOMID_MAX, &id) == 0) {
        /* An id names a domain if its directory exists. */
        snprintf(path, sizeof(path), "/local/domain/%llu", id);
        if (rtv_xs_directory(xs, RTV_XS_NO_TXN, path, &ids, &n) < 0)
            return rtv_err_set(err, ENOENT, "no domain with id %llu (see xl list)", id);
        free(ids);
        *out = (rtv_domid_t)id;
        return 0;
    }

    rc = rtv_xs_directory(xs, RTV_XS_NO_TXN, "/local/domain", &ids, &n);
    if (rc < 0)
        return rtv_err_set(err, -rc, "cannot list /local/domain: %s", strerror(-rc));
    rc = rtv_err_set(err, ENOENT, "no domain called \"%.64s\" (see xl list)", name_or_id);
    for (unsigned i = 0; i < n; i++) {
        if (rtv_parse_uint(ids[i], RTV_DOMID_MAX, &id) < 0)
            continue;
        if (node_path(path, RTV_XS_DOM_NAME, (rtv_domid_t)id, NULL, NULL) < 0 ||
            read_into(xs, RTV_XS_NO_TXN, path, name, sizeof(name)) < 0)
            continue;
        if (strcmp(name, name_or_id) == 0) {
            *out = (rtv_domid_t)id;
            rc = 0;
            break;
        }
    }
    free(ids);
    return rc;
}

/* ---- manage / unmanage --------------------------------------------------- */

struct manage_args {
    rtv_domid_t  dom;
    const char  *vdev;
    const char  *image;
};

/* mkdir + set perms on dir and each ancestor from `from` on, so a guest that
 * owns nothing above can remove nothing of ours (xenstored checks only the
 * node being removed). */
static int make_dir_chain(struct rtv_store *xs, rtv_txn_t t, const char *dir,
                          size_t from, const struct rtv_xs_perm *perms)
{
    char path[PATH_LEN];
    size_t len = strlen(dir);

    for (size_t i = from; i <= len; i++) {
        if (dir[i] != '/' && dir[i] != '\0')
            continue;
        memcpy(path, dir, i);
        path[i] = '\0';
        int rc = rtv_xs_mkdir(xs, t, path);
        if (rc == 0)
            rc = rtv_xs_set_perms(xs, t, path, perms, 2);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int manage_txn(struct rtv_store *xs, rtv_txn_t t, void *arg)
{
    struct manage_args *m = arg;
    char dir[PATH_LEN], path[PATH_LEN], state[32];
    struct rtv_xs_args a = { .domid = m->dom, .vdev = m->vdev };
    /* Control: dom0 writes, the guest reads.  Report: the guest owns it. */
    const struct rtv_xs_perm ctl_perms[2] = {
        { 0, RTV_XS_PERM_NONE }, { m->dom, RTV_XS_PERM_READ } };
    const struct rtv_xs_perm report_perms[2] = {
        { m->dom, RTV_XS_PERM_NONE }, { 0, RTV_XS_PERM_READ } };
    char base[PATH_LEN];
    int rc;

    snprintf(base, sizeof(base), "/local/domain/%u", (unsigned)m->dom);
    if ((rc = rtv_xs_dir(dir, sizeof(dir), RTV_XS_CTL_STATE, &a, NULL)) < 0 ||
        (rc = make_dir_chain(xs, t, dir, strlen(base) + 1, ctl_perms)) < 0)
        return rc;
    if ((rc = rtv_xs_dir(dir, sizeof(dir), RTV_XS_SHUNT_STATE, &a, NULL)) < 0 ||
        (rc = make_dir_chain(xs, t, dir, strlen(base) + strlen("/device") + 1,
                             report_perms)) < 0)
        return rc;

    node_path(path, RTV_XS_CTL_IMAGE, m->dom, m->vdev, NULL);
    if ((rc = rtv_xs_write(xs, t, path, m->image, strlen(m->image))) < 0)
        return rc;
    node_path(path, RTV_XS_CTL_STATE, m->dom, m->vdev, NULL);
    if ((rc = read_into(xs, t, path, state, sizeof(state))) < 0)
        return rc;
    if (state[0] == '\0')
        rc = rtv_xs_write(xs, t, path, "emulated", strlen("emulated"));
    return rc;
}

static int check_vdev(rtv_domid_t dom, const char *vdev, struct rtv_err *err)
{
    char path[PATH_LEN];
    return node_path(path, RTV_XS_CTL_STATE, dom, vdev, err);
}

int rtv_ctl_manage(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                   const char *image, struct rtv_err *err)
{
    struct manage_args m = { dom, vdev, image };
    int rc;

    if ((rc = check_vdev(dom, vdev, err)) < 0)
        return rc;
    if (image == NULL || image[0] != '/')
        return rtv_err_set(err, EINVAL, "node ctl-image: \"%s\" is not an absolute "
                           "dom0 path of an image file or block device",
                           image ? image : "");
    if ((rc = rtv_xs_check_value(RTV_XS_CTL_IMAGE, image, err)) < 0)
        return rc;
    rc = rtv_xs_transact(xs, 0, manage_txn, &m);
    if (rc < 0)
        return rtv_err_set(err, -rc, "cannot put %s of domain %u under rtvirt: %s",
                           vdev, (unsigned)dom, strerror(-rc));
    return 0;
}

/* Removes path's parent and grandparent while they are empty: manage
 * created .../rtvirt/vbd and .../rtvirt (and the report area's pair), and a
 * released last device must not leave them behind (the lab's leak check
 * compares with the guest before it was managed). */
static int rm_empty_parents(struct rtv_store *xs, rtv_txn_t t, const char *path)
{
    char dir[PATH_LEN], *slash;

    snprintf(dir, sizeof(dir), "%s", path);
    for (int up = 0; up < 2; up++) {
        char **ents = NULL;
        unsigned n = 0;
        int rc;

        if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
            return 0;
        *slash = '\0';
        rc = rtv_xs_directory(xs, t, dir, &ents, &n);
        free(ents);
        if (rc == -ENOENT)
            continue;
        if (rc < 0)
            return rc;
        if (n > 0)
            return 0;   /* another device (or anything else) still there */
        if ((rc = rtv_xs_rm(xs, t, dir)) < 0 && rc != -ENOENT)
            return rc;
    }
    return 0;
}

static int unmanage_txn(struct rtv_store *xs, rtv_txn_t t, void *arg)
{
    struct manage_args *m = arg;
    struct rtv_xs_args a = { .domid = m->dom, .vdev = m->vdev };
    char dir[PATH_LEN], state[32];
    int rc;

    if ((rc = read_node(xs, t, RTV_XS_CTL_STATE, m->dom, m->vdev, state,
                        sizeof(state))) < 0)
        return rc;
    if (state[0] == '\0')
        return -ENOENT;
    if (strcmp(state, "emulated") != 0)
        return -EBUSY;
    rtv_xs_dir(dir, sizeof(dir), RTV_XS_CTL_STATE, &a, NULL);
    if ((rc = rtv_xs_rm(xs, t, dir)) < 0 || (rc = rm_empty_parents(xs, t, dir)) < 0)
        return rc;
    rtv_xs_dir(dir, sizeof(dir), RTV_XS_SHUNT_STATE, &a, NULL);
    rc = rtv_xs_rm(xs, t, dir);
    if (rc < 0 && rc != -ENOENT)
        return rc;
    return rm_empty_parents(xs, t, dir);
}

int rtv_ctl_unmanage(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                     struct rtv_err *err)
{
    struct manage_args m = { dom, vdev, NULL };
    int rc;

    if ((rc = check_vdev(dom, vdev, err)) < 0)
        return rc;
    rc = rtv_xs_transact(xs, 0, unmanage_txn, &m);
    if (rc == -ENOENT)
        return rtv_err_set(err, ENOENT, "%s of domain %u is not managed by rtvirt",
                           vdev, (unsigned)dom);
    if (rc == -EBUSY)
        return rtv_err_set(err, EBUSY, "%s of domain %u is not on the emulated path "
                           "or is switching; switch it to emulated first",
                           vdev, (unsigned)dom);
    if (rc < 0)
        return rtv_err_set(err, -rc, "cannot release %s of domain %u: %s",
                           vdev, (unsigned)dom, strerror(-rc));
    return 0;
}

/* ---- switch requests ----------------------------------------------------- */

struct request_args {
    rtv_domid_t  dom;
    const char  *vdev;
    const char  *mode;
    unsigned     timeout_ms;
    uint32_t     id;
};

static int request_txn(struct rtv_store *xs, rtv_txn_t t, void *arg)
{
    struct request_args *r = arg;
    char path[PATH_LEN], state[32];
    int rc;

    if ((rc = read_node(xs, t, RTV_XS_CTL_STATE, r->dom, r->vdev, state,
                        sizeof(state))) < 0)
        return rc;
    if (state[0] == '\0')
        return -ENOENT;

    /* A new id above anything asked or answered so far. */
    uint64_t last = read_num(xs, t, RTV_XS_CTL_REQUEST_ID, r->dom, r->vdev);
    uint64_t answered = read_num(xs, t, RTV_XS_CTL_RESULT_ID, r->dom, r->vdev);
    if (answered > last)
        last = answered;
    if (last >= UINT32_MAX)
        return -EOVERFLOW;
    r->id = (uint32_t)last + 1;

    node_path(path, RTV_XS_CTL_REQUEST, r->dom, r->vdev, NULL);
    if ((rc = rtv_xs_write(xs, t, path, r->mode, strlen(r->mode))) < 0)
        return rc;
    node_path(path, RTV_XS_CTL_TIMEOUT_MS, r->dom, r->vdev, NULL);
    if (r->timeout_ms)
        rc = rtv_xs_printf(xs, t, path, "%u", r->timeout_ms);
    else if ((rc = rtv_xs_rm(xs, t, path)) == -ENOENT)
        rc = 0;   /* absent already means the default */
    if (rc < 0)
        return rc;
    node_path(path, RTV_XS_CTL_REQUEST_ID, r->dom, r->vdev, NULL);
    return rtv_xs_printf(xs, t, path, "%u", r->id);
}

int rtv_ctl_request(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                    const char *mode, unsigned timeout_ms, uint32_t *id,
                    struct rtv_err *err)
{
    struct request_args r = { dom, vdev, mode, timeout_ms, 0 };
    char tmo[16];
    int rc;

    if ((rc = check_vdev(dom, vdev, err)) < 0 ||
        (rc = rtv_xs_check_value(RTV_XS_CTL_REQUEST, mode, err)) < 0)
        return rc;
    snprintf(tmo, sizeof(tmo), "%u", timeout_ms);
    if (timeout_ms && (rc = rtv_xs_check_value(RTV_XS_CTL_TIMEOUT_MS, tmo, err)) < 0)
        return rc;

    rc = rtv_xs_transact(xs, 0, request_txn, &r);
    if (rc == -ENOENT)
        return rtv_err_set(err, ENOENT, "%s of domain %u is not managed by rtvirt "
                           "(no ctl-state node; use xl-rtvirt manage first)",
                           vdev, (unsigned)dom);
    if (rc < 0)
        return rtv_err_set(err, -rc, "cannot write the request for %s of domain %u: %s",
                           vdev, (unsigned)dom, strerror(-rc));
    *id = r.id;
    return 0;
}

/* ---- status and waiting --------------------------------------------------- */

struct status_args {
    rtv_domid_t            dom;
    const char            *vdev;
    struct rtv_ctl_status *st;
};

/* One snapshot: state, result and result-id are published together, and a
 * reader that took them one by one could pair an old state with a new
 * result-id (rtv_ctl_wait would then return before the switch ended). */
static int status_txn(struct rtv_store *xs, rtv_txn_t t, void *arg)
{
    struct status_args *a = arg;
    struct rtv_ctl_status *st = a->st;
    rtv_domid_t dom = a->dom;
    const char *vdev = a->vdev;
    int rc;

    rc = read_node(xs, t, RTV_XS_CTL_STATE, dom, vdev, st->state, sizeof(st->state));
    if (rc < 0)
        return rc;
    read_node(xs, t, RTV_XS_CTL_RESULT, dom, vdev, st->result, sizeof(st->result));
    read_node(xs, t, RTV_XS_CTL_ERROR, dom, vdev, st->error, sizeof(st->error));
    read_node(xs, t, RTV_XS_CTL_IMAGE, dom, vdev, st->image, sizeof(st->image));
    read_node(xs, t, RTV_XS_SHUNT_STATE, dom, vdev, st->shunt_state,
              sizeof(st->shunt_state));
    st->request_id = read_num(xs, t, RTV_XS_CTL_REQUEST_ID, dom, vdev);
    st->result_id = read_num(xs, t, RTV_XS_CTL_RESULT_ID, dom, vdev);
    st->switch_id = read_num(xs, t, RTV_XS_CTL_SWITCH_ID, dom, vdev);
    st->switches = read_num(xs, t, RTV_XS_CTL_STATS_SWITCHES, dom, vdev);
    st->rollbacks = read_num(xs, t, RTV_XS_CTL_STATS_ROLLBACKS, dom, vdev);
    st->blackout_us = read_num(xs, t, RTV_XS_CTL_STATS_BLACKOUT_US, dom, vdev);
    st->held = read_num(xs, t, RTV_XS_CTL_STATS_HELD, dom, vdev);
    st->dm_sync_us = read_num(xs, t, RTV_XS_CTL_STATS_DM_SYNC_US, dom, vdev);
    return 0;
}

int rtv_ctl_status(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                   struct rtv_ctl_status *st, struct rtv_err *err)
{
    struct status_args a = { dom, vdev, st };
    int rc;

    memset(st, 0, sizeof(*st));
    if ((rc = check_vdev(dom, vdev, err)) < 0)
        return rc;
    rc = rtv_xs_transact(xs, 0, status_txn, &a);
    st->domid = dom;
    snprintf(st->vdev, sizeof(st->vdev), "%s", vdev);
    if (rc < 0)
        return rtv_err_set(err, -rc, "cannot read the state of %s of domain %u: %s",
                           vdev, (unsigned)dom, strerror(-rc));
    if (st->state[0] == '\0')
        return rtv_err_set(err, ENOENT, "%s of domain %u is not managed by rtvirt",
                           vdev, (unsigned)dom);
    return 0;
}

int rtv_ctl_list(struct rtv_store *xs, rtv_domid_t dom, char ***vdevs,
                 unsigned *num, struct rtv_err *err)
{
    char dir[PATH_LEN];
    struct rtv_xs_args a = { .domid = dom, .vdev = "x" };
    int rc;

    /* The directory that holds one entry per vdev. */
    rtv_xs_dir(dir, sizeof(dir), RTV_XS_CTL_STATE, &a, NULL);
    *strrchr(dir, '/') = '\0';
    rc = rtv_xs_directory(xs, RTV_XS_NO_TXN, dir, vdevs, num);
    if (rc == -ENOENT) {
        *vdevs = calloc(1, sizeof(char *));
        *num = 0;
        return *vdevs ? 0 : rtv_err_set(err, ENOMEM, "out of memory");
    }
    if (rc < 0)
        return rtv_err_set(err, -rc, "cannot list %s: %s", dir, strerror(-rc));
    return 0;
}

int rtv_ctl_wait(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                 uint32_t id, unsigned timeout_ms, struct rtv_ctl_status *st,
                 struct rtv_err *err)
{
    static unsigned serial;
    char dir[PATH_LEN], token[64];
    struct rtv_xs_args a = { .domid = dom, .vdev = vdev };
    uint64_t deadline = now_ms() + timeout_ms;
    int rc;

    if ((rc = rtv_xs_dir(dir, sizeof(dir), RTV_XS_CTL_STATE, &a, err)) < 0)
        return rc;
    snprintf(token, sizeof(token), "rtv-ctl-wait-%ld-%u", (long)getpid(), ++serial);
    if ((rc = rtv_xs_watch(xs, dir, token)) < 0)
        return rtv_err_set(err, -rc, "cannot watch %s: %s", dir, strerror(-rc));

    for (;;) {
        /* Re-read on every wake-up: events may be coalesced or spurious. */
        if ((rc = rtv_ctl_status(xs, dom, vdev, st, err)) < 0)
            break;
        if (st->result_id >= id && !rtv_ctl_state_is_transient(st->state)) {
            rc = 0;
            break;
        }
        uint64_t now = now_ms();
        if (now >= deadline) {
            rc = rtv_err_set(err, ETIMEDOUT,
                             "request %u for %s of domain %u not answered within "
                             "%u ms (state %s, result-id %llu)", id, vdev,
                             (unsigned)dom, timeout_ms, st->state,
                             (unsigned long long)st->result_id);
            break;
        }
        struct pollfd pfd = { .fd = rtv_xs_watch_fd(xs), .events = POLLIN };
        int left = (int)(deadline - now);
        if (poll(&pfd, 1, left > 200 ? 200 : left) < 0 && errno != EINTR) {
            rc = rtv_err_set(err, errno, "poll: %s", strerror(errno));
            break;
        }
        char *p, *tok;
        while (rtv_xs_read_watch(xs, &p, &tok) == 0) {
            free(p);
            free(tok);
        }
    }
    rtv_xs_unwatch(xs, dir, token);
    return rc;
}
