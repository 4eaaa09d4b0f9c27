/*
 * agentd.h - the coordinator: its global state, the supervised children,
 * and the functions each of its source files offers the others.
 */
#ifndef AGENTD_AGENTD_H
#define AGENTD_AGENTD_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sqlite3.h>

#include "chan.h"
#include "config.h"
#include "kmsg.h"
#include "notify.h"
#include "proto.h"
#include "restart.h"
#include "sandbox.h"
#include "settings.h"

#define AGENTD_VERSION AGENTD_VERSION_STR

enum daemon_state {
	DS_DOWN,      /* not started yet, or not to be restarted (policy) */
	DS_BACKOFF,   /* waiting for its restart delay */
	DS_HANDSHAKE, /* started; hello/config/ready not complete */
	DS_READY,     /* sandboxed and serving */
	DS_FAILED,    /* burst limit hit: stays down, agentd unhealthy */
};

struct agentd;

/* One supervised child. */
struct daemon {
	struct agentd *ad;
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

struct agentd {
	struct event_base *base;
	struct settings set;
	struct device_config cfg;
	sqlite3 *db;

	/* From flags and environment (borrowed from argv/environ). */
	const char *config_path, *data_dir, *engine_sock, *api_address, *run_dir, *settings_path;
	enum sandbox_mode sandbox;
	int verbose, foreground;

	struct daemon d[D_COUNT]; /* [D_AGENTD] unused */
	struct event *ev_term, *ev_int, *ev_chld, *ev_ping, *ev_watchdog, *ev_stop;
	struct notify notify;
	struct kmsg *kmsg;
	int stopping;
	int announced_ready;
	int healthy;
	int engine_up;       /* enginectl reports the engine reachable */
	struct apply *apply; /* owned: the state engine */
	json_t *followed;    /* owned: container id -> {serviceName, serviceId} followed */
	int log_wanted;      /* apid has /v2/local/logs listeners */
	unsigned long ticks; /* ping timer rounds */
	json_t *journals;    /* owned: pids of journalctl run for the API */
	pid_t power_pid;     /* the reboot or shutdown command while it runs, else 0 */
	json_t *power_locks; /* owned: the apps a reboot or shutdown locked, or NULL */
	/* engine.c: the cached container list */
	json_t *clist; /* owned */
	int clist_valid, clist_fetching;
	unsigned clist_gen;
	struct clist_waiter *clist_waiters; /* owned */
	size_t clist_nwaiters;
	char device_uuid[64];
	char device_type[64], device_arch[32], os_version[128];
};

/* Children in start order. */
extern const enum daemon_id daemon_order[3];

uint64_t now_ms(void);

/* supervise.c */
/// Prepare the daemon table (paths, timers). -1 if a child binary is missing.
int supervise_init(struct agentd *ad, const char *self_exe);
/// Start the first child; the others follow as each becomes ready.
void supervise_start(struct agentd *ad);
/// Ask every child to stop; agentd's loop ends once all have exited.
void supervise_stop(struct agentd *ad);
/// SIGCHLD: reap and apply restart policies.
void supervise_reap(struct agentd *ad);
/// Kill a child that misbehaved; it is restarted per its policy.
void supervise_kill(struct daemon *d, const char *reason);
/// A child finished its handshake.
void supervise_ready(struct daemon *d);
/// Periodic liveness probes; also drives the systemd watchdog.
void supervise_ping(struct agentd *ad);
void supervise_free(struct agentd *ad);
/// A kernel audit record about a seccomp action.
void supervise_seccomp_record(const struct seccomp_record *rec, void *arg);

/* engine.c */
/// A message enginectl sent on its own. -1 if its body is malformed.
int engine_dispatch(struct daemon *d, uint32_t type, json_t *body);
/// The answer to an engine call: status is the engine's HTTP status (0 when
/// it was not reached); err is NULL on success. body is borrowed.
typedef void (*engine_cb)(struct agentd *ad, int status, json_t *body, const char *err, void *arg);
/// Ask enginectl to run `op` (see enginectl/ops.c) with `args` (stolen).
/// The callback always runs, later, from the event loop.
int engine_call(struct agentd *ad, const char *op, json_t *args, engine_cb cb, void *arg);

/// The supervised containers (engine list form, all states), from a cache
/// kept fresh by engine events. The callback may run before this returns.
typedef void (*containers_cb)(struct agentd *ad, json_t *list, const char *err, void *arg);
void engine_containers(struct agentd *ad, containers_cb cb, void *arg);
void engine_containers_invalidate(struct agentd *ad);
void engine_containers_free(struct agentd *ad);

/* apply.c */
struct apply;
/// Set up the state engine: load the stored target (or the preload).
int apply_init(struct agentd *ad);
void apply_free(struct agentd *ad);
/// Plan and apply the target now (or right after the apply in progress).
void apply_trigger(struct agentd *ad, const char *why);
/// Replace the target (validated, internal form, stolen) and apply it; a
/// running apply is cancelled. -1 with a reason if it cannot be stored.
int apply_set_target(struct agentd *ad, json_t *target, char *err, size_t errlen);
/// Pull progress from enginectl.
void apply_progress(struct agentd *ad, const char *image, int percent);
/// The current target (borrowed), never NULL.
json_t *apply_target(struct agentd *ad);
/// {appState, overallDownloadProgress, containers, images, release} for the API.
json_t *apply_status(struct agentd *ad);
/// 1 if the app's release was rejected for an unmet contract.
int apply_app_rejected(struct agentd *ad, const char *uuid);
/// Whether the apply loop holds this app's update locks (mid-update).
int apply_app_locked(struct agentd *ad, const char *uuid);
/// The reboot the apply loop asked for did not happen: ask again later.
void apply_reboot_failed(struct agentd *ad);
/// Append the state engine's Prometheus lines to buf.
void apply_metrics(struct agentd *ad, char *buf, size_t len);

/* api.c */
/// A MSG_API_CALL from apid. -1 if malformed (apid is then killed).
int api_dispatch(struct daemon *d, const struct frame_hdr *hdr, json_t *body);
/// Tell apid whether auth is on and which keys are valid.
void api_send_auth(struct agentd *ad);
/// The API key of a service (app_id 0, service NULL: the global key), made
/// and stored on first use. malloc'd, NULL on failure.
char *api_key_for(struct agentd *ad, int app_id, const char *service);
/// Take every app's update locks (all of them, or -1 with the reason in err)
/// and run the reboot (or shutdown) command of agentd.json a second later.
int device_power(struct agentd *ad, int reboot, int force, const char *why, char *err,
		 size_t errlen);
/// The reboot or shutdown command exited with `status` (waitpid): when it
/// failed, say so and give the apps their locks back.
void device_power_ended(struct agentd *ad, int status);

/* cloud.c */
/// Managed devices: make the device API key if config.json has none.
int cloud_prepare(struct agentd *ad, char *err, size_t errlen);
/// Add cloudsyncd's settings to its MSG_CONFIG body.
void cloud_config(struct agentd *ad, json_t *config);
/// A message cloudsyncd sent. -1 if malformed.
int cloud_dispatch(struct daemon *d, uint32_t type, json_t *body);
/// Pass SUPERVISOR_POLL_INTERVAL / SUPERVISOR_API_REQUEST_TIMEOUT to cloudsyncd.
void cloud_send_settings(struct agentd *ad, json_t *config);
/// Ask cloudsyncd to fetch the target now (POST /v1/update).
void cloud_poll(struct agentd *ad);
/// Send the current state to cloudsyncd, which reports what changed.
void cloud_report_state(struct agentd *ad);
/// Store the tags the device should have (PATCH /v2/device/tags) and pass them on.
int cloud_set_tags(struct agentd *ad, json_t *tags);
/// Pass the stored tags to cloudsyncd (when it becomes ready).
void cloud_send_tags(struct agentd *ad);
/// Ask the cloud for the device's tags; cb gets MSG_CLOUD_RESULT or MSG_ERROR.
int cloud_get_tags(struct agentd *ad, chan_reply_cb cb, void *arg);

/* netinfo.c */
/// Space-separated IP addresses and MACs, as the balena supervisor reports them.
void netinfo_addresses(char *ips, size_t iplen, char *macs, size_t maclen);

/* devlog.c */
/// A system message for the device's log (the balena wording, facts §7.4).
void devlog_system(struct agentd *ad, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/// A container's log line from enginectl (MSG_ENGINE_LOG body).
void devlog_container(struct agentd *ad, json_t *body);
/// Have enginectl follow a supervised container's output from `since` (unix s).
void devlog_follow(struct agentd *ad, const char *id, json_t *labels, int64_t since);
/// enginectl stopped following a container.
void devlog_unfollowed(struct agentd *ad, const char *id);
/// Follow every running supervised container (after the engine (re)connects).
void devlog_resync(struct agentd *ad);

/* dispatch.c */
/// Channel callback for every child's messages.
void dispatch_child(struct chan *ch, const struct frame_hdr *hdr, const char *payload, int fd,
		    void *arg);
/// The MSG_CONFIG body for a child.
json_t *dispatch_config_for(struct daemon *d);
/// Tell apid whether agentd is healthy.
void dispatch_health(struct agentd *ad);

#endif
