#!/bin/sh
# sysroot.sh - the target's headers and libraries for a cross build, unpacked
# from Debian's packages: mmdebstrap --variant=extract (no maintainer scripts,
# no emulation, nothing added to the host's dpkg), used with Debian's cross gcc
# as --sysroot. The Makefile runs it for `make ARCH=arm64|armhf` when the
# sysroot is missing or its recipe (this script, the package list) changed.
#   usage: sysroot.sh ARCH DIR RECIPE PKG...
# Writes DIR/sysroot.mk (SYSROOT_BUILT := RECIPE) last, so an interrupted run
# is redone.
set -eu
arch=$1 dir=$2 recipe=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mirror.sh"
command -v mmdebstrap >/dev/null ||
	{ echo "sysroot: mmdebstrap missing: run 'make deps' as root"; exit 1; }
triplet=$(dpkg-architecture -a"$arch" -qDEB_HOST_MULTIARCH 2>/dev/null)
pkgs=$(echo "$@" | tr ' ' ',')
echo "sysroot: $dir ($arch: $*)"
rm -rf "$dir" "$dir.tmp"
mkdir -p "$(dirname "$dir")"
start=$(date +%s)
suites "$arch" > "$dir.suites" # one argument per line
set --
while IFS= read -r line; do set -- "$@" "$line"; done < "$dir.suites"
rm -f "$dir.suites"
mmdebstrap --quiet --mode=auto --variant=extract --arch="$arch" --include="$pkgs" \
	--aptopt='Acquire::Retries "3"' bookworm "$dir.tmp" "$@"
# Absolute symlinks (libfoo.so -> /lib/...) must point into the sysroot:
# made relative to their directory, usr/lib/<triplet>.
find "$dir.tmp/usr/lib/$triplet" -maxdepth 1 -type l -lname '/*' | while read -r l; do
	ln -sf "../../..$(readlink "$l")" "$l"
done
mv "$dir.tmp" "$dir"
echo "SYSROOT_BUILT := $recipe" > "$dir/sysroot.mk"
echo "sysroot: $arch done in $(($(date +%s) - start)) s, $(du -sm "$dir" | cut -f1) MB"
