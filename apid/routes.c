/*
 * apid/routes.c - the one routing table of the local API and the dispatcher
 * that walks it. Each resource's handlers live in their own api_*.c file.
 */
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "apid.h"

static const struct route routes[] = {
	{EVHTTP_REQ_GET, "/ping", 0, api_ping},
	{EVHTTP_REQ_GET, "/v1/healthy", 0, api_healthy},
};

static const char *status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "";
	}
}

void reply_text(struct evhttp_request *req, int status, const char *body)
{
	struct evbuffer *buf = evbuffer_new();

	if (buf == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; charset=utf-8");
	evbuffer_add(buf, body, strlen(body));
	evhttp_send_reply(req, status, status_text(status), buf);
	evbuffer_free(buf);
}

void routes_dispatch(struct apid *a, struct evhttp_request *req)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	int path_known = 0;
	size_t i;

	if (path == NULL || path[0] == '\0')
		path = "/";
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(routes[i].path, path) != 0)
			continue;
		path_known = 1;
		if (routes[i].method == method ||
		    (method == EVHTTP_REQ_HEAD && routes[i].method == EVHTTP_REQ_GET)) {
			routes[i].fn(a, req);
			return;
		}
	}
	if (path_known) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
		reply_text(req, 405, "Method Not Allowed");
	} else {
		reply_text(req, 404, "Not Found");
	}
}
