/*
 * child.c - the common life of a sandboxed child (see child.h).
 *
 * Order matters: fds are closed before anything is opened; the filter is
 * loaded only after setup() has opened what the daemon needs and after the
 * user switch; MSG_READY is sent last, so agentd's "ready" means "sandboxed".
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "log.h"

#define CHILD_HANDSHAKE_TIMEOUT_S 10

struct child {
	const struct child_ops *ops;
	struct event_base *base;
	struct chan *ch;
	struct event *ev_term, *ev_int, *ev_timeout;
#ifdef AGENTD_TEST_HOOKS
	struct event *ev_usr2;
#endif
	enum sandbox_mode mode;
	int configured;
	int set_up;
	int exit_code;
	void *data;
};

struct event_base *child_base(struct child *c)
{
	return c->base;
}

struct chan *child_chan(struct child *c)
{
	return c->ch;
}

void *child_data(struct child *c)
{
	return c->data;
}

void child_set_data(struct child *c, void *data)
{
	c->data = data;
}

void child_stop(struct child *c, int code)
{
	c->exit_code = code;
	event_base_loopbreak(c->base);
}

static int child_configure(struct child *c, json_t *body)
{
	const char *user = "nobody", *sandbox = "kill";
	json_int_t version = 0;

	if (json_unpack(body, "{s:I, s?:s, s?:s}", "version", &version, "user", &user, "sandbox",
			&sandbox) == -1) {
		log_error("config from agentd lacks version");
		return -1;
	}
	if (version != PROTO_VERSION) {
		log_error("protocol version mismatch: agentd speaks %lld, this %s speaks %d",
			  (long long)version, daemon_names[c->ops->id], PROTO_VERSION);
		return -1;
	}
	if (sandbox_mode_parse(sandbox, &c->mode) == -1) {
		log_error("unknown sandbox mode '%s'", sandbox);
		return -1;
	}
	if (c->ops->setup != NULL && c->ops->setup(c, body) == -1)
		return -1;
	c->set_up = 1; /* from here on, teardown() owes what setup() made */
	if (c->ops->drop_user && getuid() == 0 && sandbox_drop_user(user) == -1)
		return -1;
	if (sandbox_apply(c->ops->policy, c->mode) == -1)
		return -1;
	c->configured = 1;
	event_del(c->ev_timeout);
	return chan_send_json(c->ch, MSG_READY, 0, 0, NULL);
}

static void child_on_msg(struct chan *ch, const struct frame_hdr *hdr, const char *payload, int fd,
			 void *arg)
{
	struct child *c = arg;
	const char *why;
	json_t *body;

	if (hdr == NULL) {
		/* agentd went away or sent garbage: nothing left to serve. */
		log_debug("channel to agentd closed: %s", chan_error(ch));
		child_stop(c, 0);
		return;
	}
	if (msg_check(hdr->type, D_AGENTD, c->ops->id, hdr->len, &why) == -1 ||
	    (body = json_loads(payload, 0, NULL)) == NULL || !json_is_object(body)) {
		log_error("bad message from agentd (type %u): %s", hdr->type,
			  why ? why : "invalid JSON");
		if (fd >= 0)
			close(fd);
		child_stop(c, 1);
		return;
	}
	switch (hdr->type) {
	case MSG_CONFIG:
		if (c->configured || child_configure(c, body) == -1)
			child_stop(c, 1);
		break;
	case MSG_PING:
		chan_reply(ch, hdr, MSG_PONG, NULL);
		break;
	case MSG_SHUTDOWN:
		child_stop(c, 0);
		break;
	default:
		if (c->configured && c->ops->dispatch != NULL) {
			int rc = c->ops->dispatch(c, hdr, body, fd);

			fd = -1; /* dispatch owns it */
			if (rc == 0)
				break;
		}
		log_error("unexpected %s message from agentd", msg_name(hdr->type));
		child_stop(c, 1);
		break;
	}
	if (fd >= 0)
		close(fd);
	json_decref(body);
}

static void child_on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_debug("signal %d: stopping", (int)sig);
	child_stop(arg, 0);
}

static void child_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	log_error("no config from agentd within %d s", CHILD_HANDSHAKE_TIMEOUT_S);
	child_stop(arg, 1);
}

#ifdef AGENTD_TEST_HOOKS
/* Test builds only: SIGUSR2 makes the child call a syscall no filter allows,
 * so tests can watch the sandbox kill it. */
static void child_on_usr2(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	log_info("test hook: calling ptrace()");
	syscall(SYS_ptrace, -1L, 0L, 0L, 0L);
}
#endif

static void child_usage(const char *name)
{
	fprintf(stderr, "usage: %s [-v]...\n(started by agentd, not by hand)\n", name);
	exit(1);
}

static void child_libevent_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
}

int child_main(int argc, char **argv, const struct child_ops *ops)
{
	const char *name = daemon_names[ops->id];
	struct timeval tv = {CHILD_HANDSHAKE_TIMEOUT_S, 0};
	struct child c;
	json_t *hello;
	int verbose = 0, opt;

	memset(&c, 0, sizeof(c));
	c.ops = ops;
	c.exit_code = 0;
	while ((opt = getopt(argc, argv, "v")) != -1) {
		if (opt == 'v')
			verbose++;
		else
			child_usage(name);
	}
	/* Nothing but stdio and the channel may survive the exec. */
	sandbox_close_fds(PROTO_CHILD_FD);
	log_init(name, LOG_TO_PARENT, verbose);
	event_set_log_callback(child_libevent_log);
	signal(SIGPIPE, SIG_IGN);
	/* Time zone data would be read from /etc/localtime on first use, after
	 * the filter forbids opening files: use UTC, settled now. */
	setenv("TZ", "UTC0", 1);
	tzset();

	if ((c.base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	if ((c.ch = chan_new(c.base, PROTO_CHILD_FD, PROTO_MAX_PAYLOAD, child_on_msg, &c)) == NULL)
		fatalx("no channel to agentd on fd %d (started by hand?)", PROTO_CHILD_FD);
	c.ev_term = evsignal_new(c.base, SIGTERM, child_on_signal, &c);
	c.ev_int = evsignal_new(c.base, SIGINT, child_on_signal, &c);
	c.ev_timeout = evtimer_new(c.base, child_on_timeout, &c);
	if (c.ev_term == NULL || c.ev_int == NULL || c.ev_timeout == NULL ||
	    event_add(c.ev_term, NULL) == -1 || event_add(c.ev_int, NULL) == -1 ||
	    event_add(c.ev_timeout, &tv) == -1)
		fatalx("cannot set up events");
#ifdef AGENTD_TEST_HOOKS
	c.ev_usr2 = evsignal_new(c.base, SIGUSR2, child_on_usr2, &c);
	event_add(c.ev_usr2, NULL);
#endif

	hello = json_pack("{s:i, s:s, s:i}", "version", PROTO_VERSION, "daemon", name, "pid",
			  (int)getpid());
	if (hello == NULL || chan_send_json(c.ch, MSG_HELLO, 0, 0, hello) == -1)
		fatalx("cannot greet agentd");
	json_decref(hello);

	event_base_dispatch(c.base);

	if (c.set_up && ops->teardown != NULL)
		ops->teardown(&c);
	chan_free(c.ch);
	event_free(c.ev_term);
	event_free(c.ev_int);
	event_free(c.ev_timeout);
#ifdef AGENTD_TEST_HOOKS
	event_free(c.ev_usr2);
#endif
	event_base_free(c.base);
	return c.exit_code;
}
