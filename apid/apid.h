/*
 * apid.h - the local-API daemon: HTTP on port 48484 (libevent evhttp).
 * It parses, routes and authenticates; everything else it asks agentd
 * (MSG_API_CALL), and it answers with what agentd replies.
 */
#ifndef AGENTD_APID_H
#define AGENTD_APID_H

#include <sys/queue.h>

#include <event2/http.h>

#include "child.h"

struct pending;
struct log_client;
struct conn;

typedef void (*conn_close_cb)(struct evhttp_connection *evcon, void *arg);

struct apid {
	struct child *child;
	struct evhttp *http;                  /* owned */
	int healthy;                          /* last MSG_HEALTH from agentd */
	char *unhealthy_why;                  /* owned, may be NULL */
	int auth_enabled;                     /* from MSG_API_AUTH */
	json_t *keys;                         /* owned: [{key, scopes}] */
	TAILQ_HEAD(, pending) pending;        /* requests waiting for agentd (owned) */
	TAILQ_HEAD(, log_client) log_clients; /* /v2/local/logs streams (owned) */
	TAILQ_HEAD(, conn) conns;             /* open connections (owned) */
	unsigned nconns, max_conns;           /* beyond max_conns: 503 */
	int conns_warned;
};

typedef void (*route_fn)(struct apid *a, struct evhttp_request *req);

struct route {
	enum evhttp_cmd_type method;
	const char *path; /* segments starting with ':' match anything and are passed on */
	int auth;         /* needs an API key (when auth is on) */
	route_fn fn;      /* answered here, or NULL: forwarded to agentd as `call` */
	const char *call;
};

/* routes.c */
/// The route for a method and path, filling params with the path's values;
/// NULL when none (then *path_known says whether another method would do).
const struct route *routes_find(enum evhttp_cmd_type method, const char *path, json_t *params,
				int *path_known);
/// Route one request through the table: 404 for unknown paths, 405 for a
/// known path with the wrong method, 401 without a valid key.
void routes_dispatch(struct apid *a, struct evhttp_request *req);

/* reply.c */
/// Send `body` as text/plain with `status`.
void reply_text(struct evhttp_request *req, int status, const char *body);
/// Send `body` (borrowed) as JSON with `status`.
void reply_json(struct evhttp_request *req, int status, json_t *body);
/// A request whose client hung up before it was answered: libevent hands an
/// unfinished request (a stream, or one waiting for agentd) back to its user
/// to free. Call from the connection's close callback; it frees `req` only
/// when libevent let it go.
void request_forget(struct evhttp_request *req);

/* forward.c */
/// Ask agentd to answer `req` for `route`; params are the path's values.
void forward_call(struct apid *a, struct evhttp_request *req, const char *call, json_t *params,
		  json_t *scope, const char *key);
/// Drop requests still waiting (shutdown).
void forward_free_all(struct apid *a);

/* auth.c */
/// The key of an "Authorization: Bearer|ApiKey <key>" header value; -1 if none.
int auth_header_key(const char *header, char *out, size_t len);
/// The scopes of the key the request carries, or NULL when it has no valid
/// one; the key itself goes into key[].
json_t *auth_check(struct apid *a, struct evhttp_request *req, char *key, size_t keylen);
/// Take a new key list from agentd (MSG_API_AUTH body).
int auth_update(struct apid *a, json_t *body);

/* conns.c */
/// Count connections from now on; those beyond max_conns are refused.
void conns_init(struct apid *a, unsigned max_conns);
/// Call cb when the client of evcon goes away (NULL: no longer).
void conns_set_closecb(struct apid *a, struct evhttp_connection *evcon, conn_close_cb cb,
		       void *arg);
/// Whether evcon was accepted beyond the cap (answer 503 and close).
int conns_refused(struct apid *a, struct evhttp_connection *evcon);
void conns_free_all(struct apid *a);

/* api_logs.c */
void api_local_logs(struct apid *a, struct evhttp_request *req);
/// Send one device log line (MSG_LOG body) to every stream.
void logs_broadcast(struct apid *a, json_t *line);
void logs_free_all(struct apid *a);

/* api_health.c */
void api_ping(struct apid *a, struct evhttp_request *req);
void api_healthy(struct apid *a, struct evhttp_request *req);
void api_version(struct apid *a, struct evhttp_request *req);

/* sandbox.c */
extern const struct sandbox_policy apid_policy;

#endif
