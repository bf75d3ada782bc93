/* See qemu_fixture.h. */
#include "qemu_fixture.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child_proc.h"
#include "file_fixture.h"
#include "unit.h"

#define MAX_DRIVES 4

void test_qemu_scratch_make(struct test_qemu_scratch *s, const char *prefix)
{
    FILE *f;

    snprintf(s->dir, sizeof(s->dir), "%s/%s-XXXXXX", rtv_test_scratch_root(), prefix);
    ck_assert_ptr_nonnull(mkdtemp(s->dir));
    snprintf(s->sock, sizeof(s->sock), "%s/qmp.sock", s->dir);
    snprintf(s->img, sizeof(s->img), "%s/disk.img", s->dir);
    f = fopen(s->img, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(ftruncate(fileno(f), 1 << 20), 0);
    fclose(f);
}

void test_qemu_scratch_remove(const struct test_qemu_scratch *s)
{
    unlink(s->sock);
    unlink(s->img);
    rmdir(s->dir);
}

/* Whether something listens on the unix socket sock, as the kernel lists it
 * in /proc/net/unix (flag __SO_ACCEPTCON, 0x10000, once listen() is done).
 * The file alone is not enough: qemu binds (the file appears) and only then
 * listens, and a connect() in between is refused (ECONNREFUSED, seen in
 * make check on a loaded host). */
static bool listening(const char *sock)
{
    FILE *f = fopen("/proc/net/unix", "r");
    char line[512], path[256];
    unsigned long flags;
    bool found = false;

    ck_assert_ptr_nonnull(f);
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = sscanf(line, "%*s %*s %*s %lx %*s %*s %*s %255s", &flags, path) == 2 &&
                (flags & 0x10000ul) && strcmp(path, sock) == 0;
    fclose(f);
    return found;
}

/* Connects to sock, where qemu waits for its first client (wait=on, see
 * test_qemu_start), and waits (at most ms) for qemu's first QMP message,
 * which stays unread (MSG_PEEK) for the client that gets the connection;
 * fails the test, saying which step failed, if it does not come. */
static int wait_greeting(const char *sock, int ms)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct pollfd pfd = { .events = POLLIN };
    char buf[512];
    ssize_t n;

    pfd.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(pfd.fd, 0);
    ck_assert_uint_lt(strlen(sock), sizeof(sa.sun_path));
    strcpy(sa.sun_path, sock);
    ck_assert_msg(connect(pfd.fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
                  "qemu listens on %s but refuses: %s", sock, strerror(errno));
    ck_assert_msg(poll(&pfd, 1, ms) == 1, "qemu did not greet on %s within %d ms", sock, ms);
    /* The greeting, or an event ahead of it (ioemu/qmp.c says when). */
    n = recv(pfd.fd, buf, sizeof(buf), MSG_PEEK);
    ck_assert_msg(n > 0 && buf[0] == '{', "qemu's first words on %s are not QMP: %zd bytes: "
                  "%.*s", sock, n, n > 0 ? (int)n : 0, buf);
    return pfd.fd;
}

pid_t test_qemu_start(const char *sock, const struct test_qemu_drive *drives,
                      unsigned n, bool paused, int *session)
{
    char qmparg[256], drive[MAX_DRIVES][320];
    const char *argv[16 + 2 * MAX_DRIVES];
    unsigned a = 0;
    pid_t pid;

    ck_assert_uint_le(n, MAX_DRIVES);
    /* wait=on: qemu takes its first client before its main loop runs.
     * With wait=off a client that connects while qemu starts can meet
     * qemu 7.2 moving the QMP socket to the monitor's I/O thread: that
     * thread accepts the connection and greets, while the main thread,
     * which saw the same connection pending, blocks in accept() on the
     * (blocking) listening socket, so no command is ever answered (caught
     * on this host: 3 of ~1400 starts under load got no answer to
     * qmp_capabilities in 30 s, the main thread in accept4, the session
     * established; test_qmp failed the same way, 1 run in ~100). */
    snprintf(qmparg, sizeof(qmparg), "unix:%s,server=on,wait=on", sock);
    argv[a++] = "qemu-system-x86_64";
    argv[a++] = "-machine";
    argv[a++] = "none";
    argv[a++] = "-nodefaults";
    argv[a++] = "-display";
    argv[a++] = "none";
    argv[a++] = "-accel";
    argv[a++] = "tcg";
    if (paused)
        argv[a++] = "-S";
    argv[a++] = "-qmp";
    argv[a++] = qmparg;
    for (unsigned i = 0; i < n; i++) {
        snprintf(drive[i], sizeof(drive[i]), "file=%s,format=%s,if=none,id=%s",
                 drives[i].file, drives[i].format, drives[i].id);
        argv[a++] = "-drive";
        argv[a++] = drive[i];
    }
    argv[a] = NULL;

    pid = rtv_test_fork_child();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(126);
        execvp(argv[0], (char *const *)argv);
        perror("exec qemu-system-x86_64 (from Debian's qemu-system-x86)");
        _exit(127);
    }
    for (int i = 0; i < 200 && !listening(sock); i++) {
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        int st;

        ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0, "qemu exited at start");
        nanosleep(&ts, NULL);
    }
    ck_assert_msg(listening(sock), "qemu never listened on its QMP socket %s", sock);
    /* 20 s: for a loaded host; qemu greets within 0.1-0.4 s alone. */
    int fd = wait_greeting(sock, 20000);
    if (session != NULL)
        *session = fd;
    else
        close(fd);
    return pid;
}

void test_qemu_stop(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
        *pid = -1;
    }
}
