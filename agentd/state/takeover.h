/*
 * takeover.h - taking a device over from the Node supervisor in place: on
 * the first start of agentd on a device whose data dir holds the Node
 * supervisor's database.sqlite, what it knew is imported into agentd's own
 * database, read-only (the Node supervisor's file is never written, so the
 * device can go back to it): the local API's keys, unchanged (containers'
 * BALENA_SUPERVISOR_API_KEY stay valid), the target (apps, device config,
 * name), each app's current release, and the bookkeeping of the cloud
 * (initialConfigReported, pinDevice, tags). The containers it made are then
 * adopted as they are (adopt.c). Identity stays in config.json.
 */
#ifndef AGENTD_TAKEOVER_H
#define AGENTD_TAKEOVER_H

#include <stddef.h>

#include <jansson.h>
#include <sqlite3.h>

#include "keys.h"

enum takeover_result {
	TAKEOVER_NONE,     /* no Node supervisor database, or imported already */
	TAKEOVER_IMPORTED, /* *target holds the imported target */
	TAKEOVER_REFUSED,  /* there is one, but it cannot be imported: why says why */
};

/// Import the Node supervisor's database at `node_db` into agentd's `db` and
/// `keys`, once. `device_uuid` is config.json's uuid, `api_endpoint` its
/// apiEndpoint (NULL when unmanaged). On TAKEOVER_IMPORTED *target is the
/// imported target (internal form, new reference; not stored yet), or NULL
/// when the Node supervisor had not received one (its targetStateSet unset).
/// Every step is logged.
enum takeover_result takeover_import(sqlite3 *db, struct keys *keys, const char *node_db,
				     const char *device_uuid, const char *api_endpoint,
				     json_t **target, char *why, size_t len);

#endif
