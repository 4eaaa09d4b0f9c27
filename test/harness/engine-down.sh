#!/bin/bash
# engine-down.sh STATEDIR -- test harness for agentd: tears down what engine-up.sh started
# in STATEDIR: removes containers/volumes/networks/images in the private engine, stops
# dockerd, its managed containerd, leftover shims/containers and the registry (by pid
# only, each pid checked to belong to STATEDIR), unmounts everything below STATEDIR and
# removes STATEDIR.  Safe to run repeatedly and when things are already gone.
set -eu

[ $# -eq 1 ] || { echo "usage: $0 STATEDIR" >&2; exit 2; }
[ -d "$1" ] || exit 0
S=$(cd "$1" && pwd -P)
case "$S" in
    / | /tmp | /var | /var/tmp | /root | /home | /usr | /etc | /run) echo "engine-down: refusing to work on '$S'" >&2; exit 2 ;;
esac

export DOCKER_HOST="unix://$S/docker.sock"
export DOCKER_CONFIG="$S/cli"
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH 2>/dev/null || true

warn() { echo "engine-down: $*" >&2; }

alive() { # process exists and is not a zombie
    local st
    [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }
    [ "${st%% *}" != Z ]
}

owned() { # alive and its command line references STATEDIR (guards against pid reuse)
    alive "$1" && tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -qF -- "$S/"
}

pid_from() { [ -s "$1" ] && tr -dc '0-9' <"$1" || true; }

# stop_pid PID SECONDS: SIGTERM, wait up to SECONDS (polling 100 ms), then SIGKILL.
stop_pid() {
    local p=$1 n=$(( $2 * 10 ))
    alive "$p" || return 0
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq "$n"); do alive "$p" || return 0; sleep 0.1; done
    warn "pid $p still alive after $2 s, sending SIGKILL"
    kill -KILL "$p" 2>/dev/null || true
    for _ in $(seq 50); do alive "$p" || return 0; sleep 0.1; done
    warn "pid $p did not die"
}

DOCKERD_PID=$(pid_from "$S/dockerd.pid")
if [ -n "$DOCKERD_PID" ] && ! owned "$DOCKERD_PID"; then DOCKERD_PID=; fi
CONTAINERD_PID=$(pid_from "$S/x/containerd/containerd.pid")
if [ -n "$CONTAINERD_PID" ] && ! owned "$CONTAINERD_PID"; then CONTAINERD_PID=; fi
REGISTRY_PID=$(pid_from "$S/registry.pid")
if [ -n "$REGISTRY_PID" ] && ! owned "$REGISTRY_PID"; then REGISTRY_PID=; fi

# ---- 1. empty the private engine (only if it answers) -----------------------------------------
if [ -n "$DOCKERD_PID" ] && [ -S "$S/docker.sock" ] &&
    [ "$(curl -s -m 5 --unix-socket "$S/docker.sock" http://localhost/_ping 2>/dev/null)" = OK ]; then
    d() { timeout 60 docker "$@" 2>/dev/null; }
    ids=$(d ps -aq --no-trunc || true)
    [ -z "$ids" ] || d rm -f -v $ids >/dev/null || warn "docker rm failed"
    ids=$(d volume ls -q || true)
    [ -z "$ids" ] || d volume rm -f $ids >/dev/null || warn "docker volume rm failed"
    ids=$(d network ls -q --filter type=custom || true)
    [ -z "$ids" ] || d network rm $ids >/dev/null || warn "docker network rm failed"
    ids=$(d images -aq --no-trunc | sort -u || true)
    [ -z "$ids" ] || d rmi -f $ids >/dev/null || warn "docker rmi failed"
fi

# ---- 2. dockerd, then its managed containerd ---------------------------------------------------
if [ -n "$DOCKERD_PID" ]; then
    # remember dockerd's children (the managed containerd) before it goes away
    for c in $(cat "/proc/$DOCKERD_PID/task/"*/children 2>/dev/null || true); do
        if [ -z "$CONTAINERD_PID" ] && owned "$c"; then CONTAINERD_PID=$c; fi
    done
    stop_pid "$DOCKERD_PID" 30
fi
if [ -n "$CONTAINERD_PID" ] && owned "$CONTAINERD_PID"; then
    stop_pid "$CONTAINERD_PID" 10
fi

# ---- 3. leftovers of an unclean stop: containers, shims ---------------------------------------
# runc state of the private engine lives in STATEDIR/x/runtime-runc/<namespace>.
if [ -d "$S/x/runtime-runc" ] && command -v runc >/dev/null 2>&1; then
    for ns in "$S"/x/runtime-runc/*/; do
        [ -d "$ns" ] || continue
        for cdir in "$ns"*/; do
            [ -f "$cdir/state.json" ] || continue
            id=$(basename "$cdir")
            warn "killing leftover container $id"
            runc --root "${ns%/}" kill --all "$id" KILL >/dev/null 2>&1 || true
            runc --root "${ns%/}" delete --force "$id" >/dev/null 2>&1 || true
        done
    done
fi

# Any remaining dockerd/containerd/shim/registry/runc process whose command line points
# into STATEDIR is ours.  Shim sockets live in /run/containerd/s/<hash>; note the ones our
# shims listen on so they can be removed after the shims are gone.
shim_socks=
leftover=
for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" != $$ ] || continue
    exe=$(readlink "/proc/$p/exe" 2>/dev/null || true)
    case "${exe##*/}" in
        dockerd | containerd | containerd-shim* | docker-registry | runc | docker-proxy | docker-init) ;;
        *) continue ;;
    esac
    owned "$p" || continue
    leftover="$leftover $p"
    case "${exe##*/}" in
        containerd-shim*)
            inodes=$(for fd in /proc/$p/fd/*; do readlink "$fd" 2>/dev/null; done | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p' | sort -u)
            for ino in $inodes; do
                sock=$(awk -v i="$ino" '$7 == i && $8 ~ /^\/run\/containerd\/s\// { print $8 }' /proc/net/unix 2>/dev/null)
                [ -z "$sock" ] || shim_socks="$shim_socks $sock"
            done
            ;;
    esac
done
for p in $leftover; do
    [ "$p" != "$REGISTRY_PID" ] || continue
    warn "stopping leftover process $p ($(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | cut -c1-120))"
    stop_pid "$p" 5
done
for sock in $shim_socks; do rm -f "$sock"; done

# Bridges of user-defined networks live in the host network namespace; dockerd removes
# them only on "network rm", so after an unclean stop they linger.  Their names are in
# the engine's network store.
kv="$S/data/network/files/local-kv.db"
if [ -f "$kv" ] && command -v ip >/dev/null 2>&1; then
    for br in $(grep -ao '"BridgeName":"[^"]*"' "$kv" 2>/dev/null | sed 's/.*:"\(.*\)"$/\1/' | sort -u); do
        case "$br" in "" | docker0 | lo | eth*) continue ;; esac
        if [ -d "/sys/class/net/$br/bridge" ]; then
            warn "removing leftover bridge $br"
            ip link delete "$br" type bridge 2>/dev/null || warn "cannot delete bridge $br"
        fi
    done
fi

# ---- 4. registry ------------------------------------------------------------------------
if [ -n "$REGISTRY_PID" ]; then stop_pid "$REGISTRY_PID" 10; fi

# ---- 5. mounts below STATEDIR, deepest first (stacked mounts need several passes) ------------------
for _ in 1 2 3 4 5; do
    mounts=$(awk -v s="$S" '$2 == s || index($2, s "/") == 1 { print length($2), $2 }' /proc/mounts | sort -rn | cut -d' ' -f2-)
    [ -n "$mounts" ] || break
    for m in $mounts; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || warn "cannot unmount $m"
    done
done

# ---- 6. remove STATEDIR (only if it is ours, or empty) ---------------------------------------
if [ -e "$S/.agentd-harness" ] || [ -z "$(ls -A "$S" 2>/dev/null)" ]; then
    rm -rf "$S" 2>/dev/null || { sleep 0.2; rm -rf "$S"; } || warn "could not remove $S"
else
    warn "$S has no .agentd-harness marker; not removing it"
fi
exit 0
