"""One nested Xen at a time on this machine, first come first served.

A flock on /tmp/rtvirt-lab.lock keeps two flights from sharing the cores,
but a lock alone is not a queue: every waiter polls it, and whoever polls
first after a flight ends runs next, so a flight could wait an hour behind
later arrivals (seen 2026-12-06 with five flights waiting).  Each waiter
therefore holds a ticket in /tmp/rtvirt-lab.queue/ (named by arrival time
and pid), and only the oldest live ticket may take the lock.  A ticket
whose process is gone (kill -9) is removed by whoever finds it.
"""
import fcntl
import os
import time

LOCK_PATH = "/tmp/rtvirt-lab.lock"
QUEUE_DIR = "/tmp/rtvirt-lab.queue"


class GaveUp(Exception):
    """The bound passed before this flight reached the lab."""


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _live_tickets(qdir):
    """The tickets of waiters still alive, oldest first (stale ones removed)."""
    live = []
    for name in sorted(os.listdir(qdir)):
        try:
            pid = int(name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if _alive(pid):
            live.append(name)
        else:
            try:
                os.unlink(os.path.join(qdir, name))
            except FileNotFoundError:
                pass
    return live


def take(bound_s, say, lock_path=LOCK_PATH, qdir=QUEUE_DIR, poll_s=2.0):
    """Waits in line for the lab and returns the open, locked lock file.
    Raises GaveUp after bound_s; KeyboardInterrupt passes through (the
    ticket is withdrawn either way)."""
    os.makedirs(qdir, exist_ok=True)
    ticket = "%020d-%d" % (time.time_ns(), os.getpid())
    open(os.path.join(qdir, ticket), "w").close()
    lock = open(lock_path, "w")
    t0 = time.monotonic()
    told = None
    try:
        while True:
            live = _live_tickets(qdir)
            ahead = live.index(ticket) if ticket in live else 0
            if ahead == 0:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return lock
                except BlockingIOError:
                    pass
            if told != ahead:
                say("the lab is busy: %d flight(s) queued ahead of this one, plus the "
                    "one running; waiting (at most %d min)" % (ahead, bound_s // 60))
                told = ahead
            if time.monotonic() - t0 > bound_s:
                raise GaveUp("gave up after %d min in the lab's queue" % (bound_s // 60))
            time.sleep(poll_s)
    except BaseException:
        lock.close()
        raise
    finally:
        try:
            os.unlink(os.path.join(qdir, ticket))
        except FileNotFoundError:
            pass
