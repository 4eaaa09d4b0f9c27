/*
 * api.c - agentd's answers to the local API: apid routes and authenticates
 * a request, and sends it here as MSG_API_CALL {route, params, query, body,
 * scope}; the handler named by `route` replies {status, json | text}, now or
 * once the engine has answered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "agentd.h"
#include "compose.h"
#include "db.h"
#include "log.h"
#include "target.h"

struct api_call {
	struct agentd *ad;
	struct frame_hdr req; /* the MSG_API_CALL, for the reply's id */
	json_t *params, *query, *body, *scope;
};

static void api_call_free(struct api_call *c)
{
	json_decref(c->params);
	json_decref(c->query);
	json_decref(c->body);
	json_decref(c->scope);
	free(c);
}

/* Reply and free the call. `json` is stolen. */
static void reply(struct api_call *c, int status, json_t *json)
{
	struct daemon *d = &c->ad->d[D_APID];
	json_t *r = json_pack("{s:i, s:o}", "status", status, "json", json ? json : json_null());

	if (d->ch != NULL && r != NULL)
		chan_reply(d->ch, &c->req, MSG_API_REPLY, r);
	json_decref(r);
	api_call_free(c);
}

static void reply_failed(struct api_call *c, int status, const char *msg)
{
	reply(c, status, json_pack("{s:s, s:s}", "status", "failed", "message", msg));
}

static int local_mode(struct agentd *ad)
{
	json_t *v = json_object_get(json_object_get(apply_target(ad), "config"),
				    "SUPERVISOR_LOCAL_MODE");
	const char *s = json_string_value(v);

	if (!config_managed(&ad->cfg))
		return 1;
	return json_is_true(v) ||
	       (s && (!strcmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "on")));
}

/* --- Handlers ------------------------------------------------------------- */

static void api_target_get(struct api_call *c)
{
	reply(c, 200,
	      json_pack("{s:s, s:o}", "status", "success", "state",
			target_to_v2_local(apply_target(c->ad))));
}

static void api_target_set(struct api_call *c)
{
	char err[512];
	json_t *t;

	if (!local_mode(c->ad)) {
		reply_failed(c, 400, "Target state can only set when device is in local mode");
		return;
	}
	if ((t = target_from_v2_local(c->body, err, sizeof(err))) == NULL) {
		devlog_system(c->ad, "Could not move to new release: %s", err);
		reply_failed(c, 400, err);
		return;
	}
	if (apply_set_target(c->ad, t, err, sizeof(err)) == -1) {
		reply_failed(c, 503, err);
		return;
	}
	reply(c, 200, json_pack("{s:s, s:s}", "status", "success", "message", "OK"));
}

static void api_device_info(struct api_call *c)
{
	reply(c, 200,
	      json_pack("{s:s, s:{s:s, s:s}}", "status", "success", "info", "arch",
			c->ad->device_arch, "deviceType", c->ad->device_type));
}

/* The balena status word of a container the engine lists. */
static const char *container_status(json_t *c)
{
	const char *st = json_string_value(json_object_get(c, "State"));

	if (st == NULL)
		return "Unknown";
	if (!strcmp(st, "running"))
		return "Running";
	if (!strcmp(st, "created"))
		return "Installed";
	if (!strcmp(st, "dead"))
		return "Dead";
	return st; /* exited, paused, restarting, removing: as the engine says */
}

static int in_scope(json_t *scope, long long app_id)
{
	json_t *s;
	size_t i;

	if (scope == NULL || json_is_null(scope))
		return 1; /* auth off */
	json_array_foreach(scope, i, s) {
		const char *type = json_string_value(json_object_get(s, "type"));

		if (type && !strcmp(type, "global"))
			return 1;
		if (type && !strcmp(type, "app") &&
		    target_id(json_object_get(s, "appId")) == app_id)
			return 1;
	}
	return 0;
}

static void status_containers(struct agentd *ad, int status, json_t *body, const char *err,
			      void *arg)
{
	struct api_call *c = arg;
	json_t *out = apply_status(ad), *list = json_array(), *ct, *labels, *app;
	const char *uuid;
	size_t i;
	long long first_app = -1;

	if (err != NULL || status != 200) {
		json_decref(out);
		json_decref(list);
		reply_failed(c, 503, err ? err : "engine error");
		return;
	}
	/* Like the balena supervisor: only the first app (in scope) is described. */
	json_object_foreach(json_object_get(apply_target(ad), "apps"), uuid, app) {
		long long id = json_integer_value(json_object_get(app, "id"));

		if (in_scope(c->scope, id)) {
			first_app = id;
			json_object_set(out, "release", json_object_get(app, "commit"));
			break;
		}
	}
	json_array_foreach(body, i, ct) {
		char svc[128], commit[80];
		const char *name =
			json_string_value(json_array_get(json_object_get(ct, "Names"), 0));
		int image_id = 0, release_id = 0;

		labels = json_object_get(ct, "Labels");
		if (target_id(json_object_get(labels, "io.balena.app-id")) != first_app)
			continue;
		if (name != NULL)
			compose_parse_name(name, svc, sizeof(svc), &image_id, &release_id, commit,
					   sizeof(commit));
		json_array_append_new(
			list, json_pack("{s:s, s:O?, s:I, s:I, s:I, s:O?, s:I}", "status",
					container_status(ct), "serviceName",
					json_object_get(labels, "io.balena.service-name"), "appId",
					(json_int_t)first_app, "imageId", (json_int_t)image_id,
					"serviceId",
					(json_int_t)target_id(
						json_object_get(labels, "io.balena.service-id")),
					"containerId", json_object_get(ct, "Id"), "createdAt",
					json_integer_value(json_object_get(ct, "Created"))));
	}
	json_object_set_new(out, "containers", list);
	json_object_set_new(out, "status", json_string("success"));
	if (json_object_get(out, "release") == NULL)
		json_object_set_new(out, "release", json_null());
	reply(c, 200, out);
}

static void api_state_status(struct api_call *c)
{
	engine_call(c->ad, "containers.list",
		    json_pack("{s:b, s:[s]}", "all", 1, "labels", "io.balena.supervised"),
		    status_containers, c);
}

static void apps_state_containers(struct agentd *ad, int status, json_t *body, const char *err,
				  void *arg)
{
	struct api_call *c = arg;
	json_t *out = json_object(), *app, *svc, *ct, *st = apply_status(ad);
	const char *uuid, *name;
	size_t i;

	if (err != NULL || status != 200) {
		json_decref(out);
		json_decref(st);
		reply_failed(c, 503, err ? err : "engine error");
		return;
	}
	json_object_foreach(json_object_get(apply_target(ad), "apps"), uuid, app) {
		long long id = json_integer_value(json_object_get(app, "id"));
		json_t *svcs = json_object();

		if (!in_scope(c->scope, id))
			continue;
		json_object_foreach(json_object_get(app, "services"), name, svc) {
			const char *state = "Downloading";

			json_array_foreach(body, i, ct) {
				json_t *l = json_object_get(ct, "Labels");
				const char *sn = json_string_value(
					json_object_get(l, "io.balena.service-name"));

				if (sn && !strcmp(sn, name) &&
				    target_id(json_object_get(l, "io.balena.app-id")) == id)
					state = container_status(ct);
			}
			json_object_set_new(svcs, name,
					    json_pack("{s:s, s:O, s:n, s:O}", "status", state,
						      "image", json_object_get(svc, "image"),
						      "downloadProgress", "releaseId",
						      json_object_get(app, "release_id")));
		}
		json_object_set_new(
			out, json_string_value(json_object_get(app, "name")),
			json_pack("{s:I, s:s, s:O, s:s, s:o}", "appId", (json_int_t)id, "appUuid",
				  uuid, "commit", json_object_get(app, "commit"), "updateStatus",
				  strcmp(json_string_value(json_object_get(st, "appState")),
					 "applied") == 0
					  ? "done"
					  : "applying changes",
				  "services", svcs));
	}
	json_decref(st);
	reply(c, 200, out);
}

static void api_applications_state(struct api_call *c)
{
	engine_call(c->ad, "containers.list",
		    json_pack("{s:b, s:[s]}", "all", 1, "labels", "io.balena.supervised"),
		    apps_state_containers, c);
}

static const struct {
	const char *route;
	void (*fn)(struct api_call *c);
} api_routes[] = {
	{"applications.state", api_applications_state},
	{"local.device-info", api_device_info},
	{"local.target.get", api_target_get},
	{"local.target.set", api_target_set},
	{"state.status", api_state_status},
};

int api_dispatch(struct daemon *d, const struct frame_hdr *hdr, json_t *body)
{
	struct api_call *c;
	const char *route;
	json_t *params, *query, *scope = NULL, *b = NULL;
	size_t i;

	if (json_unpack(body, "{s:s, s:o, s:o, s?o, s?o !}", "route", &route, "params", &params,
			"query", &query, "body", &b, "scope", &scope) == -1 ||
	    !json_is_object(params) || !json_is_object(query))
		return -1;
	for (i = 0; i < sizeof(api_routes) / sizeof(api_routes[0]); i++)
		if (strcmp(api_routes[i].route, route) == 0)
			break;
	if (i == sizeof(api_routes) / sizeof(api_routes[0]))
		return -1; /* apid's table and ours disagree: apid is not to be trusted */
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return 0;
	c->ad = d->ad;
	c->req = *hdr;
	c->params = json_incref(params);
	c->query = json_incref(query);
	c->body = b ? json_incref(b) : json_null();
	c->scope = scope ? json_incref(scope) : NULL;
	api_routes[i].fn(c);
	return 0;
}

/* The global API key: made once, kept in the database. */
static char *api_global_key(struct agentd *ad)
{
	unsigned char rnd[16];
	char key[33];
	char *k = db_config_get(ad->db, "apiSecret.global");
	int i;

	if (k != NULL)
		return k;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return NULL;
	for (i = 0; i < 16; i++)
		snprintf(key + 2 * i, 3, "%02x", rnd[i]);
	if (db_config_set(ad->db, "apiSecret.global", key) == -1)
		return NULL;
	return strdup(key);
}

void api_send_auth(struct agentd *ad)
{
	struct daemon *d = &ad->d[D_APID];
	char *key;
	json_t *m;

	if (d->ch == NULL || d->state != DS_READY)
		return;
	key = api_global_key(ad);
	m = json_pack("{s:b, s:[{s:s, s:[{s:s}]}]}", "enabled", !local_mode(ad), "keys", "key",
		      key ? key : "", "scopes", "type", "global");
	if (m != NULL)
		chan_send_json(d->ch, MSG_API_AUTH, 0, 0, m);
	json_decref(m);
	free(key);
}
