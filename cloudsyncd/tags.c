/*
 * cloudsyncd/tags.c - device tags: agentd says which tags the device should
 * have; cloudsyncd PATCHes /device/v3/tags with only the keys whose value
 * the cloud does not have yet, at most once per 10 s, retrying with
 * backoff. Reading tags asks the cloud's /v7/device_tag.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudsyncd.h"
#include "log.h"

#define TAGS_MIN_MS 10000

static void tags_done(struct xfer *x, const char *err, long status, const char *body, size_t len,
		      void *arg)
{
	struct cloud *c = arg;
	const char *k;
	char why[CLOUD_REASON_MAX + 300];
	json_t *v;

	(void)x;
	c->tags_busy = 0;
	if (err == NULL && status >= 200 && status < 300) {
		json_object_foreach(c->tags_in_flight, k, v)
			json_object_set(c->tags_reported, k, v);
		c->tags_failures = 0;
		json_decref(c->tags_in_flight);
		c->tags_in_flight = NULL;
		cloud_after_ms(c->ev_tags,
			       TAGS_MIN_MS); /* anything that changed meanwhile, later */
		return;
	}
	json_decref(c->tags_in_flight);
	c->tags_in_flight = NULL;
	log_warnx("device tags report failed: %s",
		  cloud_reason(c, err, status, body, len, why, sizeof(why)));
	cloud_after_ms(c->ev_tags, cloud_backoff(15000, c->tags_failures++, 480000));
}

static void tags_send(struct cloud *c)
{
	json_t *diff, *v, *body;
	const char *k;

	if (c->tags_busy || c->tags_target == NULL || !c->provisioned)
		return;
	diff = json_object();
	json_object_foreach(c->tags_target, k, v)
		if (!json_equal(v, json_object_get(c->tags_reported, k)))
			json_object_set(diff, k, v);
	if (json_object_size(diff) == 0) {
		json_decref(diff);
		return;
	}
	body = json_pack("{s:O}", c->uuid, diff);
	c->tags_busy = 1;
	c->tags_in_flight = diff;
	cloud_request(c, "PATCH", "/device/v3/tags", c->device_api_key, body, tags_done, c,
		      "Content-Type: application/json");
	json_decref(body);
}

static void tags_on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	tags_send(arg);
}

void cloud_tags(struct cloud *c, json_t *tags)
{
	json_decref(c->tags_target);
	c->tags_target = json_incref(tags);
	if (!evtimer_pending(c->ev_tags, NULL))
		tags_send(c);
}

struct tags_get {
	struct cloud *c;
	uint32_t id;
};

static void tags_got(struct xfer *x, const char *err, long status, const char *body, size_t len,
		     void *arg)
{
	struct tags_get *g = arg;
	struct frame_hdr req = {MSG_CLOUD_TAGS_GET, 0, g->id, 0};
	json_t *j = NULL, *out, *t;
	size_t i;

	(void)x;
	if (err != NULL || status != 200 || (j = json_loadb(body, len, 0, NULL)) == NULL) {
		char why[CLOUD_REASON_MAX + 300];

		cloud_reason(g->c, err, status, body, len, why, sizeof(why));
		log_warnx("reading the device tags failed: %s", why);
		chan_reply_error(g->c->ch, &req, (int)status, why);
		json_decref(j);
		free(g);
		return;
	}
	out = json_array();
	json_array_foreach(json_object_get(j, "d"), i, t)
		json_array_append_new(out, json_pack("{s:O?, s:O?, s:O?}", "id",
						     json_object_get(t, "id"), "name",
						     json_object_get(t, "tag_key"), "value",
						     json_object_get(t, "value")));
	t = json_pack("{s:o}", "tags", out);
	chan_reply(g->c->ch, &req, MSG_CLOUD_RESULT, t);
	json_decref(t);
	json_decref(j);
	free(g);
}

void cloud_tags_get(struct cloud *c, const struct frame_hdr *hdr)
{
	struct tags_get *g = calloc(1, sizeof(*g));
	char path[256];

	if (g == NULL || !c->provisioned) {
		chan_reply_error(c->ch, hdr, 503, "the device is not provisioned yet");
		free(g);
		return;
	}
	g->c = c;
	g->id = hdr->id;
	snprintf(path, sizeof(path),
		 "/v7/device_tag?$select=id,tag_key,value&$filter=device%%20eq%%20%lld",
		 c->device_id);
	cloud_request(c, "GET", path, c->device_api_key, NULL, tags_got, g, NULL);
}

void cloud_tags_setup(struct cloud *c, struct event_base *base)
{
	c->tags_reported = json_object();
	c->ev_tags = evtimer_new(base, tags_on_timer, c);
}

void cloud_tags_teardown(struct cloud *c)
{
	if (c->ev_tags)
		event_free(c->ev_tags);
	json_decref(c->tags_reported);
	json_decref(c->tags_target);
	json_decref(c->tags_in_flight);
}
