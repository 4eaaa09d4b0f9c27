/*
 * devlog.c - the device log: system messages (sysmsg.h, in the balena
 * supervisor's wording) and the output of every supervised container, which
 * agentd has enginectl follow. Lines go to the cloud (cloudsyncd) on a
 * provisioned device and, while someone streams /v2/local/logs, to apid.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "agentd.h"
#include "clock.h"
#include "log.h"
#include "sysmsg.h"
#include "target.h"

/* Hand a line to apid if anyone is listening. `line` is stolen. */
static void devlog_emit(struct agentd *ad, json_t *line)
{
	struct chan *ch = supervisor_chan(&ad->sv, D_APID);

	if (ad->log_wanted && ch != NULL && line != NULL)
		chan_send_json(ch, MSG_LOG, 0, 0, line);
	json_decref(line);
}

/* The cloud gets the device log when the device is provisioned, not in
 * local mode, and SUPERVISOR_LOG_CONTROL is not off. */
static int devlog_cloud_on(struct agentd *ad)
{
	json_t *cfg = ad->apply ? json_object_get(apply_target(ad->apply), "config") : NULL;
	const char *ctl = json_string_value(json_object_get(cfg, "SUPERVISOR_LOG_CONTROL"));
	const char *lm = json_string_value(json_object_get(cfg, "SUPERVISOR_LOCAL_MODE"));

	if (ad->apply == NULL || !config_managed(&ad->cfg) ||
	    json_object_get(ad->cfg.root, "registered_at") == NULL ||
	    supervisor_chan(&ad->sv, D_CLOUDSYNCD) == NULL)
		return 0;
	if (ctl && (!strcmp(ctl, "0") || !strcasecmp(ctl, "false") || !strcasecmp(ctl, "off")))
		return 0;
	return !(lm && (!strcmp(lm, "1") || !strcasecmp(lm, "true") || !strcasecmp(lm, "on")));
}

/* `line` is stolen. */
static void devlog_cloud(struct agentd *ad, json_t *line)
{
	json_t *m;

	if (line != NULL && devlog_cloud_on(ad)) {
		m = json_pack("{s:O}", "line", line);
		chan_send_json(supervisor_chan(&ad->sv, D_CLOUDSYNCD), MSG_CLOUD_LOG, 0, 0, m);
		json_decref(m);
	}
	json_decref(line);
}

/* The sink of system messages (logged already by sysmsg()). */
static void devlog_system(const char *msg, void *arg)
{
	struct agentd *ad = arg;

	devlog_cloud(ad, json_pack("{s:s, s:b, s:I}", "message", msg, "isSystem", 1, "timestamp",
				   (json_int_t)wall_ms()));
	devlog_emit(ad, json_pack("{s:s, s:b, s:I}", "message", msg, "isSystem", 1, "timestamp",
				  (json_int_t)wall_ms()));
}

void devlog_container(struct agentd *ad, json_t *body)
{
	json_t *who = json_object_get(ad->followed,
				      json_string_value(json_object_get(body, "container")));
	const char *stream = json_string_value(json_object_get(body, "stream"));
	const char *level = json_string_value(json_object_get(who, "level"));
	json_int_t ts = json_integer_value(json_object_get(body, "timestamp"));
	int is_err = stream && !strcmp(stream, "stderr");
	json_t *line;

	if (who == NULL)
		return;
	/* BALENA_LOGS_LEVEL: none sends nothing, err/error only stderr. */
	if (level && (!strcmp(level, "none") ||
		      ((!strcmp(level, "err") || !strcmp(level, "error")) && !is_err)))
		return;
	if (ts == 0)
		ts = (json_int_t)wall_ms();
	line = json_pack("{s:O, s:O, s:I}", "message", json_object_get(body, "message"),
			 "serviceId", json_object_get(who, "serviceId"), "timestamp", ts);
	if (line != NULL && is_err)
		json_object_set_new(line, "isStdErr", json_true());
	if (ad->log_wanted && line != NULL) {
		json_t *local = json_deep_copy(line);

		json_object_set(local, "serviceName", json_object_get(who, "serviceName"));
		devlog_emit(ad, local);
	}
	devlog_cloud(ad, line);
}

/* The service's BALENA_LOGS_LEVEL, from the target. */
static const char *devlog_level(struct agentd *ad, json_t *labels)
{
	long long app_id = target_id(json_object_get(labels, "io.balena.app-id"));
	const char *svc = json_string_value(json_object_get(labels, "io.balena.service-name"));
	json_t *app, *env;
	const char *k, *v;

	json_object_foreach(json_object_get(apply_target(ad->apply), "apps"), k, app) {
		if (json_integer_value(json_object_get(app, "id")) != app_id || svc == NULL)
			continue;
		env = json_object_get(json_object_get(json_object_get(app, "services"), svc),
				      "environment");
		if ((v = json_string_value(json_object_get(env, "BALENA_LOGS_LEVEL"))) == NULL)
			v = json_string_value(json_object_get(env, "RESIN_LOGS_LEVEL"));
		return v;
	}
	return NULL;
}

struct follow_req {
	struct agentd *ad;
	char id[];
};

static void follow_done(int status, json_t *body, const char *err, void *arg)
{
	struct follow_req *r = arg;

	(void)body;
	if (err != NULL && status != 400) /* 400: already following */
		json_object_del(r->ad->followed, r->id);
	free(r);
}

void devlog_follow(struct agentd *ad, const char *id, json_t *labels, int64_t since, int resume)
{
	long long sid = target_id(json_object_get(labels, "io.balena.service-id"));
	struct follow_req *r;
	json_t *who;

	if (id == NULL || json_object_get(ad->followed, id) != NULL)
		return;
	if ((r = malloc(sizeof(*r) + strlen(id) + 1)) == NULL)
		return;
	r->ad = ad;
	strcpy(r->id, id);
	who = json_pack("{s:O?, s:I, s:s?}", "serviceName",
			json_object_get(labels, "io.balena.service-name"), "serviceId",
			(json_int_t)sid, "level", devlog_level(ad, labels));
	json_object_set_new(ad->followed, id, who);
	engine_call(&ad->engine, "logs.follow",
		    json_pack("{s:s, s:I, s:b}", "id", id, "since", (json_int_t)since, "resume",
			      resume),
		    follow_done, r);
}

void devlog_unfollowed(struct agentd *ad, const char *id)
{
	json_object_del(ad->followed, id);
}

static void resync_list(int status, json_t *body, const char *err, void *arg)
{
	struct agentd *ad = arg;
	json_t *c;
	size_t i;

	if (err != NULL || status != 200)
		return;
	json_array_foreach(body, i, c) {
		const char *state = json_string_value(json_object_get(c, "State"));

		if (state != NULL && !strcmp(state, "running"))
			devlog_follow(ad, json_string_value(json_object_get(c, "Id")),
				      json_object_get(c, "Labels"), wall_ms() / 1000, 1);
	}
}

void devlog_resync(struct agentd *ad)
{
	json_object_clear(ad->followed);
	engine_call(&ad->engine, "containers.list",
		    json_pack("{s:[s]}", "labels", "io.balena.supervised"), resync_list, ad);
}

static int devlog_want(struct daemon *d, const struct frame_hdr *hdr, json_t *body, void *arg)
{
	struct agentd *ad = arg;
	json_t *want = json_object_get(body, "want");

	(void)d;
	(void)hdr;
	if (!json_is_boolean(want))
		return -1;
	ad->log_wanted = json_is_true(want);
	return 0;
}

void devlog_init(struct agentd *ad)
{
	sysmsg_set_sink(devlog_system, ad);
	supervisor_on(&ad->sv, MSG_LOG_WANT, devlog_want, ad);
}
