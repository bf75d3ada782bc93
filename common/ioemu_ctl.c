/* The xenstore side of runtime (de)virtualization; see rtvirt/ioemu_ctl.h. */
#include "rtvirt/ioemu_ctl.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "rtvirt/log.h"
#include "rtvirt/xs_schema.h"
#include "rtvirt/xs_util.h"

void rtv_ioemu_ctl_init(struct rtv_ioemu_ctl *c, struct rtv_iov *iov,
                        uint32_t result_id)
{
    *c = (struct rtv_ioemu_ctl){ .iov = iov, .result_id = result_id };
}

/* Answers request `id`; result-id never goes backwards. */
static void answer(struct rtv_ioemu_ctl *c, struct rtv_ioemu_ctl_out *out,
                   const char *result, uint32_t id, const char *error)
{
    if (id <= c->result_id)
        return;
    c->result_id = id;
    out->publish_result = true;
    out->result = result;
    out->result_id = id;
    snprintf(out->error, sizeof(out->error), "%s", error);
}

void rtv_ioemu_ctl_request(struct rtv_ioemu_ctl *c, const char *request,
                           const char *request_id, const char *timeout_ms,
                           uint64_t now_us, struct rtv_ioemu_ctl_out *out)
{
    struct rtv_err err = {0};
    unsigned long long id, tmo = RTV_IOEMU_DEFAULT_TIMEOUT_MS;
    enum rtv_iov_mode target;
    char msg[sizeof(out->error)];
    int rc;

    memset(out, 0, sizeof(*out));
    if (request_id == NULL) {
        rtv_note(out, "no request-id: nothing asked");
        return;
    }
    if (rtv_xs_check_value(RTV_XS_IOEMU_REQUEST_ID, request_id, &err) < 0) {
        /* No usable id to answer under: report, leave result-id alone. */
        out->publish_result = true;
        out->result = "error";
        out->result_id = c->result_id;
        snprintf(out->error, sizeof(out->error), "%s", err.msg);
        return;
    }
    rtv_parse_uint(request_id, UINT32_MAX, &id);
    if (id <= c->result_id) {
        if (id != c->result_id)   /* else: answered last, seen again */
            rtv_note(out, "request-id %s is older than the one answered last (%u): ignored",
                     request_id, c->result_id);
        return;
    }
    if (c->iov->phase != RTV_IOV_STABLE) {
        if (id == c->change_id)
            return;   /* the running change, seen again */
        snprintf(msg, sizeof(msg), "request %llu refused: change %u to %s is still running",
                 id, c->change_id,
                 c->iov->target == RTV_IOV_VIRTUALIZED ? "virtualized" : "direct");
        answer(c, out, "error", (uint32_t)id, msg);
        return;
    }
    if (request == NULL) {
        answer(c, out, "error", (uint32_t)id,
               "node ioemu-request: absent; write it with request-id in one transaction");
        return;
    }
    if (rtv_xs_check_value(RTV_XS_IOEMU_REQUEST, request, &err) < 0 ||
        (timeout_ms && rtv_xs_check_value(RTV_XS_IOEMU_TIMEOUT_MS, timeout_ms, &err) < 0)) {
        answer(c, out, "error", (uint32_t)id, err.msg);
        return;
    }
    if (timeout_ms)
        rtv_parse_uint(timeout_ms, UINT32_MAX, &tmo);
    target = strcmp(request, "virtualize") == 0 ? RTV_IOV_VIRTUALIZED : RTV_IOV_DIRECT;
    if (target == c->iov->mode) {
        answer(c, out, "ok", (uint32_t)id, "");
        rtv_note(out, "already %s", rtv_iov_state_name(c->iov));
        return;
    }
    rc = rtv_iov_request(c->iov, target, now_us, (uint32_t)tmo, &out->iov);
    assert(rc == 0);              /* stable, and not already there: checked above */
    (void)rc;
    c->change_id = (uint32_t)id;
    out->publish_state = true;
    out->state = rtv_iov_state_name(c->iov);
}

void rtv_ioemu_ctl_finished(struct rtv_ioemu_ctl *c,
                            const struct rtv_iov_out *done,
                            struct rtv_ioemu_ctl_out *out)
{
    memset(out, 0, sizeof(*out));
    if (!done->finished)
        return;
    out->publish_state = true;
    out->state = rtv_iov_state_name(c->iov);
    answer(c, out, done->result, c->change_id, c->iov->why);
    out->publish_stats = true;
}
