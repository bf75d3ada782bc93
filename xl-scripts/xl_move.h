/* xl-rtvirt save, restore and migrate (xl_move.c). */
#ifndef XL_MOVE_H
#define XL_MOVE_H

#include "rtvirt/err.h"
#include "rtvirt/seam.h"

#define XL_MOVE_MAX 16

/* One managed disk: the mode to bring it back to, the image to manage it with. */
struct xl_move_disk {
    char vdev[32];
    char mode[32];        /* emulated, pv, selective */
    char image[1025];
};

/* What a save or a migration must bring back on the other side. */
struct xl_move_record {
    char                name[64];
    unsigned            n;
    struct xl_move_disk disks[XL_MOVE_MAX];
};

/* How a disk is switched and its outcome awaited, and how the guest's shunt
 * is awaited on a new domain; tests put fakes here. */
struct xl_move_ops {
    int (*sw)(void *ctx, struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
              const char *mode, struct rtv_err *err);
    int (*ready)(void *ctx, struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                 struct rtv_err *err);
    void *ctx;
};

/* How long a restored or migrated guest's shunt may take to report. */
#define XL_MOVE_SHUNT_READY_S 120
#define XL_MOVE_STR_(x) #x
#define XL_MOVE_STR(x) XL_MOVE_STR_(x)

/* The real wait: rtv_ctl_wait_shunt, XL_MOVE_SHUNT_READY_S. */
int xl_move_ready(void *ctx, struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                  struct rtv_err *err);

/* The real switch: rtv_ctl_switch with step_ms bounding each step. */
int xl_move_switch(void *step_ms, struct rtv_store *xs, rtv_domid_t dom, const char *vdev,
                   const char *mode, struct rtv_err *err);

/* Each managed device of dom with its mode and image; refused (-EBUSY)
 * while one switches, (-EOPNOTSUPP) for a managed NIC. */
int xl_move_record_of(struct rtv_store *xs, rtv_domid_t dom, struct xl_move_record *rec,
                      struct rtv_err *err);

/* The record beside a save file (<file>.rtvirt), written and read back. */
int xl_move_record_write(const char *path, const struct xl_move_record *rec,
                         struct rtv_err *err);
int xl_move_record_read(const char *path, struct xl_move_record *rec, struct rtv_err *err);

/* `xl-rtvirt save <domain> <file>`, `restore <file> [--paused]`,
 * `migrate [-s SSHCMD] <domain> <host>`: the exit status, messages on
 * stderr, one line per step on stdout.  xl is the xl to run. */
int xl_move_save(struct rtv_store *xs, const struct xl_move_ops *ops, const char *xl,
                 const char *domain, const char *file);
int xl_move_restore(struct rtv_store *xs, const struct xl_move_ops *ops, const char *xl,
                    const char *file, int paused);
int xl_move_migrate(struct rtv_store *xs, const struct xl_move_ops *ops, const char *xl,
                    const char *ssh, const char *domain, const char *host);

#endif
