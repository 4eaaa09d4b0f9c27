/*
 * test_configfs.c - configfs.json from HOST_CONFIGFS_ssdt on an UP board:
 * the value's forms (balena's "spidev1.0" case among them), names that
 * cannot be tables, the file's other keys kept, an unchanged file given
 * back as it is, a var taken away, and a file that is no JSON object.
 */
#include "testutil.h"

#include "configfs.h"
#include "jsonx.h"

/* The backend's target from config vars; a refusal fails the test. */
static json_t *target(const char *config_json)
{
	return test_from_target(configfs_from_target, config_json);
}

static void up_board_only(void **state)
{
	(void)state;
	assert_true(configfs_applies("up-board"));
	assert_false(configfs_applies("up-core"));
	assert_false(configfs_applies("raspberrypi4-64"));
	assert_false(configfs_applies(NULL));
}

static void one_name_or_a_quoted_list(void **state)
{
	json_t *t;
	char err[256];

	(void)state;
	t = target("{\"HOST_CONFIGFS_ssdt\":\"spidev1.0\",\"HOST_CONFIG_x\":\"1\"}");
	test_assert_json(t, "{\"ssdt\":[\"spidev1.0\"]}");
	json_decref(t);
	t = target("{\"HOST_CONFIGFS_ssdt\":\"\\\"spidev1.0\\\", \\\"i2c-tmp\\\"\"}");
	test_assert_json(t, "{\"ssdt\":[\"spidev1.0\",\"i2c-tmp\"]}");
	json_decref(t);
	t = target("{\"HOST_CONFIGFS_ssdt\":\"\"}");
	test_assert_json(t, "{}");
	json_decref(t);
	/* refused: another key, a name with a path in it */
	test_refused(configfs_from_target, "{\"HOST_CONFIGFS_dsdt\":\"x\"}", err, sizeof(err));
	assert_string_equal(err, "Attempt to change blacklisted config value dsdt");
	test_refused(configfs_from_target,
		     "{\"HOST_CONFIGFS_ssdt\":\"\\\"ok\\\",\\\"../../etc/x\\\"\"}", err,
		     sizeof(err));
	assert_non_null(strstr(err, "is not an ACPI table name"));
	test_refused(configfs_from_target, "{\"HOST_CONFIGFS_ssdt\":\"\\\"a\\\",\\\"\\\"\"}", err,
		     sizeof(err));
	assert_true(configfs_table_name_ok("spidev1.0"));
	assert_false(configfs_table_name_ok(".."));
	assert_false(configfs_table_name_ok("a/b"));
}

static void render_keeps_other_keys_and_unchanged_text(void **state)
{
	json_t *t = target("{\"HOST_CONFIGFS_ssdt\":\"\\\"a\\\",\\\"b\\\"\"}");
	json_t *keys = jsonx_keys(t), *none = json_object(), *cur;
	char err[256], *out, *same, *gone;
	const char *pretty = "{\n  \"other\": 1,\n  \"ssdt\": [\"a\", \"b\"]\n}\n";

	(void)state;
	out = configfs_render(NULL, t, NULL, err, sizeof(err));
	assert_string_equal(out, "{\"ssdt\":[\"a\",\"b\"]}");
	free(out);
	out = configfs_render("{\"other\":1}", t, NULL, err, sizeof(err));
	assert_string_equal(out, "{\"other\":1,\"ssdt\":[\"a\",\"b\"]}");
	/* the same tables: the text as it was, however it is laid out */
	same = configfs_render(pretty, t, keys, err, sizeof(err));
	assert_string_equal(same, pretty);
	/* the var taken away */
	gone = configfs_render(out, none, keys, err, sizeof(err));
	assert_string_equal(gone, "{\"other\":1}");
	free(gone);
	gone = configfs_render(out, none, NULL, err, sizeof(err));
	assert_string_equal(gone, out);
	cur = configfs_current(out);
	test_assert_json(cur, "{\"HOST_CONFIGFS_ssdt\":\"\\\"a\\\",\\\"b\\\"\"}");
	json_decref(cur);
	cur = configfs_tables(pretty);
	test_assert_json(cur, "[\"a\",\"b\"]");
	json_decref(cur);
	free(out);
	free(same);
	free(gone);
	json_decref(keys);
	json_decref(none);
	json_decref(t);
}

static void a_file_that_is_no_object_is_left_alone(void **state)
{
	json_t *t = target("{\"HOST_CONFIGFS_ssdt\":\"a\"}"), *cur;
	char err[256];

	(void)state;
	assert_null(configfs_render("[1,2]", t, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "is not a JSON object"));
	assert_null(configfs_render("{\"ssdt\":", t, NULL, err, sizeof(err)));
	cur = configfs_current("not json");
	test_assert_json(cur, "{}");
	json_decref(cur);
	json_decref(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(up_board_only),
		cmocka_unit_test(one_name_or_a_quoted_list),
		cmocka_unit_test(render_keeps_other_keys_and_unchanged_text),
		cmocka_unit_test(a_file_that_is_no_object_is_left_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
