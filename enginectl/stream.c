/*
 * stream.c - line splitting, pull-progress accounting and log frame
 * demultiplexing (see stream.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stream.h"

static void linebuf_emit(const char *p, size_t n, line_cb cb, void *arg)
{
	if (n > 0 && p[n - 1] == '\r')
		n--;
	cb(p, n, arg);
}

void linebuf_feed(struct linebuf *lb, const char *data, size_t len, line_cb cb, void *arg)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;

		if (lb->len == 0 && nl != NULL && take <= LINEBUF_MAX) {
			linebuf_emit(data, take, cb, arg); /* whole line in place */
		} else {
			size_t room = LINEBUF_MAX - lb->len;

			if (take > room) {
				/* Too long: deliver what fits and carry on with the rest. */
				take = room;
				nl = NULL;
			}
			if (lb->len + take > lb->cap) {
				size_t cap = lb->cap ? lb->cap : 256;
				char *nb;

				while (cap < lb->len + take)
					cap *= 2;
				if ((nb = realloc(lb->buf, cap)) == NULL)
					return;
				lb->buf = nb;
				lb->cap = cap;
			}
			memcpy(lb->buf + lb->len, data, take);
			lb->len += take;
			if (nl != NULL || lb->len == LINEBUF_MAX) {
				linebuf_emit(lb->buf, lb->len, cb, arg);
				lb->len = 0;
			}
		}
		if (nl != NULL)
			take++; /* the newline itself */
		data += take;
		len -= take;
	}
}

void linebuf_flush(struct linebuf *lb, line_cb cb, void *arg)
{
	if (lb->len > 0)
		linebuf_emit(lb->buf, lb->len, cb, arg);
	lb->len = 0;
}

void linebuf_free(struct linebuf *lb)
{
	free(lb->buf);
	memset(lb, 0, sizeof(*lb));
}

int pull_progress_percent(const struct pull_progress *p)
{
	uint64_t cur = 0, tot = 0;
	int i, known = 0;

	for (i = 0; i < p->nlayers; i++) {
		if (p->layer[i].done) {
			known++;
			if (p->layer[i].total > 0) {
				cur += p->layer[i].total;
				tot += p->layer[i].total;
			}
		} else if (p->layer[i].total > 0) {
			known++;
			cur += p->layer[i].current < p->layer[i].total ? p->layer[i].current
								       : p->layer[i].total;
			tot += p->layer[i].total;
		}
	}
	if (p->nlayers == 0 || known < p->nlayers)
		return tot ? (int)(cur * 99 / tot) : 0; /* some layers' sizes unknown yet */
	if (tot == 0)
		return 100; /* everything already there */
	return (int)(cur * 100 / tot);
}

static int pull_layer(struct pull_progress *p, const char *id)
{
	int i;

	for (i = 0; i < p->nlayers; i++)
		if (strcmp(p->layer[i].id, id) == 0)
			return i;
	if (p->nlayers == PULL_MAX_LAYERS || strlen(id) >= sizeof(p->layer[0].id))
		return -1;
	memset(&p->layer[p->nlayers], 0, sizeof(p->layer[0]));
	strcpy(p->layer[p->nlayers].id, id);
	return p->nlayers++;
}

/* Statuses the engine reports per layer (other lines are about the image). */
static int layer_status(const char *s)
{
	static const char *const names[] = {
		"Pulling fs layer",   "Waiting",           "Downloading",
		"Verifying Checksum", "Download complete", "Extracting",
		"Pull complete",      "Already exists",    NULL};
	int i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(s, names[i]) == 0)
			return 1;
	return 0;
}

int pull_progress_line(struct pull_progress *p, const char *line, size_t len)
{
	const char *status = NULL, *id = NULL, *err = NULL;
	json_int_t current = -1, total = -1;
	json_t *j, *detail;
	int before = pull_progress_percent(p), i, rc = -1;

	if ((j = json_loadb(line, len, 0, NULL)) == NULL || !json_is_object(j)) {
		json_decref(j);
		return -1;
	}
	err = json_string_value(json_object_get(j, "error"));
	if (err != NULL) {
		if (p->error[0] == '\0')
			snprintf(p->error, sizeof(p->error), "%s", err);
		json_decref(j);
		return -1;
	}
	status = json_string_value(json_object_get(j, "status"));
	id = json_string_value(json_object_get(j, "id"));
	detail = json_object_get(j, "progressDetail");
	if (json_is_object(detail)) {
		json_t *c = json_object_get(detail, "current"),
		       *t = json_object_get(detail, "total");

		if (json_is_integer(c))
			current = json_integer_value(c);
		if (json_is_integer(t))
			total = json_integer_value(t);
	}
	/* Lines without a layer id are about the image as a whole. */
	if (status != NULL && id != NULL && layer_status(status) && (i = pull_layer(p, id)) >= 0) {
		if (strcmp(status, "Downloading") == 0 && total > 0 && current >= 0) {
			p->layer[i].total = (uint64_t)total;
			p->layer[i].current = (uint64_t)current;
		} else if (strcmp(status, "Download complete") == 0 ||
			   strcmp(status, "Pull complete") == 0 ||
			   strcmp(status, "Already exists") == 0) {
			p->layer[i].done = 1;
		}
		rc = pull_progress_percent(p);
		if (rc == before)
			rc = -1;
	}
	json_decref(j);
	return rc;
}

/* Days since 1970-01-01 for a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, size_t n, unsigned *out)
{
	size_t i;

	*out = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*out = *out * 10 + (unsigned)(s[i] - '0');
	}
	return 0;
}

int64_t rfc3339_to_ns(const char *s, size_t len, size_t *used)
{
	unsigned y, mo, d, h, mi, sec;
	int64_t t, frac = 0;
	size_t i = 19, nd = 0;

	if (len < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	if (s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, nd++)
			if (nd < 9)
				frac = frac * 10 + (s[i] - '0');
		while (nd > 0 && nd < 9) {
			frac *= 10;
			nd++;
		}
	}
	if (i >= len || y < 1970 || y > 2261)
		return -1; /* ns since 1970 in 64 bits end in 2262 */
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	if (s[i] == 'Z') {
		i++;
	} else if ((s[i] == '+' || s[i] == '-') && i + 6 <= len && s[i + 3] == ':') {
		unsigned oh, om;

		if (digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om))
			return -1;
		t += (s[i] == '+' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
		i += 6;
	} else {
		return -1;
	}
	if (t < 0)
		return -1;
	*used = i;
	return t * 1000000000 + frac;
}

int64_t rfc3339_to_ms(const char *s, size_t len, size_t *used)
{
	int64_t ns = rfc3339_to_ns(s, len, used);

	return ns < 0 ? -1 : ns / 1000000;
}

static void logdemux_line(struct logdemux *d, int stream, logline_cb cb, void *arg)
{
	char *p = d->part[stream].buf;
	size_t n = d->part[stream].len, used = 0;
	int64_t ts;

	if (n > 0 && p[n - 1] == '\r')
		n--;
	ts = rfc3339_to_ns(p, n, &used);
	if (ts < 0) {
		ts = 0;
		used = 0;
	} else if (used < n && p[used] == ' ') {
		used++;
	}
	cb((enum log_stream)stream, ts, p + used, n - used, arg);
	d->part[stream].len = 0;
}

/* Payload bytes of one stream: split into lines. */
static void logdemux_payload(struct logdemux *d, int stream, const unsigned char *p, size_t n,
			     logline_cb cb, void *arg)
{
	size_t i;

	if (stream != LOGSTREAM_STDOUT && stream != LOGSTREAM_STDERR)
		return;
	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			logdemux_line(d, stream, cb, arg);
			continue;
		}
		if (d->part[stream].len == LOGLINE_MAX)
			logdemux_line(d, stream, cb, arg); /* cut an overlong line */
		d->part[stream].buf[d->part[stream].len++] = (char)p[i];
	}
}

void logdemux_feed(struct logdemux *d, const unsigned char *data, size_t len, logline_cb cb,
		   void *arg)
{
	if (d->tty) {
		logdemux_payload(d, LOGSTREAM_STDOUT, data, len, cb, arg);
		return;
	}
	while (len > 0) {
		if (d->remaining == 0) {
			size_t want = sizeof(d->hdr) - d->hdrlen, take = len < want ? len : want;

			memcpy(d->hdr + d->hdrlen, data, take);
			d->hdrlen += take;
			data += take;
			len -= take;
			if (d->hdrlen < sizeof(d->hdr))
				return;
			d->hdrlen = 0;
			d->stream = d->hdr[0];
			d->remaining = (uint32_t)d->hdr[4] << 24 | (uint32_t)d->hdr[5] << 16 |
				       (uint32_t)d->hdr[6] << 8 | d->hdr[7];
			continue;
		}
		{
			size_t take = len < d->remaining ? len : d->remaining;

			logdemux_payload(d, d->stream, data, take, cb, arg);
			data += take;
			len -= take;
			d->remaining -= (uint32_t)take;
		}
	}
}

void logdemux_flush(struct logdemux *d, logline_cb cb, void *arg)
{
	if (d->part[LOGSTREAM_STDOUT].len > 0)
		logdemux_line(d, LOGSTREAM_STDOUT, cb, arg);
	if (d->part[LOGSTREAM_STDERR].len > 0)
		logdemux_line(d, LOGSTREAM_STDERR, cb, arg);
}
