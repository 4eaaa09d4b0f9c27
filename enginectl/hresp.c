/*
 * hresp.c - the HTTP/1.1 response parser of hresp.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hresp.h"

static void header_line(struct hresp *r, const char *line)
{
	const char *v = strchr(line, ':');
	size_t nlen;

	if (v == NULL)
		return;
	nlen = (size_t)(v - line);
	for (v++; *v == ' ' || *v == '\t'; v++)
		;
	if (nlen == 14 && !strncasecmp(line, "Content-Length", 14)) {
		r->left = strtoll(v, NULL, 10);
		r->has_length = r->left >= 0;
	} else if (nlen == 17 && !strncasecmp(line, "Transfer-Encoding", 17)) {
		r->chunked = strcasestr(v, "chunked") != NULL;
	} else if (nlen == 10 && !strncasecmp(line, "Connection", 10)) {
		if (strcasestr(v, "close") != NULL)
			r->keep_alive = 0;
		else if (strcasestr(v, "keep-alive") != NULL)
			r->keep_alive = 1;
	}
}

/* The headers are in: where does the body end? */
static void headers_done(struct hresp *r)
{
	if (r->status >= 100 && r->status < 200) { /* 100 Continue and friends */
		r->state = HR_STATUS;
		r->chunked = r->has_length = 0;
		return;
	}
	if (r->head || r->status == 204 || r->status == 304)
		r->state = HR_DONE;
	else if (r->chunked)
		r->state = HR_CHUNK_SIZE;
	else if (r->has_length)
		r->state = r->left > 0 ? HR_LENGTH : HR_DONE;
	else {
		r->state = HR_UNTIL_EOF;
		r->keep_alive = 0;
	}
}

/* One complete line (CRLF stripped). */
static int on_line(struct hresp *r, char *line, const char **err)
{
	int minor = 1;
	char *end;

	switch (r->state) {
	case HR_STATUS:
		if (sscanf(line, "HTTP/1.%d %ld", &minor, &r->status) != 2 || r->status < 100 ||
		    r->status > 999) {
			*err = "the engine sent something that is not HTTP";
			return HRESP_ERROR;
		}
		r->keep_alive = minor >= 1;
		r->state = HR_HEADERS;
		break;
	case HR_HEADERS:
		if (line[0] == '\0')
			headers_done(r);
		else
			header_line(r, line);
		break;
	case HR_CHUNK_SIZE:
		r->left = strtoll(line, &end, 16);
		if (end == line || r->left < 0) {
			*err = "bad chunk in the engine's response";
			return HRESP_ERROR;
		}
		r->state = r->left == 0 ? HR_TRAILER : HR_CHUNK_DATA;
		break;
	case HR_CHUNK_END:
		r->state = HR_CHUNK_SIZE;
		break;
	case HR_TRAILER:
		if (line[0] == '\0')
			r->state = HR_DONE;
		break;
	default:
		break;
	}
	return HRESP_MORE;
}

int hresp_feed(struct hresp *r, const char *p, size_t n, size_t *used, hresp_body_cb body,
	       void *arg, const char **err)
{
	const char *start = p;
	int rc;

	while (n > 0 && r->state != HR_DONE) {
		size_t take;

		switch (r->state) {
		case HR_LENGTH:
		case HR_CHUNK_DATA:
			take = (long long)n < r->left ? n : (size_t)r->left;
			p += take;
			n -= take;
			r->left -= (long long)take;
			if (r->left == 0)
				r->state = r->state == HR_LENGTH ? HR_DONE : HR_CHUNK_END;
			if (body(p - take, take, arg) == -1)
				return HRESP_STOPPED;
			break;
		case HR_UNTIL_EOF:
			p += n;
			take = n;
			n = 0;
			if (body(p - take, take, arg) == -1)
				return HRESP_STOPPED;
			break;
		default: { /* a line */
			const char *nl = memchr(p, '\n', n);

			take = nl ? (size_t)(nl - p) + 1 : n;
			if (r->line_len + take >= sizeof(r->line)) {
				*err = "a line of the engine's response is too long";
				return HRESP_ERROR;
			}
			memcpy(r->line + r->line_len, p, take);
			r->line_len += take;
			p += take;
			n -= take;
			if (nl == NULL)
				break;
			r->line[--r->line_len] = '\0'; /* the \n */
			if (r->line_len > 0 && r->line[r->line_len - 1] == '\r')
				r->line[--r->line_len] = '\0';
			r->line_len = 0;
			if ((rc = on_line(r, r->line, err)) != HRESP_MORE)
				return rc;
			break;
		}
		}
	}
	*used = (size_t)(p - start);
	if (r->state != HR_DONE)
		return HRESP_MORE;
	if (n > 0) /* bytes beyond the response: the connection is not reusable */
		r->keep_alive = 0;
	return HRESP_DONE;
}

int hresp_eof(struct hresp *r)
{
	if (r->state == HR_UNTIL_EOF) {
		r->state = HR_DONE;
		return HRESP_DONE;
	}
	return r->state == HR_DONE ? HRESP_DONE : HRESP_ERROR;
}
