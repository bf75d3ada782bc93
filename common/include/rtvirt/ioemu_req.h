/*
 * The orchestrator's side of the ioemu section of the xenstore contract
 * (xenstore-schema/rtvirt-paths.md, section 5): what `xl-rtvirt
 * virtualize|devirtualize|status` does, as functions any tool or test can
 * call.  Plain reads and writes of the schema's nodes, as rtvirt/ctl.h is
 * for the block switch.
 *
 * Two APIs, not one, because what a tool manages and reads differs: a
 * switch's device is put under rtvirt by the tool (manage, unmanage), has
 * modes, a guest's shunt reports and a PV twin; an ioemu device is made
 * by rtvirt-ioemu when it starts, has an I/O port, an IRQ and a line's
 * counters.  What the two share, the request protocol (a request and a
 * new request-id in one transaction, answered under that id), is one
 * piece of code: rtvirt/request.h.
 */
#ifndef RTVIRT_IOEMU_REQ_H
#define RTVIRT_IOEMU_REQ_H

#include <stdint.h>

#include "rtvirt/err.h"
#include "rtvirt/seam.h"

/* Asks for "virtualize" or "devirtualize": request (and timeout-ms if
 * nonzero, else the default) with a new request-id in one transaction; *id
 * gets the id to wait for.  -ENOENT if rtvirt-ioemu does not manage the
 * device (no state node). */
int rtv_ioemu_request(struct rtv_store *xs, rtv_domid_t dom, const char *iodev,
                      const char *request, unsigned timeout_ms, uint32_t *id,
                      struct rtv_err *err);

struct rtv_ioemu_status {
    rtv_domid_t domid;
    char        iodev[32];
    char        state[32];
    char        model[32];
    char        result[16];
    char        error[1025];
    uint64_t    ioport, irq, request_id, result_id;
    uint64_t    changes, resets, rollbacks, seek_us, held_us, busy, logged, replayed;
};

/* Reads the device's nodes (one transaction).  -ENOENT if not managed. */
int rtv_ioemu_status(struct rtv_store *xs, rtv_domid_t dom, const char *iodev,
                     struct rtv_ioemu_status *st, struct rtv_err *err);

/* Names of dom's devices under rtvirt-ioemu (one allocation; free() it). */
int rtv_ioemu_list(struct rtv_store *xs, rtv_domid_t dom, char ***iodevs,
                   unsigned *num, struct rtv_err *err);

/* rtv_request_wait (rtvirt/request.h) for a change: settled once the
 * state is no longer virtualizing or devirtualizing; st the last status. */
int rtv_ioemu_wait(struct rtv_store *xs, rtv_domid_t dom, const char *iodev,
                   uint32_t id, unsigned timeout_ms, struct rtv_ioemu_status *st,
                   struct rtv_err *err);

#endif
