/*
 * enginectl.h - the engine-control daemon: the only process that talks to
 * the container engine (Docker Engine API over its unix socket). agentd
 * sends it MSG_ENGINE_CALL requests (ops.c); it forwards engine events,
 * pull progress and container log lines, and tells agentd when the engine
 * comes and goes (MSG_ENGINE_STATE with resync, so agentd re-reads state).
 */
#ifndef AGENTD_ENGINECTL_H
#define AGENTD_ENGINECTL_H

#include <stdint.h>
#include <sys/queue.h>

#include "child.h"
#include "ehttp.h"
#include "stream.h"

struct follower {
	TAILQ_ENTRY(follower) entry;
	struct enginectl *e;
	char id[80];     /* container id or name, as agentd gave it */
	struct exfer *x; /* the logs request; NULL while inspecting */
	int64_t seen_ns; /* lines at or before this were delivered already */
	struct logdemux dm;
};

/* Where each container's log was delivered up to, kept when its follower
 * ends (the engine went away): a follow that resumes starts there, so no
 * line the engine has is lost or sent twice. */
#define LOGMARKS 256
struct logmark {
	char id[80];
	int64_t ns;       /* timestamp of the last line delivered */
	uint64_t touched; /* for replacing the least recently used */
};

struct enginectl {
	struct child *child;
	struct chan *ch;
	struct ehttp *http; /* owned */
	enum { ENGINE_DOWN, ENGINE_CONNECTING, ENGINE_UP } state;
	int ever_connected;
	unsigned backoff_ms;
	struct event *ev_reconnect; /* owned */
	struct event *ev_probe;     /* owned: the engine's socket checked while up */
	struct exfer *events;       /* the event stream, while up */
	struct linebuf events_lb;
	int64_t last_event_ns; /* resubscribe from here, so nothing is missed */
	char engine_version[32];
	char engine_name[32];             /* /version's "Engine" ("balena-engine"), or "" */
	TAILQ_HEAD(, follower) followers; /* owned */
	struct logmark marks[LOGMARKS];
	uint64_t mark_clock;
};

/* ops.c */
/// Handle MSG_ENGINE_CALL. Always answers (result or error) eventually.
void ops_call(struct enginectl *e, const struct frame_hdr *hdr, json_t *body);
/// Stop following every container's logs.
void ops_unfollow_all(struct enginectl *e);
/// Percent-encode `in` for a URL query into `out`. -1 if it does not fit.
int url_escape(const char *in, char *out, size_t outlen);

/* sandbox.c */
extern const struct sandbox_policy enginectl_policy;

#endif
