#!/bin/sh
# vm-init.sh - PID 1 of the test VMs (kernel command line init=/sbin/vm-init).
# Mounts the basics and the build tree shared by the host over virtio-9p at
# /host, runs the script named by agentd.run= on the kernel command line
# (a path under /host) with its output on the serial console and in
# <script>.out, writes its exit status to <script>.rc, and powers off, so
# qemu exits. Installed by vm-build.sh; the image is opened with -snapshot, so
# nothing a run writes outside /host survives it.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/bin HOME=/root
/bin/busybox mount -t proc proc /proc
# busybox fills in what the unpacked (not installed) packages lack: mount,
# and the alternatives (awk, ...) that maintainer scripts would have made.
mkdir -p /usr/local/bin && /bin/busybox --install -s /usr/local/bin
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
hostname armvm
ip link set lo up 2>/dev/null || busybox ip link set lo up
modprobe 9pnet_virtio && modprobe 9p
run=
for a in $(cat /proc/cmdline); do
	case $a in agentd.run=*) run=${a#agentd.run=} ;; esac
done
echo "vm-init: up at $(cut -d' ' -f1 /proc/uptime) s, $(uname -m) $(uname -r)" >/dev/console
mkdir -p /host
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 host /host; then
	if [ -n "$run" ] && [ -f "/host/$run" ]; then
		(cd /host && sh "/host/$run" 2>&1; echo $? > "/host/$run.rc") |
			tee "/host/$run.out" >/dev/console
	else
		echo "vm-init: nothing to run (agentd.run=$run)" >/dev/console
	fi
	sync
	umount /host
else
	echo "vm-init: cannot mount the 9p share" >/dev/console
fi
sync
poweroff -f
