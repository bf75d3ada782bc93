/*
 * xl-rtvirt create (xl-scripts/xl_create.c): a guest's xl.cfg read by xl's
 * own parser (libxlutil, through common/xen/xen_xlcfg.c), its `rtvirt` list
 * checked against the disk and vif lists before anything runs, then a
 * stand-in xl run and the devices managed over the local store, acting as
 * dom0 with guest 5 "web1" (what the real xl create leaves is the lab's).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rtvirt/local.h"
#include "rtvirt/xlcfg.h"
#include "hub_fixture.h"
#include "unit.h"
#include "file_fixture.h"
#include "xs_fixture.h"
#include "../../xl-scripts/xl_create.h"

static struct rtv_local_hub *hub;
static struct rtv_xen dom0;
static struct rtv_err err;
static char dir[64], xl[128], cfgpath[128];

/* The stand-in xl: records its arguments, exits $XL_RC (default 0). */
static const char fake_xl[] =
    "#!/bin/sh\n"
    "echo \"$*\" > \"$XL_DIR/args\"\n"
    "exit ${XL_RC:-0}\n";

static void setup(void)
{
    const struct rtv_xs_perm dom_perms[2] = { { 0, RTV_XS_PERM_NONE }, { 5, RTV_XS_PERM_READ } };

    hub = rtv_test_hub_dom0(&dom0);
    rtv_test_mkdtemp(dir, sizeof(dir), "rtv-xl-create");
    snprintf(xl, sizeof(xl), "%s/xl", dir);
    rtv_test_write_file(xl, fake_xl, true);
    snprintf(cfgpath, sizeof(cfgpath), "%s/web1.cfg", dir);
    setenv("XL_DIR", dir, 1);
    unsetenv("XL_RC");
    rtv_test_put(dom0.xs, "/local/domain/0/name", "Domain-0");
    ck_assert_int_eq(rtv_xs_mkdir(dom0.xs, RTV_XS_NO_TXN, "/local/domain/5"), 0);
    ck_assert_int_eq(rtv_xs_set_perms(dom0.xs, RTV_XS_NO_TXN, "/local/domain/5", dom_perms, 2), 0);
    memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
    rtv_xen_close(&dom0);
    rtv_local_hub_free(hub);
    rtv_test_rm_tree(dir);
}

/* Reads text as web1's xl.cfg and plans it; the plan's return code. */
static int plan_of(const char *text, struct xl_create_plan *plan)
{
    struct rtv_xlcfg cfg;
    int rc;

    rtv_test_write_file(cfgpath, text, false);
    memset(&err, 0, sizeof(err));
    if ((rc = rtv_xlcfg_read(cfgpath, &cfg, &err)) < 0)
        return rc;
    return xl_create_plan(&cfg, plan, &err);
}

#define WEB1 "name = \"web1\"\ntype = \"hvm\"\nmemory = 512\n"

START_TEST(plan_reads_the_config_as_xl_does)
{
    struct xl_create_plan p;

    /* Three spellings of a disk xl takes (the deprecated prefix form, the
     * positional one, key=value), a CD-ROM, two vifs. */
    ck_assert_int_eq(plan_of(WEB1
        "disk = [ 'file:/srv/web1.img,hda,w', '/srv/data.img,raw,hdb,rw',\n"
        "         'format=raw, vdev=hdd, access=rw, target=/dev/vg/logs',\n"
        "         '/srv/boot.iso,,hdc,cdrom' ]\n"
        "vif = [ 'model=e1000,mac=00:16:3E:0A:BB:01,bridge=br-lan', 'mac=00:16:3e:0a:bb:02' ]\n"
        "rtvirt = [ 'hda', 'hdd', 'vif/1', 'vif/0' ]\n", &p), 0);
    ck_assert_str_eq(p.name, "web1");
    ck_assert_uint_eq(p.n, 4);
    ck_assert(!p.items[0].nic);
    ck_assert_str_eq(p.items[0].dev, "hda");
    ck_assert_str_eq(p.items[0].image, "/srv/web1.img");
    ck_assert_str_eq(p.items[1].image, "/dev/vg/logs");
    ck_assert(p.items[2].nic);
    ck_assert_str_eq(p.items[2].mac, "00:16:3e:0a:bb:02");
    ck_assert_str_eq(p.items[2].bridge, "xenbr0");        /* libxl's default */
    ck_assert_str_eq(p.items[3].mac, "00:16:3e:0a:bb:01"); /* lower-cased */
    ck_assert_str_eq(p.items[3].bridge, "br-lan");
}
END_TEST

START_TEST(plan_refuses_what_cannot_be_managed)
{
    static const struct {
        const char *cfg, *says;
    } bad[] = {
        { WEB1 "disk = [ '/srv/a.img,raw,hda,rw' ]\n", "no rtvirt = [ ... ] list" },
        { WEB1 "disk = [ '/srv/a.img,raw,hda,rw' ]\nrtvirt = 'hda'\n", "rtvirt is not a list" },
        { WEB1 "disk = [ '/srv/a.img,raw,hda,rw', '/srv/b.img,raw,hdb,rw' ]\n"
               "rtvirt = [ 'sda' ]\n",
          "\"sda\" is not a vdev of the disk list (its vdevs: hda, hdb)" },
        { WEB1 "disk = [ '/srv/b.iso,,hdc,cdrom' ]\nrtvirt = [ 'hdc' ]\n", "hdc is a CD-ROM" },
        { WEB1 "disk = [ '/srv/a.qcow2,qcow2,hda,rw' ]\nrtvirt = [ 'hda' ]\n",
          "format qcow2 (allowed: raw" },
        { WEB1 "disk = [ '/srv/a.img,raw,hda,rw' ]\nrtvirt = [ 'hda', 'hda' ]\n", "listed twice" },
        { WEB1 "vif = [ 'mac=00:16:3e:00:00:01' ]\nrtvirt = [ 'vif/1' ]\n",
          "allowed: vif/0 to vif/0" },
        { WEB1 "vif = [ 'bridge=xenbr0' ]\nrtvirt = [ 'vif/0' ]\n", "has no mac=" },
        { WEB1 "vif = [ 'mac=01:00:5e:00:00:01' ]\nrtvirt = [ 'vif/0' ]\n", "vif/0: " },
        { WEB1 "rtvirt = [ 'vif/0' ]\n", "the config has no vif list" },
        { "type = \"hvm\"\nrtvirt = [ 'hda' ]\n", "no name = " },
        { WEB1 "disk = [ 'vdev=hda,bogus=1,target=/a' ]\nrtvirt = [ 'hda' ]\n",
          "unknown parameter: near `bogus=1,'" },   /* xl's disk parser's own words */
        { WEB1 "rtvirt = [ 'hda' \n", "web1.cfg" },   /* xl's syntax error, with its place */
    };
    struct xl_create_plan p;

    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(plan_of(bad[i].cfg, &p) < 0, "case %u accepted", i);
        ck_assert_msg(strstr(err.msg, bad[i].says) != NULL, "case %u: \"%s\" lacks \"%s\"", i,
                      err.msg, bad[i].says);
    }
}
END_TEST

static const char *xl_args(void)
{
    static char buf[256];
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/args", dir);
    buf[0] = '\0';
    if ((f = fopen(path, "r")) != NULL) {
        if (fgets(buf, sizeof(buf), f) != NULL)
            buf[strcspn(buf, "\n")] = '\0';
        fclose(f);
    }
    return buf;
}

START_TEST(run_creates_then_manages_each_device)
{
    struct xl_create_plan p;

    ck_assert_int_eq(plan_of(WEB1 "disk = [ '/srv/web1.img,raw,hda,rw' ]\n"
                             "vif = [ 'mac=00:16:3e:0a:bb:01,bridge=br0' ]\n"
                             "rtvirt = [ 'hda', 'vif/0' ]\n", &p), 0);
    rtv_test_put(dom0.xs, "/local/domain/5/name", "web1");   /* what xl create makes */
    ck_assert_int_eq(xl_create_run(dom0.xs, xl, cfgpath, true, &p), EXIT_SUCCESS);
    char want[256];
    snprintf(want, sizeof(want), "create -p %s", cfgpath);
    ck_assert_str_eq(xl_args(), want);
    ck_assert_str_eq(rtv_test_get(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/image", "-"),
                     "/srv/web1.img");
    ck_assert_str_eq(rtv_test_get(dom0.xs, "/local/domain/5/rtvirt/vbd/hda/state", "-"),
                     "emulated");
    ck_assert_str_eq(rtv_test_get(dom0.xs, "/local/domain/5/rtvirt/vif/0/mac", "-"),
                     "00:16:3e:0a:bb:01");
    ck_assert_str_eq(rtv_test_get(dom0.xs, "/local/domain/5/rtvirt/vif/0/bridge", "-"), "br0");
}
END_TEST

START_TEST(a_failed_xl_create_manages_nothing)
{
    struct xl_create_plan p;

    ck_assert_int_eq(plan_of(WEB1 "disk = [ '/srv/web1.img,raw,hda,rw' ]\n"
                             "rtvirt = [ 'hda' ]\n", &p), 0);
    setenv("XL_RC", "3", 1);
    rtv_test_put(dom0.xs, "/local/domain/5/name", "web1");
    ck_assert_int_eq(xl_create_run(dom0.xs, xl, cfgpath, false, &p), EXIT_FAILURE);
    char want[256];
    snprintf(want, sizeof(want), "create %s", cfgpath);
    ck_assert_str_eq(xl_args(), want);
    ck_assert_ptr_null(rtv_test_get(dom0.xs, "/local/domain/5/rtvirt", NULL));
}
END_TEST

START_TEST(no_domain_after_xl_is_an_error)
{
    struct xl_create_plan p;

    ck_assert_int_eq(plan_of(WEB1 "disk = [ '/srv/web1.img,raw,hda,rw' ]\n"
                             "rtvirt = [ 'hda' ]\n", &p), 0);
    /* xl said yes, but no domain is called web1 (renamed, destroyed at once) */
    ck_assert_int_eq(xl_create_run(dom0.xs, xl, cfgpath, false, &p), EXIT_FAILURE);
    ck_assert_ptr_null(rtv_test_get(dom0.xs, "/local/domain/5/rtvirt", NULL));
}
END_TEST

RTV_UNIT_ONE_CASE_SUITE(xl_create_suite, "xl_create", "core", setup, teardown, 0,
                        plan_reads_the_config_as_xl_does, plan_refuses_what_cannot_be_managed,
                        run_creates_then_manages_each_device, a_failed_xl_create_manages_nothing,
                        no_domain_after_xl_is_an_error)

RTV_UNIT_MAIN(xl_create_suite)
