/*
 * db.c - opening the database and running migrations (see db.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "storage.h"

sqlite3 *db_open(const char *path, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	int rc;

	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "database %s: %s", path,
			 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	/* WAL with synchronous=FULL: a committed transaction survives power loss. */
	rc = sqlite3_exec(db,
			  "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
			  "PRAGMA foreign_keys=ON;",
			  NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "database %s: %s", path, msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

void db_close(sqlite3 *db)
{
	if (db != NULL)
		sqlite3_close(db);
}

static int db_known(const struct migration *list, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i].name, name) == 0)
			return 1;
	return 0;
}

static int db_applied(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st;
	int found = 0;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM migrations WHERE name = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

static int db_apply_one(sqlite3 *db, const struct migration *m, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char *msg = NULL;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(db, m->sql, NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (sqlite3_prepare_v2(db,
			       "INSERT INTO migrations (name, applied_at) "
			       "VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
			       -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, m->name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "database: migration %s failed: %s", m->name,
		 msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	sqlite3_finalize(st);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int db_migrate(sqlite3 *db, const struct migration *list, size_t n, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int applied = 0, rc;
	size_t i;

	if (sqlite3_exec(db,
			 "CREATE TABLE IF NOT EXISTS migrations ("
			 " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
			 " applied_at TEXT NOT NULL)",
			 NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "database: cannot create migrations table: %s",
			 sqlite3_errmsg(db));
		return -1;
	}
	/* Refuse a database written by a newer agentd: its schema is unknown. */
	if (sqlite3_prepare_v2(db, "SELECT name FROM migrations ORDER BY name", -1, &st, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "database: %s", sqlite3_errmsg(db));
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		if (!db_known(list, n, name)) {
			snprintf(err, errlen,
				 "database has migration %s that this agentd does not know "
				 "(written by a newer version?); refusing to use it",
				 name);
			sqlite3_finalize(st);
			return -1;
		}
	}
	sqlite3_finalize(st);
	for (i = 0; i < n; i++) {
		if ((rc = db_applied(db, list[i].name)) == -1) {
			snprintf(err, errlen, "database: %s", sqlite3_errmsg(db));
			return -1;
		}
		if (rc == 1)
			continue;
		if (db_apply_one(db, &list[i], err, errlen) == -1)
			return -1;
		log_info("database: applied migration %s", list[i].name);
		applied++;
	}
	return applied;
}

char *db_config_get(sqlite3 *db, const char *key)
{
	sqlite3_stmt *st;
	char *value = NULL;

	if (sqlite3_prepare_v2(db, "SELECT value FROM config WHERE key = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
		value = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return value;
}

int db_config_set(sqlite3 *db, const char *key, const char *value)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db,
			       "INSERT INTO config (key, value) VALUES (?, ?) "
			       "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
			       -1, &st, NULL) != SQLITE_OK) {
		storage_failed(STORAGE_SETTINGS, sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	if (rc == -1)
		storage_failed(STORAGE_SETTINGS, sqlite3_errmsg(db));
	else
		storage_ok(STORAGE_SETTINGS);
	sqlite3_finalize(st);
	return rc;
}

/* Whether the sqlite file at path has a table of this name. -1 unreadable. */
static int db_has_table(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st;
	int found;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

/* "file:<path>?immutable=1", the path %-escaped where a URI needs it. */
static int db_uri(const char *path, char *out, size_t len)
{
	size_t o = 0;

	o += (size_t)snprintf(out, len, "file:");
	for (; *path && o + 4 < len; path++) {
		if (*path == '%' || *path == '?' || *path == '#')
			o += (size_t)snprintf(out + o, len - o, "%%%02X", (unsigned char)*path);
		else
			out[o++] = *path;
	}
	if (*path != '\0' || o + sizeof("?immutable=1") > len)
		return -1;
	snprintf(out + o, len - o, "?immutable=1");
	return 0;
}

int db_adopt_own(const char *from, const char *to, char *err, size_t errlen)
{
	static const char *const tails[] = {"-wal", "-shm", ""};
	char a[PATH_MAX + 8], b[PATH_MAX + 8], uri[3 * PATH_MAX + 32];
	sqlite3 *db = NULL;
	int ours, knex;
	size_t i;

	if (access(to, F_OK) == 0 || access(from, F_OK) != 0)
		return 0;
	/* immutable: sqlite neither locks nor makes a -wal or -shm beside it */
	if (db_uri(from, uri, sizeof(uri)) == -1 ||
	    sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return 0; /* not readable as a database: not ours to move */
	}
	ours = db_has_table(db, "migrations");
	knex = db_has_table(db, "knex_migrations");
	sqlite3_close(db);
	if (ours != 1 || knex != 0)
		return 0; /* the Node supervisor's (or unknown): never touched */
	/* The journal first: a cut between the renames leaves a name pair that
	 * the next start completes. */
	for (i = 0; i < 3; i++) {
		snprintf(a, sizeof(a), "%s%s", from, tails[i]);
		snprintf(b, sizeof(b), "%s%s", to, tails[i]);
		if (rename(a, b) == -1 && errno != ENOENT) {
			snprintf(err, errlen, "cannot rename %s to %s: %s", a, b, strerror(errno));
			return -1;
		}
	}
	log_info("database: %s is now %s", from, to);
	return 1;
}
