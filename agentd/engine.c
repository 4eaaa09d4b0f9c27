/*
 * engine.c - agentd's side of enginectl: the messages enginectl sends on
 * its own (engine up/down, engine events, pull progress, container log
 * lines). Each is checked for its shape before anything uses it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agentd.h"
#include "log.h"

static int engine_state(struct agentd *ad, json_t *body)
{
	const char *api = NULL, *ver = NULL, *err = NULL;
	int connected = 0, resync = 0;

	if (json_unpack(body, "{s:b, s?s, s?s, s?b, s?s !}", "connected", &connected, "api_version",
			&api, "engine_version", &ver, "resync", &resync, "error", &err) == -1)
		return -1;
	ad->engine_up = connected;
	engine_containers_invalidate(ad);
	if (connected) {
		apply_trigger(ad, resync ? "engine resync" : "engine connected");
		devlog_resync(ad);
	}
	if (connected)
		log_info("engine %s connected (API %s)%s", ver ? ver : "?", api ? api : "?",
			 resync ? ": re-reading state" : "");
	else
		log_warnx("engine connection lost: %s", err ? err : "unknown reason");
	return 0;
}

/* Container events the device log cares about (facts §4.7). */
static void engine_event(struct agentd *ad, const char *type, const char *action, const char *id,
			 json_t *attrs)
{
	const char *svc = json_string_value(json_object_get(attrs, "io.balena.service-name"));
	const char *image = json_string_value(json_object_get(attrs, "image"));

	if (type != NULL && !strcmp(type, "container"))
		engine_containers_invalidate(ad); /* any change makes the cached list stale */
	if (type == NULL || strcmp(type, "container") || action == NULL || id == NULL ||
	    json_object_get(attrs, "io.balena.supervised") == NULL)
		return;
	if (!strcmp(action, "start") || !strcmp(action, "die"))
		cloud_report_state(ad);
	if (!strcmp(action, "start"))
		devlog_follow(ad, id, attrs, 0);
	else if (!strcmp(action, "die"))
		devlog_system(ad, "Service exited '%s %s'", svc ? svc : "?", image ? image : "?");
}

int engine_dispatch(struct daemon *d, uint32_t type, json_t *body)
{
	const char *s1 = NULL, *s2 = NULL, *s3 = NULL;
	json_int_t n = 0;

	switch (type) {
	case MSG_ENGINE_STATE:
		return engine_state(d->ad, body);
	case MSG_ENGINE_EVENT:
		if (json_unpack(body, "{s?s, s?s, s?s}", "type", &s1, "action", &s2, "id", &s3) ==
		    -1)
			return -1;
		log_debug("engine event: %s %s %.12s", s1 ? s1 : "?", s2 ? s2 : "?", s3 ? s3 : "?");
		engine_event(d->ad, s1, s2, s3, json_object_get(body, "attributes"));
		return 0;
	case MSG_ENGINE_PROGRESS:
		if (json_unpack(body, "{s:I, s:s, s:I}", "request", &n, "image", &s1, "percent",
				&n) == -1 ||
		    n < 0 || n > 100)
			return -1;
		apply_progress(d->ad, s1, (int)n);
		return 0;
	case MSG_ENGINE_LOG:
		if (json_unpack(body, "{s:s, s:s, s:I, s:s}", "container", &s1, "stream", &s2,
				"timestamp", &n, "message", &s3) == -1)
			return -1;
		devlog_container(d->ad, body);
		return 0;
	case MSG_ENGINE_LOG_END:
		if (json_unpack(body, "{s:s, s:s}", "container", &s1, "reason", &s2) == -1)
			return -1;
		devlog_unfollowed(d->ad, s1);
		return 0;
	default:
		return -1;
	}
}

/* --- Calls to the engine, through enginectl ------------------------------ */

struct engine_req {
	struct agentd *ad;
	engine_cb cb;
	void *arg;
	char *err; /* for a deferred failure */
};

static void engine_on_reply(struct chan *ch, const struct frame_hdr *hdr, json_t *body, void *arg)
{
	struct engine_req *r = arg;
	json_int_t status = 0;
	json_t *result = NULL;
	const char *err = NULL;

	(void)ch;
	if (hdr == NULL) {
		r->cb(r->ad, 0, NULL, "enginectl went away", r->arg);
	} else if (hdr->type == MSG_ERROR) {
		if (json_unpack(body, "{s:s, s?I}", "error", &err, "status", &status) == -1)
			err = "malformed error from enginectl";
		r->cb(r->ad, (int)status, NULL, err, r->arg);
	} else if (hdr->type == MSG_ENGINE_RESULT &&
		   json_unpack(body, "{s:I, s?o}", "status", &status, "body", &result) == 0) {
		r->cb(r->ad, (int)status, result, NULL, r->arg);
	} else {
		r->cb(r->ad, 0, NULL, "malformed answer from enginectl", r->arg);
	}
	free(r);
}

static void engine_on_deferred(evutil_socket_t fd, short what, void *arg)
{
	struct engine_req *r = arg;

	(void)fd;
	(void)what;
	r->cb(r->ad, 0, NULL, r->err, r->arg);
	free(r->err);
	free(r);
}

int engine_call(struct agentd *ad, const char *op, json_t *args, engine_cb cb, void *arg)
{
	struct daemon *d = &ad->d[D_ENGINECTL];
	struct engine_req *r = calloc(1, sizeof(*r));
	struct timeval now = {0, 0};
	json_t *call;

	if (r == NULL) {
		json_decref(args);
		return -1;
	}
	r->ad = ad;
	r->cb = cb;
	r->arg = arg;
	call = json_pack("{s:s, s:o}", "op", op, "args", args ? args : json_object());
	if (d->state != DS_READY || d->ch == NULL || !ad->engine_up || call == NULL ||
	    chan_request(d->ch, MSG_ENGINE_CALL, call, engine_on_reply, r) == -1) {
		/* Answer from the loop, never from inside the caller. */
		r->err = strdup(ad->engine_up ? "enginectl unavailable" : "engine unavailable");
		event_base_once(ad->base, -1, EV_TIMEOUT, engine_on_deferred, r, &now);
	}
	json_decref(call);
	return 0;
}

/* --- The supervised containers, cached ----------------------------------------
 * The API asks for the container list on most reads; the engine is asked
 * again only after a container event (or an engine reconnect) made the last
 * answer stale, and concurrent askers share one request. */

struct clist_waiter {
	containers_cb cb;
	void *arg;
};

static void engine_containers_done(struct agentd *ad, int status, json_t *body, const char *err,
				   void *arg)
{
	struct clist_waiter *w = ad->clist_waiters;
	size_t i, n = ad->clist_nwaiters;
	unsigned gen = (unsigned)(uintptr_t)arg;

	ad->clist_waiters = NULL;
	ad->clist_nwaiters = 0;
	ad->clist_fetching = 0;
	if (err == NULL && status == 200 && json_is_array(body)) {
		json_decref(ad->clist);
		ad->clist = json_incref(body);
		ad->clist_valid = gen == ad->clist_gen; /* no event while we asked */
	}
	for (i = 0; i < n; i++) {
		if (err != NULL || status != 200)
			w[i].cb(ad, NULL, err ? err : "engine error", w[i].arg);
		else
			w[i].cb(ad, body, NULL, w[i].arg);
	}
	free(w);
}

void engine_containers(struct agentd *ad, containers_cb cb, void *arg)
{
	struct clist_waiter *nw;

	if (ad->clist_valid && ad->clist != NULL && ad->engine_up) {
		cb(ad, ad->clist, NULL, arg);
		return;
	}
	nw = realloc(ad->clist_waiters, (ad->clist_nwaiters + 1) * sizeof(*nw));
	if (nw == NULL) {
		cb(ad, NULL, "out of memory", arg);
		return;
	}
	ad->clist_waiters = nw;
	nw[ad->clist_nwaiters].cb = cb;
	nw[ad->clist_nwaiters].arg = arg;
	ad->clist_nwaiters++;
	if (ad->clist_fetching)
		return;
	ad->clist_fetching = 1;
	engine_call(ad, "containers.list",
		    json_pack("{s:b, s:[s]}", "all", 1, "labels", "io.balena.supervised"),
		    engine_containers_done, (void *)(uintptr_t)ad->clist_gen);
}

void engine_containers_invalidate(struct agentd *ad)
{
	ad->clist_gen++;
	ad->clist_valid = 0;
}

void engine_containers_free(struct agentd *ad)
{
	json_decref(ad->clist);
	ad->clist = NULL;
	free(ad->clist_waiters);
	ad->clist_waiters = NULL;
}
