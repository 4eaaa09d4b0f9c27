/*
 * trace-shim.c - LD_PRELOADed into agentd's children by test/arm/trace.sh when
 * they run under qemu-user, which cannot load seccomp filters (QEMU refuses
 * PR_SET_SECCOMP). The libseccomp calls of common/sandbox.c are replaced:
 * nothing is filtered, and where the filter would be loaded the child makes
 * one marker call, faccessat("/agentd-trace: sandbox loaded"), which qemu's
 * -strace prints with its path. Every syscall after the marker is one the
 * child's allow-list must cover. Never part of a build that runs on a device.
 */
#include <fcntl.h>
#include <seccomp.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

static int trace_ctx;

scmp_filter_ctx seccomp_init(uint32_t def_action)
{
	(void)def_action;
	return &trace_ctx;
}

int seccomp_rule_add(scmp_filter_ctx ctx, uint32_t action, int syscall_nr, unsigned int arg_cnt,
		     ...)
{
	(void)ctx;
	(void)action;
	(void)syscall_nr;
	(void)arg_cnt;
	return 0;
}

int seccomp_load(const scmp_filter_ctx ctx)
{
	(void)ctx;
	syscall(SYS_faccessat, AT_FDCWD, "/agentd-trace: sandbox loaded", F_OK, 0);
	return 0;
}

void seccomp_release(scmp_filter_ctx ctx)
{
	(void)ctx;
}
