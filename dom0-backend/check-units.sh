#!/bin/sh
# make check: rtvirt-backd's systemd units and the route a dead daemon takes
# (dom0-backend/README.md, "Gone for good").  `systemd-analyze verify` says
# each unit loads and its commands exist; it does not say the route is wired
# (a misspelt OnFailure= passes it), so the route is checked as well:
#   - the daemon's unit restarts it (Restart=on-failure, RestartMode=direct),
#     gives up within its own start limit (its restarts, RestartSec apart,
#     fit in StartLimitIntervalSec, so a daemon that dies at once reaches
#     it) and names in OnFailure= the orphans unit installed beside it;
#   - that unit is a oneshot that conflicts with the daemon, reads the same
#     EnvironmentFile, is bounded above the binary's own --orphans-timeout,
#     and its ExecStart=, with $RTVIRT_BACKD_OPTS split into words as systemd
#     does, runs `rtvirt-backd --orphans close` with the ring journals (the
#     binary's own parser, through --dry-run: nothing is touched), where the
#     daemon's unit runs the daemon, for the options an operator may set;
#     an option that leaves the orphans pass nothing to work with
#     (--no-takeover) is refused there, with the reason.
# What this cannot show, having no systemd manager to run them: that systemd
# does go from the fifth quick death to OnFailure=; the README says which
# code of systemd's does, and the lab's dom0 is where it runs.
cd "$(dirname "$0")/.." || exit 1
build=${BUILD:-build}
command -v systemd-analyze >/dev/null 2>&1 ||
    { echo "check-units: skipped: no systemd-analyze (Debian's systemd)"; exit 77; }
[ -x "$build/bin/rtvirt-backd" ] ||
    { echo "check-units: skipped: $build/bin/rtvirt-backd is not built"; exit 77; }
sbindir=$(cd "$build/bin" && pwd)
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
for u in rtvirt-backd rtvirt-backd-orphans; do
    sed "s|@SBINDIR@|$sbindir|g" "dom0-backend/$u.service.in" >"$tmp/$u.service" || exit 1
done
d=$tmp/rtvirt-backd.service
o=$tmp/rtvirt-backd-orphans.service
fail=0
bad() { echo "check-units: $*"; fail=1; }

# The value of the last KEY= in [SECTION] of FILE.
key() {
    awk -v sec="[$2]" -v k="$3=" '
        /^\[/ { in_sec = ($0 == sec); next }
        in_sec && index($0, k) == 1 { v = substr($0, length(k) + 1) }
        END { print v }' "$1"
}

# 1. systemd's own verdict.  systemd < 254 does not know RestartMode= and
#    says so (ignored there: the unit's comment says why it is set).
systemd-analyze verify "$d" "$o" >"$tmp/verify" 2>&1
rc=$?
ver=$(systemd-analyze --version | awk 'NR == 1 { print $2 }')
if [ "${ver:-0}" -lt 254 ] 2>/dev/null; then
    grep -v "Unknown key 'RestartMode' in section \[Service\]" "$tmp/verify" >"$tmp/verify.rest"
else
    cp "$tmp/verify" "$tmp/verify.rest"
fi
[ $rc -eq 0 ] || bad "systemd-analyze verify failed ($rc)"
if [ -s "$tmp/verify.rest" ]; then
    sed 's/^/    /' "$tmp/verify.rest"
    bad "systemd-analyze verify (systemd $ver) complained (above)"
fi

# 2. The daemon's unit: restarted, then given up on, then OnFailure=.
[ "$(key "$d" Service Restart)" = on-failure ] || bad "rtvirt-backd.service: Restart= is not on-failure"
[ "$(key "$d" Service RestartMode)" = direct ] ||
    bad "rtvirt-backd.service: no RestartMode=direct (systemd >= 254 would run OnFailure= at every restart)"
of=$(key "$d" Unit OnFailure)
[ "$of" = rtvirt-backd-orphans.service ] || bad "rtvirt-backd.service: OnFailure=$of, not the orphans unit"
grep -q "dom0-backend/${of}.in" dom0-backend/module.mk ||
    bad "OnFailure=$of names a unit make install does not install"
interval=$(key "$d" Unit StartLimitIntervalSec)
burst=$(key "$d" Unit StartLimitBurst)
rsec=$(key "$d" Service RestartSec)
case "$interval$burst$rsec" in
    ''|*[!0-9]*) bad "rtvirt-backd.service: StartLimitIntervalSec=$interval StartLimitBurst=$burst RestartSec=$rsec: not all plain seconds" ;;
    *) [ "$burst" -ge 2 ] && [ $((burst * rsec)) -lt "$interval" ] ||
           bad "rtvirt-backd.service: $burst restarts $rsec s apart do not fit in $interval s: the start limit is never hit" ;;
esac

# 3. The orphans unit.
[ "$(key "$o" Service Type)" = oneshot ] || bad "$of: not Type=oneshot"
case " $(key "$o" Unit Conflicts) " in
    *" rtvirt-backd.service "*) ;;
    *) bad "$of: no Conflicts=rtvirt-backd.service (a daemon started meanwhile must stop it)" ;;
esac
[ "$(key "$o" Service EnvironmentFile)" = "$(key "$d" Service EnvironmentFile)" ] ||
    bad "$of: another EnvironmentFile= than the daemon's: its options would differ"

# 4. What each unit's ExecStart= runs, for options an operator may set
#    (RTVIRT_BACKD_OPTS in /etc/default/rtvirt-backd): systemd splits an
#    unquoted $VAR into words.
run_unit() {   # UNIT OPTS -> "rc output" of its command with --dry-run
    set -f
    args=
    for w in $(key "$1" Service ExecStart); do
        if [ "$w" = '$RTVIRT_BACKD_OPTS' ]; then args="$args $2"; else args="$args $w"; fi
    done
    # shellcheck disable=SC2086
    out=$($args --dry-run 2>&1)
    rc=$?
    set +f
    echo "$rc $out"
}
for opts in "" "-v" "-v --twin-base xvdq --state-dir /run/rtvirt-backd" "--no-qmp --max-queues 4"; do
    got=$(run_unit "$o" "$opts")
    case "$got" in
        "0 rtvirt-backd: would run: --orphans close; state-dir /"*) ;;
        *) bad "$of with RTVIRT_BACKD_OPTS=\"$opts\": $got" ;;
    esac
    timeout=$(echo "$got" | sed -n 's/.*orphans-timeout \([0-9]*\) s.*/\1/p')
    ts=$(key "$o" Service TimeoutStartSec)
    [ -n "$timeout" ] && [ "${ts:-0}" -gt $((timeout + 30)) ] 2>/dev/null ||
        bad "$of: TimeoutStartSec=$ts does not outlast --orphans-timeout ${timeout:-?} s"
    got=$(run_unit "$d" "$opts")
    case "$got" in
        "0 rtvirt-backd: would run: the daemon;"*) ;;
        *) bad "rtvirt-backd.service with RTVIRT_BACKD_OPTS=\"$opts\": $got" ;;
    esac
done
got=$(run_unit "$o" "--no-takeover")
case "$got" in
    "2 "*"needs the ring journals"*) ;;
    *) bad "$of with --no-takeover: not refused with the reason: $got" ;;
esac

[ $fail -eq 0 ] || exit 1
echo "check-units: verify clean (systemd $ver); OnFailure=$of after $burst starts in $interval s" \
     "(RestartSec=$rsec); its command runs --orphans close"
