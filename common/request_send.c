/* The tool's side of the request protocol; see rtvirt/request.h. */
#include "rtvirt/request.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rtvirt/xs_util.h"

struct send {
    const struct rtv_request_area *a;
    const char                    *request;
    unsigned                       timeout_ms;
    uint32_t                       id;
};

/* A node of the area; its path was checked in rtv_request_check(). */
static void path_of(const struct send *s, enum rtv_xs_node n, char p[RTV_XS_PATH_MAX])
{
    rtv_xs_path(p, RTV_XS_PATH_MAX, n, &s->a->args, NULL);
}

/* A number in the store; absent or unparsable reads as 0. */
static uint64_t read_id(struct rtv_store *xs, rtv_txn_t t, const struct send *s,
                        enum rtv_xs_node n)
{
    char p[RTV_XS_PATH_MAX], buf[32];
    unsigned long long v = 0;

    path_of(s, n, p);
    if (rtv_xs_read_text(xs, t, p, buf, sizeof(buf)) == 0)
        rtv_parse_uint(buf, UINT64_MAX, &v);
    return v;
}

static int send_txn(struct rtv_store *xs, rtv_txn_t t, void *arg)
{
    struct send *s = arg;
    char p[RTV_XS_PATH_MAX], state[32];
    uint64_t last, answered;
    int rc;

    path_of(s, s->a->state, p);
    if ((rc = rtv_xs_read_text(xs, t, p, state, sizeof(state))) < 0)
        return rc;
    if (state[0] == '\0')
        return -ENOENT;
    /* A new id above anything asked or answered so far. */
    last = read_id(xs, t, s, s->a->n.request_id);
    answered = read_id(xs, t, s, s->a->result_id);
    if (answered > last)
        last = answered;
    if (last >= UINT32_MAX)
        return -EOVERFLOW;
    s->id = (uint32_t)last + 1;

    path_of(s, s->a->n.request, p);
    if ((rc = rtv_xs_write(xs, t, p, s->request, strlen(s->request))) < 0)
        return rc;
    path_of(s, s->a->n.timeout_ms, p);
    if (s->timeout_ms)
        rc = rtv_xs_printf(xs, t, p, "%u", s->timeout_ms);
    else if ((rc = rtv_xs_rm(xs, t, p)) == -ENOENT)
        rc = 0;   /* absent already means the default */
    if (rc < 0)
        return rc;
    path_of(s, s->a->n.request_id, p);
    return rtv_xs_printf(xs, t, p, "%u", s->id);
}

int rtv_request_check(const struct rtv_request_area *a, const char *request,
                      unsigned timeout_ms, struct rtv_err *err)
{
    const enum rtv_xs_node nodes[] = { a->n.request, a->n.request_id, a->n.timeout_ms,
                                       a->state, a->result_id };
    char p[RTV_XS_PATH_MAX], tmo[16];
    int rc;

    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
        if ((rc = rtv_xs_path(p, sizeof(p), nodes[i], &a->args, err)) < 0)
            return rc;
    if ((rc = rtv_xs_check_value(a->n.request, request, err)) < 0)
        return rc;
    snprintf(tmo, sizeof(tmo), "%u", timeout_ms);
    return timeout_ms ? rtv_xs_check_value(a->n.timeout_ms, tmo, err) : 0;
}

int rtv_request_send(struct rtv_store *xs, const struct rtv_request_area *a,
                     const char *request, unsigned timeout_ms, uint32_t *id)
{
    struct send s = { a, request, timeout_ms, 0 };
    int rc = rtv_xs_transact(xs, 0, send_txn, &s);

    if (rc == 0)
        *id = s.id;
    return rc;
}

struct wait {
    uint32_t                id;
    rtv_request_status_fn   status;
    void                   *arg;
    struct rtv_request_seen seen;
};

/* rtv_xs_wait_on's check: answered and settled. */
static int answered(struct rtv_store *xs, void *arg, struct rtv_err *err)
{
    struct wait *w = arg;
    int rc = w->status(xs, w->arg, &w->seen, err);

    if (rc < 0)
        return rc;
    return w->seen.result_id >= w->id && w->seen.settled;
}

int rtv_request_wait(struct rtv_store *xs, const struct rtv_request_area *a, const char *name,
                     uint32_t id, unsigned timeout_ms, rtv_request_status_fn status,
                     void *arg, struct rtv_err *err)
{
    struct wait w = { id, status, arg, { 0, "", false } };
    char dir[RTV_XS_PATH_MAX];
    int rc = rtv_xs_dir(dir, sizeof(dir), a->state, &a->args, err);

    if (rc < 0)
        return rc;
    rc = rtv_xs_wait_on(xs, dir, timeout_ms, answered, &w, err);
    if (rc == -ETIMEDOUT)
        rtv_err_set(err, ETIMEDOUT, "request %u for %s of domain %llu not answered within "
                    "%u ms (state %s, result-id %llu)", id, name, a->args.domid, timeout_ms,
                    w.seen.state, (unsigned long long)w.seen.result_id);
    return rc;
}
