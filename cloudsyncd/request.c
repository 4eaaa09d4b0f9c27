/*
 * cloudsyncd/request.c - the helpers every part of cloudsyncd talks to the
 * API with: one authenticated request to the API endpoint (common/http.c
 * does the transfer), the one-shot retry timers, and their backoff.
 * Used by sync.c (provisioning, polling, reports), initial.c, logs.c and
 * tags.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cloudsyncd.h"

void cloud_after_ms(struct event *ev, long ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_del(ev);
	evtimer_add(ev, &tv);
}

long cloud_backoff(long base, unsigned n, long cap)
{
	long d = base;

	while (n-- > 0 && d < cap)
		d *= 2;
	return d > cap ? cap : d;
}

void cloud_request(struct cloud *c, const char *method, const char *path, const char *key,
		   json_t *body, xfer_done_cb done, void *arg, const char *extra_header)
{
	char url[1024], auth[256], *text = NULL;
	const char *headers[4] = {auth, NULL, NULL, NULL};
	struct xfer_req r;

	snprintf(url, sizeof(url), "%s%s", c->endpoint, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key ? key : "");
	if (extra_header != NULL)
		headers[1] = extra_header;
	if (body != NULL)
		text = json_dumps(body, JSON_COMPACT);
	memset(&r, 0, sizeof(r));
	r.method = method;
	r.path = url;
	r.body = text;
	r.timeout_ms = c->request_timeout_ms;
	r.on_done = done;
	r.arg = arg;
	r.headers = headers;
	if (http_start(c->http, &r) == NULL)
		done(NULL, "cannot start the request", 0, "", 0, arg);
	free(text);
}
