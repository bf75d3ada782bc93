/*
 * rtvirt-shunt: the block device the guest's filesystem sits on.
 *
 * Who does what (one file each):
 *   shunt.c          the event loop and the glue to the routing engine
 *                    (common/shunt_core.c): every guest request goes through
 *                    rtv_shunt_submit(), the engine picks the path;
 *   shunt_emu.c      the emulated path: the guest's emulated disk (ata_piix /
 *                    ahci, e.g. /dev/sda) opened O_DIRECT and exclusively,
 *                    asynchronous I/O with io_uring;
 *   shunt_pv.c       the PV path: librtvirt-front on device/vbd/<ctl-devid>,
 *                    connected and closed on helper threads so emulated I/O
 *                    goes on meanwhile;
 *   shunt_xs.c       the xenstore glue: follows the control nodes of
 *                    xenstore-schema/rtvirt-paths.md section 1 and writes the
 *                    guest report area (section 2);
 *   shunt_nbd.c      the NBD transmission protocol on a socket: the guest's
 *                    /dev/nbdN talks to it (and the host component test);
 *   shunt_nbd_dev.c  hands one end of a socketpair to the kernel's nbd driver;
 *   shunt_main.c     the command line.
 *
 * Threading: one thread runs the loop and owns everything.  Helper threads
 * only run rtv_front_open()/rtv_front_close() on a frontend no other thread
 * touches meanwhile, and hand the result back through a pipe.
 */
#ifndef RTVIRT_SHUNT_H
#define RTVIRT_SHUNT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtvirt/err.h"
#include "rtvirt/front_blk.h"
#include "rtvirt/seam.h"
#include "rtvirt/shunt_core.h"

/* Opens seam parts as the guest (the real seam in the program, the local hub
 * in tests).  0 or -errno with err set. */
typedef int (*shunt_open_fn)(void *ctx, unsigned parts, struct rtv_xen *out,
                             struct rtv_err *err);

struct shunt_config {
    const char   *emulated;       /* emulated disk (block device or, in tests, a file) */
    const char   *emulated_name;  /* for the emulated-dev node (e.g. "sda"); NULL: none */
    const char   *vdev;           /* the rtvirt device name, e.g. "hda" */
    enum rtv_mode mode;           /* initial mode (emulated unless PV is already up) */
    bool          allow_buffered; /* O_DIRECT refused: fall back (tests on tmpfs) */
    shunt_open_fn open_xen;
    void         *open_ctx;
    struct rtv_front_config front;/* template; devid comes from ctl-devid */
    bool          verbose;
    /* Test hook: hold every switch flush this long, so a test can act while
     * the shunt is quiescing (a slow disk, nothing else changes). */
    unsigned      test_flush_delay_ms;
};

void shunt_config_default(struct shunt_config *cfg);

struct shunt;

/* Opens the emulated disk and the store, reports the initial mode.
 * NULL with err set on failure. */
struct shunt *shunt_new(const struct shunt_config *cfg, struct rtv_err *err);
/* Waits (bounded) for in-flight I/O, closes the PV frontend, frees. */
void shunt_free(struct shunt *sh);

/* Size of the device in bytes (the emulated disk's). */
uint64_t shunt_size(const struct shunt *sh);

/* Whether discards can be offered: the emulated path (the one every mode
 * falls back to, and selective's route for discards) punches holes in a
 * regular file, and in a block device only if that offers write zeroes,
 * which is how the kernel punches one (ata_piix's IDE disks do not: mkfs's
 * discard failed EOPNOTSUPP and the guest logged an I/O error on nbd0). */
bool shunt_can_discard(const struct shunt *sh);
/* That test for the block device major:minor, from sysfs at root ("/sys";
 * the tests pass a tree of their own). */
bool shunt_emu_blkdev_punches(const char *root, unsigned major, unsigned minor);

/* One guest request.  The caller owns it and buf (len bytes; aligned to
 * SHUNT_ALIGN for read/write) until done() is called with 0 or -errno. */
struct shunt_req {
    struct rtv_io  io;               /* the engine's view; io.priv = this */
    enum rtv_io_op op;
    uint64_t       offset;           /* bytes, multiple of 512 */
    uint32_t       len;              /* bytes, multiple of 512 (0 for flush) */
    void          *buf;
    void         (*done)(struct shunt_req *r, int status);
    void          *owner;
};

#define SHUNT_ALIGN 4096u
#define SHUNT_MAX_REQ (32u << 20)   /* largest read/write (the nbd driver's cap) */

/* Validates and queues r.  Bad requests complete at once with -EINVAL. */
void shunt_submit(struct shunt *sh, struct shunt_req *r);

/* One turn of the loop: polls the shunt's own descriptors plus `extra`
 * (whose revents are filled for the caller), at most max_ms, and handles
 * what is ready (completions, watches, switch steps, bounds). */
int shunt_run_once(struct shunt *sh, struct pollfd *extra, unsigned nextra,
                   int max_ms);

/* Where the shunt is. */
struct shunt_status {
    enum rtv_mode mode;
    bool          switching;
    bool          pv_connected;
    uint32_t      last_ack;
    uint64_t      switches, aborts, requests, errors;
    uint64_t      blackout_us;       /* last switch */
    uint64_t      blackout_max_us;
    uint64_t      pv_reconnects;     /* the PV backend went away and came back */
    uint64_t      pv_requeued;       /* requests the frontend resent then */
    bool          emulated_direct;   /* the emulated disk is open O_DIRECT */
};
void shunt_get_status(const struct shunt *sh, struct shunt_status *st);

/* ---- the NBD server (shunt_nbd.c) ---------------------------------------- */

struct shunt_nbd;

/* Serves the NBD transmission phase (as after NBD_SET_SOCK: no handshake) on
 * fd, which it makes non-blocking and owns. */
struct shunt_nbd *shunt_nbd_new(struct shunt *sh, int fd);
/* Closes fd; requests still in the shunt are waited for (bounded). */
void shunt_nbd_free(struct shunt_nbd *n);
/* The pollfd to pass to shunt_run_once() (events change as it runs). */
void shunt_nbd_pollfd(const struct shunt_nbd *n, struct pollfd *pfd);
/* Handles revents; returns 1 while the connection is up, 0 once the client
 * disconnected (NBD_CMD_DISC or EOF) and every reply is out, -errno on a
 * protocol error (the connection is dropped). */
int shunt_nbd_handle(struct shunt_nbd *n, short revents);
unsigned shunt_nbd_inflight(const struct shunt_nbd *n);

/* ---- the kernel nbd device (shunt_nbd_dev.c) ------------------------------ */

struct shunt_nbd_dev;

/* Attaches a socketpair to dev (/dev/nbdN) with the given size, the flush
 * flag and the trim flag if trim, runs NBD_DO_IT on a thread; *server_fd
 * gets our end. */
int shunt_nbd_dev_attach(const char *dev, uint64_t size, bool trim, int *server_fd,
                         struct shunt_nbd_dev **out, struct rtv_err *err);
/* Asks the driver to disconnect (it sends NBD_CMD_DISC); returns at once. */
void shunt_nbd_dev_disconnect(struct shunt_nbd_dev *d);
/* Call after the server's end was closed: joins the thread, frees d. */
void shunt_nbd_dev_detach(struct shunt_nbd_dev *d);

#endif
