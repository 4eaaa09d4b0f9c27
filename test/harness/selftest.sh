#!/bin/bash
# selftest.sh -- checks the agentd test harness itself: engine-up.sh brings up a private
# dockerd + registry, then pulls via the Engine API, runs a container, times a graceful
# stop, and engine-down.sh must leave no process, mount or directory behind.
# Prints "selftest: N passed, M failed"; exit status 0 only if nothing failed.
set -eu

H=$(cd "$(dirname "$0")" && pwd)
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
nok() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
check() { # DESCRIPTION CMD...
    local d=$1; shift
    if "$@"; then ok "$d"; else nok "$d"; fi
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

S=$(mktemp -d /tmp/agentd-h.XXXX)
S2=
cleanup() { # engine-down.sh is a no-op on a STATEDIR that is already gone
    rc=$?
    "$H/engine-down.sh" "$S" || true
    [ -z "$S2" ] || "$H/engine-down.sh" "$S2" || true
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- engine-up ------------------------------------------------------------------------
t0=$(now_ms)
if ! out=$("$H/engine-up.sh" "$S"); then
    nok "engine-up.sh $S"
    echo "selftest: $PASS passed, $FAIL failed"
    exit 1
fi
ok "engine-up.sh took $(( $(now_ms) - t0 )) ms"
echo "$out" | sed 's/^/     | /'

check "engine-up stdout has only KEY=VALUE lines" \
    test -z "$(echo "$out" | grep -Ev '^[A-Z][A-Z0-9_]*=[^[:space:]]*$' || true)"
check "engine-up stdout equals STATEDIR/env" test "$out" = "$(cat "$S/env")"
# shellcheck disable=SC1091
. "$S/env"
for k in DOCKER_SOCK REGISTRY TEST_IMAGE TEST_IMAGE_V2 LOCAL_IMAGE DOCKERD_PID REGISTRY_PID; do
    check "env has $k" test -n "$(eval echo "\${$k:-}")"
done
check "second engine-up on a live STATEDIR is refused" \
    sh -c '! "$1" "$2" >/dev/null 2>&1' _ "$H/engine-up.sh" "$S"
check "dockerd still alive after refused engine-up" kill -0 "$DOCKERD_PID"

export DOCKER_HOST="unix://$DOCKER_SOCK" DOCKER_CONFIG="$S/cli"
api() { curl -s -m 60 --unix-socket "$DOCKER_SOCK" "$@"; }

check "TEST_IMAGE absent locally before pull" sh -c '! docker image inspect "$1" >/dev/null 2>&1' _ "$TEST_IMAGE"
check "LOCAL_IMAGE present locally" sh -c 'docker image inspect "$1" >/dev/null' _ "$LOCAL_IMAGE"
check "registry answers /v2/" test "$(curl -s -o /dev/null -w '%{http_code}' "http://$REGISTRY/v2/")" = 200

# ---- pull through the Engine API -----------------------------------------------------------
pull_api() { # REF-without-tag TAG
    local t s
    t=$(now_ms)
    s=$(api -w '\n%{http_code}' -X POST "http://localhost/images/create?fromImage=$1&tag=$2") || { echo "curl failed" >&2; return 1; }
    echo "     pull $1:$2 in $(( $(now_ms) - t )) ms: $(echo "$s" | grep -o 'Status: [^"]*' | tail -n 1), HTTP $(echo "$s" | tail -n 1)"
    [ "$(echo "$s" | tail -n 1)" = 200 ] || return 1
    if echo "$s" | grep -qi error; then echo "$s" | sed 's/^/     ! /' >&2; return 1; fi
    echo "$s" | grep -q 'Downloaded newer image\|Image is up to date'
}
check "Engine API pull of $TEST_IMAGE" pull_api "${TEST_IMAGE%:latest}" latest
check "TEST_IMAGE present after pull" sh -c 'docker image inspect "$1" >/dev/null' _ "$TEST_IMAGE"
check "Engine API pull of $TEST_IMAGE_V2" pull_api "${TEST_IMAGE_V2%:v2}" v2
id1=$(docker image inspect -f '{{.Id}}' "$TEST_IMAGE" 2>/dev/null || echo x1)
id2=$(docker image inspect -f '{{.Id}}' "$TEST_IMAGE_V2" 2>/dev/null || echo x2)
check "latest and v2 have different image ids" test "$id1" != "$id2"
# A pull that fails before streaming starts answers a non-200 status with {"message":...};
# one that fails mid-stream answers 200 with an {"error":...} line in the stream.
check "pull of a missing tag: HTTP 404 + manifest unknown" \
    sh -c 'r=$(curl -s -m 30 -w "\n%{http_code}" --unix-socket "$1" -X POST "http://localhost/images/create?fromImage=$2&tag=nope");
           echo "$r" | grep -q "manifest unknown" && [ "$(echo "$r" | tail -n 1)" = 404 ]' \
    _ "$DOCKER_SOCK" "${TEST_IMAGE%:latest}"

# ---- run containers ---------------------------------------------------------------------
check "docker run TEST_IMAGE echo hi prints hi" \
    test "$(docker run --rm --network none "$TEST_IMAGE" echo hi 2>&1)" = hi
check "TEST_IMAGE_V2 has /VERSION = 2" \
    test "$(docker run --rm --network none "$TEST_IMAGE_V2" cat /VERSION 2>&1)" = 2
check "LOCAL_IMAGE runs" \
    test "$(docker run --rm --network none "$LOCAL_IMAGE" cat /VERSION 2>&1)" = local

# graceful stop: the container traps TERM and exits 0
stop_test() {
    local cid t st ms code
    cid=$(docker run -d --network none "$TEST_IMAGE" sh -c 'trap "exit 0" TERM; while :; do sleep 1; done') || return 1
    for _ in $(seq 100); do
        st=$(docker inspect -f '{{.State.Status}}' "$cid" 2>/dev/null || true)
        [ "$st" = running ] && break
        sleep 0.1
    done
    [ "$st" = running ] || { echo "     container never ran ($st)" >&2; return 1; }
    t=$(now_ms)
    docker stop -t 10 "$cid" >/dev/null || return 1
    ms=$(( $(now_ms) - t ))
    code=$(docker inspect -f '{{.State.ExitCode}}' "$cid")
    echo "     docker stop -t 10 took $ms ms, exit code $code"
    docker rm "$cid" >/dev/null || true
    [ "$code" = 0 ] && [ "$ms" -lt 5000 ]
}
check "container trapping TERM stops quickly with exit 0" stop_test

# leave something behind on purpose so engine-down has work to do
docker run -d --network none --name leftover "$TEST_IMAGE" sleep 600 >/dev/null || true
docker volume create agentd-selftest-vol >/dev/null || true
docker network create agentd-selftest-net >/dev/null || true


# ---- engine-down -------------------------------------------------------------------------
procs_left() { # DIR: is any live process's command line mentioning DIR/ (other than us)?
    local p
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [ "$p" != $$ ] || continue
        if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- "$1/"; then
            grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null && continue
            echo "     left: $p $(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-100)" >&2
            return 0
        fi
    done
    return 1
}
pid_gone() { ! { [ -r "/proc/$1/status" ] && ! grep -q '^State:.*Z' "/proc/$1/status"; }; }
no_mounts() { ! grep -qE " $1(/| )" /proc/mounts; }
verify_gone() { # DIR DOCKERD_PID REGISTRY_PID
    if procs_left "$1"; then nok "no dockerd/containerd/shim/registry process of $1 left"
    else ok "no dockerd/containerd/shim/registry process of $1 left"; fi
    check "dockerd pid $2 gone" pid_gone "$2"
    check "registry pid $3 gone" pid_gone "$3"
    check "no mounts left under $1" no_mounts "$1"
    check "$1 removed" test ! -e "$1"
}

t0=$(now_ms)
check "engine-down.sh" "$H/engine-down.sh" "$S"
echo "     engine-down took $(( $(now_ms) - t0 )) ms"
verify_gone "$S" "$DOCKERD_PID" "$REGISTRY_PID"
check "engine-down is idempotent" "$H/engine-down.sh" "$S"

# ---- unclean teardown: dockerd SIGKILLed with running containers and a bridge network -------------
S2=$(mktemp -d /tmp/agentd-h.XXXX)
if "$H/engine-up.sh" "$S2" >/dev/null; then
    ok "second engine-up.sh"
    # shellcheck disable=SC1091
    . "$S2/env"
    export DOCKER_HOST="unix://$DOCKER_SOCK" DOCKER_CONFIG="$S2/cli"
    netid=$(docker network create agentd-selftest-net 2>/dev/null || true)
    br=br-$(printf %.12s "$netid")
    docker run -d --network none "$LOCAL_IMAGE" sleep 600 >/dev/null || true
    if [ -n "$netid" ]; then docker run -d --network agentd-selftest-net "$LOCAL_IMAGE" sleep 600 >/dev/null || true; fi
    check "two containers running" test "$(docker ps -q | wc -l)" -eq 2
    kill -KILL "$DOCKERD_PID"
    t0=$(now_ms)
    check "engine-down.sh after dockerd was SIGKILLed" "$H/engine-down.sh" "$S2"
    echo "     engine-down took $(( $(now_ms) - t0 )) ms"
    verify_gone "$S2" "$DOCKERD_PID" "$REGISTRY_PID"
    if [ -n "$netid" ]; then check "bridge $br of the user network removed" test ! -e "/sys/class/net/$br"; fi
else
    nok "second engine-up.sh"
fi

echo "selftest: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
