/*
 * test_storage.c - writes of agentd's own storage that fail (a full disk):
 * the target and an API key are refused with the database's reason and
 * leave what was stored as it was, each kind of write is counted in
 * /metrics and marked failing until a write of it works again.
 */
#include "testutil.h"

#include "db.h"
#include "keys.h"
#include "log.h"
#include "storage.h"
#include "store.h"

static char *dir;
static char path[512];
static sqlite3 *db;

static int setup(void **state)
{
	char err[256];

	(void)state;
	log_init("test", LOG_TO_PARENT, 0);
	test_fixture(&dir, path, sizeof(path), "agentd.sqlite");
	assert_non_null(db = db_open(path, err, sizeof(err)));
	assert_true(db_migrate(db, db_migrations, db_migrations_count, err, sizeof(err)) > 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	db_close(db);
	test_fixture_free(&dir);
	return 0;
}

/* The count /metrics shows for a kind. */
static long long failures_of(const char *kind)
{
	char buf[4096], want[128], *p;
	size_t off = 0;

	storage_metrics(buf, sizeof(buf), &off);
	snprintf(want, sizeof(want), "agentd_storage_write_failures_total{kind=\"%s\"} ", kind);
	assert_non_null(p = strstr(buf, want));
	return atoll(p + strlen(want));
}

/* The database refuses to grow, as on a full disk (SQLITE_FULL). */
static void database_full(int full)
{
	char sql[64];
	sqlite3_stmt *st;
	int pages;

	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	pages = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %d", full ? pages : 1000000);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
}

static void a_target_the_full_database_refuses_leaves_the_old_one(void **state)
{
	char err[256], *big = malloc(200001);
	long long before = failures_of("target");
	json_t *t1 = test_json("{\"name\": \"one\", \"apps\": {}}"), *t2, *got;

	(void)state;
	assert_int_equal(store_target_save(db, t1, err, sizeof(err)), 0);
	assert_false(storage_failing(STORAGE_TARGET));
	memset(big, 'x', 200000);
	big[200000] = '\0';
	t2 = json_pack("{s:s, s:{}, s:s}", "name", "two", "apps", "pad", big);
	database_full(1);
	assert_int_equal(store_target_save(db, t2, err, sizeof(err)), -1);
	assert_string_equal(err, "cannot store the target: database or disk is full");
	assert_int_equal(store_target_save(db, t2, err, sizeof(err)), -1);
	assert_true(storage_failing(STORAGE_TARGET));
	assert_int_equal(failures_of("target"), before + 2);
	got = store_target_load(db);
	assert_true(json_equal(got, t1));
	json_decref(got);
	/* space again: the same write works, and the kind is no longer failing */
	database_full(0);
	assert_int_equal(store_target_save(db, t2, err, sizeof(err)), 0);
	assert_false(storage_failing(STORAGE_TARGET));
	assert_int_equal(failures_of("target"), before + 2);
	got = store_target_load(db);
	assert_true(json_equal(got, t2));
	json_decref(got);
	json_decref(t1);
	json_decref(t2);
	free(big);
}

static void a_key_that_cannot_be_stored_stays_the_old_one_and_says_why(void **state)
{
	struct keys k = {.db = db}, ro = {0};
	char err[256] = "", *key, *again, *now;

	(void)state;
	assert_non_null(key = keys_for(&k, 0, NULL));
	/* a database that takes no write at all */
	assert_int_equal(sqlite3_open_v2(path, &ro.db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_null(keys_regenerate(&ro, key, err, sizeof(err)));
	assert_string_equal(err, "cannot store the new key: attempt to write a readonly database");
	assert_true(storage_failing(STORAGE_KEYS));
	sqlite3_close(ro.db);
	assert_non_null(now = keys_for(&k, 0, NULL));
	assert_string_equal(now, key);
	free(now);
	/* a key that is not one is refused, without a storage failure */
	assert_null(keys_regenerate(&k, "0123456789abcdef0123456789abcdef", err, sizeof(err)));
	assert_string_equal(err, "not a key of this device");
	assert_false(storage_failing(STORAGE_KEYS));
	assert_non_null(again = keys_regenerate(&k, key, err, sizeof(err)));
	assert_string_not_equal(again, key);
	assert_int_equal(strlen(again), 32);
	free(again);
	free(key);
}

static void each_kind_fails_and_recovers_on_its_own(void **state)
{
	long long r = failures_of("report_cache"), c = failures_of("config_json");

	(void)state;
	storage_failed(STORAGE_REPORT_CACHE, "No space left on device");
	storage_failed(STORAGE_REPORT_CACHE, "No space left on device");
	storage_failed(STORAGE_CONFIG_JSON, "No space left on device");
	assert_int_equal(failures_of("report_cache"), r + 2);
	assert_int_equal(failures_of("config_json"), c + 1);
	storage_ok(STORAGE_CONFIG_JSON);
	assert_false(storage_failing(STORAGE_CONFIG_JSON));
	assert_true(storage_failing(STORAGE_REPORT_CACHE));
	storage_ok(STORAGE_REPORT_CACHE);
	assert_false(storage_failing(STORAGE_REPORT_CACHE));
	assert_false(storage_failing(STORAGE_COUNT)); /* not a kind */
}

static void metrics_never_write_past_the_buffer(void **state)
{
	char buf[100];
	size_t off = 90;

	(void)state;
	memset(buf, '#', sizeof(buf));
	buf[90] = '\0';
	storage_metrics(buf, sizeof(buf), &off);
	assert_true(off < sizeof(buf));
	assert_int_equal(buf[off], '\0');
	off = sizeof(buf);
	storage_metrics(buf, sizeof(buf), &off); /* already full: nothing */
	assert_int_equal(off, sizeof(buf));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(a_target_the_full_database_refuses_leaves_the_old_one),
		T(a_key_that_cannot_be_stored_stays_the_old_one_and_says_why),
		T(each_kind_fails_and_recovers_on_its_own),
		T(metrics_never_write_past_the_buffer),
	};

	return cmocka_run_group_tests_name("storage", tests, NULL, NULL);
}
