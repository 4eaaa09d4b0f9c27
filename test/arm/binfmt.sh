#!/bin/sh
# binfmt.sh - make the kernel run ARM binaries through qemu-user-static, for
# trace.sh. Where PID 1 is not systemd (containers, this project's CI),
# binfmt_misc is not mounted and the handlers binfmt-support registered stay
# disabled: do both here (as root; harmless when done already).
[ -e /proc/sys/fs/binfmt_misc/register ] ||
	mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || exit 1
for h in qemu-aarch64 qemu-arm; do
	[ -e "/proc/sys/fs/binfmt_misc/$h" ] || update-binfmts --enable "$h" >/dev/null || exit 1
done
