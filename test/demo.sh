#!/bin/sh
# demo.sh - what `make run` does: an unmanaged device under ./dev, a
# container engine (the one already running, or a private one started here),
# and agentd in the foreground with its API on 127.0.0.1:48484. Ctrl-C stops
# everything this script started.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dev="$top/dev"
port=${AGENTD_DEMO_PORT:-48484}
mkdir -p "$dev/data" "$dev/run"
[ -f "$dev/config.json" ] || printf '{"listenPort": %s, "deviceType": "generic-amd64"}\n' \
	"$port" >"$dev/config.json"

engine_dir=""
sock=""
for s in "${DOCKER_SOCKET:-}" /var/run/balena-engine.sock /var/run/docker.sock; do
	[ -n "$s" ] && [ -S "$s" ] &&
		curl -sf --max-time 2 --unix-socket "$s" http://localhost/_ping >/dev/null 2>&1 &&
		{ sock=$s; break; }
done
agentd_pid=""
cleanup() {
	trap - EXIT INT TERM
	[ -n "$agentd_pid" ] && kill "$agentd_pid" 2>/dev/null && wait "$agentd_pid" 2>/dev/null
	[ -n "$engine_dir" ] && bash "$top/test/harness/engine-down.sh" "$engine_dir" >/dev/null 2>&1
	exit 0
}
trap cleanup EXIT INT TERM
if [ -z "$sock" ]; then
	if [ "$(id -u)" != 0 ] || ! command -v dockerd >/dev/null 2>&1; then
		echo "demo: no container engine is running; run 'make deps' as root for docker.io,"
		echo "demo: or set DOCKER_SOCKET to a running engine's socket"
		exit 1
	fi
	engine_dir=$(mktemp -d /tmp/agentd-demo.XXXXXX)
	echo "demo: starting a private engine in $engine_dir ..."
	bash "$top/test/harness/engine-up.sh" "$engine_dir" >/dev/null
	sock="$engine_dir/docker.sock"
fi

cat <<EOT
demo: agentd on 127.0.0.1:$port, engine $sock, state in $dev
demo: try   curl http://127.0.0.1:$port/ping
demo:       curl -i http://127.0.0.1:$port/v1/healthy
demo: Ctrl-C stops agentd (and the private engine, if one was started)
EOT
"$top/build/agentd" -f -c "$dev/config.json" -d "$dev/data" -r "$dev/run" -a 127.0.0.1 \
	-s "$sock" &
agentd_pid=$!
wait "$agentd_pid" || true
agentd_pid=""
