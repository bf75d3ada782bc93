#!/bin/sh
# Self-test of mutate.py (run by `make check`) on a toy module: a line
# whose text is on two lines is named SOURCE#N in the equivalent file;
# an unnumbered entry for it is refused, the wrong N leaves the survivors
# failing the run, the right one passes it; the survivor's report gives
# the name to list.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}
CC=${CC:-cc}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cd "$t"
cat > toy.c <<'TOY'
int toy_seen;
int toy_inc(int x);
int toy_dec(int x);
int toy_inc(int x)
{
    toy_seen = 0;
    return x + 1;
}
int toy_dec(int x)
{
    toy_seen = 0;
    return x - 1;
}
TOY
cat > test_toy.c <<'TOY'
extern int toy_seen;
int toy_inc(int x);
int toy_dec(int x);
int main(void)
{
    /* toy_inc's toy_seen is never looked at: its two mutants survive */
    toy_seen = 5;
    if (toy_dec(1) != 0 || toy_seen != 0)
        return 1;
    return toy_inc(1) != 2;
}
TOY
"$CC" -c -o toy.o toy.c && ar rcs libtoy.a toy.o
run() { "$PY" "$here/mutate.py" --cc "$CC" --lib libtoy.a --equivalent eq.txt toy.c:test_toy.c > out 2>&1; }
fail() { cat out >&2; echo "mutation selftest: $*" >&2; exit 1; }
tab=$(printf '\t')
: > eq.txt
if run; then fail "survivors passed the run"; fi
grep -q 'SURVIVED toy.c:6: .*(equivalent.txt name: toy.c#1:toy_seen = 0;)' out ||
    fail "the survivor's report does not name toy.c#1"
printf 'toy.c:toy_seen = 0;%stoy_seen = 1;%sx\n' "$tab" "$tab" > eq.txt
if run; then fail "an unnumbered entry for a line on two lines was taken"; fi
grep -q "is on lines 6, 11 of toy.c: name one as toy.c#N" out || fail "no clear refusal"
printf 'toy.c#2:toy_seen = 0;%stoy_seen = 1;%sx\ntoy.c#2:toy_seen = 0;%s;%sx\n' \
    "$tab" "$tab" "$tab" "$tab" > eq.txt
if run; then fail "entries for the other line (#2) passed line 6's survivors"; fi
printf 'toy.c#1:toy_seen = 0;%stoy_seen = 1;%sx\ntoy.c#1:toy_seen = 0;%s;%sx\n' \
    "$tab" "$tab" "$tab" "$tab" > eq.txt
run || fail "the right entries (#1) did not pass the run"
grep -q "2 equivalent (listed)" out || fail "the two listed mutants are not counted equivalent"
echo "mutation selftest: duplicate lines are named SOURCE#N; unnumbered refused, wrong N fails, right N passes"
