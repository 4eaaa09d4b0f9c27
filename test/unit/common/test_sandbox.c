/*
 * test_sandbox.c - each child's real seccomp policy, loaded in a forked
 * process: what the daemon needs still works, and a forbidden syscall kills
 * the process with SIGSYS (KILL_PROCESS), or is only logged in log mode.
 */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "apid.h"
#include "cloudsyncd.h"
#include "enginectl.h"
#include "log.h"
#include "sandbox.h"

enum probe {
	PROBE_NOTHING,
	PROBE_PTRACE,
	PROBE_INET_SOCKET,
	PROBE_UNIX_SOCKET,
	PROBE_OPEN,
	PROBE_OPEN_WRITE
};

/* Fork, load `pol`, run the probe, exit 0 if it returned. Returns the wait status. */
static int run_sandboxed(const struct sandbox_policy *pol, enum sandbox_mode mode, enum probe p)
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		log_init("test", LOG_TO_PARENT, 0);
		if (sandbox_apply(pol, mode) == -1)
			_exit(3);
		switch (p) {
		case PROBE_PTRACE:
			syscall(SYS_ptrace, -1L, 0L, 0L, 0L);
			break;
		case PROBE_INET_SOCKET:
			syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
			break;
		case PROBE_UNIX_SOCKET:
			if (syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0) < 0)
				_exit(4);
			break;
		case PROBE_OPEN:
			syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY);
			break;
		case PROBE_OPEN_WRITE:
			syscall(SYS_openat, AT_FDCWD, "/tmp/agentd-sandbox-probe",
				O_WRONLY | O_CREAT, 0600);
			break;
		case PROBE_NOTHING:
			break;
		}
		syscall(SYS_exit_group, 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void assert_killed_by_sigsys(int status)
{
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}

static void assert_clean_exit(int status)
{
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static const struct sandbox_policy *const policies[] = {&enginectl_policy, &apid_policy,
							&cloudsyncd_policy};

static void every_policy_lets_its_daemon_run(void **state)
{
	size_t i;

	(void)state;
	if (test_no_seccomp())
		skip();
	for (i = 0; i < 3; i++)
		assert_clean_exit(run_sandboxed(policies[i], SANDBOX_KILL, PROBE_NOTHING));
}

static void ptrace_kills_every_child(void **state)
{
	size_t i;

	(void)state;
	if (test_no_seccomp())
		skip();
	for (i = 0; i < 3; i++)
		assert_killed_by_sigsys(run_sandboxed(policies[i], SANDBOX_KILL, PROBE_PTRACE));
}

static void opening_files_for_writing_kills_every_child(void **state)
{
	size_t i;

	(void)state;
	if (test_no_seccomp())
		skip();
	for (i = 0; i < 3; i++)
		assert_killed_by_sigsys(run_sandboxed(policies[i], SANDBOX_KILL, PROBE_OPEN_WRITE));
}

/* Only cloudsyncd reads files (the resolver's configuration), read-only. */
static void only_cloudsyncd_may_open_files_to_read(void **state)
{
	(void)state;
	if (test_no_seccomp())
		skip();
	assert_killed_by_sigsys(run_sandboxed(&enginectl_policy, SANDBOX_KILL, PROBE_OPEN));
	assert_killed_by_sigsys(run_sandboxed(&apid_policy, SANDBOX_KILL, PROBE_OPEN));
	assert_clean_exit(run_sandboxed(&cloudsyncd_policy, SANDBOX_KILL, PROBE_OPEN));
}

static void enginectl_may_make_unix_sockets_only(void **state)
{
	(void)state;
	if (test_no_seccomp())
		skip();
	assert_clean_exit(run_sandboxed(&enginectl_policy, SANDBOX_KILL, PROBE_UNIX_SOCKET));
	assert_killed_by_sigsys(run_sandboxed(&enginectl_policy, SANDBOX_KILL, PROBE_INET_SOCKET));
}

static void apid_may_not_create_sockets(void **state)
{
	(void)state;
	if (test_no_seccomp())
		skip();
	assert_killed_by_sigsys(run_sandboxed(&apid_policy, SANDBOX_KILL, PROBE_INET_SOCKET));
	assert_killed_by_sigsys(run_sandboxed(&apid_policy, SANDBOX_KILL, PROBE_UNIX_SOCKET));
}

static void log_mode_reports_instead_of_killing(void **state)
{
	(void)state;
	if (test_no_seccomp())
		skip();
	assert_clean_exit(run_sandboxed(&apid_policy, SANDBOX_LOG, PROBE_PTRACE));
}

static void mode_words_parse(void **state)
{
	enum sandbox_mode m;

	(void)state;
	assert_int_equal(sandbox_mode_parse("kill", &m), 0);
	assert_int_equal(m, SANDBOX_KILL);
	assert_int_equal(sandbox_mode_parse("log", &m), 0);
	assert_int_equal(m, SANDBOX_LOG);
	assert_int_equal(sandbox_mode_parse("trap", &m), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_policy_lets_its_daemon_run),
		cmocka_unit_test(ptrace_kills_every_child),
		cmocka_unit_test(opening_files_for_writing_kills_every_child),
		cmocka_unit_test(only_cloudsyncd_may_open_files_to_read),
		cmocka_unit_test(enginectl_may_make_unix_sockets_only),
		cmocka_unit_test(apid_may_not_create_sockets),
		cmocka_unit_test(log_mode_reports_instead_of_killing),
		cmocka_unit_test(mode_words_parse),
	};

	return cmocka_run_group_tests_name("sandbox", tests, NULL, NULL);
}
