/*
 * hresp.h - an HTTP/1.1 response parser, fed bytes as they arrive: the
 * status line, the headers that matter (Content-Length, Transfer-Encoding,
 * Connection), then the body, sized by Content-Length, chunked, or ended by
 * the connection's close. No I/O; enginectl's client (ehttp.c) feeds it,
 * and so does a libFuzzer target.
 */
#ifndef AGENTD_ENGINECTL_HRESP_H
#define AGENTD_ENGINECTL_HRESP_H

#include <stddef.h>

#define HRESP_LINE_MAX 8192 /* status, header and chunk-size lines */

enum hresp_state {
	HR_STATUS,
	HR_HEADERS,
	HR_LENGTH,     /* Content-Length bytes left */
	HR_CHUNK_SIZE, /* a chunk-size line */
	HR_CHUNK_DATA, /* the bytes of a chunk */
	HR_CHUNK_END,  /* the CRLF after a chunk */
	HR_TRAILER,    /* trailer lines up to the empty one */
	HR_UNTIL_EOF,  /* no length: the body ends with the connection */
	HR_DONE,
};

struct hresp {
	enum hresp_state state;
	int head; /* the request was HEAD: no body (set before feeding) */
	long status;
	int keep_alive; /* the connection may serve another request */
	int chunked, has_length;
	long long left;
	char line[HRESP_LINE_MAX];
	size_t line_len;
};

/// Body bytes; return -1 to stop feeding (HRESP_STOPPED).
typedef int (*hresp_body_cb)(const char *data, size_t len, void *arg);

enum { HRESP_MORE = 0, HRESP_DONE = 1, HRESP_STOPPED = 2, HRESP_ERROR = -1 };

/// Feed n bytes. HRESP_MORE: all taken, more wanted; HRESP_DONE: the
/// response is complete (*used says how many bytes it took; bytes beyond
/// it clear keep_alive); HRESP_STOPPED: the body callback said stop;
/// HRESP_ERROR: not HTTP as expected, *err says why.
int hresp_feed(struct hresp *r, const char *p, size_t n, size_t *used, hresp_body_cb body,
	       void *arg, const char **err);
/// The connection closed: HRESP_DONE if that ends the body, else HRESP_ERROR.
int hresp_eof(struct hresp *r);

#endif
