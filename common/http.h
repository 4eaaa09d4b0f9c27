/*
 * http.h - asynchronous HTTP(S) requests: libcurl's multi interface driven
 * by the libevent loop (one event per socket, one timer), for cloudsyncd over
 * TLS to the cloud (enginectl has its own plain client: enginectl/ehttp.c). Many
 * requests run at once; a streaming request (no timeout) hands its body
 * over as it arrives instead of collecting it.
 */
#ifndef AGENTD_ENGINECTL_HTTP_H
#define AGENTD_ENGINECTL_HTTP_H

#include <stddef.h>

#include <event2/event.h>

struct http;
struct xfer;

/// Body bytes of a streaming request with a 2xx status, as they arrive.
typedef void (*xfer_data_cb)(struct xfer *x, const char *data, size_t len, void *arg);
/// The request ended. `err` is NULL when an HTTP response was received
/// (whatever its status), else a transport error ("Couldn't connect ...").
/// `body` holds the whole body for non-streaming requests and for error
/// statuses of streaming ones. The xfer is freed after the call.
/// Upload data for a streaming request body: copy up to `max` bytes into
/// `buf` and return how many; return HTTP_READ_PAUSE when there is nothing
/// yet (then call http_resume() once there is), 0 to end the body.
typedef size_t (*xfer_read_cb)(struct xfer *x, char *buf, size_t max, void *arg);
#define HTTP_READ_PAUSE ((size_t)-1)

typedef void (*xfer_done_cb)(struct xfer *x, const char *err, long status, const char *body,
			     size_t len, void *arg);

struct xfer_req {
	const char *method;        /* "GET", "POST", "DELETE" */
	const char *path;          /* "/containers/json?all=1", without the API version */
	const char *body;          /* JSON, or NULL */
	const char *registry_auth; /* X-Registry-Auth value, or NULL */
	long timeout_ms;           /* 0: none (streams) */
	int versioned;             /* prefix the path with /v1.NN */
	xfer_data_cb on_data;      /* non-NULL: streaming */
	xfer_done_cb on_done;
	void *arg;
	const char *const *headers; /* more "Name: value" lines, NULL-terminated, or NULL */
	xfer_read_cb on_read;       /* non-NULL: the body is streamed (chunked) from here */
	int connect_only;           /* only connect (TCP, no proxy) to the "http://host:port/"
				       path, and close: on_done says whether it could */
};

/// Load libcurl and initialise it (TLS included); once, before any other
/// call and before the sandbox. -1 with the reason on failure.
int http_global_init(char *err, size_t errlen);
void http_global_cleanup(void);
/// Call after http_global_init(). `sockpath` is a unix socket every request
/// goes through (the engine's), or NULL for ordinary TCP/TLS.
struct http *http_new(struct event_base *base, const char *sockpath);
/// Trust these PEM certificates (in addition to none: the blob replaces the
/// system bundle). The blob is copied; load it before the sandbox.
int http_set_ca(struct http *h, const char *pem, size_t len);
/// The User-Agent of every request.
void http_set_user_agent(struct http *h, const char *ua);
/// A response header of the request whose done callback is running, or NULL.
const char *xfer_header(struct xfer *x, const char *name);
void http_free(struct http *h); /* cancels every request, no callbacks */
/// Set the API version prefix, e.g. "1.41".
void http_set_version(struct http *h, const char *version);
const char *http_version(const struct http *h);

/// Start a request. NULL if it cannot even be queued.
struct xfer *http_start(struct http *h, const struct xfer_req *req);
/// More upload data is ready for a request whose on_read paused.
void http_resume(struct xfer *x);
/// Abort a request without calling its done callback.
void http_cancel(struct xfer *x);
/// Requests in flight.
int http_active(const struct http *h);

#endif
