/*
 * test_uenv.c - extra_uEnv.txt from HOST_EXTLINUX_ vars, with the balena
 * supervisor's cases as inputs: which device types, reading
 * custom_fdt_file and extra_os_cmdline, writing them (other lines and the
 * other words of extra_os_cmdline kept), a var taken away, and a second
 * render changing nothing.
 */
#include "testutil.h"

#include "extlinux.h"
#include "jsonx.h"
#include "uenv.h"

/* The backend's target from config vars; a refusal fails the test. */
static json_t *target(const char *config_json)
{
	return test_from_target(extlinux_from_target, config_json);
}

static void device_types_whose_boot_reads_extra_uenv(void **state)
{
	static const struct {
		const char *type;
		int applies;
	} cases[] = {
		{"astro-tx2", 1},
		{"blackboard-tx2", 1},
		{"jetson-tx2", 1},
		{"n310-tx2", 1},
		{"n510-tx2", 1},
		{"orbitty-tx2", 1},
		{"spacely-tx2", 1},
		{"srd3-tx2", 1},
		{"jetson-nano", 1},
		{"jetson-nano-emmc", 1},
		{"jn30b-nano", 1},
		{"photon-nano", 1},
		{"intel-nuc", 0},
		{"raspberry", 0},
		{"fincm3", 0},
		{"asus-tinker-board", 0},
		{"nano-board", 0},
		{"jetson-nano-2gb-devkit", 1},
		{"jetson-nano-2gb-devkit-emmc", 0},
		{"tx2-tx2-device", 0},
		{"jetson-tx2-nx-devkit", 1},
		{"photon-tx2-nx", 1},
		{"jetson-xavier-nx-devkit", 0},
		{"jetson-agx-orin-devkit", 1},
		{"jetson-agx-orin", 0},
		{"jetson-orin-nx-xavier-nx-devkit", 1},
		{"cti-orin-nx-custom-carrier", 1},
		{"jetson-orin-agx-nx-xavier-nx-devkit", 0},
		{"jetson-orin-nano-devkit-nvme", 1},
		{"jetson-orin-agx-nano-devkit-nvme", 0},
		{"photon-xavier-nx", 0},
		{"imx8m-var-dart", 1},
		{"imx8mm-var-dart", 1},
		{"imx8mm-var-dart-nrt", 1},
		{"imx8mm-var-dart-plt", 1},
		{"imx8mm-var-som", 1},
		{"imx8m-var-som", 0},
		{"imx6ul-var-dart", 0},
		{"iot-gate-imx8plus", 1},
		{"iot-gate-imx8plus-d1d8", 1},
		{"iot-gate-imx8plus-d1d8-sb", 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (uenv_applies(cases[i].type) != cases[i].applies)
			fail_msg("%s: applies should be %d", cases[i].type, cases[i].applies);
	assert_false(uenv_applies(NULL));
}

static void current_values_are_fdt_and_isolcpus_only(void **state)
{
	json_t *cur;

	(void)state;
	cur = uenv_current("custom_fdt_file=mycustom.dtb\n"
			   "extra_os_cmdline=isolcpus=3,4 splash console=tty0\n");
	test_assert_json(cur, "{\"HOST_EXTLINUX_fdt\":\"mycustom.dtb\","
			      "\"HOST_EXTLINUX_isolcpus\":\"3,4\"}");
	json_decref(cur);
	/* no supported entry, and lines that are no entry at all */
	cur = uenv_current("fdt=something_else\n isolcpus\n 123.12=5\nanother_value\n");
	test_assert_json(cur, "{}");
	json_decref(cur);
	/* U-Boot imports the lines in order: the last of a name counts */
	cur = uenv_current("extra_os_cmdline=isolcpus=1\ncustom_fdt_file=a.dtb\r\n"
			   "extra_os_cmdline=quiet\ncustom_fdt_file=b.dtb");
	test_assert_json(cur, "{\"HOST_EXTLINUX_fdt\":\"b.dtb\"}");
	json_decref(cur);
}

static void a_target_sets_its_entries_and_keeps_the_rest(void **state)
{
	/* the balena supervisor's case: an unmanaged entry and cmdline words */
	const char *image = "extra_os_cmdline=rootwait isolcpus=3,4\n"
			    "extra_os_firmware_class_path=/var/lib/docker/volumes/extra-firmware/"
			    "_data\n";
	json_t *t = target("{\"HOST_EXTLINUX_fdt\":\"/boot/mycustomdtb.dtb\","
			   "\"HOST_EXTLINUX_isolcpus\":\"2\"}");
	json_t *keys = jsonx_keys(t);
	char *once = uenv_render(image, t, NULL), *twice, *fresh;

	(void)state;
	assert_string_equal(once, "extra_os_cmdline=rootwait isolcpus=2\n"
				  "extra_os_firmware_class_path=/var/lib/docker/volumes/"
				  "extra-firmware/_data\n"
				  "custom_fdt_file=/boot/mycustomdtb.dtb\n");
	twice = uenv_render(once, t, keys);
	assert_string_equal(twice, once);
	/* a file with neither entry, without a last line end */
	fresh = uenv_render("other_service=set_this_value", t, NULL);
	assert_string_equal(fresh, "other_service=set_this_value\n"
				   "custom_fdt_file=/boot/mycustomdtb.dtb\n"
				   "extra_os_cmdline=isolcpus=2\n");
	free(once);
	free(twice);
	free(fresh);
	json_decref(keys);
	json_decref(t);
}

static void vars_taken_away_undo_only_what_agentd_wrote(void **state)
{
	const char *image = "extra_os_cmdline=rootwait splash\n"
			    "extra_os_firmware_class_path=/var/lib/docker/volumes/extra-firmware/"
			    "_data\n";
	json_t *t = target("{\"HOST_EXTLINUX_fdt\":\"a.dtb\",\"HOST_EXTLINUX_isolcpus\":\"1\"}");
	json_t *keys = jsonx_keys(t), *none = json_object();
	char *set = uenv_render(image, t, NULL), *gone, *kept, *emptied;

	(void)state;
	gone = uenv_render(set, none, keys);
	assert_string_equal(gone, image);
	/* agentd never wrote them: the file stays as it is */
	kept = uenv_render("custom_fdt_file=x.dtb\nextra_os_cmdline=isolcpus=7\n", none, NULL);
	assert_string_equal(kept, "custom_fdt_file=x.dtb\nextra_os_cmdline=isolcpus=7\n");
	/* a cmdline left empty goes */
	emptied = uenv_render("a=1\nextra_os_cmdline=isolcpus=1\n", none, keys);
	assert_string_equal(emptied, "a=1\n");
	free(set);
	free(gone);
	free(kept);
	free(emptied);
	json_decref(keys);
	json_decref(none);
	json_decref(t);
}

static void duplicates_are_made_one_and_unchanged_files_stay(void **state)
{
	json_t *t = target("{\"HOST_EXTLINUX_fdt\":\"b.dtb\",\"HOST_EXTLINUX_isolcpus\":\"\"}");
	char *out;

	(void)state;
	out = uenv_render("custom_fdt_file=a.dtb\r\n# note\ncustom_fdt_file=c.dtb\r\n"
			  "extra_os_cmdline=quiet isolcpus=1 isolcpus=2\n",
			  t, NULL);
	assert_string_equal(out, "# note\ncustom_fdt_file=b.dtb\r\n"
				 "extra_os_cmdline=quiet isolcpus\n");
	free(out);
	/* the file says what the target says: the same bytes, odd spacing and all */
	out = uenv_render("  custom_fdt_file=b.dtb\nextra_os_cmdline=quiet  isolcpus\n", t, NULL);
	assert_string_equal(out, "  custom_fdt_file=b.dtb\nextra_os_cmdline=quiet  isolcpus\n");
	free(out);
	json_decref(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(device_types_whose_boot_reads_extra_uenv),
		cmocka_unit_test(current_values_are_fdt_and_isolcpus_only),
		cmocka_unit_test(a_target_sets_its_entries_and_keeps_the_rest),
		cmocka_unit_test(vars_taken_away_undo_only_what_agentd_wrote),
		cmocka_unit_test(duplicates_are_made_one_and_unchanged_files_stay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
