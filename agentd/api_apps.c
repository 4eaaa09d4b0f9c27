/*
 * api_apps.c - the local API's handlers for apps and services: the local
 * target state, the state and status of apps and services, stopping,
 * starting and restarting services, restarting and purging apps, the
 * container ids, and removing volumes no app uses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "compose.h"
#include "locks.h"
#include "log.h"
#include "sysmsg.h"
#include "target.h"

/* The balena supervisor's shape: each app as its App object, its services
 * an array (instanced.h); POST takes the v2 shape. */
void api_target_get(struct api_call *c)
{
	struct agentd *ad = c->ad;
	const char *endpoint = ad->cfg.api_endpoint;
	int local = json_is_true(json_object_get(apply_target(ad->apply), "local")) ||
		    endpoint == NULL || endpoint[0] == '\0';

	api_reply(c, 200,
		  json_pack("{s:s, s:{s:o}}", "status", "success", "state", "local",
			    apply_target_instanced(ad->apply, local ? "local" : endpoint)));
}

void api_target_set(struct api_call *c)
{
	char err[512];
	json_t *t;

	if (!apply_local_mode(c->ad->apply)) {
		api_reply_failed(c, 400, "Target state can only set when device is in local mode");
		return;
	}
	if ((t = target_from_v2_local(c->body, err, sizeof(err))) == NULL) {
		sysmsg("Could not move to new release: %s", err);
		api_reply_failed(c, 400, err);
		return;
	}
	if (apply_set_target(c->ad->apply, t, err, sizeof(err)) == -1) {
		api_reply_failed(c, 503, err);
		return;
	}
	api_reply(c, 200, json_pack("{s:s, s:s}", "status", "success", "message", "OK"));
}

static void status_containers(json_t *body, const char *err, void *arg)
{
	struct api_call *c = arg;
	struct agentd *ad = c->ad;
	json_t *out = apply_status(ad->apply), *list = json_array(), *ct, *labels, *app;
	const char *uuid;
	size_t i;
	long long first_app = -1;

	if (err != NULL) {
		json_decref(out);
		json_decref(list);
		api_reply_failed(c, 503, err);
		return;
	}
	/* Like the balena supervisor: only the first app (in scope) is described. */
	json_object_foreach(json_object_get(apply_target(ad->apply), "apps"), uuid, app) {
		long long id = json_integer_value(json_object_get(app, "id"));

		if (api_in_scope(c->scope, id)) {
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
					containers_status(ct), "serviceName",
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
	api_reply(c, 200, out);
}

void api_state_status(struct api_call *c)
{
	containers_get(c->ad, status_containers, c);
}

static void apps_state_containers(json_t *body, const char *err, void *arg)
{
	struct api_call *c = arg;
	struct agentd *ad = c->ad;
	json_t *out = json_object(), *app, *svc, *st = apply_status(ad->apply);
	const char *uuid, *name;

	if (err != NULL) {
		json_decref(out);
		json_decref(st);
		api_reply_failed(c, 503, err);
		return;
	}
	json_object_foreach(json_object_get(apply_target(ad->apply), "apps"), uuid, app) {
		long long id = json_integer_value(json_object_get(app, "id"));
		json_t *svcs;
		int downloading = 0;

		if (!api_in_scope(c->scope, id))
			continue;
		svcs = json_object();
		json_object_foreach(json_object_get(app, "services"), name, svc) {
			int pct;
			const char *state =
				containers_service_status(ad, body, uuid, id, name, svc, &pct);

			downloading |= pct >= 0 && pct != 100;
			json_object_set_new(
				svcs, name,
				json_pack("{s:s, s:O, s:o, s:O}", "status", state, "image",
					  json_object_get(svc, "image"), "downloadProgress",
					  pct >= 0 ? json_integer(pct) : json_null(), "releaseId",
					  json_object_get(app, "release_id")));
		}
		json_object_set_new(
			out, json_string_value(json_object_get(app, "name")),
			json_pack("{s:I, s:s, s:O, s:s, s:o}", "appId", (json_int_t)id, "appUuid",
				  uuid, "commit", json_object_get(app, "commit"), "updateStatus",
				  apply_app_rejected(ad->apply, uuid) ? "rejected"
				  : downloading                       ? "downloading"
				  : strcmp(json_string_value(json_object_get(st, "appState")),
					   "applied") == 0
					  ? "done"
					  : "applying changes",
				  "services", svcs));
	}
	json_decref(st);
	api_reply(c, 200, out);
}

void api_applications_state(struct api_call *c)
{
	containers_get(c->ad, apps_state_containers, c);
}

struct svc_action {
	struct api_call *c;
	const char *action; /* "stop", "start", "restart" */
	char id[80];
	int app_id;
	char service[128];
	int locked, v1;
};

static void svc_action_done(int status, json_t *body, const char *err, void *arg)
{
	struct svc_action *sa = arg;
	struct agentd *ad = sa->c->ad;
	const char *svcs[1] = {sa->service};

	(void)body;
	if (sa->locked)
		lock_release(ad->run_dir, sa->app_id, svcs, 1);
	if (err != NULL && status != 304 && status != 404)
		api_reply_failed(sa->c, 503, err);
	else if (sa->v1)
		api_reply(sa->c, 200, json_pack("{s:s}", "containerId", sa->id));
	else
		api_reply_text(sa->c, 200, "OK");
	if (!strcmp(sa->action, "restart"))
		apply_trigger(ad->apply, "service restarted");
	free(sa);
}

/* Stop, start or restart (remove; the state engine recreates it) a service,
 * under its update lock except for start. */
static void svc_action(struct api_call *c, json_t *list, const char *action, int v1)
{
	long long app_id = api_app_id(c);
	const char *service = json_string_value(json_object_get(c->body, "serviceName"));
	long long image_id = target_id(json_object_get(c->body, "imageId"));
	struct svc_action *sa;
	char err[256];
	const char *svcs[1];
	json_t *ct, *app;

	if (app_id < 0) {
		api_reply_failed(c, 400, "Invalid app id");
		return;
	}
	if (!api_in_scope(c->scope, app_id)) {
		api_reply_failed(c, 401, "Unauthorized");
		return;
	}
	if ((app = api_target_app(c->ad, app_id, NULL)) == NULL) {
		api_reply_text(c, 404,
			       "App not found: an app needs to be installed for this "
			       "endpoint to work");
		return;
	}
	if (v1 && service == NULL) {
		if (json_object_size(json_object_get(app, "services")) != 1) {
			api_reply_failed(c, 400,
					 "Some v1 endpoints are only allowed on single-container "
					 "apps");
			return;
		}
		service = json_object_iter_key(json_object_iter(json_object_get(app, "services")));
	}
	if (service == NULL && image_id < 0) {
		api_reply_text(c, 400,
			       "serviceName or imageId parameters were not provided or the "
			       "app was not found");
		return;
	}
	if ((ct = api_container_of(list, app_id, service, image_id)) == NULL) {
		api_reply_text(c, 404,
			       "Service not found, a container must exist for this "
			       "endpoint to work");
		return;
	}
	if ((sa = calloc(1, sizeof(*sa))) == NULL) {
		api_reply_failed(c, 503, "out of memory");
		return;
	}
	sa->c = c;
	sa->action = action;
	sa->v1 = v1;
	sa->app_id = (int)app_id;
	snprintf(sa->id, sizeof(sa->id), "%s", json_string_value(json_object_get(ct, "Id")));
	snprintf(sa->service, sizeof(sa->service), "%s",
		 json_string_value(
			 json_object_get(json_object_get(ct, "Labels"), "io.balena.service-name")));
	if (strcmp(action, "start") != 0) {
		svcs[0] = sa->service;
		if (lock_take(c->ad->run_dir, sa->app_id, svcs, 1, api_force(c), err,
			      sizeof(err)) != 0) {
			api_reply_failed(c, 423, err);
			free(sa);
			return;
		}
		sa->locked = 1;
	}
	if (!strcmp(action, "stop"))
		engine_call(&c->ad->engine, "container.stop", json_pack("{s:s}", "id", sa->id),
			    svc_action_done, sa);
	else if (!strcmp(action, "start"))
		engine_call(&c->ad->engine, "container.start", json_pack("{s:s}", "id", sa->id),
			    svc_action_done, sa);
	else
		engine_call(&c->ad->engine, "container.remove",
			    json_pack("{s:s, s:b}", "id", sa->id, "force", 1), svc_action_done, sa);
}

static void svc_stop(struct api_call *c, json_t *l)
{
	svc_action(c, l, "stop", 0);
}

static void svc_start(struct api_call *c, json_t *l)
{
	svc_action(c, l, "start", 0);
}

static void svc_restart(struct api_call *c, json_t *l)
{
	svc_action(c, l, "restart", 0);
}

static void v1_stop(struct api_call *c, json_t *l)
{
	svc_action(c, l, "stop", 1);
}

static void v1_start(struct api_call *c, json_t *l)
{
	svc_action(c, l, "start", 1);
}

void api_stop_service(struct api_call *c)
{
	api_with_containers(c, svc_stop);
}

void api_start_service(struct api_call *c)
{
	api_with_containers(c, svc_start);
}

void api_restart_service(struct api_call *c)
{
	api_with_containers(c, svc_restart);
}

void api_v1_app_stop(struct api_call *c)
{
	api_with_containers(c, v1_stop);
}

void api_v1_app_start(struct api_call *c)
{
	api_with_containers(c, v1_start);
}

/* restart/purge of a whole app: remove its containers (and, for purge, its
 * volumes) under its locks; the state engine brings it back. */
struct app_reset {
	struct api_call *c;
	int pending, purge, v1, failed;
	int volumes_phase; /* purge: the containers are gone, now the volumes */
	int app_id;
	const char *svcs[256];
	int nsvcs;
};

static void app_reset_finish(struct app_reset *r)
{
	struct agentd *ad = r->c->ad;

	lock_release(ad->run_dir, r->app_id, r->svcs, r->nsvcs);
	if (r->failed)
		api_reply_failed(r->c, 503, "could not remove every container");
	else if (r->purge && r->v1)
		api_reply(r->c, 200, json_pack("{s:s, s:s}", "Data", "OK", "Error", ""));
	else
		api_reply_text(r->c, 200, "OK");
	if (r->purge)
		sysmsg("Purged data");
	apply_trigger(ad->apply, r->purge ? "app purged" : "app restarted");
	free(r);
}

static void app_reset_volumes(int status, json_t *body, const char *err, void *arg);

static void app_reset_step(int status, json_t *body, const char *err, void *arg)
{
	struct app_reset *r = arg;

	(void)body;
	if (err != NULL && status != 404)
		r->failed = 1;
	if (--r->pending > 0)
		return;
	if (r->purge && !r->volumes_phase && !r->failed) {
		/* volumes only once no container holds them */
		r->volumes_phase = 1;
		r->pending = 1;
		engine_call(&r->c->ad->engine, "volumes.list",
			    json_pack("{s:[s]}", "labels", "io.balena.supervised"),
			    app_reset_volumes, r);
		return;
	}
	app_reset_finish(r);
}

/* The extra firmware volume is purged too, as the balena supervisor purges
 * it: gone (404) is fine; one another app's container uses (409) is kept,
 * and said. A service that asks for it gets it anew with its container. */
static void firmware_removed(int status, json_t *body, const char *err, void *arg)
{
	(void)body;
	if (status == 409)
		log_info("Purge: the extra firmware volume is in use by another app's container: "
			 "kept");
	else if (err != NULL && status != 404)
		log_warnx("Purge: cannot remove the extra firmware volume: %s", err);
	else if (err == NULL)
		log_info("Purged the extra firmware volume");
	app_reset_step(200, NULL, NULL, arg); /* never a failure of the purge */
}

static void app_reset_volumes(int status, json_t *body, const char *err, void *arg)
{
	struct app_reset *r = arg;
	json_t *v;
	size_t i;
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "%d_", r->app_id);
	r->pending++;
	engine_call(&r->c->ad->engine, "volume.remove", json_pack("{s:s}", "id", "extra-firmware"),
		    firmware_removed, r);
	if (err == NULL && status == 200) {
		json_array_foreach(json_object_get(body, "Volumes"), i, v) {
			const char *name = json_string_value(json_object_get(v, "Name"));

			if (name && !strncmp(name, prefix, strlen(prefix))) {
				r->pending++;
				engine_call(&r->c->ad->engine, "volume.remove",
					    json_pack("{s:s}", "id", name), app_reset_step, r);
			}
		}
	}
	app_reset_step(200, NULL, NULL, r);
}

static void app_reset(struct api_call *c, json_t *list, int purge, int v1)
{
	long long app_id = api_app_id(c);
	struct app_reset *r;
	json_t *app, *ct, *s;
	const char *name;
	char err[256];
	size_t i;

	if (app_id < 0) {
		if (purge && v1)
			api_reply_text(c, 400, "Invalid or missing appId");
		else
			api_reply_failed(c, 400, "Missing app id");
		return;
	}
	if (!api_in_scope(c->scope, app_id)) {
		api_reply_failed(c, 401, "Unauthorized");
		return;
	}
	if ((app = api_target_app(c->ad, app_id, NULL)) == NULL) {
		api_reply_failed(c, 503, "App not found");
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		api_reply_failed(c, 503, "out of memory");
		return;
	}
	r->c = c;
	r->purge = purge;
	r->v1 = v1;
	r->app_id = (int)app_id;
	json_object_foreach(json_object_get(app, "services"), name, s)
		if (r->nsvcs < 256)
			r->svcs[r->nsvcs++] = name;
	if (lock_take(c->ad->run_dir, r->app_id, r->svcs, r->nsvcs, api_force(c), err,
		      sizeof(err)) != 0) {
		api_reply_failed(c, 423, err);
		free(r);
		return;
	}
	if (purge)
		sysmsg("Purging data for app %d", r->app_id);
	r->pending = 1;
	json_array_foreach(list, i, ct) {
		if (target_id(json_object_get(json_object_get(ct, "Labels"), "io.balena.app-id")) !=
		    app_id)
			continue;
		r->pending++;
		engine_call(&c->ad->engine, "container.remove",
			    json_pack("{s:O, s:b, s:b}", "id", json_object_get(ct, "Id"), "force",
				      1, "volumes", 1),
			    app_reset_step, r);
	}
	app_reset_step(200, NULL, NULL, r); /* our own hold on pending */
}

static void reset_restart_v2(struct api_call *c, json_t *l)
{
	app_reset(c, l, 0, 0);
}

static void reset_purge_v2(struct api_call *c, json_t *l)
{
	app_reset(c, l, 1, 0);
}

static void reset_restart_v1(struct api_call *c, json_t *l)
{
	app_reset(c, l, 0, 1);
}

static void reset_purge_v1(struct api_call *c, json_t *l)
{
	app_reset(c, l, 1, 1);
}

void api_app_restart(struct api_call *c)
{
	api_with_containers(c, json_object_get(c->params, "appId") ? reset_restart_v2
								   : reset_restart_v1);
}

void api_app_purge(struct api_call *c)
{
	api_with_containers(c,
			    json_object_get(c->params, "appId") ? reset_purge_v2 : reset_purge_v1);
}

static void container_id_found(struct api_call *c, json_t *list)
{
	const char *svc = json_string_value(json_object_get(c->query, "serviceName"));
	json_t *ct, *out = json_object();
	size_t i;

	if (svc == NULL)
		svc = json_string_value(json_object_get(c->query, "service"));
	json_array_foreach(list, i, ct) {
		json_t *l = json_object_get(ct, "Labels");
		const char *name = json_string_value(json_object_get(l, "io.balena.service-name"));
		const char *cname =
			json_string_value(json_array_get(json_object_get(ct, "Names"), 0));

		if (name == NULL || (cname && !strncmp(cname, "/old_", 5)) ||
		    !api_in_scope(c->scope, target_id(json_object_get(l, "io.balena.app-id"))))
			continue;
		json_object_set(out, name, json_object_get(ct, "Id"));
	}
	if (svc != NULL) {
		json_t *id = json_object_get(out, svc);

		if (id == NULL)
			api_reply_failed(c, 503, "Could not find service with that name");
		else
			api_reply(c, 200,
				  json_pack("{s:s, s:O}", "status", "success", "containerId", id));
		json_decref(out);
		return;
	}
	api_reply(c, 200, json_pack("{s:s, s:o}", "status", "success", "services", out));
}

void api_container_id(struct api_call *c)
{
	api_with_containers(c, container_id_found);
}

struct v1_app {
	struct api_call *c;
	json_t *reply; /* owned: the answer but for env */
};

/* The container's whole environment, minus the API keys. */
static void v1_app_inspected(int status, json_t *body, const char *err, void *arg)
{
	static const char *const hidden[] = {"BALENA_SUPERVISOR_API_KEY",
					     "RESIN_SUPERVISOR_API_KEY", "BALENA_API_KEY",
					     "RESIN_API_KEY", NULL};
	struct v1_app *v = arg;
	json_t *env = json_object(), *e;
	size_t i;
	int k;

	if (err == NULL && status == 200) {
		json_array_foreach(json_object_get(json_object_get(body, "Config"), "Env"), i, e) {
			const char *kv = json_string_value(e), *eq = kv ? strchr(kv, '=') : NULL;
			char key[256];

			if (eq == NULL || (size_t)(eq - kv) >= sizeof(key))
				continue;
			snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
			for (k = 0; hidden[k] && strcmp(hidden[k], key); k++)
				;
			if (hidden[k] == NULL)
				json_object_set_new(env, key, json_string(eq + 1));
		}
	}
	json_object_set_new(v->reply, "env", env);
	api_reply(v->c, 200, v->reply);
	free(v);
}

static void v1_app_got(struct api_call *c, json_t *list)
{
	long long app_id = api_app_id(c);
	json_t *app = api_target_app(c->ad, app_id, NULL), *ct, *svc;
	struct v1_app *v;
	const char *name;

	if (app_id < 0 || app == NULL) {
		api_reply_failed(c, 400, "App not found");
		return;
	}
	if (!api_in_scope(c->scope, app_id)) {
		api_reply_failed(c, 401, "Application is not available");
		return;
	}
	if (json_object_size(json_object_get(app, "services")) != 1) {
		api_reply_failed(c, 400,
				 "Some v1 endpoints are only allowed on single-container apps");
		return;
	}
	name = json_object_iter_key(json_object_iter(json_object_get(app, "services")));
	svc = json_object_get(json_object_get(app, "services"), name);
	ct = api_container_of(list, app_id, name, -1);
	if ((v = calloc(1, sizeof(*v))) == NULL) {
		api_reply_failed(c, 503, "out of memory");
		return;
	}
	v->c = c;
	v->reply = json_pack("{s:I, s:O, s:O?, s:O, s:O}", "appId", (json_int_t)app_id, "commit",
			     json_object_get(app, "commit"), "containerId",
			     ct ? json_object_get(ct, "Id") : NULL, "imageId",
			     json_object_get(svc, "image"), "releaseId",
			     json_object_get(app, "release_id"));
	if (ct == NULL) {
		v1_app_inspected(404, NULL, "no container", v);
		return;
	}
	engine_call(&c->ad->engine, "container.inspect",
		    json_pack("{s:O}", "id", json_object_get(ct, "Id")), v1_app_inspected, v);
}

void api_v1_app_get(struct api_call *c)
{
	api_with_containers(c, v1_app_got);
}

static void app_state_got(struct api_call *c, json_t *list)
{
	long long app_id = target_id(json_object_get(c->params, "appId"));
	json_t *app, *svc, *services = json_object();
	const char *name;
	char idbuf[32];

	if (app_id < 0) {
		char msg[160];

		snprintf(msg, sizeof(msg), "Invalid application ID: %.64s",
			 json_string_value(json_object_get(c->params, "appId")));
		json_decref(services);
		api_reply_failed(c, 400, msg);
		return;
	}
	if ((app = api_target_app(c->ad, app_id, NULL)) == NULL ||
	    !api_in_scope(c->scope, app_id)) {
		char msg[160];

		snprintf(msg, sizeof(msg), "Application ID does not exist: %lld", app_id);
		json_decref(services);
		api_reply_failed(c, 409, msg);
		return;
	}
	json_object_foreach(json_object_get(app, "services"), name, svc) {
		json_t *ct = api_container_of(list, app_id, name, -1);
		int pct = apply_download_progress(c->ad->apply,
						  json_string_value(json_object_get(svc, "image")));

		snprintf(idbuf, sizeof(idbuf), "%lld",
			 (long long)json_integer_value(json_object_get(svc, "image_id")));
		json_object_set_new(services, idbuf,
				    json_pack("{s:s, s:O, s:o}", "status",
					      pct < 0 && ct ? containers_status(ct) : "Downloading",
					      "releaseId", json_object_get(app, "release_id"),
					      "download_progress",
					      pct >= 0 ? json_integer(pct)
					      : ct     ? json_null()
						       : json_integer(0)));
	}
	snprintf(idbuf, sizeof(idbuf), "%lld", app_id);
	api_reply(c, 200,
		  json_pack("{s:O, s:{s:{s:o}}}", "commit", json_object_get(app, "commit"), "local",
			    idbuf, "services", services));
}

void api_app_state(struct api_call *c)
{
	api_with_containers(c, app_state_got);
}

/* --- Volumes ------------------------------------------------------------------- */

struct cleanup {
	struct api_call *c;
	json_t *used; /* volume names mounted by some container */
	int pending;
};

static void cleanup_step(int status, json_t *body, const char *err, void *arg)
{
	struct cleanup *cl = arg;

	(void)status;
	(void)body;
	(void)err;
	if (--cl->pending == 0) {
		api_reply(cl->c, 200, json_pack("{s:s}", "status", "success"));
		json_decref(cl->used);
		free(cl);
	}
}

static void cleanup_volumes_listed(int status, json_t *body, const char *err, void *arg)
{
	struct cleanup *cl = arg;
	struct agentd *ad = cl->c->ad;
	json_t *v, *app, *tv;
	const char *k, *vn;
	size_t i;
	char name[512];

	if (err == NULL && status == 200) {
		json_array_foreach(json_object_get(body, "Volumes"), i, v) {
			const char *vol = json_string_value(json_object_get(v, "Name"));
			int wanted = 0;

			if (vol == NULL || json_object_get(cl->used, vol) != NULL)
				continue;
			json_object_foreach(json_object_get(apply_target(ad->apply), "apps"), k,
					    app) {
				json_object_foreach(json_object_get(app, "volumes"), vn, tv) {
					snprintf(name, sizeof(name), "%lld_%s",
						 (long long)json_integer_value(
							 json_object_get(app, "id")),
						 vn);
					wanted |= !strcmp(name, vol);
				}
			}
			if (wanted)
				continue;
			cl->pending++;
			engine_call(&ad->engine, "volume.remove", json_pack("{s:s}", "id", vol),
				    cleanup_step, cl);
		}
	}
	cleanup_step(0, NULL, NULL, cl);
}

static void cleanup_got_containers(struct api_call *c, json_t *list)
{
	struct cleanup *cl = calloc(1, sizeof(*cl));
	json_t *ct, *m;
	size_t i, j;

	if (cl == NULL) {
		api_reply_failed(c, 503, "out of memory");
		return;
	}
	cl->c = c;
	cl->used = json_object();
	cl->pending = 1;
	json_array_foreach(list, i, ct)
		json_array_foreach(json_object_get(ct, "Mounts"), j, m)
			if (json_is_string(json_object_get(m, "Name")))
				json_object_set_new(cl->used,
						    json_string_value(json_object_get(m, "Name")),
						    json_true());
	engine_call(&c->ad->engine, "volumes.list", json_object(), cleanup_volumes_listed, cl);
}

void api_cleanup_volumes(struct api_call *c)
{
	/* every container counts as a user, supervised or not */
	api_with_all_containers(c, cleanup_got_containers);
}
