/*
 * xl-rtvirt create: `xl create` of a guest whose xl.cfg lists, under the key
 * `rtvirt`, the devices to put under rtvirt, then `manage` of each.  libxl
 * 4.17 has no hook that fits: a disk's script= is the hotplug script of a PV
 * backend, while the disks rtvirt takes over are the device model's until a
 * switch.  xl reads only the top-level keys it knows, so the list sits beside
 * the disks it names; the disk specs are read by xl's own parser
 * (libxlutil), so they mean what they mean to xl (operator guide:
 * xl-scripts/README.md).
 */
#include "xl_create.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/ctl.h"
#include "rtvirt/xs_util.h"
#include "xl_run.h"

/* The value of key= in an xl vif spec ("k=v,k=v"), into out; false if absent. */
static bool vif_key(const char *spec, const char *key, char *out, size_t len)
{
    size_t klen = strlen(key);

    for (const char *p = spec; *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n > 0 && (*p == ' ' || *p == '\t'))
            p++, n--;
        if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            snprintf(out, len, "%.*s", (int)(n - klen - 1), p + klen + 1);
            return true;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    return false;
}

static int plan_nic(const struct rtv_xlcfg *cfg, const char *dev, struct xl_create_item *it,
                    struct rtv_err *err)
{
    unsigned long long idx;

    if (cfg->nvifs == 0)
        return rtv_err_set(err, EINVAL, "rtvirt: \"%s\": the config has no vif list", dev);
    if (rtv_parse_uint(dev + 4, cfg->nvifs - 1, &idx) < 0)
        return rtv_err_set(err, EINVAL, "rtvirt: \"%s\": allowed: vif/0 to vif/%u (the vif "
                           "list's entries)", dev, cfg->nvifs - 1);
    const char *spec = cfg->vifs[idx];
    char mac[64];
    if (!vif_key(spec, "mac", mac, sizeof(mac)))
        return rtv_err_set(err, EINVAL, "rtvirt: %s: vif entry \"%s\" has no mac=: a managed "
                           "NIC needs a fixed MAC (its PV vif gets the same)", dev, spec);
    struct rtv_err why = { 0 };
    if (rtv_ctl_mac_normalize(mac, it->mac, &why) < 0)
        return rtv_err_set(err, EINVAL, "rtvirt: %s: %s", dev, why.msg);
    if (!vif_key(spec, "bridge", it->bridge, sizeof(it->bridge)))
        snprintf(it->bridge, sizeof(it->bridge), "xenbr0");   /* libxl's default */
    it->nic = true;
    return 0;
}

static int plan_disk(const struct rtv_xlcfg *cfg, const char *dev, struct xl_create_item *it,
                     struct rtv_err *err)
{
    char vdevs[RTV_XLCFG_MAX * 34] = "";

    for (unsigned i = 0; i < cfg->ndisks; i++) {
        const struct rtv_xlcfg_disk *d = &cfg->disks[i];
        if (strcmp(d->vdev, dev) != 0) {
            size_t o = strlen(vdevs);
            snprintf(vdevs + o, sizeof(vdevs) - o, "%s%s", o ? ", " : "", d->vdev);
            continue;
        }
        if (d->cdrom)
            return rtv_err_set(err, EINVAL, "rtvirt: %s is a CD-ROM; only disks switch", dev);
        if (d->target[0] == '\0')
            return rtv_err_set(err, EINVAL, "rtvirt: %s has no target (an empty drive)", dev);
        if (strcmp(d->format, "raw") != 0)
            return rtv_err_set(err, EINVAL, "rtvirt: %s: format %s (allowed: raw, the only "
                               "format rtvirt-backd serves)", dev, d->format);
        snprintf(it->image, sizeof(it->image), "%s", d->target);
        return 0;
    }
    return rtv_err_set(err, ENOENT, "rtvirt: \"%s\" is not a vdev of the disk list (its vdevs: "
                       "%s) nor vif/<n>", dev, vdevs[0] ? vdevs : "none");
}

int xl_create_plan(const struct rtv_xlcfg *cfg, struct xl_create_plan *plan,
                   struct rtv_err *err)
{
    memset(plan, 0, sizeof(*plan));
    if (cfg->nmanaged == 0)
        return rtv_err_set(err, EINVAL, "no rtvirt = [ ... ] list: nothing to put under rtvirt "
                           "(plain xl create does the rest)");
    snprintf(plan->name, sizeof(plan->name), "%s", cfg->name);
    for (unsigned i = 0; i < cfg->nmanaged; i++) {
        const char *dev = cfg->managed[i];
        struct xl_create_item *it = &plan->items[i];
        int rc;

        for (unsigned j = 0; j < i; j++)
            if (strcmp(cfg->managed[j], dev) == 0)
                return rtv_err_set(err, EINVAL, "rtvirt: \"%s\" is listed twice", dev);
        snprintf(it->dev, sizeof(it->dev), "%s", dev);
        rc = strncmp(dev, "vif/", 4) == 0 ? plan_nic(cfg, dev, it, err)
                                          : plan_disk(cfg, dev, it, err);
        if (rc < 0)
            return rc;
    }
    plan->n = cfg->nmanaged;
    return 0;
}

/* `xl create [-p] cfg`, its output passing through; its exit status. */
static int run_xl(const char *xl, const char *cfg_path, bool paused)
{
    char *argv[5];
    int n = 0;

    argv[n++] = (char *)xl;
    argv[n++] = "create";
    if (paused)
        argv[n++] = "-p";
    argv[n++] = (char *)cfg_path;
    argv[n] = NULL;
    return xl_run(argv);
}

int xl_create_run(struct rtv_store *xs, const char *xl, const char *cfg_path, bool paused,
                  const struct xl_create_plan *plan)
{
    struct rtv_err err = { 0 };
    rtv_domid_t dom;
    int rc = run_xl(xl, cfg_path, paused), failed = 0;

    if (rc != 0) {
        fprintf(stderr, "xl-rtvirt: %s create %s %s (status %d): nothing put under rtvirt\n",
                xl, cfg_path, rc < 0 ? "could not run" : "failed", rc);
        return EXIT_FAILURE;
    }
    if (rtv_ctl_resolve_domain(xs, plan->name, &dom, &err) < 0) {
        fprintf(stderr, "xl-rtvirt: xl created %s, but %s\n", plan->name, err.msg);
        return EXIT_FAILURE;
    }
    for (unsigned i = 0; i < plan->n; i++) {
        const struct xl_create_item *it = &plan->items[i];

        rc = it->nic ? rtv_ctl_manage_vif(xs, dom, it->dev, it->mac, it->bridge, &err)
                     : rtv_ctl_manage(xs, dom, it->dev, it->image, &err);
        if (rc < 0) {
            fprintf(stderr, "xl-rtvirt: %s (domain %u) runs, but %s is not under rtvirt: %s "
                    "(it stays on its emulated device)\n", plan->name, (unsigned)dom, it->dev,
                    err.msg);
            failed++;
        } else if (it->nic) {
            printf("%s of %s (domain %u) is under rtvirt (MAC %s, bridge %s)\n", it->dev,
                   plan->name, (unsigned)dom, it->mac, it->bridge);
        } else {
            printf("%s of %s (domain %u) is under rtvirt (image %s)\n", it->dev, plan->name,
                   (unsigned)dom, it->image);
        }
    }
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
