/*
 * rtvirt-qmp: talk to a device model's QMP socket the way rtvirt-backd does.
 *
 *   rtvirt-qmp <domain-id | --socket PATH> query-block [--json]
 *   rtvirt-qmp <domain-id | --socket PATH> find-block <device>
 *   rtvirt-qmp <domain-id | --socket PATH> drive-sync <image | device>
 *   rtvirt-qmp <domain-id | --socket PATH> exec <command> [<json-arguments>]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtvirt/qmp.h"
#include "rtvirt/xs_util.h"

static const char usage[] =
    "usage: rtvirt-qmp <domain-id | --socket PATH> <command> [args] [--timeout MS]\n"
    "\n"
    "  query-block [--json]       block devices qemu knows\n"
    "  find-block <device>        exit 0 if qemu has that block device\n"
    "  drive-sync <image|device>  flush qemu's drive of that image (what the live\n"
    "                             switch does before each flip); the VM keeps running\n"
    "  exec <command> [<json>]    any QMP command; prints the JSON answer\n"
    "\n"
    "A domain id means libxl's socket /var/run/xen/qmp-libxl-<id>.\n"
    "Exit status: 0 ok, 1 failed, 2 bad usage.\n";

static int usage_error(const char *what)
{
    fprintf(stderr, "rtvirt-qmp: %s\n(see rtvirt-qmp --help)\n", what);
    return 2;
}

int main(int argc, char **argv)
{
    const char *socket_path = NULL, *pos[4];
    char path[108];
    int npos = 0, json = 0, timeout = 5000;
    unsigned long long v;
    struct rtv_err err = {0};

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
            socket_path = argv[++i];
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            if (rtv_parse_uint(argv[++i], 600000, &v) < 0 || v < 10)
                return usage_error("--timeout takes milliseconds from 10 to 600000");
            timeout = (int)v;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            return usage_error("unknown option");
        } else if (npos < 4) {
            pos[npos++] = argv[i];
        } else {
            return usage_error("too many arguments");
        }
    }
    if (socket_path == NULL) {
        if (npos < 1 || rtv_parse_uint(pos[0], 32751, &v) < 0)
            return usage_error("give a domain id or --socket PATH");
        snprintf(path, sizeof(path), "/var/run/xen/qmp-libxl-%llu", v);
        socket_path = path;
        for (int i = 1; i < npos; i++)
            pos[i - 1] = pos[i];
        npos--;
    }
    if (npos < 1)
        return usage_error("no command given");

    const char *cmd = pos[0];
    struct rtv_qmp *q;
    if (rtv_qmp_connect(socket_path, timeout, &q, &err) < 0) {
        fprintf(stderr, "rtvirt-qmp: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    json_object *ret = NULL, *args = NULL;
    if (strcmp(cmd, "query-block") == 0 && npos == 1) {
        rc = rtv_qmp_exec(q, "query-block", NULL, &ret, &err);
        if (rc == 0 && json)
            printf("%s\n", json_object_to_json_string_ext(ret, JSON_C_TO_STRING_PRETTY));
        for (size_t i = 0; rc == 0 && !json && i < json_object_array_length(ret); i++) {
            json_object *b = json_object_array_get_idx(ret, i), *d, *ins, *file;
            json_object_object_get_ex(b, "device", &d);
            printf("%-16s %s\n", d ? json_object_get_string(d) : "?",
                   json_object_object_get_ex(b, "inserted", &ins) &&
                   json_object_object_get_ex(ins, "file", &file)
                       ? json_object_get_string(file) : "(empty)");
        }
    } else if (strcmp(cmd, "find-block") == 0 && npos == 2) {
        rc = rtv_qmp_find_block(q, pos[1], &err);
    } else if (strcmp(cmd, "drive-sync") == 0 && npos == 2) {
        struct rtv_qmp_drive d;
        rc = rtv_qmp_drive_sync(q, pos[1], &d, &err);
        if (rc == 0)
            printf("drive %s (%s) flushed in %llu us; the VM was not paused\n", d.device,
                   d.format, (unsigned long long)d.took_us);
    } else if (strcmp(cmd, "exec") == 0 && (npos == 2 || npos == 3)) {
        if (npos == 3 && (args = json_tokener_parse(pos[2])) == NULL) {
            rtv_qmp_close(q);
            return usage_error("the arguments are not valid JSON");
        }
        rc = rtv_qmp_exec(q, pos[1], args, &ret, &err);
        if (rc == 0)
            printf("%s\n", json_object_to_json_string_ext(ret, JSON_C_TO_STRING_PRETTY));
    } else {
        rtv_qmp_close(q);
        return usage_error("unknown command or wrong number of arguments");
    }
    if (rc < 0)
        fprintf(stderr, "rtvirt-qmp: %s\n", err.msg);
    json_object_put(ret);
    json_object_put(args);
    rtv_qmp_close(q);
    return rc < 0 ? 1 : 0;
}
