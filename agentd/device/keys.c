/*
 * keys.c - the local API's keys in agentd's database (see keys.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "keys.h"
#include "storage.h"

static void keys_bind_service(sqlite3_stmt *st, int col, const char *service)
{
	if (service != NULL)
		sqlite3_bind_text(st, col, service, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, col);
}

char *keys_for(struct keys *k, int app_id, const char *service)
{
	sqlite3_stmt *st;
	char key[33], scopes[96];
	char *found = NULL;

	if (sqlite3_prepare_v2(k->db,
			       "SELECT key FROM api_secret WHERE app_id = ? AND service_name IS ?",
			       -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int(st, 1, app_id);
	keys_bind_service(st, 2, service);
	if (sqlite3_step(st) == SQLITE_ROW)
		found = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (found != NULL)
		return found;
	if (identity_random_hex(key) == -1)
		return NULL;
	if (app_id == 0)
		snprintf(scopes, sizeof(scopes), "[{\"type\":\"global\"}]");
	else
		snprintf(scopes, sizeof(scopes), "[{\"type\":\"app\",\"appId\":%d}]", app_id);
	if (sqlite3_prepare_v2(k->db,
			       "INSERT INTO api_secret (app_id, service_name, key, scopes) "
			       "VALUES (?, ?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int(st, 1, app_id);
	keys_bind_service(st, 2, service);
	sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, scopes, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		storage_failed(STORAGE_KEYS, sqlite3_errmsg(k->db));
		sqlite3_finalize(st);
		return NULL;
	}
	storage_ok(STORAGE_KEYS);
	sqlite3_finalize(st);
	if (k->changed != NULL)
		k->changed(k->arg);
	return strdup(key);
}

char *keys_regenerate(struct keys *k, const char *old, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	char key[33];
	int done;

	if (identity_random_hex(key) == -1) {
		snprintf(err, errlen, "cannot make a new key");
		return NULL;
	}
	if (sqlite3_prepare_v2(k->db, "UPDATE api_secret SET key = ? WHERE key = ?", -1, &st,
			       NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot store the new key: %s", sqlite3_errmsg(k->db));
		return NULL;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, old, -1, SQLITE_STATIC);
	done = sqlite3_step(st) == SQLITE_DONE;
	if (!done) {
		snprintf(err, errlen, "cannot store the new key: %s", sqlite3_errmsg(k->db));
		storage_failed(STORAGE_KEYS, sqlite3_errmsg(k->db));
	}
	sqlite3_finalize(st);
	if (!done)
		return NULL;
	storage_ok(STORAGE_KEYS);
	if (sqlite3_changes(k->db) != 1) {
		snprintf(err, errlen, "not a key of this device");
		return NULL;
	}
	if (k->changed != NULL)
		k->changed(k->arg);
	return strdup(key);
}

json_t *keys_all(struct keys *k)
{
	json_t *keys = json_array();
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(k->db, "SELECT key, scopes FROM api_secret", -1, &st, NULL) !=
	    SQLITE_OK)
		return keys;
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *scopes = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);

		json_array_append_new(keys, json_pack("{s:s, s:o}", "key",
						      (const char *)sqlite3_column_text(st, 0),
						      "scopes", scopes ? scopes : json_array()));
	}
	sqlite3_finalize(st);
	return keys;
}
