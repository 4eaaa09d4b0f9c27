/*
 * sandbox.h - what a child does to itself before it touches untrusted input:
 * close inherited fds, drop to an unprivileged user, set no_new_privs and
 * load a seccomp allow-list (libseccomp, default action KILL_PROCESS).
 *
 * The allow-list is data: each child keeps its own table of extra syscalls
 * in its directory (apid/sandbox.c, ...); the syscalls every child needs for
 * its event loop, the channel and logging are in sandbox_base[] here.
 */
#ifndef AGENTD_SANDBOX_H
#define AGENTD_SANDBOX_H

#include <stddef.h>
#include <seccomp.h>

enum sandbox_mode {
	SANDBOX_KILL, /* default: a syscall outside the list kills the process */
	SANDBOX_LOG,  /* -S log: allowed but logged by the kernel (agentd reports it) */
};

enum sandbox_action { SB_ACT_ALLOW, SB_ACT_ERRNO };

/* The architectures this project builds for and traces its processes on
 * (test/arm/; i386 natively there, i386-check.sh): balena's amd64, aarch64,
 * armv7hf, i386 and rpi. A rule is for every architecture that has its
 * syscall, unless it names some of these: then only for those, e.g. statx,
 * which glibc calls for fstat() on the 32-bit ones but not on x86_64 or
 * arm64, where it exists too. rpi is Debian's armel (the same ARM EABI calls
 * as armhf, soft-float, ARMv5TE code that runs on the Pi Zero's and Pi 1's
 * ARMv6). On an architecture not listed here every rule applies. */
#define SB_X86_64 0x1u
#define SB_ARM64  0x2u
#define SB_ARMHF  0x4u
#define SB_I386   0x8u
#define SB_ARMEL  0x10u
#define SB_ARM32  (SB_ARMHF | SB_ARMEL) /* the same kernel calls, the same glibc */
#define SB_ILP32  (SB_ARM32 | SB_I386)  /* 32-bit: _llseek, mmap2, fcntl64, *_time64 */
#define SB_ALL    (SB_X86_64 | SB_ARM64 | SB_ILP32)
#if defined(__x86_64__)
#define SB_NATIVE SB_X86_64
#elif defined(__aarch64__)
#define SB_NATIVE SB_ARM64
#elif defined(__arm__) && defined(__ARM_PCS_VFP)
#define SB_NATIVE SB_ARMHF
#elif defined(__arm__)
#define SB_NATIVE SB_ARMEL
#elif defined(__i386__)
#define SB_NATIVE SB_I386
#else
#define SB_NATIVE (~0u)
#endif

struct sandbox_rule {
	const char *name;           /* the syscall's name (tests, logs) */
	int nr;                     /* SCMP_SYS(name): negative if this architecture has none */
	unsigned arches;            /* SB_X86_64 | ...: only there; 0: everywhere */
	enum sandbox_action action; /* allow, or fail softly with `err` */
	int err;
	unsigned narg; /* 0 or 1 argument comparison */
	struct scmp_arg_cmp arg;
};

#define SB_RULE(arches_, name_, action_, err_, narg_, argn, op_, a, b)                             \
	{                                                                                          \
		.name = #name_, .nr = SCMP_SYS(name_), .arches = (arches_), .action = (action_),   \
		.err = (err_), .narg = (narg_),                                                    \
		.arg = {.arg = (argn), .op = (op_), .datum_a = (a), .datum_b = (b)},               \
	}
#define SB_ALLOW(name) SB_RULE(0, name, SB_ACT_ALLOW, 0, 0, 0, 0, 0, 0)
/* Allowed only on `arches` (SB_X86_64 | SB_ARM64 | SB_ARMHF | SB_I386 | SB_ARMEL). */
#define SB_ALLOW_ON(arches, name)         SB_RULE(arches, name, SB_ACT_ALLOW, 0, 0, 0, 0, 0, 0)
#define SB_ALLOW_ARG(name, argn, op, val) SB_RULE(0, name, SB_ACT_ALLOW, 0, 1, argn, op, val, 0)
/* Allowed when (arg & mask) == val, e.g. read-only opens. */
#define SB_ALLOW_MASKED(name, argn, mask, val)                                                     \
	SB_RULE(0, name, SB_ACT_ALLOW, 0, 1, argn, SCMP_CMP_MASKED_EQ, mask, val)
#define SB_DENY(name, e) SB_RULE(0, name, SB_ACT_ERRNO, e, 0, 0, 0, 0, 0)

struct sandbox_policy {
	const char *name;
	const struct sandbox_rule *rules;
	size_t nrules;
};

extern const struct sandbox_rule sandbox_base[];
extern const size_t sandbox_base_count;

/// Parse "kill" or "log". Returns -1 on anything else.
int sandbox_mode_parse(const char *s, enum sandbox_mode *mode);

/// Close every fd above `keep_max`.
void sandbox_close_fds(int keep_max);

/// Switch to `user` (all groups, real/effective/saved ids). Returns -1 and
/// logs why on failure. Must run before the filter (it needs NSS).
int sandbox_drop_user(const char *user);

/// Set RLIMIT_CORE=0 and no_new_privs, then load sandbox_base plus `pol`:
/// the rules for this architecture; a name it has no syscall for is skipped.
/// Returns 0, or -1 with the reason logged.
int sandbox_apply(const struct sandbox_policy *pol, enum sandbox_mode mode);
/// The same with sandbox_base plus several tables (agentd's: its own and its
/// architecture's).
int sandbox_apply_all(const struct sandbox_policy *const *pols, size_t npols,
		      enum sandbox_mode mode);

/// Whether `nr` (SCMP_SYS(name) as built) is a syscall of this architecture
/// that a rule can allow: a real number, or on i386 libseccomp's pseudo number
/// of a socket call (made through socketcall(2) there).
int sandbox_nr_here(long nr);
/// The number rule `r` adds on this architecture (SCMP_SYS() as built, or
/// libseccomp's by its name where the headers lack it), LONG_MIN if none.
long sandbox_rule_nr(const struct sandbox_rule *r);
/// Whether rule `r` adds anything on this architecture: its syscall is one
/// (sandbox_nr_here) and it is kept for this architecture.
int sandbox_rule_here(const struct sandbox_rule *r);

/// How many syscalls of this architecture sandbox_base plus `pols` allow
/// (or fail softly), each counted once.
size_t sandbox_count(const struct sandbox_policy *const *pols, size_t npols);
/// Whether sandbox_base plus `pols` name syscall `nr` of this architecture
/// (with or without an argument condition).
int sandbox_names(const struct sandbox_policy *const *pols, size_t npols, long nr);

#endif
