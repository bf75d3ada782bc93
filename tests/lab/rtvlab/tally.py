"""Guest deaths per step: what each flight run saw, and the rate over many runs.

The lab's HVM guests die now and then (nested SVM under TCG; tests/lab/README.md,
"Guest deaths").  A death is infrastructure only while its rate in a step
matches the lab's measured base rate, so every run counts, per step, how many
guests ran it, how many died in it and how many live switches it made, and
appends that to a table kept beside the image cache (it outlives the build
tree, so runs of many trees and knobs add up).  `tests/lab/tally` prints it.

Events come from dom0 through the share, one per line in results/tally:

    alive STEP N            (agent.sh) N HVM/PVH guests were up as STEP began
    guest STEP NAME         (lab-guest create) a guest was created in STEP
    death STEP NAME KIND    (lab-guest) NAME died in STEP: crashed, gone or
                            shutdown; or stalled: hung or no-boot (not ready
                            in time, which a starved host also causes: kept
                            apart as "stalls")
    switch STEP             (switch steps) one live switch completed

dom0 itself can die too (a triple fault of a PVH dom0, a Xen panic, dom0
hung): the host reads that from Xen's console and the attempt's step
results (dom0_death) and counts it apart, in the column dom0_deaths of
the step that was running, since dom0 is not one of the step's guests.
"""

import os
import re
import shutil
import time

COLUMNS = ["time", "flight", "arm", "tree", "job", "attempt", "step",
           "guests", "deaths", "switches", "kinds", "dom0_deaths"]
STALLS = ("hung", "no-boot")


def path(cache):
    return os.path.join(cache, "lab-tally.tsv")


def new_step():
    return {"guests": 0, "deaths": 0, "switches": 0, "kinds": [], "dom0": 0}


def read_events(share):
    """Per step, in order of first appearance: guests, deaths, switches, kinds
    (and dom0, which dom0_death fills in on the host)."""
    steps = {}
    dead = set()
    try:
        lines = open(os.path.join(share, "results", "tally")).read().splitlines()
    except OSError:
        return steps
    for line in lines:
        w = line.split()
        if len(w) < 2:
            continue
        s = steps.setdefault(w[1], new_step())
        if w[0] == "alive" and len(w) == 3 and w[2].isdigit():
            s["guests"] += int(w[2])
        elif w[0] == "guest" and len(w) >= 3:
            s["guests"] += 1
        elif w[0] == "death" and len(w) >= 3 and (w[1], w[2]) not in dead:
            # lab-guest may say so more than once (a step's check, then its clean-up)
            dead.add((w[1], w[2]))
            kind = w[3] if len(w) > 3 else "?"
            s["deaths"] += kind not in STALLS
            s["kinds"].append(kind)
        elif w[0] == "switch":
            s["switches"] += 1
    return steps


# Xen's console lines that mean dom0 died, and the kind each gives.
DOM0_DEATHS = ((re.compile(r"\(XEN\) d0v\d+ Triple fault"), "dom0-triple-fault"),
               (re.compile(r"Hardware Dom0 crashed"), "dom0-crashed"),
               (re.compile(r"Hardware Dom0 shutdown: rebooting"), "dom0-rebooted"),
               (re.compile(r"Panic on CPU"), "xen-panic"))


def dom0_death(console, results):
    """(step, kind) when dom0 died or hung in this attempt, else None.  The
    step is the first that did not pass; a dom0 that stopped answering
    ("dom0 unresponsive", the runner's note) is a stall, kind dom0-hung."""
    step = next((r for r in results if r.status not in ("pass", "blocked")), None)
    if step is None:
        return None
    try:
        text = open(console, errors="replace").read()
    except OSError:
        text = ""
    for pattern, kind in DOM0_DEATHS:
        if pattern.search(text):
            return step.name, kind
    if step.status == "broken" and "dom0 unresponsive" in (step.note or ""):
        return step.name, "dom0-hung"
    return None


def count_dom0_death(steps, death):
    """Adds dom0_death's answer to read_events' counts (a hang is a stall,
    listed in kinds but not counted as a death, like a guest's)."""
    if death is None:
        return
    s = steps.setdefault(death[0], new_step())
    s["dom0"] += death[1] not in ("dom0-hung",)
    s["kinds"].append(death[1])


def record(cache, flight, arm, tree, job, attempt, steps):
    """Append one row per step that ran a guest or a switch."""
    rows = []
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for name, s in steps.items():
        if not (s["guests"] or s["deaths"] or s["switches"] or s["kinds"]):
            continue
        rows.append([stamp, flight, arm, tree, job, str(attempt), name, str(s["guests"]),
                     str(s["deaths"]), str(s["switches"]), ",".join(s["kinds"]) or "-",
                     str(s.get("dom0", 0))])
    if not rows:
        return
    p = path(cache)
    new = not os.path.exists(p)
    os.makedirs(cache, exist_ok=True)
    with open(p, "a") as f:
        if new:
            f.write("\t".join(COLUMNS) + "\n")
        for r in rows:
            f.write("\t".join(x.replace("\t", " ") for x in r) + "\n")


EVIDENCE = ("console.log", "qemu.log", "qemu-cmdline", "share/logs", "share/guests",
            "share/results")


def keep_evidence(cache, flight, job, attempt, jdir, steps):
    """A run with a guest death copies what tells why (Xen's console with
    its dumps, the step and guest logs) to <cache>/deaths/, outside the
    tree: CI's clone is deleted after the run, the cache is not.  Returns
    the directory, or None when nobody died."""
    dead = [n for n, s in steps.items() if s["deaths"] or s.get("dom0")]
    if not dead:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    dst = os.path.join(cache, "deaths", "%s-%s-%s-a%d-%s" % (stamp, flight, job, attempt,
                                                            "+".join(dead)))
    os.makedirs(dst, exist_ok=True)
    for rel in EVIDENCE:
        src = os.path.join(jdir, rel)
        try:
            if os.path.isdir(src):
                shutil.copytree(src, os.path.join(dst, rel), dirs_exist_ok=True)
            elif os.path.exists(src):
                os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
                shutil.copy2(src, os.path.join(dst, rel))
        except OSError:
            pass   # evidence is best effort; the tally row is already written
    return dst


def load(cache):
    try:
        lines = open(path(cache)).read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines[1:]:
        w = line.split("\t")
        if len(w) == len(COLUMNS) - 1:
            w.append("0")    # a row from before dom0 deaths were counted
        if len(w) == len(COLUMNS):
            out.append(dict(zip(COLUMNS, w)))
    return out


def aggregate(rows, key=("arm", "step")):
    """{(arm, step): [runs, guests, deaths, switches, dom0 deaths]} over the given rows."""
    agg = {}
    for r in rows:
        k = tuple(r[c] for c in key)
        a = agg.setdefault(k, [0, 0, 0, 0, 0])
        a[0] += 1
        a[1] += int(r["guests"])
        a[2] += int(r["deaths"])
        a[3] += int(r["switches"])
        a[4] += int(r["dom0_deaths"])
    return agg


def rate_text(guests, deaths, switches):
    t = "%d of %d guests" % (deaths, guests)
    if guests:
        t += " (%.0f%%)" % (100.0 * deaths / guests)
    if switches:
        t += ", %d switches, %.1f deaths/1000 switches" % (switches, 1000.0 * deaths / switches)
    return t


def table(rows, since=None):
    """Markdown: per arm and step, guests, deaths, deaths/guest, switches,
    deaths/1000 switches, and dom0's own deaths in that step."""
    if since:
        rows = [r for r in rows if r["time"] >= since]
    agg = aggregate(rows)
    out = ["| arm | step | rows | guests | deaths | deaths/guest | switches | deaths/1000 switches"
           " | dom0 deaths |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for (arm, step), (n, g, d, s, d0) in sorted(agg.items()):
        out.append("| %s | %s | %d | %d | %d | %s | %d | %s | %d |" % (
            arm, step, n, g, d, "%.2f" % (d / g) if g else "-", s,
            "%.1f" % (1000.0 * d / s) if s else "-", d0))
    return "\n".join(out)
