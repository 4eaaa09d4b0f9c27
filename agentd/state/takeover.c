/*
 * takeover.c - the Node supervisor's database imported into agentd's (see
 * takeover.h). The file is opened read-only; nothing in it is changed, no
 * knex_migrations row is added. A database this code cannot trust is
 * refused whole with one line saying why, and then agentd changes nothing
 * on the device until it is given a target (takeover_import's caller holds).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "store.h"
#include "takeover.h"
#include "target.h"

/* The migrations of the Node supervisor up to v19.0.5: a database that has
 * run one more was written by a newer one, whose rows this code may misread. */
static const char *const node_migrations[] = {
	"20171129013519_legacy.js",
	"20171129064057_multicontainer.js",
	"20171214172530_image_docker_id.js",
	"20180516164000-endpoint-specific-apps.js",
	"20181907164000-endpoint-specific-logschannel.js",
	"20190619152500-engine-snapshot.js",
	"M00000.js",
	"M00001.js",
	"M00002.js",
	"M00003.js",
	"M00004.js",
	"M00005.js",
	"M00006.js",
	"M00007.js",
	"M00008.js",
	"M00009.js",
	"M00010.js",
	"M00011.js",
	"M00012.js",
	NULL,
};

#define IMPORTED_KEY "nodeDatabaseImported"

static int known_migration(const char *name)
{
	size_t n = strlen(name), i;

	for (i = 0; node_migrations[i] != NULL; i++) {
		const char *m = node_migrations[i];
		size_t k = strlen(m) - 3; /* without ".js": older builds recorded ".ts" */

		if (!strcmp(name, m) || (n == k + 3 && !strncmp(name, m, k)))
			return 1;
	}
	return 0;
}

static int truthy(const char *s)
{
	return s != NULL && (!strcmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "on"));
}

/* The Node supervisor's config table as {key: value} (new reference). */
static json_t *node_config(sqlite3 *node)
{
	json_t *out = json_object();
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(node, "SELECT key, value FROM config", -1, &st, NULL) != SQLITE_OK)
		return out;
	while (sqlite3_step(st) == SQLITE_ROW)
		if (sqlite3_column_text(st, 0) != NULL && sqlite3_column_text(st, 1) != NULL)
			json_object_set_new(out, (const char *)sqlite3_column_text(st, 0),
					    json_string((const char *)sqlite3_column_text(st, 1)));
	sqlite3_finalize(st);
	return out;
}

/* A JSON column, parsed (new reference), or an empty `dflt` kind. */
static json_t *json_col(sqlite3_stmt *st, int col, int array)
{
	const char *text = (const char *)sqlite3_column_text(st, col);
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;

	if (j == NULL || (array ? !json_is_array(j) : !json_is_object(j))) {
		json_decref(j);
		return array ? json_array() : json_object();
	}
	return j;
}

/* One app row as a v3 app {id, name, class, is_host, releases: {commit:
 * {id, services, volumes, networks}}}, so that target.c checks it whole. */
static json_t *node_app(sqlite3_stmt *st)
{
	json_t *rows = json_col(st, 5, 1), *services = json_object(), *row, *svc, *v;
	const char *commit = (const char *)sqlite3_column_text(st, 3);
	const char *cls = (const char *)sqlite3_column_text(st, 10);
	size_t i;

	json_array_foreach(rows, i, row) {
		const char *name = json_string_value(json_object_get(row, "serviceName"));

		if (name == NULL)
			continue;
		svc = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?}", "id",
				json_object_get(row, "serviceId"), "image_id",
				json_object_get(row, "imageId"), "image",
				json_object_get(row, "image"), "environment",
				json_object_get(row, "environment"), "labels",
				json_object_get(row, "labels"));
		if (svc == NULL)
			continue;
		if ((v = json_object_get(row, "running")) != NULL)
			json_object_set(svc, "running", v);
		if ((v = json_object_get(row, "composition")) != NULL)
			json_object_set(svc, "composition", v);
		if ((v = json_object_get(row, "contract")) != NULL)
			json_object_set(svc, "contract", v);
		json_object_set_new(services, name, svc);
	}
	json_decref(rows);
	return json_pack("{s:I, s:s, s:s, s:b, s:{s:{s:I, s:o, s:o, s:o}}}", "id",
			 (json_int_t)sqlite3_column_int64(st, 4), "name",
			 (const char *)sqlite3_column_text(st, 1) ?: "", "class",
			 cls && *cls ? cls : "fleet", "is_host", sqlite3_column_int(st, 11) != 0,
			 "releases", commit ? commit : "", "id",
			 (json_int_t)sqlite3_column_int64(st, 2), "services", services, "volumes",
			 json_col(st, 7, 0), "networks", json_col(st, 6, 0));
}

/* An app row is of the current source: 'local' in local mode, else the
 * cloud of config.json (rows of an endpoint the device has left are stale). */
static int of_source(const char *source, int local, const char *api_endpoint)
{
	size_t n;

	if (local || strcmp(source, "local") == 0)
		return local && strcmp(source, "local") == 0;
	if (api_endpoint == NULL)
		return 1;
	n = strlen(api_endpoint);
	while (n > 0 && api_endpoint[n - 1] == '/')
		n--;
	return strncmp(source, api_endpoint, n) == 0 &&
	       strspn(source + n, "/") == strlen(source + n);
}

/* What each app is fully on (currentCommit, by app id; the app rows hold
 * the target's commit, which differs in the middle of an update). */
static void node_commits(sqlite3 *node, json_t *commits)
{
	sqlite3_stmt *st;
	const char *uuid;
	json_t *c;

	if (sqlite3_prepare_v2(node, "SELECT appId, \"commit\" FROM currentCommit", -1, &st,
			       NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(st) == SQLITE_ROW)
		json_object_foreach(commits, uuid, c)
			if (json_integer_value(json_object_get(c, "app_id")) ==
				    sqlite3_column_int64(st, 0) &&
			    sqlite3_column_text(st, 1) != NULL)
				json_object_set_new(
					c, "commit",
					json_string((const char *)sqlite3_column_text(st, 1)));
	sqlite3_finalize(st);
}

/* The target the Node supervisor had: its apps of the current source (the
 * local ones in local mode, the cloud's otherwise), its device config, its
 * name. Internal form (new reference) or NULL with the reason. */
static json_t *node_target(sqlite3 *node, json_t *cfg, const char *device_uuid,
			   const char *api_endpoint, json_t *commits, char *why, size_t len)
{
	int local = truthy(json_string_value(json_object_get(cfg, "localMode")));
	json_t *apps = json_object(), *v3, *t, *config = NULL;
	sqlite3_stmt *st;
	char err[512];

	if (sqlite3_prepare_v2(node,
			       "SELECT id, name, releaseId, \"commit\", appId, services, networks, "
			       "volumes, source, uuid, class, isHost FROM app",
			       -1, &st, NULL) != SQLITE_OK) {
		snprintf(why, len, "cannot read its apps: %s", sqlite3_errmsg(node));
		json_decref(apps);
		return NULL;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *source = (const char *)sqlite3_column_text(st, 8) ?: "";
		const char *uuid = (const char *)sqlite3_column_text(st, 9);

		if (uuid == NULL || !of_source(source, local, api_endpoint))
			continue;
		json_object_set_new(apps, uuid, node_app(st));
		json_object_set_new(
			commits, uuid,
			json_pack("{s:I}", "app_id", (json_int_t)sqlite3_column_int64(st, 4)));
	}
	sqlite3_finalize(st);
	node_commits(node, commits);
	if (sqlite3_prepare_v2(node, "SELECT targetValues FROM deviceConfig", -1, &st, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			config = json_col(st, 0, 0);
		sqlite3_finalize(st);
	}
	if (config == NULL)
		config = json_object();
	/* its localMode key is what it was in, whatever the device config said */
	if (local || json_object_get(config, "SUPERVISOR_LOCAL_MODE") != NULL)
		json_object_set_new(config, "SUPERVISOR_LOCAL_MODE",
				    json_string(local ? "true" : "false"));
	v3 = json_pack("{s:{s:s, s:o, s:o}}", device_uuid, "name",
		       json_string_value(json_object_get(cfg, "name")) ?: "", "config", config,
		       "apps", apps);
	if ((t = target_from_v3(v3, device_uuid, err, sizeof(err))) == NULL)
		snprintf(why, len, "its target is invalid: %s", err);
	else
		json_object_set_new(t, "local", json_boolean(local));
	json_decref(v3);
	return t;
}

/* The local API's keys, values and scopes unchanged. */
static int node_keys(sqlite3 *node, sqlite3 *db, char *why, size_t len)
{
	sqlite3_stmt *st, *ins;
	int n = 0;

	if (sqlite3_prepare_v2(node, "SELECT appId, serviceName, key, scopes FROM apiSecret", -1,
			       &st, NULL) != SQLITE_OK) {
		snprintf(why, len, "cannot read its API keys: %s", sqlite3_errmsg(node));
		return -1;
	}
	if (sqlite3_prepare_v2(db,
			       "INSERT INTO api_secret (app_id, service_name, key, scopes) VALUES "
			       "(?, ?, ?, ?) ON CONFLICT(app_id, service_name) DO UPDATE SET "
			       "key = excluded.key, scopes = excluded.scopes",
			       -1, &ins, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		snprintf(why, len, "cannot store API keys: %s", sqlite3_errmsg(db));
		return -1;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (sqlite3_column_text(st, 2) == NULL || sqlite3_column_text(st, 3) == NULL)
			continue;
		sqlite3_reset(ins);
		sqlite3_bind_int64(ins, 1, sqlite3_column_int64(st, 0));
		if (sqlite3_column_text(st, 1) != NULL)
			sqlite3_bind_text(ins, 2, (const char *)sqlite3_column_text(st, 1), -1,
					  SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(ins, 2);
		sqlite3_bind_text(ins, 3, (const char *)sqlite3_column_text(st, 2), -1,
				  SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 4, (const char *)sqlite3_column_text(st, 3), -1,
				  SQLITE_TRANSIENT);
		if (sqlite3_step(ins) == SQLITE_DONE)
			n++;
	}
	sqlite3_finalize(ins);
	sqlite3_finalize(st);
	return n;
}

/* Every migration it ran is one this code knows. */
static int node_version_ok(sqlite3 *node, char *why, size_t len)
{
	sqlite3_stmt *st;
	int ok = 1, n = 0;

	if (sqlite3_prepare_v2(node, "SELECT name FROM knex_migrations", -1, &st, NULL) !=
	    SQLITE_OK) {
		snprintf(why, len, "it has no migrations table (%s)", sqlite3_errmsg(node));
		return 0;
	}
	while (ok && sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0) ?: "";

		n++;
		if (!known_migration(name)) {
			snprintf(why, len,
				 "it was written by a newer Node supervisor (migration %s, which "
				 "agentd does not know)",
				 name);
			ok = 0;
		}
	}
	sqlite3_finalize(st);
	if (ok && n == 0) {
		snprintf(why, len, "it has run no migration");
		ok = 0;
	}
	return ok;
}

/* "file:<path>?mode=ro": read-only, whatever happens. */
static int node_open(const char *path, sqlite3 **node, char *why, size_t len)
{
	char uri[PATH_MAX + 32];

	if (strpbrk(path, "?#%") != NULL) {
		snprintf(why, len, "its path cannot be opened read-only safely");
		return -1;
	}
	snprintf(uri, sizeof(uri), "file:%s?mode=ro", path);
	if (sqlite3_open_v2(uri, node, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
		snprintf(why, len, "cannot open it: %s",
			 *node ? sqlite3_errmsg(*node) : "no memory");
		return -1;
	}
	sqlite3_busy_timeout(*node, 2000);
	return 0;
}

enum takeover_result takeover_import(sqlite3 *db, struct keys *keys, const char *node_db,
				     const char *device_uuid, const char *api_endpoint,
				     json_t **target, char *why, size_t len)
{
	json_t *cfg = NULL, *commits = json_object(), *t = NULL, *v;
	char mark[PATH_MAX + 64], *done;
	enum takeover_result r = TAKEOVER_REFUSED;
	sqlite3 *node = NULL;
	struct stat st;
	const char *k;
	int nkeys, set;

	*target = NULL;
	if (stat(node_db, &st) != 0) {
		json_decref(commits);
		return TAKEOVER_NONE;
	}
	snprintf(mark, sizeof(mark), "%s %lld", node_db, (long long)st.st_mtime);
	if ((done = db_config_get(db, IMPORTED_KEY)) != NULL) {
		free(done); /* done once: agentd's own database is the truth now */
		json_decref(commits);
		return TAKEOVER_NONE;
	}
	log_info("takeover: the Node supervisor's database %s found: importing it (read-only)",
		 node_db);
	if (node_open(node_db, &node, why, len) == -1 || !node_version_ok(node, why, len))
		goto out;
	cfg = node_config(node);
	if (truthy(json_string_value(json_object_get(cfg, "legacyAppsPresent")))) {
		snprintf(why, len,
			 "it still holds apps of the pre-multicontainer supervisor "
			 "(legacyAppsPresent), which agentd does not migrate");
		goto out;
	}
	if (json_object_get(cfg, "apiEndpointOverride") ||
	    json_object_get(cfg, "listenPortOverride"))
		log_info("takeover: apiEndpointOverride and listenPortOverride (set by helios) are "
			 "ignored: agentd talks to config.json's endpoint and listens on its port");
	/* a Node supervisor that never received a target has none to give:
	 * agentd then starts as Node would (the preloaded apps, or the cloud's) */
	set = truthy(json_string_value(json_object_get(cfg, "targetStateSet")));
	if (set &&
	    (t = node_target(node, cfg, device_uuid, api_endpoint, commits, why, len)) == NULL)
		goto out;
	/* nothing is written to agentd's database before the target is known good */
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(why, len, "cannot write agentd's database: %s", sqlite3_errmsg(db));
		goto out;
	}
	if ((nkeys = node_keys(node, db, why, len)) < 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		goto out;
	}
	json_object_foreach(commits, k, v)
		if (json_is_string(json_object_get(v, "commit")))
			store_commit_set(db, k,
					 (int)json_integer_value(json_object_get(v, "app_id")),
					 json_string_value(json_object_get(v, "commit")));
	{ /* the cloud's bookkeeping, as the Node supervisor kept it */
		static const char *const copied[] = {"initialConfigReported",
						     "initialConfigSaved",
						     "pinDevice",
						     "targetTags",
						     "reportedTags",
						     NULL};
		int i;

		for (i = 0; copied[i] != NULL; i++)
			if ((v = json_object_get(cfg, copied[i])) != NULL)
				db_config_set(db, copied[i], json_string_value(v));
	}
	db_config_set(db, IMPORTED_KEY, mark);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(why, len, "cannot write agentd's database: %s", sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		goto out;
	}
	if (keys->changed != NULL)
		keys->changed(keys->arg);
	if (t == NULL)
		log_info("takeover: imported %d API key%s (unchanged); the Node supervisor had "
			 "received no target yet (targetStateSet is not set), so none is imported",
			 nkeys, nkeys == 1 ? "" : "s");
	else
		log_info("takeover: imported %d API key%s (unchanged), the target (%zu app%s, "
			 "device config, name '%s'), the current release of %zu app%s%s",
			 nkeys, nkeys == 1 ? "" : "s", json_object_size(json_object_get(t, "apps")),
			 json_object_size(json_object_get(t, "apps")) == 1 ? "" : "s",
			 json_string_value(json_object_get(t, "name")) ?: "",
			 json_object_size(commits), json_object_size(commits) == 1 ? "" : "s",
			 json_is_true(json_object_get(t, "local")) ? "; local mode" : "");
	*target = t;
	t = NULL;
	r = TAKEOVER_IMPORTED;
out:
	if (node != NULL)
		sqlite3_close(node);
	json_decref(t);
	json_decref(cfg);
	json_decref(commits);
	if (r == TAKEOVER_REFUSED)
		log_error("takeover: the Node supervisor's database %s is not imported: %s",
			  node_db, why);
	return r;
}
