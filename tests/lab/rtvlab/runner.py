"""The flight runner: boots the nested Xen host per job and drives its steps.

Per job attempt, on the host:
  build  `make install` of the project into the share (what dom0 and the
         guest's tools disk get)                        fail -> rest blocked
  boot   QEMU (TCG) -> Xen -> dom0, until the dom0 agent says hello
                                                         broken on timeout / QEMU death
then the agent in dom0 runs the job's steps from the share one by one; the
runner follows them through the share, enforcing each step's timeout (plus a
grace period in case dom0 itself hangs).  A job whose attempt ends "broken"
(infrastructure, not the code under test) is retried up to --retries times.
"""

import argparse
import html
import json
import os
import re
import shutil
import shlex
import signal
import subprocess
import sys
import time

from . import com2, flightdef, images, labqueue, leakscope, tally

LAB_DIR = flightdef.LAB_DIR
REPO = images.REPO
BROKEN_RC = 75
TIMEOUT_RC = 124
HOST_GRACE = 90            # seconds past a step's timeout before dom0 counts as hung
STEP_START_DEADLINE = 60   # seconds for the agent to start the next step
QEMU_EXIT_DEADLINE = 60    # seconds for dom0 to power off after the last step
# guest_loglvl=all: Xen then logs a guest's triple fault ("d1v0 Triple fault") to its console
XEN_ARGS = ("console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M bootscrub=0 "
            "guest_loglvl=all")
# Pinning (the default; --no-pin for the A/B): dom0 one vCPU on pCPU 0, the
# guests on pCPU 1 (lab-guest's cpus="1", from LAB_GUEST_CPUS).  Measured on
# 2026-12-06 under the same host load: unpinned (dom0 2 vCPUs, guests
# anywhere) 4 of 8 guests died; pinned 0 of 5 through 120 switches
# (tests/lab/README.md, "Guest deaths").
PIN_XEN_ARGS = "dom0_max_vcpus=1 dom0_vcpus_pin"
NOPIN_XEN_ARGS = "dom0_max_vcpus=2"
PIN_GUEST_CPUS = "1"
DOM0_ARGS = "root=/dev/vda rw console=hvc0 rtvirt.lab=1"
# The outer machine.  `-cpu max` / `-cpu EPYC` crash a PV dom0 (tests/lab/README.md);
# the A/B knobs below (--outer-*) exist to measure the guest death rate of
# other choices (tests/lab/README.md, "Guest deaths").
# "patched": Debian's QEMU rebuilt with qemu-patches/ (images.qemu(), cached);
# "system": the installed qemu-system-x86_64 as it is.
OUTER_QEMU = "patched"
OUTER_CPU = "qemu64,+svm,+npt"
OUTER_ACCEL = "tcg"
OUTER_SMP = 2
OUTER_NICE = -10
OUTER_GROUP_NICE = -20     # its autogroup's weight against every other session's


def outer_priority():
    """The nested host runs ahead of whatever else the machine does (a build,
    a test loop): the lab's bounds (boot time, a guest's CPU seconds, which
    Xen counts on while the outer vCPU thread waits for a host core) assume
    it gets its cores.  Seen: a guest boot under make-check loops beside the
    lab took 131 "CPU" seconds and was judged hung."""
    try:
        # absolute, not os.nice(): a runner started under `nice -n 10` (as
        # a helper's job is) would otherwise leave QEMU at nice 0
        os.setpriority(os.PRIO_PROCESS, 0, OUTER_NICE)
    except OSError:
        pass


def outer_group_priority(pid):
    """QEMU leads a session of its own, and with the kernel's autogroup
    scheduling (Debian's default) a session's group competes as one with every
    other session however nice its tasks are: seen at load 18 from builds in
    four other sessions, the nice -10 QEMU got 45% of a core and dom0 needed
    248 s to come up.  The group's own nice fixes its share: at -10 it still
    got ~80% with seven busy sessions beside it, at -20 170%."""
    try:
        with open("/proc/%d/autogroup" % pid, "w") as f:
            f.write("%d" % OUTER_GROUP_NICE)
    except OSError:
        pass


def now():
    return time.time()


def say(msg):
    print("[lab %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


class StepResult:
    def __init__(self, name, where, timeout=None):
        self.name, self.where, self.timeout = name, where, timeout
        self.status = "blocked"
        self.duration = 0.0
        self.rc = None
        self.note = ""
        self.log = None

    def as_dict(self):
        return {"name": self.name, "where": self.where, "status": self.status,
                "duration": round(self.duration, 1), "rc": self.rc, "timeout": self.timeout,
                "note": self.note, "log": self.log}


def job_status(results):
    st = [r.status for r in results]
    if "broken" in st:
        return "broken"
    if "fail" in st:
        return "fail"
    if all(s == "pass" for s in st):
        return "pass"
    return "blocked"


def tail(path, n=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


class JobRun:
    """One attempt of one job."""

    def __init__(self, args, flight, job, steps, jdir, imgs):
        self.args, self.flight, self.job, self.steps = args, flight, job, steps
        self.jdir, self.imgs = jdir, imgs
        self.share = os.path.join(jdir, "share")
        self.qemu = None
        self.com2 = None
        self.results = []
        self.interrupted = False

    # ---- host-side preparation -------------------------------------------
    def prepare_share(self):
        s = self.share
        for d in ("agent", "bin", "steps", "site", "images", "results", "logs", "guests"):
            os.makedirs(os.path.join(s, d), exist_ok=True)
        shutil.copy(os.path.join(LAB_DIR, "agent", "agent.sh"), os.path.join(s, "agent"))
        for f in os.listdir(os.path.join(LAB_DIR, "agent")):
            if f != "agent.sh":
                shutil.copy(os.path.join(LAB_DIR, "agent", f), os.path.join(s, "bin"))
        for f in os.listdir(flightdef.STEPS_DIR):
            shutil.copy(os.path.join(flightdef.STEPS_DIR, f), os.path.join(s, "steps"))
        if self.args.steps_dir:
            for st in self.steps:
                if st.origin == "site":
                    shutil.copy(os.path.join(self.args.steps_dir, st.command), os.path.join(s, "site"))
        shutil.copy(os.path.join(LAB_DIR, "leak-ignore"), s)
        leakscope.write(os.path.join(s, "leak-scope-move"))
        shutil.copy(os.path.join(self.imgs["guest"], "vmlinuz"), os.path.join(s, "images", "guest-vmlinuz"))
        shutil.copy(os.path.join(self.imgs["guest"], "initrd.gz"), os.path.join(s, "images", "guest-initrd.gz"))
        with open(os.path.join(s, "job"), "w") as f:
            f.write(self.job.name + "\n")
        with open(os.path.join(s, "guest-xl.cfg"), "w") as f:
            f.write("".join("%s\n" % line for line in self.guest_xl()))
        with open(os.path.join(s, "lab-env"), "w") as f:
            f.write("export LAB_GUEST_CPUS=%s\n" % (PIN_GUEST_CPUS if pinned(self.args) else ""))
            f.write("".join("export %s\n" % shlex.quote(kv) for kv in self.args.lab_env or []))
        with open(os.path.join(s, "plan"), "w") as f:
            f.write("# INDEX NAME TIMEOUT COMMAND...  (written by tests/lab/flight)\n")
            for i, st in enumerate(self.steps, 1):
                d = {"site": "site", "helper": "bin"}.get(st.origin, "steps")
                f.write("%d %s %d %s\n" % (i, st.name, st.timeout,
                                           " ".join(["/lab/%s/%s" % (d, st.command)] + st.args)))

    def build_install(self, res):
        """make install into the share, then the guest's tools disk."""
        inst = os.path.join(self.share, "install")
        log = os.path.join(self.jdir, "build.log")
        res.log = log
        t0 = now()
        shutil.rmtree(inst, ignore_errors=True)
        os.makedirs(inst)
        if self.args.no_install:
            cmd = ["true", "make install skipped (--no-install)"]
        else:
            cmd = ["make", "-C", REPO, "BUILD=build/lab-helper", "install",
                   "DESTDIR=" + inst, "PREFIX=/usr/local"]
        with open(log, "w") as lf:
            lf.write("# %s\n" % " ".join(cmd))
            lf.flush()
            try:
                rc = subprocess.run(cmd, stdout=lf, stderr=subprocess.STDOUT,
                                    timeout=self.args.build_timeout).returncode
            except subprocess.TimeoutExpired:
                rc = TIMEOUT_RC
                lf.write("# TIMEOUT after %d s\n" % self.args.build_timeout)
        res.rc = rc
        if rc != 0:
            res.status, res.note = "fail", "make install failed (exit %d)" % rc
            res.duration = now() - t0
            return False
        # the guest's tools disk: cached fio/xenstore tree + rtvirt programs + their libraries
        tree = os.path.join(self.jdir, "tools-tree")
        shutil.rmtree(tree, ignore_errors=True)
        shutil.copytree(os.path.join(self.imgs["guest"], "tools"), tree, symlinks=True)
        progs = []
        # lab-guest tools (tests/lab/guest-tools/) go to the guest's sbin too
        for sub, to in (("sbin", "sbin"), ("bin", "bin"),
                        (os.path.join("lib", "rtvirt", "lab-guest"), "sbin")):
            d = os.path.join(inst, "usr", "local", sub)
            if os.path.isdir(d):
                os.makedirs(os.path.join(tree, to), exist_ok=True)
                for f in sorted(os.listdir(d)):
                    shutil.copy(os.path.join(d, f), os.path.join(tree, to))
                    progs.append(os.path.join(d, f))
        # kernel modules `make install` built for the guest's kernel (shunt/kmod:
        # dm-rtvirt.ko): the guest finds them in /opt/lab/modules/<version>/
        kmods = os.path.join(inst, "usr", "local", "lib", "rtvirt", "modules")
        if os.path.isdir(kmods):
            shutil.copytree(kmods, os.path.join(tree, "modules"))
        # shell functions the guest's /init sources (shunt/initramfs-tools/
        # rtvirt-root: the root filesystem on the shunt): /opt/lab/share/rtvirt/
        shared = os.path.join(inst, "usr", "local", "share", "rtvirt")
        if os.path.isdir(shared):
            shutil.copytree(shared, os.path.join(tree, "share", "rtvirt"))
        elfs = [p for p in progs if open(p, "rb").read(4) == b"\x7fELF"]
        with open(log, "a") as lf:
            lf.write("# installed programs: %s\n" % (" ".join(os.path.basename(p) for p in progs) or "none"))
            if elfs:
                rc = subprocess.run([os.path.join(LAB_DIR, "images", "copy-libs"),
                                     os.path.join(tree, "lib")] + elfs,
                                    stdout=lf, stderr=subprocess.STDOUT).returncode
                if rc != 0:
                    res.status, res.rc, res.note = "fail", rc, "libraries of rtvirt programs missing"
                    res.duration = now() - t0
                    return False
            img = os.path.join(self.jdir, "guest-tools.img")
            rc = subprocess.run(["mkfs.ext4", "-q", "-F", "-O", "^has_journal", "-b", "4096", "-L", "rtvlab-tools",
                                 "-d", tree, img, "256M"],
                                stdout=lf, stderr=subprocess.STDOUT).returncode
        shutil.rmtree(tree, ignore_errors=True)
        res.duration = now() - t0
        if rc != 0:
            res.status, res.rc, res.note = "broken", rc, "mkfs.ext4 of the tools disk failed"
            return False
        res.status = "pass"
        res.note = ("make install SKIPPED (--no-install)" if self.args.no_install
                    else "%d program(s) installed" % len(progs))
        return True

    # ---- the nested host -------------------------------------------------
    def xen_args(self):
        # iommu=no-sharept: Xen would otherwise hand the emulated VT-d the
        # NPT P2M as its page table (it claims "Shared EPT tables" even on
        # SVM); the VT-d's 3 levels then do not match the P2M's 4 and every
        # dom0 device fails setup with -ENOMEM ("setup 0000:00:01.0 for d0
        # failed (-12)"), leaving dom0 without its disks.
        return (XEN_ARGS + " " + (PIN_XEN_ARGS if pinned(self.args) else NOPIN_XEN_ARGS) +
                (" dom0=pvh iommu=no-sharept" if self.flight.dom0 == "pvh" else "") +
                (" " + self.args.xen_args if self.args.xen_args else ""))

    def machine_args(self, overlay):
        """QEMU's machine and dom0's devices: the disks (rootfs overlay, tools disk) and the 9p share."""
        tools = os.path.join(self.jdir, "guest-tools.img")
        if self.flight.dom0 != "pvh":
            return ["-machine", "q35",
                    "-drive", "file=%s,if=virtio,format=qcow2,cache=unsafe" % overlay,
                    "-drive", "file=%s,if=virtio,format=raw,cache=unsafe" % tools,
                    "-virtfs", "local,path=%s,mount_tag=lab,security_model=none,id=lab" % self.share]
        # Xen refuses a PVH dom0 without an IOMMU: an emulated VT-d (created
        # before the devices it translates).  A PVH dom0 programs DMA with its
        # gfns, which only the IOMMU turns into machine addresses, and QEMU's
        # virtio devices bypass the emulated VT-d unless iommu_platform=on
        # (modern-only virtio-pci, hence disable-legacy=on).
        virtio = "disable-legacy=on,iommu_platform=on"
        return ["-machine", "q35,kernel-irqchip=split", "-device", "intel-iommu,intremap=on",
                "-drive", "file=%s,if=none,id=root,format=qcow2,cache=unsafe" % overlay,
                "-device", "virtio-blk-pci,drive=root,%s" % virtio,
                "-drive", "file=%s,if=none,id=tools,format=raw,cache=unsafe" % tools,
                "-device", "virtio-blk-pci,drive=tools,%s" % virtio,
                "-fsdev", "local,id=lab,path=%s,security_model=none" % self.share,
                "-device", "virtio-9p-pci,fsdev=lab,mount_tag=lab,%s" % virtio]

    def guest_xl(self):
        """The extra xl.cfg lines of this job's HVM guests: the job's own
        (flight file), then the runner's --guest-xl (an A/B knob for every job)."""
        return self.job.guest_xl + (self.args.guest_xl or [])

    def qemu_cmd(self, overlay, console):
        """The outer QEMU's command line: the machine, Xen and dom0, COM1 as
        Xen's console; COM2 only for a job that asks for it (`com2 yes`)."""
        sock = os.path.join(self.jdir, "console.sock")
        dom0 = self.imgs["dom0"]
        cmd = [self.args.outer_qemu, "-accel", self.args.outer_accel] + self.machine_args(overlay) + [
               "-cpu", self.args.outer_cpu, "-smp", str(self.args.outer_smp), "-m", "3072",
               "-display", "none", "-no-reboot", "-nodefaults",
               "-kernel", self.imgs["xen"], "-append", self.xen_args(),
               "-initrd", "%s %s,%s" % (os.path.join(dom0, "vmlinuz"), DOM0_ARGS,
                                        os.path.join(dom0, "initrd.img")),
               "-chardev", "socket,id=ser0,path=%s,server=on,wait=off,logfile=%s" % (sock, console),
               "-serial", "chardev:ser0"]
        if self.job.com2:
            cmd += com2.qemu_args(self.jdir, self.share)
        return cmd

    def boot(self, res):
        t0 = now()
        overlay = os.path.join(self.jdir, "dom0.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                        os.path.join(self.imgs["dom0"], "rootfs.img"), overlay], check=True)
        console = os.path.join(self.jdir, "console.log")
        res.log = console
        cmd = self.qemu_cmd(overlay, console)
        with open(os.path.join(self.jdir, "qemu-cmdline"), "w") as f:
            f.write(" ".join(cmd) + "\n")
        self.qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=open(os.path.join(self.jdir, "qemu.log"), "w"),
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=outer_priority)
        outer_group_priority(self.qemu.pid)
        if self.job.com2:
            self.com2 = com2.Feeder(self.jdir, self.share, say)
            self.com2.start()
        say("%s: booting Xen + dom0 in QEMU (pid %d), console %s" % (self.job.name, self.qemu.pid, console))
        hello = os.path.join(self.share, "results", "hello")
        while not os.path.exists(hello):
            if self.qemu.poll() is not None:
                res.status = "broken"
                res.note = "QEMU exited (%s) before dom0 came up" % self.qemu.returncode
                break
            if "Panic on CPU" in tail(console, 60):
                res.status, res.note = "broken", "Xen panicked while booting"
                break
            if now() - t0 > self.args.boot_timeout:
                res.status, res.note = "broken", "dom0 not up after %d s" % self.args.boot_timeout
                break
            time.sleep(1)
        else:
            res.status = "pass"
            res.note = "dom0 up after %.0f s" % (now() - t0)
        res.duration = now() - t0
        return res.status == "pass"

    def follow_steps(self, results):
        R = os.path.join(self.share, "results")
        prev_end = now()
        for i, (st, res) in enumerate(zip(self.steps, results), 1):
            start_f, rc_f = os.path.join(R, "%d.start" % i), os.path.join(R, "%d.rc" % i)
            res.log = os.path.join(self.share, "logs", "%d-%s.log" % (i, st.name))
            while not os.path.exists(start_f):
                if self.qemu.poll() is not None or now() - prev_end > STEP_START_DEADLINE:
                    res.status = "broken"
                    res.note = ("QEMU exited (%s)" % self.qemu.returncode if self.qemu.returncode is not None
                                else "the dom0 agent did not start the step")
                    return
                time.sleep(0.5)
            t0 = now()
            while not os.path.exists(rc_f):
                if self.qemu.poll() is not None:
                    res.status, res.note = "broken", "QEMU exited (%s) during the step" % self.qemu.returncode
                    res.duration = now() - t0
                    return
                if now() - t0 > st.timeout + HOST_GRACE:
                    res.status = "broken"
                    res.note = "dom0 unresponsive: no result %d s past the step's timeout" % HOST_GRACE
                    res.duration = now() - t0
                    return
                time.sleep(0.5)
            rc, secs = open(rc_f).read().split()
            res.rc, res.duration = int(rc), float(secs)
            prev_end = now()
            if res.rc == 0:
                res.status = "pass"
            elif res.rc == BROKEN_RC:
                res.status, res.note = "broken", "infrastructure (exit 75)"
            elif res.rc == TIMEOUT_RC:
                res.status, res.note = "fail", "timed out (exit 124)"
            else:
                res.status, res.note = "fail", "exit %d" % res.rc
            say("%s: %-16s %-7s %5.0fs %s" % (self.job.name, st.name, res.status, res.duration, res.note))
            if res.status != "pass":
                return

    def stop_qemu(self):
        if not self.qemu:
            return
        done = os.path.join(self.share, "results", "done")
        t0 = now()
        while self.qemu.poll() is None and now() - t0 < QEMU_EXIT_DEADLINE:
            # give a finished agent the time to power dom0 off; a hung one, less
            if not os.path.exists(done) and now() - t0 > 20:
                break
            time.sleep(1)
        if self.qemu.poll() is None:
            say("%s: stopping QEMU (pid %d)" % (self.job.name, self.qemu.pid))
            self.qemu.terminate()
            try:
                self.qemu.wait(15)
            except subprocess.TimeoutExpired:
                self.qemu.kill()
                self.qemu.wait()

    def run(self):
        build = StepResult("build", "host")
        boot = StepResult("boot", "host", self.args.boot_timeout)
        steps = [StepResult(s.name, "dom0", s.timeout) for s in self.steps]
        self.results = [build, boot] + steps
        os.makedirs(self.jdir)
        try:
            self.prepare_share()
            say("%s: build (make install)" % self.job.name)
            if self.build_install(build) and self.boot(boot):
                say("%s: %s" % (self.job.name, boot.note))
                self.follow_steps(steps)
            elif boot.status == "broken":
                say("%s: boot BROKEN: %s" % (self.job.name, boot.note))
        except KeyboardInterrupt:
            self.interrupted = True
            for r in self.results:
                if r.status == "blocked":
                    r.status, r.note = "broken", "interrupted"
                    break
        finally:
            self.stop_qemu()
            if self.com2:
                self.com2.stop()
            if not self.args.keep:
                for f in ("dom0.qcow2", "guest-tools.img"):
                    try:
                        os.unlink(os.path.join(self.jdir, f))
                    except OSError:
                        pass
        for r in self.results:
            if r.status == "blocked":
                r.note = r.note or "blocked by an earlier step"
        return job_status(self.results)


# ---- reports ---------------------------------------------------------------

def summary_table(rep):
    steps = [s["name"] for j in rep["jobs"] for s in j["steps"]] + ["step"]
    jobs = [j["name"] for j in rep["jobs"]] + ["job"]
    fmt = "%%-%ds %%-%ds %%-6s %%-8s %%6s  %%s" % (max(map(len, jobs)), max(map(len, steps)))
    lines = ["", "flight %s (hypervisor %s, %s dom0): %s in %.0f s" % (
        rep["flight"], rep["hypervisor"], rep.get("dom0", "pv").upper(), rep["status"].upper(), rep["duration"]),
        fmt % ("job", "step", "where", "status", "time", "note")]
    for j in rep["jobs"]:
        for s in j["steps"]:
            lines.append(fmt % (j["name"], s["name"], s["where"], s["status"],
                                "%.0fs" % s["duration"], s["note"]))
        if len(j["attempts"]) > 1:
            lines.append("%s: %d attempts: %s (broken attempts are kept in %s.attemptN/)" % (
                j["name"], len(j["attempts"]), ", ".join(a["status"] for a in j["attempts"]), j["name"]))
    return "\n".join(lines)


def junit(rep, path):
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<testsuites name="rtvirt-lab %s">' % html.escape(rep["flight"])]
    for j in rep["jobs"]:
        st = j["steps"]
        out.append('  <testsuite name="%s.%s" tests="%d" failures="%d" errors="%d" skipped="%d" time="%.1f">' % (
            html.escape(rep["flight"]), html.escape(j["name"]), len(st),
            sum(s["status"] == "fail" for s in st), sum(s["status"] == "broken" for s in st),
            sum(s["status"] == "blocked" for s in st), sum(s["duration"] for s in st)))
        for s in st:
            out.append('    <testcase classname="%s.%s" name="%s" time="%.1f">' % (
                html.escape(rep["flight"]), html.escape(j["name"]), html.escape(s["name"]), s["duration"]))
            msg = html.escape(s["note"] or "", quote=True)
            body = html.escape(tail(s["log"], 50)) if s["log"] else ""
            if s["status"] == "fail":
                out.append('      <failure message="%s">%s</failure>' % (msg, body))
            elif s["status"] == "broken":
                out.append('      <error message="broken: %s">%s</error>' % (msg, body))
            elif s["status"] == "blocked":
                out.append('      <skipped message="%s"/>' % msg)
            if s["log"]:
                out.append('      <system-out>log: %s</system-out>' % html.escape(s["log"]))
            out.append('    </testcase>')
        out.append('  </testsuite>')
    out.append('</testsuites>')
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def shown_table(rep):
    rows = []
    for j in rep["jobs"]:
        p = os.path.join(j["dir"], "share", "shown.txt")
        if os.path.exists(p):
            for line in open(p):
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 3:
                    rows.append([j["name"]] + parts)
    if not rows:
        return "\n(no step recorded what it showed)"
    w = [max(len(r[i]) for r in rows + [["job", "step", "what was shown", "evidence"]]) for i in range(3)]
    fmt = "%%-%ds  %%-%ds  %%-%ds  %%s" % tuple(w)
    return "\n".join(["", "What this flight showed:", fmt % ("job", "step", "what was shown", "evidence")] +
                     [fmt % tuple(r) for r in rows])


def bench_numbers(rep):
    """The benchmark numbers the steps recorded with lab-bench (share/bench.txt
    of each job's last attempt): a flat dict, key -> number; a later value of a
    key wins."""
    out = {}
    for j in rep["jobs"]:
        p = os.path.join(j["dir"], "share", "bench.txt")
        if not os.path.exists(p):
            continue
        for line in open(p):
            m = re.match(r"^([a-z0-9_]+) (-?[0-9]+(?:\.[0-9]+)?)$", line.strip())
            if m:
                v = m.group(2)
                out[m.group(1)] = float(v) if "." in v else int(v)
    return out


def merge_bench(labdir, name):
    """Put <labdir>/<name>/bench.json into <labdir>/bench.json, every key
    prefixed "<name>.", so one file holds each flight's last numbers and a
    script compares them by key; the flight's keys of an earlier run go."""
    path = os.path.join(labdir, "bench.json")
    try:
        with open(path) as f:
            merged = json.load(f)
        if not isinstance(merged, dict):
            merged = {}
    except (OSError, ValueError):
        merged = {}
    with open(os.path.join(labdir, name, "bench.json")) as f:
        mine = json.load(f)
    merged = {k: v for k, v in merged.items() if not k.startswith(name + ".")}
    merged.update({"%s.%s" % (name, k): v for k, v in mine.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)})
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(merged, f, indent=2, sort_keys=True)
    os.replace(tmp, path)
    return merged


# ---- the death-rate table ----------------------------------------------------

def pinned(a):
    """Pinning needs a pCPU for dom0 and one for the guests."""
    return not a.no_pin and getattr(a, "outer_smp", OUTER_SMP) >= 2


def arm_label(a):
    """What this run's guests ran on: outer QEMU version, CPU, accel, Xen and guest knobs."""
    try:
        first = subprocess.run([a.outer_qemu, "--version"], stdout=subprocess.PIPE,
                               text=True).stdout.splitlines()[0]
        m = re.match(r"QEMU emulator version (\S+)(?: \((.*)\))?", first)
        ver = (m.group(1) + ("(%s)" % m.group(2).replace(" ", "") if m.group(2) else "")) if m else "?"
    except OSError:
        ver = "?"
    label = "qemu-%s cpu=%s accel=%s" % (ver, a.outer_cpu, a.outer_accel)
    if a.outer_smp != OUTER_SMP:
        label += " smp=%d" % a.outer_smp
    label += " pin" if pinned(a) else " nopin"
    if a.xen_args:
        label += " xen:" + a.xen_args
    if a.guest_xl:
        label += " guest:" + ";".join(x.replace(" ", "") for x in a.guest_xl)
    return label


def tree_label():
    try:
        head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True).stdout.strip() or "?"
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except OSError:
        return "?"


def twice_delivered(jdir):
    """The outer QEMU's own word (qemu-patches/0002) for each interrupt vector it
    delivered a second time as an exception (the defect 0001 fixes)."""
    try:
        return [l.strip() for l in open(os.path.join(jdir, "qemu.log"), errors="replace")
                if l.startswith("rtvirt-lab: ")]
    except OSError:
        return []


def deaths_text(rep):
    """The guest deaths this run saw, per step over all attempts (printed in the summary)."""
    rows = [{"step": step, "guests": c["guests"], "deaths": c["deaths"],
             "switches": c["switches"], "dom0_deaths": c.get("dom0", 0)}
            for j in rep["jobs"] for at in j["attempts"]
            for step, c in at.get("tally", {}).items()]
    per = {k[0]: v[1:] for k, v in tally.aggregate(rows, key=("step",)).items()}
    twice = sum(len(at.get("qemu_twice", [])) for j in rep["jobs"] for at in j["attempts"])
    if not per and not twice:
        return ""
    lines = ["", "guest deaths this run (arm: %s; all runs: tests/lab/tally):" % rep["arm"]]
    for step, (g, d, sw, d0) in per.items():
        if d or sw or d0:
            lines.append("  %-18s %s%s" % (step, tally.rate_text(g, d, sw),
                                          ", dom0 died %d time(s)" % d0 if d0 else ""))
    g, d = sum(v[0] for v in per.values()), sum(v[1] for v in per.values())
    d0 = sum(v[3] for v in per.values())
    lines.append("  %-18s %d deaths over %d guest-steps, dom0 died %d time(s)" % ("all steps", d, g, d0))
    if twice:
        lines.append("  the outer QEMU delivered %d interrupt vector(s) twice (its qemu.log)" % twice)
    return "\n".join(lines)


# ---- main ------------------------------------------------------------------

def lab_env_arg(kv):
    if not re.match(r"^LAB_[A-Z0-9_]+=", kv):
        raise argparse.ArgumentTypeError("'%s': expected LAB_NAME=VALUE (only LAB_* variables)" % kv)
    return kv


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="flight",
        description="Run a named lab flight on real Xen nested in QEMU (see tests/lab/README.md).",
        epilog="Flights: %s.  Exit status: 0 every step passed, 1 a step failed or was blocked, "
               "2 broken (infrastructure) after all retries, 3 usage or image errors." %
               ", ".join(flightdef.available()))
    ap.add_argument("flight", nargs="?", help="flight name (a file in tests/lab/flights/)")
    ap.add_argument("--steps-dir", metavar="DIR",
                    help="add the executable scripts in DIR as site steps of every job")
    ap.add_argument("--out", metavar="DIR", help="results directory (default build/lab/<flight>)")
    ap.add_argument("--job", action="append", help="run only this job (repeatable)")
    ap.add_argument("--hypervisor", choices=["stock", "patched"], help="override the flight's hypervisor")
    ap.add_argument("--retries", type=int, default=2, help="re-runs of a job that came out broken (default 2)")
    ap.add_argument("--lab-wait", type=int, default=120, metavar="MIN",
                    help="how long to wait in line for the lab when other flights run or "
                         "wait (first come, first served; default 120)")
    ap.add_argument("--boot-timeout", type=int, default=600, help="seconds for Xen + dom0 to come up (default 600)")
    ap.add_argument("--build-timeout", type=int, default=900, help="seconds for make install (default 900)")
    ap.add_argument("--no-install", action="store_true",
                    help="debugging aid: skip `make install` (dom0 and guest get no rtvirt programs)")
    ap.add_argument("--keep", action="store_true", help="keep the dom0 overlay and tools disk of each job")
    ap.add_argument("--list", action="store_true", help="print the flight's jobs and steps and exit")
    ab = ap.add_argument_group("A/B knobs of the nested lab (measured in the death-rate table: tests/lab/tally)")
    ab.add_argument("--outer-qemu", default=OUTER_QEMU, metavar="BIN",
                    help="the outer QEMU: 'patched' (Debian's QEMU with tests/lab/qemu-patches, "
                         "built and cached by images/build-qemu), 'system' (the installed "
                         "qemu-system-x86_64 as it is) or a binary (default %(default)s)")
    ab.add_argument("--outer-cpu", default=OUTER_CPU, metavar="MODEL",
                    help="the outer QEMU's -cpu (default %(default)s)")
    ab.add_argument("--outer-accel", default=OUTER_ACCEL, metavar="ACCEL",
                    help="the outer QEMU's -accel (default %(default)s)")
    ab.add_argument("--outer-smp", type=int, default=OUTER_SMP, metavar="N",
                    help="the outer QEMU's CPUs, Xen's pCPUs (default %(default)s)")
    ab.add_argument("--no-pin", action="store_true",
                    help="do not pin: dom0 gets 2 vCPUs and guests run on any pCPU "
                         "(the default pins dom0 to pCPU 0 and the guests to pCPU 1)")
    ab.add_argument("--xen-args", metavar="ARGS", help="more words for Xen's command line")
    ab.add_argument("--guest-xl", action="append", metavar="LINE",
                    help="an xl.cfg line for every lab HVM guest, e.g. 'hap = 0' (repeatable)")
    ab.add_argument("--lab-env", action="append", metavar="VAR=VALUE", type=lab_env_arg,
                    help="a variable for every dom0 step, e.g. LAB_GUEST_BOOT_CPU=300 (repeatable)")
    ab.add_argument("--arm", metavar="LABEL",
                    help="the label of this run in the death-rate table (default: from the knobs)")
    a = ap.parse_args(argv)
    if not a.flight:
        ap.error("which flight? (%s)" % ", ".join(flightdef.available()))
    return a


def main(argv):
    a = parse_args(argv)
    try:
        fl = flightdef.load(a.flight)
        extra = flightdef.site_steps(a.steps_dir) if a.steps_dir else []
    except flightdef.FlightError as e:
        print("flight: %s" % e, file=sys.stderr)
        return 3
    if a.steps_dir:
        a.steps_dir = os.path.abspath(a.steps_dir)
    hyp = a.hypervisor or fl.hypervisor
    jobs = [j for j in fl.jobs if not a.job or j.name in a.job]
    if a.job and len(jobs) != len(a.job):
        print("flight: %s has jobs %s" % (fl.name, ", ".join(j.name for j in fl.jobs)), file=sys.stderr)
        return 3
    if a.list:
        for j in jobs:
            print("job %s" % j.name)
            if j.com2:
                print("  com2 yes")
            for x in j.guest_xl:
                print("  guest-xl %s" % x)
            print("  build  (host) make install")
            print("  boot   (host) Xen %s + %s dom0" % (hyp, fl.dom0.upper()))
            for s in flightdef.with_site(j, extra):
                print("  %-16s %4ds  %s%s %s" % (s.name, s.timeout, "site:" if s.origin == "site" else "",
                                                 s.command, " ".join(s.args)))
        return 0
    if os.geteuid() != 0:
        print("flight: needs root (debootstrap, chroot)", file=sys.stderr)
        return 3
    out = os.path.abspath(a.out or os.path.join(REPO, "build", "lab", fl.name))

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    # Images first, outside the lock: a cold build (the patched hypervisor,
    # the outer QEMU, debootstrap) must not hold the lab while other flights
    # wait; images.py serialises builds of one image on its own lock.
    t_img = now()
    say("flight %s: hypervisor %s, %s dom0, results in %s, image cache %s" % (fl.name, hyp, fl.dom0.upper(), out, images.cache_dir()))
    try:
        imgs = {"xen": images.xen(hyp), "dom0": images.dom0(), "guest": images.guest()}
        if a.outer_qemu == "system":
            a.outer_qemu = "qemu-system-x86_64"
        elif a.outer_qemu == "patched":
            a.outer_qemu = images.qemu()
    except (images.ImageError, subprocess.CalledProcessError, OSError) as e:
        print("flight: images: %s" % e, file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("flight: interrupted while building images (the outer QEMU among them)",
              file=sys.stderr)
        return 2
    say("images ready after %.0f s" % (now() - t_img))

    # one nested Xen at a time on this machine, in order of arrival
    try:
        lock = labqueue.take(a.lab_wait * 60, say)
    except labqueue.GaveUp as e:
        print("flight: %s" % e, file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        # withdrawn from the queue (SIGTERM/^C): nothing ran, nothing to report
        print("flight: interrupted while waiting for the other flight", file=sys.stderr)
        return 2

    t_start = now()

    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    rep = {"flight": fl.name, "hypervisor": hyp, "dom0": fl.dom0, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_start)),
           "steps_dir": a.steps_dir, "images": imgs, "jobs": [],
           "arm": a.arm or arm_label(a), "tree": tree_label()}
    interrupted = False

    try:
        for j in jobs:
            steps = flightdef.with_site(j, extra)
            attempts = []
            for n in range(1, a.retries + 2):
                jdir = os.path.join(out, j.name)
                if os.path.exists(jdir):
                    os.rename(jdir, os.path.join(out, "%s.attempt%d" % (j.name, n - 1)))
                say("job %s: attempt %d" % (j.name, n))
                run = JobRun(a, fl, j, steps, jdir, imgs)
                st = run.run()
                counted = tally.read_events(run.share)
                d0 = tally.dom0_death(os.path.join(jdir, "console.log"), run.results)
                tally.count_dom0_death(counted, d0)
                if d0:
                    say("job %s: dom0 died in %s (%s)" % (j.name, d0[0], d0[1]))
                tally.record(images.cache_dir(), fl.name, rep["arm"], rep["tree"], j.name, n, counted)
                kept = tally.keep_evidence(images.cache_dir(), fl.name, j.name, n, jdir, counted)
                if kept:
                    say("job %s: a guest died; its evidence is kept in %s" % (j.name, kept))
                twice = twice_delivered(jdir)
                if twice:
                    say("job %s: the outer QEMU delivered %d interrupt vector(s) twice (qemu.log)" %
                        (j.name, len(twice)))
                attempts.append({"attempt": n, "status": st, "dir": jdir,
                                 "steps": [r.as_dict() for r in run.results], "tally": counted,
                                 "qemu_twice": twice})
                say("job %s: attempt %d %s" % (j.name, n, st.upper()))
                if run.interrupted:
                    interrupted = True
                    break
                if st != "broken":
                    break
            for i, at in enumerate(attempts[:-1], 1):
                at["dir"] = os.path.join(out, "%s.attempt%d" % (j.name, i))
                for s in at["steps"]:
                    if s["log"]:
                        s["log"] = s["log"].replace(jdir, at["dir"], 1)
            rep["jobs"].append({"name": j.name, "com2": j.com2, "guest_xl": j.guest_xl,
                                "status": attempts[-1]["status"], "dir": jdir,
                                "steps": attempts[-1]["steps"], "attempts": attempts})
            if interrupted:
                say("interrupted")
                break
    except KeyboardInterrupt:
        interrupted = True
        say("interrupted")
    rep["duration"] = round(now() - t_start, 1)
    sts = [j["status"] for j in rep["jobs"]]
    rep["status"] = ("broken" if interrupted or "broken" in sts else
                     "pass" if sts and all(s == "pass" for s in sts) else "fail")
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(rep, f, indent=2)
    # A step's detailed numbers (its job's share/<name>-detail.json: the
    # net flight's net-detail.json) next to result.json; bench.json holds
    # the flat ones (lab-bench).
    for j in rep["jobs"]:
        share = os.path.join(j["dir"], "share")
        for f in sorted(os.listdir(share)) if os.path.isdir(share) else []:
            if f.endswith("-detail.json"):
                shutil.copy(os.path.join(share, f), os.path.join(out, f))
    junit(rep, os.path.join(out, "junit.xml"))
    bench = bench_numbers(rep)
    if bench:
        with open(os.path.join(out, "bench.json"), "w") as f:
            json.dump(bench, f, indent=2, sort_keys=True)
    if os.path.isfile(os.path.join(out, "bench.json")):
        merge_bench(os.path.dirname(out), os.path.basename(out))
    text = summary_table(rep) + deaths_text(rep)
    if fl.show_table:
        text += "\n" + shown_table(rep)
    with open(os.path.join(out, "summary.txt"), "w") as f:
        f.write(text.lstrip("\n") + "\n")
    print(text)
    print("\nresults: %s/result.json, junit.xml, summary.txt%s; logs under %s/<job>/" %
          (out, ", bench.json" if bench else "", out))
    return {"pass": 0, "fail": 1}.get(rep["status"], 2)
