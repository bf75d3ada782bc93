#!/bin/sh
# make check: rtvirt-p2m-seqwriter (the lost-write detector of the
# self-test's concurrent rebuild) finds every write on a quiet host, and
# counts a write undone behind its back (--inject-loss) as lost, so the
# flight's --seq check can fail.  Frame numbers in /proc/self/pagemap need
# root: without it the check says SKIP and exits 77, counted apart by
# tests/run-checks (and failed by make test, which runs as root).
set -u
bin=${BUILD:-build}/bin/rtvirt-p2m-seqwriter
[ -x "$bin" ] || { echo "FAIL: $bin not built"; exit 1; }
if [ "$(id -u)" != 0 ]; then echo "SKIP: not root (pagemap frame numbers need CAP_SYS_ADMIN)"; exit 77; fi
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail=0
run() {  # run WHAT WANT_RC WANT_LOST ARGS...
    what=$1 want_rc=$2 want_lost=$3
    shift 3
    "$bin" --range 0-0xffffffffffff --stop "$t/stop" --candidates 512 --pages 64 \
        --max-seconds 1 "$@" > "$t/out" 2>&1
    rc=$?
    res=$(grep '^RTV-SEQ ' "$t/out")
    case $res in
        *"\"lost\":$want_lost,"*) ok=1 ;;
        *) ok=0 ;;
    esac
    if [ "$rc" -eq "$want_rc" ] && [ $ok = 1 ]; then echo "ok:   $what (exit $rc)"
    else echo "FAIL: $what: exit $rc (wanted $want_rc), lost wanted $want_lost"; cat "$t/out"; fail=1; fi
}
run "every write found on a quiet host" 0 0
run "an undone write is counted lost" 1 1 --inject-loss 100
exit $fail
