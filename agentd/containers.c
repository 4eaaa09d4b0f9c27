/*
 * containers.c - the supervised containers, cached. The API and the cloud
 * report ask for the container list on most reads; the engine is asked again
 * only after a container event (or an engine reconnect) made the last answer
 * stale, and concurrent askers share one request.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agentd.h"
#include "target.h"

struct containers_waiter {
	containers_cb cb;
	void *arg;
};

struct containers_req {
	struct agentd *ad;
	unsigned gen; /* the cache generation when the request left */
};

static void containers_done(int status, json_t *body, const char *err, void *arg)
{
	struct containers_req *r = arg;
	struct agentd *ad = r->ad;
	struct containers *c = &ad->clist;
	struct containers_waiter *w = c->waiters;
	size_t i, n = c->nwaiters;
	unsigned gen = r->gen;

	free(r);
	c->waiters = NULL;
	c->nwaiters = 0;
	c->fetching = 0;
	if (err == NULL && status == 200 && json_is_array(body)) {
		json_decref(c->list);
		c->list = json_incref(body);
		c->valid = gen == c->gen; /* no event while we asked */
	}
	for (i = 0; i < n; i++) {
		if (err != NULL || status != 200)
			w[i].cb(NULL, err ? err : "engine error", w[i].arg);
		else
			w[i].cb(body, NULL, w[i].arg);
	}
	free(w);
}

void containers_get(struct agentd *ad, containers_cb cb, void *arg)
{
	struct containers *c = &ad->clist;
	struct containers_waiter *nw;
	struct containers_req *r = NULL;

	if (c->valid && c->list != NULL && ad->engine_up) {
		cb(c->list, NULL, arg);
		return;
	}
	if (!c->fetching && (r = calloc(1, sizeof(*r))) == NULL) {
		cb(NULL, "out of memory", arg);
		return;
	}
	nw = realloc(c->waiters, (c->nwaiters + 1) * sizeof(*nw));
	if (nw == NULL) {
		free(r);
		cb(NULL, "out of memory", arg);
		return;
	}
	c->waiters = nw;
	nw[c->nwaiters].cb = cb;
	nw[c->nwaiters].arg = arg;
	c->nwaiters++;
	if (r == NULL)
		return; /* a request is on its way */
	r->ad = ad;
	r->gen = c->gen;
	c->fetching = 1;
	engine_call(&ad->engine, "containers.list",
		    json_pack("{s:b, s:[s]}", "all", 1, "labels", "io.balena.supervised"),
		    containers_done, r);
}

void containers_invalidate(struct agentd *ad)
{
	ad->clist.gen++;
	ad->clist.valid = 0;
}

void containers_free(struct agentd *ad)
{
	json_decref(ad->clist.list);
	ad->clist.list = NULL;
	free(ad->clist.waiters);
	ad->clist.waiters = NULL;
}

const char *containers_status(json_t *c)
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

const char *containers_service_status(struct agentd *ad, json_t *list, const char *uuid,
				      long long id, const char *name, json_t *svc, int *progress)
{
	json_t *ct;
	size_t i;

	*progress = -1;
	if (target_is_supervisor_app(uuid))
		return "Running"; /* the supervisor's own release is agentd */
	/* its new image first: the container of the release before may run */
	*progress = apply_download_progress(ad->apply,
					    json_string_value(json_object_get(svc, "image")));
	if (*progress >= 0)
		return "Downloading";
	json_array_foreach(list, i, ct) {
		json_t *l = json_object_get(ct, "Labels");
		const char *sn = json_string_value(json_object_get(l, "io.balena.service-name"));

		if (sn && !strcmp(sn, name) &&
		    target_id(json_object_get(l, "io.balena.app-id")) == id)
			return containers_status(ct);
	}
	*progress = 0; /* not downloaded yet */
	return "Downloading";
}
