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
"""

import os
import shutil
import time

COLUMNS = ["time", "flight", "arm", "tree", "job", "attempt", "step",
           "guests", "deaths", "switches", "kinds"]
STALLS = ("hung", "no-boot")


def path(cache):
    return os.path.join(cache, "lab-tally.tsv")


def read_events(share):
    """Per step, in order of first appearance: guests, deaths, switches, kinds."""
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
        s = steps.setdefault(w[1], {"guests": 0, "deaths": 0, "switches": 0, "kinds": []})
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


def record(cache, flight, arm, tree, job, attempt, steps):
    """Append one row per step that ran a guest or a switch."""
    rows = []
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for name, s in steps.items():
        if not (s["guests"] or s["deaths"] or s["switches"]):
            continue
        rows.append([stamp, flight, arm, tree, job, str(attempt), name, str(s["guests"]),
                     str(s["deaths"]), str(s["switches"]), ",".join(s["kinds"]) or "-"])
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
    dead = [n for n, s in steps.items() if s["deaths"]]
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
        if len(w) == len(COLUMNS):
            out.append(dict(zip(COLUMNS, w)))
    return out


def aggregate(rows, key=("arm", "step")):
    """{(arm, step): [runs, guests, deaths, switches]} over the given rows."""
    agg = {}
    for r in rows:
        k = tuple(r[c] for c in key)
        a = agg.setdefault(k, [0, 0, 0, 0])
        a[0] += 1
        a[1] += int(r["guests"])
        a[2] += int(r["deaths"])
        a[3] += int(r["switches"])
    return agg


def rate_text(guests, deaths, switches):
    t = "%d of %d guests" % (deaths, guests)
    if guests:
        t += " (%.0f%%)" % (100.0 * deaths / guests)
    if switches:
        t += ", %d switches, %.1f deaths/1000 switches" % (switches, 1000.0 * deaths / switches)
    return t


def table(rows, since=None):
    """Markdown: per arm and step, guests, deaths, deaths/guest, switches, deaths/1000 switches."""
    if since:
        rows = [r for r in rows if r["time"] >= since]
    agg = aggregate(rows)
    out = ["| arm | step | rows | guests | deaths | deaths/guest | switches | deaths/1000 switches |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for (arm, step), (n, g, d, s) in sorted(agg.items()):
        out.append("| %s | %s | %d | %d | %d | %s | %d | %s |" % (
            arm, step, n, g, d, "%.2f" % (d / g) if g else "-", s,
            "%.1f" % (1000.0 * d / s) if s else "-"))
    return "\n".join(out)
