/*
 * apid/reply.c - how apid answers a request itself: a whole body as
 * text/plain or JSON, with the status line's reason phrase. Used by the
 * dispatcher (routes.c), the handlers (api_*.c) and forward.c.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "apid.h"

static const char *status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 423:
		return "Locked";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "";
	}
}

static void reply_buf(struct evhttp_request *req, int status, const char *type, const char *body,
		      size_t len)
{
	struct evbuffer *buf = evbuffer_new();

	if (buf == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	evbuffer_add(buf, body, len);
	evhttp_send_reply(req, status, status_text(status), buf);
	evbuffer_free(buf);
}

void reply_text(struct evhttp_request *req, int status, const char *body)
{
	reply_buf(req, status, "text/plain; charset=utf-8", body, strlen(body));
}

void request_forget(struct evhttp_request *req)
{
	if (req != NULL && evhttp_request_get_connection(req) == NULL)
		evhttp_request_free(req);
}

void reply_json(struct evhttp_request *req, int status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);

	if (text == NULL) {
		reply_text(req, 500, "Internal Server Error");
		return;
	}
	reply_buf(req, status, "application/json; charset=utf-8", text, strlen(text));
	free(text);
}
