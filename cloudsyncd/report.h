/*
 * report.h - what a state report sends: the top-level fields that changed
 * since the last report the cloud accepted, each whole (facts §2.4). Metrics
 * count as changed only when they cross a bucket (cpu_usage 20 %, cpu_temp
 * 5 °C, memory_usage 10 MB), and a report of metrics alone goes out at most
 * every 5 minutes. Pure, so it is tested as a table.
 */
#ifndef AGENTD_CLOUDSYNCD_REPORT_H
#define AGENTD_CLOUDSYNCD_REPORT_H

#include <stdint.h>

#include <jansson.h>

#define REPORT_METRICS_MIN_MS (5 * 60 * 1000)

/// The fields of `current` to send, given what the cloud has (`sent`) and
/// when metrics were last sent. Returns a new object (empty: send nothing).
json_t *report_diff(json_t *sent, json_t *current, int64_t now_ms, int64_t last_metrics_ms);
/// 1 if `key` is a metric field.
int report_is_metric(const char *key);

#endif
