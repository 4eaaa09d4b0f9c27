#!/bin/bash
# mkinitrd.sh - a minimal initrd for the test VMs, built on the host in about
# a second (Debian's initramfs-tools run under qemu-user takes 12-17 minutes):
# the rootfs's busybox and its libraries, and only the kernel modules needed to
# mount an ext4 root on virtio-blk, with their dependencies (modules.dep).
#   usage: mkinitrd.sh ROOTFS_DIR OUT.img
# /init loads the modules, mounts /dev/vda and switch_roots to the init= of
# the kernel command line.
set -euo pipefail
root=$(readlink -f "$1") out=$(readlink -f "$2")
kver=$(ls "$root/lib/modules" | head -n1)
md=$root/lib/modules/$kver
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkdir -p "$t"/{bin,dev,proc,sys,newroot,mods}
cp -L "$root/bin/busybox" "$t/bin/busybox"
interp=$(readelf -l "$root/bin/busybox" | sed -n 's/.*program interpreter: \(.*\)]/\1/p')
mkdir -p "$t$(dirname "$interp")"
cp -L "$root$interp" "$t$interp"
for lib in $(readelf -d "$root/bin/busybox" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
	f=$(find -L "$root/lib" "$root/usr/lib" -maxdepth 2 -name "$lib" | head -n1)
	d=$(dirname "${f#"$root"}")
	mkdir -p "$t$d" && cp -L "$f" "$t$d/"
done
declare -A seen
order=()
add() { # module name: its dependencies first, then itself
	local m=$1 line dep
	[ -n "${seen[$m]:-}" ] && return
	seen[$m]=1
	line=$(grep -E "(^|/)$m\.ko(\.[a-z]+)?:" "$md/modules.dep" || true)
	if [ -z "$line" ]; then
		grep -qE "/$m\.ko" "$md/modules.builtin" || echo "mkinitrd: module $m not found" >&2
		return
	fi
	for dep in ${line#*:}; do add "$(basename "${dep%%.ko*}")"; done
	order+=("${line%%:*}")
}
for m in virtio_pci virtio_mmio virtio_blk crc32c_generic ext4; do add "$m"; done
: > "$t/mods/order"
for p in "${order[@]}"; do
	cp "$md/$p" "$t/mods/"
	basename "$p" >> "$t/mods/order"
done
cat > "$t/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do insmod /mods/$m || echo "initrd: insmod $m failed"; done
i=0; while [ ! -b /dev/vda ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
mount -t ext4 -o rw /dev/vda /newroot ||
	{ echo "initrd: cannot mount /dev/vda"; cat /proc/partitions; poweroff -f; }
init=/sbin/init; for a in $(cat /proc/cmdline); do case $a in init=*) init=${a#init=};; esac; done
umount /proc /sys /dev
exec switch_root /newroot "$init"
INIT
chmod +x "$t/init"
(cd "$t" && find . | cpio -o -H newc --quiet | gzip -1 > "$out.tmp") && mv "$out.tmp" "$out"
echo "mkinitrd: $out ($(du -h "$out" | cut -f1)), modules: $(tr '\n' ' ' < "$t/mods/order")"
