/* The orchestrator's side of the ioemu nodes; see rtvirt/ioemu_req.h. */
#include "rtvirt/ioemu_req.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/request.h"
#include "rtvirt/xs_schema.h"
#include "rtvirt/xs_util.h"

struct node_ref {
    rtv_domid_t dom;
    const char *iodev;
};

static int node(char *buf, size_t len, enum rtv_xs_node n, const struct node_ref *r,
                struct rtv_err *err)
{
    struct rtv_xs_args a = { .domid = r->dom, .iodev = r->iodev };

    return rtv_xs_path(buf, len, n, &a, err);
}

/* A node's text into buf ("" if absent). */
static int read_text(struct rtv_store *xs, rtv_txn_t t, enum rtv_xs_node n,
                     const struct node_ref *r, char *buf, size_t len)
{
    char p[RTV_XS_PATH_MAX];
    int rc = node(p, sizeof(p), n, r, NULL);

    buf[0] = '\0';
    return rc < 0 ? rc : rtv_xs_read_text(xs, t, p, buf, len);
}

/* A number rtvirt-ioemu wrote; absent or unparsable reads as 0. */
static uint64_t read_u(struct rtv_store *xs, rtv_txn_t t, enum rtv_xs_node n,
                       const struct node_ref *r)
{
    char buf[32];
    unsigned long long v = 0;

    if (read_text(xs, t, n, r, buf, sizeof(buf)) == 0)
        rtv_parse_uint(buf, UINT64_MAX, &v);
    return v;
}

/* The device's request area. */
static struct rtv_request_area area(rtv_domid_t dom, const char *iodev)
{
    return (struct rtv_request_area){
        { RTV_XS_IOEMU_REQUEST, RTV_XS_IOEMU_REQUEST_ID, RTV_XS_IOEMU_TIMEOUT_MS },
        RTV_XS_IOEMU_STATE, RTV_XS_IOEMU_RESULT_ID, { .domid = dom, .iodev = iodev },
    };
}

int rtv_ioemu_request(struct rtv_store *xs, rtv_domid_t dom, const char *iodev,
                      const char *request, unsigned timeout_ms, uint32_t *id,
                      struct rtv_err *err)
{
    const struct rtv_request_area a = area(dom, iodev);
    int rc = rtv_request_check(&a, request, timeout_ms, err);

    if (rc < 0)
        return rc;
    rc = rtv_request_send(xs, &a, request, timeout_ms, id);
    if (rc == -ENOENT)
        return rtv_err_set(err, ENOENT, "%s of domain %u is not managed by rtvirt-ioemu "
                           "(no state node: is rtvirt-ioemu running for it?)", iodev,
                           (unsigned)dom);
    if (rc < 0)
        return rtv_err_set(err, -rc, "cannot write the request for %s of domain %u: %s",
                           iodev, (unsigned)dom, strerror(-rc));
    return 0;
}

struct status_args {
    struct node_ref          r;
    struct rtv_ioemu_status *st;
};

static int status_txn(struct rtv_store *xs, rtv_txn_t t, void *arg)
{
    struct status_args *a = arg;
    struct rtv_ioemu_status *st = a->st;
    const struct { enum rtv_xs_node n; uint64_t *v; } nums[] = {
        { RTV_XS_IOEMU_IOPORT, &st->ioport }, { RTV_XS_IOEMU_IRQ, &st->irq },
        { RTV_XS_IOEMU_REQUEST_ID, &st->request_id }, { RTV_XS_IOEMU_RESULT_ID, &st->result_id },
        { RTV_XS_IOEMU_STATS_CHANGES, &st->changes }, { RTV_XS_IOEMU_STATS_RESETS, &st->resets },
        { RTV_XS_IOEMU_STATS_ROLLBACKS, &st->rollbacks }, { RTV_XS_IOEMU_STATS_SEEK_US, &st->seek_us },
        { RTV_XS_IOEMU_STATS_HELD_US, &st->held_us }, { RTV_XS_IOEMU_STATS_BUSY, &st->busy },
        { RTV_XS_IOEMU_STATS_LOGGED, &st->logged }, { RTV_XS_IOEMU_STATS_REPLAYED, &st->replayed },
    };
    int rc = read_text(xs, t, RTV_XS_IOEMU_STATE, &a->r, st->state, sizeof(st->state));

    if (rc < 0)
        return rc;
    read_text(xs, t, RTV_XS_IOEMU_MODEL, &a->r, st->model, sizeof(st->model));
    read_text(xs, t, RTV_XS_IOEMU_RESULT, &a->r, st->result, sizeof(st->result));
    read_text(xs, t, RTV_XS_IOEMU_ERROR, &a->r, st->error, sizeof(st->error));
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        *nums[i].v = read_u(xs, t, nums[i].n, &a->r);
    return 0;
}

int rtv_ioemu_status(struct rtv_store *xs, rtv_domid_t dom, const char *iodev,
                     struct rtv_ioemu_status *st, struct rtv_err *err)
{
    struct status_args a = { { dom, iodev }, st };
    char p[RTV_XS_PATH_MAX];
    int rc;

    memset(st, 0, sizeof(*st));
    if ((rc = node(p, sizeof(p), RTV_XS_IOEMU_STATE, &a.r, err)) < 0)
        return rc;
    st->domid = dom;
    snprintf(st->iodev, sizeof(st->iodev), "%s", iodev);
    rc = rtv_xs_transact(xs, 0, status_txn, &a);
    if (rc < 0)
        return rtv_err_set(err, -rc, "cannot read %s of domain %u: %s", iodev, (unsigned)dom,
                           strerror(-rc));
    if (!st->state[0])
        return rtv_err_set(err, ENOENT, "%s of domain %u is not managed by rtvirt-ioemu",
                           iodev, (unsigned)dom);
    return 0;
}

int rtv_ioemu_list(struct rtv_store *xs, rtv_domid_t dom, char ***iodevs,
                   unsigned *num, struct rtv_err *err)
{
    struct node_ref r = { dom, "x" };
    char dir[RTV_XS_PATH_MAX];
    int rc;

    node(dir, sizeof(dir), RTV_XS_IOEMU_STATE, &r, NULL);
    *strrchr(dir, '/') = '\0';   /* .../ioemu/x */
    *strrchr(dir, '/') = '\0';   /* .../ioemu: one entry per device */
    rc = rtv_xs_directory(xs, RTV_XS_NO_TXN, dir, iodevs, num);
    if (rc == -ENOENT) {
        *iodevs = NULL;
        *num = 0;
        return 0;
    }
    return rc < 0 ? rtv_err_set(err, -rc, "cannot list %s: %s", dir, strerror(-rc)) : 0;
}

/* rtv_request_wait's status read: settled once no change runs. */
static int seen(struct rtv_store *xs, void *arg, struct rtv_request_seen *seen,
                struct rtv_err *err)
{
    struct status_args *w = arg;
    int rc = rtv_ioemu_status(xs, w->r.dom, w->r.iodev, w->st, err);

    *seen = (struct rtv_request_seen){ w->st->result_id, w->st->state,
                                       strcmp(w->st->state, "virtualizing") != 0 &&
                                       strcmp(w->st->state, "devirtualizing") != 0 };
    return rc;
}

int rtv_ioemu_wait(struct rtv_store *xs, rtv_domid_t dom, const char *iodev,
                   uint32_t id, unsigned timeout_ms, struct rtv_ioemu_status *st,
                   struct rtv_err *err)
{
    const struct rtv_request_area a = area(dom, iodev);
    struct status_args w = { { dom, iodev }, st };

    return rtv_request_wait(xs, &a, iodev, id, timeout_ms, seen, &w, err);
}
