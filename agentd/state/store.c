/*
 * store.c - the state engine's rows in agentd's database, and the preload
 * (see store.h).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "storage.h"
#include "store.h"
#include "target.h"

int store_target_save(sqlite3 *db, json_t *target, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	char *text = json_dumps(target, JSON_COMPACT | JSON_SORT_KEYS);
	int rc = -1;

	if (text == NULL)
		return -1;
	if (sqlite3_prepare_v2(db,
			       "INSERT INTO target_state (id, json, updated_at) VALUES (1, ?, "
			       "strftime('%Y-%m-%dT%H:%M:%fZ','now')) ON CONFLICT(id) DO UPDATE "
			       "SET json = excluded.json, updated_at = excluded.updated_at",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
		if (rc == -1)
			snprintf(err, errlen, "cannot store the target: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
	} else {
		snprintf(err, errlen, "cannot store the target: %s", sqlite3_errmsg(db));
	}
	free(text);
	if (rc == -1)
		storage_failed(STORAGE_TARGET, err + strlen("cannot store the target: "));
	else
		storage_ok(STORAGE_TARGET);
	return rc;
}

json_t *store_target_load(sqlite3 *db)
{
	sqlite3_stmt *st;
	json_t *t = NULL;

	if (sqlite3_prepare_v2(db, "SELECT json FROM target_state WHERE id = 1", -1, &st, NULL) !=
	    SQLITE_OK)
		return NULL;
	if (sqlite3_step(st) == SQLITE_ROW)
		t = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
	sqlite3_finalize(st);
	return t;
}

const char *store_commit_get(sqlite3 *db, const char *uuid, char *buf, size_t len)
{
	sqlite3_stmt *st;

	buf[0] = '\0';
	if (sqlite3_prepare_v2(db, "SELECT commit_id FROM current_commit WHERE app_uuid = ?", -1,
			       &st, NULL) != SQLITE_OK)
		return buf;
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return buf;
}

/* Run the write `st` (prepared: NULL when preparing failed) to its end and
 * finalize it; the apps' records' kind of storage hears how it went. */
static int store_apps_step(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = st != NULL && sqlite3_step(st) == SQLITE_DONE ? 0 : -1;

	if (rc == -1)
		storage_failed(STORAGE_APPS, sqlite3_errmsg(db));
	else
		storage_ok(STORAGE_APPS);
	sqlite3_finalize(st);
	return rc;
}

int store_commit_set(sqlite3 *db, const char *uuid, int app_id, const char *commit)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db,
			       "INSERT INTO current_commit (app_uuid, app_id, commit_id) VALUES "
			       "(?, ?, ?) ON CONFLICT(app_uuid) DO UPDATE SET commit_id = "
			       "excluded.commit_id, app_id = excluded.app_id",
			       -1, &st, NULL) != SQLITE_OK)
		return store_apps_step(db, NULL);
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, app_id);
	sqlite3_bind_text(st, 3, commit, -1, SQLITE_STATIC);
	return store_apps_step(db, st);
}

static void store_image_exec(sqlite3 *db, const char *sql, const char *ref)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_apps_step(db, NULL);
		return;
	}
	sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
	store_apps_step(db, st);
}

void store_image_pulled(sqlite3 *db, const char *ref)
{
	store_image_exec(db,
			 "INSERT OR IGNORE INTO pulled_image (ref, pulled_at) VALUES "
			 "(?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
			 ref);
}

void store_image_forget(sqlite3 *db, const char *ref)
{
	store_image_exec(db, "DELETE FROM pulled_image WHERE ref = ?", ref);
}

void store_alias_set(sqlite3 *db, const char *ref, const char *image_id)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db,
			       "INSERT INTO image_alias (ref, image_id) VALUES (?, ?) ON "
			       "CONFLICT(ref) DO UPDATE SET image_id = excluded.image_id",
			       -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, image_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		log_warnx("database: cannot record image %s: %s", ref, sqlite3_errmsg(db));
	sqlite3_finalize(st);
}

json_t *store_aliases(sqlite3 *db)
{
	json_t *out = json_object();
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, "SELECT ref, image_id FROM image_alias", -1, &st, NULL) !=
	    SQLITE_OK)
		return out;
	while (sqlite3_step(st) == SQLITE_ROW)
		json_object_set_new(out, (const char *)sqlite3_column_text(st, 0),
				    json_string((const char *)sqlite3_column_text(st, 1)));
	sqlite3_finalize(st);
	return out;
}

json_t *store_images_pulled(sqlite3 *db)
{
	json_t *refs = json_array();
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, "SELECT ref FROM pulled_image", -1, &st, NULL) != SQLITE_OK)
		return refs;
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(refs, json_string((const char *)sqlite3_column_text(st, 0)));
	sqlite3_finalize(st);
	return refs;
}

void store_made_set(sqlite3 *db, const char *id, const char *hash, const char *boot_id)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db,
			       "INSERT INTO made (id, hash, boot_id) VALUES (?, ?, ?) "
			       "ON CONFLICT(id) DO UPDATE SET hash = excluded.hash, "
			       "boot_id = excluded.boot_id",
			       -1, &st, NULL) != SQLITE_OK) {
		store_apps_step(db, NULL);
		return;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, boot_id, -1, SQLITE_STATIC);
	store_apps_step(db, st);
}

int store_made_get(sqlite3 *db, const char *id, char hash[17], char *boot_id, size_t blen)
{
	sqlite3_stmt *st;
	int rc = -1;

	hash[0] = '\0';
	boot_id[0] = '\0';
	if (sqlite3_prepare_v2(db, "SELECT hash, boot_id FROM made WHERE id = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(hash, 17, "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(boot_id, blen, "%s", (const char *)sqlite3_column_text(st, 1));
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

void store_made_prune(sqlite3 *db, json_t *ids)
{
	char *text = json_dumps(ids, JSON_COMPACT);
	sqlite3_stmt *st;

	if (text == NULL)
		return;
	if (sqlite3_prepare_v2(db,
			       "DELETE FROM made WHERE id NOT IN (SELECT value FROM json_each(?))",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
		store_apps_step(db, st);
	}
	free(text);
}

json_t *store_preload(sqlite3 *db, const char *path)
{
	char done[PATH_MAX + 16], err[512];
	json_error_t jerr;
	json_t *raw, *t;

	if (access(path, F_OK) != 0)
		return NULL;
	if ((raw = json_load_file(path, 0, &jerr)) == NULL) {
		log_error("preload %s: %s (line %d): ignored", path, jerr.text, jerr.line);
		return NULL;
	}
	t = target_from_preload(raw, err, sizeof(err));
	if (t == NULL) {
		json_decref(raw);
		log_error("preload %s: %s: ignored", path, err);
		return NULL;
	}
	if (json_is_true(json_object_get(raw, "pinDevice"))) {
		/* once provisioned, the device is pinned to the preloaded release */
		void *it = json_object_iter(json_object_get(t, "apps"));
		json_t *app = it ? json_object_iter_value(it) : NULL;
		json_t *pin = json_pack("{s:O?, s:O?}", "app", json_object_get(app, "id"), "commit",
					json_object_get(app, "commit"));
		char *text = pin ? json_dumps(pin, JSON_COMPACT) : NULL;

		if (app != NULL && text != NULL && db_config_set(db, "pinDevice", text) == -1)
			log_warnx("preload: cannot record pinDevice");
		free(text);
		json_decref(pin);
	}
	json_decref(raw);
	json_object_set_new(t, "local", json_true());
	snprintf(done, sizeof(done), "%s.preloaded", path);
	if (rename(path, done) == -1)
		log_warn("cannot rename %s", path);
	log_info("preloaded apps from %s", path);
	return t;
}
