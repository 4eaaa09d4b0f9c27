/*
 * sandbox.c - privilege drop and the seccomp filter shared by the children
 * (see sandbox.h). sandbox_base[] lists what every child needs to run a
 * libevent loop, talk on its channel and write log lines; nothing more.
 */
#include <errno.h>
#include <limits.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

/* Alphabetical. Each entry is needed by every child. The C library makes
 * different calls for the same function on each architecture (traced with
 * test/arm/trace.sh and in the ARM VMs, see docs/operations.md): the
 * comments say which function a name is on which architecture. */
const struct sandbox_rule sandbox_base[] = {
	SB_ALLOW(_llseek),         /* lseek() on the 32-bit ones */
	SB_ALLOW(brk),             /* malloc */
	SB_ALLOW(clock_gettime),   /* libevent timers, when the vDSO is unavailable */
	SB_ALLOW(clock_gettime64), /* clock_gettime() on 32-bit (kernels >= 5.1) */
	SB_ALLOW(clock_nanosleep),
	SB_ALLOW(clock_nanosleep_time64), /* 32-bit */
	SB_ALLOW(close),
	SB_ALLOW(epoll_ctl),
	SB_ALLOW_ON(SB_X86_64 | SB_ARM64, epoll_pwait), /* epoll_wait() on arm64 */
	SB_ALLOW(epoll_wait),
	SB_ALLOW(exit),
	SB_ALLOW(exit_group),
	SB_ALLOW_ON(SB_X86_64 | SB_ARM64, fcntl), /* O_NONBLOCK, FD_CLOEXEC on received fds */
	SB_ALLOW(fcntl64),                        /* fcntl() on 32-bit */
	SB_ALLOW_ON(SB_X86_64 | SB_ARM64, fstat), /* stdio */
	SB_ALLOW(futex),
	SB_ALLOW(futex_time64), /* 32-bit: futex waits with a timeout */
	SB_ALLOW(getpid),
	SB_ALLOW(getrandom), /* libevent's arc4random seeding */
	SB_ALLOW(gettid),
	SB_ALLOW_ON(SB_X86_64 | SB_ARM64, gettimeofday), /* 32-bit: clock_gettime64 */
	SB_ALLOW_ON(SB_X86_64 | SB_ARM64, lseek),
	SB_ALLOW(madvise), /* free() returning memory */
	SB_ALLOW(mmap),    /* malloc of large blocks */
	SB_ALLOW(mmap2),   /* mmap() on 32-bit */
	SB_ALLOW(mremap),
	SB_ALLOW(munmap),
	SB_ALLOW(newfstatat), /* fstat() on glibc >= 2.33 */
	SB_ALLOW(read),
	SB_ALLOW(readv),
	SB_ALLOW(recvmsg), /* channel input, with SCM_RIGHTS */
	SB_ALLOW(restart_syscall),
	SB_ALLOW(rt_sigaction), /* libevent restores signal handlers on shutdown */
	SB_ALLOW(rt_sigprocmask),
	SB_ALLOW(rt_sigreturn),       /* libevent signal handlers for SIGTERM */
	SB_ALLOW(send),               /* send() on 32-bit arm (i386: socketcall) */
	SB_ALLOW(sendmsg),            /* channel output */
	SB_ALLOW(sendto),             /* send() is sendto() on x86_64 and arm64 */
	SB_ALLOW(sigreturn),          /* 32-bit: after a handler without SA_SIGINFO (libevent's) */
	SB_ALLOW_ON(SB_ILP32, statx), /* fstat() on armhf, rpi and i386 */
	SB_ALLOW(write),              /* log lines on stderr */
	SB_ALLOW(writev),
};
const size_t sandbox_base_count = sizeof(sandbox_base) / sizeof(sandbox_base[0]);

int sandbox_mode_parse(const char *s, enum sandbox_mode *mode)
{
	if (strcmp(s, "kill") == 0)
		*mode = SANDBOX_KILL;
	else if (strcmp(s, "log") == 0)
		*mode = SANDBOX_LOG;
	else
		return -1;
	return 0;
}

void sandbox_close_fds(int keep_max)
{
	closefrom(keep_max + 1);
}

int sandbox_drop_user(const char *user)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		log_error("sandbox: unknown user '%s'", user);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		log_warn("sandbox: cannot switch to user '%s'", user);
		return -1;
	}
	if (pw->pw_uid != 0 && setuid(0) != -1) {
		log_error("sandbox: could regain root after dropping to '%s'", user);
		return -1;
	}
	return 0;
}

int sandbox_nr_here(long nr)
{
	if (nr >= 0)
		return 1;
#if defined(__i386__)
	/* i386's glibc reaches every socket call through socketcall(2): libseccomp
	 * names them by pseudo numbers -101 (socket) to -120 (sendmmsg) and turns a
	 * rule for one into socketcall(SYS_<call>, ...) and the direct syscall, where
	 * the kernel has one (Linux >= 4.3). socketcall's arguments are in memory, so
	 * a condition on them (socket's family) holds for the direct call only. */
	if (nr <= -101 && nr >= -120)
		return 1;
#endif
	return 0; /* a pseudo number: a syscall of other architectures only */
}

long sandbox_rule_nr(const struct sandbox_rule *r)
{
	long nr = r->nr;

	/* SCMP_SYS() is what the build's headers say; an architecture's private
	 * calls may be missing there (arm's set_tls, __ARM_NR_set_tls): asked of
	 * libseccomp by name then. */
	if (!sandbox_nr_here(nr))
		nr = seccomp_syscall_resolve_name(r->name);
	return sandbox_nr_here(nr) ? nr : LONG_MIN;
}

int sandbox_rule_here(const struct sandbox_rule *r)
{
	return (r->arches == 0 || (r->arches & SB_NATIVE) != 0) && sandbox_rule_nr(r) != LONG_MIN;
}

static int sandbox_add(scmp_filter_ctx ctx, const struct sandbox_rule *r)
{
	uint32_t action = r->action == SB_ACT_ALLOW ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO(r->err);
	int rc, nr;

	/* A rule for other architectures, or a syscall this one does not have
	 * (libseccomp's pseudo numbers are negative), is not an error. */
	if (!sandbox_rule_here(r))
		return 0;
	nr = (int)sandbox_rule_nr(r);
	if (r->narg)
		rc = seccomp_rule_add(ctx, action, nr, 1, r->arg);
	else
		rc = seccomp_rule_add(ctx, action, nr, 0);
	if (rc < 0)
		log_error("sandbox: cannot add %s (%d): %s", r->name, nr, strerror(-rc));
	return rc;
}

int sandbox_apply_all(const struct sandbox_policy *const *pols, size_t npols,
		      enum sandbox_mode mode)
{
	struct rlimit nocore = {0, 0};
	scmp_filter_ctx ctx;
	size_t i, k, n = 0;
	int rc;

	/* KILL_PROCESS dumps core by default: a sandboxed process has nothing to
	 * dump but its secrets. */
	if (setrlimit(RLIMIT_CORE, &nocore) == -1) {
		log_warn("sandbox: setrlimit(RLIMIT_CORE)");
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		log_warn("sandbox: PR_SET_NO_NEW_PRIVS");
		return -1;
	}
	ctx = seccomp_init(mode == SANDBOX_KILL ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_LOG);
	if (ctx == NULL) {
		log_error("sandbox: seccomp_init failed");
		return -1;
	}
	for (i = 0; i < sandbox_base_count; i++) {
		if ((rc = sandbox_add(ctx, &sandbox_base[i])) < 0)
			goto fail;
	}
	for (k = 0; k < npols; k++) {
		for (i = 0; i < pols[k]->nrules; i++) {
			if ((rc = sandbox_add(ctx, &pols[k]->rules[i])) < 0)
				goto fail;
		}
		n += pols[k]->nrules;
	}
	if ((rc = seccomp_load(ctx)) < 0)
		goto fail;
	seccomp_release(ctx);
	log_debug("sandbox: %s filter loaded (%zu+%zu rules, %s mode)", pols[0]->name,
		  sandbox_base_count, n, mode == SANDBOX_KILL ? "kill" : "log");
	return 0;
fail:
	log_error("sandbox: cannot build the %s filter: %s", pols[0]->name, strerror(-rc));
	seccomp_release(ctx);
	return -1;
}

int sandbox_apply(const struct sandbox_policy *pol, enum sandbox_mode mode)
{
	return sandbox_apply_all(&pol, 1, mode);
}

/* Every rule of sandbox_base and `pols`, one after the other: f(rule, arg). */
static void sandbox_each(const struct sandbox_policy *const *pols, size_t npols,
			 void (*f)(const struct sandbox_rule *r, void *arg), void *arg)
{
	size_t i, k;

	for (i = 0; i < sandbox_base_count; i++)
		f(&sandbox_base[i], arg);
	for (k = 0; k < npols; k++)
		for (i = 0; i < pols[k]->nrules; i++)
			f(&pols[k]->rules[i], arg);
}

struct sandbox_tally {
	long seen[512];
	size_t n;
	long find;
	int found;
};

static void sandbox_tally_one(const struct sandbox_rule *r, void *arg)
{
	struct sandbox_tally *t = arg;
	size_t i;

	long nr;

	if (!sandbox_rule_here(r))
		return; /* not a syscall of this architecture, or not kept for it */
	nr = sandbox_rule_nr(r);
	if (nr == t->find)
		t->found = 1;
#if defined(__i386__)
	/* the kernel names a socket call socketcall (102) on i386: which one it
	 * was is in memory; any socket call in the list may have been it */
	if (t->find == __NR_socketcall && nr <= -101)
		t->found = 1;
#endif
	for (i = 0; i < t->n; i++)
		if (t->seen[i] == nr)
			return;
	if (t->n < sizeof(t->seen) / sizeof(t->seen[0]))
		t->seen[t->n++] = nr;
}

size_t sandbox_count(const struct sandbox_policy *const *pols, size_t npols)
{
	struct sandbox_tally t;

	memset(&t, 0, sizeof(t));
	t.find = -1;
	sandbox_each(pols, npols, sandbox_tally_one, &t);
	return t.n;
}

int sandbox_names(const struct sandbox_policy *const *pols, size_t npols, long nr)
{
	struct sandbox_tally t;

	memset(&t, 0, sizeof(t));
	t.find = sandbox_nr_here(nr) ? nr : LONG_MIN;
	sandbox_each(pols, npols, sandbox_tally_one, &t);
	return t.found;
}
