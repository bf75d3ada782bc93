"""Lab images: built from Debian packages, cached outside the repo.

Cache: $RTVIRT_CACHE (default /var/cache/rtvirt).  Each image lives in
<cache>/<kind>-<hash>/ where <hash> covers every input that shapes it (the
build script, package lists, host package versions).  A directory is only
used when its "ok" stamp exists; a missing or stale image is rebuilt, and
older versions of the same kind are removed afterwards once they are a day
old (a queued or running flight may still use one).

Kinds:
  xen-stock   Debian's /boot/xen-4.17-amd64.gz, gunzipped (QEMU's -kernel
              wants the multiboot ELF)
  xen-patched the same for the xen.gz that xen-patches/build-hypervisor prints
  dom0        images/build-dom0: rootfs.img, vmlinuz, initrd.img
  guest       images/build-guest: vmlinuz, initrd.gz, tools/
  qemu        images/build-qemu: the outer QEMU, Debian's qemu source with
              qemu-patches/*.patch (the lab's guest deaths: README)
"""

import fcntl
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
import time

STALE_AGE = 24 * 3600   # seconds an older image version is kept

LAB_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(os.path.dirname(LAB_DIR))
IMG_DIR = os.path.join(LAB_DIR, "images")
STOCK_XEN = "/boot/xen-4.17-amd64.gz"
GUEST_HOST_PKGS = ["linux-image-amd64", "busybox-static", "fio", "xenstore-utils", "kmod", "dmsetup",
                   "iproute2"]


class ImageError(Exception):
    pass


def cache_dir():
    return os.environ.get("RTVIRT_CACHE", "/var/cache/rtvirt")


def log(msg):
    print("[images %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def debian_mirror():
    """The host's Debian mirror (RTVIRT_MIRROR overrides)."""
    env = os.environ.get("RTVIRT_MIRROR")
    if env:
        return env
    deb822 = "/etc/apt/sources.list.d/debian.sources"
    if os.path.exists(deb822):
        for stanza in open(deb822).read().split("\n\n"):
            fields = {}
            for line in stanza.splitlines():
                m = re.match(r"^(\w[\w-]*):\s*(.*)$", line)
                if m:
                    fields[m.group(1)] = m.group(2).split()
            if "deb" in fields.get("Types", []) and any(
                    s in ("bookworm", "stable") for s in fields.get("Suites", [])):
                if fields.get("URIs"):
                    return fields["URIs"][0]
    if os.path.exists("/etc/apt/sources.list"):
        for line in open("/etc/apt/sources.list"):
            f = line.split()
            if len(f) >= 3 and f[0] == "deb" and f[-2] in ("bookworm", "stable"):
                return [x for x in f[1:] if not x.startswith("[")][0]
    raise ImageError("cannot find the Debian mirror in /etc/apt/sources.list.d/debian.sources "
                     "or /etc/apt/sources.list; set RTVIRT_MIRROR")


def _hash(parts):
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, str) and os.path.isfile(p):
            # the name, not the path: a clone elsewhere shares the cache
            h.update(os.path.basename(p).encode() + b"\0")
            with open(p, "rb") as f:
                h.update(f.read())
        else:
            h.update(str(p).encode() + b"\0")
    return h.hexdigest()[:16]


def _pkg_versions(pkgs):
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}=${Version} ${Depends}\n"] + pkgs,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise ImageError("host packages missing (%s); run 'make deps'" % out.stderr.strip())
    return out.stdout


def _ensure(kind, key, build, force=False):
    """Return <cache>/<kind>-<key>, building it with build(tmpdir) if needed."""
    root = cache_dir()
    os.makedirs(root, exist_ok=True)
    final = os.path.join(root, "%s-%s" % (kind, key))
    if not force and os.path.exists(os.path.join(final, "ok")):
        return final
    with open(os.path.join(root, ".lock-" + kind), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        if not force and os.path.exists(os.path.join(final, "ok")):
            return final
        tmp = final + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        log("building %s image %s (cache %s)" % (kind, key, root))
        t0 = time.time()
        try:
            build(tmp)
        except BaseException:
            log("building %s FAILED; partial output left in %s" % (kind, tmp))
            raise
        with open(os.path.join(tmp, "ok"), "w") as f:
            f.write("built %s in %.0f s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), time.time() - t0))
        shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)
        log("built %s in %.0f s -> %s" % (kind, time.time() - t0, final))
        for old in os.listdir(root):
            p = os.path.join(root, old)
            # Another flight, queued or running, may still use an older
            # version (its paths were resolved before it queued): only one
            # unused for STALE_AGE goes.
            if old.startswith(kind + "-") and p != final and not old.endswith(".tmp") \
                    and time.time() - os.path.getmtime(p) > STALE_AGE:
                log("removing stale %s" % old)
                shutil.rmtree(p, ignore_errors=True)
    return final


def _follow(p, lf, last):
    """Copy the builder's output to its log; show its progress; last[0]: when
    it last said something."""
    stage, count = None, 0
    for line in p.stdout:
        last[0] = time.monotonic()
        lf.write(line)
        line = line.rstrip()
        m = re.match(r"I: (Retrieving|Validating|Extracting|Unpacking|Configuring) (\S+)", line)
        if m and m.group(1) != "Validating":
            # debootstrap says one line per package: show one per stage + a count
            if m.group(1) != stage:
                if stage:
                    print("    debootstrap: %s: %d done" % (stage, count), flush=True)
                stage, count = m.group(1), 0
                print("    debootstrap: %s packages..." % stage, flush=True)
            count += 1
        elif line.startswith(("[build-", "E:", "W:", "I: Base system", "I: Installing")) \
                or ("error" in line.lower() and not line.startswith("I: ")):
            print("    " + line, flush=True)


# An image build is stuck when it says nothing for BUILD_STALL seconds (a
# mirror that hangs, a tool waiting for input), not when it is long: the
# outer QEMU's 1500 compile steps took more than 30 min on 2 cores at host
# load 14 (a cold CI run, 2026-12-07), and its builder prints a line every
# 100 steps.  BUILD_TIMEOUT only caps the whole.
BUILD_STALL = int(os.environ.get("RTVIRT_BUILD_STALL", "900"))
BUILD_TIMEOUT = int(os.environ.get("RTVIRT_BUILD_TIMEOUT", "10800"))


def _run_builder(cmd, logfile):
    """Run an image builder, showing its progress and keeping the full log."""
    name = cmd[0]
    cmd = ["timeout", "-k", "30", str(BUILD_TIMEOUT)] + cmd
    last = [time.monotonic()]
    stalled = []
    done = threading.Event()

    def watch():
        while not done.wait(5):
            if time.monotonic() - last[0] > BUILD_STALL:
                stalled.append(True)
                p.terminate()  # timeout(1) passes it on to the builder
                return

    with open(logfile, "w") as lf:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        w = threading.Thread(target=watch, daemon=True)
        w.start()
        try:
            _follow(p, lf, last)
        except BaseException:
            p.terminate()
            p.wait()
            raise
        finally:
            done.set()
        rc = p.wait()
        w.join()
    if stalled:
        raise ImageError("%s said nothing for %d s: stuck; log: %s" % (name, BUILD_STALL, logfile))
    if rc == 124:
        raise ImageError("%s did not finish in %d s; log: %s" % (name, BUILD_TIMEOUT, logfile))
    if rc != 0:
        raise ImageError("%s failed (exit %d); log: %s" % (name, rc, logfile))


def xen(kind="stock", force=False):
    """Path of the uncompressed hypervisor for kind 'stock' or 'patched'."""
    if kind == "stock":
        src = STOCK_XEN
        if not os.path.exists(src):
            raise ImageError("%s missing; run 'make deps' (xen-hypervisor-4.17-amd64)" % src)
    elif kind == "patched":
        script = os.path.join(REPO, "xen-patches", "build-hypervisor")
        if not os.access(script, os.X_OK):
            raise ImageError("hypervisor=patched needs %s (not there yet)" % script)
        log("running xen-patches/build-hypervisor")
        out = subprocess.run([script], stdout=subprocess.PIPE, text=True, cwd=REPO)
        if out.returncode != 0:
            raise ImageError("xen-patches/build-hypervisor failed (exit %d)" % out.returncode)
        lines = out.stdout.strip().splitlines()
        src = lines[-1].strip() if lines else ""
        if not os.path.isfile(src):
            raise ImageError("xen-patches/build-hypervisor printed %r, not a file" % src)
    else:
        raise ImageError("unknown hypervisor %r (stock|patched)" % kind)

    def build(d):
        with gzip.open(src, "rb") as fi, open(os.path.join(d, "xen"), "wb") as fo:
            shutil.copyfileobj(fi, fo)

    d = _ensure("xen-" + kind, _hash([src]), build, force)
    return os.path.join(d, "xen")


def dom0(force=False):
    script = os.path.join(IMG_DIR, "build-dom0")
    pkgs = os.path.join(IMG_DIR, "dom0-packages.txt")
    mirror = debian_mirror()

    def build(d):
        log("dom0: debootstrap from %s (takes a few minutes; log %s/build.log)" % (mirror, d))
        _run_builder([script, d, mirror], os.path.join(d, "build.log"))

    return _ensure("dom0", _hash([script, pkgs, "bookworm"]), build, force)


def guest(force=False):
    files = [os.path.join(IMG_DIR, f) for f in
             ("build-guest", "guest-init", "guest-modules.txt", "copy-libs",
              "guest-kernel-version")]

    def build(d):
        _run_builder([files[0], d], os.path.join(d, "build.log"))

    return _ensure("guest", _hash(files + [_pkg_versions(GUEST_HOST_PKGS)]), build, force)


def qemu(force=False):
    """The patched outer QEMU (a wrapper running it with Debian's firmware)."""
    script = os.path.join(IMG_DIR, "build-qemu")
    pdir = os.path.join(LAB_DIR, "qemu-patches")
    patches = sorted(os.path.join(pdir, f) for f in os.listdir(pdir) if f.endswith(".patch"))

    def build(d):
        log("qemu: apt-get source + patches + build (15-30 min on 2 cores; log %s/build.log)" % d)
        _run_builder([script, d], os.path.join(d, "build.log"))

    return os.path.join(_ensure("qemu", _hash([script] + patches + [_pkg_versions(["qemu-system-x86"])]),
                                build, force), "qemu")


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="lab-images", description=(
        "Build (if missing or stale) and print the lab's cached images. "
        "Cache: $RTVIRT_CACHE, default /var/cache/rtvirt."))
    ap.add_argument("which", nargs="*", default=["all"],
                    help="xen-stock, xen-patched, dom0, guest, qemu or all (default: all but xen-patched and qemu)")
    ap.add_argument("--force", action="store_true", help="rebuild even if cached")
    a = ap.parse_args(argv)
    which = a.which if a.which != ["all"] else ["xen-stock", "dom0", "guest"]
    try:
        for w in which:
            if w.startswith("xen-"):
                print("%s: %s" % (w, xen(w[4:], a.force)))
            elif w == "dom0":
                print("dom0: %s" % dom0(a.force))
            elif w == "guest":
                print("guest: %s" % guest(a.force))
            elif w == "qemu":
                print("qemu: %s" % qemu(a.force))
            else:
                ap.error("unknown image %r" % w)
    except ImageError as e:
        print("lab-images: %s" % e, file=sys.stderr)
        return 1
    return 0
