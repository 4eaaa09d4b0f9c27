/*
 * test_bootcfg.c - config.txt from HOST_CONFIG_ vars: which device types,
 * list values, forbidden keys, lines kept and replaced, a var taken away,
 * dtoverlay parameters, and a second render changing nothing.
 */
#include "testutil.h"

#include "bootcfg.h"

#define MARK "# --- below: written by agentd from HOST_CONFIG_ variables ---\n"

static json_t *from(const char *config_json, const char *type)
{
	json_t *c = test_json(config_json), *t;
	char err[256] = "";

	t = bootcfg_from_target(c, type, err, sizeof(err));
	json_decref(c);
	if (t == NULL)
		fail_msg("rejected: %s", err);
	return t;
}

static void device_types_with_config_txt(void **state)
{
	(void)state;
	assert_true(bootcfg_applies("raspberrypi4-64"));
	assert_true(bootcfg_applies("raspberry-pi"));
	assert_true(bootcfg_applies("fincm3"));
	assert_true(bootcfg_applies("revpi-core-3"));
	assert_false(bootcfg_applies("generic-amd64"));
	assert_false(bootcfg_applies("jetson-nano"));
	assert_false(bootcfg_applies(NULL));
}

static void vars_become_keys_and_lists(void **state)
{
	json_t *t = from("{\"HOST_CONFIG_gpu_mem\":\"128\",\"HOST_CONFIG_dtparam\":"
			 "\"\\\"i2c_arm=on\\\",\\\"spi=on\\\"\",\"HOST_CONFIG_gpio\":\"4=op\","
			 "\"SUPERVISOR_POLL_INTERVAL\":\"60000\"}",
			 "raspberrypi3");
	json_t *want = test_json("{\"gpu_mem\":\"128\",\"dtparam\":[\"i2c_arm=on\",\"spi=on\"],"
				 "\"gpio\":[\"4=op\"]}");

	(void)state;
	assert_true(json_equal(t, want));
	json_decref(t);
	json_decref(want);
	t = from("{}", "fincm3");
	want = test_json("{\"dtoverlay\":[\"balena-fin\"]}");
	assert_true(json_equal(t, want));
	json_decref(t);
	json_decref(want);
}

static void forbidden_and_bad_values_are_refused(void **state)
{
	json_t *c = test_json("{\"HOST_CONFIG_kernel\":\"evil.img\"}");
	char err[256] = "";

	(void)state;
	assert_null(bootcfg_from_target(c, "raspberrypi4-64", err, sizeof(err)));
	assert_string_equal(err, "Attempt to change blacklisted config value kernel");
	json_decref(c);
	c = test_json("{\"HOST_CONFIG_gpu_mem\":\"1\\nkernel=x\"}");
	assert_null(bootcfg_from_target(c, "raspberrypi4-64", err, sizeof(err)));
	assert_non_null(strstr(err, "span lines"));
	json_decref(c);
	c = test_json("{\"HOST_CONFIG_dtparam\":\"\\\"open\"}");
	assert_null(bootcfg_from_target(c, "raspberrypi4-64", err, sizeof(err)));
	json_decref(c);
	c = test_json("{\"HOST_CONFIG_a b\":\"1\"}");
	assert_null(bootcfg_from_target(c, "raspberrypi4-64", err, sizeof(err)));
	assert_non_null(strstr(err, "not a config.txt key"));
	json_decref(c);
	c = test_json("{\"HOST_CONFIG_"
		      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":\"1\"}");
	assert_null(bootcfg_from_target(c, "raspberrypi4-64", err, sizeof(err)));
	json_decref(c);
}

static void render_keeps_other_lines_and_replaces_managed_ones(void **state)
{
	const char *current = "# boot config\nkernel=zImage\ngpu_mem=16\ndtparam=audio=on\n"
			      "\nenable_uart=1\n";
	json_t *t = from("{\"HOST_CONFIG_gpu_mem\":\"128\",\"HOST_CONFIG_dtoverlay\":"
			 "\"\\\"vc4-kms-v3d,cma-256\\\"\"}",
			 "raspberrypi4-64");
	json_t *keys = bootcfg_keys(t), *empty = json_object();
	char *once = bootcfg_render(current, t, NULL), *twice, *gone;

	(void)state;
	assert_string_equal(once, "# boot config\nkernel=zImage\n\nenable_uart=1\n" MARK
				  "gpu_mem=128\ndtoverlay=vc4-kms-v3d\ndtparam=cma-256\n");
	/* the same again: nothing changes */
	twice = bootcfg_render(once, t, keys);
	assert_string_equal(twice, once);
	/* the vars taken away: their lines go, the rest stays */
	gone = bootcfg_render(once, empty, keys);
	assert_string_equal(gone, "# boot config\nkernel=zImage\n\nenable_uart=1\n");
	free(once);
	free(twice);
	free(gone);
	json_decref(keys);
	json_decref(empty);
	json_decref(t);
}

static void managed_lines_apply_to_every_board(void **state)
{
	const char *current = "gpu_mem=16\n[pi4]\narm_boost=1\n";
	json_t *t = test_json("{\"gpu_mem\":\"64\"}"), *keys = bootcfg_keys(t);
	char *once = bootcfg_render(current, t, NULL), *twice;

	(void)state;
	assert_string_equal(once, "[pi4]\narm_boost=1\n" MARK "[all]\ngpu_mem=64\n");
	twice = bootcfg_render(once, t, keys);
	assert_string_equal(twice, once);
	free(once);
	free(twice);
	json_decref(keys);
	json_decref(t);
}

static void lines_added_below_the_marker_and_crlf_files_are_kept(void **state)
{
	json_t *t = test_json("{\"gpu_mem\":\"64\"}"), *keys = bootcfg_keys(t),
	       *none = json_object();
	char *once = bootcfg_render("a=1\n", t, NULL), *added, *twice, *crlf, *gone;
	char appended[512];

	(void)state;
	snprintf(appended, sizeof(appended), "%senable_uart=1\n", once);
	added = bootcfg_render(appended, t, keys);
	assert_string_equal(added, "a=1\nenable_uart=1\n" MARK "gpu_mem=64\n");
	twice = bootcfg_render(added, t, keys);
	assert_string_equal(twice, added);
	/* the same file saved with CRLF line ends: the marker is still recognised */
	crlf = bootcfg_render("a=1\r\n# --- below: written by agentd from HOST_CONFIG_ variables "
			      "---\r\ngpu_mem=64\r\n",
			      t, keys);
	assert_string_equal(crlf, "a=1\r\n" MARK "gpu_mem=64\n");
	/* no target, and no memory of which keys were agentd's: every line is kept */
	gone = bootcfg_render(added, none, NULL);
	assert_string_equal(gone, "a=1\nenable_uart=1\ngpu_mem=64\n");
	free(once);
	free(added);
	free(twice);
	free(crlf);
	free(gone);
	json_decref(keys);
	json_decref(none);
	json_decref(t);
}

static void assert_vars(json_t *got, const char *want_text)
{
	json_t *want = test_json(want_text);

	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_SORT_KEYS);

		fail_msg("got %s, want %s", g ? g : "NULL", want_text);
	}
	json_decref(want);
}

/* The balena supervisor's cases: config.txt read back as config vars. */
static void current_values_are_read_as_the_balena_supervisor_reads_them(void **state)
{
	json_t *cur;

	(void)state;
	cur = bootcfg_current("dtparam=i2c_arm=on\ndtparam=spi=on\ndisable_splash=1\n"
			      "dtparam=audio=on\ngpu_mem=16");
	assert_vars(cur, "{\"HOST_CONFIG_dtparam\":\"\\\"i2c_arm=on\\\",\\\"spi=on\\\","
			 "\\\"audio=on\\\"\",\"HOST_CONFIG_disable_splash\":\"1\","
			 "\"HOST_CONFIG_gpu_mem\":\"16\"}");
	json_decref(cur);
	/* an overlay takes the dtparams that follow it, but not the base ones */
	cur = bootcfg_current("# image\n[pi4]\ndtoverlay=lirc-rpi\ndtparam=gpio_out_pin=17\n"
			      "dtparam=gpio_in_pin=13,audio=on\ndtoverlay=balena-fin\r\n"
			      "initramfs initramf.gz 0x00800000\ngpio=4=op\ngpio=5=ip\n");
	assert_vars(cur, "{\"HOST_CONFIG_dtoverlay\":\"\\\"lirc-rpi,gpio_out_pin=17,"
			 "gpio_in_pin=13\\\",\\\"balena-fin\\\"\",\"HOST_CONFIG_dtparam\":"
			 "\"\\\"audio=on\\\"\",\"HOST_CONFIG_initramfs\":\"initramf.gz "
			 "0x00800000\",\"HOST_CONFIG_gpio\":\"\\\"4=op\\\",\\\"5=ip\\\"\"}");
	json_decref(cur);
	/* what agentd writes reads back as the target it came from */
	{
		json_t *t = from("{\"HOST_CONFIG_gpu_mem\":\"128\",\"HOST_CONFIG_dtoverlay\":"
				 "\"\\\"vc4-kms-v3d,cma-256\\\"\"}",
				 "raspberrypi4-64");
		char *text = bootcfg_render("kernel=zImage\n", t, NULL);

		cur = bootcfg_current(text);
		assert_vars(cur,
			    "{\"HOST_CONFIG_kernel\":\"zImage\",\"HOST_CONFIG_gpu_mem\":"
			    "\"128\",\"HOST_CONFIG_dtoverlay\":\"\\\"vc4-kms-v3d,cma-256\\\"\"}");
		json_decref(cur);
		free(text);
		json_decref(t);
	}
	cur = bootcfg_current(NULL);
	assert_vars(cur, "{}");
	json_decref(cur);
}

/* The Orin's power and fan settings are config.json's (powerfan.c), never
 * config.txt lines. */
static void power_and_fan_vars_are_not_config_txt_lines(void **state)
{
	json_t *t = from("{\"HOST_CONFIG_power_mode\":\"low\",\"HOST_CONFIG_fan_profile\":"
			 "\"quiet\",\"HOST_CONFIG_gpu_mem\":\"16\"}",
			 "raspberrypi4-64");

	(void)state;
	assert_vars(t, "{\"gpu_mem\":\"16\"}");
	json_decref(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(device_types_with_config_txt),
		cmocka_unit_test(vars_become_keys_and_lists),
		cmocka_unit_test(forbidden_and_bad_values_are_refused),
		cmocka_unit_test(render_keeps_other_lines_and_replaces_managed_ones),
		cmocka_unit_test(managed_lines_apply_to_every_board),
		cmocka_unit_test(lines_added_below_the_marker_and_crlf_files_are_kept),
		cmocka_unit_test(current_values_are_read_as_the_balena_supervisor_reads_them),
		cmocka_unit_test(power_and_fan_vars_are_not_config_txt_lines),
	};

	return cmocka_run_group_tests_name("bootcfg", tests, NULL, NULL);
}
