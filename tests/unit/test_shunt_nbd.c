/*
 * rtvirt-shunt's NBD server (shunt/shunt_nbd.c) against a scripted client on
 * a socketpair, with a real shunt behind it on the emulated path (a file;
 * the local store stands in for xenstore, nothing is managed so the shunt
 * stays emulated).  What the client sends is peer input: wrong requests get
 * error replies, garbage drops the connection, nothing crashes.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/nbd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../shunt/shunt.h"
#include "rtvirt/local.h"
#include "unit.h"

#define IMG_BYTES (1u << 20)

static struct rtv_local_hub *hub;
static char img[64];
static struct shunt *sh;
static struct shunt_nbd *srv;
static int cli;
static int srv_rc;

static int open_local(void *ctx, unsigned parts, struct rtv_xen *out, struct rtv_err *err)
{
    (void)ctx;
    int rc = rtv_local_open(hub, 0, parts, out);
    if (rc < 0)
        rtv_err_set(err, -rc, "local open: %s", strerror(-rc));
    return rc;
}

static void setup(void)
{
    struct shunt_config cfg;
    struct rtv_err err = { 0, "" };
    int sv[2];

    hub = rtv_local_hub_new(NULL);
    ck_assert_ptr_nonnull(hub);
    snprintf(img, sizeof(img), "/tmp/rtv-nbd-XXXXXX");
    int fd = mkstemp(img);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, IMG_BYTES), 0);
    close(fd);
    shunt_config_default(&cfg);
    cfg.emulated = img;
    cfg.vdev = "hda";
    cfg.allow_buffered = true;
    cfg.open_xen = open_local;
    sh = shunt_new(&cfg, &err);
    ck_assert_msg(sh != NULL, "%s", err.msg);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    srv = shunt_nbd_new(sh, sv[0]);
    ck_assert_ptr_nonnull(srv);
    cli = sv[1];
    srv_rc = 1;
}

static void teardown(void)
{
    close(cli);
    shunt_nbd_free(srv);
    shunt_free(sh);
    unlink(img);
    rtv_local_hub_free(hub);
}

/* Runs the shunt until the client has something to read or the server
 * stopped, at most 2 s. */
static void pump(void)
{
    for (int i = 0; i < 400; i++) {
        struct pollfd pfd, cp = { .fd = cli, .events = POLLIN };

        shunt_nbd_pollfd(srv, &pfd);
        ck_assert_int_ge(shunt_run_once(sh, &pfd, 1, 5), 0);
        if (srv_rc > 0)
            srv_rc = shunt_nbd_handle(srv, pfd.revents);
        if (srv_rc <= 0 || poll(&cp, 1, 0) > 0)
            return;
    }
}

static void send_req(uint32_t type, uint64_t handle, uint64_t from, uint32_t len,
                     const void *data)
{
    struct nbd_request rq;

    memset(&rq, 0, sizeof(rq));
    rq.magic = htobe32(NBD_REQUEST_MAGIC);
    rq.type = htobe32(type);
    memcpy(rq.handle, &handle, 8);
    rq.from = htobe64(from);
    rq.len = htobe32(len);
    ck_assert_int_eq(write(cli, &rq, sizeof(rq)), (ssize_t)sizeof(rq));
    if (data)
        ck_assert_int_eq(write(cli, data, len), (ssize_t)len);
}

/* Reads one reply (pumping the server); returns its error, *handle set. */
static uint32_t get_reply(uint64_t *handle, void *data, uint32_t len)
{
    struct nbd_reply rp;
    size_t got = 0;

    while (got < sizeof(rp)) {
        pump();
        ssize_t r = recv(cli, (char *)&rp + got, sizeof(rp) - got, MSG_DONTWAIT);
        if (r > 0)
            got += (size_t)r;
        else
            ck_assert_msg(r < 0 && errno == EAGAIN, "connection closed");
    }
    ck_assert_uint_eq(be32toh(rp.magic), NBD_REPLY_MAGIC);
    memcpy(handle, rp.handle, 8);
    uint32_t err = be32toh(rp.error);
    if (err == 0 && data) {
        got = 0;
        while (got < len) {
            pump();
            ssize_t r = recv(cli, (char *)data + got, len - got, MSG_DONTWAIT);
            if (r > 0)
                got += (size_t)r;
        }
    }
    return err;
}

START_TEST(write_read_flush_trim)
{
    static uint8_t a[8192], b[8192];
    uint64_t h;

    memset(a, 0x5A, sizeof(a));
    send_req(NBD_CMD_WRITE, 1, 4096, sizeof(a), a);
    ck_assert_uint_eq(get_reply(&h, NULL, 0), 0);
    ck_assert_uint_eq(h, 1);
    send_req(NBD_CMD_FLUSH, 2, 0, 0, NULL);
    ck_assert_uint_eq(get_reply(&h, NULL, 0), 0);
    ck_assert_uint_eq(h, 2);
    send_req(NBD_CMD_READ, 3, 4096, sizeof(b), NULL);
    ck_assert_uint_eq(get_reply(&h, b, sizeof(b)), 0);
    ck_assert_uint_eq(h, 3);
    ck_assert_int_eq(memcmp(a, b, sizeof(a)), 0);
    /* Trim punches a hole: it reads back as zeros. */
    send_req(NBD_CMD_TRIM, 4, 4096, 4096, NULL);
    ck_assert_uint_eq(get_reply(&h, NULL, 0), 0);
    send_req(NBD_CMD_READ, 5, 4096, sizeof(b), NULL);
    ck_assert_uint_eq(get_reply(&h, b, sizeof(b)), 0);
    for (unsigned i = 0; i < 4096; i++)
        ck_assert_uint_eq(b[i], 0);
    ck_assert_int_eq(memcmp(a + 4096, b + 4096, 4096), 0);
}
END_TEST

START_TEST(many_outstanding_matched_by_handle)
{
    static uint8_t blk[16][4096], back[4096];
    bool seen[16] = { false };
    uint64_t h;

    for (unsigned i = 0; i < 16; i++) {
        memset(blk[i], (int)i + 1, 4096);
        send_req(NBD_CMD_WRITE, 100 + i, (uint64_t)i * 4096, 4096, blk[i]);
    }
    for (unsigned i = 0; i < 16; i++) {
        ck_assert_uint_eq(get_reply(&h, NULL, 0), 0);
        ck_assert(h >= 100 && h < 116 && !seen[h - 100]);
        seen[h - 100] = true;
    }
    for (unsigned i = 0; i < 16; i++) {
        send_req(NBD_CMD_READ, 200 + i, (uint64_t)i * 4096, 4096, NULL);
        ck_assert_uint_eq(get_reply(&h, back, 4096), 0);
        ck_assert_uint_eq(h, 200 + i);
        ck_assert_int_eq(memcmp(back, blk[i], 4096), 0);
    }
}
END_TEST

START_TEST(bad_requests_get_errors)
{
    static uint8_t data[4096];
    uint64_t h;

    /* Beyond the end. */
    send_req(NBD_CMD_READ, 1, IMG_BYTES, 4096, NULL);
    ck_assert_uint_eq(get_reply(&h, NULL, 0), EINVAL);
    send_req(NBD_CMD_WRITE, 2, IMG_BYTES - 2048, 4096, data);
    ck_assert_uint_eq(get_reply(&h, NULL, 0), EINVAL);
    /* Not sector aligned. */
    send_req(NBD_CMD_READ, 3, 100, 4096, NULL);
    ck_assert_uint_eq(get_reply(&h, NULL, 0), EINVAL);
    /* A command we never advertised (WRITE_ZEROES) and a made-up one. */
    send_req(6, 4, 0, 4096, NULL);
    ck_assert_uint_eq(get_reply(&h, NULL, 0), EINVAL);
    send_req(77, 5, 0, 0, NULL);
    ck_assert_uint_eq(get_reply(&h, NULL, 0), EINVAL);
    ck_assert_uint_eq(h, 5);
    /* Larger than any request we accept. */
    send_req(NBD_CMD_READ, 6, 0, SHUNT_MAX_REQ + 4096, NULL);
    ck_assert_uint_eq(get_reply(&h, NULL, 0), EINVAL);
    /* A zero-length write carries no data: an error, and the stream stays
     * in step. */
    send_req(NBD_CMD_WRITE, 8, 0, 0, NULL);
    ck_assert_uint_eq(get_reply(&h, NULL, 0), EINVAL);
    ck_assert_uint_eq(h, 8);
    /* The connection still works. */
    send_req(NBD_CMD_READ, 7, 0, 4096, NULL);
    ck_assert_uint_eq(get_reply(&h, data, 4096), 0);
    ck_assert_uint_eq(h, 7);
}
END_TEST

START_TEST(garbage_drops_the_connection)
{
    uint8_t junk[28];

    memset(junk, 0xEE, sizeof(junk));
    ck_assert_int_eq(write(cli, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    pump();
    ck_assert_int_eq(srv_rc, -EPROTO);
}
END_TEST

START_TEST(disconnect_after_replies)
{
    uint64_t h;

    send_req(NBD_CMD_FLUSH, 9, 0, 0, NULL);
    send_req(NBD_CMD_DISC, 10, 0, 0, NULL);
    ck_assert_uint_eq(get_reply(&h, NULL, 0), 0);
    ck_assert_uint_eq(h, 9);
    pump();
    ck_assert_int_eq(srv_rc, 0);
}
END_TEST

START_TEST(eof_in_the_middle_of_a_write)
{
    struct nbd_request rq;

    memset(&rq, 0, sizeof(rq));
    rq.magic = htobe32(NBD_REQUEST_MAGIC);
    rq.type = htobe32(NBD_CMD_WRITE);
    rq.len = htobe32(8192);
    ck_assert_int_eq(write(cli, &rq, sizeof(rq)), (ssize_t)sizeof(rq));
    ck_assert_int_eq(write(cli, "abc", 3), 3);
    shutdown(cli, SHUT_WR);
    for (int i = 0; i < 10 && srv_rc > 0; i++)
        pump();
    ck_assert_int_eq(srv_rc, 0);   /* treated as a disconnect, nothing written */
}
END_TEST

/* Discard is offered only where the emulated path can punch holes. */
static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(discard_offered_only_where_holes_can_be_punched)
{
    char root[] = "/tmp/rtv-sysfs-XXXXXX", p[256], q[256];

    ck_assert(shunt_can_discard(sh));   /* the test's image is a regular file */
    ck_assert_ptr_nonnull(mkdtemp(root));
    /* A fake sysfs: sda (8:0) without write zeroes, as ata_piix's IDE
     * disk; vdb (252:16) with; sda1 (8:1) a partition of sda. */
    const char *dirs[] = { "devices", "devices/sda", "devices/sda/queue", "devices/sda/sda1",
                           "devices/vdb", "devices/vdb/queue", "dev", "dev/block" };
    for (unsigned i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", root, dirs[i]);
        ck_assert_int_eq(mkdir(p, 0755), 0);
    }
    snprintf(p, sizeof(p), "%s/devices/sda/queue/write_zeroes_max_bytes", root);
    put_file(p, "0\n");
    snprintf(p, sizeof(p), "%s/devices/vdb/queue/write_zeroes_max_bytes", root);
    put_file(p, "33553920\n");
    const char *links[][2] = { { "8:0", "sda" }, { "8:1", "sda/sda1" }, { "252:16", "vdb" } };
    for (unsigned i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/dev/block/%s", root, links[i][0]);
        snprintf(q, sizeof(q), "../../devices/%s", links[i][1]);
        ck_assert_int_eq(symlink(q, p), 0);
    }
    ck_assert(!shunt_emu_blkdev_punches(root, 8, 0));
    ck_assert(!shunt_emu_blkdev_punches(root, 8, 1));
    ck_assert(shunt_emu_blkdev_punches(root, 252, 16));
    ck_assert(!shunt_emu_blkdev_punches(root, 9, 9));   /* unknown: not offered */
    snprintf(p, sizeof(p), "%s/devices/sda/queue/write_zeroes_max_bytes", root);
    put_file(p, "4096\n");
    ck_assert(shunt_emu_blkdev_punches(root, 8, 1));    /* the partition's disk can */
    snprintf(q, sizeof(q), "rm -rf %s", root);
    ck_assert_int_eq(system(q), 0);
}
END_TEST

static Suite *shunt_nbd_suite(void)
{
    Suite *s = suite_create("shunt_nbd");
    TCase *tc = tcase_create("server");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, write_read_flush_trim);
    tcase_add_test(tc, many_outstanding_matched_by_handle);
    tcase_add_test(tc, bad_requests_get_errors);
    tcase_add_test(tc, garbage_drops_the_connection);
    tcase_add_test(tc, disconnect_after_replies);
    tcase_add_test(tc, eof_in_the_middle_of_a_write);
    tcase_add_test(tc, discard_offered_only_where_holes_can_be_punched);
    suite_add_tcase(s, tc);
    return s;
}

RTV_UNIT_MAIN(shunt_nbd_suite)
