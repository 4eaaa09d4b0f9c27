#!/bin/sh
# check.sh - what `make check` runs: the unit tests, the unit tests under
# ASan+UBSan, the other architectures (builds, VMs), the multi-arch image
# index, the integration tests against real processes, and the formatting
# check. Each suite prints "<suite>: N passed, N failed"; this
# script adds them up and ends with the overall "N passed, N failed" line.
# The layering of the source tree (no circles, rooms call only downwards)
# is checked first, on the objects `make all` built.
set -u
cd "$(dirname "$0")/.." || exit 1
log=$(mktemp /tmp/agentd-check.XXXXXX)
trap 'rm -f "$log"' EXIT
status=0

suite() { # name, command...
	name=$1; shift
	echo "== $name"
	"$@" 2>&1 | tee -a "$log" | grep -v -E '^(CC|LD) ' || true
	# tee hides the command's status: trust the suite's own summary line.
}

suite layers python3 test/tools/layers.py build/obj
suite unit make --no-print-directory unit
suite asan make --no-print-directory asan
suite fuzz sh test/fuzz/run.sh "${FUZZ_SECONDS:-5}"
# The other architectures: cross builds, then unit tests and a smoke under the real
# filters in a VM of each ARM architecture (images cached in build/vm-<arch>/), rpi's
# unit tests on an ARMv6 CPU (qemu-user), i386 on this machine's kernel
# (test/arm/arm-check.sh).
suite arm make --no-print-directory arm-check

# The integration tests need a real engine and registry: a private pair,
# started here and stopped on exit, whatever happens.
engine_dir=$(mktemp -d /tmp/agentd-eng.XXXXXX)
trap 'bash test/harness/engine-down.sh "$engine_dir" >/dev/null 2>&1; rm -f "$log"' EXIT
trap 'exit 130' INT TERM
echo "== engine (private dockerd and registry in $engine_dir)"
if bash test/harness/engine-up.sh "$engine_dir" >/dev/null; then
	set -a; . "$engine_dir/env"; set +a
else
	echo "engine: could not start a private engine; engine tests will fail"
fi
# The images of the five architectures in one multi-arch index, pushed to the
# private registry with skopeo and pulled by the engine (test/image/index_check.py).
suite images make --no-print-directory image-check
make --no-print-directory cli
suite integration make --no-print-directory integration
echo "== format"
if make --no-print-directory format-check >/dev/null 2>&1; then
	echo "format: 1 passed, 0 failed" | tee -a "$log"
else
	make --no-print-directory format-check 2>&1 | head -20
	echo "format: 0 passed, 1 failed" | tee -a "$log"
fi

# A suite that died before its summary line counts as a failure.
for s in layers unit asan fuzz integration format arm64 armhf rpi armv6 i386 images; do
	grep -q "^$s: [0-9]* passed, [0-9]* failed" "$log" || {
		echo "$s: no summary line (suite did not run to the end)"
		echo "$s: 0 passed, 1 failed" >>"$log"
	}
done
passed=$(awk '/^[a-z0-9]+: [0-9]+ passed, [0-9]+ failed/ {n += $2} END {print n + 0}' "$log")
failed=$(awk '/^[a-z0-9]+: [0-9]+ passed, [0-9]+ failed/ {n += $4} END {print n + 0}' "$log")
[ "${failed:-1}" -eq 0 ] && [ "${passed:-0}" -gt 0 ] || status=1
echo "${passed:-0} passed, ${failed:-0} failed"
exit $status
