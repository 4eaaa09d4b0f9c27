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
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>

#include "agentd.h"
#include "locks.h"
#include "compose.h"
#include "hostconfig.h"
#include "db.h"
#include "log.h"
#include "target.h"

struct api_call {
	struct agentd *ad;
	struct frame_hdr req; /* the MSG_API_CALL, for the reply's id */
	json_t *params, *query, *body, *scope;
};

static char *api_key_regenerate(struct agentd *ad, const char *old);

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

static void status_containers(struct agentd *ad, json_t *body, const char *err, void *arg)
{
	struct api_call *c = arg;
	json_t *out = apply_status(ad), *list = json_array(), *ct, *labels, *app;
	const char *uuid;
	size_t i;
	long long first_app = -1;

	if (err != NULL) {
		json_decref(out);
		json_decref(list);
		reply_failed(c, 503, err);
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
	engine_containers(c->ad, status_containers, c);
}

static void apps_state_containers(struct agentd *ad, json_t *body, const char *err, void *arg)
{
	struct api_call *c = arg;
	json_t *out = json_object(), *app, *svc, *ct, *st = apply_status(ad);
	const char *uuid, *name;
	size_t i;

	if (err != NULL) {
		json_decref(out);
		json_decref(st);
		reply_failed(c, 503, err);
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
				  apply_app_rejected(ad, uuid) ? "rejected"
				  : strcmp(json_string_value(json_object_get(st, "appState")),
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
	engine_containers(c->ad, apps_state_containers, c);
}

/* --- Device actions --------------------------------------------------------- */

static void reply_text_free(struct api_call *c, int status, const char *text)
{
	struct daemon *d = &c->ad->d[D_APID];
	json_t *r = json_pack("{s:i, s:s}", "status", status, "text", text);

	if (d->ch != NULL && r != NULL)
		chan_reply(d->ch, &c->req, MSG_API_REPLY, r);
	json_decref(r);
	api_call_free(c);
}

static int body_force(struct api_call *c)
{
	json_t *v = json_object_get(c->body, "force");
	const char *s = json_string_value(v);
	json_t *o = json_object_get(json_object_get(apply_target(c->ad), "config"),
				    "SUPERVISOR_OVERRIDE_LOCK");
	const char *os = json_string_value(o);

	if (os && (!strcmp(os, "1") || !strcasecmp(os, "true") || !strcasecmp(os, "on")))
		return 1;
	return json_is_true(v) || (json_is_integer(v) && json_integer_value(v) == 1) ||
	       (s && (!strcmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "on")));
}

/* The app id of a request: the :appId path parameter or the body's appId. */
static long long call_app_id(struct api_call *c)
{
	json_t *v = json_object_get(c->params, "appId");

	if (v == NULL)
		v = json_object_get(c->body, "appId");
	return target_id(v);
}

static json_t *target_app_by_id(struct agentd *ad, long long id, const char **uuid)
{
	json_t *app;
	const char *k;

	json_object_foreach(json_object_get(apply_target(ad), "apps"), k, app) {
		if (json_integer_value(json_object_get(app, "id")) == id) {
			if (uuid)
				*uuid = k;
			return app;
		}
	}
	return NULL;
}

/* The service names of a target app, for its lock files. */
static int app_services(json_t *app, const char **svcs, int max)
{
	const char *name;
	json_t *svc;
	int n = 0;

	json_object_foreach(json_object_get(app, "services"), name, svc)
		if (n < max)
			svcs[n++] = name;
	return n;
}

/* Take (or, with take 0, release) the locks of every app of the target
 * (reboot, shutdown, host config), up to the app named `until` (NULL: all).
 * The locks of an app the apply loop holds for an update are its own: they
 * are never released here. A failure to take one gives back those taken. */
static int all_apps_locks(struct agentd *ad, int take, const char *until, int force, char *err,
			  size_t errlen)
{
	json_t *app;
	const char *k, *svcs[256];
	int n, id;

	json_object_foreach(json_object_get(apply_target(ad), "apps"), k, app) {
		if (until != NULL && strcmp(k, until) == 0)
			break;
		n = app_services(app, svcs, 256);
		id = (int)json_integer_value(json_object_get(app, "id"));
		if (!take) {
			if (!apply_app_locked(ad, k))
				lock_release(ad->run_dir, id, svcs, n);
		} else if (lock_take(ad->run_dir, id, svcs, n, force, err, errlen) != 0) {
			all_apps_locks(ad, 0, k, 0, NULL, 0);
			return -1;
		}
	}
	return 0;
}

static int lock_all_apps(struct agentd *ad, int force, char *err, size_t errlen)
{
	return all_apps_locks(ad, 1, NULL, force, err, errlen);
}

static void unlock_all_apps(struct agentd *ad)
{
	if (ad->power_locks != NULL)
		return; /* a reboot or shutdown is under way: its locks stay */
	all_apps_locks(ad, 0, NULL, 0, NULL, 0);
}

/* The apps (and services) a reboot or shutdown locked, to give back exactly
 * those if it fails. */
static json_t *power_locks_record(struct agentd *ad)
{
	json_t *list = json_array(), *app, *names;
	const char *k, *svcs[256];
	int n, i;

	json_object_foreach(json_object_get(apply_target(ad), "apps"), k, app) {
		n = app_services(app, svcs, 256);
		names = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(names, json_string(svcs[i]));
		json_array_append_new(list,
				      json_pack("{s:s, s:O, s:o}", "uuid", k, "id",
						json_object_get(app, "id"), "services", names));
	}
	return list;
}

static void power_locks_release(struct agentd *ad)
{
	const char *svcs[256];
	json_t *e, *v;
	size_t i, j;
	int n;

	json_array_foreach(ad->power_locks, i, e) {
		if (apply_app_locked(ad, json_string_value(json_object_get(e, "uuid"))))
			continue;
		n = 0;
		json_array_foreach(json_object_get(e, "services"), j, v)
			if (n < 256)
				svcs[n++] = json_string_value(v);
		lock_release(ad->run_dir, (int)json_integer_value(json_object_get(e, "id")), svcs,
			     n);
	}
	json_decref(ad->power_locks);
	ad->power_locks = NULL;
}

/* The device did not go down: say so, give the locks back, and let the
 * apply loop ask again later if it needs the reboot. */
static void power_failed(struct agentd *ad, const char *how)
{
	devlog_system(ad, "The reboot or shutdown command failed (%s): the device stays up", how);
	power_locks_release(ad);
	apply_reboot_failed(ad);
}

struct host_cmd {
	struct agentd *ad;
	char *const *argv;
};

static void host_cmd_run(evutil_socket_t fd, short what, void *arg)
{
	struct host_cmd *h = arg;
	pid_t pid;

	(void)fd;
	(void)what;
	if ((pid = fork()) == 0) {
		execvp(h->argv[0], h->argv);
		_exit(127);
	}
	if (pid == -1)
		power_failed(h->ad, "cannot fork");
	else
		h->ad->power_pid = pid;
	free(h);
}

void device_power_ended(struct agentd *ad, int status)
{
	char how[64];

	ad->power_pid = 0;
	if (ad->stopping || (WIFEXITED(status) && WEXITSTATUS(status) == 0))
		return; /* the host goes down */
	snprintf(how, sizeof(how), "%s %d", WIFEXITED(status) ? "exit status" : "signal",
		 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	power_failed(ad, how);
}

int device_power(struct agentd *ad, int reboot, int force, const char *why, char *err,
		 size_t errlen)
{
	static const char *const hup[] = {"rollback-health-breadcrumb",
					  "rollback-altboot-breadcrumb"};
	struct host_cmd *h;
	struct timeval one = {1, 0};
	char path[512];
	int i;

	/* A host OS update that is still checking itself must not be cut short. */
	for (i = 0; i < 2 && !force; i++) {
		snprintf(path, sizeof(path), "%s/%s", ad->set.state_dir, hup[i]);
		if (access(path, F_OK) == 0) {
			snprintf(err, errlen, "Waiting for Host OS update to finish");
			return -1;
		}
	}
	if (lock_all_apps(ad, force, err, errlen) == -1)
		return -1;
	json_decref(ad->power_locks);
	ad->power_locks = power_locks_record(ad);
	devlog_system(ad, "%s%s%s", reboot ? "Rebooting" : "Shutting down", why ? ": " : "",
		      why ? why : "");
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		power_locks_release(ad);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	{
		h->ad = ad;
		h->argv = reboot ? ad->set.reboot_command : ad->set.shutdown_command;
		event_base_once(ad->base, -1, EV_TIMEOUT, host_cmd_run, h, &one);
	}
	return 0;
}

static void api_power(struct api_call *c, int reboot)
{
	char err[256];

	if (device_power(c->ad, reboot, body_force(c), NULL, err, sizeof(err)) == -1) {
		reply(c, 423, json_pack("{s:s, s:s}", "Data", "", "Error", err));
		return;
	}
	reply(c, 202, json_pack("{s:s, s:n}", "Data", "OK", "Error"));
}

static void api_reboot(struct api_call *c)
{
	api_power(c, 1);
}

static void api_shutdown(struct api_call *c)
{
	api_power(c, 0);
}

static void api_update(struct api_call *c)
{
	json_t *v = json_object_get(json_object_get(apply_target(c->ad), "config"),
				    "SUPERVISOR_INSTANT_UPDATE_TRIGGER");
	const char *s = json_string_value(v);
	int instant = v == NULL || json_is_true(v) ||
		      (s && (!strcmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "on")));

	if (!body_force(c) && !instant) {
		reply(c, 202, NULL);
		return;
	}
	apply_trigger(c->ad, "POST /v1/update");
	cloud_poll(c->ad);
	reply(c, 204, NULL);
}

struct blink {
	struct agentd *ad;
	int n;
	struct event *ev;
};

static void blink_step(evutil_socket_t fd, short what, void *arg)
{
	struct blink *b = arg;
	struct timeval half = {0, 500000};
	FILE *f = fopen(b->ad->set.led_file, "we");

	(void)fd;
	(void)what;
	if (f != NULL) {
		fputs(b->n % 2 ? "0" : "1", f);
		fclose(f);
	}
	if (++b->n >= 30) { /* 15 s */
		event_free(b->ev);
		free(b);
		return;
	}
	evtimer_add(b->ev, &half);
}

static void api_blink(struct api_call *c)
{
	struct blink *b = calloc(1, sizeof(*b));
	struct timeval now = {0, 0};

	if (b != NULL) {
		b->ad = c->ad;
		b->ev = evtimer_new(c->ad->base, blink_step, b);
		evtimer_add(b->ev, &now);
	}
	reply_text_free(c, 200, "OK");
}

static void api_regenerate_key(struct api_call *c)
{
	const char *old = json_string_value(json_object_get(c->query, "_key"));
	char *key = old ? api_key_regenerate(c->ad, old) : NULL;

	if (key == NULL) {
		reply_failed(c, 503, "cannot regenerate the key");
		return;
	}
	reply_text_free(c, 200, key);
	free(key);
}

static void api_device_name(struct api_call *c)
{
	reply(c, 200,
	      json_pack("{s:s, s:O}", "status", "success", "deviceName",
			json_object_get(apply_target(c->ad), "name")));
}

static void api_device_vpn(struct api_call *c)
{
	reply(c, 200,
	      json_pack("{s:s, s:{s:b, s:b}}", "status", "success", "vpn", "enabled", 0,
			"connected", 0));
}

static void tags_got(struct chan *ch, const struct frame_hdr *hdr, json_t *body, void *arg)
{
	struct api_call *c = arg;

	(void)ch;
	if (hdr == NULL || hdr->type != MSG_CLOUD_RESULT ||
	    !json_is_array(json_object_get(body, "tags"))) {
		reply_failed(c, 500,
			     hdr && hdr->type == MSG_ERROR
				     ? json_string_value(json_object_get(body, "error"))
				     : "could not read the device tags");
		return;
	}
	reply(c, 200,
	      json_pack("{s:s, s:O}", "status", "success", "tags", json_object_get(body, "tags")));
}

static void api_device_tags(struct api_call *c)
{
	if (cloud_get_tags(c->ad, tags_got, c) == -1)
		reply_failed(c, 500, "Device tags need the cloud, which this device cannot reach");
}

static void api_device_tags_patch(struct api_call *c)
{
	const char *k;
	json_t *v;

	if (!json_is_object(c->body)) {
		reply_failed(c, 400,
			     "Invalid tags body, must be an object like {[tagKey: string]: "
			     "string}");
		return;
	}
	json_object_foreach(c->body, k, v) {
		if (!json_is_string(v)) {
			reply_failed(c, 400,
				     "Invalid tags body, must be an object like {[tagKey: "
				     "string]: string}");
			return;
		}
		if (strpbrk(k, " \t\r\n") != NULL || k[0] == '\0') {
			reply_failed(c, 400, "Tag keys cannot contain whitespace");
			return;
		}
	}
	if (cloud_set_tags(c->ad, c->body) == -1) {
		reply_failed(c, 500, "cannot store the tags");
		return;
	}
	reply(c, 202, json_pack("{s:s}", "status", "success"));
}

/* --- Containers of an app --------------------------------------------------- */

typedef void (*with_list_fn)(struct api_call *c, json_t *containers);

struct with_list {
	struct api_call *c;
	with_list_fn fn;
};

static void with_list_done(struct agentd *ad, json_t *body, const char *err, void *arg)
{
	struct with_list *w = arg;

	(void)ad;
	if (err != NULL)
		reply_failed(w->c, 503, err);
	else
		w->fn(w->c, body);
	free(w);
}

/* The same, for a list straight from the engine (not the cached one). */
static void with_list_engine_done(struct agentd *ad, int status, json_t *body, const char *err,
				  void *arg)
{
	with_list_done(ad, body, err ? err : status != 200 ? "engine error" : NULL, arg);
}

static void with_containers(struct api_call *c, with_list_fn fn)
{
	struct with_list *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		reply_failed(c, 503, "out of memory");
		return;
	}
	w->c = c;
	w->fn = fn;
	engine_containers(c->ad, with_list_done, w);
}

static json_t *container_of(json_t *list, long long app_id, const char *service, long long image_id)
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

struct svc_action {
	struct api_call *c;
	const char *action; /* "stop", "start", "restart" */
	char id[80];
	int app_id;
	char service[128];
	int locked, v1;
};

static void svc_action_done(struct agentd *ad, int status, json_t *body, const char *err, void *arg)
{
	struct svc_action *sa = arg;
	const char *svcs[1] = {sa->service};

	(void)body;
	if (sa->locked)
		lock_release(ad->run_dir, sa->app_id, svcs, 1);
	if (err != NULL && status != 304 && status != 404)
		reply_failed(sa->c, 503, err);
	else if (sa->v1)
		reply(sa->c, 200, json_pack("{s:s}", "containerId", sa->id));
	else
		reply_text_free(sa->c, 200, "OK");
	if (!strcmp(sa->action, "restart"))
		apply_trigger(ad, "service restarted");
	free(sa);
}

/* Stop, start or restart (remove; the state engine recreates it) a service,
 * under its update lock except for start. */
static void svc_action(struct api_call *c, json_t *list, const char *action, int v1)
{
	long long app_id = call_app_id(c);
	const char *service = json_string_value(json_object_get(c->body, "serviceName"));
	long long image_id = target_id(json_object_get(c->body, "imageId"));
	struct svc_action *sa;
	char err[256];
	const char *svcs[1];
	json_t *ct, *app;

	if (app_id < 0) {
		reply_failed(c, 400, "Invalid app id");
		return;
	}
	if (!in_scope(c->scope, app_id)) {
		reply_failed(c, 401, "Unauthorized");
		return;
	}
	if ((app = target_app_by_id(c->ad, app_id, NULL)) == NULL) {
		reply_text_free(c, 404,
				"App not found: an app needs to be installed for this "
				"endpoint to work");
		return;
	}
	if (v1 && service == NULL) {
		if (json_object_size(json_object_get(app, "services")) != 1) {
			reply_failed(c, 400,
				     "Some v1 endpoints are only allowed on single-container "
				     "apps");
			return;
		}
		service = json_object_iter_key(json_object_iter(json_object_get(app, "services")));
	}
	if (service == NULL && image_id < 0) {
		reply_text_free(c, 400,
				"serviceName or imageId parameters were not provided or the "
				"app was not found");
		return;
	}
	if ((ct = container_of(list, app_id, service, image_id)) == NULL) {
		reply_text_free(c, 404,
				"Service not found, a container must exist for this "
				"endpoint to work");
		return;
	}
	if ((sa = calloc(1, sizeof(*sa))) == NULL) {
		reply_failed(c, 503, "out of memory");
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
		if (lock_take(c->ad->run_dir, sa->app_id, svcs, 1, body_force(c), err,
			      sizeof(err)) != 0) {
			reply_failed(c, 423, err);
			free(sa);
			return;
		}
		sa->locked = 1;
	}
	if (!strcmp(action, "stop"))
		engine_call(c->ad, "container.stop", json_pack("{s:s}", "id", sa->id),
			    svc_action_done, sa);
	else if (!strcmp(action, "start"))
		engine_call(c->ad, "container.start", json_pack("{s:s}", "id", sa->id),
			    svc_action_done, sa);
	else
		engine_call(c->ad, "container.remove",
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

static void api_stop_service(struct api_call *c)
{
	with_containers(c, svc_stop);
}

static void api_start_service(struct api_call *c)
{
	with_containers(c, svc_start);
}

static void api_restart_service(struct api_call *c)
{
	with_containers(c, svc_restart);
}

static void api_v1_app_stop(struct api_call *c)
{
	with_containers(c, v1_stop);
}

static void api_v1_app_start(struct api_call *c)
{
	with_containers(c, v1_start);
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
		reply_failed(r->c, 503, "could not remove every container");
	else if (r->purge && r->v1)
		reply(r->c, 200, json_pack("{s:s, s:s}", "Data", "OK", "Error", ""));
	else
		reply_text_free(r->c, 200, "OK");
	if (r->purge)
		devlog_system(ad, "Purged data");
	apply_trigger(ad, r->purge ? "app purged" : "app restarted");
	free(r);
}

static void app_reset_volumes(struct agentd *ad, int status, json_t *body, const char *err,
			      void *arg);

static void app_reset_step(struct agentd *ad, int status, json_t *body, const char *err, void *arg)
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
		engine_call(ad, "volumes.list",
			    json_pack("{s:[s]}", "labels", "io.balena.supervised"),
			    app_reset_volumes, r);
		return;
	}
	app_reset_finish(r);
}

static void app_reset_volumes(struct agentd *ad, int status, json_t *body, const char *err,
			      void *arg)
{
	struct app_reset *r = arg;
	json_t *v;
	size_t i;
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "%d_", r->app_id);
	if (err == NULL && status == 200) {
		json_array_foreach(json_object_get(body, "Volumes"), i, v) {
			const char *name = json_string_value(json_object_get(v, "Name"));

			if (name && !strncmp(name, prefix, strlen(prefix))) {
				r->pending++;
				engine_call(ad, "volume.remove", json_pack("{s:s}", "id", name),
					    app_reset_step, r);
			}
		}
	}
	app_reset_step(ad, 200, NULL, NULL, r);
}

static void app_reset(struct api_call *c, json_t *list, int purge, int v1)
{
	long long app_id = call_app_id(c);
	struct app_reset *r;
	json_t *app, *ct, *s;
	const char *name;
	char err[256];
	size_t i;

	if (app_id < 0) {
		if (purge && v1)
			reply_text_free(c, 400, "Invalid or missing appId");
		else
			reply_failed(c, 400, "Missing app id");
		return;
	}
	if (!in_scope(c->scope, app_id)) {
		reply_failed(c, 401, "Unauthorized");
		return;
	}
	if ((app = target_app_by_id(c->ad, app_id, NULL)) == NULL) {
		reply_failed(c, 503, "App not found");
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		reply_failed(c, 503, "out of memory");
		return;
	}
	r->c = c;
	r->purge = purge;
	r->v1 = v1;
	r->app_id = (int)app_id;
	json_object_foreach(json_object_get(app, "services"), name, s)
		if (r->nsvcs < 256)
			r->svcs[r->nsvcs++] = name;
	if (lock_take(c->ad->run_dir, r->app_id, r->svcs, r->nsvcs, body_force(c), err,
		      sizeof(err)) != 0) {
		reply_failed(c, 423, err);
		free(r);
		return;
	}
	if (purge)
		devlog_system(c->ad, "Purging data for app %d", r->app_id);
	r->pending = 1;
	json_array_foreach(list, i, ct) {
		if (target_id(json_object_get(json_object_get(ct, "Labels"), "io.balena.app-id")) !=
		    app_id)
			continue;
		r->pending++;
		engine_call(c->ad, "container.remove",
			    json_pack("{s:O, s:b, s:b}", "id", json_object_get(ct, "Id"), "force",
				      1, "volumes", 1),
			    app_reset_step, r);
	}
	app_reset_step(c->ad, 200, NULL, NULL, r); /* our own hold on pending */
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

static void api_app_restart(struct api_call *c)
{
	with_containers(c,
			json_object_get(c->params, "appId") ? reset_restart_v2 : reset_restart_v1);
}

static void api_app_purge(struct api_call *c)
{
	with_containers(c, json_object_get(c->params, "appId") ? reset_purge_v2 : reset_purge_v1);
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
		    !in_scope(c->scope, target_id(json_object_get(l, "io.balena.app-id"))))
			continue;
		json_object_set(out, name, json_object_get(ct, "Id"));
	}
	if (svc != NULL) {
		json_t *id = json_object_get(out, svc);

		if (id == NULL)
			reply_failed(c, 503, "Could not find service with that name");
		else
			reply(c, 200,
			      json_pack("{s:s, s:O}", "status", "success", "containerId", id));
		json_decref(out);
		return;
	}
	reply(c, 200, json_pack("{s:s, s:o}", "status", "success", "services", out));
}

static void api_container_id(struct api_call *c)
{
	with_containers(c, container_id_found);
}

struct v1_app {
	struct api_call *c;
	json_t *reply; /* owned: the answer but for env */
};

/* The container's whole environment, minus the API keys. */
static void v1_app_inspected(struct agentd *ad, int status, json_t *body, const char *err,
			     void *arg)
{
	static const char *const hidden[] = {"BALENA_SUPERVISOR_API_KEY",
					     "RESIN_SUPERVISOR_API_KEY", "BALENA_API_KEY",
					     "RESIN_API_KEY", NULL};
	struct v1_app *v = arg;
	json_t *env = json_object(), *e;
	size_t i;
	int k;

	(void)ad;
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
	reply(v->c, 200, v->reply);
	free(v);
}

static void v1_app_got(struct api_call *c, json_t *list)
{
	long long app_id = call_app_id(c);
	json_t *app = target_app_by_id(c->ad, app_id, NULL), *ct, *svc;
	struct v1_app *v;
	const char *name;

	if (app_id < 0 || app == NULL) {
		reply_failed(c, 400, "App not found");
		return;
	}
	if (!in_scope(c->scope, app_id)) {
		reply_failed(c, 401, "Application is not available");
		return;
	}
	if (json_object_size(json_object_get(app, "services")) != 1) {
		reply_failed(c, 400, "Some v1 endpoints are only allowed on single-container apps");
		return;
	}
	name = json_object_iter_key(json_object_iter(json_object_get(app, "services")));
	svc = json_object_get(json_object_get(app, "services"), name);
	ct = container_of(list, app_id, name, -1);
	if ((v = calloc(1, sizeof(*v))) == NULL) {
		reply_failed(c, 503, "out of memory");
		return;
	}
	v->c = c;
	v->reply = json_pack("{s:I, s:O, s:O?, s:O, s:O}", "appId", (json_int_t)app_id, "commit",
			     json_object_get(app, "commit"), "containerId",
			     ct ? json_object_get(ct, "Id") : NULL, "imageId",
			     json_object_get(svc, "image"), "releaseId",
			     json_object_get(app, "release_id"));
	if (ct == NULL) {
		v1_app_inspected(c->ad, 404, NULL, "no container", v);
		return;
	}
	engine_call(c->ad, "container.inspect", json_pack("{s:O}", "id", json_object_get(ct, "Id")),
		    v1_app_inspected, v);
}

static void api_v1_app_get(struct api_call *c)
{
	with_containers(c, v1_app_got);
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
		reply_failed(c, 400, msg);
		return;
	}
	if ((app = target_app_by_id(c->ad, app_id, NULL)) == NULL || !in_scope(c->scope, app_id)) {
		char msg[160];

		snprintf(msg, sizeof(msg), "Application ID does not exist: %lld", app_id);
		json_decref(services);
		reply_failed(c, 409, msg);
		return;
	}
	json_object_foreach(json_object_get(app, "services"), name, svc) {
		json_t *ct = container_of(list, app_id, name, -1);

		snprintf(idbuf, sizeof(idbuf), "%lld",
			 (long long)json_integer_value(json_object_get(svc, "image_id")));
		json_object_set_new(services, idbuf,
				    json_pack("{s:s, s:O, s:n}", "status",
					      ct ? container_status(ct) : "Downloading",
					      "releaseId", json_object_get(app, "release_id"),
					      "download_progress"));
	}
	snprintf(idbuf, sizeof(idbuf), "%lld", app_id);
	reply(c, 200,
	      json_pack("{s:O, s:{s:{s:o}}}", "commit", json_object_get(app, "commit"), "local",
			idbuf, "services", services));
}

static void api_app_state(struct api_call *c)
{
	with_containers(c, app_state_got);
}

/* --- Volumes ------------------------------------------------------------------- */

struct cleanup {
	struct api_call *c;
	json_t *used; /* volume names mounted by some container */
	int pending;
};

static void cleanup_step(struct agentd *ad, int status, json_t *body, const char *err, void *arg)
{
	struct cleanup *cl = arg;

	(void)ad;
	(void)status;
	(void)body;
	(void)err;
	if (--cl->pending == 0) {
		reply(cl->c, 200, json_pack("{s:s}", "status", "success"));
		json_decref(cl->used);
		free(cl);
	}
}

static void cleanup_volumes_listed(struct agentd *ad, int status, json_t *body, const char *err,
				   void *arg)
{
	struct cleanup *cl = arg;
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
			json_object_foreach(json_object_get(apply_target(ad), "apps"), k, app) {
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
			engine_call(ad, "volume.remove", json_pack("{s:s}", "id", vol),
				    cleanup_step, cl);
		}
	}
	cleanup_step(ad, 0, NULL, NULL, cl);
}

static void cleanup_got_containers(struct api_call *c, json_t *list)
{
	struct cleanup *cl = calloc(1, sizeof(*cl));
	json_t *ct, *m;
	size_t i, j;

	if (cl == NULL) {
		reply_failed(c, 503, "out of memory");
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
	engine_call(c->ad, "volumes.list", json_object(), cleanup_volumes_listed, cl);
}

static void api_cleanup_volumes(struct api_call *c)
{
	/* every container counts as a user, supervised or not */
	struct with_list *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		reply_failed(c, 503, "out of memory");
		return;
	}
	w->c = c;
	w->fn = cleanup_got_containers;
	engine_call(c->ad, "containers.list", json_pack("{s:b}", "all", 1), with_list_engine_done,
		    w);
}

/* --- Host config, device ----------------------------------------------------- */

static void api_host_config_get(struct api_call *c)
{
	char host[256] = "";
	FILE *f = fopen("/etc/hostname", "re");
	json_t *proxy = hostconfig_proxy_read(c->ad->set.boot_dir);

	if (f != NULL) {
		if (fgets(host, sizeof(host), f) != NULL)
			host[strcspn(host, "\n")] = '\0';
		fclose(f);
	}
	reply(c, 200, json_pack("{s:{s:s, s:o*}}", "network", "hostname", host, "proxy", proxy));
}

/* Hostname into config.json, proxy into the boot partition, under the locks
 * of every app (balenaOS restarts the engine and redsocks after either). */
static void api_host_config_patch(struct api_call *c)
{
	json_t *net = json_object_get(c->body, "network"), *h, *proxy;
	char err[768];
	int rc;

	if (!json_is_object(c->body)) {
		reply_text_free(c, 400, "Invalid request body");
		return;
	}
	if (net == NULL) {
		log_warnx("PATCH /v1/device/host-config without \"network\": nothing to do");
		reply_text_free(c, 200, "OK");
		return;
	}
	h = json_object_get(net, "hostname");
	proxy = json_object_get(net, "proxy");
	if (!json_is_object(net) || (h != NULL && !json_is_string(h))) {
		reply_text_free(c, 400, "Invalid hostname");
		return;
	}
	if (proxy != NULL && !json_is_object(proxy)) {
		reply_text_free(c, 400, "Invalid proxy configuration: must be an object");
		return;
	}
	if (lock_all_apps(c->ad, body_force(c), err, sizeof(err)) == -1) {
		reply_text_free(c, 423, err);
		return;
	}
	if (proxy != NULL &&
	    (rc = hostconfig_proxy_patch(c->ad->set.boot_dir, proxy, err, sizeof(err))) != 0) {
		unlock_all_apps(c->ad);
		log_warnx("host-config: %s", err);
		reply_text_free(c, rc == -1 ? 400 : 503, err);
		return;
	}
	if (proxy != NULL)
		log_info("host-config: proxy settings %s",
			 json_object_size(proxy) ? "updated" : "removed");
	if (h != NULL) {
		char name[8];
		const char *v = json_string_value(h);

		if (v[0] == '\0') { /* empty: the first 7 characters of the uuid */
			snprintf(name, sizeof(name), "%.7s", c->ad->device_uuid);
			v = name;
		}
		json_object_set_new(c->ad->cfg.root, "hostname", json_string(v));
		if (config_write_atomic(c->ad->config_path, c->ad->cfg.root, err, sizeof(err)) ==
		    -1) {
			unlock_all_apps(c->ad);
			reply_text_free(c, 503, err);
			return;
		}
	}
	unlock_all_apps(c->ad);
	reply_text_free(c, 200, "OK");
}

static void api_device_v1(struct api_call *c)
{
	json_t *st = apply_status(c->ad), *out, *app;
	char ips[512], macs[512];
	const char *k;

	netinfo_addresses(ips, sizeof(ips), macs, sizeof(macs));
	out = json_pack("{s:i, s:s, s:s, s:s, s:s, s:b, s:b, s:b}", "api_port",
			c->ad->cfg.listen_port, "ip_address", ips, "os_version", c->ad->os_version,
			"mac_address", macs, "supervisor_version", "19.0.0+agentd." AGENTD_VERSION,
			"update_pending",
			strcmp(json_string_value(json_object_get(st, "appState")), "applied") != 0,
			"update_failed", 0, "update_downloaded", 0);
	json_object_foreach(json_object_get(apply_target(c->ad), "apps"), k, app) {
		if (!strcmp(json_string_value(json_object_get(st, "appState")), "applied"))
			json_object_set(out, "commit", json_object_get(app, "commit"));
		json_object_set_new(out, "status", json_string("Idle"));
		break;
	}
	json_decref(st);
	reply(c, 200, out);
}

/* journalctl on PATH, or NULL. */
static const char *journalctl_path(char *buf, size_t len)
{
	const char *path = getenv("PATH");
	char dirs[1024], *d, *save = NULL;

	snprintf(dirs, sizeof(dirs), "%s", path ? path : "/usr/bin:/bin");
	for (d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(buf, len, "%s/journalctl", d);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

/* POST /v2/journal-logs: journalctl runs here (apid may not exec) with its
 * output on a socket whose other end goes to apid with the reply. */
static void api_journal_logs(struct api_call *c)
{
	const char *argv[24], *opt;
	char exe[512], count[32];
	json_t *b = json_is_object(c->body) ? c->body : NULL, *v, *r;
	int sv[2], n = 0, devnull;
	pid_t pid;
	size_t i;
	static const struct {
		const char *key, *flag;
	} strs[] = {{"unit", "-u"}, {"containerId", "-t"}, {"since", "-S"}, {"until", "-U"}};

	if (journalctl_path(exe, sizeof(exe)) == NULL) {
		reply_failed(c, 503, "journalctl is not available on this device");
		return;
	}
	argv[n++] = exe;
	if (json_is_true(json_object_get(b, "all")))
		argv[n++] = "-a";
	if (json_is_true(json_object_get(b, "follow")))
		argv[n++] = "--follow";
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if ((v = json_object_get(b, strs[i].key)) == NULL)
			continue;
		if (!json_is_string(v)) {
			reply_failed(c, 400, "journal-logs: options must be strings");
			return;
		}
		argv[n++] = strs[i].flag;
		argv[n++] = json_string_value(v);
	}
	if ((v = json_object_get(b, "count")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1) {
			reply_failed(c, 400, "journal-logs: count must be a positive integer");
			return;
		}
		snprintf(count, sizeof(count), "%lld", (long long)json_integer_value(v));
		argv[n++] = "-n";
		argv[n++] = count;
	}
	opt = json_string_value(json_object_get(b, "format"));
	argv[n++] = "-o";
	argv[n++] = opt ? opt : "short";
	argv[n++] = "--no-pager";
	argv[n] = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1 ||
	    (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) {
		reply_failed(c, 503, "cannot run journalctl");
		return;
	}
	if ((pid = fork()) == 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(sv[1], STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	close(sv[1]);
	close(devnull);
	if (pid == -1) {
		close(sv[0]);
		reply_failed(c, 503, "cannot run journalctl");
		return;
	}
	snprintf(count, sizeof(count), "%d", (int)pid);
	json_object_set_new(c->ad->journals, count, json_true());
	r = json_pack("{s:i, s:b, s:i}", "status", 200, "stream", 1, "stream_id", (int)pid);
	chan_reply_fd(c->ad->d[D_APID].ch, &c->req, MSG_API_REPLY, r, sv[0]);
	json_decref(r);
	api_call_free(c);
}

/* The client went away: its journalctl goes too. */
static void api_journal_stop(struct api_call *c)
{
	json_int_t pid = json_integer_value(json_object_get(c->body, "stream_id"));
	char key[32];

	snprintf(key, sizeof(key), "%lld", (long long)pid);
	if (pid > 0 && json_object_get(c->ad->journals, key) != NULL) {
		kill((pid_t)pid, SIGKILL);
		json_object_del(c->ad->journals, key);
	}
	reply(c, 200, NULL);
}

static void api_metrics(struct api_call *c)
{
	char text[4096], path[64], line[256];
	size_t off = 0;
	int i;

	off += (size_t)snprintf(text + off, sizeof(text) - off,
				"# HELP agentd_daemon_rss_bytes Resident memory of each daemon.\n"
				"# TYPE agentd_daemon_rss_bytes gauge\n");
	for (i = D_AGENTD; i < D_COUNT; i++) {
		pid_t pid = i == D_AGENTD ? getpid() : c->ad->d[i].pid;
		long kb = 0;
		FILE *f;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		if ((f = fopen(path, "re")) != NULL) {
			while (fgets(line, sizeof(line), f))
				if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
					break;
			fclose(f);
		}
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"agentd_daemon_rss_bytes{daemon=\"%s\"} %ld\n",
					daemon_names[i], kb * 1024);
	}
	off += (size_t)snprintf(text + off, sizeof(text) - off,
				"# HELP agentd_daemon_starts_total Times each child was started.\n"
				"# TYPE agentd_daemon_starts_total counter\n");
	for (i = D_ENGINECTL; i < D_COUNT; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"agentd_daemon_starts_total{daemon=\"%s\"} %u\n",
					daemon_names[i], c->ad->d[i].starts);
	off += (size_t)snprintf(
		text + off, sizeof(text) - off,
		"# HELP agentd_healthy Whether agentd reports itself healthy.\n"
		"# TYPE agentd_healthy gauge\nagentd_healthy %d\n"
		"# HELP agentd_engine_connected Whether the engine is reachable.\n"
		"# TYPE agentd_engine_connected gauge\nagentd_engine_connected %d\n",
		c->ad->healthy, c->ad->engine_up);
	apply_metrics(c->ad, text + off, sizeof(text) - off);
	reply_text_free(c, 200, text);
}

static const struct {
	const char *route;
	void (*fn)(struct api_call *c);
} api_routes[] = {
	{"app.purge", api_app_purge},
	{"app.restart", api_app_restart},
	{"app.start-service", api_start_service},
	{"app.state", api_app_state},
	{"app.stop-service", api_stop_service},
	{"app.restart-service", api_restart_service},
	{"applications.state", api_applications_state},
	{"cleanup-volumes", api_cleanup_volumes},
	{"containerId", api_container_id},
	{"device.host-config.get", api_host_config_get},
	{"device.host-config.patch", api_host_config_patch},
	{"device.name", api_device_name},
	{"device.tags", api_device_tags},
	{"device.tags.patch", api_device_tags_patch},
	{"device.v1", api_device_v1},
	{"device.vpn", api_device_vpn},
	{"journal-logs", api_journal_logs},
	{"journal-logs.stop", api_journal_stop},
	{"local.device-info", api_device_info},
	{"local.target.get", api_target_get},
	{"local.target.set", api_target_set},
	{"metrics", api_metrics},
	{"state.status", api_state_status},
	{"v1.apps.get", api_v1_app_get},
	{"v1.apps.start", api_v1_app_start},
	{"v1.apps.stop", api_v1_app_stop},
	{"v1.blink", api_blink},
	{"v1.reboot", api_reboot},
	{"v1.regenerate-api-key", api_regenerate_key},
	{"v1.shutdown", api_shutdown},
	{"v1.update", api_update},
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

/* --- API keys ------------------------------------------------------------- */

static int random_key(char out[33])
{
	unsigned char rnd[16];
	int i;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -1;
	for (i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", rnd[i]);
	return 0;
}

char *api_key_for(struct agentd *ad, int app_id, const char *service)
{
	sqlite3_stmt *st;
	char key[33], scopes[96];
	char *found = NULL;

	if (sqlite3_prepare_v2(ad->db,
			       "SELECT key FROM api_secret WHERE app_id = ? AND service_name IS ?",
			       -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int(st, 1, app_id);
	if (service != NULL)
		sqlite3_bind_text(st, 2, service, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 2);
	if (sqlite3_step(st) == SQLITE_ROW)
		found = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (found != NULL)
		return found;
	if (random_key(key) == -1)
		return NULL;
	if (app_id == 0)
		snprintf(scopes, sizeof(scopes), "[{\"type\":\"global\"}]");
	else
		snprintf(scopes, sizeof(scopes), "[{\"type\":\"app\",\"appId\":%d}]", app_id);
	if (sqlite3_prepare_v2(ad->db,
			       "INSERT INTO api_secret (app_id, service_name, key, scopes) "
			       "VALUES (?, ?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int(st, 1, app_id);
	if (service != NULL)
		sqlite3_bind_text(st, 2, service, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, scopes, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_finalize(st);
		return NULL;
	}
	sqlite3_finalize(st);
	api_send_auth(ad);
	return strdup(key);
}

/* Replace `old` by a new key with the same owner and scopes. */
static char *api_key_regenerate(struct agentd *ad, const char *old)
{
	sqlite3_stmt *st;
	char key[33];
	int ok;

	if (random_key(key) == -1 ||
	    sqlite3_prepare_v2(ad->db, "UPDATE api_secret SET key = ? WHERE key = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, old, -1, SQLITE_STATIC);
	ok = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(ad->db) == 1;
	sqlite3_finalize(st);
	if (!ok)
		return NULL;
	api_send_auth(ad);
	return strdup(key);
}

void api_send_auth(struct agentd *ad)
{
	struct daemon *d = &ad->d[D_APID];
	json_t *keys = json_array(), *m;
	sqlite3_stmt *st;
	char *global;

	if (d->ch == NULL || d->state != DS_READY)
		return;
	global = api_key_for(ad, 0, NULL); /* makes it on first use */
	free(global);
	if (sqlite3_prepare_v2(ad->db, "SELECT key, scopes FROM api_secret", -1, &st, NULL) ==
	    SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			json_t *scopes =
				json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);

			json_array_append_new(keys,
					      json_pack("{s:s, s:o}", "key",
							(const char *)sqlite3_column_text(st, 0),
							"scopes", scopes ? scopes : json_array()));
		}
		sqlite3_finalize(st);
	}
	m = json_pack("{s:b, s:o}", "enabled", !local_mode(ad), "keys", keys);
	if (m != NULL)
		chan_send_json(d->ch, MSG_API_AUTH, 0, 0, m);
	json_decref(m);
}
