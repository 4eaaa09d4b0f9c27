#!/bin/bash
# engine-up.sh STATEDIR -- test harness for agentd: starts a PRIVATE dockerd (with its
# own managed containerd) and a PRIVATE loopback docker-registry, all state under
# STATEDIR, builds busybox test images, pushes two of them to the registry and removes
# them locally so tests can pull them.  Prints only KEY=VALUE lines on stdout (also
# written to STATEDIR/env, sourceable).  Progress goes to STATEDIR/engine-up.log.
# Stop everything with engine-down.sh STATEDIR.  Never touches the default docker
# socket, /var/lib/docker or any other engine, and never talks to a remote registry.
#
# Environment knobs (optional):
#   AGENTD_TEST_STORAGE_DRIVERS  storage drivers to try, in order (default "overlay2 vfs")
#   AGENTD_HARNESS_KEEP_ON_FAIL  if 1, do not tear down / remove STATEDIR when engine-up fails
set -eu

HARNESS_DIR=$(cd "$(dirname "$0")" && pwd)

die() { echo "engine-up: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 STATEDIR"
mkdir -p "$1"
S=$(cd "$1" && pwd -P)
case "$S" in
    *[[:space:]]* | *\'* | *\"* | *\$* | *\\*) die "STATEDIR must not contain whitespace, quotes, \$ or \\: '$S'" ;;
esac
# The longest unix socket dockerd/containerd create below STATEDIR is
# x/containerd/containerd.sock.ttrpc; sun_path holds 107 bytes + NUL.
longest_sock="$S/x/containerd/containerd.sock.ttrpc"
[ ${#longest_sock} -le 107 ] || die "STATEDIR path too long for unix sockets (max 72 chars): $S"

# ---- helpers -------------------------------------------------------------------------
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# alive PID: process exists and is not a zombie (PID 1 here reaps orphans lazily).
alive() {
    local st
    [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }
    [ "${st%% *}" != Z ]
}

# owned PID: alive and its command line references this STATEDIR (guards pid reuse).
owned() {
    alive "$1" && tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -qF -- "$S/"
}

pid_from() { [ -s "$1" ] && tr -dc '0-9' <"$1" || true; }

log() { echo "[$(date +%T.%3N)] $*" >>"$S/engine-up.log"; }

# run CMD... with output appended to the log
run() { log "+ $*"; "$@" >>"$S/engine-up.log" 2>&1; }

# ---- refuse to start twice -----------------------------------------------------------
p=$(pid_from "$S/dockerd.pid")
if [ -n "$p" ] && alive "$p"; then
    die "a dockerd (pid $p) from $S/dockerd.pid is still running; run engine-down.sh $S first"
fi
p=$(pid_from "$S/registry.pid")
if [ -n "$p" ] && owned "$p"; then
    die "a registry (pid $p) from $S/registry.pid is still running; run engine-down.sh $S first"
fi

# Stale state of an earlier run whose engine is gone: clean it up before starting afresh.
if [ -e "$S/.agentd-harness" ]; then
    "$HARNESS_DIR/engine-down.sh" "$S" >&2 || true
    mkdir -p "$S"
fi

# ---- prerequisites -------------------------------------------------------------------
for t in dockerd docker curl; do
    command -v "$t" >/dev/null 2>&1 || die "'$t' not found (apt-get install docker.io curl)"
done
REGISTRY_BIN=/usr/bin/docker-registry
[ -x "$REGISTRY_BIN" ] || die "$REGISTRY_BIN not found (apt-get install docker-registry)"
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (apt-get install busybox-static)"
if command -v readelf >/dev/null 2>&1 && LC_ALL=C readelf -l "$BUSYBOX" 2>/dev/null | grep -q 'program interpreter'; then
    die "$BUSYBOX is dynamically linked; install busybox-static"
fi

# From here on, a failure tears down whatever was started (unless asked not to).
touch "$S/.agentd-harness" # marker: engine-down.sh only rm -rf's dirs carrying it
: >"$S/engine-up.log"
on_exit() {
    rc=$?
    [ "$rc" -ne 0 ] || return 0
    {
        echo "engine-up: FAILED (exit $rc); last lines of $S/engine-up.log:"
        tail -n 20 "$S/engine-up.log" 2>/dev/null | sed 's/^/  | /'
    } >&2
    if [ "${AGENTD_HARNESS_KEEP_ON_FAIL:-0}" = 1 ]; then
        echo "engine-up: leaving $S as is (AGENTD_HARNESS_KEEP_ON_FAIL=1)" >&2
    else
        "$HARNESS_DIR/engine-down.sh" "$S" >&2 || true
    fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export DOCKER_HOST="unix://$S/docker.sock"
export DOCKER_CONFIG="$S/cli" # keep the CLI away from ~/.docker
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH 2>/dev/null || true
mkdir -p "$DOCKER_CONFIG"
T0=$(now_ms)

# ---- dockerd ---------------------------------------------------------------------------
# An explicit --config-file keeps /etc/docker/daemon.json (if any) out of the picture.
# dockerd < 23 would also create /etc/docker/key.json; point it into STATEDIR.
dmajor=$(dockerd --version 2>/dev/null | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')
if [ -n "$dmajor" ] && [ "$dmajor" -lt 23 ]; then
    printf '{\n  "deprecated-key-path": "%s/key.json"\n}\n' "$S" >"$S/daemon.json"
else
    echo '{}' >"$S/daemon.json"
fi

stop_dockerd() { # used only when a storage driver attempt fails
    local p c
    p=$(pid_from "$S/dockerd.pid")
    c=$(pid_from "$S/x/containerd/containerd.pid")
    [ -n "$p" ] || p=${DOCKERD_LAUNCH_PID:-}
    if [ -n "$p" ] && alive "$p"; then
        kill -TERM "$p" 2>/dev/null || true
        for _ in $(seq 300); do alive "$p" || break; sleep 0.1; done
        alive "$p" && kill -KILL "$p" 2>/dev/null || true
    fi
    if [ -n "$c" ] && owned "$c"; then kill -KILL "$c" 2>/dev/null || true; fi
    awk -v s="$S/" 'index($2, s) == 1 { print length($2), $2 }' /proc/mounts |
        sort -rn | cut -d' ' -f2- | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
    rm -rf "$S/data" "$S/x" "$S/dockerd.pid" "$S/docker.sock"
}

# start_dockerd DRIVER: 0 when the API answers _ping with OK within 60 s
start_dockerd() {
    local drv=$1 deadline
    log "starting dockerd --storage-driver=$drv"
    echo "---- dockerd --storage-driver=$drv ----" >>"$S/dockerd.log"
    setsid dockerd \
        --config-file "$S/daemon.json" \
        --data-root "$S/data" \
        --exec-root "$S/x" \
        --pidfile "$S/dockerd.pid" \
        -H "unix://$S/docker.sock" \
        --iptables=false --ip6tables=false \
        --bridge=none --ip-masq=false --userland-proxy=false \
        --log-level=warn \
        --storage-driver="$drv" \
        </dev/null >>"$S/dockerd.log" 2>&1 &
    DOCKERD_LAUNCH_PID=$!
    deadline=$(( $(now_ms) + 60000 ))
    while :; do
        if [ "$(curl -s -m 2 --unix-socket "$S/docker.sock" http://localhost/_ping 2>/dev/null)" = OK ]; then
            log "dockerd ($drv) up after $(( $(now_ms) - T0 )) ms"
            return 0
        fi
        if ! alive "$DOCKERD_LAUNCH_PID"; then
            log "dockerd ($drv) exited during start-up"
            return 1
        fi
        [ "$(now_ms)" -lt "$deadline" ] || { log "dockerd ($drv) did not answer _ping within 60 s"; return 1; }
        sleep 0.1
    done
}

# ---- test image root filesystems -----------------------------------------------------------
IMG="$S/img"
rm -rf "$IMG"
mkdir -p "$IMG/rootfs/bin"
for d in dev proc sys etc root tmp var/tmp; do mkdir -p "$IMG/rootfs/$d"; done
chmod 1777 "$IMG/rootfs/tmp" "$IMG/rootfs/var/tmp"
cp "$BUSYBOX" "$IMG/rootfs/bin/busybox"
for a in $("$BUSYBOX" --list); do
    case "$a" in busybox | */*) continue ;; esac
    ln -s busybox "$IMG/rootfs/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$IMG/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$IMG/rootfs/etc/group"
# One tarball per image, each with its own /VERSION, so that every image has a
# distinct layer (a pull then really transfers data instead of reusing a local layer).
for v in 1 2 local; do
    echo "$v" >"$IMG/rootfs/VERSION"
    tar --numeric-owner --owner=0 --group=0 -C "$IMG/rootfs" -cf "$IMG/rootfs-$v.tar" .
done
rm -rf "$IMG/rootfs"

docker_import() { # TARBALL REF
    run docker import \
        --change 'CMD ["/bin/sh"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'LABEL io.agentd.test=1' \
        "$1" "$2"
}

LOCAL_IMAGE=agentd-test/local:latest
STORAGE_DRIVER=
for drv in ${AGENTD_TEST_STORAGE_DRIVERS:-overlay2 vfs}; do
    if start_dockerd "$drv"; then
        # Smoke test: the driver must be able to import and run a container, not just start.
        if docker_import "$IMG/rootfs-local.tar" "$LOCAL_IMAGE" &&
            run docker run --rm --network none "$LOCAL_IMAGE" /bin/true; then
            STORAGE_DRIVER=$drv
            break
        fi
        log "storage driver $drv: cannot run a container"
    fi
    echo "engine-up: storage driver $drv did not work, see $S/dockerd.log" >>"$S/engine-up.log"
    tail -n 15 "$S/dockerd.log" >>"$S/engine-up.log" 2>/dev/null || true
    stop_dockerd
done
if [ -z "$STORAGE_DRIVER" ]; then
    {
        echo "engine-up: dockerd could not be started with any of: ${AGENTD_TEST_STORAGE_DRIVERS:-overlay2 vfs}"
        echo "engine-up: last lines of $S/dockerd.log:"
        tail -n 30 "$S/dockerd.log" 2>/dev/null | sed 's/^/  | /'
    } >&2
    exit 1
fi
DOCKERD_PID=$(pid_from "$S/dockerd.pid")
[ -n "$DOCKERD_PID" ] || DOCKERD_PID=$DOCKERD_LAUNCH_PID

# ---- registry ----------------------------------------------------------------------------
free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' && return 0
    fi
    local p
    while :; do
        p=$(( 20000 + RANDOM % 30000 ))
        # bash /dev/tcp: connection refused => nobody listens there
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
}

REGISTRY_PID=
for attempt in 1 2 3 4 5; do
    PORT=$(free_port)
    cat >"$S/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $S/registry
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$PORT
  secret: agentd-test-$PORT
EOF
    log "starting registry on 127.0.0.1:$PORT (attempt $attempt)"
    setsid "$REGISTRY_BIN" serve "$S/registry.yml" </dev/null >>"$S/registry.log" 2>&1 &
    rp=$!
    echo "$rp" >"$S/registry.pid"
    deadline=$(( $(now_ms) + 30000 ))
    while :; do
        code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v2/" 2>/dev/null || true)
        if [ "$code" = 200 ] && alive "$rp"; then REGISTRY_PID=$rp; break; fi
        alive "$rp" || break
        [ "$(now_ms)" -lt "$deadline" ] || break
        sleep 0.1
    done
    [ -z "$REGISTRY_PID" ] || break
    log "registry attempt $attempt failed (http code '$code')"
    if alive "$rp"; then kill -KILL "$rp" 2>/dev/null || true; fi
    rm -f "$S/registry.pid"
done
if [ -z "$REGISTRY_PID" ]; then
    {
        echo "engine-up: docker-registry did not come up; last lines of $S/registry.log:"
        tail -n 20 "$S/registry.log" 2>/dev/null | sed 's/^/  | /'
    } >&2
    exit 1
fi
REGISTRY=127.0.0.1:$PORT
log "registry up at $REGISTRY after $(( $(now_ms) - T0 )) ms"

# ---- test images: import, push, remove locally -----------------------------------------------
TEST_IMAGE=$REGISTRY/agentd-test/busybox:latest
TEST_IMAGE_V2=$REGISTRY/agentd-test/busybox:v2
docker_import "$IMG/rootfs-1.tar" "$TEST_IMAGE"
docker_import "$IMG/rootfs-2.tar" "$TEST_IMAGE_V2"
run docker push "$TEST_IMAGE"
run docker push "$TEST_IMAGE_V2"
tags=$(curl -s -m 5 "http://$REGISTRY/v2/agentd-test/busybox/tags/list")
log "registry tags: $tags"
case "$tags" in *'"latest"'*) ;; *) die "push of $TEST_IMAGE not visible in registry: $tags" ;; esac
case "$tags" in *'"v2"'*) ;; *) die "push of $TEST_IMAGE_V2 not visible in registry: $tags" ;; esac
run docker rmi "$TEST_IMAGE" "$TEST_IMAGE_V2"
if docker image inspect "$TEST_IMAGE" >/dev/null 2>&1 || docker image inspect "$TEST_IMAGE_V2" >/dev/null 2>&1; then
    die "test images still present locally after docker rmi"
fi
run docker image inspect "$LOCAL_IMAGE" --format '{{.Id}}'
rm -rf "$IMG"
log "engine-up done in $(( $(now_ms) - T0 )) ms (storage driver $STORAGE_DRIVER)"

# ---- result --------------------------------------------------------------------------
{
    echo "DOCKER_SOCK=$S/docker.sock"
    echo "DOCKER_HOST=unix://$S/docker.sock"
    echo "REGISTRY=$REGISTRY"
    echo "TEST_IMAGE=$TEST_IMAGE"
    echo "TEST_IMAGE_V2=$TEST_IMAGE_V2"
    echo "LOCAL_IMAGE=$LOCAL_IMAGE"
    echo "DOCKERD_PID=$DOCKERD_PID"
    echo "REGISTRY_PID=$REGISTRY_PID"
    echo "STORAGE_DRIVER=$STORAGE_DRIVER"
    echo "ENGINE_STATEDIR=$S"
} >"$S/env.tmp"
mv "$S/env.tmp" "$S/env"
cat "$S/env"
