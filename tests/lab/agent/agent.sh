#!/bin/sh
# The job agent: runs in the lab's dom0 from the 9p share (mounted on /lab by
# the image's rtvirt-lab.service) and executes the job's steps one by one.
#
#   /lab/plan              one step per line: "INDEX NAME TIMEOUT COMMAND..."
#   /lab/results/hello     written first: dom0 is up and the agent runs
#   /lab/results/N.start   step N started (epoch seconds)
#   /lab/results/N.rc      step N finished: "RC SECONDS" (written atomically)
#   /lab/logs/N-NAME.log   the step's output
#   /lab/results/done      the agent finished
#
# Each step runs under timeout(1) in its own session with PATH including
# /lab/bin (lab-guest, leak-check, ...) and these variables:
#   LAB=/lab  LAB_STATE=/var/lib/rtvirt-lab (scratch kept across the job's
#   steps)  LAB_STEP=NAME  LAB_JOB=JOB  LAB_STEP_TIMEOUT=SECONDS (its
#   timeout: a step that keeps raw data can stop in time to keep it).
# The first step that does not exit 0 ends the job (later steps: blocked).
# The host enforces its own, longer, deadline in case dom0 itself hangs.
LAB=/lab
R=$LAB/results
mkdir -p "$R" "$LAB/logs"
export LAB
export LAB_STATE=/var/lib/rtvirt-lab
export LAB_JOB
LAB_JOB=$(cat "$LAB/job" 2>/dev/null || echo job)
export PATH="$LAB/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
mkdir -p "$LAB_STATE"
# the runner's --lab-env (A/B knobs, e.g. LAB_GUEST_BOOT_CPU): "export VAR=VALUE" lines
# shellcheck source=/dev/null
[ -s "$LAB/lab-env" ] && . "$LAB/lab-env"
{
    echo "kernel $(uname -r)"
    echo "uptime $(cut -d' ' -f1 /proc/uptime)"
} > "$R/hello.tmp" && mv "$R/hello.tmp" "$R/hello"
echo "rtvirt-lab agent: dom0 up after $(cut -d' ' -f1 /proc/uptime) s, running $LAB/plan"

while read -r idx name tmo cmd; do
    case $idx in ''|\#*) continue ;; esac
    export LAB_STEP="$name" LAB_STEP_TIMEOUT="$tmo"
    log="$LAB/logs/$idx-$name.log"
    t0=$(date +%s)
    echo "$t0" > "$R/$idx.start"
    # guests up as the step begins: the denominator of the death-rate table
    # (tests/lab/rtvlab/tally.py); lab-guest adds those created in the step
    echo "alive $name $(xl list 2>/dev/null | awk 'NR > 2' | wc -l)" >> "$R/tally"
    echo "rtvirt-lab agent: step $idx $name (timeout $tmo s): $cmd"
    {
        echo "# step $name: $cmd"
        echo "# started $(date -u +%Y-%m-%dT%H:%M:%SZ) in dom0, timeout $tmo s"
    } > "$log"
    # shellcheck disable=SC2086  # cmd is a word list from the plan
    timeout -k 10 "$tmo" setsid $cmd < /dev/null >> "$log" 2>&1
    rc=$?
    t1=$(date +%s)
    # 124 is timeout's own code only once tmo has passed; earlier it is
    # the step's (a command inside it, e.g. lab-guest run --timeout, timed
    # out): said so and made 1, so the runner does not call it the step's
    # timeout (series run 19: "exceeded 2400 s" after 444 s).
    if [ "$rc" -eq 124 ] && [ $((t1 - t0)) -lt "$tmo" ]; then
        echo "# the step exited 124 itself (a command in it timed out), not its $tmo s timeout" >> "$log"
        rc=1
    fi
    [ "$rc" -eq 124 ] && echo "# TIMEOUT: step exceeded $tmo s" >> "$log"
    echo "# exit $rc after $((t1 - t0)) s" >> "$log"
    echo "$rc $((t1 - t0))" > "$R/$idx.rc.tmp" && mv "$R/$idx.rc.tmp" "$R/$idx.rc"
    echo "rtvirt-lab agent: step $idx $name exit $rc"
    [ "$rc" -eq 0 ] || break
done < "$LAB/plan"

# Keep a copy of dom0's view for post-mortems.
{ xl dmesg 2>&1 | tail -200; } > "$LAB/logs/xl-dmesg.txt" 2>&1
journalctl -b --no-pager > "$LAB/logs/dom0-journal.txt" 2>&1
mkdir -p "$LAB/logs/var-log-xen" && cp -a /var/log/xen/. "$LAB/logs/var-log-xen/" 2>/dev/null
# Leftover guests would only slow the power-off down (xendomains shuts them
# down politely); the results are saved, so destroy them.
for d in $(xl list 2>/dev/null | awk 'NR > 2 { print $1 }'); do xl destroy "$d"; done
date +%s > "$R/done"
sync
