/*
 * test_firewall.c - the host firewall's rules for each HOST_FIREWALL_MODE,
 * local mode, IPv6 and the API port, exactly as iptables-restore gets them;
 * and firewall_apply against stand-in programs (shell scripts that record
 * what they were given), so no root and no iptables are needed here.
 */
#include "testutil.h"

#include <sys/stat.h>

#include "firewall.h"

#define C "BALENA-FIREWALL"
#define HEAD(family, mode)                                                                         \
	"# agentd host firewall (IPv" family "): mode " mode "\n*filter\n:" C " - [0:0]\n-F " C "\n"
#define JUMP_AT_1 "-I INPUT 1 -j " C "\n"
#define POLICY                                                                                     \
	"-A " C " -m state --state ESTABLISHED,RELATED -j ACCEPT\n"                                \
	"-A " C " -m addrtype --src-type LOCAL -j ACCEPT\n"
#define API(port)                                                                                  \
	"-A " C " -p tcp --dport " port " -i resin-vpn -j ACCEPT\n"                                \
	"-A " C " -p tcp --dport " port " -i tun0 -j ACCEPT\n"                                     \
	"-A " C " -p tcp --dport " port " -i docker0 -j ACCEPT\n"                                  \
	"-A " C " -p tcp --dport " port " -i lo -j ACCEPT\n"                                       \
	"-A " C " -p tcp --dport " port " -i supervisor0 -j ACCEPT\n"                              \
	"-A " C " -p tcp --dport " port " -j REJECT\n"
#define SERVICES(icmp)                                                                             \
	"-A " C " -p tcp --dport 22222 -j ACCEPT\n"                                                \
	"-A " C " -p tcp --dport 2375 -j ACCEPT\n"                                                 \
	"-A " C " -m addrtype --dst-type MULTICAST -j ACCEPT\n"                                    \
	"-A " C " -p " icmp " -j ACCEPT\n"                                                         \
	"-A " C " -p udp --dport 53 -i balena0 -j ACCEPT\n"                                        \
	"-A " C " -p udp --dport 53 -i br+ -j ACCEPT\n"
#define RETURN     "-A " C " -j RETURN\n"
#define REJECT_ALL "-A " C " -j REJECT\nCOMMIT\n"

#define OFF_V4(mode)                                                                               \
	HEAD("4", mode) JUMP_AT_1 POLICY API("48484") SERVICES("icmp") RETURN REJECT_ALL
#define ON_V4(mode) HEAD("4", mode) JUMP_AT_1 POLICY API("48484") SERVICES("icmp") REJECT_ALL

static void assert_rules(const struct firewall_params *p, int ipv6, const char *expect)
{
	char *got = firewall_rules(p, ipv6);

	assert_non_null(got);
	if (strcmp(got, expect) != 0)
		fail_msg("got:\n%s\nnot:\n%s", got, expect);
	free(got);
}

static void mode_on_rejects_all_but_the_balena_services(void **state)
{
	struct firewall_params p = {.mode = "on", .api_port = 48484};

	(void)state;
	assert_true(firewall_filters(&p));
	assert_rules(&p, 0,
		     "# agentd host firewall (IPv4): mode on\n"
		     "*filter\n"
		     ":BALENA-FIREWALL - [0:0]\n"
		     "-F BALENA-FIREWALL\n"
		     "-I INPUT 1 -j BALENA-FIREWALL\n"
		     "-A BALENA-FIREWALL -m state --state ESTABLISHED,RELATED -j ACCEPT\n"
		     "-A BALENA-FIREWALL -m addrtype --src-type LOCAL -j ACCEPT\n"
		     "-A BALENA-FIREWALL -p tcp --dport 48484 -i resin-vpn -j ACCEPT\n"
		     "-A BALENA-FIREWALL -p tcp --dport 48484 -i tun0 -j ACCEPT\n"
		     "-A BALENA-FIREWALL -p tcp --dport 48484 -i docker0 -j ACCEPT\n"
		     "-A BALENA-FIREWALL -p tcp --dport 48484 -i lo -j ACCEPT\n"
		     "-A BALENA-FIREWALL -p tcp --dport 48484 -i supervisor0 -j ACCEPT\n"
		     "-A BALENA-FIREWALL -p tcp --dport 48484 -j REJECT\n"
		     "-A BALENA-FIREWALL -p tcp --dport 22222 -j ACCEPT\n"
		     "-A BALENA-FIREWALL -p tcp --dport 2375 -j ACCEPT\n"
		     "-A BALENA-FIREWALL -m addrtype --dst-type MULTICAST -j ACCEPT\n"
		     "-A BALENA-FIREWALL -p icmp -j ACCEPT\n"
		     "-A BALENA-FIREWALL -p udp --dport 53 -i balena0 -j ACCEPT\n"
		     "-A BALENA-FIREWALL -p udp --dport 53 -i br+ -j ACCEPT\n"
		     "-A BALENA-FIREWALL -j REJECT\n"
		     "COMMIT\n");
}

static void mode_off_returns_to_input_but_still_guards_the_api(void **state)
{
	struct firewall_params p = {.mode = "off", .api_port = 48484};

	(void)state;
	assert_false(firewall_filters(&p));
	assert_rules(&p, 0, OFF_V4("off"));
}

static void unset_mode_is_off(void **state)
{
	struct firewall_params p = {.mode = NULL, .api_port = 48484};

	(void)state;
	assert_rules(&p, 0, OFF_V4("off"));
	p.mode = "";
	assert_rules(&p, 0, OFF_V4("off"));
}

static void invalid_mode_is_off_and_stays_out_of_the_rules(void **state)
{
	struct firewall_params p = {.mode = "ON\n-A INPUT -j ACCEPT", .api_port = 48484};

	(void)state;
	assert_false(firewall_filters(&p));
	assert_rules(&p, 0, OFF_V4("off (not on, off or auto)"));
	p.mode = "true";
	assert_rules(&p, 0, OFF_V4("off (not on, off or auto)"));
}

static void auto_without_host_network_services_is_off(void **state)
{
	struct firewall_params p = {.mode = "auto", .api_port = 48484};

	(void)state;
	assert_false(firewall_filters(&p));
	assert_rules(&p, 0, OFF_V4("auto, off: no service uses the host network"));
}

static void auto_with_host_network_services_is_on(void **state)
{
	struct firewall_params p = {.mode = "auto", .host_network_services = 2, .api_port = 48484};

	(void)state;
	assert_true(firewall_filters(&p));
	assert_rules(&p, 0, ON_V4("auto, on: a service uses the host network"));
}

static void host_network_services_matter_only_in_auto(void **state)
{
	struct firewall_params p = {.mode = "off", .host_network_services = 1, .api_port = 48484};

	(void)state;
	assert_false(firewall_filters(&p));
	assert_rules(&p, 0, OFF_V4("off"));
	p.mode = "on";
	p.host_network_services = 0;
	assert_true(firewall_filters(&p));
}

static void local_mode_opens_the_api_port_on_every_interface(void **state)
{
	struct firewall_params p = {.mode = "on", .local_mode = 1, .api_port = 48484};

	(void)state;
	assert_rules(&p, 0,
		     HEAD("4", "on; local mode") JUMP_AT_1 POLICY
		     "-A " C " -p tcp --dport 48484 -j ACCEPT\n"
		     "-A " C " -p tcp --dport 48484 -j REJECT\n" SERVICES("icmp") REJECT_ALL);
	p.mode = "off";
	assert_rules(&p, 0,
		     HEAD("4", "off; local mode") JUMP_AT_1 POLICY
		     "-A " C " -p tcp --dport 48484 -j ACCEPT\n"
		     "-A " C " -p tcp --dport 48484 -j REJECT\n" SERVICES("icmp")
			     RETURN REJECT_ALL);
}

static void ipv6_has_the_same_rules_with_icmpv6(void **state)
{
	struct firewall_params p = {.mode = "on", .api_port = 48484};

	(void)state;
	assert_rules(&p, 1,
		     HEAD("6", "on") JUMP_AT_1 POLICY API("48484") SERVICES("ipv6-icmp")
			     REJECT_ALL);
	p.mode = "auto";
	assert_rules(&p, 1,
		     HEAD("6", "auto, off: no service uses the host network")
			     JUMP_AT_1 POLICY API("48484") SERVICES("ipv6-icmp") RETURN REJECT_ALL);
}

static void the_api_rules_follow_a_non_default_port(void **state)
{
	struct firewall_params p = {.mode = "on", .api_port = 1234};

	(void)state;
	assert_rules(&p, 0,
		     HEAD("4", "on") JUMP_AT_1 POLICY API("1234") SERVICES("icmp") REJECT_ALL);
}

static void a_port_out_of_range_renders_nothing(void **state)
{
	struct firewall_params p = {.mode = "on", .api_port = 0};

	(void)state;
	assert_null(firewall_rules(&p, 0));
	p.api_port = 65536;
	assert_null(firewall_rules(&p, 1));
	p.api_port = -1;
	assert_null(firewall_rules(&p, 0));
	p.api_port = 65535;
	free(firewall_rules(&p, 0));
}

static void every_jump_to_the_chain_is_replaced_by_one_where_the_first_was(void **state)
{
	struct firewall_params p = {.mode = "on", .api_port = 48484};
	char *got = firewall_rules_over(&p, 0,
					"-P INPUT ACCEPT\n"
					"-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT\n"
					"-A INPUT -j BALENA-FIREWALL\n"
					"-A INPUT -i eth0 -j ACCEPT\n"
					"-A INPUT -j BALENA-FIREWALL\n");

	(void)state;
	assert_non_null(got);
	assert_string_equal(got, HEAD("4", "on") "-D INPUT -j " C "\n-D INPUT -j " C "\n"
						 "-I INPUT 2 -j " C "\n" POLICY API("48484")
							 SERVICES("icmp") REJECT_ALL);
	free(got);
}

static void only_plain_jumps_to_the_chain_are_ours(void **state)
{
	struct firewall_params p = {.mode = "off", .api_port = 48484};
	char *got = firewall_rules_over(&p, 0,
					"-P INPUT ACCEPT\r\n"
					"-A INPUT -i eth0 -j BALENA-FIREWALL\n"
					"-A INPUT -j BALENA-FIREWALL-OLD\n"
					"-A FORWARD -j BALENA-FIREWALL\n"
					"-A INPUT -j BALENA-FIREWALL \r\n");

	(void)state;
	assert_non_null(got);
	assert_string_equal(got, HEAD("4", "off") "-D INPUT -j " C "\n-I INPUT 3 -j " C
						  "\n" POLICY API("48484") SERVICES("icmp")
							  RETURN REJECT_ALL);
	free(got);
	got = firewall_rules_over(&p, 0, "-P INPUT ACCEPT\n-A INPUT -j BALENA-FIREWALL-OLD");
	assert_non_null(got);
	assert_string_equal(got, OFF_V4("off"));
	free(got);
}

/* ---- firewall_apply against stand-in programs ---- */

struct fake {
	char *dir;
	char list[256], restore4[256], restore6[256];
	struct firewall fw;
};

static void fake_script(const char *path, const char *body)
{
	char text[1024];

	snprintf(text, sizeof(text), "#!/bin/sh\n%s\n", body);
	test_write_file(path, text);
	assert_int_equal(chmod(path, 0755), 0);
}

/* `iptables -S INPUT` prints $dir/input; each restore keeps its stdin and
 * arguments in $dir/restored4 (6) and $dir/args4 (6). */
static int fake_setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	char body[768];

	assert_non_null(f);
	f->dir = test_tmpdir();
	snprintf(f->list, sizeof(f->list), "%s/list", f->dir);
	snprintf(f->restore4, sizeof(f->restore4), "%s/restore4", f->dir);
	snprintf(f->restore6, sizeof(f->restore6), "%s/restore6", f->dir);
	snprintf(body, sizeof(body), "[ \"$*\" = '-w -S INPUT' ] || exit 9\ncat '%s/input'",
		 f->dir);
	fake_script(f->list, body);
	for (int v = 4; v <= 6; v += 2) {
		snprintf(body, sizeof(body), "cat > '%s/restored%d'\necho \"$*\" > '%s/args%d'",
			 f->dir, v, f->dir, v);
		fake_script(v == 4 ? f->restore4 : f->restore6, body);
	}
	snprintf(body, sizeof(body), "%s/input", f->dir);
	test_write_file(body, "-P INPUT ACCEPT\n-A INPUT -j BALENA-FIREWALL\n");
	f->fw.list4 = f->fw.list6 = f->list;
	f->fw.restore4 = f->restore4;
	f->fw.restore6 = f->restore6;
	*state = f;
	return 0;
}

static int fake_teardown(void **state)
{
	struct fake *f = *state;

	test_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static char *fake_read(struct fake *f, const char *name)
{
	char path[512], *text = NULL;
	size_t len = 0;
	FILE *in;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	if ((in = fopen(path, "r")) == NULL)
		return NULL;
	assert_int_equal(getdelim(&text, &len, '\0', in) >= 0, 1);
	fclose(in);
	return text;
}

static void fake_forget(struct fake *f, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	unlink(path);
}

static void apply_feeds_each_family_its_rules_on_stdin(void **state)
{
	struct fake *f = *state;
	struct firewall_params p = {.mode = "on", .api_port = 48484};
	char err[256], *got, *expect;

	assert_int_equal(firewall_apply(&f->fw, &p, err, sizeof(err)), 1);
	for (int ipv6 = 0; ipv6 <= 1; ipv6++) {
		got = fake_read(f, ipv6 ? "restored6" : "restored4");
		expect = firewall_rules_over(&p, ipv6, "-A INPUT -j BALENA-FIREWALL\n");
		assert_non_null(got);
		assert_string_equal(got, expect);
		assert_non_null(strstr(got, "-D INPUT -j BALENA-FIREWALL\n-I INPUT 1 -j"));
		free(got);
		free(expect);
		got = fake_read(f, ipv6 ? "args6" : "args4");
		assert_string_equal(got, "-w --noflush\n");
		free(got);
	}
}

static void the_same_rules_are_not_applied_twice(void **state)
{
	struct fake *f = *state;
	struct firewall_params p = {.mode = "auto", .api_port = 48484};
	char err[256], *got;

	assert_int_equal(firewall_apply(&f->fw, &p, err, sizeof(err)), 1);
	fake_forget(f, "restored4");
	assert_int_equal(firewall_apply(&f->fw, &p, err, sizeof(err)), 0);
	p.mode = "off"; /* other words, the same rules */
	assert_int_equal(firewall_apply(&f->fw, &p, err, sizeof(err)), 0);
	assert_null(fake_read(f, "restored4"));

	p.host_network_services = 1; /* still off: nothing to do */
	assert_int_equal(firewall_apply(&f->fw, &p, err, sizeof(err)), 0);
	p.mode = "auto"; /* now on */
	assert_int_equal(firewall_apply(&f->fw, &p, err, sizeof(err)), 1);
	p.local_mode = 1;
	assert_int_equal(firewall_apply(&f->fw, &p, err, sizeof(err)), 1);
	p.api_port = 48485;
	assert_int_equal(firewall_apply(&f->fw, &p, err, sizeof(err)), 1);
	got = fake_read(f, "restored4");
	assert_non_null(got);
	assert_non_null(strstr(got, "--dport 48485 -j ACCEPT\n"));
	free(got);
}

static void a_failing_restore_gives_its_first_stderr_line_and_is_retried(void **state)
{
	struct fake *f = *state;
	struct firewall_params p = {.mode = "on", .api_port = 48484};
	char err[256];

	fake_script(f->restore6, "cat >/dev/null\necho 'ip6tables-restore v1.8.9: line 5 "
				 "failed' >&2\necho 'Error occurred at line: 5' >&2\nexit 2");
	assert_int_equal(firewall_apply(&f->fw, &p, err, sizeof(err)), -1);
	assert_string_equal(err, "ip6tables-restore v1.8.9: line 5 failed");
	assert_int_equal(firewall_apply(&f->fw, &p, err, sizeof(err)), -1);
	fake_script(f->restore6, "cat >/dev/null");
	assert_int_equal(firewall_apply(&f->fw, &p, err, sizeof(err)), 1);
}

static void a_silent_failure_says_how_the_program_ended(void **state)
{
	struct fake *f = *state;
	struct firewall_params p = {.mode = "on", .api_port = 48484};
	char err[512];

	fake_script(f->restore4, "exit 3"); /* does not even read its stdin */
	assert_int_equal(firewall_apply(&f->fw, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "restore4: exit status 3"));
	fake_script(f->restore4, "kill -TERM $$");
	assert_int_equal(firewall_apply(&f->fw, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "restore4: killed by signal 15"));
}

static void a_failing_list_stops_the_apply(void **state)
{
	struct fake *f = *state;
	struct firewall_params p = {.mode = "on", .api_port = 48484};
	char err[256];

	fake_script(f->list, "echo 'iptables: Permission denied (you must be root)' >&2\nexit 4");
	assert_int_equal(firewall_apply(&f->fw, &p, err, sizeof(err)), -1);
	assert_string_equal(err, "iptables: Permission denied (you must be root)");
	assert_null(fake_read(f, "restored4"));
}

static void a_missing_program_is_named(void **state)
{
	struct fake *f = *state;
	struct firewall_params p = {.mode = "on", .api_port = 48484};
	char err[256];

	f->fw.restore4 = "/nonexistent/iptables-restore";
	assert_int_equal(firewall_apply(&f->fw, &p, err, sizeof(err)), -1);
	assert_string_equal(err, "cannot run /nonexistent/iptables-restore: No such file or "
				 "directory");
}

static void a_hung_program_is_killed_at_the_deadline(void **state)
{
	struct fake *f = *state;
	struct firewall_params p = {.mode = "on", .api_port = 48484};
	char err[256];

	fake_script(f->list, "exec sleep 60"); /* the first program run */
	f->fw.timeout_ms = 500;
	assert_int_equal(firewall_apply(&f->fw, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/list: no answer within 500 ms"));
	assert_null(fake_read(f, "restored4"));
}

static void a_bad_port_is_an_error_before_anything_runs(void **state)
{
	struct fake *f = *state;
	struct firewall_params p = {.mode = "on", .api_port = 70000};
	char err[256];

	assert_int_equal(firewall_apply(&f->fw, &p, err, sizeof(err)), -1);
	assert_string_equal(err, "API port 70000 is not a port");
	assert_null(fake_read(f, "restored4"));
}

#define FAKE_TEST(t) cmocka_unit_test_setup_teardown(t, fake_setup, fake_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mode_on_rejects_all_but_the_balena_services),
		cmocka_unit_test(mode_off_returns_to_input_but_still_guards_the_api),
		cmocka_unit_test(unset_mode_is_off),
		cmocka_unit_test(invalid_mode_is_off_and_stays_out_of_the_rules),
		cmocka_unit_test(auto_without_host_network_services_is_off),
		cmocka_unit_test(auto_with_host_network_services_is_on),
		cmocka_unit_test(host_network_services_matter_only_in_auto),
		cmocka_unit_test(local_mode_opens_the_api_port_on_every_interface),
		cmocka_unit_test(ipv6_has_the_same_rules_with_icmpv6),
		cmocka_unit_test(the_api_rules_follow_a_non_default_port),
		cmocka_unit_test(a_port_out_of_range_renders_nothing),
		cmocka_unit_test(every_jump_to_the_chain_is_replaced_by_one_where_the_first_was),
		cmocka_unit_test(only_plain_jumps_to_the_chain_are_ours),
		FAKE_TEST(apply_feeds_each_family_its_rules_on_stdin),
		FAKE_TEST(the_same_rules_are_not_applied_twice),
		FAKE_TEST(a_failing_restore_gives_its_first_stderr_line_and_is_retried),
		FAKE_TEST(a_silent_failure_says_how_the_program_ended),
		FAKE_TEST(a_failing_list_stops_the_apply),
		FAKE_TEST(a_missing_program_is_named),
		FAKE_TEST(a_hung_program_is_killed_at_the_deadline),
		FAKE_TEST(a_bad_port_is_an_error_before_anything_runs),
	};

	return cmocka_run_group_tests_name("firewall", tests, NULL, NULL);
}
