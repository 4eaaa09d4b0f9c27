/*
 * test_kmsg.c - recognising the kernel's seccomp audit records, as read
 * from /dev/kmsg, and naming their syscall.
 */
#include "testutil.h"

#include "kmsg.h"

static void kill_record_is_parsed(void **state)
{
	static const char rec[] =
		"5,345,171809974,-;audit: type=1326 audit(1795599099.571:2): auid=4294967295 "
		"uid=0 gid=0 ses=4294967295 pid=4422 comm=\"t\" exe=\"/tmp/t\" sig=31 "
		"arch=c000003e syscall=101 compat=0 ip=0x7f44469e9829 code=0x80000000\n";
	struct seccomp_record r;
	char name[32];

	(void)state;
	assert_int_equal(kmsg_parse_seccomp(rec, &r), 0);
	assert_int_equal(r.pid, 4422);
	assert_int_equal(r.nr, 101);
	assert_int_equal(r.arch, 0xc000003e);
	assert_true(r.killed);
	assert_string_equal(kmsg_syscall_name(&r, name, sizeof(name)), "ptrace");
}

static void log_record_is_not_a_kill(void **state)
{
	static const char rec[] = "5,346,1,-;audit: type=1326 audit(1.5:3): auid=1 uid=0 gid=0 "
				  "ses=1 pid=77 comm=\"apid\" sig=0 arch=c000003e syscall=257 "
				  "compat=0 ip=0x1 code=0x7ffc0000\n";
	struct seccomp_record r;

	(void)state;
	assert_int_equal(kmsg_parse_seccomp(rec, &r), 0);
	assert_int_equal(r.pid, 77);
	assert_false(r.killed);
}

static void other_records_are_ignored(void **state)
{
	struct seccomp_record r;

	(void)state;
	assert_int_equal(kmsg_parse_seccomp("6,1,2,-;EXT4-fs (vda): mounted", &r), -1);
	assert_int_equal(kmsg_parse_seccomp("5,1,2,-;audit: type=1326 pid=1", &r), -1);
	/* "ppid=" must not be taken for "pid=". */
	assert_int_equal(kmsg_parse_seccomp("audit: type=1326 ppid=5 arch=c000003e syscall=1 "
					    "code=0x80000000",
					    &r),
			 -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kill_record_is_parsed),
		cmocka_unit_test(log_record_is_not_a_kill),
		cmocka_unit_test(other_records_are_ignored),
	};

	return cmocka_run_group_tests_name("kmsg", tests, NULL, NULL);
}
