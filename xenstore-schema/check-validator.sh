#!/bin/sh
# make check: the schema validator itself must catch what it is for.  Known
# good references pass; each kind of unknown reference makes it fail.
cd "$(dirname "$0")/.." || exit 1
py=${PYTHON:-python3}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fails=0

expect() {  # expect pass|fail NAME  (fixture in $tmp/NAME)
    if "$py" xenstore-schema/validate-code.py "$tmp/$2" > "$tmp/out" 2>&1; then got=pass; else got=fail; fi
    if [ "$got" = "$1" ]; then
        echo "ok: $2 -> $got"
    else
        echo "FAILED: $2: expected $1, got $got"; cat "$tmp/out"; fails=$((fails + 1))
    fi
}

cat > "$tmp/good.c" <<'C'
static const char *a = "/local/domain/%u/rtvirt/vbd/%s/request";
static const char *b = "/local/domain/%u/rtvirt/vbd/%s";           /* a directory */
static const char *c = "/local/domain/0/backend/vbd/%u/%u/feature-persistent";
static const char *c3 = "/local/domain/0/backend/vbd3/%u/%u/state";
static int d = RTV_XS_CTL_STATE + RTV_XS_NODE_COUNT;
static int e(void) { return rtv_xs_node_by_id("shunt-ack-id"); }
static const char *f = "/local/domain/%u/rtvirt/ioemu/%s/stats/held-us";
static int g = RTV_XS_IOEMU_REQUEST_ID;
C
cat > "$tmp/good.sh" <<'SH'
#!/bin/sh
xenstore-write "/local/domain/$domid/rtvirt/vbd/$vdev/request" pv
xenstore-read "/local/domain/${domid}/device/rtvirt/vbd/${vdev}/shunt-state"
SH
cat > "$tmp/bad-path.c" <<'C'
static const char *a = "/local/domain/%u/rtvirt/vbd/%s/requets";
C
cat > "$tmp/bad-dir.sh" <<'SH'
#!/bin/sh
xenstore-write "/local/domain/$domid/rtvrit/vbd/$vdev/request" pv
SH
cat > "$tmp/bad-enum.c" <<'C'
static int d = RTV_XS_CTL_MAGIC;
C
cat > "$tmp/bad-id.c" <<'C'
static int e(void) { return rtv_xs_node_by_id("ctl-magic"); }
C
cat > "$tmp/bad-btype.sh" <<'SH'
#!/bin/sh
xenstore-read "/local/domain/0/backend/vdb3/$domid/$devid/state"
SH
cat > "$tmp/optout.c" <<'C'
static const char *f = "/local/domain/0/something/else"; /* xs-schema: not-a-node */
C

for f in good.c good.sh optout.c; do expect pass "$f"; done
for f in bad-path.c bad-dir.sh bad-btype.sh bad-enum.c bad-id.c; do expect fail "$f"; done
echo "validator self-test: $fails failed"
[ "$fails" -eq 0 ]
