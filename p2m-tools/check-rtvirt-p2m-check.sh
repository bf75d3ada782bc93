#!/bin/sh
# make check: rtvirt-p2m-check (the verdict of boot-smoke and of the lab
# flight p2m) passes a good result log and fails each kind of bad one, so
# the flight's checks can fail.
set -u
here=$(cd "$(dirname "$0")" && pwd)
chk=$here/rtvirt-p2m-check
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
q() {  # q TAG MODE IDENTITY FREE OWN OTHER REMAPPED COPIES CYCLES BUSY [CONTINUATIONS]
    echo "RTV-JSON $1 rc=0 {\"domain\":1,\"first_gfn\":0,\"last_gfn\":999,\"mode\":\"$2\",\"bookkeeping\":\"backmap\",\"calls\":1,\"continuations\":${11:-0},\"remapped\":$7,\"copies\":$8,\"cycles\":$9,\"scratch_uses\":$9,\"busy\":${10},\"failed\":$6,\"seconds\":0.5,\"classes\":{\"hole\":10,\"identity\":$3,\"target-free\":$4,\"target-own\":$5,\"target-other-owner\":$6}}"
}
good() {
    echo "RTV-MARK start"
    echo "RTV-SUM before 0123456789abcdef0123456789abcdef  -"
    q query0 query 100 50 4 5 0 0 0 0
    echo "RTV-JSON badrange rc=1 "
    q small paused 100 0 0 5 3 3 0 0
    echo "RTV-SEQ-READY {\"pages\":8,\"in_range\":8,\"gfns\":\"0x10-0x20\"}"
    echo "RTV-SEQ {\"pages\":8,\"in_range\":8,\"gfns\":\"0x10-0x20\",\"writes\":500,\"checked\":500,\"lost\":0,\"seconds\":2.0,\"first_lost\":[]}"
    q paused paused 154 0 0 5 54 56 2 0 7
    q query1 query 154 0 0 5 0 0 0 0
    # check-m2p of query1's range (1000 gfns): 154 identity + 2 frames that
    # are not the domain's (of its 10 holes + 5 other-owner); it exits 1
    # (not all identity) with its own rc 0 (the table was read).
    echo "RTV-JSON m2p1 rc=1 {\"domid\":1,\"first\":0,\"last\":999,\"runs\":[],\"rc\":0,\"max_mfn\":9999,\"pages\":1000,\"identity\":156,\"other\":800,\"none\":44,\"ranges\":3,\"runs_shown\":3,\"seconds\":0.01,\"all_identity\":false}"
    echo "RTV-CYCLES {\"pages\":10,\"pool_identity\":500,\"groups\":[2,3,5],\"gfns\":\"0x100-0x10a\",\"target_own_rotated\":10,\"remapped\":11,\"copies\":14,\"cycles\":3,\"scratch_uses\":3,\"busy\":0,\"continuations\":0,\"ok\":true}"
    echo "RTV-SUM after 0123456789abcdef0123456789abcdef  -"
    echo "RTV-MARK done"
}
args="--ok query0,paused,query1 --refused badrange --partial query0 --rebuild query0:paused:query1 --sums before=after --seq --preempted paused --unpreempted small --m2p query1:m2p1 --cycles --done"
fail=0
expect() {  # expect RC WHAT FILE
    # shellcheck disable=SC2086  # args is a word list
    "${PYTHON:-python3}" "$chk" "$3" $args > "$t/out" 2>&1
    rc=$?
    if [ "$rc" -eq "$1" ]; then echo "ok:   $2 (exit $rc)"; else echo "FAIL: $2: exit $rc, wanted $1"; cat "$t/out"; fail=1; fi
}
good > "$t/good"; expect 0 "a good log passes" "$t/good"
good | sed 's/after 0123/after 9999/' > "$t/sum"; expect 1 "a changed checksum fails" "$t/sum"
good | grep -v badrange > "$t/nobad"; expect 1 "a missing refusal fails" "$t/nobad"
good | sed 's/^RTV-JSON badrange rc=1/RTV-JSON badrange rc=0/' > "$t/acc"; expect 1 "an accepted bad range fails" "$t/acc"
good | sed '/query1/s/"identity":154/"identity":150/' > "$t/short"; expect 1 "a read-back short of identity fails" "$t/short"
good | sed '/paused/s/"copies":56/"copies":57/' > "$t/copies"; expect 1 "copies != remapped + cycles fails" "$t/copies"
good | sed '/query0/s/"target-other-owner":5/"target-other-owner":0/' > "$t/full"; expect 1 "no blocked page: not partial" "$t/full"
good | grep -v "MARK done" > "$t/cut"; expect 1 "a sequence that did not end fails" "$t/cut"
good | sed '/^RTV-SEQ /s/"lost":0/"lost":1/' > "$t/lost"; expect 1 "a lost write fails" "$t/lost"
good | sed '/^RTV-SEQ /s/"checked":500/"checked":499/' > "$t/unchecked"; expect 1 "a write not found again fails" "$t/unchecked"
good | sed '/^RTV-SEQ /s/"in_range":8/"in_range":0/' > "$t/outside"; expect 1 "a writer outside the rebuilt range fails" "$t/outside"
good | grep -v '^RTV-SEQ ' > "$t/noseq"; expect 1 "a missing writer result fails" "$t/noseq"
good | sed '/ paused rc=0/s/"continuations":7/"continuations":0/' > "$t/nopre"; expect 1 "a rebuild that was not preempted fails --preempted" "$t/nopre"
good | sed '/ small rc=0/s/"continuations":0/"continuations":2/' > "$t/pre"; expect 1 "a preempted rebuild fails --unpreempted" "$t/pre"
good | sed '/ paused rc=0/s/"target-free":0/"target-free":3/' > "$t/incomplete"; expect 1 "a preempted rebuild that left movable pages fails" "$t/incomplete"
good | sed '/^RTV-JSON m2p1 /s/"identity":156/"identity":150/' > "$t/m2pshort"; expect 1 "an M2P that disagrees on pages the query calls identity fails" "$t/m2pshort"
good | sed '/^RTV-JSON m2p1 /s/"identity":156/"identity":170/' > "$t/m2pmore"; expect 1 "M2P identity beyond what frames not the domain's explain fails" "$t/m2pmore"
good | sed '/^RTV-JSON m2p1 /s/"pages":1000/"pages":999/' > "$t/m2prange"; expect 1 "an M2P check of another range fails" "$t/m2prange"
good | sed '/^RTV-JSON m2p1 /s/"rc":0/"rc":-14/' > "$t/m2prc"; expect 1 "an M2P that could not be read fails" "$t/m2prc"
good | sed 's/^RTV-JSON m2p1 rc=1 .*/RTV-JSON m2p1 rc=1 /' > "$t/m2pnojson"; expect 1 "a check-m2p without JSON fails" "$t/m2pnojson"
good | sed '/^RTV-CYCLES /s/"ok":true/"ok":false/' > "$t/cycbad"; expect 1 "cycles whose own checks failed fail" "$t/cycbad"
good | sed '/^RTV-CYCLES /s/"cycles":3,"scratch_uses":3/"cycles":2,"scratch_uses":2/' > "$t/cycfew"; expect 1 "fewer than 3 cycles fail" "$t/cycfew"
good | sed '/^RTV-CYCLES /s/"scratch_uses":3/"scratch_uses":4/' > "$t/cycscr"; expect 1 "scratch uses != cycles fail" "$t/cycscr"
good | grep -v '^RTV-CYCLES ' > "$t/nocyc"; expect 1 "a missing cycles result fails" "$t/nocyc"
exit $fail
