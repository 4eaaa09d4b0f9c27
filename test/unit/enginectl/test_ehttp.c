/*
 * test_ehttp.c - enginectl's HTTP client against a scripted server on a
 * unix socket in the same event loop: bodies by Content-Length, chunked
 * and until the close, responses split into 1-byte writes, kept-alive
 * connections reused, streaming, errors, timeouts and cancels from inside
 * a callback.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "testutil.h"

#include "ehttp.h"

/* --- a scripted server ------------------------------------------------- */

struct server {
	struct event_base *base;
	int lfd;
	struct event *accept_ev;
	const char *responses[8]; /* one per request, in order; NULL: say nothing */
	int close_after[8];       /* close the connection after that response */
	int nreq, naccept;
	char last_request[4096];
	struct conn *open[16]; /* connections not closed yet */
};

struct conn {
	struct server *s;
	int fd;
	struct event *ev, *wev;
	char in[8192];
	size_t inlen;
	const char *out; /* the response being written, a byte per loop turn */
	int close_when_sent;
};

static void conn_close(struct conn *c)
{
	int i;

	for (i = 0; i < 16; i++)
		if (c->s->open[i] == c)
			c->s->open[i] = NULL;
	event_free(c->ev);
	event_free(c->wev);
	close(c->fd);
	free(c);
}

/* One byte per turn of the loop, so the client sees every split. */
static void conn_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)what;
	if (c->out != NULL && *c->out != '\0') {
		assert_int_equal(write(fd, c->out, 1), 1);
		c->out++;
		return;
	}
	event_del(c->wev);
	c->out = NULL;
	if (c->close_when_sent)
		conn_close(c);
}

static void conn_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct server *s = c->s;
	ssize_t n = read(fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen);
	char *end;
	long clen;
	const char *cl;

	(void)what;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->inlen += (size_t)n;
	c->in[c->inlen] = '\0';
	while ((end = strstr(c->in, "\r\n\r\n")) != NULL) {
		size_t head = (size_t)(end - c->in) + 4, total;
		int i = s->nreq;

		cl = strcasestr(c->in, "Content-Length: ");
		clen = cl && cl < end ? strtol(cl + 16, NULL, 10) : 0;
		total = head + (size_t)clen;
		if (c->inlen < total)
			return;
		snprintf(s->last_request, sizeof(s->last_request), "%.*s", (int)total, c->in);
		memmove(c->in, c->in + total, c->inlen - total + 1);
		c->inlen -= total;
		s->nreq++;
		c->out = i < 8 ? s->responses[i] : NULL;
		c->close_when_sent = i < 8 && s->close_after[i];
		if (c->out != NULL || c->close_when_sent)
			event_add(c->wev, NULL);
	}
}

static void server_on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct server *s = arg;
	struct conn *c = calloc(1, sizeof(*c));

	(void)what;
	assert_non_null(c);
	c->s = s;
	c->fd = accept(lfd, NULL, NULL);
	assert_true(c->fd >= 0);
	s->naccept++;
	c->ev = event_new(s->base, c->fd, EV_READ | EV_PERSIST, conn_on_read, c);
	c->wev = event_new(s->base, c->fd, EV_WRITE | EV_PERSIST, conn_on_write, c);
	event_add(c->ev, NULL);
	for (int i = 0; i < 16; i++)
		if (s->open[i] == NULL) {
			s->open[i] = c;
			break;
		}
}

static char *dir;
static char sockpath[100];
static struct server srv;
static struct ehttp *client;

static int setup(void **state)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	(void)state;
	memset(&srv, 0, sizeof(srv));
	test_fixture(&dir, sockpath, sizeof(sockpath), "engine.sock");
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sockpath);
	srv.base = event_base_new();
	srv.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(srv.lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(srv.lfd, 16), 0);
	srv.accept_ev = event_new(srv.base, srv.lfd, EV_READ | EV_PERSIST, server_on_accept, &srv);
	event_add(srv.accept_ev, NULL);
	client = ehttp_new(srv.base, sockpath);
	ehttp_set_version(client, "1.41");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ehttp_free(client);
	for (int i = 0; i < 16; i++)
		if (srv.open[i] != NULL)
			conn_close(srv.open[i]);
	event_free(srv.accept_ev);
	close(srv.lfd);
	event_base_free(srv.base);
	test_fixture_free(&dir);
	return 0;
}

/* --- the client's side ------------------------------------------------- */

struct result {
	int done;
	char err[320];
	long status;
	char body[4096];
	char streamed[4096];
	int cancel_in_data; /* cancel from the first data callback */
	struct exfer *x;
};

static void on_data(struct exfer *x, const char *data, size_t len, void *arg)
{
	struct result *r = arg;

	strncat(r->streamed, data,
		len < sizeof(r->streamed) - strlen(r->streamed) - 1
			? len
			: sizeof(r->streamed) - strlen(r->streamed) - 1);
	if (r->cancel_in_data) {
		ehttp_cancel(x);
		r->done = 2;
		event_base_loopbreak(srv.base);
	}
}

static void on_done(struct exfer *x, const char *err, long status, const char *body, size_t len,
		    void *arg)
{
	struct result *r = arg;

	(void)x;
	r->done = 1;
	snprintf(r->err, sizeof(r->err), "%s", err ? err : "");
	r->status = status;
	snprintf(r->body, sizeof(r->body), "%.*s", (int)len, body);
	event_base_loopbreak(srv.base);
}

static void run(const char *method, const char *path, const char *body, long timeout_ms, int stream,
		struct result *r)
{
	struct exfer_req req = {method,  path, body, NULL, timeout_ms, 1, stream ? on_data : NULL,
				on_done, r};
	struct timeval guard = {5, 0};

	r->x = ehttp_start(client, &req);
	assert_non_null(r->x);
	event_base_loopexit(srv.base, &guard);
	while (!r->done && event_base_dispatch(srv.base) == 0 && !event_base_got_exit(srv.base))
		;
	if (!r->done)
		fail_msg("no answer within 5 s");
}

static void content_length_body_and_the_request_line(void **state)
{
	struct result r = {0};

	(void)state;
	srv.responses[0] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			   "Content-Length: 11\r\n\r\n{\"Id\":\"ab\"}";
	run("POST", "/containers/create?name=x", "{\"Image\":\"a\"}", 1000, 0, &r);
	assert_string_equal(r.err, "");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"Id\":\"ab\"}");
	assert_non_null(
		strstr(srv.last_request, "POST /v1.41/containers/create?name=x HTTP/1.1\r\n"));
	assert_non_null(strstr(srv.last_request, "Content-Length: 13\r\n"));
	assert_non_null(strstr(srv.last_request, "\r\n\r\n{\"Image\":\"a\"}"));
}

static void kept_alive_connection_is_reused(void **state)
{
	struct result a = {0}, b = {0}, c = {0};

	(void)state;
	srv.responses[0] = "HTTP/1.1 204 No Content\r\n\r\n";
	srv.responses[1] = "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope";
	srv.responses[2] = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
	srv.close_after[2] = 1;
	run("DELETE", "/containers/a", NULL, 1000, 0, &a);
	run("GET", "/containers/b/json", NULL, 1000, 0, &b);
	run("GET", "/containers/c/json", NULL, 1000, 0, &c);
	assert_int_equal(a.status, 204);
	assert_int_equal(b.status, 404);
	assert_string_equal(b.body, "nope");
	assert_string_equal(c.body, "ok");
	assert_int_equal(srv.naccept, 1);
}

static void chunked_stream_goes_to_the_data_callback(void **state)
{
	struct result r = {0};

	(void)state;
	srv.responses[0] =
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"6\r\n{\"a\":1\r\n3;ext=1\r\n}\n{\r\n5\r\n\"b\":2\r\n2\r\n}\n\r\n0\r\n\r\n";
	run("GET", "/events", NULL, 0, 1, &r);
	assert_string_equal(r.err, "");
	assert_string_equal(r.streamed, "{\"a\":1}\n{\"b\":2}\n");
	assert_string_equal(r.body, ""); /* streamed, not kept */
}

static void error_status_of_a_stream_is_collected(void **state)
{
	struct result r = {0};

	(void)state;
	srv.responses[0] = "HTTP/1.1 404 Not Found\r\nContent-Length: 21\r\n\r\n"
			   "{\"message\":\"no such\"}";
	run("POST", "/images/create?fromImage=x", NULL, 0, 1, &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "{\"message\":\"no such\"}");
	assert_string_equal(r.streamed, "");
}

static void body_without_length_ends_with_the_connection(void **state)
{
	struct result a = {0}, b = {0};

	(void)state;
	srv.responses[0] = "HTTP/1.0 200 OK\r\n\r\nall of it";
	srv.close_after[0] = 1;
	srv.responses[1] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
			   "Content-Length: 0\r\n\r\n";
	run("GET", "/version", NULL, 1000, 0, &a);
	assert_string_equal(a.err, "");
	assert_string_equal(a.body, "all of it");
	run("GET", "/_ping", NULL, 1000, 0, &b); /* a new connection: the old one closed */
	assert_int_equal(b.status, 200);
	assert_int_equal(srv.naccept, 2);
}

static void transport_errors_are_reported_later_not_from_start(void **state)
{
	struct result a = {0}, b = {0}, c = {0};

	(void)state;
	srv.responses[0] = "garbage\r\n";
	run("GET", "/x", NULL, 1000, 0, &a);
	assert_non_null(strstr(a.err, "not HTTP"));
	srv.responses[1] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
	srv.close_after[1] = 1;
	run("GET", "/y", NULL, 1000, 0, &b);
	assert_non_null(strstr(b.err, "mid-response"));
	/* nothing listens: the done callback still comes from the loop */
	close(srv.lfd);
	unlink(sockpath);
	srv.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	run("GET", "/z", NULL, 1000, 0, &c);
	assert_non_null(strstr(c.err, "cannot connect to"));
}

static void silent_engine_times_out(void **state)
{
	struct result r = {0};

	(void)state;
	srv.responses[0] = NULL; /* reads the request, never answers */
	run("GET", "/containers/json", NULL, 100, 0, &r);
	assert_non_null(strstr(r.err, "timed out"));
}

static void cancel_from_inside_a_data_callback(void **state)
{
	struct result r = {0};

	(void)state;
	srv.responses[0] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			   "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n";
	r.cancel_in_data = 1;
	run("GET", "/containers/a/logs?follow=1", NULL, 0, 1, &r);
	assert_int_equal(r.done, 2); /* no done callback after the cancel */
	/* the callback saw the first bytes; nothing after the cancel */
	assert_true(strlen(r.streamed) >= 1 && strncmp(r.streamed, "abc", strlen(r.streamed)) == 0);
	assert_int_equal(ehttp_active(client), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(content_length_body_and_the_request_line),
		T(kept_alive_connection_is_reused),
		T(chunked_stream_goes_to_the_data_callback),
		T(error_status_of_a_stream_is_collected),
		T(body_without_length_ends_with_the_connection),
		T(transport_errors_are_reported_later_not_from_start),
		T(silent_engine_times_out),
		T(cancel_from_inside_a_data_callback),
	};

	return cmocka_run_group_tests_name("ehttp", tests, NULL, NULL);
}
