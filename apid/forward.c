/*
 * apid/forward.c - requests apid cannot answer itself go to agentd as
 * MSG_API_CALL {route, params, query, body, scope}; the reply
 * {status, json | text} becomes the HTTP answer. A client that hangs up
 * meanwhile is forgotten: its reply is dropped when it comes.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <unistd.h>
#include <event2/keyvalq_struct.h>

#include "apid.h"
#include "log.h"

struct pending {
	TAILQ_ENTRY(pending) entry;
	struct apid *a;
	struct evhttp_request *req; /* NULL once the client is gone */
	struct evhttp_connection *conn;
};

static void pending_drop(struct pending *p)
{
	if (p->conn != NULL)
		conns_set_closecb(p->a, p->conn, NULL, NULL);
	TAILQ_REMOVE(&p->a->pending, p, entry);
	free(p);
}

static void forward_on_close(struct evhttp_connection *conn, void *arg)
{
	struct pending *p = arg;

	(void)conn;
	request_forget(p->req); /* never answered: the request is ours */
	p->req = NULL;
	p->conn = NULL;
}

/* A reply that is a stream (journal-logs): relay the descriptor's bytes. */
struct relay {
	struct apid *a;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	struct bufferevent *be;
	int stream_id;
};

static void relay_stop_done(struct chan *ch, const struct frame_hdr *hdr, json_t *body, void *arg)
{
	(void)ch;
	(void)hdr;
	(void)body;
	(void)arg;
}

static void relay_free(struct relay *r, int client_gone)
{
	if (client_gone) {
		/* agentd stops the process feeding us */
		json_t *m = json_pack("{s:s, s:{}, s:{}, s:{s:i}}", "route", "journal-logs.stop",
				      "params", "query", "body", "stream_id", r->stream_id);

		chan_request(child_chan(r->a->child), MSG_API_CALL, m, relay_stop_done, NULL);
		json_decref(m);
	} else if (r->conn != NULL) {
		conns_set_closecb(r->a, r->conn, NULL, NULL);
	}
	bufferevent_free(r->be);
	free(r);
}

static void relay_on_read(struct bufferevent *be, void *arg)
{
	struct relay *r = arg;

	evhttp_send_reply_chunk(r->req, bufferevent_get_input(be));
}

static void relay_on_event(struct bufferevent *be, short what, void *arg)
{
	struct relay *r = arg;

	(void)what;
	relay_on_read(be, r);
	evhttp_send_reply_end(r->req);
	relay_free(r, 0);
}

static void relay_on_close(struct evhttp_connection *conn, void *arg)
{
	struct relay *r = arg;

	(void)conn;
	request_forget(r->req); /* the stream never ended: the request is ours */
	relay_free(r, 1);
}

static void relay_start(struct apid *a, struct evhttp_request *req, int fd, int stream_id)
{
	struct relay *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->be = bufferevent_socket_new(child_base(a->child), fd,
							 BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		free(r);
		reply_text(req, 503, "Service Unavailable");
		return;
	}
	r->a = a;
	r->req = req;
	r->conn = evhttp_request_get_connection(req);
	r->stream_id = stream_id;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; charset=utf-8");
	evhttp_send_reply_start(req, 200, "OK");
	conns_set_closecb(r->a, r->conn, relay_on_close, r);
	bufferevent_setcb(r->be, relay_on_read, NULL, relay_on_event, r);
	bufferevent_enable(r->be, EV_READ);
}

static void forward_on_reply(struct chan *ch, const struct frame_hdr *hdr, json_t *body, void *arg)
{
	struct pending *p = arg;
	json_t *j;
	const char *text;
	json_int_t status = 500;

	(void)ch;
	if (p->req == NULL) {
		pending_drop(p);
		return;
	}
	if (hdr != NULL && hdr->type == MSG_API_REPLY &&
	    json_is_true(json_object_get(body, "stream"))) {
		int fd = chan_take_reply_fd(ch);

		if (fd < 0) {
			reply_text(p->req, 503, "Service Unavailable");
		} else {
			struct evhttp_request *req = p->req;
			struct apid *a = p->a;
			int id = (int)json_integer_value(json_object_get(body, "stream_id"));

			pending_drop(p); /* the relay watches the connection from now on */
			relay_start(a, req, fd, id);
			return;
		}
		pending_drop(p);
		return;
	}
	if (hdr == NULL || hdr->type != MSG_API_REPLY ||
	    json_unpack(body, "{s:I}", "status", &status) == -1 || status < 100 || status > 599) {
		json_t *m = json_pack("{s:s, s:s}", "status", "failed", "message",
				      hdr && hdr->type == MSG_ERROR
					      ? json_string_value(json_object_get(body, "error"))
					      : "agentd did not answer");

		reply_json(p->req, 503, m);
		json_decref(m);
	} else if (status == 204 || (json_is_null(json_object_get(body, "json")) &&
				     json_object_get(body, "text") == NULL)) {
		evhttp_send_reply(p->req, (int)status, NULL, NULL); /* no body */
	} else if ((text = json_string_value(json_object_get(body, "text"))) != NULL) {
		reply_text(p->req, (int)status, text);
	} else if ((j = json_object_get(body, "json")) != NULL) {
		reply_json(p->req, (int)status, j);
	} else {
		evhttp_send_reply(p->req, (int)status, NULL, NULL);
	}
	pending_drop(p);
}

/* ?a=1&b=2 -> {"a": "1", "b": "2"} */
static json_t *query_object(const char *q)
{
	struct evkeyvalq kv;
	struct evkeyval *e;
	json_t *o = json_object();

	if (q == NULL || evhttp_parse_query_str(q, &kv) == -1)
		return o;
	TAILQ_FOREACH(e, &kv, next)
		json_object_set_new(o, e->key, json_string(e->value));
	evhttp_clear_headers(&kv);
	return o;
}

/* What agentd takes in an api-call (the catalogue's limits) leaves room for
 * the envelope: the route, its parameters, the query and the key's scope. */
#define QUERY_MAX_PARAMS 1000
#define BODY_MAX_DEPTH   (msg_catalogue[MSG_API_CALL].max_depth - 1)
#define BODY_MAX_ITEMS   (msg_catalogue[MSG_API_CALL].max_items - QUERY_MAX_PARAMS - 1000)

static void reply_bad_request(struct evhttp_request *req, const char *msg)
{
	json_t *m = json_pack("{s:s, s:s}", "status", "failed", "message", msg);

	reply_json(req, 400, m);
	json_decref(m);
}

/* The request body: JSON, a form, or nothing. -1 (answered 400) if malformed,
 * or if it nests deeper or holds more values than agentd takes. */
static int request_body(struct evhttp_request *req, json_t **out)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *type =
		evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	size_t len = evbuffer_get_length(in);
	json_error_t jerr;
	char *text, msg[300];

	*out = json_null();
	if (len == 0)
		return 0;
	text = (char *)evbuffer_pullup(in, -1);
	if (type != NULL && strncmp(type, "application/x-www-form-urlencoded", 33) == 0) {
		char *q = strndup(text, len);

		*out = query_object(q);
		free(q);
		if (json_object_size(*out) > QUERY_MAX_PARAMS) {
			json_decref(*out);
			*out = NULL;
			snprintf(msg, sizeof(msg), "Request body has more than %d form fields",
				 QUERY_MAX_PARAMS);
			reply_bad_request(req, msg);
			return -1;
		}
		return 0;
	}
	{
		char why[128];

		if (json_text_within(text, len, BODY_MAX_DEPTH, BODY_MAX_ITEMS, why, sizeof(why)) ==
		    -1) {
			snprintf(msg, sizeof(msg), "Request body is too complex: %s", why);
			reply_bad_request(req, msg);
			return -1;
		}
	}
	if ((*out = json_loadb(text, len, JSON_DECODE_ANY, &jerr)) == NULL) {
		snprintf(msg, sizeof(msg), "Malformed JSON: %s (line %d, column %d)", jerr.text,
			 jerr.line, jerr.column);
		reply_bad_request(req, msg);
		return -1;
	}
	return 0;
}

void forward_call(struct apid *a, struct evhttp_request *req, const char *call, json_t *params,
		  json_t *scope, const char *key)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct pending *p;
	json_t *body, *msg;

	json_t *query;

	if (request_body(req, &body) == -1)
		return;
	query = query_object(uri ? evhttp_uri_get_query(uri) : NULL);
	if (json_object_size(query) > QUERY_MAX_PARAMS) {
		char why[96];

		snprintf(why, sizeof(why), "More than %d query parameters", QUERY_MAX_PARAMS);
		json_decref(query);
		json_decref(body);
		reply_bad_request(req, why);
		return;
	}
	json_object_del(query, "_key");
	if (key != NULL) /* the calling key: /v1/regenerate-api-key replaces it */
		json_object_set_new(query, "_key", json_string(key));
	msg = json_pack("{s:s, s:O, s:o, s:o, s:O?}", "route", call, "params", params, "query",
			query, "body", body, "scope", scope);
	if (msg == NULL || (p = calloc(1, sizeof(*p))) == NULL) {
		json_decref(msg);
		reply_text(req, 500, "Internal Server Error");
		return;
	}
	p->a = a;
	p->req = req;
	p->conn = evhttp_request_get_connection(req);
	TAILQ_INSERT_TAIL(&a->pending, p, entry);
	if (p->conn != NULL)
		conns_set_closecb(p->a, p->conn, forward_on_close, p);
	if (chan_request(child_chan(a->child), MSG_API_CALL, msg, forward_on_reply, p) == -1) {
		reply_text(req, 503, "agentd unavailable");
		pending_drop(p);
	}
	json_decref(msg);
}

void forward_free_all(struct apid *a)
{
	struct pending *p;

	while ((p = TAILQ_FIRST(&a->pending)) != NULL)
		pending_drop(p);
}
