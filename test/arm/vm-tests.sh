#!/bin/sh
# vm-tests.sh - what `make arm-check` runs inside each ARM VM (from /host, the
# repository shared over 9p; run by vm-init.sh through build/<arch>/vm/run.sh,
# with ARCH and BUILD set), and i386-check.sh in its root on this machine's
# kernel (NATIVE=1): the unit tests of build/<arch>, then a smoke of
# the real binaries (the test build, whose children call ptrace() on
# SIGUSR2) on a real kernel of that architecture:
#   agentd confines itself (its own filter: Seccomp: 2, NoNewPrivs: 1) and
#   starts its three children; each runs with Seccomp: 2 and
#   NoNewPrivs: 1; /ping and /v1/healthy answer on 127.0.0.1; a forbidden
#   syscall kills the child and agentd's log names it; the child comes back;
#   SIGTERM stops everything with exit 0;
#   in log mode (-S log) the same call is only reported, the child lives on,
#   and no other call of the run is reported (every call the run made is in
#   the allow-lists of this architecture, agentd's own included);
#   and test/arm/workload.py in log mode: the children at work (cloud over
#   TLS by name, engine, API) make no call beyond their allow-lists.
# Every check prints "ok"/"FAIL"; the last line is "<arch>: N passed, N failed".
# No engine is needed: enginectl retries its (missing) socket.
# With BENCH=N it only measures N times exec -> first /ping answered, in ms
# (test/bench/bench_arm.py); with STRACE=1 it traces workload.py's run.
ARCH=${ARCH:?} BUILD=${BUILD:?}
PORT=48484
T=$(mktemp -d /tmp/vm-tests.XXXXXX)
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
no() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { # name, command...
	n=$1; shift
	if "$@"; then ok "$n"; else no "$n"; fi
}
t_section=$(date +%s)
took() { echo "   ($1: $(($(date +%s) - t_section)) s)"; t_section=$(date +%s); }
wait_for() { # seconds, command...: poll the condition until it holds or time is up
	end=$(($(date +%s) + $1)); shift
	until "$@"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.05
	done
}
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
child_pid() { # name: the live child of agentd called so (shell builtins: no exec per process)
	for p in $(cat /proc/"$AGENTD"/task/*/children 2>/dev/null); do
		read -r n < "/proc/$p/comm" 2>/dev/null || continue
		read -r _ _ st _ < "/proc/$p/stat" 2>/dev/null || continue
		if [ "$n" = "$1" ] && [ "$st" != Z ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}
status_is() { grep -q "^$2:[[:space:]]*$3$" "/proc/$1/status"; }
http() { curl -s -m 10 -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$PORT$1"; }
answers() { [ "$(http "$1")" = "$2" ]; }
logged() { grep -qE "$1" "$T/agentd.log"; }
ready_again() { # name, old pid: a new pid of it is ready
	sed -n "s/^agentd: $1: ready (pid \([0-9]*\))$/\1/p" "$T/agentd.log" | grep -qvx "$2"
}

start_agentd() { # extra agentd arguments
	rm -rf "$T/data" "$T/run"
	: > "$T/agentd.log"
	"$BUILD/test/agentd" -f -c "$T/config.json" -C "$T/agentd.json" \
		-d "$T/data" -r "$T/run" -s "$T/engine.sock" -a 127.0.0.1 "$@" \
		2>"$T/agentd.log" </dev/null &
	AGENTD=$!
}
stop_agentd() { # returns agentd's exit status
	kill -TERM "$AGENTD" 2>/dev/null
	wait "$AGENTD"
}

echo '{"listenPort": 48484}' > "$T/config.json"
fast='{"restart": "always", "backoff_initial_ms": 10, "backoff_max_ms": 50}'
# (emulated, a child may need more than the default 10 s to start)
cat > "$T/agentd.json" <<JSON
{"user": "nobody", "handshake_timeout_ms": 60000,
 "daemons": {"enginectl": $fast, "apid": $fast, "cloudsyncd": $fast}}
JSON

if [ -n "${STRACE:-}" ]; then
	# syscalls of the children on this kernel: the workload in log mode under
	# strace -f (test/arm/syscalls.py strace reads it)
	mkdir -p "$BUILD/trace"
	AGENTD_BUILD=$BUILD AGENTD_TIMEOUT_SCALE=8 python3 test/arm/workload.py --log-mode \
		--prefix "strace -D -f -qq -o $T/vm.strace" --out "$BUILD/trace/vm-agentd.log"
	rc=$?
	cp "$T/vm.strace" "$BUILD/trace/vm.strace"
	rm -rf "$T"
	exit $rc
fi
if [ -n "${BENCH:-}" ]; then
	# The release build, started BENCH times by one python process that then
	# polls GET /ping over a socket without pausing (no exec per probe), from
	# 127.0.0.2: 48484 is in the kernel's range of ephemeral ports, and a
	# connect from 127.0.0.1 to a port nobody listens on yet may be given that
	# very port as its own and so connect to itself; closed, it would then
	# hold 48484 in TIME_WAIT for a minute and apid could not listen there.
	echo "bench: $(uname -srm), $(nproc) CPUs"
	python3 - "$BUILD/agentd" "$T" "$BENCH" "$PORT" <<'PY'
import http.client, os, shutil, signal, subprocess, sys, time
exe, tmp, n, port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for i in range(n):
    for d in ("data", "run"):
        shutil.rmtree(os.path.join(tmp, d), ignore_errors=True)
    t0 = time.monotonic()
    p = subprocess.Popen([exe, "-f", "-c", tmp + "/config.json", "-C", tmp + "/agentd.json",
                          "-d", tmp + "/data", "-r", tmp + "/run", "-s", tmp + "/engine.sock",
                          "-a", "127.0.0.1"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    up = False
    while not up and time.monotonic() - t0 < 120:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5,
                                           source_address=("127.0.0.2", 0))
            c.request("GET", "/ping")
            up = c.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            pass  # not listening yet
        finally:
            c.close()
    ms = (time.monotonic() - t0) * 1000
    print("bench: exec to first /ping: %d ms" % ms if up else "bench: no /ping in 120 s", flush=True)
    p.send_signal(signal.SIGTERM)
    p.wait(60)
PY
	rc=$?
	rm -rf "$T"
	exit $rc
fi

echo "== $ARCH: $(uname -srm), seccomp actions: $(cat /proc/sys/kernel/seccomp/actions_avail)"
# The kernel prints seccomp's audit records through printk_ratelimit() (10 per
# 5 s): lifted in this throw-away VM, so log mode reports every call (not on
# the build machine's own kernel, whose settings are not this test's).
[ -n "${NATIVE:-}" ] || echo 0 > /proc/sys/kernel/printk_ratelimit
echo "== unit tests ($BUILD/test/unit)"
sh test/run-unit.sh "$BUILD"/test/unit/*/* > "$T/unit.out" 2>&1
cat "$T/unit.out"
u=$(sed -n 's/^unit: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$T/unit.out")
if [ -n "$u" ]; then
	pass=$((pass + ${u% *})) fail=$((fail + ${u#* }))
else
	no "unit tests gave no summary"
fi

took "unit tests"
echo "== smoke: kill mode"
start_agentd
check "agentd says all children ready" wait_for 60 logged '^agentd: all children ready$'
check "agentd loaded its own allow-list (kill mode)" logged \
	'^agentd: confined: capabilities 0x[0-9a-f]+, seccomp allow-list of [0-9]+ calls \(kill mode\)$'
check "agentd (pid $AGENTD) runs with Seccomp: 2" status_is "$AGENTD" Seccomp 2
check "agentd (pid $AGENTD) runs with NoNewPrivs: 1" status_is "$AGENTD" NoNewPrivs 1
for d in enginectl apid cloudsyncd; do
	if wait_for 30 child_pid $d >/dev/null; then
		pid=$(child_pid $d)
	else
		no "$d is running"
		continue
	fi
	check "$d (pid $pid) runs with Seccomp: 2" status_is "$pid" Seccomp 2
	check "$d (pid $pid) runs with NoNewPrivs: 1" status_is "$pid" NoNewPrivs 1
done
check "GET /ping answers 200 OK" answers /ping 200
check "GET /v1/healthy answers 200" answers /v1/healthy 200
violation() { # name pid: agentd logged the kill of pid, named or not
	logged "^agentd: error: $1: sandbox violation: pid $2 killed by SIGSYS"
}
for d in enginectl apid cloudsyncd; do
	pid=$(child_pid $d) || { no "$d is running before its violation"; continue; }
	# The kernel's records are rate-limited for the whole machine (10 per 5 s):
	# on a shared kernel (NATIVE: the unit tests' kills just before, other
	# work) they may be dropped for a while, and agentd then says it saw
	# none. Each try kills the child anew, until one is named (for 30 s).
	named=no tries=0 until=$(($(date +%s) + 30))
	while [ $named = no ] && [ "$(date +%s)" -lt $until ]; do
		tries=$((tries + 1))
		kill -USR2 "$pid"
		wait_for 60 violation "$d" "$pid" || break
		if logged "^agentd: error: $d: sandbox violation: pid $pid killed by SIGSYS for calling ptrace \([0-9]+\)$"; then
			named=yes
		else
			wait_for 60 ready_again "$d" "$pid" && pid=$(child_pid $d) || break
		fi
	done
	check "$d: killed for ptrace, and agentd's log names it (try $tries)" [ $named = yes ]
	check "$d comes back" wait_for 60 ready_again "$d" "$pid"
done
check "GET /ping answers after the restarts" wait_for 60 answers /ping 200
kids="$(child_pid enginectl) $(child_pid apid) $(child_pid cloudsyncd)"
stop_agentd
rc=$?
check "SIGTERM: agentd exits 0 (exit $rc)" [ "$rc" = 0 ]
gone=1
for p in $kids; do alive "$p" && gone=0; done
check "SIGTERM: its children are gone" [ "$gone" = 1 ]
sed 's/^/  kill-mode log: /' "$T/agentd.log" | grep -vE 'debug' | tail -n 40

took "kill-mode smoke"
echo "== smoke: log mode (-S log)"
start_agentd -S log
check "log mode: all children ready" wait_for 60 logged '^agentd: all children ready$'
for d in enginectl apid cloudsyncd; do
	pid=$(child_pid $d) || { no "$d is running in log mode"; continue; }
	kill -USR2 "$pid"
	check "log mode: $d's ptrace is reported" wait_for 60 logged \
		"^$d: warning: sandbox \(log mode\): called ptrace \([0-9]+\)"
	check "log mode: $d lives on (pid $pid)" alive "$pid"
done
check "log mode: GET /ping answers" answers /ping 200
check "log mode: GET /v1/healthy answers" answers /v1/healthy 200
stop_agentd
rc=$?
check "log mode: SIGTERM exits 0 (exit $rc)" [ "$rc" = 0 ]
others=$(sed -n 's/^\([a-z]*\): warning: sandbox (log mode): called \([^ ]*\) .*/\1 \2/p' \
	"$T/agentd.log" | grep -v ' ptrace$' | sort -u | tr '\n' ',')
check "log mode: no call beyond the allow-lists (${others:-none})" [ -z "$others" ]
# agentd's own list: agentd's calls, and those of what it ran
own=$(sed -n 's/^agentd: warning: sandbox (log mode): \(.*\) called \([^ ]*\) .*/\1: \2/p' \
	"$T/agentd.log" | sort -u | tr '\n' ',')
check "log mode: agentd's own list forbade nothing (${own:-none})" [ -z "$own" ]
sed 's/^/  log-mode log: /' "$T/agentd.log" | grep 'sandbox' | sort | uniq -c

took "log-mode smoke"
echo "== log mode, real work: managed device, fake cloud (TLS, resolver), fake engine, API"
AGENTD_BUILD=$BUILD AGENTD_TIMEOUT_SCALE=8 python3 test/arm/workload.py --log-mode --seconds 5 \
	> "$T/workload.out" 2>&1
rc=$?
cat "$T/workload.out"
check "workload: registered, polled and reported" sh -c "! grep -q 'not seen' '$T/workload.out'"
check "workload: agentd -S log names no forbidden call (exit $rc)" [ "$rc" = 0 ]
took "workload"

rm -rf "$T"
echo "$ARCH: $pass passed, $fail failed"
[ "$fail" = 0 ]
