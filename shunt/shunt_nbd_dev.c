/*
 * The guest's block device: the kernel's nbd driver (Debian ships nbd, not
 * ublk) with one end of a socketpair, the shunt serving the other end.
 *
 * The classic ioctl set-up: size, block size, flags (flush and trim, so the
 * filesystem's barriers and discards reach the shunt), NBD_SET_SOCK, then
 * NBD_DO_IT on a thread (it blocks for the device's lifetime).  No
 * NBD_SET_TIMEOUT: a switch holds requests ("busy"), and the driver must
 * wait for them rather than fail them.
 */
#include "shunt_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nbd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct shunt_nbd_dev {
    int       fd;          /* /dev/nbdN */
    int       client;      /* the kernel's end */
    pthread_t thread;
    bool      running;
};

static void *do_it(void *arg)
{
    struct shunt_nbd_dev *d = arg;

    /* Returns when the device is disconnected (or the socket dies). */
    if (ioctl(d->fd, NBD_DO_IT) < 0 && errno != EPIPE && errno != ECONNRESET)
        fprintf(stderr, "rtvirt-shunt: NBD_DO_IT: %s\n", strerror(errno));
    ioctl(d->fd, NBD_CLEAR_QUE);
    ioctl(d->fd, NBD_CLEAR_SOCK);
    return NULL;
}

int shunt_nbd_dev_attach(const char *dev, uint64_t size, bool trim, int *server_fd,
                         struct shunt_nbd_dev **out, struct rtv_err *err)
{
    struct shunt_nbd_dev *d = calloc(1, sizeof(*d));
    unsigned long bs = size % 4096 == 0 ? 4096 : 512;
    int sv[2] = { -1, -1 };
    int rc;

    if (d == NULL)
        return rtv_err_set(err, ENOMEM, "out of memory");
    d->fd = open(dev, O_RDWR | O_CLOEXEC);
    if (d->fd < 0) {
        rc = rtv_err_set(err, errno, "cannot open %s: %s%s", dev, strerror(errno),
                         errno == ENOENT ? " (modprobe nbd?)" : "");
        free(d);
        return rc;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        rc = rtv_err_set(err, errno, "socketpair: %s", strerror(errno));
        goto fail;
    }
    if (ioctl(d->fd, NBD_SET_BLKSIZE, bs) < 0 ||
        ioctl(d->fd, NBD_SET_SIZE_BLOCKS, (unsigned long)(size / bs)) < 0 ||
        ioctl(d->fd, NBD_SET_FLAGS, (unsigned long)(NBD_FLAG_HAS_FLAGS |
                                                   NBD_FLAG_SEND_FLUSH |
                                                   (trim ? NBD_FLAG_SEND_TRIM : 0))) < 0 ||
        ioctl(d->fd, NBD_SET_SOCK, (unsigned long)sv[1]) < 0) {
        rc = rtv_err_set(err, errno, "%s: setting up the nbd device failed: %s%s", dev,
                         strerror(errno), errno == EBUSY ? " (already in use)" : "");
        goto fail;
    }
    d->client = sv[1];
    rc = pthread_create(&d->thread, NULL, do_it, d);
    if (rc != 0) {
        ioctl(d->fd, NBD_CLEAR_SOCK);
        rc = rtv_err_set(err, rc, "thread: %s", strerror(rc));
        goto fail;
    }
    d->running = true;
    *server_fd = sv[0];
    *out = d;
    return 0;

fail:
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    close(d->fd);
    free(d);
    return rc;
}

void shunt_nbd_dev_disconnect(struct shunt_nbd_dev *d)
{
    /* The driver sends NBD_CMD_DISC after what is queued; the server
     * answers the rest and sees the disconnect. */
    if (d != NULL && d->running)
        ioctl(d->fd, NBD_DISCONNECT);
}

void shunt_nbd_dev_detach(struct shunt_nbd_dev *d)
{
    if (d == NULL)
        return;
    if (d->running) {
        /* Our end is closed by now, so NBD_DO_IT returns. */
        ioctl(d->fd, NBD_DISCONNECT);
        pthread_join(d->thread, NULL);
    }
    close(d->client);
    close(d->fd);
    free(d);
}
