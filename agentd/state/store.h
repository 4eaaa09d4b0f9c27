/*
 * store.h - what the state engine keeps in agentd's database: the target
 * (internal form, one row), each app's current commit, and the images agentd
 * pulled (the only ones it may remove); and the preload (<datadir>/apps.json)
 * that becomes the first target of a new device.
 */
#ifndef AGENTD_STORE_H
#define AGENTD_STORE_H

#include <stddef.h>

#include <jansson.h>
#include <sqlite3.h>

/// Store the target (internal form). -1 with a reason.
int store_target_save(sqlite3 *db, json_t *target, char *err, size_t errlen);
/// The stored target (new reference), or NULL when there is none.
json_t *store_target_load(sqlite3 *db);
/// The app's current commit into buf ("" when none); returns buf.
const char *store_commit_get(sqlite3 *db, const char *uuid, char *buf, size_t len);
int store_commit_set(sqlite3 *db, const char *uuid, int app_id, const char *commit);
/// Remember that agentd pulled `ref` (it may remove it once unused).
void store_image_pulled(sqlite3 *db, const char *ref);
void store_image_forget(sqlite3 *db, const char *ref);
/// The images agentd pulled: an array of references (new reference).
json_t *store_images_pulled(sqlite3 *db);
/// Remember that image reference `ref` is the engine's image `image_id`
/// (a delta's result, which the engine may not know by that name).
void store_alias_set(sqlite3 *db, const char *ref, const char *image_id);
/// Every such alias: {ref: image id} (new reference).
json_t *store_aliases(sqlite3 *db);
/// Remember what agentd made container `id` from: its config hash and boot.
void store_made_set(sqlite3 *db, const char *id, const char *hash, const char *boot_id);
/// The hash and boot agentd recorded for container `id`; 0, or -1 when it
/// has no record (hash and boot_id are then "").
int store_made_get(sqlite3 *db, const char *id, char hash[17], char *boot_id, size_t blen);
/// Forget the containers that are gone: every record not in `ids` (an array
/// of the engine's ids of the containers there are).
void store_made_prune(sqlite3 *db, json_t *ids);
/// Read the preload `path` (apps.json) as the first target (internal form, new
/// reference; its pinDevice is recorded for the cloud), then rename it
/// apps.json.preloaded. NULL when there is none or it is invalid (logged).
json_t *store_preload(sqlite3 *db, const char *path);

#endif
