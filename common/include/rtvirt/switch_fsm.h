/*
 * The dom0 side of the live switch protocol, as a pure state machine.
 *
 * rtvirt-backd owns one `struct rtv_switch_fsm` per managed device.  It turns
 * xenstore watches, backend progress and clock ticks into events, feeds them
 * to rtv_switch_fsm_step(), and carries out what comes back: bring a PV backend
 * up or tear it down, and publish state/result/stats nodes (in one
 * transaction).  Nothing here touches xenstore or Xen, so every transition,
 * timeout and restart case is unit-tested on the host.
 *
 * Values read from the store arrive as the raw strings found there (NULL =
 * absent) and are validated here against the schema: a bad request is
 * answered with result=error naming the node and value; bad guest reports
 * are ignored with a reason, never trusted.
 *
 * The protocol is xenstore-schema/rtvirt-paths.md, section 1.
 */
#ifndef RTVIRT_SWITCH_FSM_H
#define RTVIRT_SWITCH_FSM_H

#include <stdbool.h>
#include <stdint.h>

#include "rtvirt/devclass.h"
#include "rtvirt/mode.h"
#include "rtvirt/request.h"

enum rtv_switch_fsm_phase {
    RTV_FSM_STABLE,          /* state = mode, no switch running */
    RTV_FSM_BACKEND_UP,      /* bringing up the PV backend (state still = mode) */
    RTV_FSM_SHUNT,           /* state = switching-to-target, waiting for the shunt */
    RTV_FSM_BACKEND_DOWN,    /* shunt is on emulated; tearing the PV ring down */
    RTV_FSM_ROLLBACK_SHUNT,  /* state = rolling-back, waiting for the shunt */
    RTV_FSM_ROLLBACK_DOWN,   /* tearing down the backend this switch brought up */
    RTV_FSM_GATE,            /* dm_sync_at_request, no backend to bring up: the
                                device-model check runs first (state still = mode) */
};

#define RTV_FSM_DEFAULT_TIMEOUT_MS 10000u

struct rtv_switch_fsm {
    const struct rtv_devclass *cls;    /* which nodes validate what (vbd, vif) */
    enum rtv_mode        mode;         /* where the guest is (or was, before the switch) */
    enum rtv_mode        target;
    enum rtv_switch_fsm_phase phase;
    uint32_t             switch_id;    /* request-id of the running/last switch */
    uint32_t             result_id;    /* last request answered */
    bool                 backend_up;   /* a PV backend is up for this device */
    bool                 backend_ours; /* brought up by the running switch */
    uint64_t             deadline_ms;  /* bound on the current wait */
    uint32_t             timeout_ms;   /* per-wait bound of the running switch */
    bool                 rolled_back;  /* the running switch ends in rollback */
    char                 why[384];     /* reason for rollback / warning */
    uint32_t             dm_sync_id;   /* switch-id the device-model sync was asked for */
    /* The device-model gate is a check that needs no drained guest (a raw
     * drive: dom0-backend/README.md): ask for it with the request, in either
     * direction, so the shunt finds dm-synced-id written when it has
     * drained: to a PV mode it runs while the backend comes up; otherwise
     * the guest is told (switching-to-*) only once it passed (GATE).  Off:
     * leaving the emulated path, it is asked for on the shunt's `flushed`
     * (a sync that flushes qemu's drive after the guest's last write).
     * The caller's setting, not state: init and recover clear it, so set
     * it after them. */
    bool                 dm_sync_at_request;
    /* The guest failed over from a PV mode to the emulated path by itself
     * (shunt-state = failed-over): dom0 follows it to emulated, tearing
     * the dead PV backend down on the way (state switching-to-emulated,
     * phase BACKEND_DOWN), with no request to answer. */
    bool                 failing_over;

    uint64_t             switches, rollbacks, blackout_us, held, failovers;
};

enum rtv_switch_fsm_event_kind {
    RTV_FSM_EV_REQUEST,         /* request / request-id / timeout-ms changed */
    RTV_FSM_EV_BACKEND_READY,   /* the PV backend is up and waiting for the frontend */
    RTV_FSM_EV_BACKEND_FAILED,  /* bringing it up failed: msg says why */
    RTV_FSM_EV_BACKEND_CLOSED,  /* both ends reached Closed; ring torn down */
    RTV_FSM_EV_SHUNT,           /* the guest's report area changed */
    RTV_FSM_EV_TICK,            /* time passed (checks the current bound) */
    RTV_FSM_EV_DM_SYNC_FAILED,  /* the device-model sync failed: msg says why */
    RTV_FSM_EV_DM_SYNC_DONE,    /* ... passed, dm-synced-id = dm_sync_id written */
};

struct rtv_switch_fsm_event {
    enum rtv_switch_fsm_event_kind kind;
    uint64_t    now_ms;
    /* RTV_FSM_EV_REQUEST: raw store values, NULL if absent */
    const char *request, *request_id, *timeout_ms;
    /* RTV_FSM_EV_SHUNT: raw guest values, NULL if absent */
    const char *shunt_state, *shunt_ack_id, *shunt_error;
    const char *shunt_blackout_us, *shunt_held;
    /* RTV_FSM_EV_SHUNT: what dom0 knows of why the PV leg went (rtvirt-backd
     * gone for good, its rings failed by rtvirt-backd --orphans close), put
     * before the guest's reason in a failover; NULL: nothing */
    const char *dom0_cause;
    /* RTV_FSM_EV_BACKEND_FAILED, RTV_FSM_EV_DM_SYNC_FAILED */
    const char *msg;
};

enum rtv_switch_fsm_action {
    RTV_FSM_ACT_BRING_UP  = 1u << 0,  /* start serving the PV backend */
    RTV_FSM_ACT_TEAR_DOWN = 1u << 1,  /* close it (report CLOSED when both ends are) */
    /* The shunt is flushed and waits: sync the device model's side of the
     * emulated disk, then write dm-synced-id = switch_id (or report
     * RTV_FSM_EV_DM_SYNC_FAILED). */
    RTV_FSM_ACT_DM_SYNC   = 1u << 2,
    /* A tear-down's bound passed and the machine finished without CLOSED:
     * call the tear-down off.  The backend stays, and stays "up" for the
     * machine, so the next switch to PV uses it and the next switch to
     * emulated tears it down again; a tear-down left running would remove
     * it (and ctl-devid) under that next switch. */
    RTV_FSM_ACT_KEEP      = 1u << 3,
};

/* What the adapter must do after a step; publish_* fields are written in
 * one transaction. */
struct rtv_switch_fsm_out {
    unsigned    actions;
    bool        publish_state;     /* state, switch-id and previous */
    char        state[32];
    uint32_t    switch_id;
    const char *previous;
    struct rtv_answer answer;      /* result, result-id, error */
    bool        publish_stats;     /* stats/ from the struct */
    bool        publish_failover;  /* failover = failover_why */
    char        failover_why[512];
    char        note[256];         /* ignored input, for the log only */
};

/* A device that starts managed in `mode`, with no PV backend up: a disk
 * (rtv_switch_fsm_init) or a device of class cls. */
void rtv_switch_fsm_init(struct rtv_switch_fsm *c, enum rtv_mode mode);
void rtv_switch_fsm_init_class(struct rtv_switch_fsm *c, const struct rtv_devclass *cls,
                               enum rtv_mode mode);

/* One event in, what to do out.  Idempotent for repeated or coalesced
 * events: feeding the same values twice changes nothing the second time. */
void rtv_switch_fsm_step(struct rtv_switch_fsm *c, const struct rtv_switch_fsm_event *ev,
                         struct rtv_switch_fsm_out *out);

/* Restart: rebuild the machine from what the store holds (raw values,
 * NULL = absent) and whether a PV backend for the device still exists.
 * A switch found half-done is finished if the shunt already confirmed it,
 * otherwise rolled back.  Returns -EINVAL (with out->error) if state is
 * absent or unusable: the device is then not managed. */
int rtv_switch_fsm_recover(struct rtv_switch_fsm *c, uint64_t now_ms,
                           const char *state, const char *previous,
                           const char *switch_id, const char *result_id,
                           const char *shunt_state, const char *shunt_ack_id,
                           bool backend_present, struct rtv_switch_fsm_out *out);
/* The same for a device of class cls (rtv_switch_fsm_recover: a disk). */
int rtv_switch_fsm_recover_class(struct rtv_switch_fsm *c, const struct rtv_devclass *cls,
                                 uint64_t now_ms, const char *state, const char *previous,
                                 const char *switch_id, const char *result_id,
                                 const char *shunt_state, const char *shunt_ack_id,
                                 bool backend_present, struct rtv_switch_fsm_out *out);

/* Current value for the state node ("pv", "switching-to-pv", ...). */
const char *rtv_switch_fsm_state_name(const struct rtv_switch_fsm *c, char *buf,
                                      unsigned len);

#endif
