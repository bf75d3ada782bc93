/*
 * Which of a switched NIC's two bridge ports may teach dom0's bridge the
 * guest's MAC (rtvirt-backd's NIC switch; dom0-backend/README.md, "The
 * bridge learns from one leg").
 *
 * The guest's one MAC sits behind two ports of the same bridge: qemu's tap
 * of the emulated NIC (vif<dom>.<devid>-emu) and netback's vif of the PV
 * leg (vif<dom>.<pv-devid>).  The bridge sends what is for that MAC to the
 * port it last saw the MAC on.  At a flip to PV the e1000 still holds, in
 * the guest's qdisc and its ring, frames queued before the flip (seconds of
 * them when it is saturated), and each one that leaves re-teaches the
 * bridge the tap, where the guest's master now drops what arrives.  So the
 * bridge learns the MAC from one port only: the one of the leg the guest
 * is on or, once dom0 told it to go (the gate passed: port-ready-id), the
 * one it goes to; learning is off on the other port.  Frames from the other
 * port are still forwarded: nothing is dropped, they only teach nothing.
 */
#ifndef RTVIRT_BACKD_VIF_PIN_H
#define RTVIRT_BACKD_VIF_PIN_H

#include <stdbool.h>

#include "rtvirt/err.h"
#include "rtvirt/switch_fsm.h"

enum backd_vif_leg { BACKD_VIF_LEG_EMULATED, BACKD_VIF_LEG_PV };

/* The leg whose port learns, for a NIC's switch machine; gate_passed: the
 * gate of the running switch (m->switch_id) passed, so port-ready-id tells
 * the guest it may flip. */
enum backd_vif_leg backd_vif_pin_leg(const struct rtv_switch_fsm *m, bool gate_passed);

/* Sets <sysfs>/<port>/brport/learning: 1 on the learning leg's port, 0 on
 * the other (pv_port NULL or "": no PV port).  A port that is not on a
 * bridge (gone, not made yet) is skipped.  *changed: something was
 * written.  Errors other than an absent port go to err (-errno). */
int backd_vif_pin_apply(const char *sysfs, const char *tap, const char *pv_port,
                        enum backd_vif_leg leg, bool *changed, struct rtv_err *err);

/* Learning back on for a port (unmanaged NIC, no pin wanted): absent is fine. */
int backd_vif_pin_release(const char *sysfs, const char *port, bool *changed,
                          struct rtv_err *err);

#endif
