/*
 * xl-rtvirt save, restore and migrate (xl-scripts/xl_move.c) over the local
 * store, acting as dom0 with guest 5 "web1": a stand-in xl and ssh record
 * what they are asked, and a stand-in switch records each switch and moves
 * the state node as rtvirt-backd would.  What the real xl and the guest's
 * shunt do is the lab's (steps/save-restore).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtvirt/ctl.h"
#include "rtvirt/local.h"
#include "hub_fixture.h"
#include "unit.h"
#include "file_fixture.h"
#include "xs_fixture.h"
#include "../../xl-scripts/xl_move.h"

static struct rtv_local_hub *hub;
static struct rtv_xen dom0;
static char dir[64], xl[128], ssh[128], save[128];
static char switches[512];       /* "DOM VDEV MODE;" per switch asked */
static int fail_switch_to_emulated;

/* The stand-in xl: appends its arguments to $XL_DIR/args, exits 3 for the
 * subcommand in $XL_FAIL (what the real xl makes or removes in the store,
 * the test does). */
static const char fake_xl[] =
    "#!/bin/sh\n"
    "echo \"$*\" >> \"$XL_DIR/args\"\n"
    "[ \"$1\" = \"${XL_FAIL:-}\" ] && exit 3\n"
    "exit 0\n";

/* The stand-in ssh: the arguments it got, one line per run. */
static const char fake_ssh[] =
    "#!/bin/sh\n"
    "for a in \"$@\"; do printf '[%s]' \"$a\"; done >> \"$XL_DIR/ssh\"\n"
    "echo >> \"$XL_DIR/ssh\"\n"
    "exit ${SSH_RC:-0}\n";

static int fake_sw(void *ctx, struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                   const char *mode, struct rtv_err *err)
{
    char p[128], e[64];

    (void)ctx;
    snprintf(e, sizeof(e), "%u %s %s;", (unsigned)dom, vdev, mode);
    strncat(switches, e, sizeof(switches) - strlen(switches) - 1);
    if (fail_switch_to_emulated && strcmp(mode, "emulated") == 0 &&
        --fail_switch_to_emulated == 0)
        return rtv_err_set(err, EIO, "switch of %s to %s: rolled back (stand-in)", vdev, mode);
    snprintf(p, sizeof(p), "/local/domain/%u/rtvirt/vbd/%s/state", (unsigned)dom, vdev);
    rtv_test_put(xs, p, mode);
    return 0;
}

static int fake_ready(void *ctx, struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                      struct rtv_err *err)
{
    char e[64];

    (void)ctx;
    (void)xs;
    (void)err;
    snprintf(e, sizeof(e), "ready %u %s;", (unsigned)dom, vdev);
    strncat(switches, e, sizeof(switches) - strlen(switches) - 1);
    return 0;
}

static const struct xl_move_ops ops = { fake_sw, fake_ready, NULL };

static void make_domain(unsigned dom, const char *name)
{
    const struct rtv_xs_perm perms[2] = { { 0, RTV_XS_PERM_NONE }, { dom, RTV_XS_PERM_READ } };
    char p[64];

    snprintf(p, sizeof(p), "/local/domain/%u", dom);
    ck_assert_int_eq(rtv_xs_mkdir(dom0.xs, RTV_XS_NO_TXN, p), 0);
    ck_assert_int_eq(rtv_xs_set_perms(dom0.xs, RTV_XS_NO_TXN, p, perms, 2), 0);
    snprintf(p, sizeof(p), "/local/domain/%u/name", dom);
    rtv_test_put(dom0.xs, p, name);
}

/* web1 (domain 5): hda managed in mode, hdb managed emulated. */
static void web1(const char *mode)
{
    struct rtv_err err = { 0, "" };

    make_domain(5, "web1");
    ck_assert_int_eq(rtv_ctl_manage(dom0.xs, 5, "hda", "/srv/web 1's.img", &err), 0);
    ck_assert_int_eq(rtv_ctl_manage(dom0.xs, 5, "hdb", "/srv/data.img", &err), 0);
    rtv_test_put(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/state", mode);
}

static void setup(void)
{
    hub = rtv_test_hub_dom0(&dom0);
    rtv_test_put(dom0.xs, "/local/domain/0/name", "Domain-0");
    rtv_test_mkdtemp(dir, sizeof(dir), "rtv-xl-move");
    snprintf(xl, sizeof(xl), "%s/xl", dir);
    snprintf(ssh, sizeof(ssh), "%s/fake-ssh", dir);
    snprintf(save, sizeof(save), "%s/web1.save", dir);
    rtv_test_write_file(xl, fake_xl, true);
    rtv_test_write_file(ssh, fake_ssh, true);
    setenv("XL_DIR", dir, 1);
    unsetenv("XL_FAIL");
    unsetenv("SSH_RC");
    switches[0] = '\0';
    fail_switch_to_emulated = 0;
}

static void teardown(void)
{
    rtv_xen_close(&dom0);
    rtv_local_hub_free(hub);
    rtv_test_rm_tree(dir);
}

/* The contents of $XL_DIR/name ("" if none). */
static const char *recorded(const char *name)
{
    static char buf[2048];
    char p[128];
    size_t n = 0;
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    buf[0] = '\0';
    if ((f = fopen(p, "r")) != NULL) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

static void forget(const char *name)
{
    char p[128];

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    unlink(p);
}

START_TEST(record_has_each_disk_its_mode_and_image)
{
    struct xl_move_record r, back;
    struct rtv_err err = { 0, "" };
    char p[160];

    web1("selective");
    ck_assert_int_eq(xl_move_record_of(dom0.xs, 5, &r, &err), 0);
    ck_assert_str_eq(r.name, "web1");
    ck_assert_uint_eq(r.n, 2);
    ck_assert_str_eq(r.disks[0].vdev, "hda");
    ck_assert_str_eq(r.disks[0].mode, "selective");
    ck_assert_str_eq(r.disks[0].image, "/srv/web 1's.img");
    ck_assert_str_eq(r.disks[1].vdev, "hdb");
    ck_assert_str_eq(r.disks[1].mode, "emulated");
    snprintf(p, sizeof(p), "%s/rec", dir);
    ck_assert_int_eq(xl_move_record_write(p, &r, &err), 0);
    ck_assert_int_eq(xl_move_record_read(p, &back, &err), 0);
    ck_assert_mem_eq(&back, &r, sizeof(r));
}
END_TEST

START_TEST(record_refuses_what_it_cannot_bring_back)
{
    struct xl_move_record r;
    struct rtv_err err = { 0, "" };
    char p[160];

    web1("switching-to-pv");
    ck_assert_int_eq(xl_move_record_of(dom0.xs, 5, &r, &err), -EBUSY);
    ck_assert_contains(err.msg, "hda of domain 5 is switching-to-pv");
    rtv_test_put(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/state", "pv");
    ck_assert_int_eq(rtv_ctl_manage_vif(dom0.xs, 5, "vif/0", "00:16:3e:0a:bb:01", "br0", &err),
                     0);
    ck_assert_int_eq(xl_move_record_of(dom0.xs, 5, &r, &err), -EOPNOTSUPP);
    ck_assert_contains(err.msg, "vif/0 of domain 5 is a managed NIC");
    /* a record that is not one, or has a bad line, is refused with the line */
    snprintf(p, sizeof(p), "%s/rec", dir);
    rtv_test_write_file(p, "name web1\n", false);
    ck_assert_int_eq(xl_move_record_read(p, &r, &err), -EINVAL);
    ck_assert_contains(err.msg, "is not an xl-rtvirt save record");
    rtv_test_write_file(p, "# xl-rtvirt save record 1\nname web1\ndisk hda fast /x.img\n", false);
    ck_assert_int_eq(xl_move_record_read(p, &r, &err), -EINVAL);
    ck_assert_contains(err.msg, "line 3: \"disk hda fast /x.img\"");
}
END_TEST

START_TEST(save_takes_disks_to_emulated_records_then_saves)
{
    char rec[160];

    web1("pv");
    ck_assert_int_eq(xl_move_save(dom0.xs, &ops, xl, "web1", save), EXIT_SUCCESS);
    ck_assert_str_eq(switches, "5 hda emulated;");   /* hdb is emulated already */
    char want[256];
    snprintf(want, sizeof(want), "save web1 %s\n", save);
    ck_assert_str_eq(recorded("args"), want);
    snprintf(rec, sizeof(rec), "%s.rtvirt", save);
    ck_assert_int_eq(access(rec, F_OK), 0);
    ck_assert_contains(recorded("web1.save.rtvirt"),
                       "name web1\ndisk hda pv /srv/web 1's.img\ndisk hdb emulated /srv/data.img\n");
}
END_TEST

START_TEST(failed_xl_save_switches_back_and_keeps_no_record)
{
    char rec[160];

    web1("selective");
    setenv("XL_FAIL", "save", 1);
    ck_assert_int_eq(xl_move_save(dom0.xs, &ops, xl, "web1", save), EXIT_FAILURE);
    ck_assert_str_eq(switches, "5 hda emulated;5 hda selective;");
    snprintf(rec, sizeof(rec), "%s.rtvirt", save);
    ck_assert_int_ne(access(rec, F_OK), 0);
}
END_TEST

START_TEST(disk_that_does_not_go_emulated_stops_the_move)
{
    web1("pv");
    rtv_test_put(dom0.xs, "/local/domain/5/rtvirt/vbd/hdb/state", "pv");
    fail_switch_to_emulated = 2;   /* hda goes, hdb refuses */
    ck_assert_int_eq(xl_move_save(dom0.xs, &ops, xl, "web1", save), EXIT_FAILURE);
    ck_assert_str_eq(switches, "5 hda emulated;5 hdb emulated;5 hda pv;5 hdb pv;");
    ck_assert_str_eq(recorded("args"), "");   /* xl never ran */
}
END_TEST

/* web1 saved with hda in pv; the old domain went with the save, and what
 * xl restore makes is there already: domain 7 "web1".  The record of
 * switches and xl's arguments start afresh. */
static void saved_web1_and_domain_7(void)
{
    web1("pv");
    ck_assert_int_eq(xl_move_save(dom0.xs, &ops, xl, "web1", save), EXIT_SUCCESS);
    ck_assert_int_eq(rtv_xs_rm(dom0.xs, RTV_XS_NO_TXN, "/local/domain/5"), 0);
    make_domain(7, "web1");
    switches[0] = '\0';
    forget("args");
}

START_TEST(restore_manages_the_new_domain_then_switches_back)
{
    saved_web1_and_domain_7();
    ck_assert_int_eq(xl_move_restore(dom0.xs, &ops, xl, save, 0), EXIT_SUCCESS);
    char want[256];
    snprintf(want, sizeof(want), "restore -p %s\nunpause 7\n", save);
    ck_assert_str_eq(recorded("args"), want);
    ck_assert_str_eq(rtv_test_get(dom0.xs, "/local/domain/7/rtvirt/vbd/hda/image", "-"),
                     "/srv/web 1's.img");
    ck_assert_str_eq(rtv_test_get(dom0.xs, "/local/domain/7/rtvirt/vbd/hdb/image", "-"),
                     "/srv/data.img");
    /* switched back only once the guest's shunt reports on domain 7 */
    ck_assert_str_eq(switches, "ready 7 hda;7 hda pv;");
}
END_TEST

START_TEST(restore_paused_manages_and_leaves_the_switch_to_the_operator)
{
    saved_web1_and_domain_7();
    ck_assert_int_eq(xl_move_restore(dom0.xs, &ops, xl, save, 1), EXIT_SUCCESS);
    ck_assert_str_eq(switches, "");
    char want[256];
    snprintf(want, sizeof(want), "restore -p %s\n", save);   /* and no unpause */
    ck_assert_str_eq(recorded("args"), want);
    ck_assert_str_eq(rtv_test_get(dom0.xs, "/local/domain/7/rtvirt/vbd/hda/state", "-"),
                     "emulated");
}
END_TEST

START_TEST(restore_without_a_record_restores_nothing)
{
    ck_assert_int_eq(xl_move_restore(dom0.xs, &ops, xl, save, 0), EXIT_FAILURE);
    ck_assert_str_eq(recorded("args"), "");
}
END_TEST

START_TEST(migrate_runs_xl_then_manage_and_switch_on_the_destination)
{
    web1("selective");
    ck_assert_int_eq(xl_move_migrate(dom0.xs, &ops, xl, ssh, "web1", "host2"), EXIT_SUCCESS);
    ck_assert_str_eq(switches, "5 hda emulated;");
    char want[256];
    snprintf(want, sizeof(want), "migrate -s %s web1 host2\n", ssh);
    ck_assert_str_eq(recorded("args"), want);
    ck_assert_str_eq(recorded("ssh"),
                     "[host2][xl-rtvirt][manage][web1][hda][--image][/srv/web 1's.img]\n"
                     "[host2][xl-rtvirt][switch][web1][hda][selective][--wait]"
                     "[--shunt-ready][120]\n"
                     "[host2][xl-rtvirt][manage][web1][hdb][--image][/srv/data.img]\n");
}
END_TEST

START_TEST(failed_migration_switches_back_here)
{
    web1("pv");
    setenv("XL_FAIL", "migrate", 1);
    ck_assert_int_eq(xl_move_migrate(dom0.xs, &ops, xl, ssh, "web1", "host2"), EXIT_FAILURE);
    ck_assert_str_eq(switches, "5 hda emulated;5 hda pv;");
    ck_assert_str_eq(recorded("ssh"), "");
}
END_TEST

START_TEST(destination_that_refuses_is_an_error)
{
    web1("pv");
    setenv("SSH_RC", "1", 1);
    ck_assert_int_eq(xl_move_migrate(dom0.xs, &ops, xl, ssh, "web1", "host2"), EXIT_FAILURE);
    /* the manage failed: no switch asked there */
    ck_assert_ptr_null(strstr(recorded("ssh"), "[switch]"));
}
END_TEST

/* The real wait (rtv_ctl_wait_shunt): over as soon as the shunt reported on
 * the domain, bounded when it never does. */
START_TEST(shunt_wait_ends_on_its_report_or_its_bound)
{
    struct rtv_err err = { 0, "" };

    web1("emulated");
    ck_assert_int_eq(rtv_ctl_wait_shunt(dom0.xs, 5, "hda", 300, &err), -ETIMEDOUT);
    ck_assert_contains(err.msg, "the shunt of hda in domain 5 did not report within 300 ms");
    rtv_test_put(dom0.xs, "/local/domain/5/device/rtvirt/vbd/hda/shunt-state", "emulating");
    ck_assert_int_eq(rtv_ctl_wait_shunt(dom0.xs, 5, "hda", 300, &err), 0);
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(xl_move_suite, "xl_move", "core", setup, teardown, 0,
                        record_has_each_disk_its_mode_and_image,
                        record_refuses_what_it_cannot_bring_back,
                        save_takes_disks_to_emulated_records_then_saves,
                        failed_xl_save_switches_back_and_keeps_no_record,
                        disk_that_does_not_go_emulated_stops_the_move,
                        restore_manages_the_new_domain_then_switches_back,
                        restore_paused_manages_and_leaves_the_switch_to_the_operator,
                        restore_without_a_record_restores_nothing,
                        migrate_runs_xl_then_manage_and_switch_on_the_destination,
                        failed_migration_switches_back_here, destination_that_refuses_is_an_error,
                        shunt_wait_ends_on_its_report_or_its_bound)

RTV_UNIT_MAIN(xl_move_suite)
