/*
 * Which bridge port learns a switched NIC's MAC (dom0-backend/
 * backd_vif_pin.c): the leg the guest is on, or once the gate passed the
 * one it goes to; learning written only where it differs, an absent port
 * skipped, an unmanaged NIC's tap given learning back.  The bridge's sysfs
 * is a directory of brport/learning files here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../dom0-backend/backd_vif_pin.h"
#include "file_fixture.h"
#include "unit.h"

static char dir[64];

/* A bridge port: <name>/brport/learning. */
static void port(const char *name, const char *learning)
{
    rtv_test_dev_attr_put(dir, name, "brport/learning", learning);
}

static char learning(const char *name)
{
    char v[16];

    return rtv_test_dev_attr_get(dir, name, "brport/learning", v, sizeof(v))[0];
}

static void setup(void)
{
    rtv_test_mkdtemp(dir, sizeof(dir), "rtv-pin");
}

static void teardown(void)
{
    rtv_test_rm_tree(dir);
}

static struct rtv_switch_fsm fsm(enum rtv_switch_fsm_phase ph, enum rtv_mode mode,
                                 enum rtv_mode target)
{
    struct rtv_switch_fsm m;

    memset(&m, 0, sizeof(m));
    m.phase = ph;
    m.mode = mode;
    m.target = target;
    m.switch_id = 7;
    return m;
}

START_TEST(the_leg_follows_the_gate_not_the_request)
{
    struct rtv_switch_fsm m = fsm(RTV_FSM_STABLE, RTV_MODE_EMULATED, RTV_MODE_EMULATED);
    ck_assert_int_eq(backd_vif_pin_leg(&m, false), BACKD_VIF_LEG_EMULATED);
    m = fsm(RTV_FSM_STABLE, RTV_MODE_PV, RTV_MODE_PV);
    ck_assert_int_eq(backd_vif_pin_leg(&m, false), BACKD_VIF_LEG_PV);

    /* To pv: until the gate passed, the e1000's tap, whether the vif is
     * still coming up or the guest was told (switching-to-pv); past it
     * (the gate may pass while the backend comes up), the vif. */
    m = fsm(RTV_FSM_BACKEND_UP, RTV_MODE_EMULATED, RTV_MODE_PV);
    ck_assert_int_eq(backd_vif_pin_leg(&m, false), BACKD_VIF_LEG_EMULATED);
    ck_assert_int_eq(backd_vif_pin_leg(&m, true), BACKD_VIF_LEG_PV);
    m = fsm(RTV_FSM_SHUNT, RTV_MODE_EMULATED, RTV_MODE_PV);
    ck_assert_int_eq(backd_vif_pin_leg(&m, false), BACKD_VIF_LEG_EMULATED);
    ck_assert_int_eq(backd_vif_pin_leg(&m, true), BACKD_VIF_LEG_PV);

    /* Back to emulated: the tap learns again from the gate on, and while
     * the vif is torn down. */
    m = fsm(RTV_FSM_SHUNT, RTV_MODE_PV, RTV_MODE_EMULATED);
    ck_assert_int_eq(backd_vif_pin_leg(&m, false), BACKD_VIF_LEG_PV);
    ck_assert_int_eq(backd_vif_pin_leg(&m, true), BACKD_VIF_LEG_EMULATED);
    m = fsm(RTV_FSM_BACKEND_DOWN, RTV_MODE_PV, RTV_MODE_EMULATED);
    ck_assert_int_eq(backd_vif_pin_leg(&m, false), BACKD_VIF_LEG_EMULATED);

    /* A rollback sends the guest back where it was, gate or not. */
    m = fsm(RTV_FSM_ROLLBACK_SHUNT, RTV_MODE_EMULATED, RTV_MODE_PV);
    ck_assert_int_eq(backd_vif_pin_leg(&m, true), BACKD_VIF_LEG_EMULATED);
    m = fsm(RTV_FSM_ROLLBACK_DOWN, RTV_MODE_EMULATED, RTV_MODE_PV);
    ck_assert_int_eq(backd_vif_pin_leg(&m, true), BACKD_VIF_LEG_EMULATED);
    m = fsm(RTV_FSM_ROLLBACK_SHUNT, RTV_MODE_PV, RTV_MODE_EMULATED);
    ck_assert_int_eq(backd_vif_pin_leg(&m, true), BACKD_VIF_LEG_PV);
}
END_TEST

START_TEST(only_the_learning_leg_learns)
{
    struct rtv_err err = {0};
    bool changed = false;

    port("vif1.0-emu", "1");
    port("vif1.16", "1");
    ck_assert_int_eq(backd_vif_pin_apply(dir, "vif1.0-emu", "vif1.16", BACKD_VIF_LEG_PV,
                                         &changed, &err), 0);
    ck_assert(changed);
    ck_assert_int_eq(learning("vif1.0-emu"), '0');
    ck_assert_int_eq(learning("vif1.16"), '1');

    /* Level-triggered: the same again writes nothing. */
    changed = false;
    ck_assert_int_eq(backd_vif_pin_apply(dir, "vif1.0-emu", "vif1.16", BACKD_VIF_LEG_PV,
                                         &changed, &err), 0);
    ck_assert(!changed);

    ck_assert_int_eq(backd_vif_pin_apply(dir, "vif1.0-emu", "vif1.16",
                                         BACKD_VIF_LEG_EMULATED, &changed, &err), 0);
    ck_assert(changed);
    ck_assert_int_eq(learning("vif1.0-emu"), '1');
    ck_assert_int_eq(learning("vif1.16"), '0');
}
END_TEST

START_TEST(absent_ports_are_skipped_and_released_taps_learn)
{
    struct rtv_err err = {0};
    bool changed = false;

    /* No PV vif yet (or gone), and a tap not on a bridge: nothing fails. */
    port("vif2.0-emu", "1");
    ck_assert_int_eq(backd_vif_pin_apply(dir, "vif2.0-emu", NULL, BACKD_VIF_LEG_PV,
                                         &changed, &err), 0);
    ck_assert_int_eq(learning("vif2.0-emu"), '0');
    ck_assert_int_eq(backd_vif_pin_apply(dir, "vif9.0-emu", "", BACKD_VIF_LEG_EMULATED,
                                         &changed, &err), 0);

    changed = false;
    ck_assert_int_eq(backd_vif_pin_release(dir, "vif2.0-emu", &changed, &err), 0);
    ck_assert(changed);
    ck_assert_int_eq(learning("vif2.0-emu"), '1');
    ck_assert_int_eq(backd_vif_pin_release(dir, "vif9.0-emu", &changed, &err), 0);
}
END_TEST

START_TEST(an_unreadable_port_is_an_error)
{
    struct rtv_err err = {0};
    bool changed = false;
    char p[160];

    /* brport/learning that cannot be read (a directory: EISDIR, even for
     * root) is reported, not taken for "not on a bridge". */
    snprintf(p, sizeof(p), "%s/vif3.0-emu/brport/learning", dir);
    rtv_test_mkdir_p(p);
    ck_assert_int_lt(backd_vif_pin_apply(dir, "vif3.0-emu", NULL, BACKD_VIF_LEG_PV,
                                         &changed, &err), 0);
    ck_assert_contains(err.msg, "vif3.0-emu/brport/learning");
    ck_assert(!changed);
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(vif_pin_suite, "vif_pin", "pin", setup, teardown, 0,
                        the_leg_follows_the_gate_not_the_request, only_the_learning_leg_learns,
                        absent_ports_are_skipped_and_released_taps_learn,
                        an_unreadable_port_is_an_error)

RTV_UNIT_MAIN(vif_pin_suite)
