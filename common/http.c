/*
 * http.c - libcurl multi over libevent (see http.h). libcurl, with the TLS
 * and other libraries it pulls in, is loaded by http_global_init(), so a
 * process that never needs HTTPS (cloudsyncd on an unmanaged device) never
 * maps it.
 * The shape follows curl's hiperfifo example: CURLMOPT_SOCKETFUNCTION maps
 * curl's wishes onto one persistent event per socket, CURLMOPT_TIMERFUNCTION
 * arms one timer, and finished transfers are collected after every action.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <curl/curl.h>

#include "buf.h"
#include "http.h"
#include "log.h"

#define BODY_MAX (64u * 1024 * 1024) /* largest non-streamed body kept */

/* The libcurl calls made here, resolved by http_global_init(). */
static struct {
	void *lib;
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	CURLcode (*easy_pause)(CURL *, int);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} cu;

int http_global_init(char *err, size_t errlen)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
#define SYM(f) {"curl_" #f, offsetof(__typeof__(cu), f)}
		SYM(global_init),         SYM(global_cleanup),      SYM(multi_init),
		SYM(multi_setopt),        SYM(multi_cleanup),       SYM(multi_add_handle),
		SYM(multi_remove_handle), SYM(multi_socket_action), SYM(multi_info_read),
		SYM(multi_assign),        SYM(easy_init),           SYM(easy_setopt),
		SYM(easy_getinfo),        SYM(easy_cleanup),        SYM(easy_strerror),
		SYM(easy_pause),          SYM(slist_append),        SYM(slist_free_all),
#undef SYM
	};
	size_t i;
	void *f;

	if (cu.lib != NULL)
		return 0;
	if ((cu.lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errlen, "cannot load libcurl: %s", dlerror());
		return -1;
	}
	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		if ((f = dlsym(cu.lib, syms[i].name)) == NULL) {
			snprintf(err, errlen, "libcurl lacks %s", syms[i].name);
			dlclose(cu.lib);
			cu.lib = NULL;
			return -1;
		}
		memcpy((char *)&cu + syms[i].off, &f, sizeof(f));
	}
	if (cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "libcurl did not initialise");
		dlclose(cu.lib);
		cu.lib = NULL;
		return -1;
	}
	return 0;
}

void http_global_cleanup(void)
{
	if (cu.lib == NULL)
		return;
	cu.global_cleanup();
	/* not dlclose()d: OpenSSL registers exit handlers inside it */
}

struct http {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	char sockpath[108]; /* "" for TCP */
	char version[16];
	char *ca_pem; /* owned, or NULL */
	size_t ca_len;
	char user_agent[160];
	TAILQ_HEAD(, xfer) xfers;
	int active;
};

struct xfer {
	TAILQ_ENTRY(xfer) entry;
	struct http *h;
	CURL *easy;
	struct curl_slist *headers;
	char *req_body;  /* owned copy */
	struct buf body; /* owned: collected response */
	int truncated;
	char errbuf[CURL_ERROR_SIZE];
	char *hdrs; /* owned: response header lines, for xfer_header() */
	size_t hdrs_len;
	xfer_data_cb on_data;
	xfer_done_cb on_done;
	xfer_read_cb on_read;
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

	while ((msg = cu.multi_info_read(h->multi, &left)) != NULL) {
		struct xfer *x = NULL;
		long status = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		cu.easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		cu.easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		if (msg->data.result != CURLE_OK) {
			const char *err =
				x->errbuf[0] ? x->errbuf : cu.easy_strerror(msg->data.result);

			x->on_done(x, err, status, x->body.data ? x->body.data : "", x->body.len,
				   x->arg);
		} else {
			x->on_done(x, NULL, status, x->body.data ? x->body.data : "", x->body.len,
				   x->arg);
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
	cu.multi_socket_action(h->multi, fd, flags, &running);
	http_check_done(h);
}

static void http_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	int running;

	(void)fd;
	(void)what;
	cu.multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
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
			cu.multi_assign(h->multi, fd, NULL);
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
		cu.multi_assign(h->multi, fd, s);
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

static size_t http_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	size_t n = size * nmemb;
	long status = 0;

	if (x->on_data != NULL) {
		cu.easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300) {
			x->on_data(x, data, n, x->arg);
			return n;
		}
	}
	/* A short count makes curl abort the transfer (body too large). */
	if (buf_append(&x->body, data, n, BODY_MAX) == -1) {
		x->truncated = 1;
		return 0;
	}
	return n;
}

/* Keep response headers (bounded) for xfer_header(). */
static size_t http_header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	size_t n = size * nmemb;
	char *nb;

	if (x->hdrs_len + n > 16384)
		return n;
	if (n >= 5 && !strncmp(data, "HTTP/", 5))
		x->hdrs_len = 0; /* a new response (after a 100 or a redirect) */
	if ((nb = realloc(x->hdrs, x->hdrs_len + n + 1)) == NULL)
		return n;
	x->hdrs = nb;
	memcpy(x->hdrs + x->hdrs_len, data, n);
	x->hdrs_len += n;
	x->hdrs[x->hdrs_len] = '\0';
	return n;
}

static size_t http_read_cb(char *buf, size_t size, size_t nitems, void *userp)
{
	struct xfer *x = userp;
	size_t n = x->on_read(x, buf, size * nitems, x->arg);

	return n == HTTP_READ_PAUSE ? CURL_READFUNC_PAUSE : n;
}

void http_resume(struct xfer *x)
{
	cu.easy_pause(x->easy, CURLPAUSE_CONT);
}

const char *xfer_header(struct xfer *x, const char *name)
{
	static char value[512];
	size_t nl = strlen(name);
	const char *p = x->hdrs;

	while (p != NULL && *p) {
		const char *eol = strchr(p, '\n');

		if (!strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1;
			size_t len;

			while (*v == ' ')
				v++;
			len = eol ? (size_t)(eol - v) : strlen(v);
			while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == ' '))
				len--;
			snprintf(value, sizeof(value), "%.*s", (int)len, v);
			return value;
		}
		p = eol ? eol + 1 : NULL;
	}
	return NULL;
}

int http_set_ca(struct http *h, const char *pem, size_t len)
{
	free(h->ca_pem);
	if ((h->ca_pem = malloc(len)) == NULL)
		return -1;
	memcpy(h->ca_pem, pem, len);
	h->ca_len = len;
	return 0;
}

void http_set_user_agent(struct http *h, const char *ua)
{
	snprintf(h->user_agent, sizeof(h->user_agent), "%s", ua);
}

struct http *http_new(struct event_base *base, const char *sockpath)
{
	struct http *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->base = base;
	snprintf(h->sockpath, sizeof(h->sockpath), "%s", sockpath ? sockpath : "");
	TAILQ_INIT(&h->xfers);
	h->multi = cu.multi_init();
	h->timer = evtimer_new(base, http_on_timer, h);
	if (h->multi == NULL || h->timer == NULL) {
		http_free(h);
		return NULL;
	}
	cu.multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	cu.multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	cu.multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
	cu.multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
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
		cu.multi_cleanup(h->multi);
	if (h->timer)
		event_free(h->timer);
	free(h->ca_pem);
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

	if (strncmp(req->path, "http", 4) == 0)
		n = snprintf(url, sizeof(url), "%s", req->path);
	else if (req->versioned && h->version[0] != '\0')
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
	x->on_read = req->on_read;
	x->arg = req->arg;
	if ((x->easy = cu.easy_init()) == NULL) {
		free(x);
		return NULL;
	}
	if (h->sockpath[0] != '\0')
		cu.easy_setopt(x->easy, CURLOPT_UNIX_SOCKET_PATH, h->sockpath);
	if (h->ca_pem != NULL) {
		struct curl_blob blob = {h->ca_pem, h->ca_len, CURL_BLOB_NOCOPY};

		cu.easy_setopt(x->easy, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (h->user_agent[0] != '\0')
		cu.easy_setopt(x->easy, CURLOPT_USERAGENT, h->user_agent);
	cu.easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, http_header_cb);
	cu.easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
	cu.easy_setopt(x->easy, CURLOPT_URL, url);
	cu.easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, req->method);
	cu.easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, http_write_cb);
	cu.easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	cu.easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	cu.easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	cu.easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	cu.easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	/* Accept any encoding curl can decode; the engine rarely compresses. */
	cu.easy_setopt(x->easy, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	if (req->timeout_ms > 0)
		cu.easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	if (req->connect_only) {
		cu.easy_setopt(x->easy, CURLOPT_CONNECT_ONLY, 1L);
		cu.easy_setopt(x->easy, CURLOPT_PROXY, ""); /* the host itself, as a TCP probe */
		if (req->timeout_ms > 0)
			cu.easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, req->timeout_ms);
	}
	x->headers = cu.slist_append(NULL, "Expect:");
	if (req->body != NULL) {
		if ((x->req_body = strdup(req->body)) == NULL)
			goto fail;
		x->headers = cu.slist_append(x->headers, "Content-Type: application/json");
		cu.easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->req_body);
		cu.easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(x->req_body));
	} else if (req->on_read != NULL) {
		cu.easy_setopt(x->easy, CURLOPT_UPLOAD, 1L);
		cu.easy_setopt(x->easy, CURLOPT_READFUNCTION, http_read_cb);
		cu.easy_setopt(x->easy, CURLOPT_READDATA, x);
		x->headers = cu.slist_append(x->headers, "Transfer-Encoding: chunked");
	} else if (strcmp(req->method, "POST") == 0) {
		cu.easy_setopt(x->easy, CURLOPT_POSTFIELDS, "");
		cu.easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, 0L);
	}
	if (req->registry_auth != NULL) {
		snprintf(hdr, sizeof(hdr), "X-Registry-Auth: %s", req->registry_auth);
		x->headers = cu.slist_append(x->headers, hdr);
	}
	for (n = 0; req->headers != NULL && req->headers[n] != NULL; n++)
		x->headers = cu.slist_append(x->headers, req->headers[n]);
	cu.easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	if (cu.multi_add_handle(h->multi, x->easy) != CURLM_OK)
		goto fail;
	TAILQ_INSERT_TAIL(&h->xfers, x, entry);
	h->active++;
	return x;
fail:
	cu.slist_free_all(x->headers);
	cu.easy_cleanup(x->easy);
	free(x->req_body);
	free(x);
	return NULL;
}

void http_cancel(struct xfer *x)
{
	struct http *h = x->h;

	cu.multi_remove_handle(h->multi, x->easy);
	cu.easy_cleanup(x->easy);
	cu.slist_free_all(x->headers);
	TAILQ_REMOVE(&h->xfers, x, entry);
	h->active--;
	free(x->req_body);
	buf_free(&x->body);
	free(x->hdrs);
	free(x);
}
