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

# The demo app: one service printing a greeting, from an image made here
# (busybox-static imported into the engine: no registry needed).
DOCKER="docker -H unix://$sock"
if ! $DOCKER image inspect agentd-demo/hello:latest >/dev/null 2>&1; then
	bb=$(command -v busybox || echo /bin/busybox)
	root=$(mktemp -d /tmp/agentd-demo-root.XXXXXX)
	mkdir -p "$root/bin" "$root/tmp"
	cp "$bb" "$root/bin/busybox"
	for a in sh echo sleep cat date; do ln -s busybox "$root/bin/$a"; done
	tar -C "$root" -c . | $DOCKER import --change 'CMD ["/bin/sh"]' \
		--change 'ENV PATH=/bin' - agentd-demo/hello:latest >/dev/null
	rm -rf "$root"
fi
if [ ! -e "$dev/data/agentd.sqlite" ] && [ ! -e "$dev/data/apps.json" ]; then
	cat >"$dev/data/apps.json" <<'EOJ'
{"config": {},
 "apps": {"de70a9915e4b4c6f8c1a2b3c4d5e6f70": {"id": 1, "name": "demo", "class": "fleet",
  "releases": {"0000000000000000000000000000de70": {"id": 1,
   "services": {"hello": {"id": 1, "image_id": 1, "image": "agentd-demo/hello:latest",
    "environment": {"GREETING": "hello from agentd"}, "labels": {},
    "composition": {"network_mode": "none",
     "command": ["sh", "-c", "trap 'exit 0' TERM; while :; do echo \"$GREETING\"; sleep 5; done"]}}},
   "volumes": {}, "networks": {}}}}}}
EOJ
fi

cat <<EOT
demo: agentd on 127.0.0.1:$port, engine $sock, state in $dev
demo: try   curl http://127.0.0.1:$port/ping
demo:       curl http://127.0.0.1:$port/v2/state/status
demo:       curl http://127.0.0.1:$port/v2/applications/state
demo:       curl http://127.0.0.1:$port/v2/local/target-state
demo:       docker -H unix://$sock ps       (the demo app: hello_1_1_0000…de70)
demo: Ctrl-C stops agentd (and the private engine, if one was started)
EOT
"$top/build/agentd" -f -c "$dev/config.json" -d "$dev/data" -r "$dev/run" -a 127.0.0.1 \
	-s "$sock" &
agentd_pid=$!
wait "$agentd_pid" || true
agentd_pid=""
