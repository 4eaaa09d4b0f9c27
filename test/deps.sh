#!/bin/sh
# deps.sh - make sure the Debian packages agentd needs to build and test are
# installed: installs the missing ones with apt when run as root on Debian,
# otherwise prints the exact command and fails. Usage: deps.sh PKG...
# One dpkg-query for all of them (it stays fast as the list grows).
installed=" $(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null |
	sed -n 's/^\([^ ]*\) install ok installed$/\1/p' | tr '\n' ' ')"
missing=""
for p in "$@"; do
	case $installed in *" $p "*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && { echo "deps: all installed"; exit 0; }
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
		{ echo "deps: apt-get install failed"; exit 1; }
	exit 0
fi
echo "deps: missing packages:$missing"
echo "deps: run as root:  apt-get install$missing"
exit 1
