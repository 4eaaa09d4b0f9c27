/*
 * test_powerfan.c - HOST_CONFIG_power_mode and HOST_CONFIG_fan_profile on a
 * Jetson Orin: which device types, config.json's os.power.mode and
 * os.fan.profile written (other keys kept), a reboot only for a new power
 * mode, a var taken away, the values read back, and a config.json whose os
 * is no object.
 */
#include "testutil.h"

#include "jsonx.h"
#include "powerfan.h"

/* The backend's target from config vars; a refusal fails the test. */
static json_t *target(const char *config_json)
{
	return test_from_target(powerfan_from_target, config_json);
}

static void orin_boards_only(void **state)
{
	(void)state;
	assert_true(powerfan_applies("jetson-agx-orin-devkit"));
	assert_true(powerfan_applies("jetson-orin-nano-devkit-nvme"));
	assert_false(powerfan_applies("jetson-agx-orin"));
	assert_false(powerfan_applies("jetson-xavier"));
	assert_false(powerfan_applies(NULL));
}

static void the_two_vars_and_nothing_else(void **state)
{
	json_t *t = target("{\"HOST_CONFIG_power_mode\":\"low\",\"HOST_CONFIG_fan_profile\":"
			   "\"quiet\",\"HOST_CONFIG_gpu_mem\":\"16\"}");
	char err[256];

	(void)state;
	test_assert_json(t, "{\"power_mode\":\"low\",\"fan_profile\":\"quiet\"}");
	json_decref(t);
	test_refused(powerfan_from_target, "{\"HOST_CONFIG_power_mode\":\"low\\nhigh\"}", err,
		     sizeof(err));
	assert_non_null(strstr(err, "HOST_CONFIG_power_mode: not a power mode"));
}

static void config_json_gets_os_power_and_fan(void **state)
{
	json_t *root = test_json("{\"uuid\":\"u\",\"os\":{\"kernel\":{\"extraFirmwareVol\":\"x\"},"
				 "\"fan\":{\"speed\":3}}}");
	json_t *t = target("{\"HOST_CONFIG_power_mode\":\"high\","
			   "\"HOST_CONFIG_fan_profile\":\"cool\"}");
	json_t *keys = jsonx_keys(t), *cur;
	char err[256];
	int reboot = -1;

	(void)state;
	assert_int_equal(powerfan_render(root, t, NULL, &reboot, err, sizeof(err)), 1);
	assert_int_equal(reboot, 1);
	test_assert_json(
		root, "{\"uuid\":\"u\",\"os\":{\"kernel\":{\"extraFirmwareVol\":\"x\"},"
		      "\"fan\":{\"speed\":3,\"profile\":\"cool\"},\"power\":{\"mode\":\"high\"}}}");
	cur = powerfan_current(root);
	test_assert_json(cur, "{\"HOST_CONFIG_power_mode\":\"high\",\"HOST_CONFIG_fan_profile\":"
			      "\"cool\"}");
	json_decref(cur);
	/* again: nothing changes */
	assert_int_equal(powerfan_render(root, t, keys, &reboot, err, sizeof(err)), 0);
	assert_int_equal(reboot, 0);
	json_decref(t);
	/* only the fan profile changes: no reboot */
	t = target("{\"HOST_CONFIG_power_mode\":\"high\",\"HOST_CONFIG_fan_profile\":\"quiet\"}");
	assert_int_equal(powerfan_render(root, t, keys, &reboot, err, sizeof(err)), 1);
	assert_int_equal(reboot, 0);
	json_decref(t);
	/* both taken away: agentd's keys go, the rest stays */
	t = json_object();
	assert_int_equal(powerfan_render(root, t, keys, &reboot, err, sizeof(err)), 1);
	assert_int_equal(reboot, 1);
	test_assert_json(root, "{\"uuid\":\"u\",\"os\":{\"kernel\":{\"extraFirmwareVol\":\"x\"},"
			       "\"fan\":{\"speed\":3}}}");
	json_decref(t);
	json_decref(keys);
	json_decref(root);
}

static void values_agentd_did_not_write_stay_and_bad_os_is_refused(void **state)
{
	json_t *root = test_json("{\"os\":{\"power\":{\"mode\":\"mid\"}}}"), *none = json_object();
	json_t *t = target("{\"HOST_CONFIG_power_mode\":\"low\"}");
	char err[256];
	int reboot;

	(void)state;
	assert_int_equal(powerfan_render(root, none, NULL, &reboot, err, sizeof(err)), 0);
	test_assert_json(root, "{\"os\":{\"power\":{\"mode\":\"mid\"}}}");
	json_decref(root);
	root = test_json("{\"os\":\"nope\"}");
	assert_int_equal(powerfan_render(root, t, NULL, &reboot, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "\"os\" is not an object"));
	json_decref(root);
	root = test_json("{\"os\":{\"power\":[1]}}");
	assert_int_equal(powerfan_render(root, t, NULL, &reboot, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "\"os.power\" is not an object"));
	json_decref(root);
	/* no os yet: made */
	root = test_json("{}");
	assert_int_equal(powerfan_render(root, t, NULL, &reboot, err, sizeof(err)), 1);
	test_assert_json(root, "{\"os\":{\"power\":{\"mode\":\"low\"}}}");
	json_decref(root);
	json_decref(none);
	json_decref(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(orin_boards_only),
		cmocka_unit_test(the_two_vars_and_nothing_else),
		cmocka_unit_test(config_json_gets_os_power_and_fan),
		cmocka_unit_test(values_agentd_did_not_write_stay_and_bad_os_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
