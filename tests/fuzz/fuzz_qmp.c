/*
 * libFuzzer: ioemu/qmp.c reading whatever a device model sends back.
 *
 * qemu is as untrusted as any peer here (a guest can own its device
 * model).  The input is the byte stream "qemu" writes on the monitor
 * socket: it is put in one end of a socketpair, that end shut for writing
 * (so the client sees the stream end, never waits), and the client runs
 * on the other end: rtv_qmp_attach() (greeting, skipped events,
 * qmp_capabilities), then what the first byte picks: the live switch's
 * rtv_qmp_drive_sync(), rtv_qmp_find_block(), or a raw rtv_qmp_exec().
 * Every call must end with 0 or an error that says something; no leak
 * (ASan's leak check runs at exit).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "rtvirt/qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rtv_err err = { 0, "" };
    struct rtv_qmp *q = NULL;
    uint8_t pick;
    int sv[2], rc;

    if (size < 1)
        return 0;
    pick = data[0];
    data++;
    size--;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    /* Whatever fits in the socket buffer at once is the whole stream. */
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    while (size > 0) {
        ssize_t w = write(sv[1], data, size);
        if (w <= 0)
            break;
        data += w;
        size -= (size_t)w;
    }
    shutdown(sv[1], SHUT_WR);

    rc = rtv_qmp_attach(sv[0], 1000, &q, &err);
    if (rc < 0) {
        FUZZ_CHECK(err.msg[0] != '\0' && err.code == -rc);
    } else {
        struct rtv_qmp_drive d;
        json_object *ret = NULL;

        FUZZ_CHECK(rtv_qmp_version(q) != NULL);
        switch (pick % 4u) {
        case 0:   /* by drive name, as libxl names hda */
            rc = rtv_qmp_drive_sync(q, "ide0-hd0", &d, &err);
            break;
        case 1:   /* by image file */
            rc = rtv_qmp_drive_sync(q, "/srv/xen/guest1.img", &d, &err);
            break;
        case 2:
            rc = rtv_qmp_find_block(q, "ide0-hd0", &err);
            break;
        default:
            rc = rtv_qmp_exec(q, "query-status", NULL, &ret, &err);
            json_object_put(ret);
            break;
        }
        if (rc < 0)
            FUZZ_CHECK(err.msg[0] != '\0' && err.code == -rc);
        if (rc == 0 && pick % 4u < 2)
            FUZZ_CHECK(strcmp(d.format, "raw") == 0);
        rtv_qmp_close(q);
    }
    close(sv[1]);
    return 0;
}
