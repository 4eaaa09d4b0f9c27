/*
 * supervisor.h - agentd's children: spawning them (fork+exec, the
 * socketpair on fd 3, stderr re-logged under the child's name), the
 * hello/config/ready handshake, pings, restart policies (restart.c), the
 * sandbox violations the kernel reports (kmsg.c), sd_notify (notify.c), and
 * the checks every frame from a child passes before anyone reads it.
 *
 * This room knows nothing of what the messages mean, of the state engine or
 * of the device. The rest of agentd registers one handler per message type
 * it accepts from children (supervisor_on) and a few hooks: what a child's
 * config message adds, a child became ready, a process that is not a child
 * exited, agentd is stopping. It may call only common/.
 */
#ifndef AGENTD_SUPERVISOR_H
#define AGENTD_SUPERVISOR_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "chan.h"
#include "kmsg.h"
#include "notify.h"
#include "proto.h"
#include "restart.h"
#include "sandbox.h"

enum daemon_state {
	DS_DOWN,      /* not started yet, or not to be restarted (policy) */
	DS_BACKOFF,   /* waiting for its restart delay */
	DS_HANDSHAKE, /* started; hello/config/ready not complete */
	DS_READY,     /* sandboxed and serving */
	DS_FAILED,    /* burst limit hit: stays down, agentd unhealthy */
};

struct supervisor;

/* One supervised child. */
struct daemon {
	struct supervisor *sv;
	enum daemon_id id;
	const char *name;
	char path[PATH_MAX]; /* executable */
	enum daemon_state state;
	pid_t pid;                 /* 0 when not running */
	struct chan *ch;           /* owned; NULL when not running */
	struct bufferevent *logbe; /* owned: read end of the child's stderr pipe */
	struct event *ev_timer;    /* owned: handshake deadline or restart delay */
	struct event *ev_sigsys;   /* owned: waits briefly for the kernel's audit record */
	struct restart_state rs;
	uint64_t started_ms;
	unsigned missed_pings;
	unsigned starts; /* total, for status and metrics */
	int hello_seen;
	const char *kill_reason;         /* static: why agentd killed it, or NULL */
	pid_t sigsys_pid;                /* a pid that died by SIGSYS, not yet named */
	struct seccomp_record violation; /* last kill record seen for this child */
};

/// A message a ready child sent (already checked against the catalogue and
/// parsed as a JSON object; body is borrowed). -1 if its body is malformed:
/// the child is then killed as compromised.
typedef int (*supervisor_msg_fn)(struct daemon *d, const struct frame_hdr *hdr, json_t *body,
				 void *arg);

struct supervisor_hooks {
	void *arg;
	/// Add what the child needs to its MSG_CONFIG body (version, verbosity,
	/// sandbox mode and user are there already).
	void (*config_for)(enum daemon_id id, json_t *config, void *arg);
	/// The child finished its handshake.
	void (*ready)(enum daemon_id id, void *arg);
	/// A process that is not a child was reaped (waitpid status).
	void (*reaped)(pid_t pid, int status, void *arg);
	/// agentd starts to stop (before the children are told).
	void (*stopping)(void *arg);
};

struct supervisor_conf {
	struct restart_policy policy[D_COUNT]; /* indexed by daemon id */
	unsigned handshake_timeout_ms;
	char user[64]; /* the unprivileged children drop to it */
	int verbose;
	enum sandbox_mode sandbox;
	/* agentd's own allow-list (borrowed), which its children inherit: says
	 * whose list a logged call broke */
	const struct sandbox_policy *own_filter[2];
	int own_filter_loaded;
};

struct supervisor {
	struct event_base *base; /* borrowed */
	struct supervisor_conf conf;
	struct supervisor_hooks hooks;
	struct {
		supervisor_msg_fn fn;
		void *arg;
	} on[MSG_TYPE_COUNT];
	struct daemon d[D_COUNT]; /* [D_AGENTD] unused */
	struct notify notify;
	struct kmsg *kmsg; /* owned; NULL without /dev/kmsg */
	int stopping;
	int announced_ready;
	int healthy;
};

/* Children in start order. */
extern const enum daemon_id daemon_order[3];

/* supervise.c */
/// Find the children's binaries, prepare their timers, open /dev/kmsg and
/// the systemd notify socket. -1 if a child binary is missing.
int supervise_init(struct supervisor *sv, struct event_base *base, const char *self_exe,
		   const struct supervisor_conf *conf);
/// Watch a child that was just started (pid): its end of the socketpair on
/// chan_fd, the read end of its stderr on log_fd (both taken); its handshake
/// begins. supervise_start's spawns go through it, and so do tests that play
/// a child themselves. -1 if it cannot be watched (it is then killed).
int supervise_attach(struct daemon *d, pid_t pid, int chan_fd, int log_fd);
/// Handle messages of `type` from children with fn.
void supervisor_on(struct supervisor *sv, enum msg_type type, supervisor_msg_fn fn, void *arg);
/// Start the children, in order.
void supervise_start(struct supervisor *sv);
/// Ask every child to stop; agentd's loop ends once all have exited.
void supervise_stop(struct supervisor *sv);
/// SIGCHLD: reap and apply restart policies.
void supervise_reap(struct supervisor *sv);
/// Kill a child that misbehaved; it is restarted per its policy.
void supervise_kill(struct daemon *d, const char *reason);
/// A child finished its handshake.
void supervise_ready(struct daemon *d);
/// Periodic liveness probes; also drives the systemd watchdog.
void supervise_ping(struct supervisor *sv);
/// SIGKILL to the children still running (the stop deadline passed).
void supervise_kill_all(struct supervisor *sv);
void supervise_free(struct supervisor *sv);
/// The channel to a ready child, or NULL.
struct chan *supervisor_chan(struct supervisor *sv, enum daemon_id id);

/// Work out whether agentd is healthy (no child down for good); tell apid.
void supervise_health(struct supervisor *sv);

/* dispatch.c */
enum dispatch_verdict {
	DISPATCH_OK,    /* handled */
	DISPATCH_READY, /* the child's MSG_READY: its handshake is complete */
	DISPATCH_BAD,   /* malformed, forbidden, unhandled or out of turn: kill it */
};

/// The check every frame from a child passes before anything reads it (its
/// channel's chan_check_cb; arg is the struct daemon): the catalogue's type,
/// direction, size, depth and item limits. -1 with the reason in why: the
/// channel fails and the child is killed as compromised.
int dispatch_check(const struct frame_hdr *hdr, const char *payload, char *why, size_t whylen,
		   void *arg);
/// Check one frame from a child against the catalogue, parse it, answer a
/// hello, or hand it to the handler registered for its type. On
/// DISPATCH_BAD, *kill_reason says why (static text).
enum dispatch_verdict dispatch_frame(struct daemon *d, const struct frame_hdr *hdr,
				     const char *payload, const char **kill_reason);

#endif
