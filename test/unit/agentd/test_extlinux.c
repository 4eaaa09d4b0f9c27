/*
 * test_extlinux.c - extlinux.conf from HOST_EXTLINUX_ vars, with the balena
 * supervisor's cases as inputs: which device types and OS versions, the
 * variables, reading the default entry's APPEND and FDT, the malformed
 * files, writing them (every other line kept byte for byte), a var taken
 * away, and a second render changing nothing.
 */
#include "testutil.h"

#include "bootfix.h"
#include "extlinux.h"
#include "jsonx.h"

/* The balena supervisor's test file: a default entry with FDT and isolcpus. */
static const char parse_case[] =
	"DEFAULT primary\n"
	"# CommentExtlinux files\n"
	"\n"
	"TIMEOUT 30\n"
	"MENU TITLE Boot Options\n"
	"LABEL primary\n"
	"      MENU LABEL primary Image\n"
	"      LINUX /Image\n"
	"      FDT /boot/mycustomdtb.dtb\n"
	"      APPEND ${cbootargs} ${resin_kernel_root} ro rootwait isolcpus=3\n";

/* The backend's target from config vars; a refusal fails the test. */
static json_t *target(const char *config_json)
{
	return test_from_target(extlinux_from_target, config_json);
}

static char *render(const char *text, json_t *t, json_t *before)
{
	char err[256] = "", *out = extlinux_render(text, t, before, err, sizeof(err));

	if (out == NULL)
		fail_msg("render failed: %s", err);
	return out;
}

static void jetson_boards_before_2_47_only(void **state)
{
	static const struct {
		const char *type, *version;
		int applies;
	} cases[] = {
		{"jetson-tx1", "2.45.0", 1},
		{"jetson-tx2", "2.45.0", 1},
		{"jetson-tx2", "2.47.0", 0},
		{"jetson-nano", "2.45.0", 1},
		{"jetson-nano", "2.47.0", 0},
		{"jetson-xavier", "2.45.0", 1},
		{"jetson-xavier", "2.47.0", 0},
		{"intel-nuc", "2.45.0", 0},
		{"intel-nuc", "2.47.0", 0},
		{"raspberry", "2.45.0", 0},
		{"raspberry", "2.47.0", 0},
		{"fincm3", "2.45.0", 0},
		{"fincm3", "2.47.0", 0},
		{"up-board", "2.45.0", 0},
		{"up-board", "2.47.0", 0},
		/* build metadata does not count; a pre-release comes before */
		{"jetson-tx2", "2.45.1+rev3", 1},
		{"jetson-tx2", "2.47.0-rc1", 1},
		{"jetson-tx2", "2.47.1+rev1", 0},
		{"jetson-tx2", "2.100.0", 0},
		{"jetson-tx2", "1.99.9", 1},
		{"jetson-tx2", "3.0.0", 0},
		/* no version, or not one: the read-only partition is assumed */
		{"jetson-tx2", "", 0},
		{"jetson-tx2", "2.45", 0},
		{"jetson-tx2", "v2.45.0", 0},
		{"jetson-tx2", "02.45.0", 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (extlinux_applies(cases[i].type, cases[i].version) != cases[i].applies)
			fail_msg("%s on %s: applies should be %d", cases[i].type, cases[i].version,
				 cases[i].applies);
	assert_false(extlinux_applies(NULL, "2.45.0"));
	assert_false(extlinux_applies("jetson-tx2", NULL));
	assert_int_equal(extlinux_version_older("2.47.0-beta", "2.47.0-rc1"), 1);
	assert_int_equal(extlinux_version_older("2.47.0-rc1", "2.47.0-beta"), 0);
}

static void variables_isolcpus_and_fdt_only(void **state)
{
	json_t *t = target("{\"HOST_EXTLINUX_isolcpus\":\"1,2,3\",\"HOST_EXTLINUX_fdt\":"
			   "\"/boot/my.dtb\",\"HOST_CONFIG_gpu_mem\":\"16\","
			   "\"SUPERVISOR_POLL_INTERVAL\":\"60000\"}");
	char err[256];

	(void)state;
	test_assert_json(t, "{\"isolcpus\":\"1,2,3\",\"fdt\":\"/boot/my.dtb\"}");
	json_decref(t);
	/* an empty fdt leaves FDT alone; an empty isolcpus is the bare word */
	t = target("{\"HOST_EXTLINUX_fdt\":\"\",\"HOST_EXTLINUX_isolcpus\":\"\"}");
	test_assert_json(t, "{\"isolcpus\":\"\"}");
	json_decref(t);
	/* anything else is refused, saying why */
	test_refused(extlinux_from_target, "{\"HOST_EXTLINUX_rootwait\":\"\"}", err, sizeof(err));
	assert_string_equal(err, "Attempt to change blacklisted config value rootwait");
	test_refused(extlinux_from_target, "{\"HOST_EXTLINUX_isolcpus\":\"1 init=/bin/sh\"}", err,
		     sizeof(err));
	assert_non_null(strstr(err, "not a CPU list"));
	test_refused(extlinux_from_target, "{\"HOST_EXTLINUX_isolcpus\":\"3=2\"}", err,
		     sizeof(err));
	test_refused(extlinux_from_target, "{\"HOST_EXTLINUX_fdt\":\"/boot/a.dtb\\nAPPEND x\"}",
		     err, sizeof(err));
	assert_non_null(strstr(err, "not a device tree file"));
}

static void current_values_come_from_the_default_entry(void **state)
{
	char err[256];
	json_t *cur = extlinux_current(parse_case, err, sizeof(err));

	(void)state;
	test_assert_json(cur, "{\"HOST_EXTLINUX_fdt\":\"/boot/mycustomdtb.dtb\","
			      "\"HOST_EXTLINUX_isolcpus\":\"3\"}");
	json_decref(cur);
	/* several entries: only the default one counts */
	cur = extlinux_current("DEFAULT primary\n# Comment\n\nTIMEOUT 30\nMENU TITLE Boot "
			       "Options\nLABEL primary\n      LINUX test1\n      FDT "
			       "/boot/mycustomdtb.dtb\n      APPEND test2\nLABEL secondary\n      "
			       "LINUX test3\n      FDT /boot/mycustomdtb.dtb\n      APPEND test4 "
			       "isolcpus=9",
			       err, sizeof(err));
	test_assert_json(cur, "{\"HOST_EXTLINUX_fdt\":\"/boot/mycustomdtb.dtb\"}");
	json_decref(cur);
}

static void malformed_files_are_refused_with_the_reason(void **state)
{
	static const struct {
		const char *text, *reason;
	} cases[] = {
		{"TIMEOUT 30\nMENU TITLE Boot Options\nLABEL primary\n      MENU LABEL primary "
		 "Image\n      LINUX /Image\n      APPEND ro rootwait isolcpus=0,4\n",
		 "Could not find default entry for extlinux.conf file"},
		{"DEFAULT typo_oops\nTIMEOUT 30\nMENU TITLE Boot Options\nLABEL primary\n      "
		 "MENU LABEL primary Image\n      LINUX /Image\n      APPEND ro rootwait "
		 "isolcpus=0,4\n",
		 "Cannot find label entry (label: typo_oops) for extlinux.conf file"},
		{"DEFAULT primary\nTIMEOUT 30\nMENU TITLE Boot Options\nLABEL primary\n      "
		 "MENU LABEL primary Image\n      LINUX /Image\n",
		 "Could not find APPEND directive in default extlinux.conf boot entry"},
		{"", "Could not find default entry for extlinux.conf file"},
	};
	json_t *t = target("{\"HOST_EXTLINUX_isolcpus\":\"2\"}");
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_null(extlinux_current(cases[i].text, err, sizeof(err)));
		assert_string_equal(err, cases[i].reason);
		assert_null(extlinux_render(cases[i].text, t, NULL, err, sizeof(err)));
		assert_string_equal(err, cases[i].reason);
	}
	/* a malformed isolcpus cannot be read, but a target replaces it */
	assert_null(extlinux_current("DEFAULT primary\nTIMEOUT 30\nMENU TITLE Boot "
				     "Options\nLABEL primary\n      MENU LABEL primary Image\n "
				     "     LINUX /Image\n      APPEND ro rootwait "
				     "isolcpus=0,4=woops\n",
				     err, sizeof(err)));
	assert_string_equal(err, "Unable to parse invalid value: isolcpus=0,4=woops");
	{
		char *out = render("DEFAULT a\nLABEL a\nAPPEND ro isolcpus=0,4=woops\n", t, NULL);

		assert_string_equal(out, "DEFAULT a\nLABEL a\nAPPEND ro isolcpus=2\n");
		free(out);
	}
	json_decref(t);
}

static void a_target_writes_append_and_fdt_and_keeps_the_rest(void **state)
{
	json_t *t = target("{\"HOST_EXTLINUX_fdt\":\"/boot/mycustomdtb.dtb\","
			   "\"HOST_EXTLINUX_isolcpus\":\"2\"}");
	json_t *keys = jsonx_keys(t);
	char *once = render(extlinux_image, t, NULL), *twice, *flat;

	(void)state;
	assert_string_equal(once, "DEFAULT primary\n"
				  "TIMEOUT 30\n"
				  "MENU TITLE Boot Options\n"
				  "LABEL primary\n"
				  "      MENU LABEL primary Image\n"
				  "      LINUX /Image\n"
				  "      APPEND ${cbootargs} ${resin_kernel_root} ro rootwait "
				  "isolcpus=2\n"
				  "      FDT /boot/mycustomdtb.dtb\n");
	/* the same again: the same bytes */
	twice = render(once, t, keys);
	assert_string_equal(twice, once);
	/* the balena supervisor's expected file, from its unindented input */
	flat = render("DEFAULT primary\nTIMEOUT 30\nMENU TITLE Boot Options\nLABEL "
		      "primary\nMENU LABEL primary Image\nLINUX /Image\nAPPEND ${cbootargs} "
		      "${resin_kernel_root} ro rootwait\n",
		      t, NULL);
	assert_string_equal(flat, "DEFAULT primary\nTIMEOUT 30\nMENU TITLE Boot Options\nLABEL "
				  "primary\nMENU LABEL primary Image\nLINUX /Image\nAPPEND "
				  "${cbootargs} ${resin_kernel_root} ro rootwait isolcpus=2\nFDT "
				  "/boot/mycustomdtb.dtb\n");
	free(once);
	free(twice);
	free(flat);
	json_decref(keys);
	json_decref(t);
}

static void values_change_in_place_and_vars_taken_away_go(void **state)
{
	json_t *t = target("{\"HOST_EXTLINUX_fdt\":\"/boot/other.dtb\","
			   "\"HOST_EXTLINUX_isolcpus\":\"1,2\"}");
	json_t *keys = jsonx_keys(t), *none = json_object();
	char *changed = render(parse_case, t, NULL), *gone, *kept;

	(void)state;
	assert_string_equal(changed,
			    "DEFAULT primary\n# CommentExtlinux files\n\nTIMEOUT 30\nMENU TITLE "
			    "Boot Options\nLABEL primary\n      MENU LABEL primary Image\n      "
			    "LINUX /Image\n      FDT /boot/other.dtb\n      APPEND ${cbootargs} "
			    "${resin_kernel_root} ro rootwait isolcpus=1,2\n");
	/* the vars taken away: what agentd wrote goes */
	gone = render(changed, none, keys);
	assert_string_equal(gone, "DEFAULT primary\n# CommentExtlinux files\n\nTIMEOUT 30\nMENU "
				  "TITLE Boot Options\nLABEL primary\n      MENU LABEL primary "
				  "Image\n      LINUX /Image\n      APPEND ${cbootargs} "
				  "${resin_kernel_root} ro rootwait\n");
	/* ... but not what the image had, when agentd never wrote it */
	kept = render(parse_case, none, NULL);
	assert_string_equal(kept, parse_case);
	free(changed);
	free(gone);
	free(kept);
	json_decref(keys);
	json_decref(none);
	json_decref(t);
}

static void other_entries_crlf_and_a_missing_last_line_end(void **state)
{
	json_t *t = target("{\"HOST_EXTLINUX_fdt\":\"/b.dtb\",\"HOST_EXTLINUX_isolcpus\":\"4\"}");
	char *out;

	(void)state;
	/* the other entry keeps its own isolcpus and FDT */
	out = render("DEFAULT one\nLABEL one\n  APPEND quiet\nLABEL two\n  FDT /x.dtb\n  APPEND "
		     "isolcpus=1\n",
		     t, NULL);
	assert_string_equal(out, "DEFAULT one\nLABEL one\n  APPEND quiet isolcpus=4\n  FDT "
				 "/b.dtb\nLABEL two\n  FDT /x.dtb\n  APPEND isolcpus=1\n");
	free(out);
	/* CRLF lines keep their ends; a last line without one gets one before FDT */
	out = render("DEFAULT one\r\nLABEL one\r\n  APPEND quiet isolcpus=1 isolcpus=2", t, NULL);
	assert_string_equal(out, "DEFAULT one\r\nLABEL one\r\n  APPEND quiet isolcpus=4\n  FDT "
				 "/b.dtb\n");
	free(out);
	/* a lone CR at the very end is no line end (found by fuzz_extlinux) */
	out = render("DEFAULT one\nLABEL one\nAPPEND quiet\r", t, NULL);
	assert_string_equal(out, "DEFAULT one\nLABEL one\nAPPEND quiet isolcpus=4\nFDT /b.dtb\n");
	free(out);
	json_decref(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(jetson_boards_before_2_47_only),
		cmocka_unit_test(variables_isolcpus_and_fdt_only),
		cmocka_unit_test(current_values_come_from_the_default_entry),
		cmocka_unit_test(malformed_files_are_refused_with_the_reason),
		cmocka_unit_test(a_target_writes_append_and_fdt_and_keeps_the_rest),
		cmocka_unit_test(values_change_in_place_and_vars_taken_away_go),
		cmocka_unit_test(other_entries_crlf_and_a_missing_last_line_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
