#!/bin/bash
# vm-build.sh - a bootable Debian 12 test VM for ARCH (arm64, armhf, rpi; amd64
# for the bench's comparison under the same emulator), made offline from the
# Debian mirror and without emulation: mmdebstrap --variant=extract unpacks
# the kernel, busybox, strace and the libraries agentd and its unit tests
# need; the few things maintainer scripts would have done are done here
# (passwd/group, module index); mkinitrd.sh makes the initrd; mke2fs -d the
# ext4 image. Output in DIR: vmlinuz, initrd.img, rootfs.img, recipe.
# The image is made again only when the recipe (these scripts, the package
# list) changed: run-vm.sh opens it with -snapshot, so it stays pristine.
# rpi's root is Debian's armel (ARMv5TE code, what runs on the Pi Zero's and
# Pi 1's ARMv6) and boots armhf's ARMv7 kernel (linux-image-armmp-lpae, on
# qemu's virt board): Debian's armel kernels are for Marvell boards and the
# Pi (linux-image-rpi), which need a board qemu emulates without virtio, so
# without the 9p share and the disk these tests use (docs/operations.md).
# i386 has no VM: the same root, without kernel or image (DIR/rootfs), runs
# natively in namespaces (i386-check.sh).
#   usage: vm-build.sh ARCH DIR
set -euo pipefail
arch=$1 dir=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mirror.sh"
debarch=$arch karch=$arch
case $arch in
arm64) kpkg=linux-image-arm64 ;;
armhf) kpkg=linux-image-armmp-lpae ;; # LPAE: qemu-system-arm -M virt,highmem=off
rpi) kpkg=linux-image-armmp-lpae debarch=armel karch=armhf ;;
amd64) kpkg=linux-image-amd64 ;;
i386) kpkg= ;;
*) echo "vm-build: unknown ARCH $arch" >&2; exit 2 ;;
esac
# What runs in the VM: agentd's runtime libraries (+ cmocka for the unit
# tests), the shell tools of the tests, strace and scmp_sys_resolver for
# syscall work, curl for HTTP, python3 and openssl for workloads.
pkgs="base-files base-passwd libc6 libc-bin dash coreutils busybox kmod procps strace seccomp
curl openssl python3-minimal libpython3.11-stdlib
libevent-2.1-7 libjansson4 libsqlite3-0 libcurl4 zlib1g libseccomp2 libsystemd0 libcmocka0"
recipe=$( (echo "$arch $debarch $pkgs $karch $kpkg"; cat "$0" "$here/vm-init.sh" "$here/mkinitrd.sh" "$here/mirror.sh") |
	cksum | cut -d' ' -f1)
done=$dir/rootfs.img
[ -z "$kpkg" ] && done=$dir/rootfs/sbin/vm-init
if [ -f "$done" ] && [ "$(cat "$dir/recipe" 2>/dev/null)" = "$recipe" ]; then
	echo "vm-build: $dir is up to date"
	exit 0
fi
# root: the image's files must belong to root (mke2fs -d copies the owners)
[ "$(id -u)" = 0 ] || { echo "vm-build: run as root (make check does)" >&2; exit 1; }
command -v mmdebstrap >/dev/null && command -v depmod >/dev/null ||
	{ echo "vm-build: mmdebstrap or depmod missing: run 'make deps' as root" >&2; exit 1; }
start=$(date +%s)
rm -rf "$dir"
mkdir -p "$dir"
root=$dir/rootfs
unpack() { # debian-arch dir packages...: unpacked, not installed (no emulation)
	local a=$1 d=$2 lists
	shift 2
	mapfile -t lists < <(suites "$a")
	mmdebstrap --quiet --mode=root --variant=extract --arch="$a" \
		--include="$(echo "$@" | tr ' ' ',')" --aptopt='Acquire::Retries "3"' bookworm "$d" \
		"${lists[@]}"
}
if [ "$karch" = "$debarch" ]; then
	unpack "$debarch" "$root" $pkgs $kpkg
else
	unpack "$debarch" "$root" $pkgs
	if [ -n "$kpkg" ]; then # the kernel of another architecture, and its modules
		unpack "$karch" "$dir/kernel" "$kpkg"
		cp -a "$dir/kernel/boot/." "$root/boot/"
		mkdir -p "$root/lib/modules"
		cp -a "$dir/kernel/lib/modules/." "$root/lib/modules/"
		rm -rf "$dir/kernel"
	fi
fi
cp "$root/usr/share/base-passwd/passwd.master" "$root/etc/passwd"
cp "$root/usr/share/base-passwd/group.master" "$root/etc/group"
[ -e "$root/bin/sh" ] || ln -s dash "$root/bin/sh"
install -m 0755 "$here/vm-init.sh" "$root/sbin/vm-init"
echo armvm > "$root/etc/hostname"
printf "127.0.0.1 localhost\n127.0.0.1 armvm\n::1 localhost\n" > "$root/etc/hosts"
if [ -z "$kpkg" ]; then # a root to run natively (i386-check.sh): no kernel, no image
	mkdir -p "$root/host"
	echo "$recipe" > "$dir/recipe"
	echo "vm-build: $arch root in $root: $(du -sm "$root" | cut -f1) MB, $(($(date +%s) - start)) s"
	exit 0
fi
kver=$(ls "$root/lib/modules" | head -n1)
depmod -b "$root" "$kver"
cp -L "$root"/boot/vmlinuz-* "$dir/vmlinuz"
bash "$here/mkinitrd.sh" "$root" "$dir/initrd.img"
size=$(($(du -sm "$root" | cut -f1) + 256))
mke2fs -q -t ext4 -L root -d "$root" "$dir/rootfs.img" "${size}M"
rm -rf "$root"
echo "$recipe" > "$dir/recipe"
echo "vm-build: $arch image in $dir: $kver, ${size} MB, $(($(date +%s) - start)) s"
