#!/bin/sh
# Installs every Debian 12 package rtvirt uses (.ci/debian-packages.txt) and
# enables deb-src so `apt-get source xen` works.  Idempotent: safe to re-run.
# Run as root (or through sudo) on Debian 12 "bookworm".
set -eu
here=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" -ne 0 ]; then
    exec sudo sh "$0" "$@"
fi

. /etc/os-release
if [ "${VERSION_CODENAME:-}" != bookworm ]; then
    echo "setup-deps: this is ${PRETTY_NAME:-unknown}; rtvirt's setup targets Debian 12 (bookworm)" >&2
    exit 1
fi

# deb-src: mirror every enabled "deb" entry of the deb822 sources as deb-src,
# once.  The file is rewritten each time, so re-running changes nothing.
src=/etc/apt/sources.list.d/rtvirt-deb-src.sources
tmp=$(mktemp)
for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    [ "$f" = "$src" ] && continue
    awk '/^Types:/ { if ($0 ~ /deb-src/) skip=1; else { skip=0; print "Types: deb-src"; next } }
         /^$/ { skip=0 } { if (!skip) print }' "$f" >> "$tmp"
    echo >> "$tmp"
done
if [ -s /etc/apt/sources.list ] && ! grep -q '^deb-src' /etc/apt/sources.list; then
    sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > /etc/apt/sources.list.d/rtvirt-deb-src.list
fi
if [ -s "$tmp" ] && ! cmp -s "$tmp" "$src" 2>/dev/null; then
    install -m 0644 "$tmp" "$src"
fi
rm -f "$tmp"

export DEBIAN_FRONTEND=noninteractive
pkgs=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/debian-packages.txt")
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q $pkgs
echo "setup-deps: installed $(echo $pkgs | wc -w) packages; deb-src enabled in $src"
