/*
 * cloudsyncd/connectivity.c - the connectivity check (facts §3.7): every
 * 10 s a TCP connection to the API endpoint's host and port (443 for https,
 * 80 for http, unless the URL names one) is made and closed at once, and
 * agentd hears when the answer changes (MSG_CLOUD_CONNECTIVITY). While the
 * check is off (SUPERVISOR_CONNECTIVITY_CHECK false, or the VPN up, which
 * agentd watches) the cloud counts as reachable, as the balena supervisor
 * counts it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cloudsyncd.h"
#include "log.h"

#define CHECK_EVERY_MS 10000
#define CHECK_TIMEOUT  5000

int cloud_connect_url(const char *endpoint, char *out, size_t len)
{
	const char *p = endpoint, *host, *end;
	int port;
	size_t hl;

	if (endpoint == NULL)
		return -1;
	if (strncasecmp(p, "https://", 8) == 0) {
		port = 443;
		p += 8;
	} else if (strncasecmp(p, "http://", 7) == 0) {
		port = 80;
		p += 7;
	} else {
		return -1;
	}
	if ((end = strchr(p, '@')) != NULL && end < p + strcspn(p, "/?#"))
		p = end + 1; /* user:password@ */
	host = p;
	if (*p == '[') { /* an IPv6 address */
		if ((end = strchr(p, ']')) == NULL)
			return -1;
		end++;
	} else {
		end = p + strcspn(p, ":/?#");
	}
	hl = (size_t)(end - host);
	if (hl == 0)
		return -1;
	if (*end == ':') {
		char *stop;
		long n = strtol(end + 1, &stop, 10);

		if (stop == end + 1 || n < 1 || n > 65535 ||
		    (*stop != '\0' && !strchr("/?#", *stop)))
			return -1;
		port = (int)n;
	} else if (*end != '\0' && !strchr("/?#", *end)) {
		return -1;
	}
	if ((size_t)snprintf(out, len, "http://%.*s:%d/", (int)hl, host, port) >= len)
		return -1;
	return 0;
}

static void connectivity_report(struct cloud *c, int connected)
{
	json_t *m;

	if (c->connected == connected)
		return;
	c->connected = connected;
	m = json_pack("{s:b}", "connected", connected);
	chan_send_json(c->ch, MSG_CLOUD_CONNECTIVITY, 0, 0, m);
	json_decref(m);
}

static void connectivity_done(struct xfer *x, const char *err, long status, const char *body,
			      size_t len, void *arg)
{
	struct cloud *c = arg;

	(void)x;
	(void)status;
	(void)body;
	(void)len;
	c->check_xfer = NULL;
	if (err != NULL)
		log_debug("connectivity check: %s", err);
	/* a check turned off meanwhile counts as reachable */
	connectivity_report(c, !c->check_on || err == NULL);
	cloud_after_ms(c->ev_check, CHECK_EVERY_MS);
}

static void connectivity_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct cloud *c = arg;
	struct xfer_req req;

	(void)fd;
	(void)what;
	if (!c->check_on || c->check_url[0] == '\0') {
		connectivity_report(c, 1);
		return; /* until it is turned on again */
	}
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.path = c->check_url;
	req.timeout_ms = CHECK_TIMEOUT;
	req.connect_only = 1;
	req.on_done = connectivity_done;
	req.arg = c;
	if ((c->check_xfer = http_start(c->http, &req)) == NULL) {
		log_warnx("connectivity check: cannot start");
		cloud_after_ms(c->ev_check, CHECK_EVERY_MS);
	}
}

void cloud_connectivity_setup(struct cloud *c, struct event_base *base, int on)
{
	c->connected = -1;
	c->check_on = on;
	if (cloud_connect_url(c->endpoint, c->check_url, sizeof(c->check_url)) == -1) {
		log_warnx("connectivity check: cannot tell host and port of %s", c->endpoint);
		c->check_url[0] = '\0';
	}
	c->ev_check = evtimer_new(base, connectivity_on_timer, c);
	cloud_after_ms(c->ev_check, 0);
}

void cloud_connectivity_set(struct cloud *c, int on)
{
	if (c->check_on == on)
		return;
	c->check_on = on;
	log_debug("connectivity check %s", on ? "on" : "off");
	if (c->check_xfer == NULL)
		cloud_after_ms(c->ev_check, 0);
}

void cloud_connectivity_teardown(struct cloud *c)
{
	if (c->ev_check != NULL)
		event_free(c->ev_check);
	c->ev_check = NULL;
	/* a check in flight goes with http_free() */
}
