/*
 * test_config.c - config.json: clear one-line errors for a missing file,
 * bad JSON and wrong types; defaults; and the atomic rewrite.
 */
#include "testutil.h"

#include <sys/stat.h>

#include "config.h"

static char *dir;
static char path[512];

static int setup(void **state)
{
	(void)state;
	test_fixture(&dir, path, sizeof(path), "config.json");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	test_fixture_free(&dir);
	return 0;
}

static void load_error(const char *text, const char *expect)
{
	struct device_config cfg;
	char err[512] = "";

	if (text != NULL)
		test_write_file(path, text);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -1);
	assert_null(strchr(err, '\n'));
	if (strstr(err, expect) == NULL)
		fail_msg("error '%s' does not mention '%s'", err, expect);
	assert_non_null(strstr(err, path));
}

static void missing_file_names_the_path(void **state)
{
	(void)state;
	load_error(NULL, "cannot open");
}

static void invalid_json_gives_line_and_column(void **state)
{
	(void)state;
	load_error("{\"uuid\": \"abc\",\n  oops}", "invalid JSON at line 2");
}

static void non_object_is_refused(void **state)
{
	(void)state;
	load_error("[1,2]", "must be an object");
}

static void wrong_types_name_the_key(void **state)
{
	(void)state;
	load_error("{\"listenPort\": \"48484\"}", "\"listenPort\" must be an integer");
	load_error("{\"apiEndpoint\": 5}", "\"apiEndpoint\" must be a string");
	load_error("{\"developmentMode\": \"yes\"}", "\"developmentMode\" must be a boolean");
	load_error("{\"listenPort\": 70000}", "1-65535");
}

static void defaults_and_unmanaged(void **state)
{
	struct device_config cfg;
	char err[256];

	(void)state;
	test_write_file(path, "{\"uuid\":\"abc\",\"vendorThing\":[1]}");
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.listen_port, 48484);
	assert_false(config_managed(&cfg));
	assert_string_equal(cfg.uuid, "abc");
	config_free(&cfg);
	test_write_file(path, "{\"apiEndpoint\":\"https://api.example\",\"listenPort\":1234}");
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), 0);
	assert_true(config_managed(&cfg));
	assert_int_equal(cfg.listen_port, 1234);
	config_free(&cfg);
}

static void atomic_write_replaces_with_mode_0600(void **state)
{
	struct device_config cfg;
	char err[256], tmp[600];
	struct stat st;
	json_t *root;

	(void)state;
	test_write_file(path, "{\"uuid\":\"old\"}");
	chmod(path, 0644);
	root = json_pack("{s:s, s:i, s:[i]}", "uuid", "new", "listenPort", 4000, "keep", 1);
	assert_int_equal(config_write_atomic(path, root, err, sizeof(err)), 0);
	json_decref(root);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.uuid, "new");
	assert_int_equal(cfg.listen_port, 4000);
	assert_non_null(json_object_get(cfg.root, "keep"));
	config_free(&cfg);
}

static void atomic_write_into_missing_dir_fails_cleanly(void **state)
{
	char err[256] = "", bad[600];
	json_t *root = json_object();

	(void)state;
	snprintf(bad, sizeof(bad), "%s/nodir/config.json", dir);
	assert_int_equal(config_write_atomic(bad, root, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot write"));
	json_decref(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(missing_file_names_the_path),
		cmocka_unit_test(invalid_json_gives_line_and_column),
		cmocka_unit_test(non_object_is_refused),
		cmocka_unit_test(wrong_types_name_the_key),
		cmocka_unit_test(defaults_and_unmanaged),
		cmocka_unit_test(atomic_write_replaces_with_mode_0600),
		cmocka_unit_test(atomic_write_into_missing_dir_fails_cleanly),
	};

	return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
