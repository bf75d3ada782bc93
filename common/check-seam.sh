#!/bin/sh
# make check: libxen* is called only by the real seam (common/xen/).  Xen's
# public ABI headers (xen/io/*.h, xen/grant_table.h ...) are fine anywhere;
# the libraries' headers and functions are not.
cd "$(dirname "$0")/.." || exit 1
lib_hdr='#[[:space:]]*include[[:space:]]*<(xenstore|xenstore_lib|xenctrl|xengnttab|xenevtchn|xendevicemodel|xenforeignmemory|xencall|xenguest|libxl|xentoollog|xentoolcore)\.h>'
lib_call='\b(xs_(open|close|daemon_open|domain_open|read|write|mkdir|rm|directory|get_permissions|set_permissions|transaction_start|transaction_end|watch|unwatch|fileno|check_watch|read_watch|introduce_domain|release_domain|get_domain_path|is_domain_introduced|set_target|resume_domain)|xc_[a-z_]+|xengnttab_[a-z_]+|xengntshr_[a-z_]+|xenevtchn_[a-z_]+|xendevicemodel_[a-z_]+|xenforeignmemory_[a-z_]+|xencall_[a-z_]+|libxl_[a-z_]+)[[:space:]]*\('
files=$(find common dom0-backend domU-frontend shunt ioemu p2m-tools tests xl-scripts \
            -path common/xen -prune -o \( -name '*.c' -o -name '*.h' \) -print 2>/dev/null)
# shellcheck disable=SC2086
hits=$(grep -nE "$lib_hdr|$lib_call" $files /dev/null | grep -vE ':[0-9]+:[[:space:]]*(\*|/\*|//)' | grep -v 'seam-check: allow')
n=$(echo "$files" | grep -c .)
if [ -n "$hits" ]; then
    echo "$hits"
    echo "seam check: direct libxen* use outside common/xen/ (above); route it through the seam"
    exit 1
fi
echo "seam check: $n files outside common/xen/, no direct libxen* use"
