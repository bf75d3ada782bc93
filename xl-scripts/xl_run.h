/* Running xl and the commands it runs (xl_run.c). */
#ifndef XL_RUN_H
#define XL_RUN_H

#include <stddef.h>

/* Runs argv[0] (looked up on PATH) with argv, its output passing through;
 * its exit status (128 + signal if killed), -1 if it could not be started
 * (127 if exec failed). */
int xl_run(char *const argv[]);

/* Runs `sh -c cmd`; as xl_run. */
int xl_run_sh(const char *cmd);

/* Appends s to buf (of len bytes, NUL-terminated) quoted for sh ('...', a '
 * as '\''); -1 if it does not fit (buf then holds what fitted). */
int xl_sh_quote(char *buf, size_t len, const char *s);

#endif
