#!/bin/sh
# run-unit.sh - run cmocka unit-test binaries and total their results.
# Prints one summary line "unit: N passed, N failed" ("$UNIT_LABEL: ..." when
# set: the ASan+UBSan run says "asan:") and exits non-zero if any test
# failed, any binary crashed, or nothing ran. RUN_PREFIX, when set, is the
# command each binary runs under (qemu-user for another CPU).
passed=0 failed=0 crashed=0
for t in "$@"; do
	out=$(${RUN_PREFIX:-} "$t" 2>&1); rc=$?
	printf '%s\n' "$out" | grep -E '^\[ +(OK|FAILED|PASSED|  ERROR) +\]|^\[  FAILED  \]' | grep -v '^\[ *OK' || true
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
	if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
		echo "CRASH $t (exit $rc)"; printf '%s\n' "$out" | tail -20; crashed=$((crashed + 1))
	fi
done
failed=$((failed + crashed))
echo "${UNIT_LABEL:-unit}: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
