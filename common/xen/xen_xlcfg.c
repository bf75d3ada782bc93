/* A guest's xl.cfg through libxlutil; see rtvirt/xlcfg.h. */
#include "rtvirt/xlcfg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxl.h>
#include <libxlutil.h>

/* libxlutil reports parse errors on a FILE: keep them for the message. */
struct report {
    FILE  *f;
    char  *buf;
    size_t len;
};

static const char *reported(struct report *r)
{
    fflush(r->f);
    if (r->buf == NULL || r->len == 0)
        return "no detail";
    while (r->len > 0 && r->buf[r->len - 1] == '\n')
        r->buf[--r->len] = '\0';
    return r->buf;
}

/* A list of strings of the config into out, a char [max][width] array seen
 * as a whole; absent: empty. */
static int get_list(XLU_Config *x, const char *path, const char *key, char *out,
                    size_t width, unsigned max, unsigned *n, struct rtv_err *err)
{
    XLU_ConfigList *list;
    int count = 0, rc;

    *n = 0;
    if ((rc = xlu_cfg_get_list(x, key, &list, &count, 1)) == ESRCH)
        return 0;
    if (rc != 0)
        return rtv_err_set(err, EINVAL, "%s: %s is not a list (write %s = [ \"...\", ... ])",
                           path, key, key);
    if (count < 0 || (unsigned)count > max)
        return rtv_err_set(err, E2BIG, "%s: %s: %d entries (at most %u)", path, key, count, max);
    for (int i = 0; i < count; i++) {
        const char *s = xlu_cfg_get_listitem(list, i);
        if (s == NULL)
            return rtv_err_set(err, EINVAL, "%s: %s: entry %d is not a string", path, key, i);
        if (strlen(s) >= width)
            return rtv_err_set(err, E2BIG, "%s: %s: entry %d \"%s\" is longer than %zu "
                               "characters", path, key, i, s, width - 1);
        memcpy(out + (size_t)i * width, s, strlen(s) + 1);
    }
    *n = (unsigned)count;
    return 0;
}

static int read_disks(XLU_Config *x, const char *path, struct report *r,
                      struct rtv_xlcfg *cfg, struct rtv_err *err)
{
    char specs[RTV_XLCFG_MAX][256];
    unsigned n;
    int rc = get_list(x, path, "disk", (char *)specs, sizeof(specs[0]), RTV_XLCFG_MAX, &n, err);

    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < n; i++) {
        libxl_device_disk d;
        const char *spec = specs[i];

        libxl_device_disk_init(&d);
        if (xlu_disk_parse(x, 1, &spec, &d) != 0) {
            libxl_device_disk_dispose(&d);
            return rtv_err_set(err, EINVAL, "%s", reported(r));   /* names file and spec */
        }
        struct rtv_xlcfg_disk *o = &cfg->disks[i];
        snprintf(o->vdev, sizeof(o->vdev), "%s", d.vdev ? d.vdev : "");
        snprintf(o->target, sizeof(o->target), "%s", d.pdev_path ? d.pdev_path : "");
        snprintf(o->format, sizeof(o->format), "%s", libxl_disk_format_to_string(d.format));
        o->cdrom = d.is_cdrom != 0;
        libxl_device_disk_dispose(&d);
    }
    cfg->ndisks = n;
    return 0;
}

int rtv_xlcfg_read(const char *path, struct rtv_xlcfg *cfg, struct rtv_err *err)
{
    struct report r = { 0 };
    XLU_Config *x = NULL;
    const char *name = NULL;
    int rc;

    memset(cfg, 0, sizeof(*cfg));
    if ((r.f = open_memstream(&r.buf, &r.len)) == NULL)
        return rtv_err_set(err, ENOMEM, "cannot allocate the parser's report");
    if ((x = xlu_cfg_init(r.f, path)) == NULL) {
        rc = rtv_err_set(err, ENOMEM, "cannot set up xl's config parser");
        goto out;
    }
    if ((rc = xlu_cfg_readfile(x, path)) != 0) {
        rc = rtv_err_set(err, rc, "%s", reported(&r));   /* names file and line */
        goto out;
    }
    if (xlu_cfg_get_string(x, "name", &name, 1) != 0 || name == NULL || name[0] == '\0') {
        rc = rtv_err_set(err, EINVAL, "%s: no name = \"...\" (xl create needs one too)", path);
        goto out;
    }
    if (strlen(name) >= sizeof(cfg->name)) {
        rc = rtv_err_set(err, E2BIG, "%s: name is longer than %zu characters", path,
                         sizeof(cfg->name) - 1);
        goto out;
    }
    strcpy(cfg->name, name);
    if ((rc = get_list(x, path, "rtvirt", (char *)cfg->managed, sizeof(cfg->managed[0]),
                       RTV_XLCFG_MAX, &cfg->nmanaged, err)) < 0 ||
        (rc = get_list(x, path, "vif", (char *)cfg->vifs, sizeof(cfg->vifs[0]),
                       RTV_XLCFG_MAX, &cfg->nvifs, err)) < 0 ||
        (rc = read_disks(x, path, &r, cfg, err)) < 0)
        goto out;
    rc = 0;
out:
    if (x)
        xlu_cfg_destroy(x);
    fclose(r.f);
    free(r.buf);
    return rc;
}
