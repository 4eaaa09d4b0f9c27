/*
 * test_confine.c - agentd's own confinement (agentd/sandbox.c), in forked
 * processes: the capabilities it keeps, and its seccomp allow-list, which
 * must let it (and what it runs) fork, exec and wait, must cover every
 * child's own list (children inherit agentd's filter), and must kill a
 * process that calls what only an attacker wants of root.
 */
#include "testutil.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "agentd.h"
#include "apid.h"
#include "cloudsyncd.h"
#include "enginectl.h"
#include "log.h"

#define CAP(c) (UINT64_C(1) << (c))

static const struct sandbox_policy *const agentd_pols[2] = {&agentd_policy, &agentd_arch_policy};

static void kept_capabilities_are_the_documented_ones(void **state)
{
	uint64_t base = CAP(CAP_CHOWN) | CAP(CAP_KILL) | CAP(CAP_SETUID) | CAP(CAP_SETGID);

	(void)state;
	assert_true(agentd_caps(0, 48484) == base);
	assert_true(agentd_caps(1, 48484) == (base | CAP(CAP_NET_ADMIN) | CAP(CAP_NET_RAW)));
	assert_true(agentd_caps(0, 80) == (base | CAP(CAP_NET_BIND_SERVICE)));
}

/* /proc/self/status field `key` as a number (hex for Cap*). */
static uint64_t status_field(const char *key, int base)
{
	char line[256];
	uint64_t v = 0;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/self/status", "re");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, n) == 0 && line[n] == ':')
			v = strtoull(line + n + 1, NULL, base);
	if (f != NULL)
		fclose(f);
	return v;
}

static void dropping_leaves_only_what_is_kept_in_every_set(void **state)
{
	uint64_t keep = agentd_caps(0, 48484);
	int status;
	pid_t pid;

	(void)state;
	if ((pid = fork()) == 0) {
		uint64_t before = status_field("CapPrm", 16), want = before & keep;
		char err[256];

		if (agentd_caps_drop(keep, err, sizeof(err)) == -1)
			_exit(10);
		if (status_field("CapEff", 16) != want || status_field("CapPrm", 16) != want ||
		    status_field("CapInh", 16) != 0 || status_field("CapAmb", 16) != 0)
			_exit(11);
		/* root with CAP_SETPCAP shrinks the bounding set too */
		if ((before & CAP(CAP_SETPCAP)) && status_field("CapBnd", 16) != keep)
			_exit(12);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static int covered(const struct sandbox_rule *rules, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (sandbox_rule_here(&rules[i]) &&
		    !sandbox_names(agentd_pols, 2, sandbox_rule_nr(&rules[i]))) {
			print_error("agentd's allow-list lacks %s\n", rules[i].name);
			return 0;
		}
	return 1;
}

/* A child runs under agentd's filter and its own: whatever its own allows,
 * agentd's must allow too, or the child is killed for it. */
static void agentd_list_covers_every_child_list(void **state)
{
	const struct sandbox_policy *children[] = {&enginectl_policy, &apid_policy,
						   &cloudsyncd_policy};
	size_t i;

	(void)state;
	if (!agentd_sandbox_written())
		skip();
	assert_true(covered(sandbox_base, sandbox_base_count));
	for (i = 0; i < 3; i++)
		assert_true(covered(children[i]->rules, children[i]->nrules));
}

enum probe {
	PROBE_FORK_EXEC,
	PROBE_INET_SOCKET,
	PROBE_PTRACE,
	PROBE_MOUNT,
	PROBE_UNSHARE,
	PROBE_CLONE_NEWUSER,
	PROBE_PACKET_SOCKET,
	PROBE_REBOOT,
	PROBE_INIT_MODULE,
	PROBE_KEYCTL,
};

/* Fork, confine as agentd does, probe; the wait status. */
static int run_confined(enum probe p, enum sandbox_mode mode)
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		pid_t kid;
		int st;

		log_init("test", LOG_TO_PARENT, 0);
		if (agentd_caps_drop(agentd_caps(0, 48484), (char[64]){0}, 64) == -1 ||
		    sandbox_apply_all(agentd_pols, 2, mode) == -1)
			_exit(3);
		switch (p) {
		case PROBE_FORK_EXEC:
			/* what agentd does for each child and command it runs */
			if ((kid = fork()) == 0) {
				execl("/bin/sh", "sh", "-c", "exit 7", (char *)NULL);
				_exit(126);
			}
			if (kid < 0 || waitpid(kid, &st, 0) != kid || !WIFEXITED(st) ||
			    WEXITSTATUS(st) != 7)
				_exit(4);
			break;
		case PROBE_INET_SOCKET:
			if (syscall(SYS_socket, AF_INET, SOCK_STREAM, 0) < 0)
				_exit(4);
			break;
		case PROBE_PTRACE:
			syscall(SYS_ptrace, -1L, 0L, 0L, 0L);
			break;
		case PROBE_MOUNT:
			syscall(SYS_mount, "none", "/nonexistent", "tmpfs", 0L, NULL);
			break;
		case PROBE_UNSHARE:
			syscall(SYS_unshare, (long)CLONE_NEWNS);
			break;
		case PROBE_CLONE_NEWUSER:
			syscall(SYS_clone, (long)(CLONE_NEWUSER | SIGCHLD), 0L, 0L, 0L, 0L);
			break;
		case PROBE_PACKET_SOCKET:
			syscall(SYS_socket, AF_PACKET, SOCK_RAW, 0);
			break;
		case PROBE_REBOOT:
			syscall(SYS_reboot, 0L, 0L, 0L, NULL); /* bad magic: EINVAL if allowed */
			break;
		case PROBE_INIT_MODULE:
			syscall(SYS_init_module, NULL, 0L, "");
			break;
		case PROBE_KEYCTL:
			syscall(SYS_keyctl, 0L, 0L, 0L, 0L, 0L);
			break;
		}
		syscall(SYS_exit_group, 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void confined_agentd_still_forks_execs_and_waits(void **state)
{
	int st;

	(void)state;
	if (test_no_seccomp())
		skip();
	if (!agentd_sandbox_written())
		skip();
	st = run_confined(PROBE_FORK_EXEC, SANDBOX_KILL);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	st = run_confined(PROBE_INET_SOCKET, SANDBOX_KILL);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void what_only_an_attacker_wants_kills(void **state)
{
	static const enum probe probes[] = {PROBE_PTRACE,        PROBE_MOUNT,         PROBE_UNSHARE,
					    PROBE_CLONE_NEWUSER, PROBE_PACKET_SOCKET, PROBE_REBOOT,
					    PROBE_INIT_MODULE,   PROBE_KEYCTL};
	size_t i;
	int st;

	(void)state;
	if (test_no_seccomp())
		skip();
	if (!agentd_sandbox_written())
		skip();
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		st = run_confined(probes[i], SANDBOX_KILL);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
			fail_msg("probe %d was not killed by SIGSYS (status 0x%x)", (int)probes[i],
				 st);
	}
}

static void log_mode_only_logs(void **state)
{
	int st;

	(void)state;
	if (test_no_seccomp())
		skip();
	if (!agentd_sandbox_written())
		skip();
	st = run_confined(PROBE_PTRACE, SANDBOX_LOG);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kept_capabilities_are_the_documented_ones),
		cmocka_unit_test(dropping_leaves_only_what_is_kept_in_every_set),
		cmocka_unit_test(agentd_list_covers_every_child_list),
		cmocka_unit_test(confined_agentd_still_forks_execs_and_waits),
		cmocka_unit_test(what_only_an_attacker_wants_kills),
		cmocka_unit_test(log_mode_only_logs),
	};

	log_init("test", LOG_TO_STDERR, 0);
	return cmocka_run_group_tests_name("confine", tests, NULL, NULL);
}
