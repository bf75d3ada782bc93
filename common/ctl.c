/*
 * The orchestrator's side of the contract; see rtvirt/ctl.h.
 * Every node named here comes from the schema table (rtv_xs_path).
 */
#include "rtvirt/ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/devclass.h"
#include "rtvirt/request.h"
#include "rtvirt/xs_schema.h"
#include "rtvirt/xs_util.h"

#define PATH_LEN 256

/* A device as the tools name it ("hda", "vif/0"): its class and key. */
struct dev {
    const struct rtv_devclass *cls;
    const char                *key;
    const char                *name;
};

static int dev_parse(const char *name, struct dev *d, struct rtv_err *err)
{
    d->name = name;
    return rtv_devclass_parse(name, &d->cls, &d->key, err);
}

static int node_path(char *buf, enum rtv_role role, rtv_domid_t dom,
                     const struct dev *d, struct rtv_err *err)
{
    return rtv_devclass_path(d->cls, role, dom, d->key, buf, PATH_LEN, err);
}

/* A role the class lacks reads as absent. */
static int read_node(struct rtv_store *xs, rtv_txn_t t, enum rtv_role role,
                     rtv_domid_t dom, const struct dev *d, char *buf, size_t len)
{
    char path[PATH_LEN];

    buf[0] = '\0';
    if (rtv_devclass_node(d->cls, role) == RTV_R_NONE)
        return 0;
    int rc = node_path(path, role, dom, d, NULL);
    return rc < 0 ? rc : rtv_xs_read_text(xs, t, path, buf, len);
}

/* A number the coordinator or guest wrote; anything unparsable counts as 0
 * (the writer is told of its bad value elsewhere). */
static uint64_t read_num(struct rtv_store *xs, rtv_txn_t t,
                         enum rtv_role role, rtv_domid_t dom,
                         const struct dev *d)
{
    char buf[32];
    unsigned long long v = 0;

    if (read_node(xs, t, role, dom, d, buf, sizeof(buf)) == 0)
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
        struct rtv_xs_args a = { .domid = (rtv_domid_t)id };
        if (rtv_xs_path(path, sizeof(path), RTV_XS_DOM_NAME, &a, NULL) < 0 ||
            rtv_xs_read_text(xs, RTV_XS_NO_TXN, path, name, sizeof(name)) < 0)
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
    struct dev   d;
    const char  *arg;      /* image / mac */
    const char  *bridge;   /* vif only */
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

/* The directory of role's node (the control or the report directory). */
static int node_dir(char *buf, enum rtv_role role, rtv_domid_t dom, const struct dev *d)
{
    struct rtv_xs_args a;
    int rc = rtv_devclass_args(d->cls, dom, d->key, &a, NULL);
    return rc < 0 ? rc : rtv_xs_dir(buf, PATH_LEN, (enum rtv_xs_node)d->cls->nodes[role],
                                    &a, NULL);
}

static int manage_txn(struct rtv_store *xs, rtv_txn_t t, void *arg)
{
    struct manage_args *m = arg;
    char dir[PATH_LEN], path[PATH_LEN], state[32];
    /* Control: dom0 writes, the guest reads.  Report: the guest owns it. */
    const struct rtv_xs_perm ctl_perms[2] = {
        { 0, RTV_XS_PERM_NONE }, { m->dom, RTV_XS_PERM_READ } };
    const struct rtv_xs_perm report_perms[2] = {
        { m->dom, RTV_XS_PERM_NONE }, { 0, RTV_XS_PERM_READ } };
    char base[PATH_LEN];
    int rc;

    snprintf(base, sizeof(base), "/local/domain/%u", (unsigned)m->dom);
    if ((rc = node_dir(dir, RTV_R_STATE, m->dom, &m->d)) < 0 ||
        (rc = make_dir_chain(xs, t, dir, strlen(base) + 1, ctl_perms)) < 0)
        return rc;
    if ((rc = node_dir(dir, RTV_R_SHUNT_STATE, m->dom, &m->d)) < 0 ||
        (rc = make_dir_chain(xs, t, dir, strlen(base) + strlen("/device") + 1,
                             report_perms)) < 0)
        return rc;

    node_path(path, RTV_R_ARG, m->dom, &m->d, NULL);
    if ((rc = rtv_xs_write(xs, t, path, m->arg, strlen(m->arg))) < 0)
        return rc;
    if (m->bridge) {
        struct rtv_xs_args a;
        rtv_devclass_args(m->d.cls, m->dom, m->d.key, &a, NULL);
        rtv_xs_path(path, sizeof(path), RTV_XS_VIF_BRIDGE, &a, NULL);
        if ((rc = rtv_xs_write(xs, t, path, m->bridge, strlen(m->bridge))) < 0)
            return rc;
    }
    node_path(path, RTV_R_STATE, m->dom, &m->d, NULL);
    if ((rc = rtv_xs_read_text(xs, t, path, state, sizeof(state))) < 0)
        return rc;
    if (state[0] == '\0')
        rc = rtv_xs_write(xs, t, path, "emulated", strlen("emulated"));
    return rc;
}

static int check_dev(rtv_domid_t dom, const char *name, struct dev *d,
                     struct rtv_err *err)
{
    char path[PATH_LEN];
    int rc = dev_parse(name, d, err);
    return rc < 0 ? rc : node_path(path, RTV_R_STATE, dom, d, err);
}

static int do_manage(struct rtv_store *xs, struct manage_args *m, struct rtv_err *err)
{
    int rc = rtv_xs_transact(xs, 0, manage_txn, m);
    if (rc < 0)
        return rtv_err_set(err, -rc, "cannot put %s of domain %u under rtvirt: %s",
                           m->d.name, (unsigned)m->dom, strerror(-rc));
    return 0;
}

int rtv_ctl_manage(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                   const char *image, struct rtv_err *err)
{
    struct manage_args m = { dom, { 0 }, image, NULL };
    int rc;

    if ((rc = check_dev(dom, vdev, &m.d, err)) < 0)
        return rc;
    if (m.d.cls != &rtv_devclass_vbd)
        return rtv_err_set(err, EINVAL, "%s is a NIC: put it under rtvirt with its "
                           "MAC and bridge (xl-rtvirt manage <domain> %s --mac M "
                           "--bridge B)", vdev, vdev);
    if (image == NULL || image[0] != '/')
        return rtv_err_set(err, EINVAL, "node ctl-image: \"%s\" is not an absolute "
                           "dom0 path of an image file or block device",
                           image ? image : "");
    if ((rc = rtv_xs_check_value(RTV_XS_CTL_IMAGE, image, err)) < 0)
        return rc;
    return do_manage(xs, &m, err);
}

int rtv_ctl_mac_normalize(const char *in, char out[18], struct rtv_err *err)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; in && in[i] && i < 17; i++) {
        char ch = in[i];
        if (i % 3 == 2) {
            if (ch != ':')
                break;
            out[i] = ':';
            continue;
        }
        if (ch >= 'A' && ch <= 'F')
            ch = (char)(ch - 'A' + 'a');
        if (strchr(hex, ch) == NULL || ch == '\0')
            break;
        out[i] = ch;
    }
    if (in == NULL || i != 17 || in[17] != '\0')
        return rtv_err_set(err, EINVAL, "node vif-mac: \"%.32s\" is not a MAC "
                           "(six hex pairs joined by ':', e.g. 00:16:3e:12:34:56)",
                           in ? in : "");
    out[17] = '\0';
    /* A group (multicast) address is no NIC's. */
    if ((strchr(hex, out[1]) - hex) & 1)
        return rtv_err_set(err, EINVAL, "node vif-mac: %s is a multicast address", out);
    return 0;
}

int rtv_ctl_manage_vif(struct rtv_store *xs, rtv_domid_t dom, const char *nic,
                       const char *mac, const char *bridge, struct rtv_err *err)
{
    char canon[18];
    struct manage_args m = { dom, { 0 }, canon, bridge };
    int rc;

    if ((rc = check_dev(dom, nic, &m.d, err)) < 0)
        return rc;
    if (m.d.cls != &rtv_devclass_vif)
        return rtv_err_set(err, EINVAL, "%s is not a NIC (a NIC is vif/<devid>, e.g. "
                           "vif/0)", nic);
    if ((rc = rtv_ctl_mac_normalize(mac, canon, err)) < 0 ||
        (rc = rtv_xs_check_value(RTV_XS_VIF_MAC, canon, err)) < 0)
        return rc;
    if (bridge == NULL)
        return rtv_err_set(err, EINVAL, "node vif-bridge: no bridge given");
    if ((rc = rtv_xs_check_value(RTV_XS_VIF_BRIDGE, bridge, err)) < 0)
        return rc;
    return do_manage(xs, &m, err);
}

/* Removes the device's nodes, then their parent and grandparent while they
 * are empty: manage created .../rtvirt/vbd and .../rtvirt (and the report
 * area's pair), and a released last device must not leave them behind (the
 * lab's leak check compares with the guest before it was managed). */
static int unmanage_txn(struct rtv_store *xs, rtv_txn_t t, void *arg)
{
    struct manage_args *m = arg;
    char dir[PATH_LEN], state[32];
    int rc;

    if ((rc = read_node(xs, t, RTV_R_STATE, m->dom, &m->d, state,
                        sizeof(state))) < 0)
        return rc;
    if (state[0] == '\0')
        return -ENOENT;
    if (strcmp(state, "emulated") != 0)
        return -EBUSY;
    node_dir(dir, RTV_R_STATE, m->dom, &m->d);
    if ((rc = rtv_xs_rm(xs, t, dir)) < 0 || (rc = rtv_xs_rm_empty_parents(xs, t, dir, 2)) < 0)
        return rc;
    node_dir(dir, RTV_R_SHUNT_STATE, m->dom, &m->d);
    rc = rtv_xs_rm(xs, t, dir);
    if (rc < 0 && rc != -ENOENT)
        return rc;
    return rtv_xs_rm_empty_parents(xs, t, dir, 2);
}

int rtv_ctl_unmanage(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                     struct rtv_err *err)
{
    struct manage_args m = { dom, { 0 }, NULL, NULL };
    int rc;

    if ((rc = check_dev(dom, vdev, &m.d, err)) < 0)
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

/* The device's request area (its class's nodes). */
static int dev_area(rtv_domid_t dom, const char *vdev, struct rtv_request_area *a,
                    struct rtv_err *err)
{
    struct dev d;
    int rc;

    if ((rc = check_dev(dom, vdev, &d, err)) < 0 ||
        (rc = rtv_devclass_args(d.cls, dom, d.key, &a->args, err)) < 0)
        return rc;
    a->n = (struct rtv_request_nodes){ (enum rtv_xs_node)d.cls->nodes[RTV_R_REQUEST],
                                       (enum rtv_xs_node)d.cls->nodes[RTV_R_REQUEST_ID],
                                       (enum rtv_xs_node)d.cls->nodes[RTV_R_TIMEOUT_MS] };
    a->state = (enum rtv_xs_node)d.cls->nodes[RTV_R_STATE];
    a->result_id = (enum rtv_xs_node)d.cls->nodes[RTV_R_RESULT_ID];
    return 0;
}

int rtv_ctl_request(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                    const char *mode, unsigned timeout_ms, uint32_t *id,
                    struct rtv_err *err)
{
    struct rtv_request_area a;
    int rc;

    if ((rc = dev_area(dom, vdev, &a, err)) < 0 ||
        (rc = rtv_request_check(&a, mode, timeout_ms, err)) < 0)
        return rc;
    rc = rtv_request_send(xs, &a, mode, timeout_ms, id);
    if (rc == -ENOENT)
        return rtv_err_set(err, ENOENT, "%s of domain %u is not managed by rtvirt "
                           "(no ctl-state node; use xl-rtvirt manage first)",
                           vdev, (unsigned)dom);
    if (rc < 0)
        return rtv_err_set(err, -rc, "cannot write the request for %s of domain %u: %s",
                           vdev, (unsigned)dom, strerror(-rc));
    return 0;
}

/* ---- status and waiting --------------------------------------------------- */

struct status_args {
    rtv_domid_t            dom;
    struct dev             d;
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
    const struct dev *vdev = &a->d;
    int rc;

    rc = read_node(xs, t, RTV_R_STATE, dom, vdev, st->state, sizeof(st->state));
    if (rc < 0)
        return rc;
    read_node(xs, t, RTV_R_RESULT, dom, vdev, st->result, sizeof(st->result));
    read_node(xs, t, RTV_R_ERROR, dom, vdev, st->error, sizeof(st->error));
    read_node(xs, t, RTV_R_ARG, dom, vdev, st->image, sizeof(st->image));
    read_node(xs, t, RTV_R_SHUNT_STATE, dom, vdev, st->shunt_state,
              sizeof(st->shunt_state));
    st->request_id = read_num(xs, t, RTV_R_REQUEST_ID, dom, vdev);
    st->result_id = read_num(xs, t, RTV_R_RESULT_ID, dom, vdev);
    st->switch_id = read_num(xs, t, RTV_R_SWITCH_ID, dom, vdev);
    st->switches = read_num(xs, t, RTV_R_STATS_SWITCHES, dom, vdev);
    st->rollbacks = read_num(xs, t, RTV_R_STATS_ROLLBACKS, dom, vdev);
    st->blackout_us = read_num(xs, t, RTV_R_STATS_BLACKOUT_US, dom, vdev);
    st->held = read_num(xs, t, RTV_R_STATS_HELD, dom, vdev);
    st->dm_sync_us = read_num(xs, t, RTV_R_STATS_GATE_US, dom, vdev);
    return 0;
}

int rtv_ctl_status(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                   struct rtv_ctl_status *st, struct rtv_err *err)
{
    struct status_args a = { dom, { 0 }, st };
    int rc;

    memset(st, 0, sizeof(*st));
    if ((rc = check_dev(dom, vdev, &a.d, err)) < 0)
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
    char *names[RTV_DEVCLASS_COUNT][256];
    unsigned counts[RTV_DEVCLASS_COUNT] = { 0 }, total = 0;
    size_t bytes = 0;
    int rc = 0;

    /* Each class's directory holds one entry per device; a tool names a
     * NIC with its class's prefix (vif/0). */
    for (unsigned c = 0; c < RTV_DEVCLASS_COUNT && rc == 0; c++) {
        const struct rtv_devclass *cls = rtv_devclasses[c];
        char dir[PATH_LEN], **ents;
        unsigned n;

        rtv_devclass_parent(cls, 0, dom, dir, sizeof(dir));
        rc = rtv_xs_directory(xs, RTV_XS_NO_TXN, dir, &ents, &n);
        if (rc == -ENOENT) {
            rc = 0;
            continue;
        }
        if (rc < 0) {
            rtv_err_set(err, -rc, "cannot list %s: %s", dir, strerror(-rc));
            break;
        }
        for (unsigned i = 0; i < n && counts[c] < 256; i++) {
            size_t len = strlen(cls->prefix) + strlen(ents[i]) + 1;
            if ((names[c][counts[c]] = malloc(len)) == NULL)
                continue;
            rtv_devclass_name(cls, ents[i], names[c][counts[c]], len);
            bytes += len;
            counts[c]++;
        }
        free(ents);
        total += counts[c];
    }
    /* One allocation, as rtv_xs_directory's: the pointers, then the names. */
    char **out = rc == 0 ? malloc((total + 1) * sizeof(char *) + bytes) : NULL;
    char *p = out ? (char *)(out + total + 1) : NULL;
    unsigned k = 0;
    for (unsigned c = 0; c < RTV_DEVCLASS_COUNT; c++) {
        for (unsigned i = 0; i < counts[c]; i++) {
            if (out) {
                out[k++] = p;
                strcpy(p, names[c][i]);
                p += strlen(p) + 1;
            }
            free(names[c][i]);
        }
    }
    if (rc < 0)
        return rc;
    if (out == NULL)
        return rtv_err_set(err, ENOMEM, "out of memory");
    out[total] = NULL;
    *vdevs = out;
    *num = total;
    return 0;
}

struct wait_args {
    rtv_domid_t            dom;
    const char            *vdev;
    struct rtv_ctl_status *st;
};

/* rtv_request_wait's status read: settled once no switch runs. */
static int seen(struct rtv_store *xs, void *arg, struct rtv_request_seen *seen,
                struct rtv_err *err)
{
    struct wait_args *w = arg;
    int rc = rtv_ctl_status(xs, w->dom, w->vdev, w->st, err);

    *seen = (struct rtv_request_seen){ w->st->result_id, w->st->state,
                                       !rtv_ctl_state_is_transient(w->st->state) };
    return rc;
}

int rtv_ctl_wait(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                 uint32_t id, unsigned timeout_ms, struct rtv_ctl_status *st,
                 struct rtv_err *err)
{
    struct wait_args w = { dom, vdev, st };
    struct rtv_request_area a;
    int rc = dev_area(dom, vdev, &a, err);

    return rc < 0 ? rc : rtv_request_wait(xs, &a, vdev, id, timeout_ms, seen, &w, err);
}

/* rtv_xs_wait_on's check: the shunt has reported. */
static int shunt_reported(struct rtv_store *xs, void *arg, struct rtv_err *err)
{
    struct wait_args *w = arg;
    int rc = rtv_ctl_status(xs, w->dom, w->vdev, w->st, err);

    return rc < 0 ? rc : w->st->shunt_state[0] != '\0';
}

int rtv_ctl_wait_shunt(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                       unsigned timeout_ms, struct rtv_err *err)
{
    struct rtv_ctl_status st;
    struct wait_args w = { dom, vdev, &st };
    char dir[PATH_LEN];
    struct dev d;
    int rc;

    if ((rc = check_dev(dom, vdev, &d, err)) < 0 ||
        (rc = node_dir(dir, RTV_R_SHUNT_STATE, dom, &d)) < 0)
        return rc;
    rc = rtv_xs_wait_on(xs, dir, timeout_ms, shunt_reported, &w, err);
    if (rc == -ETIMEDOUT)
        rtv_err_set(err, ETIMEDOUT, "the shunt of %s in domain %u did not report within "
                    "%u ms (is the guest running, and rtvirt-shunt in it?)", vdev,
                    (unsigned)dom, timeout_ms);
    return rc;
}

int rtv_ctl_switch(struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                   const char *mode, unsigned step_ms, uint32_t *id,
                   struct rtv_ctl_status *st, struct rtv_err *err)
{
    uint32_t rid;
    int rc;

    if ((rc = rtv_ctl_request(xs, dom, vdev, mode, step_ms, &rid, err)) < 0)
        return rc;
    if (id)
        *id = rid;
    if ((rc = rtv_ctl_wait(xs, dom, vdev, rid, 4 * (step_ms ? step_ms : 10000u) + 2000u, st,
                           err)) < 0)
        return rc;
    if (st->result_id != rid)
        return rtv_err_set(err, EBUSY, "request %u was superseded by request %llu; "
                           "%s is now %s", rid, (unsigned long long)st->result_id, vdev,
                           st->state);
    if (strcmp(st->result, "ok") != 0)
        return rtv_err_set(err, EIO, "switch %u of %s to %s: %s: %s (now %s)", rid, vdev,
                           mode, st->result, st->error[0] ? st->error : "no reason given",
                           st->state);
    return 0;
}
