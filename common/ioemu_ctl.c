/* The xenstore side of runtime (de)virtualization; see rtvirt/ioemu_ctl.h. */
#include "rtvirt/ioemu_ctl.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "rtvirt/log.h"
#include "rtvirt/xs_schema.h"

void rtv_ioemu_ctl_init(struct rtv_ioemu_ctl *c, struct rtv_iov *iov,
                        uint32_t result_id)
{
    *c = (struct rtv_ioemu_ctl){ .iov = iov, .result_id = result_id };
}

void rtv_ioemu_ctl_request(struct rtv_ioemu_ctl *c, const char *request,
                           const char *request_id, const char *timeout_ms,
                           uint64_t now_us, struct rtv_ioemu_ctl_out *out)
{
    static const struct rtv_request_nodes nodes = {
        RTV_XS_IOEMU_REQUEST, RTV_XS_IOEMU_REQUEST_ID, RTV_XS_IOEMU_TIMEOUT_MS,
    };
    const struct rtv_request rq = { request, request_id, timeout_ms };
    struct rtv_running running = { .busy = c->iov->phase != RTV_IOV_STABLE,
                                   .id = c->change_id };
    enum rtv_iov_mode target;
    char what[64];
    uint32_t id, tmo;
    int rc;

    memset(out, 0, sizeof(*out));
    if (running.busy) {
        snprintf(what, sizeof(what), "change %u to %s", c->change_id,
                 c->iov->target == RTV_IOV_VIRTUALIZED ? "virtualized" : "direct");
        running.what = what;
    }
    if (!rtv_request_take(&nodes, &rq, &c->result_id, &running, RTV_IOEMU_DEFAULT_TIMEOUT_MS,
                          &out->answer, out->note, sizeof(out->note), &id, &tmo))
        return;
    target = strcmp(request, "virtualize") == 0 ? RTV_IOV_VIRTUALIZED : RTV_IOV_DIRECT;
    if (target == c->iov->mode) {
        rtv_answer(&out->answer, &c->result_id, "ok", id, "");
        rtv_note(out, "already %s", rtv_iov_state_name(c->iov));
        return;
    }
    rc = rtv_iov_request(c->iov, target, now_us, tmo, &out->iov);
    assert(rc == 0);              /* stable, and not already there: checked above */
    (void)rc;
    c->change_id = id;
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
    rtv_answer(&out->answer, &c->result_id, done->result, c->change_id, c->iov->why);
    out->publish_stats = true;
}
