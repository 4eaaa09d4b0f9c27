/*
 * test_takeover.c - importing the Node supervisor's database (the v19.0.5
 * fixture, test/fixtures/node-v19/database.sqlite, copied to a temporary
 * data dir): the keys unchanged, the target, the current release and local
 * mode come over once; the Node file is never written; a corrupt, locked or
 * newer database, legacy apps and a target agentd's validation rejects are
 * each refused with a clear reason and nothing written to agentd's database.
 */
#include "nodefix.h"

#include "db.h"
#include "keys.h"
#include "log.h"
#include "store.h"
#include "takeover.h"

#define DEVICE_UUID "7c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"
#define GLOBAL_KEY  "2da82e2625b74f46b467d6a10e870a24"
#define SCOPED_KEY  "052f4fbc85664d73840fcc60b6e4b0cb"
#define COMMIT      "9d8e7f6a5b4c4d3e2f1a0b9c8d7e6f5a"

static char *dir;
static char node_path[512], own_path[512];
static sqlite3 *db;
static struct keys keys;
static int keys_changed;

static void on_keys(void *arg)
{
	(void)arg;
	keys_changed++;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void copy_file(const char *from, const char *to)
{
	size_t n;
	char *buf = slurp(from, &n);
	FILE *f = fopen(to, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	free(buf);
}

/* Change the Node database copy with plain SQL (the test, not agentd). */
static void node_sql(const char *sql)
{
	sqlite3 *n;

	assert_int_equal(sqlite3_open(node_path, &n), SQLITE_OK);
	assert_int_equal(sqlite3_exec(n, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(n);
}

static int setup(void **state)
{
	char err[256];

	(void)state;
	log_init("test", LOG_TO_PARENT, 0);
	test_fixture(&dir, node_path, sizeof(node_path), "database.sqlite");
	snprintf(own_path, sizeof(own_path), "%s/agentd.sqlite", dir);
	copy_file(NODEFIX "database.sqlite", node_path);
	assert_non_null(db = db_open(own_path, err, sizeof(err)));
	assert_true(db_migrate(db, db_migrations, db_migrations_count, err, sizeof(err)) >= 0);
	keys = (struct keys){db, on_keys, NULL};
	keys_changed = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	db_close(db);
	test_fixture_free(&dir);
	return 0;
}

static int count(const char *sql)
{
	sqlite3_stmt *st;
	int n = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static const char *key_scopes(json_t *all, const char *key)
{
	static char text[256];
	json_t *k;
	size_t i;

	json_array_foreach(all, i, k)
		if (!strcmp(json_string_value(json_object_get(k, "key")) ?: "", key)) {
			char *s = json_dumps(json_object_get(k, "scopes"), JSON_COMPACT);

			snprintf(text, sizeof(text), "%s", s ? s : "");
			free(s);
			return text;
		}
	return NULL;
}

static void imports_keys_target_release_and_local_mode_once(void **state)
{
	size_t before_len, after_len;
	char *before = slurp(node_path, &before_len), *after, why[512], buf[64];
	json_t *t = NULL, *app, *svc, *all;
	const char *scopes;

	(void)state;
	assert_int_equal(
		takeover_import(db, &keys, node_path, DEVICE_UUID, NULL, &t, why, sizeof(why)),
		TAKEOVER_IMPORTED);
	assert_non_null(t);
	assert_string_equal(json_string_value(json_object_get(t, "name")), "nodesup-fixture");
	assert_true(json_is_true(json_object_get(t, "local")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(t, "config"),
							      "SUPERVISOR_LOCAL_MODE")),
			    "true");
	app = json_object_get(json_object_get(t, "apps"), "1011");
	assert_non_null(app);
	assert_int_equal(json_integer_value(json_object_get(app, "id")), 1011);
	assert_string_equal(json_string_value(json_object_get(app, "commit")), COMMIT);
	assert_int_equal(json_integer_value(json_object_get(app, "release_id")), 2101);
	assert_int_equal(json_object_size(json_object_get(app, "services")), 3);
	svc = json_object_get(json_object_get(app, "services"), "frontend");
	assert_int_equal(json_integer_value(json_object_get(svc, "image_id")), 3101);
	assert_string_equal(json_string_value(json_object_get(svc, "image")), "acc/busybox:1");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(svc, "environment"), "GREETING")),
		"hello world");
	assert_non_null(json_object_get(json_object_get(app, "networks"), "backnet"));
	assert_non_null(json_object_get(json_object_get(app, "volumes"), "appdata"));

	/* the keys, values and scopes unchanged, and the API told */
	all = keys_all(&keys);
	assert_non_null(scopes = key_scopes(all, GLOBAL_KEY));
	assert_string_equal(scopes, "[{\"type\":\"global\"}]");
	assert_non_null(scopes = key_scopes(all, SCOPED_KEY));
	assert_string_equal(scopes, "[{\"type\":\"app\",\"appId\":1011}]");
	json_decref(all);
	assert_int_equal(keys_changed, 1);
	/* the service's key is the one its container's env has */
	{
		char *k = keys_for(&keys, 1011, "frontend");

		assert_string_equal(k, SCOPED_KEY);
		free(k);
	}
	assert_non_null(store_commit_get(db, "1011", buf, sizeof(buf)));
	assert_string_equal(buf, COMMIT);
	{
		char *v = db_config_get(db, "initialConfigSaved");

		assert_string_equal(v, "true");
		free(v);
	}
	json_decref(t);

	/* once only: agentd's own database is the truth from now on */
	t = NULL;
	assert_int_equal(
		takeover_import(db, &keys, node_path, DEVICE_UUID, NULL, &t, why, sizeof(why)),
		TAKEOVER_NONE);
	assert_null(t);

	/* Node's file: the same bytes, no journal left beside it */
	after = slurp(node_path, &after_len);
	assert_int_equal(after_len, before_len);
	assert_memory_equal(after, before, before_len);
	free(before);
	free(after);
	{
		char side[600];

		snprintf(side, sizeof(side), "%s-journal", node_path);
		assert_int_not_equal(access(side, F_OK), 0);
		snprintf(side, sizeof(side), "%s-wal", node_path);
		assert_int_not_equal(access(side, F_OK), 0);
	}
}

static void no_node_database_is_nothing_to_do(void **state)
{
	json_t *t = NULL;
	char why[512];

	(void)state;
	assert_int_equal(unlink(node_path), 0);
	assert_int_equal(
		takeover_import(db, &keys, node_path, DEVICE_UUID, NULL, &t, why, sizeof(why)),
		TAKEOVER_NONE);
	assert_null(t);
	assert_int_equal(count("SELECT count(*) FROM api_secret"), 0);
}

/* A refusal: the reason contains `needle`, agentd's database has nothing of
 * Node's, and the Node file is what it was. */
static void refused(const char *needle)
{
	size_t before_len, after_len;
	char *before = slurp(node_path, &before_len), *after, why[512] = "", *mark;
	json_t *t = NULL;

	assert_int_equal(
		takeover_import(db, &keys, node_path, DEVICE_UUID, NULL, &t, why, sizeof(why)),
		TAKEOVER_REFUSED);
	assert_null(t);
	if (strstr(why, needle) == NULL)
		fail_msg("the reason '%s' does not say '%s'", why, needle);
	assert_int_equal(count("SELECT count(*) FROM api_secret"), 0);
	assert_null(mark = db_config_get(db, "nodeDatabaseImported"));
	assert_int_equal(keys_changed, 0);
	after = slurp(node_path, &after_len);
	assert_int_equal(after_len, before_len);
	assert_memory_equal(after, before, before_len);
	free(before);
	free(after);
}

static void a_corrupt_database_is_refused(void **state)
{
	(void)state;
	test_write_file(node_path, "this is not a database, it only has the name of one\n");
	refused("not a database");
}

static void a_newer_node_database_is_refused(void **state)
{
	(void)state;
	node_sql("INSERT INTO knex_migrations (name, batch, migration_time) VALUES "
		 "('M00013.js', 2, 0)");
	refused("newer Node supervisor (migration M00013.js");
}

static void legacy_apps_are_refused(void **state)
{
	(void)state;
	node_sql("INSERT INTO config (key, value) VALUES ('legacyAppsPresent', 'true')");
	refused("legacyAppsPresent");
}

static void a_target_agentd_rejects_is_refused(void **state)
{
	(void)state;
	/* a service without an image */
	node_sql("UPDATE app SET services = replace(services, '\"image\":\"acc/busybox:2\",', '')");
	refused("its target is invalid");
}

static void a_locked_database_is_refused(void **state)
{
	sqlite3 *holder;

	(void)state;
	assert_int_equal(sqlite3_open(node_path, &holder), SQLITE_OK);
	assert_int_equal(sqlite3_exec(holder, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	refused("locked");
	sqlite3_exec(holder, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(holder);
}

static void no_target_received_imports_the_keys_only(void **state)
{
	json_t *t = (json_t *)1, *all;
	char why[512], buf[64];

	(void)state;
	node_sql("DELETE FROM config WHERE key = 'targetStateSet'");
	assert_int_equal(
		takeover_import(db, &keys, node_path, DEVICE_UUID, NULL, &t, why, sizeof(why)),
		TAKEOVER_IMPORTED);
	assert_null(t);
	all = keys_all(&keys);
	assert_non_null(key_scopes(all, SCOPED_KEY));
	json_decref(all);
	assert_string_equal(store_commit_get(db, "1011", buf, sizeof(buf)), "");
}

static void a_managed_device_takes_the_apps_of_its_own_cloud(void **state)
{
	json_t *t = NULL;
	char why[512], buf[64];

	(void)state;
	node_sql("UPDATE config SET value = 'false' WHERE key = 'localMode';"
		 "UPDATE app SET source = 'https://api.balena-cloud.com';"
		 "INSERT INTO config (key, value) VALUES ('apiEndpointOverride', "
		 "'http://10.114.104.1');"
		 "INSERT INTO config (key, value) VALUES ('pinDevice', "
		 "'{\"app\":1011,\"commit\":\"abc\"}')");
	assert_int_equal(takeover_import(db, &keys, node_path, DEVICE_UUID,
					 "https://api.balena-cloud.com/", &t, why, sizeof(why)),
			 TAKEOVER_IMPORTED);
	assert_non_null(json_object_get(json_object_get(t, "apps"), "1011"));
	assert_false(json_is_true(json_object_get(t, "local")));
	/* its localMode, not the device config it last had, says */
	assert_string_equal(json_string_value(json_object_get(json_object_get(t, "config"),
							      "SUPERVISOR_LOCAL_MODE")),
			    "false");
	assert_string_equal(store_commit_get(db, "1011", buf, sizeof(buf)), COMMIT);
	{
		char *v = db_config_get(db, "pinDevice"),
		     *o = db_config_get(db, "apiEndpointOverride");

		assert_string_equal(v, "{\"app\":1011,\"commit\":\"abc\"}");
		assert_null(o); /* helios' override is not agentd's business */
		free(v);
	}
	json_decref(t);
}

static void apps_of_another_cloud_are_not_the_target(void **state)
{
	json_t *t = NULL;
	char why[512];

	(void)state;
	node_sql("UPDATE config SET value = 'false' WHERE key = 'localMode';"
		 "UPDATE app SET source = 'https://api.old-cloud.example'");
	assert_int_equal(takeover_import(db, &keys, node_path, DEVICE_UUID,
					 "https://api.balena-cloud.com", &t, why, sizeof(why)),
			 TAKEOVER_IMPORTED);
	assert_int_equal(json_object_size(json_object_get(t, "apps")), 0);
	json_decref(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(imports_keys_target_release_and_local_mode_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(no_node_database_is_nothing_to_do, setup, teardown),
		cmocka_unit_test_setup_teardown(a_corrupt_database_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_newer_node_database_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(legacy_apps_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_target_agentd_rejects_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_locked_database_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(no_target_received_imports_the_keys_only, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_managed_device_takes_the_apps_of_its_own_cloud,
						setup, teardown),
		cmocka_unit_test_setup_teardown(apps_of_another_cloud_are_not_the_target, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
