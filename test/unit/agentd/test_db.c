/*
 * test_db.c - the database: WAL mode, migrations on a fresh database, a
 * re-run that does nothing, a failing migration that leaves nothing behind,
 * and a database ahead of the binary that is refused.
 */
#include "testutil.h"

#include "db.h"
#include "log.h"

static char *dir;
static char path[512];

static const struct migration two[] = {
	{"0001_a", "CREATE TABLE a (x INTEGER);"},
	{"0002_b", "CREATE TABLE b (y TEXT); INSERT INTO b VALUES ('hello');"},
};

static int setup(void **state)
{
	(void)state;
	log_init("test", LOG_TO_PARENT, 0);
	test_fixture(&dir, path, sizeof(path), "database.sqlite");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	test_fixture_free(&dir);
	return 0;
}

static int count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int n = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void fresh_database_gets_every_migration_in_wal_mode(void **state)
{
	char err[256];
	sqlite3 *db;
	sqlite3_stmt *st;

	(void)state;
	assert_non_null(db = db_open(path, err, sizeof(err)));
	assert_int_equal(db_migrate(db, two, 2, err, sizeof(err)), 2);
	assert_int_equal(count(db, "SELECT count(*) FROM migrations"), 2);
	assert_int_equal(count(db, "SELECT count(*) FROM b"), 1);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	db_close(db);
}

static void rerun_applies_nothing(void **state)
{
	char err[256];
	sqlite3 *db;

	(void)state;
	assert_non_null(db = db_open(path, err, sizeof(err)));
	assert_int_equal(db_migrate(db, two, 2, err, sizeof(err)), 2);
	assert_int_equal(db_migrate(db, two, 2, err, sizeof(err)), 0);
	assert_int_equal(count(db, "SELECT count(*) FROM b"), 1);
	db_close(db);
}

static void newer_migration_is_applied_on_an_older_database(void **state)
{
	char err[256];
	sqlite3 *db;

	(void)state;
	assert_non_null(db = db_open(path, err, sizeof(err)));
	assert_int_equal(db_migrate(db, two, 1, err, sizeof(err)), 1);
	assert_int_equal(db_migrate(db, two, 2, err, sizeof(err)), 1);
	assert_int_equal(count(db, "SELECT count(*) FROM migrations"), 2);
	db_close(db);
}

static void database_ahead_of_the_binary_is_refused(void **state)
{
	char err[256] = "";
	sqlite3 *db;

	(void)state;
	assert_non_null(db = db_open(path, err, sizeof(err)));
	assert_int_equal(db_migrate(db, two, 2, err, sizeof(err)), 2);
	/* A binary that only knows 0001_a. */
	assert_int_equal(db_migrate(db, two, 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "0002_b"));
	assert_non_null(strstr(err, "refusing"));
	db_close(db);
}

static void failing_migration_leaves_no_trace(void **state)
{
	static const struct migration bad[] = {
		{"0001_a", "CREATE TABLE a (x INTEGER);"},
		{"0002_bad", "CREATE TABLE c (z INTEGER); INSERT INTO nowhere VALUES (1);"},
	};
	char err[256] = "";
	sqlite3 *db;

	(void)state;
	assert_non_null(db = db_open(path, err, sizeof(err)));
	assert_int_equal(db_migrate(db, bad, 2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "0002_bad"));
	assert_int_equal(count(db, "SELECT count(*) FROM migrations"), 1);
	assert_int_equal(count(db, "SELECT count(*) FROM sqlite_master WHERE name = 'c'"), 0);
	db_close(db);
}

static void embedded_migrations_apply_and_config_round_trips(void **state)
{
	char err[256], *v;
	sqlite3 *db;

	(void)state;
	assert_true(db_migrations_count >= 1);
	assert_string_equal(db_migrations[0].name, "0001_init");
	assert_non_null(db = db_open(path, err, sizeof(err)));
	assert_int_equal(db_migrate(db, db_migrations, db_migrations_count, err, sizeof(err)),
			 (int)db_migrations_count);
	assert_null(db_config_get(db, "name"));
	assert_int_equal(db_config_set(db, "name", "one"), 0);
	assert_int_equal(db_config_set(db, "name", "two"), 0);
	assert_non_null(v = db_config_get(db, "name"));
	assert_string_equal(v, "two");
	free(v);
	db_close(db);
}

static void unopenable_path_is_an_error(void **state)
{
	char err[256] = "";

	(void)state;
	assert_null(db_open("/nonexistent-dir/x/database.sqlite", err, sizeof(err)));
	assert_non_null(strstr(err, "database"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(fresh_database_gets_every_migration_in_wal_mode),
		T(rerun_applies_nothing),
		T(newer_migration_is_applied_on_an_older_database),
		T(database_ahead_of_the_binary_is_refused),
		T(failing_migration_leaves_no_trace),
		T(embedded_migrations_apply_and_config_round_trips),
		T(unopenable_path_is_an_error),
	};

	return cmocka_run_group_tests_name("db", tests, NULL, NULL);
}
