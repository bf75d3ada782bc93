"""Flight definitions: tests/lab/flights/<name>.

A flight file is line based ('#' starts a comment):

    hypervisor stock|patched     which Xen to boot (default stock)
    dom0 pv|pvh                  how Xen boots dom0 (default pv).  pvh adds
                                 dom0=pvh to Xen's command line and gives QEMU
                                 an emulated VT-d (Xen refuses a PVH dom0
                                 without an IOMMU), with dom0's virtio devices
                                 behind it (iommu_platform=on)
    show-table yes               print the "what was shown" table at the end
    include OTHER                take OTHER's jobs (each with its settings)
                                 and flight settings first
    job NAME                     start (or, after include, extend) a job

  job settings (after a `job` line; they belong to that job alone, because
  each job boots its own nested host and guests, and two jobs of one flight
  may need different ones: `demo`'s switch job and its ioemu job):
    com2 yes                     the job's outer QEMU gets a second 16550
                                 (COM2, 0x2f8-0x2ff, IRQ 3): what it transmits
                                 lands in the share's com2/out, bytes appended
                                 to the share's com2/in are fed to its
                                 receiver (rtvlab/com2.py); dom0 leaves it alone
    guest-xl LINE...             an extra xl.cfg line for the job's HVM guests
                                 (repeatable; the runner's --guest-xl lines
                                 follow them, for every job)
    step NAME TIMEOUT COMMAND [ARG...]
                                 a dom0 step: COMMAND is a script in
                                 tests/lab/steps/ or a helper in tests/lab/agent/
                                 (e.g. leak-check), run with ARGs; TIMEOUT in seconds
    site                         where --steps-dir scripts go in this job
                                 (default: before the job's last step)
"""

import os
import re

LAB_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLIGHTS_DIR = os.path.join(LAB_DIR, "flights")
STEPS_DIR = os.path.join(LAB_DIR, "steps")
AGENT_DIR = os.path.join(LAB_DIR, "agent")


JOB_SETTINGS = ("com2", "guest-xl")


class FlightError(Exception):
    pass


class Step:
    def __init__(self, name, timeout, command, args, origin="repo"):
        self.name, self.timeout, self.command, self.args = name, timeout, command, args
        self.origin = origin  # repo (steps/) | helper (agent/) | site (--steps-dir)

    def __repr__(self):
        return "Step(%s)" % self.name


class Job:
    def __init__(self, name):
        self.name = name
        self.steps = []
        self.site_at = None  # index in steps where site steps go
        self.com2 = False    # the outer QEMU's second UART (rtvlab/com2.py)
        self.guest_xl = []   # extra xl.cfg lines for the job's HVM guests


class Flight:
    def __init__(self, name):
        self.name = name
        self.hypervisor = "stock"
        self.dom0 = "pv"
        self.show_table = False
        self.jobs = []

    def job(self, name):
        for j in self.jobs:
            if j.name == name:
                return j
        j = Job(name)
        self.jobs.append(j)
        return j


def available():
    return sorted(f for f in os.listdir(FLIGHTS_DIR)
                  if not f.startswith(".") and os.path.isfile(os.path.join(FLIGHTS_DIR, f)))


def load(name, flight=None, seen=()):
    path = os.path.join(FLIGHTS_DIR, name)
    if not re.match(r"^[\w.-]+$", name) or not os.path.isfile(path):
        raise FlightError("no flight %r (known: %s)" % (name, ", ".join(available())))
    if name in seen:
        raise FlightError("flight %r includes itself" % name)
    fl = flight or Flight(name)
    job = None
    for n, raw in enumerate(open(path), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        w = line.split()
        where = "%s:%d" % (path, n)
        if w[0] == "hypervisor" and len(w) == 2 and w[1] in ("stock", "patched"):
            fl.hypervisor = w[1]
        elif w[0] == "dom0" and len(w) == 2 and w[1] in ("pv", "pvh"):
            fl.dom0 = w[1]
        elif w[0] == "show-table" and len(w) == 2:
            fl.show_table = w[1] in ("yes", "true", "1")
        elif w[0] in JOB_SETTINGS and not job:
            # once flight-wide, these now say which job they are for: a
            # default for "every job" would also reach jobs taken by include
            raise FlightError("%s: %r is a job setting: put it after the `job` line of the job "
                              "it is for" % (where, w[0]))
        elif w[0] == "com2" and len(w) == 2:
            job.com2 = w[1] in ("yes", "true", "1")
        elif w[0] == "guest-xl" and len(w) >= 2:
            job.guest_xl.append(line.split(None, 1)[1])
        elif w[0] == "include" and len(w) == 2:
            load(w[1], fl, seen + (name,))
        elif w[0] == "job" and len(w) == 2:
            job = fl.job(w[1])
        elif w[0] == "site" and len(w) == 1 and job:
            job.site_at = len(job.steps)
        elif w[0] == "step" and len(w) >= 4 and job:
            if not w[2].isdigit():
                raise FlightError("%s: timeout %r is not a number of seconds" % (where, w[2]))
            if os.path.isfile(os.path.join(STEPS_DIR, w[3])):
                origin = "repo"
            elif os.path.isfile(os.path.join(AGENT_DIR, w[3])):
                origin = "helper"
            else:
                raise FlightError("%s: no step script tests/lab/steps/%s or helper tests/lab/agent/%s"
                                  % (where, w[3], w[3]))
            job.steps.append(Step(w[1], int(w[2]), w[3], w[4:], origin))
        else:
            raise FlightError("%s: cannot parse %r" % (where, raw.rstrip()))
    return fl


def site_steps(steps_dir):
    """Executable files in steps_dir, sorted; '# lab-timeout: N' sets a timeout."""
    if not os.path.isdir(steps_dir):
        raise FlightError("--steps-dir %s is not a directory" % steps_dir)
    out = []
    for f in sorted(os.listdir(steps_dir)):
        p = os.path.join(steps_dir, f)
        if f.startswith(".") or not os.path.isfile(p) or not os.access(p, os.X_OK):
            continue
        timeout = 300
        with open(p, errors="replace") as fh:
            for line in fh.read(4096).splitlines():
                m = re.match(r"#\s*lab-timeout:\s*(\d+)", line)
                if m:
                    timeout = int(m.group(1))
        name = "site-" + re.sub(r"\.\w+$", "", f)
        out.append(Step(name, timeout, f, [], origin="site"))
    if not out:
        raise FlightError("--steps-dir %s has no executable step scripts" % steps_dir)
    return out


def with_site(job, extra):
    """The job's steps with the site steps inserted."""
    steps = list(job.steps)
    at = job.site_at if job.site_at is not None else max(len(steps) - 1, 0)
    return steps[:at] + list(extra) + steps[at:]
