/*
 * test_settings.c - agentd.json: built-in defaults, per-daemon overrides,
 * and a clear error for anything unknown or mistyped.
 */
#include "testutil.h"

#include "settings.h"

static char *dir;
static char path[512];

static int setup(void **state)
{
	(void)state;
	test_fixture(&dir, path, sizeof(path), "agentd.json");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	test_fixture_free(&dir);
	return 0;
}

static void expect_error(const char *text, const char *expect)
{
	struct settings s;
	char err[512] = "";

	settings_default(&s);
	test_write_file(path, text);
	assert_int_equal(settings_load(path, &s, err, sizeof(err)), -1);
	settings_free(&s);
	if (strstr(err, expect) == NULL)
		fail_msg("error '%s' does not mention '%s'", err, expect);
}

static void overrides_apply_to_the_named_daemon_only(void **state)
{
	struct settings s;
	char err[256];

	(void)state;
	settings_default(&s);
	test_write_file(path,
			"{\"user\":\"daemon\",\"daemons\":{\"apid\":{\"restart\":\"on-failure\","
			"\"burst_limit\":3,\"backoff_initial_ms\":10}}}");
	assert_int_equal(settings_load(path, &s, err, sizeof(err)), 0);
	assert_string_equal(s.user, "daemon");
	assert_int_equal(s.policy[D_APID].mode, RESTART_ON_FAILURE);
	assert_int_equal(s.policy[D_APID].burst_limit, 3);
	assert_int_equal(s.policy[D_APID].backoff_initial_ms, 10);
	assert_int_equal(s.policy[D_APID].backoff_max_ms, 30000);
	assert_int_equal(s.policy[D_ENGINECTL].mode, RESTART_ALWAYS);
	assert_int_equal(s.policy[D_ENGINECTL].burst_limit, 10);
	settings_free(&s);
}

static void api_cap_and_boot_dir_have_defaults_and_overrides(void **state)
{
	struct settings s;
	char err[256];

	(void)state;
	settings_default(&s);
	assert_int_equal(s.api_max_connections, 128);
	assert_string_equal(s.boot_dir, "/mnt/boot");
	test_write_file(path, "{\"api_max_connections\":3,\"boot_dir\":\"/tmp/boot\"}");
	assert_int_equal(settings_load(path, &s, err, sizeof(err)), 0);
	assert_int_equal(s.api_max_connections, 3);
	assert_string_equal(s.boot_dir, "/tmp/boot");
	settings_free(&s);
}

static void bad_files_are_clear_errors(void **state)
{
	(void)state;
	expect_error("{", "agentd.json");
	expect_error("{\"colour\":1}", "unknown key \"colour\"");
	expect_error("{\"daemons\":{\"webd\":{}}}", "unknown daemon \"webd\"");
	expect_error("{\"daemons\":{\"apid\":{\"restart\":\"sometimes\"}}}", "always, on-failure");
	expect_error("{\"daemons\":{\"apid\":{\"burst_limit\":0}}}", "burst_limit");
	expect_error("{\"daemons\":{\"apid\":{\"burst_limit\":\"3\"}}}", "burst_limit");
	expect_error("{\"daemons\":{\"apid\":{\"backoff_initial_ms\":500,\"backoff_max_ms\":100}}}",
		     "backoff_max_ms");
	expect_error("{\"daemons\":{\"apid\":{\"retries\":1}}}", "daemons.apid: unknown key");
	expect_error("{\"user\":\"\"}", "user");
	expect_error("{\"api_max_connections\":0}", "api_max_connections");
	expect_error("{\"api_max_connections\":\"9\"}", "api_max_connections");
	expect_error("{\"boot_dir\":\"\"}", "boot_dir");
	expect_error("{\"boot_dir\":7}", "boot_dir");
	expect_error("{\"state_dir\":\"\"}", "state_dir");
	expect_error("{\"configfs_dir\":true}", "configfs_dir");
	expect_error("{\"odmdata_device\":\"\"}", "odmdata_device");
	expect_error("{\"configfs_modprobe\":\"modprobe\"}", "configfs_modprobe");
	expect_error("{\"configfs_modprobe\":[]}", "configfs_modprobe");
}

/* The boot configuration's device files and the VPN's status: "" until
 * agentd.json names them (then paths.c looks under the host root). */
static void device_paths_are_unset_until_named(void **state)
{
	struct settings s;
	char err[256];

	(void)state;
	settings_default(&s);
	assert_string_equal(s.configfs_dir, "");
	assert_string_equal(s.odmdata_device, "");
	assert_string_equal(s.configfs_modprobe[0], "modprobe");
	assert_string_equal(s.configfs_modprobe[1], "acpi_configfs");
	assert_null(s.configfs_modprobe[2]);
	test_write_file(path, "{\"configfs_dir\":\"/c\",\"acpi_tables_dir\":\"/a\","
			      "\"odmdata_device\":\"/d\",\"odmdata_force_ro\":\"/f\","
			      "\"vpn_status_dir\":\"/v\",\"configfs_modprobe\":[\"true\"]}");
	assert_int_equal(settings_load(path, &s, err, sizeof(err)), 0);
	assert_string_equal(s.configfs_dir, "/c");
	assert_string_equal(s.acpi_tables_dir, "/a");
	assert_string_equal(s.odmdata_device, "/d");
	assert_string_equal(s.odmdata_force_ro, "/f");
	assert_string_equal(s.vpn_status_dir, "/v");
	assert_string_equal(s.configfs_modprobe[0], "true");
	assert_null(s.configfs_modprobe[1]);
	settings_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(overrides_apply_to_the_named_daemon_only),
		cmocka_unit_test(api_cap_and_boot_dir_have_defaults_and_overrides),
		cmocka_unit_test(device_paths_are_unset_until_named),
		cmocka_unit_test(bad_files_are_clear_errors),
	};

	return cmocka_run_group_tests_name("settings", tests, setup, teardown);
}
