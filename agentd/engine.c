/*
 * engine.c - agentd's side of enginectl: the messages enginectl sends on
 * its own (engine up/down, engine events, pull progress, container log
 * lines). Each is checked for its shape before anything uses it.
 */
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
	if (connected)
		log_info("engine %s connected (API %s)%s", ver ? ver : "?", api ? api : "?",
			 resync ? ": re-reading state" : "");
	else
		log_warnx("engine connection lost: %s", err ? err : "unknown reason");
	return 0;
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
		return 0;
	case MSG_ENGINE_PROGRESS:
		if (json_unpack(body, "{s:I, s:s, s:I}", "request", &n, "image", &s1, "percent",
				&n) == -1)
			return -1;
		log_debug("pull %s: %d%%", s1, (int)n);
		return 0;
	case MSG_ENGINE_LOG:
		if (json_unpack(body, "{s:s, s:s, s:I, s:s}", "container", &s1, "stream", &s2,
				"timestamp", &n, "message", &s3) == -1)
			return -1;
		return 0;
	case MSG_ENGINE_LOG_END:
		if (json_unpack(body, "{s:s, s:s}", "container", &s1, "reason", &s2) == -1)
			return -1;
		return 0;
	default:
		return -1;
	}
}
