/*
 * apid/routes.c - the one routing table of the local API and the dispatcher
 * that walks it. Handlers answered in apid live in api_*.c; every other
 * route is forwarded to agentd under the name in the table.
 */
#include <stdio.h>
#include <string.h>

#include <event2/keyvalq_struct.h>

#include "apid.h"
#include "log.h"

static const struct route routes[] = {
	{EVHTTP_REQ_GET, "/ping", 0, api_ping, NULL},
	{EVHTTP_REQ_GET, "/v1/healthy", 0, api_healthy, NULL},
	{EVHTTP_REQ_POST, "/v1/blink", 1, NULL, "v1.blink"},
	{EVHTTP_REQ_POST, "/v1/regenerate-api-key", 1, NULL, "v1.regenerate-api-key"},
	{EVHTTP_REQ_POST, "/v1/update", 1, NULL, "v1.update"},
	{EVHTTP_REQ_POST, "/v1/reboot", 1, NULL, "v1.reboot"},
	{EVHTTP_REQ_POST, "/v1/shutdown", 1, NULL, "v1.shutdown"},
	{EVHTTP_REQ_POST, "/v1/restart", 1, NULL, "app.restart"},
	{EVHTTP_REQ_POST, "/v1/purge", 1, NULL, "app.purge"},
	{EVHTTP_REQ_POST, "/v1/apps/:appId/stop", 1, NULL, "v1.apps.stop"},
	{EVHTTP_REQ_POST, "/v1/apps/:appId/start", 1, NULL, "v1.apps.start"},
	{EVHTTP_REQ_GET, "/v1/apps/:appId", 1, NULL, "v1.apps.get"},
	{EVHTTP_REQ_GET, "/v1/device", 1, NULL, "device.v1"},
	{EVHTTP_REQ_GET, "/v1/device/host-config", 1, NULL, "device.host-config.get"},
	{EVHTTP_REQ_PATCH, "/v1/device/host-config", 1, NULL, "device.host-config.patch"},
	{EVHTTP_REQ_GET, "/v2/applications/state", 1, NULL, "applications.state"},
	{EVHTTP_REQ_GET, "/v2/applications/:appId/state", 1, NULL, "app.state"},
	{EVHTTP_REQ_POST, "/v2/applications/:appId/restart-service", 1, NULL,
	 "app.restart-service"},
	{EVHTTP_REQ_POST, "/v2/applications/:appId/stop-service", 1, NULL, "app.stop-service"},
	{EVHTTP_REQ_POST, "/v2/applications/:appId/start-service", 1, NULL, "app.start-service"},
	{EVHTTP_REQ_POST, "/v2/applications/:appId/restart", 1, NULL, "app.restart"},
	{EVHTTP_REQ_POST, "/v2/applications/:appId/purge", 1, NULL, "app.purge"},
	{EVHTTP_REQ_GET, "/v2/local/target-state", 1, NULL, "local.target.get"},
	{EVHTTP_REQ_POST, "/v2/local/target-state", 1, NULL, "local.target.set"},
	{EVHTTP_REQ_GET, "/v2/local/device-info", 1, NULL, "local.device-info"},
	{EVHTTP_REQ_GET, "/v2/local/logs", 1, api_local_logs, NULL},
	{EVHTTP_REQ_GET, "/v2/version", 1, api_version, NULL},
	{EVHTTP_REQ_GET, "/v2/containerId", 1, NULL, "containerId"},
	{EVHTTP_REQ_GET, "/v2/state/status", 1, NULL, "state.status"},
	{EVHTTP_REQ_GET, "/v2/device/name", 1, NULL, "device.name"},
	{EVHTTP_REQ_GET, "/v2/device/tags", 1, NULL, "device.tags"},
	{EVHTTP_REQ_PATCH, "/v2/device/tags", 1, NULL, "device.tags.patch"},
	{EVHTTP_REQ_GET, "/v2/device/vpn", 1, NULL, "device.vpn"},
	{EVHTTP_REQ_GET, "/v2/cleanup-volumes", 1, NULL, "cleanup-volumes"},
	{EVHTTP_REQ_POST, "/v2/cleanup-volumes", 1, NULL, "cleanup-volumes"},
	{EVHTTP_REQ_POST, "/v2/journal-logs", 1, NULL, "journal-logs"},
	{EVHTTP_REQ_GET, "/metrics", 1, NULL, "metrics"},
};

/* Match path segments; ":name" segments go into params as strings. */
static int route_match(const char *pattern, const char *path, json_t *params)
{
	char name[64];

	while (*pattern == '/' && *path == '/') {
		const char *pe = strchr(pattern + 1, '/'), *se = strchr(path + 1, '/');
		size_t pl = pe ? (size_t)(pe - pattern - 1) : strlen(pattern + 1);
		size_t sl = se ? (size_t)(se - path - 1) : strlen(path + 1);

		if (pattern[1] == ':') {
			if (sl == 0)
				return 0;
			if (params != NULL) {
				snprintf(name, sizeof(name), "%.*s", (int)pl - 1, pattern + 2);
				json_object_set_new(params, name, json_stringn(path + 1, sl));
			}
		} else if (pl != sl || strncmp(pattern + 1, path + 1, pl) != 0) {
			return 0;
		}
		pattern += pl + 1;
		path += sl + 1;
	}
	return *pattern == '\0' && (*path == '\0' || (path[0] == '/' && path[1] == '\0'));
}

static const char *method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	default:
		return "";
	}
}

/* The methods a path accepts, for a 405's Allow header. */
static const char *route_allow(const char *path, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (route_match(routes[i].path, path, NULL) && off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s%s", off ? ", " : "",
						method_name(routes[i].method),
						routes[i].method == EVHTTP_REQ_GET ? ", HEAD" : "");
	return buf;
}

const struct route *routes_find(enum evhttp_cmd_type method, const char *path, json_t *params,
				int *path_known)
{
	size_t i;

	*path_known = 0;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *r = &routes[i];

		if (!route_match(r->path, path, NULL))
			continue;
		*path_known = 1;
		if (r->method != method &&
		    !(method == EVHTTP_REQ_HEAD && r->method == EVHTTP_REQ_GET))
			continue;
		if (params != NULL)
			route_match(r->path, path, params);
		return r;
	}
	return NULL;
}

void routes_dispatch(struct apid *a, struct evhttp_request *req)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	const struct route *r;
	json_t *scope = NULL, *params;
	char key[256] = "", allow[64];
	int path_known;

	if (conns_refused(a, evhttp_request_get_connection(req))) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		reply_text(req, 503, "Too many connections");
		return;
	}
	if (path == NULL || path[0] == '\0')
		path = "/";
	params = json_object();
	if ((r = routes_find(method, path, params, &path_known)) == NULL) {
		json_decref(params);
		if (path_known) {
			evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
					  route_allow(path, allow, sizeof(allow)));
			reply_text(req, 405, "Method Not Allowed");
		} else {
			reply_text(req, 404, "Not Found");
		}
		return;
	}
	if (r->auth && a->auth_enabled && (scope = auth_check(a, req, key, sizeof(key))) == NULL)
		reply_text(req, 401, "Unauthorized");
	else if (r->fn != NULL)
		r->fn(a, req);
	else
		forward_call(a, req, r->call, params, scope, key[0] ? key : NULL);
	json_decref(scope);
	json_decref(params);
}
