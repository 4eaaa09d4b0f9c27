/*
 * report.c - state report diffing (see report.h).
 */
#include <string.h>

#include "report.h"

static const struct {
	const char *key;
	double bucket; /* 0: any change counts */
} metrics[] = {
	{"cpu_usage", 20},   {"cpu_temp", 5},       {"memory_usage", 10},
	{"memory_total", 0}, {"storage_usage", 0},  {"storage_total", 0},
	{"cpu_id", 0},       {"is_undervolted", 0}, {"storage_block_device", 0},
};

int report_is_metric(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++)
		if (strcmp(metrics[i].key, key) == 0)
			return 1;
	return 0;
}

static double bucket_of(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++)
		if (strcmp(metrics[i].key, key) == 0)
			return metrics[i].bucket;
	return 0;
}

/* A metric changed enough to report: it crossed into another bucket. */
static int metric_changed(const char *key, json_t *old, json_t *now)
{
	double b = bucket_of(key);

	if (b > 0 && json_is_number(old) && json_is_number(now))
		return (long long)(json_number_value(old) / b) !=
		       (long long)(json_number_value(now) / b);
	return !json_equal(old, now);
}

json_t *report_diff(json_t *sent, json_t *current, int64_t now_ms, int64_t last_metrics_ms)
{
	json_t *diff = json_object(), *metric_diff = json_object(), *v;
	const char *k;

	json_object_foreach(current, k, v) {
		json_t *old = json_object_get(sent, k);

		if (report_is_metric(k)) {
			if (old == NULL || metric_changed(k, old, v))
				json_object_set(metric_diff, k, v);
		} else if (old == NULL || !json_equal(old, v)) {
			json_object_set(diff, k, v);
		}
	}
	/* Metrics ride along with other changes, or alone once per 5 minutes. */
	if (json_object_size(diff) > 0 || last_metrics_ms == 0 ||
	    now_ms - last_metrics_ms >= REPORT_METRICS_MIN_MS)
		json_object_update(diff, metric_diff);
	json_decref(metric_diff);
	return diff;
}
