/*
 * ehttp.h - enginectl's HTTP/1.1 client for the engine's unix socket, on
 * the libevent loop: many requests at once, kept-alive connections reused,
 * streaming bodies (events, logs, pull progress) handed over as they come.
 * The engine API needs no TLS, no redirects and no proxies, so this is all
 * of HTTP that enginectl needs, without libcurl's memory and per-call cost.
 */
#ifndef AGENTD_ENGINECTL_EHTTP_H
#define AGENTD_ENGINECTL_EHTTP_H

#include <stddef.h>

#include <event2/event.h>

struct ehttp;
struct exfer;

/// Body bytes of a streaming request with a 2xx status, as they arrive.
typedef void (*exfer_data_cb)(struct exfer *x, const char *data, size_t len, void *arg);
/// The request ended. `err` is NULL when an HTTP response was received
/// (whatever its status), else a transport error ("cannot connect to ...").
/// `body` holds the whole body for non-streaming requests and for error
/// statuses of streaming ones. The exfer is freed after the call.
typedef void (*exfer_done_cb)(struct exfer *x, const char *err, long status, const char *body,
			      size_t len, void *arg);

struct exfer_req {
	const char *method;        /* "GET", "POST", "DELETE" */
	const char *path;          /* "/containers/json?all=1", without the API version */
	const char *body;          /* JSON, or NULL */
	const char *registry_auth; /* X-Registry-Auth value, or NULL */
	long timeout_ms;           /* 0: none (streams) */
	int versioned;             /* prefix the path with /v1.NN */
	exfer_data_cb on_data;     /* non-NULL: streaming */
	exfer_done_cb on_done;
	void *arg;
};

/// A client for the engine socket at `sockpath` (connected per request).
struct ehttp *ehttp_new(struct event_base *base, const char *sockpath);
/// Cancel every request (no callbacks) and close every connection.
void ehttp_free(struct ehttp *h);
/// Set the API version prefix, e.g. "1.41".
void ehttp_set_version(struct ehttp *h, const char *version);
/// Close the kept-alive connections, and keep none of those in use now when
/// their requests end (the engine is going away: a server that shuts down
/// gracefully serves requests on open connections until they are gone).
void ehttp_forget_connections(struct ehttp *h);
/// Whether a new connection to the engine's socket is accepted now: -1 if it
/// is refused or the socket is gone (the engine is stopping or stopped).
int ehttp_probe(struct ehttp *h);
const char *ehttp_version(const struct ehttp *h);
/// Start a request; its done callback runs later, never from in here.
/// NULL if it cannot even be queued.
struct exfer *ehttp_start(struct ehttp *h, const struct exfer_req *req);
/// Abort a request without calling its done callback.
void ehttp_cancel(struct exfer *x);
/// Requests in flight.
int ehttp_active(const struct ehttp *h);

#endif
