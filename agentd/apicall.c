/*
 * apicall.c - what every handler of the local API uses (see api.h): the
 * replies to apid, the scope of the caller's key, the app a request names,
 * and the container list a handler needs before it can answer.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "compose.h"
#include "target.h"

void api_call_free(struct api_call *c)
{
	json_decref(c->params);
	json_decref(c->query);
	json_decref(c->body);
	json_decref(c->scope);
	free(c);
}

/* Send the reply body `r` (borrowed) and free the call. */
static void api_reply_send(struct api_call *c, json_t *r)
{
	struct chan *ch = c->ad->sv.d[D_APID].ch;

	if (ch != NULL && r != NULL)
		chan_reply(ch, &c->req, MSG_API_REPLY, r);
	api_call_free(c);
}

void api_reply(struct api_call *c, int status, json_t *json)
{
	json_t *r = json_pack("{s:i, s:o}", "status", status, "json", json ? json : json_null());

	api_reply_send(c, r);
	json_decref(r);
}

void api_reply_failed(struct api_call *c, int status, const char *msg)
{
	api_reply(c, status, json_pack("{s:s, s:s}", "status", "failed", "message", msg));
}

void api_reply_text(struct api_call *c, int status, const char *text)
{
	json_t *r = json_pack("{s:i, s:s}", "status", status, "text", text);

	api_reply_send(c, r);
	json_decref(r);
}

int api_in_scope(json_t *scope, long long app_id)
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

static int truthy(const char *s)
{
	return s && (!strcmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "on"));
}

int api_force(struct api_call *c)
{
	json_t *v = json_object_get(c->body, "force");
	json_t *o = json_object_get(json_object_get(apply_target(c->ad->apply), "config"),
				    "SUPERVISOR_OVERRIDE_LOCK");

	if (truthy(json_string_value(o)))
		return 1;
	return json_is_true(v) || (json_is_integer(v) && json_integer_value(v) == 1) ||
	       truthy(json_string_value(v));
}

long long api_app_id(struct api_call *c)
{
	json_t *v = json_object_get(c->params, "appId");

	if (v == NULL)
		v = json_object_get(c->body, "appId");
	return target_id(v);
}

json_t *api_target_app(struct agentd *ad, long long id, const char **uuid)
{
	json_t *app;
	const char *k;

	json_object_foreach(json_object_get(apply_target(ad->apply), "apps"), k, app) {
		if (json_integer_value(json_object_get(app, "id")) == id) {
			if (uuid)
				*uuid = k;
			return app;
		}
	}
	return NULL;
}

json_t *api_container_of(json_t *list, long long app_id, const char *service, long long image_id)
{
	json_t *ct;
	size_t i;

	json_array_foreach(list, i, ct) {
		json_t *l = json_object_get(ct, "Labels");
		const char *name =
			json_string_value(json_array_get(json_object_get(ct, "Names"), 0));
		const char *svc = json_string_value(json_object_get(l, "io.balena.service-name"));
		char s[128], commit[80];
		int img = -1, rel;

		if (target_id(json_object_get(l, "io.balena.app-id")) != app_id)
			continue;
		if (name && (name[1] == 'o' && !strncmp(name, "/old_", 5)))
			continue;
		if (name)
			compose_parse_name(name, s, sizeof(s), &img, &rel, commit, sizeof(commit));
		if ((service && svc && !strcmp(service, svc)) || (!service && img == image_id))
			return ct;
	}
	return NULL;
}

/* --- Handlers that need the container list first ---------------------------- */

struct with_list {
	struct api_call *c;
	api_list_fn fn;
};

static void with_list_done(json_t *list, const char *err, void *arg)
{
	struct with_list *w = arg;

	if (err != NULL)
		api_reply_failed(w->c, 503, err);
	else
		w->fn(w->c, list);
	free(w);
}

/* The same, for a list straight from the engine (not the cached one). */
static void with_list_engine_done(int status, json_t *body, const char *err, void *arg)
{
	with_list_done(body, err ? err : status != 200 ? "engine error" : NULL, arg);
}

static struct with_list *with_list_new(struct api_call *c, api_list_fn fn)
{
	struct with_list *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		api_reply_failed(c, 503, "out of memory");
		return NULL;
	}
	w->c = c;
	w->fn = fn;
	return w;
}

void api_with_containers(struct api_call *c, api_list_fn fn)
{
	struct with_list *w = with_list_new(c, fn);

	if (w != NULL)
		containers_get(c->ad, with_list_done, w);
}

void api_with_all_containers(struct api_call *c, api_list_fn fn)
{
	struct with_list *w = with_list_new(c, fn);

	if (w != NULL)
		engine_call(&c->ad->engine, "containers.list", json_pack("{s:b}", "all", 1),
			    with_list_engine_done, w);
}
