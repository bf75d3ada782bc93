/* The request half of the agents' xenstore protocol; see rtvirt/request.h. */
#include "rtvirt/request.h"

#include <stdio.h>

#include "rtvirt/err.h"
#include "rtvirt/log.h"
#include "rtvirt/xs_util.h"

void rtv_answer(struct rtv_answer *a, uint32_t *result_id, const char *result,
                uint32_t id, const char *error)
{
    if (id <= *result_id)
        return;
    *result_id = id;
    a->publish = true;
    a->result = result;
    a->id = id;
    snprintf(a->error, sizeof(a->error), "%s", error ? error : "");
}

int rtv_request_take(const struct rtv_request_nodes *n, const struct rtv_request *rq,
                     uint32_t *result_id, const struct rtv_running *running,
                     uint32_t default_ms, struct rtv_answer *a, char *note,
                     size_t note_len, uint32_t *id, uint32_t *timeout_ms)
{
    struct rtv_err err = {0};
    unsigned long long v, tmo = default_ms;
    char msg[sizeof(a->error)];

    if (rq->request_id == NULL) {
        rtv_notef(note, note_len, "no request-id: nothing asked");
        return 0;
    }
    if (rtv_xs_check_value(n->request_id, rq->request_id, &err) < 0) {
        /* No usable id to answer under: report, leave result-id alone. */
        a->publish = true;
        a->result = "error";
        a->id = *result_id;
        snprintf(a->error, sizeof(a->error), "%s", err.msg);
        return 0;
    }
    rtv_parse_uint(rq->request_id, UINT32_MAX, &v);
    if (v <= *result_id) {
        if (v != *result_id)   /* else: the request answered last, seen again */
            rtv_notef(note, note_len,
                      "request-id %s is older than the one answered last (%u): ignored",
                      rq->request_id, *result_id);
        return 0;
    }
    if (running->busy) {
        if (v == running->id)
            return 0;   /* the running change, seen again */
        snprintf(msg, sizeof(msg), "request %llu refused: %s is still running", v,
                 running->what);
        rtv_answer(a, result_id, "error", (uint32_t)v, msg);
        return 0;
    }
    if (rq->request == NULL) {
        snprintf(msg, sizeof(msg),
                 "node %s: absent; write it with request-id in one transaction",
                 rtv_xs_nodes[n->request].id);
        rtv_answer(a, result_id, "error", (uint32_t)v, msg);
        return 0;
    }
    if (rtv_xs_check_value(n->request, rq->request, &err) < 0 ||
        (rq->timeout_ms && rtv_xs_check_value(n->timeout_ms, rq->timeout_ms, &err) < 0)) {
        rtv_answer(a, result_id, "error", (uint32_t)v, err.msg);
        return 0;
    }
    if (rq->timeout_ms)
        rtv_parse_uint(rq->timeout_ms, UINT32_MAX, &tmo);
    *id = (uint32_t)v;
    *timeout_ms = (uint32_t)tmo;
    return 1;
}
