/*
 * Running xl and the commands it runs: xl-rtvirt create, save, restore and
 * migrate run the real xl (or $RTVIRT_XL) as a child, its output passing
 * through, and, for a migration, xl-rtvirt on the destination through the
 * same ssh command xl uses (`sh -c`, as xl runs its -s SSHCOMMAND).
 */
#include "xl_run.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int xl_run(char *const argv[])
{
    int st;
    pid_t pid;

    fflush(NULL);
    if ((pid = fork()) < 0)
        return -1;
    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "xl-rtvirt: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int xl_run_sh(const char *cmd)
{
    char *const argv[] = { "/bin/sh", "-c", (char *)cmd, NULL };

    return xl_run(argv);
}

int xl_sh_quote(char *buf, size_t len, const char *s)
{
    size_t n = strlen(buf);

    if (n + 1 >= len)
        return -1;
    buf[n++] = '\'';
    for (; *s; s++) {
        const char *piece = *s == '\'' ? "'\\''" : NULL;
        size_t k = piece ? 4 : 1;

        if (n + k + 2 > len) {
            buf[n] = '\0';
            return -1;
        }
        if (piece)
            memcpy(buf + n, piece, k);
        else
            buf[n] = *s;
        n += k;
    }
    if (n + 2 > len) {
        buf[n] = '\0';
        return -1;
    }
    buf[n++] = '\'';
    buf[n] = '\0';
    return 0;
}
