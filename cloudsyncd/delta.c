/*
 * cloudsyncd/delta.c - the cloud's half of a balena v3 delta: agentd asks
 * for a delta from the image a service runs to the one its new release
 * wants (MSG_CLOUD_DELTA {src, dest, timeout_ms}); cloudsyncd gets a
 * registry token for both repositories from {apiEndpoint}/auth/v1/token
 * (basic auth d_<uuid>:<deviceApiKey>, kept 10 minutes), asks
 * {deltaEndpoint}/api/v3/delta?src=&dest= with it, and answers what the
 * balena supervisor makes of the answer: "ready" (the delta image's name
 * and the token to pull it with), "processing" (502/504: ask again later,
 * not a failure), "retry" (401, a failed token, anything unexpected: a
 * failure, retried with backoff) or "fallback" (another 4xx: pull the
 * image whole).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "clock.h"
#include "cloudsyncd.h"
#include "log.h"

#define TOKEN_TTL_MS (10 * 60 * 1000)

struct delta_req {
	struct cloud *c;
	uint32_t id;
	char *src, *dest;
	long timeout_ms;
	char token_url[2048];
};

int delta_repo(const char *ref, char *host, size_t hlen, char *name, size_t nlen)
{
	const char *slash = strchr(ref, '/'), *start = ref, *end;
	size_t n;

	host[0] = '\0';
	/* a first part with a dot or a colon (or localhost) is a registry host */
	if (slash != NULL && (memchr(ref, '.', (size_t)(slash - ref)) != NULL ||
			      memchr(ref, ':', (size_t)(slash - ref)) != NULL ||
			      ((size_t)(slash - ref) == 9 && strncmp(ref, "localhost", 9) == 0))) {
		if ((size_t)(slash - ref) >= hlen)
			return -1;
		memcpy(host, ref, (size_t)(slash - ref));
		host[slash - ref] = '\0';
		start = slash + 1;
	}
	/* without its digest, then without its tag (a colon after the last '/') */
	end = strchr(start, '@');
	n = end ? (size_t)(end - start) : strlen(start);
	{
		const char *last = NULL, *p;

		for (p = start; p < start + n; p++)
			if (*p == '/')
				last = p;
		p = memchr(last ? last : start, ':', (size_t)(start + n - (last ? last : start)));
		if (p != NULL)
			n = (size_t)(p - start);
	}
	if (n == 0 || n >= nlen)
		return -1;
	memcpy(name, start, n);
	name[n] = '\0';
	return 0;
}

static void delta_answer(struct delta_req *r, const char *outcome, const char *name,
			 const char *token, const char *why)
{
	struct frame_hdr req = {MSG_CLOUD_DELTA, 0, r->id, 0};
	json_t *m = json_pack("{s:s, s:s?, s:s?, s:s?}", "outcome", outcome, "name", name, "token",
			      token, "reason", why);

	chan_reply(r->c->ch, &req, MSG_CLOUD_RESULT, m);
	json_decref(m);
	free(r->src);
	free(r->dest);
	free(r);
}

static void delta_asked(struct xfer *x, const char *err, long status, const char *body, size_t len,
			void *arg)
{
	struct delta_req *r = arg;
	struct cloud *c = r->c;
	char why[CLOUD_REASON_MAX + 300];
	json_t *j;
	const char *name;

	(void)x;
	if (err == NULL && status == 200) {
		j = json_loadb(body, len, 0, NULL);
		name = json_string_value(json_object_get(j, "name"));
		if (name == NULL || name[0] == '\0' || strlen(name) > 1000) {
			delta_answer(r, "retry", NULL, NULL,
				     "the answer of the delta server names no image");
		} else {
			delta_answer(r, "ready", name, c->delta_token, NULL);
		}
		json_decref(j);
		return;
	}
	cloud_reason(c, err, status, body, len, why, sizeof(why));
	if (err == NULL && (status == 502 || status == 504))
		delta_answer(r, "processing", NULL, NULL, "the delta is still being made");
	else if (err == NULL && status == 401)
		delta_answer(r, "retry", NULL, NULL, why);
	else if (err == NULL && status >= 400 && status < 500)
		delta_answer(r, "fallback", NULL, NULL, why);
	else
		delta_answer(r, "retry", NULL, NULL, why);
}

static void delta_ask(struct delta_req *r)
{
	struct cloud *c = r->c;
	char url[4096], auth[2200];

	/* the values go as they are, as balena's supervisor sends them */
	snprintf(url, sizeof(url), "%s/api/v3/delta?src=%s&dest=%s", c->delta_endpoint, r->src,
		 r->dest);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->delta_token);
	cloud_get(c, url, auth, r->timeout_ms, delta_asked, r);
}

static void token_got(struct xfer *x, const char *err, long status, const char *body, size_t len,
		      void *arg)
{
	struct delta_req *r = arg;
	struct cloud *c = r->c;
	char why[CLOUD_REASON_MAX + 300];
	json_t *j = NULL;
	const char *token;

	(void)x;
	if (err != NULL || status != 200 || (j = json_loadb(body, len, 0, NULL)) == NULL ||
	    (token = json_string_value(json_object_get(j, "token"))) == NULL ||
	    strlen(token) >= sizeof(c->delta_token)) {
		if (err == NULL && status == 200)
			snprintf(why, sizeof(why), "the registry token answer has no token");
		else
			cloud_reason(c, err, status, body, len, why, sizeof(why));
		json_decref(j);
		delta_answer(r, "retry", NULL, NULL, why);
		return;
	}
	snprintf(c->delta_token, sizeof(c->delta_token), "%s", token);
	snprintf(c->delta_token_url, sizeof(c->delta_token_url), "%s", r->token_url);
	c->delta_token_at = now_ms();
	json_decref(j);
	delta_ask(r);
}

/* base64 of "d_<uuid>:<key>" */
static void basic_auth(const char *uuid, const char *key, char *out, size_t outlen)
{
	char in[600];
	int n = snprintf(in, sizeof(in), "d_%s:%s", uuid ? uuid : "", key ? key : "");

	base64_encode(in,
		      n < 0                    ? 0
		      : (size_t)n < sizeof(in) ? (size_t)n
					       : sizeof(in) - 1,
		      out, outlen, 0);
}

void cloud_delta(struct cloud *c, const struct frame_hdr *hdr, json_t *body)
{
	const char *src = json_string_value(json_object_get(body, "src"));
	const char *dest = json_string_value(json_object_get(body, "dest"));
	json_int_t timeout = json_integer_value(json_object_get(body, "timeout_ms"));
	char shost[256], sname[512], dhost[256], dname[512], auth[1200], hdrline[1300];
	struct delta_req *r;

	if (!c->provisioned) {
		chan_reply_error(c->ch, hdr, 503, "the device is not provisioned yet");
		return;
	}
	if (src == NULL || dest == NULL || strlen(src) > 1000 || strlen(dest) > 1000 ||
	    strpbrk(src, " \r\n&#") != NULL || strpbrk(dest, " \r\n&#") != NULL ||
	    delta_repo(src, shost, sizeof(shost), sname, sizeof(sname)) == -1 ||
	    delta_repo(dest, dhost, sizeof(dhost), dname, sizeof(dname)) == -1) {
		chan_reply_error(c->ch, hdr, 400, "a delta needs two image references");
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return;
	r->c = c;
	r->id = hdr->id;
	r->src = strdup(src);
	r->dest = strdup(dest);
	if (r->src == NULL || r->dest == NULL) {
		delta_answer(r, "retry", NULL, NULL, "out of memory");
		return;
	}
	r->timeout_ms = timeout > 0 ? (long)timeout : 59000;
	snprintf(r->token_url, sizeof(r->token_url),
		 "%s/auth/v1/token?service=%s&scope=repository:%s:pull&scope=repository:%s:pull",
		 c->endpoint, dhost, dname, sname);
	if (c->delta_token[0] != '\0' && strcmp(c->delta_token_url, r->token_url) == 0 &&
	    now_ms() - c->delta_token_at < TOKEN_TTL_MS) {
		delta_ask(r);
		return;
	}
	basic_auth(c->uuid, c->device_api_key, auth, sizeof(auth));
	snprintf(hdrline, sizeof(hdrline), "Authorization: Basic %s", auth);
	cloud_get(c, r->token_url, hdrline, c->request_timeout_ms, token_got, r);
}
