/*
 * apid.h - the local-API daemon: HTTP on port 48484 (libevent evhttp).
 * It parses, routes and authenticates; everything else it asks agentd.
 */
#ifndef AGENTD_APID_H
#define AGENTD_APID_H

#include <event2/http.h>

#include "child.h"

struct apid {
	struct child *child;
	struct evhttp *http; /* owned */
	int healthy;         /* last MSG_HEALTH from agentd */
	char *unhealthy_why; /* owned, may be NULL */
};

typedef void (*route_fn)(struct apid *a, struct evhttp_request *req);

struct route {
	enum evhttp_cmd_type method;
	const char *path;
	int auth; /* needs an API key (when auth is on) */
	route_fn fn;
};

/* routes.c */
/// Route one request through the table: 404 for unknown paths, 405 for a
/// known path with the wrong method.
void routes_dispatch(struct apid *a, struct evhttp_request *req);
/// Send `body` as text/plain with `status`.
void reply_text(struct evhttp_request *req, int status, const char *body);

/* api_health.c */
void api_ping(struct apid *a, struct evhttp_request *req);
void api_healthy(struct apid *a, struct evhttp_request *req);

/* sandbox.c */
extern const struct sandbox_policy apid_policy;

#endif
