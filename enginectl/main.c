/*
 * enginectl/main.c - entry point of enginectl and its connection to the
 * engine: negotiate the API version (/_ping, /version), follow the event
 * stream, and when the engine goes away, try again every quarter second
 * (a refused connect on a unix socket costs nothing, and the apps wait for
 * the engine) and tell agentd to resync as soon as it answers (events are
 * resumed from the last one seen, and agentd re-reads the whole state
 * anyway).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enginectl.h"
#include "log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 250
#define API_MAX_MINOR  41   /* the newest API whose behaviour enginectl relies on */
#define PROBE_MS       1000 /* while up: does the engine still accept connections? */

static void engine_connect(struct enginectl *e);
static void engine_probe_later(struct enginectl *e);

static void engine_send_state(struct enginectl *e, int connected, const char *error)
{
	json_t *m = json_pack("{s:b}", "connected", connected);

	if (m == NULL)
		return;
	if (connected) {
		json_object_set_new(m, "api_version", json_string(ehttp_version(e->http)));
		json_object_set_new(m, "engine_version", json_string(e->engine_version));
		json_object_set_new(m, "engine",
				    json_string(e->engine_name[0] ? e->engine_name : "docker"));
		json_object_set_new(m, "resync", json_boolean(e->ever_connected));
	} else if (error != NULL) {
		json_object_set_new(m, "error", json_string(error));
	}
	chan_send_json(e->ch, MSG_ENGINE_STATE, 0, 0, m);
	json_decref(m);
}

static void engine_schedule_reconnect(struct enginectl *e)
{
	struct timeval tv = {e->backoff_ms / 1000, (e->backoff_ms % 1000) * 1000};

	evtimer_add(e->ev_reconnect, &tv);
	e->backoff_ms = e->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : e->backoff_ms * 2;
}

static void engine_down(struct enginectl *e, const char *why)
{
	int was_up = e->state == ENGINE_UP;

	if (e->state == ENGINE_DOWN)
		return;
	e->state = ENGINE_DOWN;
	if (e->events != NULL) {
		ehttp_cancel(e->events);
		e->events = NULL;
	}
	/* no more requests on the old connections: a stopping engine waits
	 * for its clients to leave */
	ehttp_forget_connections(e->http);
	evtimer_del(e->ev_probe);
	if (was_up) {
		log_warnx("engine connection lost: %s", why);
		engine_send_state(e, 0, why);
	}
	engine_schedule_reconnect(e);
}

static void events_on_line(const char *line, size_t len, void *arg)
{
	struct enginectl *e = arg;
	json_t *j = json_loadb(line, len, 0, NULL), *actor, *m;
	json_int_t tn;

	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		return;
	}
	actor = json_object_get(j, "Actor");
	tn = json_integer_value(json_object_get(j, "timeNano"));
	if (tn > e->last_event_ns)
		e->last_event_ns = tn;
	m = json_pack("{s:s?, s:s?, s:s?, s:O?, s:I}", "type",
		      json_string_value(json_object_get(j, "Type")), "action",
		      json_string_value(json_object_get(j, "Action")), "id",
		      json_string_value(json_object_get(actor, "ID")), "attributes",
		      json_object_get(actor, "Attributes"), "time_ms", tn / 1000000);
	if (m != NULL)
		chan_send_json(e->ch, MSG_ENGINE_EVENT, 0, 0, m);
	json_decref(m);
	json_decref(j);
}

static void events_on_data(struct exfer *x, const char *data, size_t len, void *arg)
{
	struct enginectl *e = arg;

	(void)x;
	linebuf_feed(&e->events_lb, data, len, events_on_line, e);
}

static void events_on_done(struct exfer *x, const char *err, long status, const char *body,
			   size_t len, void *arg)
{
	struct enginectl *e = arg;
	char why[300];

	(void)x;
	(void)body;
	(void)len;
	e->events = NULL;
	linebuf_flush(&e->events_lb, events_on_line, e);
	snprintf(why, sizeof(why), "%s",
		 err             ? err
		 : status == 200 ? "event stream ended"
				 : "event stream refused");
	engine_down(e, why);
}

static void engine_subscribe(struct enginectl *e)
{
	char path[512], since[64] = "";
	struct exfer_req r = {"GET", path, NULL, NULL, 0, 1, events_on_data, events_on_done, e};

	if (e->last_event_ns > 0)
		snprintf(since, sizeof(since), "&since=%lld.%09lld",
			 (long long)(e->last_event_ns / 1000000000),
			 (long long)(e->last_event_ns % 1000000000));
	/* {"type":["container","image","network","volume"]}, URL-encoded */
	snprintf(path, sizeof(path),
		 "/events?filters=%%7B%%22type%%22%%3A%%5B%%22container%%22%%2C%%22image%%22"
		 "%%2C%%22network%%22%%2C%%22volume%%22%%5D%%7D%s",
		 since);
	linebuf_free(&e->events_lb);
	e->events = ehttp_start(e->http, &r);
}

static void version_on_done(struct exfer *x, const char *err, long status, const char *body,
			    size_t len, void *arg)
{
	struct enginectl *e = arg;
	const char *api = NULL, *ver = NULL;
	unsigned major = 0, minor = 0;
	char chosen[16];
	json_t *j;

	(void)x;
	if (err != NULL || status != 200) {
		e->state = ENGINE_UP; /* so that engine_down() reschedules */
		engine_down(e, err ? err : "engine refused /version");
		return;
	}
	j = json_loadb(body, len, 0, NULL);
	api = json_string_value(json_object_get(j, "ApiVersion"));
	ver = json_string_value(json_object_get(j, "Version"));
	if (api == NULL || sscanf(api, "%u.%u", &major, &minor) != 2 || major != 1 || minor < 24) {
		log_error("engine API version %s is not supported (need 1.24 or later)",
			  api ? api : "unknown");
		json_decref(j);
		e->state = ENGINE_UP;
		engine_down(e, "unsupported engine API version");
		return;
	}
	snprintf(chosen, sizeof(chosen), "1.%u", minor > API_MAX_MINOR ? API_MAX_MINOR : minor);
	ehttp_set_version(e->http, chosen);
	snprintf(e->engine_version, sizeof(e->engine_version), "%s", ver ? ver : "");
	/* balenaEngine says so in a field of its own */
	snprintf(e->engine_name, sizeof(e->engine_name), "%s",
		 json_string_value(json_object_get(j, "Engine")) ?: "");
	json_decref(j);
	e->state = ENGINE_UP;
	e->backoff_ms = BACKOFF_MIN_MS;
	engine_probe_later(e);
	engine_subscribe(e);
	log_info("engine %s connected (API %s)%s", e->engine_version, chosen,
		 e->ever_connected ? ": resync" : "");
	engine_send_state(e, 1, NULL);
	e->ever_connected = 1;
}

static void ping_on_done(struct exfer *x, const char *err, long status, const char *body,
			 size_t len, void *arg)
{
	struct enginectl *e = arg;
	struct exfer_req r = {"GET", "/version", NULL, NULL, 5000, 0, NULL, version_on_done, e};

	(void)x;
	(void)body;
	(void)len;
	if (err != NULL || status != 200 || ehttp_start(e->http, &r) == NULL) {
		log_debug("engine not reachable: %s", err ? err : "bad answer to /_ping");
		e->state = ENGINE_DOWN;
		engine_schedule_reconnect(e);
	}
}

static void engine_connect(struct enginectl *e)
{
	struct exfer_req r = {"GET", "/_ping", NULL, NULL, 5000, 0, NULL, ping_on_done, e};

	e->state = ENGINE_CONNECTING;
	if (ehttp_start(e->http, &r) == NULL) {
		e->state = ENGINE_DOWN;
		engine_schedule_reconnect(e);
	}
}

static void engine_probe_later(struct enginectl *e)
{
	struct timeval tv = {PROBE_MS / 1000, (PROBE_MS % 1000) * 1000};

	evtimer_add(e->ev_probe, &tv);
}

/* An engine that is stopping refuses new connections at once, while it
 * still serves the open ones (and waits for them): leave it then. */
static void engine_on_probe(evutil_socket_t fd, short what, void *arg)
{
	struct enginectl *e = arg;

	(void)fd;
	(void)what;
	if (e->state != ENGINE_UP)
		return;
	if (ehttp_probe(e->http) == -1) {
		engine_down(e, "the engine no longer accepts connections (stopping)");
		return;
	}
	engine_probe_later(e);
}

static void engine_on_reconnect(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	engine_connect(arg);
}

static int enginectl_setup(struct child *c, json_t *config)
{
	struct enginectl *e;
	const char *sock = NULL;
	struct timeval now = {0, 0};

	if (json_unpack(config, "{s:s}", "engine_socket", &sock) == -1) {
		log_error("config lacks engine_socket");
		return -1;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -1;
	e->child = c;
	e->ch = child_chan(c);
	e->backoff_ms = BACKOFF_MIN_MS;
	TAILQ_INIT(&e->followers);
	e->http = ehttp_new(child_base(c), sock);
	e->ev_reconnect = evtimer_new(child_base(c), engine_on_reconnect, e);
	e->ev_probe = evtimer_new(child_base(c), engine_on_probe, e);
	if (e->http == NULL || e->ev_reconnect == NULL || e->ev_probe == NULL) {
		if (e->ev_reconnect != NULL)
			event_free(e->ev_reconnect);
		event_free(e->ev_probe);
		if (e->ev_probe != NULL)
			event_free(e->ev_probe);
		ehttp_free(e->http);
		free(e);
		return -1;
	}
	child_set_data(c, e);
	/* Connect from the loop, once sandboxed. */
	evtimer_add(e->ev_reconnect, &now);
	log_debug("engine socket %s", sock);
	return 0;
}

static int enginectl_dispatch(struct child *c, const struct frame_hdr *hdr, json_t *body, int fd)
{
	if (fd >= 0)
		close(fd);
	if (hdr->type != MSG_ENGINE_CALL)
		return -1;
	ops_call(child_data(c), hdr, body);
	return 0;
}

static void enginectl_teardown(struct child *c)
{
	struct enginectl *e = child_data(c);

	ops_unfollow_all(e);
	ehttp_free(e->http);
	event_free(e->ev_reconnect);
	event_free(e->ev_probe);
	linebuf_free(&e->events_lb);
	free(e);
}

static const struct child_ops enginectl_ops = {
	.id = D_ENGINECTL,
	.policy = &enginectl_policy,
	.drop_user = 0, /* the engine socket is root's */
	.setup = enginectl_setup,
	.dispatch = enginectl_dispatch,
	.teardown = enginectl_teardown,
};

int main(int argc, char **argv)
{
	return child_main(argc, argv, &enginectl_ops);
}
