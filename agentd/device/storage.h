/*
 * storage.h - how agentd's writes to its own storage fare, by kind (the
 * target, the API keys, config.json, the report cache...). A full data
 * partition or run dir makes every write of a kind fail until space
 * returns, and agentd keeps running meanwhile: each kind is logged once
 * when it starts failing and once when it works again (with how many
 * attempts failed in between), never once per attempt. The counts are in
 * /metrics (storage_metrics).
 */
#ifndef AGENTD_STORAGE_H
#define AGENTD_STORAGE_H

#include <stddef.h>

enum storage_kind {
	STORAGE_TARGET,        /* the target (database) */
	STORAGE_KEYS,          /* the local API's keys (database) */
	STORAGE_SETTINGS,      /* tags, initial report, pin... (database, table config) */
	STORAGE_APPS,          /* commits, containers made, images pulled (database) */
	STORAGE_CONFIG_JSON,   /* config.json */
	STORAGE_REPORT_CACHE,  /* what the cloud has of the state (run dir) */
	STORAGE_TARGET_CONFIG, /* target-state-config, for the host OS (run dir) */
	STORAGE_BOOT_CONFIG,   /* the boot-config keys agentd wrote (data dir) */
	STORAGE_COUNT
};

/// A write of `kind` failed for `reason` (e.g. "database or disk is full"):
/// logged when the kind was working until now, counted always.
void storage_failed(enum storage_kind kind, const char *reason);
/// A write of `kind` worked: logged when the kind was failing until now.
void storage_ok(enum storage_kind kind);
/// Whether the last write of `kind` failed.
int storage_failing(enum storage_kind kind);
/// Append the Prometheus lines (failures per kind, failing now) to buf at
/// *off, never past len.
void storage_metrics(char *buf, size_t len, size_t *off);

#endif
