/*
 * What `xl-rtvirt create` needs from a guest's xl.cfg, read by xl's own
 * parser (libxlutil, the real seam's common/xen/xen_xlcfg.c), so a disk
 * spec means exactly what it means to `xl create`:
 *
 *   name    = "web1"
 *   disk    = [ "format=raw,vdev=hda,access=rw,target=/srv/web1.img" ]
 *   vif     = [ "model=e1000,mac=00:16:3e:00:00:01,bridge=xenbr0" ]
 *   rtvirt  = [ "hda", "vif/0" ]      # the devices put under rtvirt
 *
 * xl ignores a key it does not know, so `rtvirt` lives in the same file.
 */
#ifndef RTVIRT_XLCFG_H
#define RTVIRT_XLCFG_H

#include <stdbool.h>

#include "rtvirt/err.h"

#define RTV_XLCFG_MAX 16

struct rtv_xlcfg_disk {
    char vdev[32];
    char target[512];   /* the image or block device, "" for an empty drive */
    char format[16];    /* libxl's name: raw, qcow2, ... */
    bool cdrom;
};

struct rtv_xlcfg {
    char                  name[64];
    unsigned              nmanaged;                        /* `rtvirt` */
    char                  managed[RTV_XLCFG_MAX][32];
    unsigned              ndisks;                          /* `disk` */
    struct rtv_xlcfg_disk disks[RTV_XLCFG_MAX];
    unsigned              nvifs;                           /* `vif`, as written */
    char                  vifs[RTV_XLCFG_MAX][256];
};

/* Reads path; -EINVAL etc. with the reason in err, naming the file (xl's
 * parser's own message, with the line or the disk spec, where it has one). */
int rtv_xlcfg_read(const char *path, struct rtv_xlcfg *cfg, struct rtv_err *err);

#endif
