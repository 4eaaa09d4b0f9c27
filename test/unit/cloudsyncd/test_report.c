/*
 * test_report.c - state report diffing: only changed top-level fields, each
 * whole; metrics by bucket; metrics alone at most every 5 minutes (facts
 * §2.4, §9.2 #27).
 */
#include "testutil.h"

#include "report.h"

static json_t *J(const char *s)
{
	json_t *j = json_loads(s, 0, NULL);

	assert_non_null(j);
	return j;
}

static void unchanged_fields_are_not_sent(void **state)
{
	json_t *sent = J("{\"status\": \"Idle\", \"apps\": {\"a\": 1}, \"os_version\": \"x\"}");
	json_t *now = J("{\"status\": \"Idle\", \"apps\": {\"a\": 2}, \"os_version\": \"x\"}");
	json_t *d = report_diff(sent, now, 1000, 1);

	(void)state;
	assert_int_equal(json_object_size(d), 1);
	assert_true(json_equal(json_object_get(d, "apps"), json_object_get(now, "apps")));
	json_decref(d);
	d = report_diff(now, now, 1000, 1);
	assert_int_equal(json_object_size(d), 0);
	json_decref(d);
	json_decref(sent);
	json_decref(now);
}

static void metrics_alone_wait_five_minutes(void **state)
{
	json_t *sent = J("{\"status\": \"Idle\", \"cpu_usage\": 10}");
	json_t *now = J("{\"status\": \"Idle\", \"cpu_usage\": 55}");
	json_t *d;

	(void)state;
	d = report_diff(sent, now, 60000, 1); /* one minute after the last metrics */
	assert_int_equal(json_object_size(d), 0);
	json_decref(d);
	d = report_diff(sent, now, 1 + REPORT_METRICS_MIN_MS, 1);
	assert_int_equal(json_integer_value(json_object_get(d, "cpu_usage")), 55);
	json_decref(d);
	json_decref(sent);
	json_decref(now);
}

static void metrics_ride_along_with_other_changes(void **state)
{
	json_t *sent = J("{\"status\": \"Idle\", \"cpu_usage\": 10}");
	json_t *now = J("{\"status\": \"Updating\", \"cpu_usage\": 55}");
	json_t *d = report_diff(sent, now, 60000, 1);

	(void)state;
	assert_int_equal(json_object_size(d), 2);
	json_decref(d);
	json_decref(sent);
	json_decref(now);
}

static void metric_changes_within_a_bucket_do_not_count(void **state)
{
	json_t *sent = J("{\"cpu_usage\": 21, \"memory_usage\": 300, \"cpu_temp\": 41}");
	json_t *now = J("{\"cpu_usage\": 39, \"memory_usage\": 309, \"cpu_temp\": 44}");
	json_t *d = report_diff(sent, now, 10 * REPORT_METRICS_MIN_MS, 1);

	(void)state;
	assert_int_equal(json_object_size(d), 0);
	json_decref(d);
	json_decref(now);
	now = J("{\"cpu_usage\": 41, \"memory_usage\": 309, \"cpu_temp\": 44}");
	d = report_diff(sent, now, 10 * REPORT_METRICS_MIN_MS, 1);
	assert_int_equal(json_object_size(d), 1);
	assert_non_null(json_object_get(d, "cpu_usage"));
	json_decref(d);
	json_decref(sent);
	json_decref(now);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unchanged_fields_are_not_sent),
		cmocka_unit_test(metrics_alone_wait_five_minutes),
		cmocka_unit_test(metrics_ride_along_with_other_changes),
		cmocka_unit_test(metric_changes_within_a_bucket_do_not_count),
	};

	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
