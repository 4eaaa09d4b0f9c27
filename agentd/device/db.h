/*
 * db.h - agentd's sqlite database (WAL) and its forward-only migrations.
 *
 * Migrations are the files migrations/NNNN_name.sql, embedded at build time
 * (build/gen/migrations.c) in name order. Each is applied in its own
 * transaction and recorded in the `migrations` table; a database that
 * records a migration this binary does not have is refused.
 */
#ifndef AGENTD_DB_H
#define AGENTD_DB_H

#include <stddef.h>

#include <sqlite3.h>

struct migration {
	const char *name; /* "0001_init" */
	const char *sql;
};

/* build/gen/migrations.c */
extern const struct migration db_migrations[];
extern const size_t db_migrations_count;

/// Open (creating) the database at `path` in WAL mode with durable commits.
sqlite3 *db_open(const char *path, char *err, size_t errlen);
/// Apply the migrations of `list` not yet applied. Returns the number
/// applied, or -1 with a reason (unknown migration in the DB, SQL error).
int db_migrate(sqlite3 *db, const struct migration *list, size_t n, char *err, size_t errlen);
void db_close(sqlite3 *db);

/// Key/value settings in the `config` table. db_get returns a malloc'd copy
/// or NULL when absent.
char *db_config_get(sqlite3 *db, const char *key);
int db_config_set(sqlite3 *db, const char *key, const char *value);

#endif
