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

struct sandbox_rule {
	int nr;                     /* SCMP_SYS(name) */
	enum sandbox_action action; /* allow, or fail softly with `err` */
	int err;
	unsigned narg; /* 0 or 1 argument comparison */
	struct scmp_arg_cmp arg;
};

#define SB_ALLOW(name)                                                                             \
	{                                                                                          \
		SCMP_SYS(name), SB_ACT_ALLOW, 0, 0,                                                \
		{                                                                                  \
			0, 0, 0, 0                                                                 \
		}                                                                                  \
	}
#define SB_ALLOW_ARG(name, argn, op, val)                                                          \
	{                                                                                          \
		SCMP_SYS(name), SB_ACT_ALLOW, 0, 1,                                                \
		{                                                                                  \
			argn, op, val, 0                                                           \
		}                                                                                  \
	}
/* Allowed when (arg & mask) == val, e.g. read-only opens. */
#define SB_ALLOW_MASKED(name, argn, mask, val)                                                     \
	{                                                                                          \
		SCMP_SYS(name), SB_ACT_ALLOW, 0, 1,                                                \
		{                                                                                  \
			argn, SCMP_CMP_MASKED_EQ, mask, val                                        \
		}                                                                                  \
	}
#define SB_DENY(name, e)                                                                           \
	{                                                                                          \
		SCMP_SYS(name), SB_ACT_ERRNO, e, 0,                                                \
		{                                                                                  \
			0, 0, 0, 0                                                                 \
		}                                                                                  \
	}

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

/// Set RLIMIT_CORE=0 and no_new_privs, then load sandbox_base plus `pol`.
/// Returns 0, or -1 with the reason logged.
int sandbox_apply(const struct sandbox_policy *pol, enum sandbox_mode mode);
/// The same with sandbox_base plus several tables (agentd's: its own and its
/// architecture's).
int sandbox_apply_all(const struct sandbox_policy *const *pols, size_t npols,
		      enum sandbox_mode mode);

/// How many syscalls of this architecture sandbox_base plus `pols` allow
/// (or fail softly), each counted once.
size_t sandbox_count(const struct sandbox_policy *const *pols, size_t npols);
/// Whether sandbox_base plus `pols` name syscall `nr` of this architecture
/// (with or without an argument condition).
int sandbox_names(const struct sandbox_policy *const *pols, size_t npols, long nr);

#endif
