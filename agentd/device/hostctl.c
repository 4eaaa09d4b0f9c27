/*
 * hostctl.c - logind and systemd over the host's system D-Bus (see
 * hostctl.h).
 *
 * sd-bus does the protocol; this file drives it from libevent. After every
 * change, hostctl_arm() watches the bus's socket for the events
 * sd_bus_get_events() asks for and sets a timer to sd_bus_get_timeout()
 * (an absolute CLOCK_MONOTONIC time: the next call's deadline, or now when
 * messages wait in sd-bus's queue); when either fires, hostctl_run() calls
 * sd_bus_process() until it has nothing left to do.
 *
 * Each call is a request with its own slot (the pending reply). A request
 * ends in exactly one place, req_finish(), either from its reply or from its
 * `later` timer, which delivers an error found outside sd-bus (a bus that is
 * gone, a message that could not be sent) from the event loop.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <systemd/sd-bus.h>

#include "buf.h"
#include "hostctl.h"
#include "log.h"

#define LOGIND_NAME     "org.freedesktop.login1"
#define LOGIND_PATH     "/org/freedesktop/login1"
#define LOGIND_MANAGER  "org.freedesktop.login1.Manager"
#define SYSTEMD_NAME    "org.freedesktop.systemd1"
#define SYSTEMD_PATH    "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT    "org.freedesktop.systemd1.Unit"
#define PROPERTIES      "org.freedesktop.DBus.Properties"
#define VALUE_MAX       (64 * 1024) /* a property's text, at most */

enum req_step {
	REQ_PLAIN,    /* one call, no value: power, units */
	REQ_GET_UNIT, /* a property, first step: the unit's object path */
	REQ_GET_PROP, /* a property, second step: its value */
};

struct hostctl_req {
	TAILQ_ENTRY(hostctl_req) entry;
	struct hostctl *h;
	enum req_step step;
	char *property;      /* owned; REQ_GET_* only */
	sd_bus_slot *slot;   /* owned: the call in flight, else NULL */
	struct event *later; /* owned: delivers `err` from the loop */
	char err[256];
	hostctl_cb cb;
	void *arg;
};

struct hostctl {
	struct event_base *base; /* borrowed */
	sd_bus *bus;             /* owned */
	char *address;           /* owned, for messages */
	struct event *io;        /* owned: the bus's socket, when it asks for events */
	struct event *timer;     /* owned: sd-bus's next deadline */
	int fd;
	int dispatching; /* inside sd_bus_process(): freeing waits for it */
	int closing;     /* hostctl_close() ran: no new requests; freed after dispatching */
	int lost;        /* the bus is gone, `why` says how */
	char why[200];
	TAILQ_HEAD(, hostctl_req) reqs; /* owned: every request not yet answered */
};

static void hostctl_arm(struct hostctl *h);

static void req_free(struct hostctl_req *r)
{
	sd_bus_slot_unref(r->slot);
	if (r->later != NULL)
		event_free(r->later);
	free(r->property);
	free(r);
}

/* The one place a request ends: it leaves the list, its callback runs, it
 * is freed. `h` may be gone once this returns (the callback may close it). */
static void req_finish(struct hostctl_req *r, const char *err, const char *value)
{
	TAILQ_REMOVE(&r->h->reqs, r, entry);
	r->slot = sd_bus_slot_unref(r->slot);
	r->cb(err, value, r->arg);
	req_free(r);
}

static void req_later_fire(evutil_socket_t fd, short what, void *arg)
{
	struct hostctl_req *r = arg;

	(void)fd;
	(void)what;
	req_finish(r, r->err, NULL);
}

/* Fail a request from the event loop, not from here: its reply, if one was
 * awaited, is no longer wanted. */
static void req_fail_later(struct hostctl_req *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void req_fail_later(struct hostctl_req *r, const char *fmt, ...)
{
	struct timeval now = {0, 0};
	va_list ap;

	r->slot = sd_bus_slot_unref(r->slot);
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	evtimer_add(r->later, &now);
}

/* The bus is gone: say so once, fail what is in flight, close the socket
 * (after libevent has stopped watching it). */
static void hostctl_lost(struct hostctl *h, const char *why)
{
	struct hostctl_req *r;

	if (h->lost)
		return;
	h->lost = 1;
	snprintf(h->why, sizeof(h->why), "%s", why);
	log_warnx("hostctl: lost the host's D-Bus at %s (%s); host control calls fail from now on",
		  h->address, why);
	event_del(h->io);
	event_del(h->timer);
	TAILQ_FOREACH(r, &h->reqs, entry) {
		if (r->slot != NULL)
			req_fail_later(r, "lost the host's D-Bus (%s)", why);
	}
	sd_bus_close(h->bus);
}

static void hostctl_free(struct hostctl *h)
{
	if (h->io != NULL)
		event_free(h->io);
	if (h->timer != NULL)
		event_free(h->timer);
	sd_bus_close_unref(h->bus);
	free(h->address);
	free(h);
}

/* Let sd-bus do all it can now: read, write, dispatch replies, time out
 * calls. The replies' callbacks run from here. */
static void hostctl_run(struct hostctl *h)
{
	int r;

	h->dispatching = 1;
	for (;;) {
		r = sd_bus_process(h->bus, NULL);
		if (h->closing)
			break;
		if (r < 0) {
			hostctl_lost(h, strerror(-r));
			break;
		}
		if (!sd_bus_is_open(h->bus)) {
			hostctl_lost(h, "the connection was closed");
			break;
		}
		if (r == 0)
			break;
	}
	h->dispatching = 0;
	if (h->closing)
		hostctl_free(h);
	else
		hostctl_arm(h);
}

static void hostctl_on_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	hostctl_run(arg);
}

/* Watch what sd-bus waits for. Not during dispatching: hostctl_run() arms
 * once it is done. */
static void hostctl_arm(struct hostctl *h)
{
	struct timeval tv = {0, 0};
	struct timespec now;
	uint64_t until, nowus;
	short what = 0;
	int events;

	if (h->lost || h->dispatching)
		return;
	if (!sd_bus_is_open(h->bus)) {
		hostctl_lost(h, "the connection was closed");
		return;
	}
	if ((events = sd_bus_get_events(h->bus)) < 0) {
		hostctl_lost(h, strerror(-events));
		return;
	}
	if (events & POLLIN)
		what |= EV_READ;
	if (events & POLLOUT)
		what |= EV_WRITE;
	event_del(h->io);
	if (what != 0) {
		event_assign(h->io, h->base, h->fd, what, hostctl_on_event, h);
		event_add(h->io, NULL);
	}
	if (sd_bus_get_timeout(h->bus, &until) < 0 || until == UINT64_MAX) {
		event_del(h->timer);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	nowus = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
	if (until > nowus) {
		tv.tv_sec = (time_t)((until - nowus) / 1000000);
		tv.tv_usec = (suseconds_t)((until - nowus) % 1000000);
	}
	evtimer_add(h->timer, &tv);
}

struct hostctl *hostctl_open(struct event_base *base, const char *address, char *err, size_t errlen)
{
	struct hostctl *h = calloc(1, sizeof(*h));
	int r;

	if (h == NULL || (h->address = strdup(address)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(h);
		return NULL;
	}
	h->base = base;
	TAILQ_INIT(&h->reqs);
	if ((r = sd_bus_new(&h->bus)) < 0 || (r = sd_bus_set_description(h->bus, "hostctl")) < 0 ||
	    (r = sd_bus_set_address(h->bus, address)) < 0 ||
	    (r = sd_bus_set_bus_client(h->bus, 1)) < 0 || (r = sd_bus_start(h->bus)) < 0 ||
	    (r = h->fd = sd_bus_get_fd(h->bus)) < 0) {
		snprintf(err, errlen, "cannot connect to the host's D-Bus at %s: %s", address,
			 strerror(-r));
		sd_bus_close_unref(h->bus);
		free(h->address);
		free(h);
		return NULL;
	}
	h->io = event_new(base, h->fd, EV_READ, hostctl_on_event, h);
	h->timer = evtimer_new(base, hostctl_on_event, h);
	if (h->io == NULL || h->timer == NULL) {
		snprintf(err, errlen, "out of memory");
		hostctl_free(h);
		return NULL;
	}
	hostctl_arm(h);
	return h;
}

static struct hostctl_req *req_new(struct hostctl *h, enum req_step step, hostctl_cb cb, void *arg)
{
	struct hostctl_req *r;

	if (h == NULL || h->closing || cb == NULL || (r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if ((r->later = evtimer_new(h->base, req_later_fire, r)) == NULL) {
		free(r);
		return NULL;
	}
	r->h = h;
	r->step = step;
	r->cb = cb;
	r->arg = arg;
	TAILQ_INSERT_TAIL(&h->reqs, r, entry);
	return r;
}

static int hostctl_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

/* Send `m` (consumed) for request r. A failure other than memory ends the
 * request from the loop; -ENOMEM is returned for the caller to handle. */
static int req_send(struct hostctl_req *r, sd_bus_message *m)
{
	struct hostctl *h = r->h;
	int rc;

	rc = sd_bus_call_async(h->bus, &r->slot, m, hostctl_reply, r,
			       (uint64_t)HOSTCTL_TIMEOUT_SEC * 1000000);
	sd_bus_message_unref(m);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0)
		req_fail_later(r, "cannot send to the host's D-Bus: %s", strerror(-rc));
	return 0;
}

/* Build a method call from the request's arguments and send it; -ENOMEM
 * when it could not be built for memory, else 0 (the request is under way
 * or fails from the loop). */
static int req_call(struct hostctl_req *r, const char *dest, const char *path, const char *iface,
		    const char *member, const char *types, ...)
{
	struct hostctl *h = r->h;
	sd_bus_message *m = NULL;
	va_list ap;
	int rc;

	if (h->lost) {
		req_fail_later(r, "the host's D-Bus is gone (%s)", h->why);
		return 0;
	}
	rc = sd_bus_message_new_method_call(h->bus, &m, dest, path, iface, member);
	if (rc >= 0) {
		va_start(ap, types);
		rc = sd_bus_message_appendv(m, types, ap);
		va_end(ap);
	}
	if (rc < 0) {
		sd_bus_message_unref(m);
		if (rc == -ENOMEM)
			return rc;
		req_fail_later(r, "cannot call %s.%s: %s", iface, member, strerror(-rc));
		return 0;
	}
	return req_send(r, m);
}

/* Queue a new request's first call, or take it back if memory ran out. */
static int req_start(struct hostctl_req *r, int rc)
{
	struct hostctl *h = r->h;

	if (rc == -ENOMEM) {
		TAILQ_REMOVE(&h->reqs, r, entry);
		req_free(r);
		return -1;
	}
	hostctl_arm(h);
	return 0;
}

int hostctl_power(struct hostctl *h, int reboot, hostctl_cb cb, void *arg)
{
	struct hostctl_req *r;

	if ((r = req_new(h, REQ_PLAIN, cb, arg)) == NULL)
		return -1;
	log_debug("hostctl: %s", reboot ? "reboot" : "power off");
	return req_start(r, req_call(r, LOGIND_NAME, LOGIND_PATH, LOGIND_MANAGER,
				     reboot ? "Reboot" : "PowerOff", "b", 0));
}

int hostctl_unit(struct hostctl *h, const char *method, const char *unit, hostctl_cb cb, void *arg)
{
	struct hostctl_req *r;

	if (method == NULL || unit == NULL || *unit == '\0' ||
	    (strcmp(method, "StartUnit") != 0 && strcmp(method, "StopUnit") != 0 &&
	     strcmp(method, "RestartUnit") != 0))
		return -1;
	if ((r = req_new(h, REQ_PLAIN, cb, arg)) == NULL)
		return -1;
	log_debug("hostctl: %s %s", method, unit);
	return req_start(r, req_call(r, SYSTEMD_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER, method, "ss",
				     unit, "fail"));
}

int hostctl_unit_property(struct hostctl *h, const char *unit, const char *property, hostctl_cb cb,
			  void *arg)
{
	struct hostctl_req *r;
	char *prop;

	if (unit == NULL || *unit == '\0' || property == NULL || *property == '\0')
		return -1;
	if ((prop = strdup(property)) == NULL)
		return -1;
	if ((r = req_new(h, REQ_GET_UNIT, cb, arg)) == NULL) {
		free(prop);
		return -1;
	}
	r->property = prop;
	return req_start(
		r, req_call(r, SYSTEMD_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER, "GetUnit", "s", unit));
}

/* Read one basic value of D-Bus type `type` as text into *text (num is
 * its buffer for numbers): 1, 0 at the end of a container, or -errno. */
static int read_basic(sd_bus_message *m, char type, char num[32], const char **text)
{
	union {
		const char *s;
		int b;
		uint8_t y;
		int16_t n;
		uint16_t q;
		int32_t i;
		uint32_t u;
		int64_t x;
		uint64_t t;
		double d;
	} v;
	int rc;

	if ((rc = sd_bus_message_read_basic(m, type, &v)) <= 0)
		return rc;
	*text = num;
	switch (type) {
	case 's':
	case 'o':
	case 'g':
		*text = v.s;
		break;
	case 'b':
		*text = v.b ? "true" : "false";
		break;
	case 'y':
		snprintf(num, 32, "%u", (unsigned)v.y);
		break;
	case 'n':
		snprintf(num, 32, "%d", (int)v.n);
		break;
	case 'q':
		snprintf(num, 32, "%u", (unsigned)v.q);
		break;
	case 'i':
		snprintf(num, 32, "%d", (int)v.i);
		break;
	case 'u':
		snprintf(num, 32, "%u", (unsigned)v.u);
		break;
	case 'x':
		snprintf(num, 32, "%lld", (long long)v.x);
		break;
	case 't':
		snprintf(num, 32, "%llu", (unsigned long long)v.t);
		break;
	default: /* 'd' */
		snprintf(num, 32, "%g", v.d);
		break;
	}
	return 1;
}

/* A Properties.Get reply, a variant of a basic type or an array of one, as
 * text (an array's items joined by spaces). NULL with err set otherwise. */
static const char *read_value(sd_bus_message *m, const char *property, struct buf *out, char *err,
			      size_t errlen)
{
	static const char basic[] = "sogbynqiuxtd";
	const char *sig, *text;
	char t, num[32];
	int rc, n, array;

	if (sd_bus_message_peek_type(m, &t, &sig) <= 0 || t != 'v' || sig == NULL ||
	    sd_bus_message_enter_container(m, 'v', sig) <= 0) {
		snprintf(err, errlen, "the answer to Get %s is not a variant", property);
		return NULL;
	}
	array = sig[0] == 'a';
	if (sig[array] == '\0' || strchr(basic, sig[array]) == NULL || sig[array + 1] != '\0') {
		snprintf(err, errlen, "%s has D-Bus type %s, which hostctl does not read", property,
			 sig);
		return NULL;
	}
	if (array && sd_bus_message_enter_container(m, 'a', sig + 1) <= 0) {
		snprintf(err, errlen, "cannot read %s", property);
		return NULL;
	}
	for (n = 0; (rc = read_basic(m, sig[array], num, &text)) > 0; n++) {
		if ((n > 0 && buf_append(out, " ", 1, VALUE_MAX) == -1) ||
		    buf_append(out, text, strlen(text), VALUE_MAX) == -1) {
			snprintf(err, errlen, "%s is too long", property);
			return NULL;
		}
		if (!array)
			break;
	}
	if (rc < 0) {
		snprintf(err, errlen, "cannot read %s: %s", property, strerror(-rc));
		return NULL;
	}
	return out->data != NULL ? out->data : "";
}

/* The answer to a request's call (or sd-bus's own error reply for a call
 * that timed out). */
static int hostctl_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct hostctl_req *r = userdata;
	const sd_bus_error *e;
	const char *path, *text;
	struct buf value = {NULL, 0, 0};
	char err[256];

	(void)ret_error;
	r->slot = sd_bus_slot_unref(r->slot);
	if (sd_bus_message_is_method_error(m, NULL)) {
		e = sd_bus_message_get_error(m);
		req_finish(r, e->message != NULL && *e->message != '\0' ? e->message : e->name,
			   NULL);
		return 0;
	}
	switch (r->step) {
	case REQ_PLAIN:
		req_finish(r, NULL, NULL);
		break;
	case REQ_GET_UNIT:
		if (sd_bus_message_read(m, "o", &path) < 0) {
			req_finish(r, "GetUnit answered without an object path", NULL);
			break;
		}
		r->step = REQ_GET_PROP;
		if (req_call(r, SYSTEMD_NAME, path, PROPERTIES, "Get", "ss", SYSTEMD_UNIT,
			     r->property) < 0)
			req_finish(r, "out of memory", NULL);
		break;
	case REQ_GET_PROP:
		if ((text = read_value(m, r->property, &value, err, sizeof(err))) == NULL)
			req_finish(r, err, NULL);
		else
			req_finish(r, NULL, text);
		buf_free(&value);
		break;
	}
	return 0;
}

void hostctl_close(struct hostctl *h)
{
	struct hostctl_req *r;

	if (h == NULL || h->closing)
		return; /* again, from a callback of this close or of dispatching */
	h->closing = 1;
	while ((r = TAILQ_FIRST(&h->reqs)) != NULL)
		req_finish(r, "hostctl closed", NULL);
	if (!h->dispatching)
		hostctl_free(h);
}
