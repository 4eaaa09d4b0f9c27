/*
 * apid/conns.c - counts the API's open connections so that at most
 * api_max_connections are served at once; a connection beyond the cap gets
 * 503 with "Connection: close" on its first request and a short timeout if
 * it sends none.
 *
 * libevent 2.1's evhttp has no hook for a new connection, only one to make
 * its bufferevent (evhttp_set_bevcb), called while the connection is being
 * accepted. We make the bufferevent there, hold a reference to it, and on
 * the next loop turn (before any byte of the connection is read) find the
 * evhttp_connection through the callbacks evhttp has set on it. Its close
 * callback is then ours; the log stream and the forwarder that want to
 * hear about a close register through conns_set_closecb() and are called
 * from it.
 */
#include <stdlib.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "apid.h"
#include "log.h"

/* How long a connection beyond the cap may take to send its request. */
#define CONNS_REFUSE_TIMEOUT_S 2

struct conn {
	TAILQ_ENTRY(conn) entry;
	struct apid *a;
	struct bufferevent *bev;         /* our reference until attached */
	struct event *attach;            /* one-shot, next loop turn; NULL once done */
	struct evhttp_connection *evcon; /* NULL until attached */
	int refused;                     /* accepted beyond the cap */
	conn_close_cb closecb;           /* the user of the connection, may be NULL */
	void *closearg;
};

static void conn_free(struct conn *c)
{
	struct apid *a = c->a;

	TAILQ_REMOVE(&a->conns, c, entry);
	a->nconns--;
	if (c->attach != NULL)
		event_free(c->attach);
	free(c);
}

static void conn_on_close(struct evhttp_connection *evcon, void *arg)
{
	struct conn *c = arg;
	conn_close_cb cb = c->closecb;
	void *cbarg = c->closearg;

	conn_free(c);
	if (cb != NULL)
		cb(evcon, cbarg);
}

static void conn_attach(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct bufferevent *bev = c->bev;
	bufferevent_event_cb eventcb = NULL;
	void *cbarg = NULL;

	(void)fd;
	(void)what;
	event_free(c->attach);
	c->attach = NULL;
	c->bev = NULL;
	/* bufferevent_free() clears the callbacks: none means evhttp has
	 * already given the connection up (it failed while accepting). */
	bufferevent_getcb(bev, NULL, NULL, &eventcb, &cbarg);
	if (eventcb == NULL || cbarg == NULL) {
		/* evhttp closed the fd itself: ours must not close it again */
		bufferevent_setfd(bev, -1);
		conn_free(c);
	} else {
		c->evcon = cbarg;
		evhttp_connection_set_closecb(c->evcon, conn_on_close, c);
		if (c->refused) {
			struct timeval tv = {CONNS_REFUSE_TIMEOUT_S, 0};

			evhttp_connection_set_timeout_tv(c->evcon, &tv);
		}
	}
	bufferevent_decref(bev);
}

static struct bufferevent *conn_new(struct event_base *base, void *arg)
{
	struct apid *a = arg;
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	struct conn *c;

	if (bev == NULL)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->attach = event_new(base, -1, 0, conn_attach, c)) == NULL) {
		/* not counted; evhttp serves it anyway */
		free(c);
		return bev;
	}
	c->a = a;
	c->bev = bev;
	bufferevent_incref(bev);
	TAILQ_INSERT_TAIL(&a->conns, c, entry);
	if (++a->nconns > a->max_conns) {
		c->refused = 1;
		if (!a->conns_warned)
			log_warnx("more than %u API connections: answering 503 to new ones",
				  a->max_conns);
		a->conns_warned = 1;
	} else if (a->nconns * 4 < a->max_conns * 3) {
		a->conns_warned = 0; /* warn again once it gets busy again */
	}
	event_active(c->attach, EV_TIMEOUT, 0);
	return bev;
}

void conns_init(struct apid *a, unsigned max_conns)
{
	TAILQ_INIT(&a->conns);
	a->max_conns = max_conns;
	evhttp_set_bevcb(a->http, conn_new, a);
}

static struct conn *conn_find(struct apid *a, struct evhttp_connection *evcon)
{
	struct conn *c;

	TAILQ_FOREACH(c, &a->conns, entry)
		if (c->evcon == evcon)
			return c;
	return NULL;
}

void conns_set_closecb(struct apid *a, struct evhttp_connection *evcon, conn_close_cb cb, void *arg)
{
	struct conn *c;

	if (evcon == NULL)
		return;
	if ((c = conn_find(a, evcon)) == NULL) { /* not counted: talk to evhttp */
		evhttp_connection_set_closecb(evcon, cb, arg);
		return;
	}
	c->closecb = cb;
	c->closearg = arg;
}

int conns_refused(struct apid *a, struct evhttp_connection *evcon)
{
	struct conn *c = evcon ? conn_find(a, evcon) : NULL;

	return c != NULL && c->refused;
}

void conns_free_all(struct apid *a)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&a->conns)) != NULL) {
		if (c->evcon != NULL)
			evhttp_connection_set_closecb(c->evcon, NULL, NULL);
		if (c->bev != NULL)
			bufferevent_decref(c->bev);
		conn_free(c);
	}
}
