#!/bin/bash
# run-vm.sh - boot a test VM made by vm-build.sh (TCG: there is no KVM for ARM
# guests on an x86_64 host), run one script in it and return its exit status.
#   usage: run-vm.sh ARCH VMDIR SHARE SCRIPT
# SHARE (a host directory, normally the repository) is the guest's /host over
# virtio-9p; SCRIPT is a path under SHARE. vm-init.sh runs it from /host, with
# its output in SCRIPT.out and its status in SCRIPT.rc. The image is opened
# with -snapshot: every run starts from the same disk, and two VMs can run at
# once. The serial console goes to SCRIPT.console.
# Env: SMP (2), MEM (MB; 1024), VM_TIMEOUT (s; 1200: a hung guest is killed)
set -euo pipefail
arch=$1 vm=$2 share=$(readlink -f "$3") script=$4
rm -f "$share/$script.rc" "$share/$script.out"
append="root=/dev/vda rw init=/sbin/vm-init panic=-1 quiet loglevel=3 agentd.run=$script"
common=(-smp "${SMP:-2}" -m "${MEM:-1024}" -accel tcg,thread=multi -display none -monitor none
	-serial stdio -no-reboot -nic none -kernel "$vm/vmlinuz" -initrd "$vm/initrd.img"
	-drive "file=$vm/rootfs.img,if=none,format=raw,id=hd0" -snapshot
	-device virtio-blk-pci,drive=hd0
	-fsdev "local,id=fs0,path=$share,security_model=none"
	-device virtio-9p-pci,fsdev=fs0,mount_tag=host)
case $arch in
arm64) qemu=(qemu-system-aarch64 -M virt -cpu cortex-a57) console=ttyAMA0 ;;
armhf) qemu=(qemu-system-arm -M virt,highmem=off -cpu cortex-a15) console=ttyAMA0 ;;
# rpi: the armel root on armhf's ARMv7 kernel (vm-build.sh says why not an ARMv6 board)
rpi) qemu=(qemu-system-arm -M virt,highmem=off -cpu cortex-a15) console=ttyAMA0 ;;
amd64) qemu=(qemu-system-x86_64 -M q35 -cpu qemu64) console=ttyS0 ;;
*) echo "run-vm: unknown ARCH $arch" >&2; exit 2 ;;
esac
timeout "${VM_TIMEOUT:-1200}" "${qemu[@]}" "${common[@]}" -append "$append console=$console" \
	< /dev/null > "$share/$script.console" 2>&1 || echo "run-vm: qemu exit status $?" >&2
if [ ! -f "$share/$script.rc" ]; then
	echo "run-vm: $script did not finish; console:"
	tail -n 30 "$share/$script.console"
	exit 99
fi
exit "$(cat "$share/$script.rc")"
