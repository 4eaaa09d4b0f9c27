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
/// agentd's database at `from` (an older name) becomes `to` (with its WAL and
/// shared-memory files), unless `to` exists. A file that is not agentd's (the
/// Node supervisor's knex database) is never touched. 1 renamed, 0 nothing
/// to do, -1 with a reason.
int db_adopt_own(const char *from, const char *to, char *err, size_t errlen);

/// Key/value settings in the `config` table. db_get returns a malloc'd copy
/// or NULL when absent.
char *db_config_get(sqlite3 *db, const char *key);
int db_config_set(sqlite3 *db, const char *key, const char *value);

#endif
