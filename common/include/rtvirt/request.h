/*
 * The request half of the xenstore protocol that both dom0 agents serve:
 * the switch coordinator (rtvirt/switch_fsm.h; xenstore-schema/
 * rtvirt-paths.md, section 1) and rtvirt-ioemu (rtvirt/ioemu_ctl.h,
 * section 5).  A tool writes request (and timeout-ms) with a new request-id
 * in one transaction; the agent answers under that id with result, error
 * and result-id, which never goes backwards.  Written once here, so the two
 * agents give the same answers by construction:
 *
 *   - a request-id that is no number: result=error, result-id unchanged
 *     (there is no id to answer under);
 *   - an id at or below result-id: not answered again (below: ignored with
 *     a note);
 *   - a new id while a change runs: refused (the running one's id, seen
 *     again, is no new request);
 *   - request absent, or request / timeout-ms not a value the schema
 *     allows: result=error under that id.
 *
 * The agent's side is pure: raw store values in, what to publish out.  The
 * tool's side (rtv_request_check, rtv_request_send, rtv_request_wait)
 * writes a request over the store and waits for its answer; ctl.h (the
 * switch) and ioemu_req.h (ioemu) build their calls on it.
 */
#ifndef RTVIRT_REQUEST_H
#define RTVIRT_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtvirt/err.h"
#include "rtvirt/seam.h"
#include "rtvirt/xs_schema.h"

/* What answering a request publishes (in the agent's one transaction). */
struct rtv_answer {
    bool        publish;     /* result, result-id, error */
    const char *result;      /* "ok", "error", "rolled-back" */
    uint32_t    id;          /* result-id */
    char        error[512];
};

/* Answers request id with result and error (NULL: none), and moves
 * *result_id (the agent's last answered id) to it.  An answer for an id at
 * or below *result_id is dropped: its outcome is visible in state. */
void rtv_answer(struct rtv_answer *a, uint32_t *result_id, const char *result,
                uint32_t id, const char *error);

/* One agent's request nodes (their schema checks the values). */
struct rtv_request_nodes {
    enum rtv_xs_node request, request_id, timeout_ms;
};

/* A request as the store holds it: raw values, NULL = absent. */
struct rtv_request {
    const char *request, *request_id, *timeout_ms;
};

/* The change an agent is running, if any. */
struct rtv_running {
    bool        busy;
    uint32_t    id;      /* its request-id */
    const char *what;    /* for the refusal: "switch 3 to pv" */
};

/* Takes a request in.  1: a new, valid request to carry out, with *id and
 * *timeout_ms (default_ms when absent).  0: nothing to carry out; it was
 * answered with an error (a) or ignored (the reason in note, "" if it was
 * the last one seen again). */
int rtv_request_take(const struct rtv_request_nodes *n, const struct rtv_request *rq,
                     uint32_t *result_id, const struct rtv_running *running,
                     uint32_t default_ms, struct rtv_answer *a, char *note,
                     size_t note_len, uint32_t *id, uint32_t *timeout_ms);

/* ---- the tool's side ---- */

/* One device's request area: its nodes, and what fills their paths. */
struct rtv_request_area {
    struct rtv_request_nodes n;
    enum rtv_xs_node         state, result_id;
    struct rtv_xs_args       args;
};

/* Checks what rtv_request_send() would write: the area's paths, request
 * and timeout_ms (0: the agent's default) against the schema.  -EINVAL
 * with err saying why. */
int rtv_request_check(const struct rtv_request_area *a, const char *request,
                      unsigned timeout_ms, struct rtv_err *err);

/* Asks for request (checked): writes it and timeout-ms (0: the node
 * removed, so the agent's default) with a request-id above both
 * request-id and result-id, in one transaction; *id gets that id, to wait
 * for.  -ENOENT if state is absent (no agent serves the device),
 * -EOVERFLOW if the ids ran out, or the store's error: the caller says
 * what failed for whom. */
int rtv_request_send(struct rtv_store *xs, const struct rtv_request_area *a,
                     const char *request, unsigned timeout_ms, uint32_t *id);

/* What a tool's status read found: the id answered, and whether the
 * device has settled (an agent answers a request before its state leaves
 * the change: switching-*, virtualizing, ...). */
struct rtv_request_seen {
    uint64_t    result_id;
    const char *state;        /* the status's own text, for the message */
    bool        settled;
};

/* The tool's status read (into its own status struct, arg). */
typedef int (*rtv_request_status_fn)(struct rtv_store *xs, void *arg,
                                     struct rtv_request_seen *seen, struct rtv_err *err);

/* Waits, at most timeout_ms, until request id is answered (result-id >= id)
 * and the device settled, reading the status through status() again on
 * every event under the state node's directory (coalesced or spurious
 * events are harmless).  0, status()'s error, or -ETIMEDOUT with err
 * naming the request, name (the device as the tool calls it) and what was
 * last seen. */
int rtv_request_wait(struct rtv_store *xs, const struct rtv_request_area *a, const char *name,
                     uint32_t id, unsigned timeout_ms, rtv_request_status_fn status,
                     void *arg, struct rtv_err *err);

#endif
