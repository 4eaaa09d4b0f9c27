/*
 * http.c - libcurl multi over libevent, for the engine socket (see http.h).
 * The shape follows curl's hiperfifo example: CURLMOPT_SOCKETFUNCTION maps
 * curl's wishes onto one persistent event per socket, CURLMOPT_TIMERFUNCTION
 * arms one timer, and finished transfers are collected after every action.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <curl/curl.h>

#include "http.h"
#include "log.h"

#define BODY_MAX (64u * 1024 * 1024) /* largest non-streamed body kept */

struct http {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	char sockpath[108];
	char version[16];
	TAILQ_HEAD(, xfer) xfers;
	int active;
};

struct xfer {
	TAILQ_ENTRY(xfer) entry;
	struct http *h;
	CURL *easy;
	struct curl_slist *headers;
	char *req_body; /* owned copy */
	char *body;     /* owned: collected response */
	size_t len, cap;
	int truncated;
	char errbuf[CURL_ERROR_SIZE];
	xfer_data_cb on_data;
	xfer_done_cb on_done;
	void *arg;
};

struct sockev {
	struct event *ev;
	curl_socket_t fd;
};

static void http_check_done(struct http *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		struct xfer *x = NULL;
		long status = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		if (msg->data.result != CURLE_OK) {
			const char *err =
				x->errbuf[0] ? x->errbuf : curl_easy_strerror(msg->data.result);

			x->on_done(x, err, status, x->body, x->len, x->arg);
		} else {
			x->on_done(x, NULL, status, x->body ? x->body : "", x->len, x->arg);
		}
		http_cancel(x);
	}
}

static void http_on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	int running, flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(h->multi, fd, flags, &running);
	http_check_done(h);
}

static void http_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	int running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	http_check_done(h);
}

/* curl tells us which events a socket needs. */
static int http_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct http *h = userp;
	struct sockev *s = socketp;
	short kind;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			event_free(s->ev);
			free(s);
			curl_multi_assign(h->multi, fd, NULL);
		}
		return 0;
	}
	kind = (short)(EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
		       ((what & CURL_POLL_OUT) ? EV_WRITE : 0));
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return -1;
		s->fd = fd;
		if ((s->ev = event_new(h->base, fd, kind, http_on_socket, h)) == NULL) {
			free(s);
			return -1;
		}
		curl_multi_assign(h->multi, fd, s);
	} else {
		/* Same socket, other interest: re-arm the event we have. */
		event_del(s->ev);
		event_assign(s->ev, h->base, fd, kind, http_on_socket, h);
	}
	event_add(s->ev, NULL);
	return 0;
}

/* curl asks for one timer; no libcurl calls from here (curl's rule). */
static int http_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http *h = userp;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(h->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(h->timer, &tv);
	return 0;
}

static int xfer_keep(struct xfer *x, const char *data, size_t n)
{
	if (x->len + n > BODY_MAX) {
		x->truncated = 1;
		return -1;
	}
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *nb;

		while (cap < x->len + n + 1)
			cap *= 2;
		if ((nb = realloc(x->body, cap)) == NULL)
			return -1;
		x->body = nb;
		x->cap = cap;
	}
	memcpy(x->body + x->len, data, n);
	x->len += n;
	x->body[x->len] = '\0';
	return 0;
}

static size_t http_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	size_t n = size * nmemb;
	long status = 0;

	if (x->on_data != NULL) {
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300) {
			x->on_data(x, data, n, x->arg);
			return n;
		}
	}
	/* A short count makes curl abort the transfer (body too large). */
	return xfer_keep(x, data, n) == 0 ? n : 0;
}

struct http *http_new(struct event_base *base, const char *sockpath)
{
	struct http *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->base = base;
	snprintf(h->sockpath, sizeof(h->sockpath), "%s", sockpath);
	TAILQ_INIT(&h->xfers);
	h->multi = curl_multi_init();
	h->timer = evtimer_new(base, http_on_timer, h);
	if (h->multi == NULL || h->timer == NULL) {
		http_free(h);
		return NULL;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return h;
}

void http_free(struct http *h)
{
	struct xfer *x;

	if (h == NULL)
		return;
	while ((x = TAILQ_FIRST(&h->xfers)) != NULL)
		http_cancel(x);
	if (h->multi)
		curl_multi_cleanup(h->multi);
	if (h->timer)
		event_free(h->timer);
	free(h);
}

void http_set_version(struct http *h, const char *version)
{
	snprintf(h->version, sizeof(h->version), "%s", version);
}

const char *http_version(const struct http *h)
{
	return h->version;
}

int http_active(const struct http *h)
{
	return h->active;
}

struct xfer *http_start(struct http *h, const struct xfer_req *req)
{
	char url[4096], hdr[8192];
	struct xfer *x;
	int n;

	if (req->versioned && h->version[0] != '\0')
		n = snprintf(url, sizeof(url), "http://localhost/v%s%s", h->version, req->path);
	else
		n = snprintf(url, sizeof(url), "http://localhost%s", req->path);
	if (n < 0 || (size_t)n >= sizeof(url))
		return NULL;
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	x->h = h;
	x->on_data = req->on_data;
	x->on_done = req->on_done;
	x->arg = req->arg;
	if ((x->easy = curl_easy_init()) == NULL) {
		free(x);
		return NULL;
	}
	curl_easy_setopt(x->easy, CURLOPT_UNIX_SOCKET_PATH, h->sockpath);
	curl_easy_setopt(x->easy, CURLOPT_URL, url);
	curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	/* Accept any encoding curl can decode; the engine rarely compresses. */
	curl_easy_setopt(x->easy, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	if (req->timeout_ms > 0)
		curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	x->headers = curl_slist_append(NULL, "Expect:");
	if (req->body != NULL) {
		if ((x->req_body = strdup(req->body)) == NULL)
			goto fail;
		x->headers = curl_slist_append(x->headers, "Content-Type: application/json");
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->req_body);
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(x->req_body));
	} else if (strcmp(req->method, "POST") == 0) {
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, 0L);
	}
	if (req->registry_auth != NULL) {
		snprintf(hdr, sizeof(hdr), "X-Registry-Auth: %s", req->registry_auth);
		x->headers = curl_slist_append(x->headers, hdr);
	}
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	if (curl_multi_add_handle(h->multi, x->easy) != CURLM_OK)
		goto fail;
	TAILQ_INSERT_TAIL(&h->xfers, x, entry);
	h->active++;
	return x;
fail:
	curl_slist_free_all(x->headers);
	curl_easy_cleanup(x->easy);
	free(x->req_body);
	free(x);
	return NULL;
}

void http_cancel(struct xfer *x)
{
	struct http *h = x->h;

	curl_multi_remove_handle(h->multi, x->easy);
	curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	TAILQ_REMOVE(&h->xfers, x, entry);
	h->active--;
	free(x->req_body);
	free(x->body);
	free(x);
}
