# mirror.sh - sourced by the ARM scripts: the Debian suites to unpack from.
# Sets MIRROR (the mirror apt uses on this machine, else deb.debian.org) and
# suites ARCH: prints one "deb ..." line per suite, bookworm-security only
# when the mirror's index for ARCH matches its InRelease (on this mirror the
# armhf security index has had the wrong size for weeks: apt refuses it, and
# mmdebstrap with it fails for the whole run).
MIRROR=${MIRROR:-$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' \
	/etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${SECURITY:-${MIRROR%/debian}/debian-security}

security_usable() { # arch: the security index's size is what InRelease says
	want=$(curl -fsS --max-time 20 "$SECURITY/dists/bookworm-security/InRelease" 2>/dev/null |
		awk -v f="main/binary-$1/Packages.xz" '$3 == f {print $2; exit}')
	got=$(curl -fsSI --max-time 20 "$SECURITY/dists/bookworm-security/main/binary-$1/Packages.xz" \
		2>/dev/null | tr -d '\r' | awk 'tolower($1) == "content-length:" {print $2}')
	[ -n "$want" ] && [ "$want" = "$got" ]
}

suites() { # arch
	echo "deb $MIRROR bookworm main"
	echo "deb $MIRROR bookworm-updates main"
	if security_usable "$1"; then
		echo "deb $SECURITY bookworm-security main"
	else
		echo "mirror: bookworm-security's $1 index is inconsistent on this mirror: left out" >&2
	fi
}
