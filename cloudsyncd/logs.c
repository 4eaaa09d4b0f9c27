/*
 * cloudsyncd/logs.c - the device log to the cloud: one long POST to
 * /device/v2/<uuid>/log-stream whose body is gzip'd NDJSON, written as lines
 * come (Z_SYNC_FLUSH per batch). Lines wait in a bounded buffer; when it is
 * full they are dropped and counted, and a "Suppressed N message(s)" line
 * says so later. Any answer from the cloud ends the stream: it reconnects
 * with backoff. An idle stream (60 s without lines) is closed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "cloudsyncd.h"
#include "log.h"

#define LOG_BUFFER_MAX  (256 * 1024)
#define LOG_LINE_MAX    10000
#define LOG_IDLE_MS     60000
#define LOG_BACKOFF_MAX 300000

struct cloudlog {
	struct cloud *c;
	char *raw; /* NDJSON waiting to be compressed (owned) */
	size_t raw_len;
	unsigned char *z; /* compressed, waiting to be sent (owned) */
	size_t z_len, z_off;
	z_stream zs;
	int z_ready;
	unsigned long dropped;
	struct xfer *x;
	int paused;
	unsigned failures;
	struct event *ev_retry, *ev_idle;
};

static void logs_connect(struct cloudlog *l);

static int logs_append(struct cloudlog *l, const char *text, size_t n)
{
	char *nb;

	if (l->raw_len + n + 1 > LOG_BUFFER_MAX)
		return -1;
	if ((nb = realloc(l->raw, l->raw_len + n + 1)) == NULL)
		return -1;
	l->raw = nb;
	memcpy(l->raw + l->raw_len, text, n);
	l->raw[l->raw_len + n] = '\n';
	l->raw_len += n + 1;
	return 0;
}

/* Compress what is buffered into l->z. */
static int logs_compress(struct cloudlog *l)
{
	unsigned char out[16384];
	int rc;

	if (l->dropped > 0) {
		char msg[160];
		int n = snprintf(msg, sizeof(msg),
				 "{\"message\":\"Warning: Suppressed %lu message(s) due to high "
				 "load\",\"isSystem\":true,\"isStdErr\":true}",
				 l->dropped);

		if (logs_append(l, msg, (size_t)n) == 0)
			l->dropped = 0;
	}
	if (l->raw_len == 0)
		return 0;
	l->zs.next_in = (unsigned char *)l->raw;
	l->zs.avail_in = (uInt)l->raw_len;
	do {
		l->zs.next_out = out;
		l->zs.avail_out = sizeof(out);
		rc = deflate(&l->zs, Z_SYNC_FLUSH);
		if (rc == Z_STREAM_ERROR)
			return -1;
		{
			size_t have = sizeof(out) - l->zs.avail_out;
			unsigned char *nz = realloc(l->z, l->z_len + have);

			if (nz == NULL)
				return -1;
			l->z = nz;
			memcpy(l->z + l->z_len, out, have);
			l->z_len += have;
		}
	} while (l->zs.avail_out == 0);
	l->raw_len = 0;
	return 0;
}

static size_t logs_read(struct xfer *x, char *buf, size_t max, void *arg)
{
	struct cloudlog *l = arg;
	size_t n;

	(void)x;
	if (l->z_off == l->z_len) {
		l->z_off = l->z_len = 0;
		if (logs_compress(l) == -1 || l->z_len == 0) {
			l->paused = 1;
			return HTTP_READ_PAUSE;
		}
	}
	n = l->z_len - l->z_off < max ? l->z_len - l->z_off : max;
	memcpy(buf, l->z + l->z_off, n);
	l->z_off += n;
	return n;
}

static void logs_done(struct xfer *x, const char *err, long status, const char *body, size_t len,
		      void *arg)
{
	struct cloudlog *l = arg;
	long d;

	(void)x;
	l->x = NULL;
	l->paused = 0;
	deflateEnd(&l->zs);
	l->z_ready = 0;
	l->z_len = l->z_off = 0;
	evtimer_del(l->ev_idle);
	/* The cloud answers only when it is done with us: reconnect later. */
	d = cloud_backoff(5000, l->failures++, LOG_BACKOFF_MAX);
	if (err != NULL || status >= 400) {
		char why[CLOUD_REASON_MAX + 300];

		log_warnx("log stream ended: %s; reconnecting in %ld ms",
			  cloud_reason(l->c, err, status, body, len, why, sizeof(why)), d);
	} else if (status != 0) {
		log_debug("log stream ended (HTTP %ld); reconnecting in %ld ms", status, d);
	}
	cloud_after_ms(l->ev_retry, d);
}

static void logs_connect(struct cloudlog *l)
{
	struct cloud *c = l->c;
	char url[1024], auth[256];
	const char *headers[] = {auth, "Content-Type: application/x-ndjson",
				 "Content-Encoding: gzip", NULL};
	struct xfer_req r;

	if (l->x != NULL || !c->provisioned)
		return;
	memset(&l->zs, 0, sizeof(l->zs));
	if (deflateInit2(&l->zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return;
	l->z_ready = 1;
	snprintf(url, sizeof(url), "%s/device/v2/%s/log-stream", c->logs_endpoint, c->uuid);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->device_api_key);
	memset(&r, 0, sizeof(r));
	r.method = "POST";
	r.path = url;
	r.on_done = logs_done;
	r.on_read = logs_read;
	r.arg = l;
	r.headers = headers;
	if ((l->x = http_start(c->http, &r)) == NULL) {
		deflateEnd(&l->zs);
		l->z_ready = 0;
		cloud_after_ms(l->ev_retry, 5000);
		return;
	}
	cloud_after_ms(l->ev_idle, LOG_IDLE_MS);
}

static void logs_on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct cloudlog *l = arg;

	(void)fd;
	(void)what;
	if (l->raw_len > 0 || l->dropped > 0)
		logs_connect(l);
}

static void logs_on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct cloudlog *l = arg;

	(void)fd;
	(void)what;
	if (l->x != NULL) {
		http_cancel(l->x);
		l->x = NULL;
		deflateEnd(&l->zs);
		l->z_ready = 0;
		l->z_len = l->z_off = 0;
		l->paused = 0;
	}
}

void cloud_log(struct cloud *c, json_t *line)
{
	struct cloudlog *l = c->logs;
	json_t *m = json_object_get(line, "message");
	char *text;

	if (l == NULL)
		return;
	/* Lines over 10000 characters are cut, as the cloud expects. */
	if (json_is_string(m) && json_string_length(m) > LOG_LINE_MAX) {
		char cut[LOG_LINE_MAX + 8];

		snprintf(cut, sizeof(cut), "%.*s[...]", LOG_LINE_MAX - 5, json_string_value(m));
		json_object_set_new(line, "message", json_string(cut));
	}
	if ((text = json_dumps(line, JSON_COMPACT)) == NULL)
		return;
	if (logs_append(l, text, strlen(text)) == -1)
		l->dropped++;
	free(text);
	if (l->x == NULL) {
		if (!evtimer_pending(l->ev_retry, NULL))
			logs_connect(l);
	} else {
		cloud_after_ms(l->ev_idle, LOG_IDLE_MS);
		if (l->paused) {
			l->paused = 0;
			http_resume(l->x);
		}
	}
}

void cloud_logs_setup(struct cloud *c, struct event_base *base)
{
	struct cloudlog *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return;
	l->c = c;
	l->ev_retry = evtimer_new(base, logs_on_retry, l);
	l->ev_idle = evtimer_new(base, logs_on_idle, l);
	c->logs = l;
}

void cloud_logs_teardown(struct cloud *c)
{
	struct cloudlog *l = c->logs;

	if (l == NULL)
		return;
	if (l->z_ready)
		deflateEnd(&l->zs);
	event_free(l->ev_retry);
	event_free(l->ev_idle);
	free(l->raw);
	free(l->z);
	free(l);
	c->logs = NULL;
}
