/*
 * devlog.c - the device log: system messages in the balena supervisor's
 * wording (facts §7.4) and the output of every supervised container, which
 * agentd has enginectl follow. Lines go to agentd's own log (system
 * messages) and, while someone streams /v2/local/logs, to apid.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "agentd.h"
#include "log.h"
#include "target.h"

static int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Hand a line to apid if anyone is listening. `line` is stolen. */
static void devlog_emit(struct agentd *ad, json_t *line)
{
	struct daemon *d = &ad->d[D_APID];

	if (ad->log_wanted && d->state == DS_READY && d->ch != NULL && line != NULL)
		chan_send_json(d->ch, MSG_LOG, 0, 0, line);
	json_decref(line);
}

void devlog_system(struct agentd *ad, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("%s", msg);
	devlog_emit(ad, json_pack("{s:s, s:b, s:I}", "message", msg, "isSystem", 1, "timestamp",
				  (json_int_t)wall_ms()));
}

void devlog_container(struct agentd *ad, json_t *body)
{
	json_t *who = json_object_get(ad->followed,
				      json_string_value(json_object_get(body, "container")));
	const char *stream = json_string_value(json_object_get(body, "stream"));
	json_int_t ts = json_integer_value(json_object_get(body, "timestamp"));
	json_t *line;

	if (who == NULL || !ad->log_wanted)
		return;
	line = json_pack("{s:O, s:O, s:O, s:I}", "message", json_object_get(body, "message"),
			 "serviceName", json_object_get(who, "serviceName"), "serviceId",
			 json_object_get(who, "serviceId"), "timestamp",
			 ts ? ts : (json_int_t)wall_ms());
	if (line != NULL && stream && !strcmp(stream, "stderr"))
		json_object_set_new(line, "isStdErr", json_true());
	devlog_emit(ad, line);
}

static void follow_done(struct agentd *ad, int status, json_t *body, const char *err, void *arg)
{
	char *id = arg;

	(void)body;
	if (err != NULL && status != 400) /* 400: already following */
		json_object_del(ad->followed, id);
	(void)status;
	free(id);
}

void devlog_follow(struct agentd *ad, const char *id, json_t *labels, int64_t since)
{
	long long sid = target_id(json_object_get(labels, "io.balena.service-id"));
	json_t *who;

	if (id == NULL || json_object_get(ad->followed, id) != NULL)
		return;
	who = json_pack("{s:O?, s:I}", "serviceName",
			json_object_get(labels, "io.balena.service-name"), "serviceId",
			(json_int_t)sid);
	json_object_set_new(ad->followed, id, who);
	engine_call(ad, "logs.follow",
		    json_pack("{s:s, s:I}", "id", id, "since", (json_int_t)since), follow_done,
		    strdup(id));
}

void devlog_unfollowed(struct agentd *ad, const char *id)
{
	json_object_del(ad->followed, id);
}

static void resync_list(struct agentd *ad, int status, json_t *body, const char *err, void *arg)
{
	json_t *c;
	size_t i;

	(void)arg;
	if (err != NULL || status != 200)
		return;
	json_array_foreach(body, i, c) {
		const char *state = json_string_value(json_object_get(c, "State"));

		if (state != NULL && !strcmp(state, "running"))
			devlog_follow(ad, json_string_value(json_object_get(c, "Id")),
				      json_object_get(c, "Labels"), wall_ms() / 1000);
	}
}

void devlog_resync(struct agentd *ad)
{
	json_object_clear(ad->followed);
	engine_call(ad, "containers.list", json_pack("{s:[s]}", "labels", "io.balena.supervised"),
		    resync_list, NULL);
}
