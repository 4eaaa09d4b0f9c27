#!/bin/sh
# i386-check.sh - the proof for i386 on this x86_64 machine's own kernel, which
# runs i386 programs natively (its 32-bit compat mode; no emulation): the unit
# tests of build/i386 and the smoke and workload of vm-tests.sh (the real
# binaries of build/i386/test under their filters: four processes, Seccomp: 2,
# /ping, a forbidden call killed and named, log mode, SIGTERM), run in a root
# of Debian's i386 packages (vm-build.sh i386, cached in build/vm-i386/rootfs)
# entered with chroot inside private mount, network and UTS namespaces
# (unshare): the i386 loader and libraries are the root's, so nothing is added
# to this machine's dpkg; the API's port, the fake cloud and the fake engine
# are on the namespace's own loopback; every mount goes with the namespace.
# `make ARCH=i386 all test-build` first (make arm-check does both).
#   usage: i386-check.sh
# STRACE=1 runs vm-tests.sh's strace mode instead (the workload under strace,
# into build/i386/trace/), BENCH=N its bench (N starts, exec -> first /ping).
# Ends with "i386: N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
build=build/i386 vm=build/vm-i386
run=$build/vm/run.sh
if [ -n "${BENCH:-}" ] && [ -x "$build/agentd" ]; then
	: # the bench needs the release build only
elif [ ! -x "$build/test/agentd" ] || [ ! -d "$build/test/unit" ]; then
	echo "i386-check: $build is not built: make ARCH=i386 all test-build"
	echo "i386: 0 passed, 1 failed"
	exit 1
fi
command -v unshare >/dev/null || { echo "i386-check: unshare missing: make deps"; exit 1; }
t0=$(date +%s)
if ! bash test/arm/vm-build.sh i386 "$vm"; then
	echo "i386: 0 passed, 1 failed"
	exit 1
fi
t1=$(date +%s)
mkdir -p "$build/vm"
printf 'ARCH=i386 BUILD=%s NATIVE=1 BENCH=%s STRACE=%s exec sh test/arm/vm-tests.sh\n' \
	"$build" "${BENCH:-}" "${STRACE:-}" > "$run"
rm -f "$run.out"
# In the namespaces: what vm-init.sh does in a VM (the mounts, lo, the name
# the workload's fake cloud is reached by), then the tests from /host.
unshare --mount --net --uts --propagation private sh -s "$vm/rootfs" "$(pwd)" "$run" \
	> "$run.out" 2>&1 <<'NS'
set -e
root=$1 repo=$2 run=$3
hostname armvm
mount --bind "$repo" "$root/host"
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmp "$root/tmp"
mount -t tmpfs run "$root/run"
set +e
exec chroot "$root" /bin/sh -c '
	export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/bin HOME=/root
	mkdir -p /usr/local/bin && /bin/busybox --install -s /usr/local/bin
	busybox ip link set lo up
	cd /host && sh "$1"' sh "$run"
NS
rc=$?
t2=$(date +%s)
cat "$run.out"
echo "i386-check: root $((t1 - t0)) s, tests $((t2 - t1)) s (this machine's kernel)"
[ -n "${BENCH:-}${STRACE:-}" ] && exit "$rc"
if ! grep -q "^i386: [0-9]* passed, [0-9]* failed$" "$run.out"; then
	echo "i386-check: the tests did not finish (status $rc)"
	echo "i386: 0 passed, 1 failed"
	exit 1
fi
exit "$rc"
