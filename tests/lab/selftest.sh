#!/bin/sh
# Self-test of tests/lab without booting anything (run by `make check`):
# runs shellcheck on its shell scripts, checks the Python compiles, every flight parses,
# site steps are inserted where the flight says, reports render.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}
# The steps' Python helpers (net-bench.py, net-bridge-watch) are compiled
# instead; every other step is shell.
py_steps=$(grep -l '^#!.*python' "$here"/steps/* "$here"/agent/*) || true
sh_steps=$(grep -L '^#!.*python' "$here"/steps/*) || true
sh_agent=$(grep -L '^#!.*python' "$here"/agent/*) || true
for f in $py_steps; do
    "$PY" -c 'import sys; compile(open(sys.argv[1]).read(), sys.argv[1], "exec")' "$f"
done
if command -v shellcheck >/dev/null; then
    # shellcheck disable=SC2086 # the lists split on whitespace: no names have any
    shellcheck $sh_agent $sh_steps "$here"/images/build-* "$here"/images/copy-libs "$here"/images/guest-kernel-version \
        "$here"/selftest.sh "$here"/examples/broken-step/10-* "$here"/guest-tools/fio-pick
    shellcheck -s sh "$here/images/guest-init"
    echo "lab selftest: shellcheck clean"
else
    # The rest still runs; the check then exits 77 (skipped, tests/run-checks).
    no_shellcheck=1
    echo "lab selftest: shellcheck not installed (make deps); its part skipped" >&2
fi
"$PY" - "$here" <<'PYEOF'
import os, sys, tempfile, json, time
here = sys.argv[1]
sys.path.insert(0, here)
from rtvlab import flightdef, runner, images
for f in flightdef.available():
    fl = flightdef.load(f)
    assert fl.jobs, f
    print("lab selftest: flight %s: %s" % (f, ", ".join("%s(%d steps)" % (j.name, len(j.steps)) for j in fl.jobs)))
smoke = flightdef.load("smoke")
extra = flightdef.site_steps(os.path.join(here, "examples", "broken-step"))
assert [s.name for s in extra] == ["site-10-expect-site-config"] and extra[0].timeout == 30, extra
steps = [s.name for s in flightdef.with_site(smoke.jobs[0], extra)]
assert steps.index("site-10-expect-site-config") == steps.index("guest-destroy") - 1, steps
try:
    flightdef.load("no-such-flight")
    raise AssertionError("unknown flight accepted")
except flightdef.FlightError:
    pass
# reports render from a synthetic result
rep = {"flight": "t", "hypervisor": "stock", "status": "fail", "duration": 1.0,
       "jobs": [{"name": "j", "status": "fail", "dir": "/nonexistent", "attempts": [{"status": "fail"}],
                 "steps": [{"name": "a", "where": "dom0", "status": "pass", "duration": 1, "note": "", "log": None},
                           {"name": "b", "where": "dom0", "status": "fail", "duration": 2, "note": "exit 1", "log": None},
                           {"name": "c", "where": "dom0", "status": "blocked", "duration": 0, "note": "x<y", "log": None}]}]}
table = runner.summary_table(rep)
assert "blocked" in table and "FAIL" in table, table
with tempfile.TemporaryDirectory() as d:
    runner.junit(rep, os.path.join(d, "j.xml"))
    import xml.etree.ElementTree as ET
    ts = ET.parse(os.path.join(d, "j.xml")).getroot()[0]
    assert ts.get("failures") == "1" and ts.get("skipped") == "1", ts.attrib
assert runner.job_status([runner.StepResult("a", "dom0")]) == "blocked"
# bench.json: lab-bench's lines of each job, numbers only, a later key wins
with tempfile.TemporaryDirectory() as d:
    for j, lines in (("j1", "a_us 12\nb 1.500\nbad key 3\nc x\n"), ("j2", "a_us 14\n")):
        os.makedirs(os.path.join(d, j, "share"))
        open(os.path.join(d, j, "share", "bench.txt"), "w").write(lines)
    got = runner.bench_numbers({"jobs": [{"dir": os.path.join(d, "j1")}, {"dir": os.path.join(d, "j2")},
                                         {"dir": os.path.join(d, "none")}]})
    assert got == {"a_us": 14, "b": 1.5}, got
# build/lab/bench.json: each flight's numbers under "<flight>.", a rerun's
# keys replace the flight's old ones, other flights' stay, non-numbers drop
with tempfile.TemporaryDirectory() as d:
    for name, nums in (("switch", {"x_us": 5, "gone": 1}), ("net", {"y": 2.5, "s": "no"}),
                       ("switch", {"x_us": 7})):
        os.makedirs(os.path.join(d, name), exist_ok=True)
        json.dump(nums, open(os.path.join(d, name, "bench.json"), "w"))
        runner.merge_bench(d, name)
    got = json.load(open(os.path.join(d, "bench.json")))
    assert got == {"switch.x_us": 7, "net.y": 2.5}, got
assert images.debian_mirror().startswith(("http", "file", "ftp")), images.debian_mirror()
# an image builder is stuck when it says nothing for BUILD_STALL s, not when
# it is long: one that talks every second outlives the bound, a silent one
# is stopped (its child too: the process group of timeout(1))
images.BUILD_STALL = 2
with tempfile.TemporaryDirectory() as d:
    log = os.path.join(d, "build.log")
    images._run_builder(["sh", "-c", "for i in 1 2 3 4; do echo step $i; sleep 1; done"], log)
    assert open(log).read().count("step") == 4
    t0 = time.monotonic()
    try:
        images._run_builder(["sh", "-c", "echo start; sleep 60"], log)
        raise AssertionError("a silent builder was not stopped")
    except images.ImageError as e:
        assert "said nothing for 2 s" in str(e), e
    assert time.monotonic() - t0 < 20, time.monotonic() - t0
print("lab selftest: image builders: a long one that talks runs, a silent one is stopped")
# dom0 pvh: Xen gets dom0=pvh, QEMU an emulated VT-d with every dom0 virtio
# device behind it; a PV flight keeps its old machine and devices
class _A:
    xen_args = None
    no_pin = False
for name, pvh in (("smoke", False), ("p2m", True)):
    jr = runner.JobRun(_A(), flightdef.load(name), None, [], "/j", {})
    qa, xa = " ".join(jr.machine_args("/j/o.qcow2")), jr.xen_args()
    assert ("dom0=pvh" in xa) == pvh and ("intel-iommu" in qa) == pvh, (name, xa, qa)
    virtio = [a for a in jr.machine_args("/j/o.qcow2") if a.startswith("virtio-")]
    assert all("iommu_platform=on" in a for a in virtio) and len(virtio) == (3 if pvh else 0), virtio
# job settings (com2, guest-xl) belong to their job: demo's switch job
# boots without COM2 and its guests get no extra xl.cfg lines, its ioemu
# job gets both, as flight demo-ioemu says; --guest-xl follows for every job
demo = flightdef.load("demo")
assert [j.name for j in demo.jobs] == ["switch", "ioemu-demo"], demo.jobs
ioemu_job = flightdef.load("demo-ioemu").jobs[0]
assert ioemu_job.com2 and ioemu_job.guest_xl == ['ioports = [ "2f8-2ff" ]', 'irqs = [ 3 ]'], ioemu_job.guest_xl
class _B(_A):
    outer_qemu, outer_accel, outer_cpu, outer_smp = "qemu", "tcg", "qemu64", 2
    steps_dir, lab_env, guest_xl = None, None, ["hap = 0"]
with tempfile.TemporaryDirectory() as d:
    gimg = os.path.join(d, "guest-img")
    os.makedirs(gimg)
    for f in ("vmlinuz", "initrd.gz"):
        open(os.path.join(gimg, f), "w").close()
    imgs = {"xen": "/x/xen", "dom0": "/x/dom0", "guest": gimg}
    for j, com2_on, xl in ((demo.jobs[0], False, ["hap = 0"]),
                           (demo.jobs[1], True, ioemu_job.guest_xl + ["hap = 0"])):
        jdir = os.path.join(d, j.name)
        jr = runner.JobRun(_B(), demo, j, j.steps, jdir, imgs)
        jr.prepare_share()
        got = open(os.path.join(jdir, "share", "guest-xl.cfg")).read().splitlines()
        assert got == xl, (j.name, got)
        cmd = jr.qemu_cmd(os.path.join(jdir, "o.qcow2"), os.path.join(jdir, "console.log"))
        assert ("chardev:ser1" in cmd) == com2_on and cmd.count("-serial") == 1 + com2_on, (j.name, cmd)
        assert os.path.isdir(os.path.join(jdir, "share", "com2")) == com2_on, j.name
        assert "logfile" not in " ".join(cmd[cmd.index("-serial") + 1:]), cmd
# COM2's witness is the socket: a stand-in QEMU sends 3000 bytes one send
# each (the 16550 does), fast enough to fill a socket, while the host feeds
# com2/in; com2/out must hold exactly what was sent, and the stand-in gets
# exactly what com2/in held
import socket, threading  # noqa: E401
from rtvlab import com2
with tempfile.TemporaryDirectory() as d:
    share = os.path.join(d, "share")
    com2.qemu_args(d, share)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(os.path.join(d, "com2.sock"))
    srv.listen(1)
    sent = b"".join(b"G %06d the quick brown fox\n" % i for i in range(110))[:3000]
    want_in = b"H 000001 feed\n" * 40
    open(os.path.join(share, "com2", "in"), "ab").write(want_in)
    got_in = bytearray()
    def qemu():
        c, _ = srv.accept()
        with c:
            for i in range(len(sent)):
                c.sendall(sent[i:i + 1])
            c.settimeout(5)
            while len(got_in) < len(want_in):
                got_in.extend(c.recv(4096) or b"")
    t = threading.Thread(target=qemu)
    t.start()
    fd = com2.Feeder(d, share, lambda m: None)
    fd.start()
    t.join(20)
    for _ in range(100):
        if os.path.getsize(os.path.join(share, "com2", "out")) >= len(sent):
            break
        time.sleep(0.1)
    fd.stop()
    srv.close()
    out = open(os.path.join(share, "com2", "out"), "rb").read()
    assert out == sent, (len(out), len(sent))
    assert bytes(got_in) == want_in and fd.fed == len(want_in), (len(got_in), fd.fed)
# a job setting outside a job is refused (it would be ambiguous across
# include); a job taken by include keeps its settings, and a flight that
# extends it adds to that job only
with tempfile.TemporaryDirectory() as d:
    for name, text in (("loose", "com2 yes\njob a\nstep s 5 guest-io\n"),
                       ("base", "job a\ncom2 yes\nguest-xl hap = 0\nstep s 5 guest-io\n"
                                "job b\nstep s 5 guest-io\n"),
                       ("more", "include base\njob a\nguest-xl irqs = [ 3 ]\njob c\nstep s 5 guest-io\n")):
        open(os.path.join(d, name), "w").write(text)
    real, flightdef.FLIGHTS_DIR = flightdef.FLIGHTS_DIR, d
    try:
        try:
            flightdef.load("loose")
            raise AssertionError("a job setting before any job was accepted")
        except flightdef.FlightError as e:
            assert "job setting" in str(e), e
        got = [(j.name, j.com2, j.guest_xl) for j in flightdef.load("more").jobs]
        assert got == [("a", True, ["hap = 0", "irqs = [ 3 ]"]), ("b", False, []), ("c", False, [])], got
    finally:
        flightdef.FLIGHTS_DIR = real
jr = runner.JobRun(_A(), smoke, None, [], "/j", {})
_A.xen_args = "hap=0 foo"
assert jr.xen_args().endswith(" hap=0 foo"), jr.xen_args()
# pinned by default (dom0 on pCPU 0, one vCPU); --no-pin gives dom0 two
assert "dom0_max_vcpus=1 dom0_vcpus_pin" in jr.xen_args(), jr.xen_args()
_A.no_pin = True
assert "dom0_max_vcpus=2" in jr.xen_args() and "pin" not in jr.xen_args(), jr.xen_args()
_A.no_pin = False
# the death-rate table: events from the share, one death per guest and step
# however often lab-guest says so, rows appended, rates aggregated
from rtvlab import tally
with tempfile.TemporaryDirectory() as d:
    os.makedirs(os.path.join(d, "results"))
    with open(os.path.join(d, "results", "tally"), "w") as f:
        f.write("alive guest-create 0\nguest guest-create g1\nalive switch-live 1\n"
                "switch switch-live\nswitch switch-live\ndeath switch-live g1 crashed\n"
                "death switch-live g1 gone\nalive leak-after 0\n"
                "guest boot g2\ndeath boot g2 hung\n")
    ev = tally.read_events(d)
    assert ev["switch-live"] == {"guests": 1, "deaths": 1, "switches": 2, "kinds": ["crashed"],
                                 "dom0": 0}, ev
    assert ev["guest-create"]["guests"] == 1 and ev["leak-after"]["guests"] == 0, ev
    assert ev["boot"] == {"guests": 1, "deaths": 0, "switches": 0, "kinds": ["hung"],
                          "dom0": 0}, ev  # a stall
    tally.record(d, "f", "armA", "t", "j", 1, ev)
    tally.record(d, "f", "armA", "t", "j", 2, ev)
    rows = tally.load(d)
    assert len(rows) == 6, rows  # three steps with a guest, twice; leak-after had none
    agg = tally.aggregate(rows)
    assert agg[("armA", "switch-live")] == [2, 2, 2, 4, 0], agg
    t = tally.table(rows)
    assert "| armA | switch-live | 2 | 2 | 2 | 1.00 | 4 | 500.0 | 0 |" in t, t
    assert tally.rate_text(20, 1, 500) == "1 of 20 guests (5%), 500 switches, 2.0 deaths/1000 switches"
    # a death keeps its evidence in the cache; a run without one keeps nothing
    jdir = os.path.join(d, "job")
    os.makedirs(os.path.join(jdir, "share", "logs"))
    open(os.path.join(jdir, "console.log"), "w").write("(XEN) d1v0 Triple fault\n")
    open(os.path.join(jdir, "share", "logs", "10-switch-live.log"), "w").write("x\n")
    kept = tally.keep_evidence(d, "f", "j", 1, jdir, ev)
    assert kept and kept.endswith("-f-j-a1-switch-live"), kept
    assert "Triple" in open(os.path.join(kept, "console.log")).read()
    assert os.path.exists(os.path.join(kept, "share", "logs", "10-switch-live.log"))
    assert tally.keep_evidence(d, "f", "j", 2, jdir, {"boot": ev["boot"]}) is None
    # dom0's own death: read from Xen's console, put on the step that did not
    # pass, counted apart from the guests; a hang is a stall; d10v0 is a guest
    class R:
        def __init__(self, name, status, note=""):
            self.name, self.status, self.note = name, status, note
    res = [R("boot", "pass"), R("dom0-up", "pass"), R("p2m-dom0", "broken"), R("leak", "blocked")]
    con = os.path.join(d, "console.log")
    open(con, "w").write("(XEN) d10v0 Triple fault - invoking HVM shutdown action 1\n")
    assert tally.dom0_death(con, res) is None
    open(con, "w").write("(XEN) d0v0 Triple fault - invoking HVM shutdown action 1\n"
                         "(XEN) Hardware Dom0 shutdown: rebooting machine\n")
    died = tally.dom0_death(con, res)
    assert died == ("p2m-dom0", "dom0-triple-fault"), died
    assert tally.dom0_death(con, res[:2]) is None      # every step passed
    open(con, "w").write("")
    hung = [R("boot", "pass"), R("switch-live", "broken", "dom0 unresponsive: no result 90 s past")]
    assert tally.dom0_death(con, hung) == ("switch-live", "dom0-hung")
    ev2 = tally.read_events(os.path.join(d, "nowhere"))
    tally.count_dom0_death(ev2, died)
    tally.count_dom0_death(ev2, tally.dom0_death(con, hung))
    assert ev2["p2m-dom0"]["dom0"] == 1 and ev2["switch-live"]["dom0"] == 0, ev2
    assert ev2["switch-live"]["kinds"] == ["dom0-hung"], ev2
    tally.record(d, "f", "armA", "t", "j", 3, ev2)
    rows = tally.load(d)
    assert len(rows) == 8, rows      # both steps have a row
    with open(tally.path(d), "a") as f:  # a row written before dom0_deaths existed
        f.write("\t".join(["T", "f", "armA", "t", "j", "1", "old", "1", "0", "0", "-"]) + "\n")
    old = [r for r in tally.load(d) if r["step"] == "old"]
    assert len(old) == 1 and old[0]["dom0_deaths"] == "0", old
    t = tally.table(tally.load(d))
    assert "| armA | p2m-dom0 | 1 | 0 | 0 | - | 0 | - | 1 |" in t, t
    kept = tally.keep_evidence(d, "f", "j", 3, jdir, ev2)
    assert kept and kept.endswith("-p2m-dom0"), kept
print("lab selftest: flight parsing, job settings, COM2 through its socket, site steps, reports, dom0 pv/pvh machines, mirror lookup, death tally OK")
PYEOF

# The lab's queue: flights take the lab in order of arrival, a dead
# waiter's ticket does not block the line, and the wait is bounded.
"$PY" - "$here" <<'PYEOF'
import os, sys, tempfile, time, multiprocessing as mp
sys.path.insert(0, sys.argv[1])
from rtvlab import labqueue

def waiter(n, lock_path, qdir, order, ready, pids):
    ready.wait()
    # arrive in order 0, 1, 2: n queues once n-1's ticket is there (a sleep
    # of 0.2 s per place was not an order on a host at load 12: [0, 2, 1])
    t0 = time.monotonic()
    while n and not any(t.endswith("-%d" % pids[n - 1]) for t in os.listdir(qdir)):
        assert time.monotonic() - t0 < 20, "waiter %d: no ticket of waiter %d" % (n, n - 1)
        time.sleep(0.01)
    lk = labqueue.take(30, lambda m: None, lock_path, qdir, poll_s=0.05)
    order.put(n)
    time.sleep(0.3)                       # run a "flight"
    lk.close()

with tempfile.TemporaryDirectory() as d:
    lock_path, qdir = os.path.join(d, "lock"), os.path.join(d, "queue")
    os.makedirs(qdir)
    # a ticket older than everyone's, of a process that is gone
    open(os.path.join(qdir, "%020d-%d" % (1, 2 ** 22 + 7)), "w").close()
    # the running flight, in a process of its own (a forked waiter would
    # inherit its locked descriptor and keep the lock past its close)
    order, ready, taken, release = mp.Queue(), mp.Event(), mp.Event(), mp.Event()
    def running():
        lk = labqueue.take(5, lambda m: None, lock_path, qdir, poll_s=0.05)
        taken.set()
        release.wait(30)
        lk.close()
    holder = mp.Process(target=running)
    holder.start()
    assert taken.wait(10)
    pids = mp.Array("i", 3)
    ps = [mp.Process(target=waiter, args=(n, lock_path, qdir, order, ready, pids)) for n in (2, 0, 1)]
    for n, p in zip((2, 0, 1), ps):
        p.start()
        pids[n] = p.pid
    ready.set()
    time.sleep(1.0)                       # all three queued behind the running one
    release.set()
    holder.join(10)
    got = [order.get(timeout=30) for _ in ps]
    for p in ps:
        p.join(10)
    assert got == [0, 1, 2], got
    assert os.listdir(qdir) == [], os.listdir(qdir)
    held = labqueue.take(5, lambda m: None, lock_path, qdir, poll_s=0.05)
    try:
        labqueue.take(0, lambda m: None, lock_path, qdir, poll_s=0.05)
        raise AssertionError("a busy lab was taken")
    except labqueue.GaveUp:
        pass
    held.close()
    assert os.listdir(qdir) == [], os.listdir(qdir)
print("lab selftest: the lab's queue is first come, first served; dead tickets skipped; bounded")
PYEOF
# leak-check's dom0 grant mappings and event channels, from a fake /proc:
# counted per process and device, and per name; non-Xen lines ignored.
fake=$(mktemp -d)
trap 'rm -rf "$fake"' EXIT
mkdir -p "$fake/1" "$fake/22"
echo rtvirt-backd > "$fake/1/comm"
echo qemu-system-i38 > "$fake/22/comm"
cat > "$fake/1/maps" <<'MAPS'
7f0000000000-7f0000001000 rw-s 00000000 00:05 12 /dev/xen/gntdev
7f0000002000-7f0000004000 rw-s 00001000 00:05 12 /dev/xen/gntdev
7f0000010000-7f0000011000 rw-s 00000000 00:05 13 /dev/xen/gntalloc
7f0000020000-7f0000021000 r-xp 00000000 08:01 99 /usr/lib/x86_64-linux-gnu/libxengnttab.so.1.2
MAPS
echo "7f0000000000-7f0000001000 rw-s 00000000 00:05 12 /dev/xen/gntdev" > "$fake/22/maps"
cat > "$fake/interrupts" <<'INTR'
           CPU0       CPU1
 24:      12345          0  xen-percpu    -virq      timer0
 40:         20          0   xen-dyn    -event     xenbus
 42:          7          0   xen-dyn-lateeoi    -event     evtchn:rtvirt-backd
 43:          7          0   xen-dyn-lateeoi    -event     evtchn:rtvirt-backd
 44:          0          0   xen-dyn    -event     blkif-backend, evtchn:qemu-system-i38
 50:          3          0  IO-APIC    1-edge      i8042
NMI:          0          0   Non-maskable interrupts
INTR
got=$(LC_ALL=C LEAK_PROC=$fake "$here/agent/leak-check" show grants | tr '\n' ';')
want="1 qemu-system-i38 /dev/xen/gntdev;1 rtvirt-backd /dev/xen/gntalloc;2 rtvirt-backd /dev/xen/gntdev;"
[ "$got" = "$want" ] || { echo "lab selftest: leak-check grants: got '$got', want '$want'" >&2; exit 1; }
got=$(LC_ALL=C LEAK_PROC=$fake "$here/agent/leak-check" show evtchns | tr '\n' ';')
want="1 blkif-backend;1 evtchn:qemu-system-i38;2 evtchn:rtvirt-backd;1 timer0;1 xenbus;"
[ "$got" = "$want" ] || { echo "lab selftest: leak-check evtchns: got '$got', want '$want'" >&2; exit 1; }
echo "lab selftest: leak-check grants and evtchns OK"

# xen-rangesets (the ioemu steps' view of Xen's ioreq servers): from a
# saved `xl dmesg` with two debug-key 'q' dumps, the last one's rangesets of
# the domain asked, prefixes off (timestamps too); no dump, no such domain:
# an error, not an empty answer.
cat > "$fake/dmesg" <<'DMESG'
(XEN) 'q' pressed -> dumping domain info (now = 0x1:00000000)
(XEN) Rangesets belonging to domain 1:
(XEN)     ioreq_server 1 port { 2f8-2ff }
(XEN) Memory pages belonging to domain 1:
(XEN) [  812.002] 'q' pressed -> dumping domain info (now = 0x2:00000000)
(XEN) Rangesets belonging to domain 0:
(XEN)     Interrupts { 1-15 }
(XEN) Rangesets belonging to domain 1:
(XEN) [  812.003]     I/O Ports  { 2f8-2ff }
(XEN)     ioreq_server 0 port { 3f8-3ff, cf8-cff }
(XEN) Memory pages belonging to domain 1:
(XEN)     DomPage list too long to display
DMESG
got=$(XEN_DMESG=$fake/dmesg "$here/agent/xen-rangesets" 1 | tr '\n' ';')
want="I/O Ports  { 2f8-2ff };ioreq_server 0 port { 3f8-3ff, cf8-cff };"
[ "$got" = "$want" ] || { echo "lab selftest: xen-rangesets: got '$got', want '$want'" >&2; exit 1; }
if XEN_DMESG=$fake/dmesg "$here/agent/xen-rangesets" 4 2>/dev/null ||
   XEN_DMESG=/dev/null "$here/agent/xen-rangesets" 1 2>/dev/null; then
    echo "lab selftest: xen-rangesets answered for a domain or a dump that is not there" >&2; exit 1
fi
echo "lab selftest: xen-rangesets OK"

# leak-check across a move (LEAK_DOMAIN, LEAK_SCOPE, LEAK_GONE), with xl,
# xenstore-ls and ps stood in: domain 3 becomes domain 4; stock nodes and
# the request's timeout-ms may change, the contract's nodes may not, and
# nothing may name domain 3 any more.
scope=$fake/leak-scope-move
"$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); from rtvlab import leakscope; leakscope.write(sys.argv[2])' "$here" "$scope"
mkdir -p "$fake/bin" "$fake/state"
cat > "$fake/bin/xl" <<'FAKE'
#!/bin/sh
printf 'Name ID\nDomain-0 0\nm1 %s\n' "$(cat "$FAKE/dom")"
FAKE
cat > "$fake/bin/xenstore-ls" <<'FAKE'
#!/bin/sh
cat "$FAKE/xs"
FAKE
cat > "$fake/bin/ps" <<'FAKE'
#!/bin/sh
case "$*" in
*-p*) echo 9 ;;
*) cat "$FAKE/ps" ;;
esac
FAKE
chmod +x "$fake/bin/"*
xs_of() {  # xs_of DOMID [extra line...]: the store of a guest in pv as domain DOMID
    d=$1; shift
    t=$((268727040 + 256 * (d - 3)))   # a new twin, a new devid (rtvirt-backd's)
    { printf '/local/domain/%s/rtvirt/vbd/hda/state = "pv"  (n0,r%s)\n' "$d" "$d"
      printf '/local/domain/%s/device/rtvirt/vbd/hda/shunt-state = "enlightened"  (n%s)\n' "$d" "$d"
      printf '/local/domain/0/backend/vbd3/%s/%s/state = "4"  (n0,r%s)\n' "$d" "$t" "$d"
      printf '/local/domain/%s/device/vbd/%s/state = "4"  (n%s,r0)\n' "$d" "$t" "$d"
      printf '/local/domain/0/rtvirt/backd/state = "running"  (n0)\n'
      printf '/local/domain/%s/name = "m1"  (n0,r%s)\n' "$d" "$d"
      for l in "$@"; do printf '%s\n' "$l"; done; } > "$fake/xs"
}
lc() { FAKE=$fake PATH=$fake/bin:$PATH LEAK_PROC=$fake LAB_STATE=$fake/state LAB=$here LC_ALL=C "$here/agent/leak-check" "$@"; }
echo 3 > "$fake/dom"
printf '%s\n' "1 100 1 /usr/local/sbin/rtvirt-backd -v" "1 101 1 xl create m1.cfg" > "$fake/ps"
xs_of 3 '/local/domain/3/rtvirt/vbd/hda/timeout-ms = "60000"  (n0,r3)' '/local/domain/3/device/rtvirt/vbd/hda/shunt-error = ""  (n3,r0)' \
    '/local/domain/3/platform/acpi = "1"  (n0,r3)'  # libxl's, not rtvirt's: xs-schema: not-a-node
LEAK_DOMAIN=3 lc snapshot move > /dev/null
echo 4 > "$fake/dom"
printf '%s\n' "1 100 1 /usr/local/sbin/rtvirt-backd -v" "1 102 1 xl restore m1.save" > "$fake/ps"
xs_of 4 '/vm/1-2-3 = ""  (n0,r4)'
out=$(LEAK_DOMAIN=4 LEAK_GONE=3 LEAK_SCOPE=$scope lc compare move) || {
    echo "lab selftest: leak-check across a move failed on stock nodes:" >&2; echo "$out" >&2; exit 1; }
for want in "not compared" "+ xl restore m1.save" "processes: unchanged (1 entries)" "- /local/domain/<dom>/platform/acpi (n0,r<dom>)" "- /local/domain/<dom>/rtvirt/vbd/hda/timeout-ms (n0,r<dom>)" \
    "- /local/domain/<dom>/device/rtvirt/vbd/hda/shunt-error (n<dom>,r0)" "nothing names domain 3"; do
    case "$out" in *"$want"*) ;; *) echo "lab selftest: leak-check across a move does not say '$want':" >&2; echo "$out" >&2; exit 1 ;; esac
done
xs_of 4 '/local/domain/0/backend/vbd3/3/268727040/state = "6"  (n0,r3)'
sed -i '/shunt-state/d' "$fake/xs"
if out=$(LEAK_DOMAIN=4 LEAK_GONE=3 LEAK_SCOPE=$scope lc compare move); then
    echo "lab selftest: leak-check across a move passed with the old twin left and a contract node gone:" >&2; echo "$out" >&2; exit 1
fi
for want in "- /local/domain/<dom>/device/rtvirt/vbd/hda/shunt-state (n<dom>)" "still names domain 3" "+ /local/domain/0/backend/vbd3/3/268727040/state (n0,r3)"; do
    case "$out" in *"$want"*) ;; *) echo "lab selftest: leak-check across a move does not say '$want':" >&2; echo "$out" >&2; exit 1 ;; esac
done
# a twin gone from the new domain is a difference, whatever its devid
xs_of 4
grep -v '/device/vbd/' "$fake/xs" > "$fake/xs.t" && mv "$fake/xs.t" "$fake/xs"
if out=$(LEAK_DOMAIN=4 LEAK_GONE=3 LEAK_SCOPE=$scope lc compare move); then
    echo "lab selftest: leak-check across a move passed with the twin's frontend gone:" >&2; echo "$out" >&2; exit 1
fi
case "$out" in *"- /local/domain/<dom>/device/vbd/<twin>/state"*) ;; *)
    echo "lab selftest: leak-check across a move does not name the twin's frontend gone:" >&2; echo "$out" >&2; exit 1 ;; esac
echo "lab selftest: leak-check across a move: the contract's $(grep -c '^xenstore \^' "$scope") nodes compared, stock ones printed, the old domain's leftovers found"

# fio-pick (tests/lab/guest-tools/) reads fio's JSON by field name in the
# guest, with busybox awk (the guest's: busybox-static), and here with the
# host's awk too: from one fio run that prints both, the same numbers as
# the terse v3 columns the steps read before ($5 error, $6 read KiB, $47
# write KiB, $7 read KiB/s; the sum of two); a field fio lacks, a string, a
# JSON object cut short, a file without one and a run of two jobs fail.
t=$(mktemp -d)
pick=$here/guest-tools/fio-pick
mkdir "$t/bb" && ln -s "$(command -v busybox)" "$t/bb/awk"
fio --name=t --filename="$t/f" --size=4M --bs=4k --rw=randrw --ioengine=psync --runtime=1 \
    --time_based --output-format=normal,json,terse --terse-version=3 --output="$t/out" > /dev/null
fio --name=a --filename="$t/f" --size=1M --rw=read --output-format=json --output="$t/two" \
    --name=b --filename="$t/f" --size=1M --rw=read > /dev/null
head -c 2000 "$t/out" > "$t/cut"
want=$(grep '^3;' "$t/out" | awk -F';' '{ print $5, $6, $47, $7, $6 + $47 }')
for awk in busybox host; do
    if [ $awk = busybox ]; then p=$t/bb:$PATH; else p=$PATH; fi
    got=$(PATH=$p "$pick" "$t/out" error read/io_kbytes write/io_kbytes read/bw read/io_kbytes+write/io_kbytes)
    if [ -z "$want" ] || [ "$got" != "$want" ]; then
        echo "lab selftest: fio-pick ($awk awk) says '$got', fio's terse columns '$want'" >&2; rm -rf "$t"; exit 1
    fi
    for bad in "out read/no_such_field" "out jobname" "cut error" "f error" "two error"; do
        # shellcheck disable=SC2086 # FILE FIELD, split on purpose
        set -- $bad
        if PATH=$p "$pick" "$t/$1" "$2" > /dev/null 2>&1; then
            echo "lab selftest: fio-pick ($awk awk) gave a number for $2 of $1" >&2; rm -rf "$t"; exit 1
        fi
    done
done
rm -rf "$t"
echo "lab selftest: fio-pick reads fio's JSON by name, busybox and host awk (error, read KiB, write KiB, read KiB/s, a sum: $got)"
# build-qemu end to end with fake apt-get, patch, configure and ninja: a finished
# build exits 0 and leaves the wrapper; a failed ninja exits non-zero.
t=$(mktemp -d)
mkdir "$t/bin"
cat > "$t/bin/dpkg-query" <<'FAKE'
#!/bin/sh
echo 1:7.2+fake
FAKE
cat > "$t/bin/apt-get" <<'FAKE'
#!/bin/sh
mkdir qemu-7.2
printf '#!/bin/sh\nexit 0\n' > qemu-7.2/configure
chmod +x qemu-7.2/configure
FAKE
printf '#!/bin/sh\ncat > /dev/null\n' > "$t/bin/patch"
cat > "$t/bin/ninja" <<'FAKE'
#!/bin/sh
[ -n "${FAKE_NINJA_FAIL:-}" ] && { echo "[3/1526] cc broken.c"; exit 1; }
echo "[1526/1526] Linking qemu-system-x86_64"
printf '#!/bin/sh\necho "QEMU emulator version 7.2 (fake)"\n' > qemu-system-x86_64
chmod +x qemu-system-x86_64
FAKE
chmod +x "$t/bin/"*
if ! PATH=$t/bin:$PATH "$here/images/build-qemu" "$t/ok" > "$t/ok.log" 2>&1 || ! [ -x "$t/ok/qemu" ]; then
    cat "$t/ok.log" >&2; echo "lab selftest: build-qemu failed a finished (fake) build" >&2; rm -rf "$t"; exit 1
fi
if PATH=$t/bin:$PATH FAKE_NINJA_FAIL=1 "$here/images/build-qemu" "$t/bad" > "$t/bad.log" 2>&1; then
    echo "lab selftest: build-qemu passed a failed (fake) ninja" >&2; rm -rf "$t"; exit 1
fi
rm -rf "$t"
echo "lab selftest: build-qemu exits 0 on a finished build, non-zero on a failed ninja (fakes)"
# lab-quantile (the steps' quantiles, in dom0): nearest rank, several at
# once, "?" for none, a non-number refused.
q=$here/agent/lab-quantile
got="$(echo "5 7 1 100" | "$q" 0.5 0.99 1) / $(: | "$q" 0.5) / $(seq 1 200 | "$q" 0.5 0.99)"
[ "$got" = "5 100 100 / ? / 100 198" ] || { echo "lab selftest: lab-quantile says '$got'" >&2; exit 1; }
if echo "1 x" | "$q" 0.5 > /dev/null 2>&1 || echo 1 | "$q" 0 > /dev/null 2>&1; then
    echo "lab selftest: lab-quantile took a non-number or a Q of 0" >&2; exit 1
fi
echo "lab selftest: lab-quantile: nearest-rank quantiles, ? for none, bad input refused"

# net-bench.py (the net flight's numbers) on a made-up run: every key it
# prints passes lab-bench (net11-1 failed at its bench stage on "_Bps"
# keys, after every check had passed); every switch that ended ok counts,
# a kill -9 one too, a rolled-back one apart (net11-2: "only 19"); the
# blackout splits at the flip.
t=$(mktemp -d)
mkdir "$t/S"
printf '%s\n' '{"ok": true, "sent": 100, "received": 90, "first_mismatch": -1, "rtt_us_median": 2000, "gaps": []}' > "$t/S/stream-dom0.json"
printf '%s\n' '{"ok": true, "sent": 90, "received": 100, "first_mismatch": -1}' > "$t/S/stream-guest.json"
printf '%s\n' '{"interval_ms": 5, "sent": 1000, "received": 700, "echo_gaps": [[109000, 1200]], "lost_sent_ms": [109500, 109600]}' > "$t/S/ping.json"
for leg in e1000-alone emulated pv; do
    printf '{"rx_bytes_per_s": 1000}\n' > "$t/S/bulk-$leg.json"
    printf '{"rx_bytes_per_s": 2000}\n' > "$t/S/bulk-$leg-guest.json"
done
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    100000 120000 pv ok 900 normal 7 pin  130000 160000 pv rolled-back 0 normal 8 pin \
    170000 190000 pv ok 0 kill9 9 pin     200000 210000 emulated ok 800 normal 10 pin > "$t/S/switches.tsv"
printf '%s\n' "@109990 switch 7: flip to pv: active leg written in 500 us, active after 600 us, 1 gratuitous ARP out after 900 us" \
    "@204990 switch 10: flip to emulated: active leg written in 500 us, active after 600 us, 1 gratuitous ARP out after 900 us" > "$t/S/flips.txt"
printf '%s\n' "100 F vif1.0-emu" "110000 F vif1.16" "205000 F vif1.0-emu" > "$t/S/bridge.log"
"$PY" "$here/steps/net-bench.py" "$t/S" "$t/detail.json" team > "$t/bench" 2> "$t/err" ||
    { cat "$t/err" >&2; echo "lab selftest: net-bench.py failed on a good run" >&2; rm -rf "$t"; exit 1; }
while read -r k v; do
    LAB=$t "$here/agent/lab-bench" "$k" "$v" > /dev/null ||
        { echo "lab selftest: lab-bench refused net-bench.py's $k $v" >&2; rm -rf "$t"; exit 1; }
done < "$t/bench"
for want in "net_switches 3" "net_switches_after_kill9 1" "net_rollbacks 1" "net_kill9_rollbacks 0" \
            "net_to_pv_blackout_ms_median 1200" "net_to_pv_blackout_before_flip_ms_median 1000" \
            "net_to_pv_blackout_after_flip_ms_median 200" "net_to_emulated_blackout_ms_median 5" \
            "net_tput_pv_d2g_bytes_per_s 2000" "net_pv_over_emulated_g2d 1.0"; do
    grep -qx "$want" "$t/bench" ||
        { cat "$t/bench" >&2; echo "lab selftest: net-bench.py: no line '$want'" >&2; rm -rf "$t"; exit 1; }
done
[ "$(wc -l < "$t/bench")" = "$(wc -l < "$t/bench.txt")" ] || { echo "lab selftest: lab-bench lost lines" >&2; rm -rf "$t"; exit 1; }
rm -rf "$t"
echo "lab selftest: net-bench.py's keys pass lab-bench; switches ok of both kinds counted, rollbacks apart, the blackout split at the flip"
if [ -n "${no_shellcheck:-}" ]; then
    echo "lab selftest: SKIP: every part passed but shellcheck's, which needs shellcheck (make deps)"
    exit 77
fi
