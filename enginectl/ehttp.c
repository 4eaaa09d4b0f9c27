/*
 * ehttp.c - HTTP/1.1 over the engine's unix socket (see ehttp.h).
 *
 * One exfer is one request on one connection: connect (or take an idle
 * kept-alive one), write the request, read the response through a small
 * state machine (status line, headers, then a body sized by
 * Content-Length, chunked, or ended by the close). A connection whose
 * response ended cleanly and that the engine did not ask to close goes
 * back to the idle pool. Callbacks may cancel any request, their own
 * included: an exfer is freed only once no callback of it is running.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "ehttp.h"
#include "hresp.h"

#define BODY_MAX (64u * 1024 * 1024) /* largest non-streamed body kept */
#define IDLE_MAX 8                   /* kept-alive connections kept */

struct ehttp {
	struct event_base *base;
	char sockpath[108];
	char version[16];
	TAILQ_HEAD(, exfer) xfers;
	int active;
	int idle[IDLE_MAX];
	int nidle;
	unsigned gen; /* connections of an older generation are not kept */
};

struct exfer {
	TAILQ_ENTRY(exfer) entry;
	struct ehttp *h;
	int fd;
	int reused;          /* the connection came from the idle pool */
	unsigned gen;        /* the client's generation when it was made */
	struct event *io;    /* write, then read, on fd */
	struct event *timer; /* the request's timeout, and deferred failures */
	char *req;           /* the request, as sent (owned) */
	size_t req_len, req_off;
	struct hresp resp;
	int got_bytes;
	int idempotent;  /* GET or HEAD: may be sent again on a fresh connection */
	struct buf body; /* owned: collected response */
	char err[256];   /* a failure waiting to be reported by the timer */
	int in_cb;       /* callbacks running (no free meanwhile) */
	int dead;        /* cancelled while in_cb */
	exfer_data_cb on_data;
	exfer_done_cb on_done;
	void *arg;
};

static void xfer_on_io(evutil_socket_t fd, short what, void *arg);

/* --- connections ----------------------------------------------------- */

static void idle_put(struct ehttp *h, int fd)
{
	if (h->nidle < IDLE_MAX)
		h->idle[h->nidle++] = fd;
	else
		close(fd);
}

/* An idle connection the engine has not closed meanwhile, or -1. */
static int idle_take(struct ehttp *h)
{
	char c;

	while (h->nidle > 0) {
		int fd = h->idle[--h->nidle];
		ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return fd; /* open, nothing unexpected waiting */
		close(fd);
	}
	return -1;
}

static int sock_connect(struct ehttp *h, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd == -1) {
		snprintf(err, errlen, "cannot make a socket: %s", strerror(errno));
		return -1;
	}
	memcpy(sun.sun_path, h->sockpath, sizeof(sun.sun_path) - 1);
	/* A unix socket connects at once or not at all (EAGAIN: backlog full). */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errlen, "cannot connect to %s: %s", h->sockpath, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* --- life of an exfer ------------------------------------------------ */

static void xfer_free(struct exfer *x)
{
	struct ehttp *h = x->h;

	TAILQ_REMOVE(&h->xfers, x, entry);
	h->active--;
	if (x->io != NULL)
		event_free(x->io);
	if (x->timer != NULL)
		event_free(x->timer);
	if (x->fd != -1)
		close(x->fd);
	free(x->req);
	buf_free(&x->body);
	free(x);
}

void ehttp_cancel(struct exfer *x)
{
	if (x->in_cb) {
		x->dead = 1; /* freed when the callback returns */
		return;
	}
	xfer_free(x);
}

/* Report the end (err NULL: a response) and free. */
static void xfer_finish(struct exfer *x, const char *err)
{
	if (err == NULL && x->resp.state == HR_DONE && x->resp.keep_alive && x->fd != -1 &&
	    x->gen == x->h->gen) {
		event_del(x->io);
		idle_put(x->h, x->fd);
		x->fd = -1;
	}
	x->in_cb++;
	x->on_done(x, err, x->resp.status, x->body.data ? x->body.data : "", x->body.len, x->arg);
	x->in_cb--;
	xfer_free(x);
}

/* Stop watching the connection and close it (never back to the pool). */
static void xfer_drop_conn(struct exfer *x)
{
	if (x->io != NULL)
		event_del(x->io);
	if (x->fd != -1)
		close(x->fd);
	x->fd = -1;
}

static void xfer_fail(struct exfer *x, const char *what, const char *detail)
{
	char err[320];

	snprintf(err, sizeof(err), "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
	xfer_drop_conn(x);
	xfer_finish(x, err);
}

/* Failures found inside ehttp_start are reported from the loop. */
static void xfer_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct exfer *x = arg;

	(void)fd;
	(void)what;
	if (x->err[0] != '\0')
		xfer_fail(x, x->err, NULL);
	else
		xfer_fail(x, "operation timed out: the engine did not answer in time", NULL);
}

/* --- the response ---------------------------------------------------- */

/* Body bytes: to the stream callback (2xx), else kept. -1 when the exfer
 * is finished (cancelled by its callback, or failed). */
static int body_bytes(const char *data, size_t n, void *arg)
{
	struct exfer *x = arg;

	if (n == 0)
		return 0;
	if (x->on_data != NULL && x->resp.status >= 200 && x->resp.status < 300) {
		x->in_cb++;
		x->on_data(x, data, n, x->arg);
		x->in_cb--;
		if (x->dead) { /* cancelled by its own callback */
			xfer_free(x);
			return -1;
		}
		return 0;
	}
	if (buf_append(&x->body, data, n, BODY_MAX) == -1) {
		xfer_fail(x, "response body too large", NULL);
		return -1;
	}
	return 0;
}

/* A kept-alive connection the engine closed before answering: sending the
 * request again is safe if the engine cannot have acted on it. */
static int retry_ok(const struct exfer *x)
{
	return x->reused && !x->got_bytes && (x->idempotent || x->req_off < x->req_len);
}

static int retry_on_fresh(struct exfer *x)
{
	char err[256];

	xfer_drop_conn(x);
	event_free(x->io);
	x->io = NULL;
	x->reused = 0;
	if ((x->fd = sock_connect(x->h, err, sizeof(err))) == -1) {
		xfer_fail(x, err, NULL);
		return -1;
	}
	x->req_off = 0;
	if ((x->io = event_new(x->h->base, x->fd, EV_WRITE | EV_PERSIST, xfer_on_io, x)) == NULL ||
	    event_add(x->io, NULL) == -1) {
		xfer_fail(x, "out of memory", NULL);
		return -1;
	}
	return 0;
}

static void xfer_on_io(evutil_socket_t fd, short what, void *arg)
{
	struct exfer *x = arg;
	char buf[65536];
	const char *err = NULL;
	size_t used;
	ssize_t n;

	if (what & EV_WRITE) {
		n = send(fd, x->req + x->req_off, x->req_len - x->req_off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			if (x->reused && errno == EPIPE)
				retry_on_fresh(x); /* the engine closed it while idle */
			else
				xfer_fail(x, "cannot send to the engine", strerror(errno));
			return;
		}
		x->req_off += (size_t)n;
		if (x->req_off == x->req_len) {
			event_del(x->io);
			event_assign(x->io, x->h->base, fd, EV_READ | EV_PERSIST, xfer_on_io, x);
			event_add(x->io, NULL);
		}
		return;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		if (retry_ok(x) && errno == ECONNRESET)
			retry_on_fresh(x);
		else
			xfer_fail(x, "cannot read from the engine", strerror(errno));
		return;
	}
	if (n == 0) {
		if (hresp_eof(&x->resp) == HRESP_DONE) {
			xfer_finish(x, NULL);
		} else if (retry_ok(x)) {
			retry_on_fresh(x); /* closed while idle: nothing was done */
		} else {
			xfer_fail(x,
				  x->got_bytes
					  ? "the engine closed the connection mid-response"
					  : "the engine closed the connection without an answer",
				  NULL);
		}
		return;
	}
	x->got_bytes = 1;
	switch (hresp_feed(&x->resp, buf, (size_t)n, &used, body_bytes, x, &err)) {
	case HRESP_ERROR:
		xfer_fail(x, err, NULL);
		break;
	case HRESP_DONE:
		xfer_finish(x, NULL);
		break;
	default: /* more to come, or finished by body_bytes */
		break;
	}
}

/* --- requests -------------------------------------------------------- */

static char *build_request(struct ehttp *h, const struct exfer_req *r, size_t *len)
{
	char *text = NULL;
	size_t blen = r->body ? strlen(r->body) : 0;
	FILE *f = open_memstream(&text, len);

	if (f == NULL)
		return NULL;
	fprintf(f, "%s ", r->method);
	if (r->versioned && h->version[0] != '\0')
		fprintf(f, "/v%s", h->version);
	fprintf(f, "%s HTTP/1.1\r\nHost: docker\r\nUser-Agent: agentd-enginectl\r\n", r->path);
	if (r->body != NULL)
		fprintf(f, "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
	else if (strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0)
		fputs("Content-Length: 0\r\n", f);
	if (r->registry_auth != NULL)
		fprintf(f, "X-Registry-Auth: %s\r\n", r->registry_auth);
	fputs("\r\n", f);
	if (blen > 0)
		fwrite(r->body, 1, blen, f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

struct exfer *ehttp_start(struct ehttp *h, const struct exfer_req *req)
{
	struct exfer *x = calloc(1, sizeof(*x));
	struct timeval now = {0, 0};

	if (x == NULL)
		return NULL;
	x->h = h;
	x->fd = -1;
	x->on_data = req->on_data;
	x->on_done = req->on_done;
	x->arg = req->arg;
	x->resp.head = strcmp(req->method, "HEAD") == 0;
	x->idempotent = x->resp.head || strcmp(req->method, "GET") == 0;
	if ((x->req = build_request(h, req, &x->req_len)) == NULL ||
	    (x->timer = evtimer_new(h->base, xfer_on_timer, x)) == NULL) {
		free(x->req);
		free(x);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&h->xfers, x, entry);
	h->active++;
	x->gen = h->gen;
	if ((x->fd = idle_take(h)) != -1)
		x->reused = 1;
	else
		x->fd = sock_connect(h, x->err, sizeof(x->err));
	if (x->fd != -1 &&
	    ((x->io = event_new(h->base, x->fd, EV_WRITE | EV_PERSIST, xfer_on_io, x)) == NULL ||
	     event_add(x->io, NULL) == -1))
		snprintf(x->err, sizeof(x->err), "out of memory");
	if (x->err[0] != '\0') { /* reported from the loop, as curl would */
		evtimer_add(x->timer, &now);
	} else if (req->timeout_ms > 0) {
		struct timeval tv = {req->timeout_ms / 1000, (req->timeout_ms % 1000) * 1000};

		evtimer_add(x->timer, &tv);
	}
	return x;
}

/* --- the client ------------------------------------------------------ */

struct ehttp *ehttp_new(struct event_base *base, const char *sockpath)
{
	struct ehttp *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->base = base;
	snprintf(h->sockpath, sizeof(h->sockpath), "%s", sockpath);
	TAILQ_INIT(&h->xfers);
	return h;
}

void ehttp_free(struct ehttp *h)
{
	struct exfer *x;

	if (h == NULL)
		return;
	while ((x = TAILQ_FIRST(&h->xfers)) != NULL)
		xfer_free(x);
	while (h->nidle > 0)
		close(h->idle[--h->nidle]);
	free(h);
}

void ehttp_forget_connections(struct ehttp *h)
{
	while (h->nidle > 0)
		close(h->idle[--h->nidle]);
	h->gen++;
}

int ehttp_probe(struct ehttp *h)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), rc = 0;

	if (fd == -1)
		return 0; /* says nothing about the engine */
	memcpy(sun.sun_path, h->sockpath, sizeof(sun.sun_path) - 1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 &&
	    (errno == ECONNREFUSED || errno == ENOENT))
		rc = -1;
	close(fd);
	return rc;
}

void ehttp_set_version(struct ehttp *h, const char *version)
{
	snprintf(h->version, sizeof(h->version), "%s", version);
}

const char *ehttp_version(const struct ehttp *h)
{
	return h->version;
}

int ehttp_active(const struct ehttp *h)
{
	return h->active;
}
