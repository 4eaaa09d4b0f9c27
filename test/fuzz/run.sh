#!/bin/sh
# run.sh SECONDS [TARGET...] - build the libFuzzer targets with clang
# (ASan+UBSan) and run each (or the ones named) for SECONDS, from the corpus
# kept in the tree (test/fuzz/corpus/<target>) plus what earlier runs found
# (build/fuzz/<target>.corpus). Prints each target's executions and
# "fuzz: N passed, N failed". A crash leaves its input in
# build/fuzz/<target>.crashes/ (once fixed, copy it into the tree's corpus:
# it is then a regression input every run replays). With MERGE=1 the tree's
# corpus is replaced by a minimised merge of both (`make fuzz-corpus`); with
# FUZZ_RUNS=N each target runs N executions instead of SECONDS.
set -u
cd "$(dirname "$0")/../.." || exit 1
secs=${1:-10}
[ $# -gt 0 ] && shift
only=" $* "
out=build/fuzz
mkdir -p "$out"
if ! command -v clang >/dev/null 2>&1; then
	echo "fuzz: clang not installed (make deps)"; echo "fuzz: 0 passed, 1 failed"; exit 1
fi
CF="-g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icommon -Ienginectl -Iapid -Iagentd -Iagentd/device -Iagentd/state -Iagentd/supervisor $(pkg-config --cflags jansson libevent)"
passed=0 failed=0
LIBS="jansson libevent libseccomp"
build() { # name sources...
	name=$1; shift
	clang $CF "$@" -o "$out/bin-$name" $(pkg-config --libs $LIBS) 2>"$out/$name.build.log" ||
		{ echo "fuzz: cannot build $name"; cat "$out/$name.build.log"; return 1; }
}
wanted() { [ "$only" = "  " ] || case $only in *" $1 "*) true ;; *) false ;; esac; }
merge() { # name: the tree's corpus becomes the minimised union of both
	name=$1 tree=test/fuzz/corpus/$1
	rm -rf "$tree.new" && mkdir -p "$tree.new" &&
		"$out/bin-$name" -merge=1 -max_len=65536 "$tree.new" "$tree" "$out/$name.corpus" \
			>"$out/$name.merge.log" 2>&1 &&
		rm -rf "$tree" && mv "$tree.new" "$tree" &&
		echo "fuzz: $name corpus minimised: $(ls "$tree" | wc -l) inputs"
}
run() { # name [libFuzzer flags...]
	name=$1; shift
	wanted "$name" || return 0
	mkdir -p "$out/$name.corpus" "$out/$name.crashes" "test/fuzz/corpus/$name"
	# FUZZ_RUNS=N: N executions instead of SECONDS (-runs; the time is printed)
	limit="-max_total_time=$secs"
	[ -n "${FUZZ_RUNS:-}" ] && limit="-runs=$FUZZ_RUNS"
	started=$(date +%s)
	if "$out/bin-$name" "$limit" -max_len=65536 -artifact_prefix="$out/$name.crashes/" \
		"$@" "$out/$name.corpus" "test/fuzz/corpus/$name" >"$out/$name.log" 2>&1; then
		echo "fuzz: $name ok ($(grep -o 'Done [0-9]* runs' "$out/$name.log" | tail -1) in $(($(date +%s) - started)) s)"
		passed=$((passed + 1))
		if [ "${MERGE:-0}" = 1 ]; then
			merge "$name" || echo "fuzz: $name: merge failed"
		fi
	else
		echo "fuzz: $name FAILED"; tail -30 "$out/$name.log"; failed=$((failed + 1))
	fi
}
build frame test/fuzz/fuzz_frame.c common/frame.c common/proto.c && run frame || failed=$((failed + 1))
build logdemux test/fuzz/fuzz_logdemux.c enginectl/stream.c && run logdemux || failed=$((failed + 1))
build jsonstream test/fuzz/fuzz_jsonstream.c enginectl/stream.c && run jsonstream ||
	failed=$((failed + 1))
build bootcfg test/fuzz/fuzz_bootcfg.c agentd/device/bootcfg.c && run bootcfg || failed=$((failed + 1))
build hresp test/fuzz/fuzz_hresp.c enginectl/hresp.c && run hresp || failed=$((failed + 1))
build route test/fuzz/fuzz_route.c apid/routes.c apid/reply.c apid/auth.c apid/api_health.c apid/api_logs.c apid/conns.c \
	apid/forward.c apid/sandbox.c common/chan.c common/frame.c common/proto.c common/log.c \
	common/child.c common/sandbox.c && run route ||
	failed=$((failed + 1))
build config test/fuzz/fuzz_config.c agentd/device/config.c agentd/device/storage.c common/log.c \
	common/clock.c && run config || failed=$((failed + 1))
build settings test/fuzz/fuzz_settings.c agentd/device/settings.c agentd/supervisor/restart.c common/proto.c &&
	run settings || failed=$((failed + 1))
build target test/fuzz/fuzz_target.c agentd/state/target.c agentd/state/named.c agentd/state/compose.c &&
	run target || failed=$((failed + 1))
build compose test/fuzz/fuzz_compose.c agentd/state/compose.c && run compose || failed=$((failed + 1))
# agentd with three fake children (all of agentd but main.c, its database in
# memory); agentd's log lines go to the closed stderr (-close_fd_mask=2), the
# fuzzer's and the sanitizers' reports still show.
sh migrations/embed.sh migrations/*.sql >"$out/migrations.c"
LIBS="$LIBS sqlite3 libsystemd"
build dispatch test/fuzz/fuzz_dispatch.c $(ls agentd/*.c agentd/*/*.c | grep -v '^agentd/main.c$') \
	common/log.c common/proto.c common/frame.c common/chan.c common/sandbox.c common/child.c \
	common/buf.c common/clock.c common/base64.c "$out/migrations.c" && run dispatch -close_fd_mask=2 ||
	failed=$((failed + 1))
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
