/*
 * The xenstore side of rtvirt-ioemu's runtime (de)virtualization, pure:
 * raw values read under /local/domain/$DOMID/rtvirt/ioemu/$IODEV/ in,
 * validated against the schema (xenstore-schema/rtvirt-paths.md,
 * section 5), turned into rtv_iov requests, and what to publish out.
 *
 * Same answers as the block switch's coordinator (rtvirt/switch_fsm.h), by
 * the same code (rtvirt/request.h); asking for the mode the device is
 * already in is answered ok.
 */
#ifndef RTVIRT_IOEMU_CTL_H
#define RTVIRT_IOEMU_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "rtvirt/iovirt.h"
#include "rtvirt/request.h"

#define RTV_IOEMU_DEFAULT_TIMEOUT_MS 1000u

struct rtv_ioemu_ctl {
    struct rtv_iov *iov;
    uint32_t        result_id;   /* last request answered */
    uint32_t        change_id;   /* request-id of the running change */
};

/* What to publish (in one transaction) and what to carry out. */
struct rtv_ioemu_ctl_out {
    struct rtv_iov_out iov;      /* actions for the device, from rtv_iov */
    bool        publish_state;   /* state */
    const char *state;
    struct rtv_answer answer;    /* result, result-id, error */
    bool        publish_stats;   /* stats/ from the rtv_iov */
    char        note[256];       /* ignored input, for the log only */
};

/* result_id: the store's result-id (0 if absent), so that a restarted
 * rtvirt-ioemu does not answer an old request again. */
void rtv_ioemu_ctl_init(struct rtv_ioemu_ctl *c, struct rtv_iov *iov,
                        uint32_t result_id);

/* request, request-id or timeout-ms changed (raw values, NULL = absent).
 * Idempotent: the same values again change nothing. */
void rtv_ioemu_ctl_request(struct rtv_ioemu_ctl *c, const char *request,
                           const char *request_id, const char *timeout_ms,
                           uint64_t now_us, struct rtv_ioemu_ctl_out *out);

/* After any rtv_iov_* call that filled `done`: if the change finished,
 * what to publish about it. */
void rtv_ioemu_ctl_finished(struct rtv_ioemu_ctl *c,
                            const struct rtv_iov_out *done,
                            struct rtv_ioemu_ctl_out *out);

#endif
