/* See backd_gone.h. */
#include "backd_gone.h"

#include <errno.h>
#include <signal.h>

#include "rtvirt/xs_util.h"

pid_t backd_running_pid(struct rtv_store *xs, pid_t self, pid_t *recorded)
{
    unsigned long long v;
    pid_t pid;

    *recorded = 0;
    if (rtv_xs_read_uint(xs, RTV_XS_NO_TXN, BACKD_PID_PATH, 4194304, &v) < 0 || v == 0)
        return 0;
    pid = (pid_t)v;
    *recorded = pid;
    /* EPERM: it exists, under another user: running as well. */
    if (pid == self || (kill(pid, 0) < 0 && errno == ESRCH))
        return 0;
    return pid;
}
