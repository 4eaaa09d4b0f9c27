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

static void request_start(struct cloud *c, const char *method, const char *url,
			  const char *const *headers, const char *body, long timeout_ms,
			  xfer_done_cb done, void *arg)
{
	struct xfer_req r;

	memset(&r, 0, sizeof(r));
	r.method = method;
	r.path = url;
	r.body = body;
	r.timeout_ms = timeout_ms;
	r.on_done = done;
	r.arg = arg;
	r.headers = headers;
	if (http_start(c->http, &r) == NULL)
		done(NULL, "cannot start the request", 0, "", 0, arg);
}

void cloud_request(struct cloud *c, const char *method, const char *path, const char *key,
		   json_t *body, xfer_done_cb done, void *arg, const char *extra_header)
{
	char url[1024], auth[256], *text = NULL;
	const char *headers[4] = {auth, NULL, NULL, NULL};

	snprintf(url, sizeof(url), "%s%s", c->endpoint, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key ? key : "");
	if (extra_header != NULL)
		headers[1] = extra_header;
	if (body != NULL)
		text = json_dumps(body, JSON_COMPACT);
	request_start(c, method, url, headers, text, c->request_timeout_ms, done, arg);
	free(text);
}

void cloud_get(struct cloud *c, const char *url, const char *auth, long timeout_ms,
	       xfer_done_cb done, void *arg)
{
	const char *headers[2] = {auth, NULL};

	request_start(c, "GET", url, headers, NULL, timeout_ms, done, arg);
}

/* Replace every occurrence of `secret` in s by "<redacted>" (in place, s
 * has room for len bytes). */
static void redact(char *s, size_t len, const char *secret)
{
	static const char mark[] = "<redacted>";
	size_t n = secret ? strlen(secret) : 0;
	char *p, tail[512];

	if (n < 8) /* too short to be a key, and would mask ordinary words */
		return;
	while ((p = strstr(s, secret)) != NULL) {
		snprintf(tail, sizeof(tail), "%s", p + n);
		snprintf(p, len - (size_t)(p - s), "%s%s", mark, tail);
	}
}

const char *cloud_reason(struct cloud *c, const char *err, long status, const char *body,
			 size_t len, char *buf, size_t buflen)
{
	char line[CLOUD_REASON_MAX + 1];
	size_t i, n = 0;

	if (err != NULL) {
		snprintf(buf, buflen, "%s", err);
		return buf;
	}
	/* The first line of the body: the API's own words, printable only. */
	for (i = 0; body != NULL && i < len && body[i] != '\n' && n < CLOUD_REASON_MAX; i++)
		if (body[i] != '\r')
			line[n++] =
				(unsigned char)body[i] < 0x20 || body[i] == 0x7f ? ' ' : body[i];
	line[n] = '\0';
	while (n > 0 && line[n - 1] == ' ')
		line[--n] = '\0';
	if (n == 0)
		snprintf(buf, buflen, "HTTP %ld", status);
	else
		snprintf(buf, buflen, "HTTP %ld: %s%s", status, line,
			 i < len && body[i] != '\n' ? "..." : "");
	redact(buf, buflen, c->device_api_key);
	redact(buf, buflen, c->provisioning_key);
	return buf;
}
