/*
 * enginelink.c - agentd's side of enginectl: the engine port every room asks
 * the engine through (each call a MSG_ENGINE_CALL request), and the messages
 * enginectl sends on its own (engine up/down, engine events, pull progress,
 * container log lines), each checked for its shape before anything uses it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agentd.h"
#include "log.h"
#include "sysmsg.h"

static int enginelink_state(struct agentd *ad, json_t *body)
{
	const char *api = NULL, *ver = NULL, *err = NULL, *kind = NULL;
	int connected = 0, resync = 0;

	if (json_unpack(body, "{s:b, s?s, s?s, s?b, s?s, s?s !}", "connected", &connected,
			"api_version", &api, "engine_version", &ver, "resync", &resync, "error",
			&err, "engine", &kind) == -1)
		return -1;
	ad->engine_up = connected;
	if (connected)
		ad->engine_balena = kind != NULL && strcmp(kind, "balena-engine") == 0;
	containers_invalidate(ad);
	if (connected) {
		apply_trigger(ad->apply, resync ? "engine resync" : "engine connected");
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
static void enginelink_event(struct agentd *ad, const char *type, const char *action,
			     const char *id, json_t *attrs)
{
	const char *svc = json_string_value(json_object_get(attrs, "io.balena.service-name"));
	const char *image = json_string_value(json_object_get(attrs, "image"));

	if (type != NULL && !strcmp(type, "container"))
		containers_invalidate(ad); /* any change makes the cached list stale */
	if (type == NULL || strcmp(type, "container") || action == NULL || id == NULL ||
	    json_object_get(attrs, "io.balena.supervised") == NULL)
		return;
	if (!strcmp(action, "start") || !strcmp(action, "die"))
		cloudlink_report_state(ad);
	if (!strcmp(action, "start"))
		devlog_follow(ad, id, attrs, 0, 0);
	else if (!strcmp(action, "die"))
		sysmsg("Service exited '%s %s'", svc ? svc : "?", image ? image : "?");
}

static int enginelink_dispatch(struct daemon *d, const struct frame_hdr *hdr, json_t *body,
			       void *arg)
{
	struct agentd *ad = arg;
	const char *s1 = NULL, *s2 = NULL, *s3 = NULL;
	json_int_t n = 0;

	(void)d;
	switch (hdr->type) {
	case MSG_ENGINE_STATE:
		return enginelink_state(ad, body);
	case MSG_ENGINE_EVENT:
		if (json_unpack(body, "{s?s, s?s, s?s}", "type", &s1, "action", &s2, "id", &s3) ==
		    -1)
			return -1;
		log_debug("engine event: %s %s %.12s", s1 ? s1 : "?", s2 ? s2 : "?", s3 ? s3 : "?");
		enginelink_event(ad, s1, s2, s3, json_object_get(body, "attributes"));
		return 0;
	case MSG_ENGINE_PROGRESS:
		if (json_unpack(body, "{s:I, s:s, s:I}", "request", &n, "image", &s1, "percent",
				&n) == -1 ||
		    n < 0 || n > 100)
			return -1;
		apply_progress(ad->apply, s1, (int)n);
		return 0;
	case MSG_ENGINE_LOG:
		if (json_unpack(body, "{s:s, s:s, s:I, s:s}", "container", &s1, "stream", &s2,
				"timestamp", &n, "message", &s3) == -1)
			return -1;
		devlog_container(ad, body);
		return 0;
	case MSG_ENGINE_LOG_END:
		if (json_unpack(body, "{s:s, s:s}", "container", &s1, "reason", &s2) == -1)
			return -1;
		devlog_unfollowed(ad, s1);
		return 0;
	default:
		return -1;
	}
}

/* --- Calls to the engine, through enginectl ------------------------------ */

struct engine_req {
	engine_cb cb;
	void *arg;
	char *err; /* for a deferred failure */
};

static void enginelink_on_reply(struct chan *ch, const struct frame_hdr *hdr, json_t *body,
				void *arg)
{
	struct engine_req *r = arg;
	json_int_t status = 0;
	json_t *result = NULL;
	const char *err = NULL;

	(void)ch;
	if (hdr == NULL) {
		r->cb(0, NULL, "enginectl went away", r->arg);
	} else if (hdr->type == MSG_ERROR) {
		if (json_unpack(body, "{s:s, s?I}", "error", &err, "status", &status) == -1)
			err = "malformed error from enginectl";
		r->cb((int)status, NULL, err, r->arg);
	} else if (hdr->type == MSG_ENGINE_RESULT &&
		   json_unpack(body, "{s:I, s?o}", "status", &status, "body", &result) == 0) {
		r->cb((int)status, result, NULL, r->arg);
	} else {
		r->cb(0, NULL, "malformed answer from enginectl", r->arg);
	}
	free(r);
}

static void enginelink_on_deferred(evutil_socket_t fd, short what, void *arg)
{
	struct engine_req *r = arg;

	(void)fd;
	(void)what;
	r->cb(0, NULL, r->err, r->arg);
	free(r->err);
	free(r);
}

static int enginelink_call(void *ctx, const char *op, json_t *args, engine_cb cb, void *arg)
{
	struct agentd *ad = ctx;
	struct chan *ch = supervisor_chan(&ad->sv, D_ENGINECTL);
	struct engine_req *r = calloc(1, sizeof(*r));
	struct timeval now = {0, 0};
	json_t *call;

	if (r == NULL) {
		json_decref(args);
		return -1;
	}
	r->cb = cb;
	r->arg = arg;
	call = json_pack("{s:s, s:o}", "op", op, "args", args ? args : json_object());
	if (ch == NULL || !ad->engine_up || call == NULL ||
	    chan_request(ch, MSG_ENGINE_CALL, call, enginelink_on_reply, r) == -1) {
		/* Answer from the loop, never from inside the caller. */
		r->err = strdup(ad->engine_up ? "enginectl unavailable" : "engine unavailable");
		event_base_once(ad->base, -1, EV_TIMEOUT, enginelink_on_deferred, r, &now);
	}
	json_decref(call);
	return 0;
}

/* balenaEngine applies deltas; a test build may say any engine does (the
 * tests' engine is Debian's docker.io, which pulls the stand-in's "delta" as
 * a whole image), with AGENTD_TEST_DELTAS=1 */
static int enginelink_deltas(void *ctx)
{
	struct agentd *ad = ctx;

#ifdef AGENTD_TEST_HOOKS
	const char *any = getenv("AGENTD_TEST_DELTAS");

	if (any != NULL && strcmp(any, "1") == 0)
		return 1;
#endif
	return ad->engine_balena;
}

static int enginelink_ready(void *ctx)
{
	struct agentd *ad = ctx;

	return ad->engine_up && supervisor_chan(&ad->sv, D_ENGINECTL) != NULL;
}

void enginelink_init(struct agentd *ad)
{
	static const enum msg_type types[] = {MSG_ENGINE_STATE, MSG_ENGINE_EVENT,
					      MSG_ENGINE_PROGRESS, MSG_ENGINE_LOG,
					      MSG_ENGINE_LOG_END};
	size_t i;

	ad->engine.call = enginelink_call;
	ad->engine.ready = enginelink_ready;
	ad->engine.deltas = enginelink_deltas;
	ad->engine.ctx = ad;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		supervisor_on(&ad->sv, types[i], enginelink_dispatch, ad);
}
