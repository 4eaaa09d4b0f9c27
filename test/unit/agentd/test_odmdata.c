/*
 * test_odmdata.c - the ODM data backend with the balena supervisor's cases:
 * which device types, the byte of each configuration and back, copies that
 * differ or hold no configuration, and the variable's values.
 */
#include "testutil.h"

#include "odmdata.h"

static void tx2_boards_only(void **state)
{
	static const struct {
		const char *type;
		int applies;
	} cases[] = {
		{"blackboard-tx2", 1},
		{"jetson-tx2", 1},
		{"n510-tx2", 1},
		{"orbitty-tx2", 1},
		{"spacely-tx2", 1},
		{"srd3-tx2", 1},
		{"raspberry-pi", 0},
		{"up-board", 0},
		{"", 0},
		{"tx2", 0},
		{"jetson-tx2-nx-devkit", 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (odmdata_applies(cases[i].type) != cases[i].applies)
			fail_msg("%s: applies should be %d", cases[i].type, cases[i].applies);
	assert_false(odmdata_applies(NULL));
}

static void each_configuration_has_its_byte(void **state)
{
	static const unsigned char bytes[6] = {0x0, 0x1, 0x6, 0x7, 0x2, 0x3};
	unsigned char copies[ODMDATA_COPIES];
	char err[256];
	int mode;

	(void)state;
	assert_int_equal(odmdata_offsets[0], 1659);
	assert_int_equal(odmdata_offsets[1], 5243);
	assert_int_equal(odmdata_offsets[2], 18043);
	for (mode = 1; mode <= 6; mode++) {
		assert_int_equal(odmdata_byte(mode), bytes[mode - 1]);
		memset(copies, bytes[mode - 1], sizeof(copies));
		assert_int_equal(odmdata_mode(copies, err, sizeof(err)), mode);
	}
}

static void unknown_bytes_and_disagreeing_copies_are_refused(void **state)
{
	unsigned char nine[ODMDATA_COPIES] = {0x9, 0x9, 0x9}, split[ODMDATA_COPIES] = {1, 0, 0};
	char err[256];

	(void)state;
	assert_int_equal(odmdata_mode(nine, err, sizeof(err)), -1);
	assert_string_equal(err, "ODMDATA is set with an unsupported byte: 0x9");
	assert_int_equal(odmdata_mode(split, err, sizeof(err)), -1);
	assert_string_equal(err,
			    "Unable to parse ODMDATA configuration. Data at offsets do not match.");
}

static int from(const char *config_json, char *err, size_t errlen)
{
	json_t *c = test_json(config_json);
	int mode = odmdata_from_target(c, err, errlen);

	json_decref(c);
	return mode;
}

static void the_variable_is_a_configuration_from_1_to_6(void **state)
{
	static const char *const bad[] = {"0", "7", "02", "x", "", "1 ", NULL};
	char err[256], json[128];
	int i;

	(void)state;
	assert_int_equal(from("{\"HOST_ODMDATA_configuration\":\"4\"}", err, sizeof(err)), 4);
	assert_int_equal(from("{\"HOST_ODMDATA_configuration\":\"1\"}", err, sizeof(err)), 1);
	/* none named: the device's stays */
	assert_int_equal(from("{}", err, sizeof(err)), 0);
	/* the documented name that the supervisor never read is not this backend's */
	assert_int_equal(from("{\"HOST_CONFIG_odmdata_configuration\":\"2\"}", err, sizeof(err)),
			 0);
	for (i = 0; bad[i] != NULL; i++) {
		snprintf(json, sizeof(json), "{\"HOST_ODMDATA_configuration\":\"%s\"}", bad[i]);
		assert_int_equal(from(json, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "is not a configuration (1 to 6)"));
	}
	assert_int_equal(from("{\"HOST_ODMDATA_mode\":\"1\"}", err, sizeof(err)), -1);
	assert_string_equal(err, "Attempt to change blacklisted config value mode");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tx2_boards_only),
		cmocka_unit_test(each_configuration_has_its_byte),
		cmocka_unit_test(unknown_bytes_and_disagreeing_copies_are_refused),
		cmocka_unit_test(the_variable_is_a_configuration_from_1_to_6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
