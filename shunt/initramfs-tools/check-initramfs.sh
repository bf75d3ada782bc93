#!/bin/sh
# make check: the root-on-shunt scripts (shunt/initramfs-tools: the shell
# functions rtvirt-root, the initramfs-tools hook and local-top script).
# sh -n and shellcheck -s sh on each; then rtvirt-root's parsing of
# rtvirt.disk= (good values, and bad ones refused with a message naming the
# parameter, the value and what is allowed), the command line read, and
# the bounded wait for a disk that never comes.  Building the device needs
# a kernel: the lab's flight `root` and a Debian initramfs in QEMU do that.
cd "$(dirname "$0")" || exit 1
scripts="rtvirt-root hooks/rtvirt scripts/local-top/rtvirt"
fail=0
bad() { echo "FAIL: $*"; fail=1; }
for s in $scripts; do sh -n "$s" || bad "sh -n $s"; done
if command -v shellcheck >/dev/null; then
    # shellcheck disable=SC2086
    shellcheck -x -s sh $scripts || bad "shellcheck"
else
    echo "initramfs check: shellcheck not installed (make deps)"
    exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# each case in a subshell, with rtvirt-root sourced fresh
parse() { (. ./rtvirt-root; rtvirt_disk_parse "$1" 2> "$tmp/err" && echo "$RTVIRT_VDEV $RTVIRT_EMU"); }
ok() {
    got=$(parse "$1") || { bad "rtvirt.disk=$1 refused: $(cat "$tmp/err")"; return; }
    [ "$got" = "$2" ] || bad "rtvirt.disk=$1 gave \"$got\", not \"$2\""
}
refused() {
    if got=$(parse "$1"); then bad "rtvirt.disk=$1 accepted as \"$got\""; return; fi
    msg=$(cat "$tmp/err")
    case $msg in
    *"rtvirt.disk=\"$1\""*"$2"*) echo "refused: $msg" ;;
    *) bad "rtvirt.disk=$1: message \"$msg\" does not name the parameter, the value and \"$2\"" ;;
    esac
}
ok hda:/dev/sda "hda /dev/sda"
ok xvda-2:/dev/disk/by-path/pci-0000:00:01.1-ata-1 "xvda-2 /dev/disk/by-path/pci-0000:00:01.1-ata-1"
ok sdb1:/dev/sdb "sdb1 /dev/sdb"
ok abcdefghijklmno:/dev/vda "abcdefghijklmno /dev/vda"
refused hda "not VDEV:DEVICE"
refused "" "not VDEV:DEVICE"
refused ":/dev/sda" "1..15 of [a-z0-9-] starting with a letter"
refused "1hd:/dev/sda" "1..15 of [a-z0-9-] starting with a letter"
refused "HDA:/dev/sda" "1..15 of [a-z0-9-] starting with a letter"
refused "h_a:/dev/sda" "1..15 of [a-z0-9-] starting with a letter"
refused "abcdefghijklmnop:/dev/sda" "longer than 15 characters"
refused "hda:sda" "not a path under /dev"
refused "hda:/dev/" "not a path under /dev"
refused "hda:" "not a path under /dev"
refused "hda:/dev/../etc/passwd" "one device path under /dev"

# the command line: the last rtvirt.disk= wins; none gives nothing
echo "BOOT_IMAGE=/vmlinuz root=/dev/mapper/rtvirt-hda rtvirt.disk=hdb:/dev/sdb ro rtvirt.disk=hda:/dev/sda quiet" > "$tmp/cmdline"
got=$(RTVIRT_CMDLINE=$tmp/cmdline sh -c '. ./rtvirt-root; rtvirt_cmdline_disk')
[ "$got" = hda:/dev/sda ] || bad "command line: got \"$got\", not hda:/dev/sda"
echo "root=/dev/sda1 quiet" > "$tmp/cmdline"
got=$(RTVIRT_CMDLINE=$tmp/cmdline sh -c '. ./rtvirt-root; rtvirt_cmdline_disk')
[ -z "$got" ] || bad "command line without rtvirt.disk=: got \"$got\""

# a disk that never comes: given up after RTVIRT_WAIT, with the reason;
# modprobe and insmod stand-ins that load nothing but succeed
mkdir -p "$tmp/bin"
for c in modprobe insmod dmsetup blockdev; do
    printf '#!/bin/sh\necho "%s $*" >> "%s/calls"\n' "$c" "$tmp" > "$tmp/bin/$c"
    chmod +x "$tmp/bin/$c"
done
t0=$(date +%s)
if PATH=$tmp/bin:$PATH RTVIRT_WAIT=1 sh -c '. ./rtvirt-root; rtvirt_root_build hda:/dev/rtvirt-check-no-such-disk' 2> "$tmp/err"; then
    bad "a disk that never appears was not given up"
fi
el=$(($(date +%s) - t0))
grep -q "/dev/rtvirt-check-no-such-disk is no block device after 1 s" "$tmp/err" ||
    bad "no reason given for the missing disk: $(cat "$tmp/err")"
[ "$el" -le 3 ] || bad "the 1 s wait took $el s"
grep -q "^modprobe dm-mod" "$tmp/calls" || bad "dm-mod not loaded first: $(cat "$tmp/calls")"
if grep -q "^dmsetup create" "$tmp/calls"; then bad "dmsetup create ran without the disk"; fi
echo "gave up: $(cat "$tmp/err")"
if PATH=$tmp/bin:$PATH RTVIRT_WAIT=x sh -c '. ./rtvirt-root; rtvirt_root_build hda:/dev/sda' 2> "$tmp/err"; then
    bad "RTVIRT_WAIT=x accepted"
fi
grep -q 'RTVIRT_WAIT="x": not a number of seconds' "$tmp/err" || bad "RTVIRT_WAIT=x: $(cat "$tmp/err")"

[ $fail = 0 ] && echo "initramfs check: $scripts: sh -n and shellcheck clean; rtvirt.disk= parsing and the bounded wait checked"
exit $fail
