/*
 * test_sandbox_arches.c - every allow-list (the children's and agentd's own)
 * read as data for the five architectures agentd ships for (x86_64, arm64,
 * armhf, i386, rpi), whatever this test runs on: each name is a syscall of at
 * least one of them (a typo, or a name of another architecture only, fails),
 * a rule kept for some architectures names syscalls they have, each table
 * stays alphabetical, the calls glibc makes on each architecture for the
 * functions every child uses are allowed there (the traces behind them:
 * test/arm/, docs/operations.md), and on each architecture agentd's list,
 * which every child inherits, allows all that the child's own does.
 */
#include "testutil.h"

#include <limits.h>

#include "agentd.h"
#include "apid.h"
#include "cloudsyncd.h"
#include "enginectl.h"
#include "sandbox.h"

static const struct {
	unsigned bit;
	uint32_t token;
	const char *name;
} arches[] = {
	{SB_X86_64, SCMP_ARCH_X86_64, "x86_64"}, {SB_ARM64, SCMP_ARCH_AARCH64, "arm64"},
	{SB_ARMHF, SCMP_ARCH_ARM, "armhf"},      {SB_I386, SCMP_ARCH_X86, "i386"},
	{SB_ARMEL, SCMP_ARCH_ARM, "rpi"},
};
#define NARCH (sizeof(arches) / sizeof(arches[0]))

struct table {
	const char *name;
	const struct sandbox_rule *rules;
	size_t n;
};

/* The base, the three children's tables (1 to 3), agentd's two. */
#define NTABLES 6
static size_t tables(struct table *t)
{
	t[0] = (struct table){"sandbox_base", sandbox_base, sandbox_base_count};
	t[1] = (struct table){"enginectl", enginectl_policy.rules, enginectl_policy.nrules};
	t[2] = (struct table){"apid", apid_policy.rules, apid_policy.nrules};
	t[3] = (struct table){"cloudsyncd", cloudsyncd_policy.rules, cloudsyncd_policy.nrules};
	t[4] = (struct table){"agentd", agentd_policy.rules, agentd_policy.nrules};
	/* every architecture's section (its nrules is 0 where none is written) */
	t[5] = (struct table){"agentd (architectures)", agentd_arch_policy.rules,
			      agentd_arch_policy.nrules};
	return NTABLES;
}

/* The syscall's number on arch, or -1 if arch has none (libseccomp gives
 * negative pseudo numbers, or __NR_SCMP_ERROR for a name it does not know). */
static int nr_on(uint32_t token, const char *name)
{
	int nr = seccomp_syscall_resolve_name_arch(token, name);

	/* i386's socket calls: pseudo numbers for socketcall(SYS_...) */
	if (token == SCMP_ARCH_X86 && nr <= -101 && nr >= -120)
		return 102;
	return nr >= 0 ? nr : -1;
}

/* NULL if the rule is sound for the three architectures, else why not. */
static const char *rule_problem(const struct sandbox_rule *r)
{
	size_t a, on = 0;

	if (r->arches & ~(unsigned)SB_ALL)
		return "is kept for an unknown architecture";
	for (a = 0; a < NARCH; a++) {
		int nr = nr_on(arches[a].token, r->name);

		if (nr >= 0)
			on++;
		if ((r->arches & arches[a].bit) && nr < 0)
			return "is kept for an architecture that has no such syscall";
	}
	return on ? NULL : "is a syscall of none of x86_64, arm64, armhf, i386, rpi";
}

/* Whether the filter of `child` (its table and the base) allows `name` on
 * arches[a]. */
static int allowed_on(size_t a, const struct table *child, const char *name)
{
	const struct table base = {"sandbox_base", sandbox_base, sandbox_base_count};
	const struct table *t[2] = {&base, child};
	size_t i, k;

	if (nr_on(arches[a].token, name) < 0)
		return 0;
	for (k = 0; k < 2; k++)
		for (i = 0; i < t[k]->n; i++) {
			const struct sandbox_rule *r = &t[k]->rules[i];

			if (strcmp(r->name, name) == 0 &&
			    (r->arches == 0 || (r->arches & arches[a].bit)))
				return 1;
		}
	return 0;
}

static void every_name_is_a_syscall_of_one_of_the_five(void **state)
{
	struct table t[NTABLES];
	size_t n = tables(t), i, k;

	(void)state;
	for (k = 0; k < n; k++)
		for (i = 0; i < t[k].n; i++) {
			const char *why = rule_problem(&t[k].rules[i]);

			if (why != NULL)
				fail_msg("%s: %s %s", t[k].name, t[k].rules[i].name, why);
		}
}

static void a_typo_or_another_architectures_name_is_caught(void **state)
{
	const struct sandbox_rule good = SB_ALLOW(mkdirat);
	struct sandbox_rule r = good;

	(void)state;
	assert_null(rule_problem(&r));
	r.name = "mkdirt"; /* unknown to libseccomp */
	assert_non_null(rule_problem(&r));
	r.name = "s390_runtime_instr"; /* s390's, on none of the five */
	assert_non_null(rule_problem(&r));
	r.name = "socketcall"; /* i386's */
	assert_null(rule_problem(&r));
	r.name = "mmap2";
	r.arches = SB_ARM64; /* armhf's only */
	assert_non_null(rule_problem(&r));
	r.arches = SB_ARMHF;
	assert_null(rule_problem(&r));
	r.arches = SB_ILP32; /* armhf, rpi and i386 have it */
	assert_null(rule_problem(&r));
	r.arches = 0x100; /* no such architecture */
	assert_non_null(rule_problem(&r));
}

static void the_built_number_is_this_architectures(void **state)
{
	struct table t[NTABLES];
	size_t n = tables(t), i, k;

	(void)state;
	for (k = 0; k < n; k++)
		for (i = 0; i < t[k].n; i++) {
			const struct sandbox_rule *r = &t[k].rules[i];
			int nr = seccomp_syscall_resolve_name(r->name);

			long eff = sandbox_rule_nr(r);

			if (nr >= 0) /* arm's set_tls: by name, the headers lack it */
				assert_int_equal(eff, nr);
			else if (sandbox_nr_here(nr)) /* i386: a socket call's pseudo
							 number, or its direct call's */
				assert_true(eff == nr || eff >= 0);
			else
				assert_true(eff == LONG_MIN);
		}
}

static void each_table_is_alphabetical(void **state)
{
	struct table t[NTABLES];
	size_t n = tables(t), i, k;

	(void)state;
	for (k = 0; k < n; k++)
		for (i = 1; i < t[k].n; i++)
			if (strcmp(t[k].rules[i - 1].name, t[k].rules[i].name) > 0)
				fail_msg("%s: %s comes before %s", t[k].name,
					 t[k].rules[i - 1].name, t[k].rules[i].name);
}

/* What glibc 2.36 (Debian 12) calls for a function every child uses, per
 * architecture in the order of arches[] (NULL: that function does not
 * reach the kernel there). */
static const struct {
	const char *function;
	const char *call[NARCH];
} glibc_calls[] = {
	{"clock_gettime()",
	 {"clock_gettime", "clock_gettime", "clock_gettime64", "clock_gettime64",
	  "clock_gettime64"}},
	{"epoll_wait()", {"epoll_wait", "epoll_pwait", "epoll_wait", "epoll_wait", "epoll_wait"}},
	{"fcntl()", {"fcntl", "fcntl", "fcntl64", "fcntl64", "fcntl64"}},
	{"fstat()", {"newfstatat", "newfstatat", "statx", "statx", "statx"}},
	{"lseek()", {"lseek", "lseek", "_llseek", "_llseek", "_llseek"}},
	{"mmap()", {"mmap", "mmap", "mmap2", "mmap2", "mmap2"}},
	{"nanosleep()",
	 {"clock_nanosleep", "clock_nanosleep", "clock_nanosleep_time64", "clock_nanosleep_time64",
	  "clock_nanosleep_time64"}},
	/* i386: socketcall(SYS_SEND) */
	{"send()", {"sendto", "sendto", "send", "send", "send"}},
	{"sigreturn (libevent's handlers)",
	 {"rt_sigreturn", "rt_sigreturn", "sigreturn", "sigreturn", "sigreturn"}},
};

static void every_childs_libc_calls_are_allowed_on_each_architecture(void **state)
{
	struct table t[NTABLES];
	size_t i, a, k;

	(void)state;
	tables(t);
	for (k = 1; k < 4; k++)
		for (i = 0; i < sizeof(glibc_calls) / sizeof(glibc_calls[0]); i++)
			for (a = 0; a < NARCH; a++)
				if (!allowed_on(a, &t[k], glibc_calls[i].call[a]))
					fail_msg("%s on %s: %s (%s) is not allowed", t[k].name,
						 arches[a].name, glibc_calls[i].call[a],
						 glibc_calls[i].function);
}

static void recv_and_poll_are_allowed_where_the_child_calls_them(void **state)
{
	struct table t[NTABLES];
	size_t a, k;

	(void)state;
	tables(t);
	for (k = 1; k < 4; k++) /* every child reads a socket with recv() */
		for (a = 0; a < NARCH; a++)
			assert_true(allowed_on(a, &t[k], a >= 2 ? "recv" : "recvfrom"));
	/* cloudsyncd's libcurl polls: poll on x86_64 and the 32-bit ones, ppoll on arm64 */
	assert_true(allowed_on(0, &t[3], "poll"));
	assert_true(allowed_on(1, &t[3], "ppoll"));
	assert_true(allowed_on(2, &t[3], "poll"));
	assert_true(allowed_on(3, &t[3], "poll"));
	assert_true(allowed_on(4, &t[3], "poll"));
}

static void a_twin_is_kept_only_where_glibc_calls_it(void **state)
{
	struct table t[NTABLES];

	(void)state;
	tables(t);
	/* statx is on all three, but only armhf's fstat() makes it */
	assert_true(allowed_on(2, &t[1], "statx"));
	assert_false(allowed_on(0, &t[1], "statx"));
	assert_false(allowed_on(1, &t[1], "statx"));
	/* and armhf's fcntl() and lseek() are fcntl64 and _llseek */
	assert_false(allowed_on(2, &t[1], "fcntl"));
	assert_false(allowed_on(2, &t[1], "lseek"));
}

/* Whether agentd's filter (the base and its two tables) allows `name` on arches[a]. */
static int agentd_allows_on(size_t a, const char *name)
{
	struct table t[NTABLES];
	size_t i, k;

	tables(t);
	if (nr_on(arches[a].token, name) < 0)
		return 0;
	for (k = 0; k < NTABLES; k++) {
		if (k >= 1 && k <= 3)
			continue; /* the children's */
		for (i = 0; i < t[k].n; i++) {
			const struct sandbox_rule *r = &t[k].rules[i];

			if (strcmp(r->name, name) == 0 &&
			    (r->arches == 0 || (r->arches & arches[a].bit)))
				return 1;
		}
	}
	return 0;
}

/* A child runs under agentd's filter and its own, on every architecture. */
static void agentd_allows_what_each_child_allows_on_every_architecture(void **state)
{
	struct table t[NTABLES];
	size_t a, i, k;

	(void)state;
	tables(t);
	for (a = 0; a < NARCH; a++)
		for (k = 0; k < 4; k++)
			for (i = 0; i < t[k].n; i++) {
				const char *name = t[k].rules[i].name;

				if (allowed_on(a, &t[k], name) && !agentd_allows_on(a, name))
					fail_msg("%s: %s allows %s, agentd's list does not",
						 arches[a].name, t[k].name, name);
			}
	/* and what a child's list does not allow stays out of the comparison */
	assert_false(allowed_on(1, &t[1], "open"));
	assert_false(agentd_allows_on(1, "open")); /* arm64 has no open */
	assert_true(agentd_allows_on(0, "open"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_name_is_a_syscall_of_one_of_the_five),
		cmocka_unit_test(a_typo_or_another_architectures_name_is_caught),
		cmocka_unit_test(the_built_number_is_this_architectures),
		cmocka_unit_test(each_table_is_alphabetical),
		cmocka_unit_test(every_childs_libc_calls_are_allowed_on_each_architecture),
		cmocka_unit_test(recv_and_poll_are_allowed_where_the_child_calls_them),
		cmocka_unit_test(a_twin_is_kept_only_where_glibc_calls_it),
		cmocka_unit_test(agentd_allows_what_each_child_allows_on_every_architecture),
	};

	return cmocka_run_group_tests_name("sandbox_arches", tests, NULL, NULL);
}
