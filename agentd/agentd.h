/*
 * agentd.h - the top of the coordinator: its one struct, which main.c fills
 * in and wires together, and the glue files that turn the children's
 * messages into calls on the rooms below (docs/architecture.md):
 *
 *   main.c          flags, start-up, the event loop
 *   wire.c          the rooms connected, and the hooks between them
 *   api*.c          the local API's handlers (MSG_API_CALL from apid)
 *   cloudlink.c     agentd's side of cloudsyncd (provisioning, targets, reports)
 *   enginelink.c    agentd's side of enginectl (the engine port, its events)
 *   containers.c    the supervised containers, cached between engine events
 *   devlog.c        the device log: system messages and container output
 *   reboot.c        reboot and shutdown under every app's update locks
 *   sandbox.c       agentd's own confinement: capabilities, no_new_privs,
 *                   its seccomp allow-list
 *
 * Below them: agentd/state (the state engine), agentd/device (config.json,
 * agentd.json, database, boot partition, power, keys) and agentd/supervisor
 * (the children). Only the top sees struct agentd.
 */
#ifndef AGENTD_AGENTD_H
#define AGENTD_AGENTD_H

#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>
#include <jansson.h>
#include <sqlite3.h>

#include "apply.h"
#include "config.h"
#include "engine.h"
#include "firewall.h"
#include "identity.h"
#include "keys.h"
#include "paths.h"
#include "power.h"
#include "proto.h"
#include "settings.h"
#include "supervisor.h"

#define AGENTD_VERSION AGENTD_VERSION_STR

/* containers.c: the cached container list and who waits for it */
struct containers {
	json_t *list; /* owned */
	int valid, fetching;
	unsigned gen;
	struct containers_waiter *waiters; /* owned */
	size_t nwaiters;
};

/* host.c: the host's services that follow the device config */
struct host_state {
	struct hostctl *bus; /* owned: the host's D-Bus, or NULL */
	struct firewall fw;
	int firewall_managed;   /* agentd keeps the host's BALENA-FIREWALL chain */
	int vpn;                /* openvpn as agentd last made it: 0 unknown, 1 off, 2 on */
	int vpn_want;           /* what the last attempt wanted */
	uint64_t vpn_failed_ms; /* when the last attempt failed, 0 if it did not */
	int discoverable;       /* avahi as asked: 0 not yet, 1 off, 2 on */
};

struct agentd {
	struct event_base *base;
	struct settings set;
	struct device_config cfg;
	sqlite3 *db;

	/* From flags and environment (borrowed from argv/environ, or paths). */
	struct paths_flags flags;
	struct paths paths; /* where the device's files are */
	const char *config_path, *data_dir, *engine_sock, *api_address, *run_dir, *settings_path;
	enum sandbox_mode sandbox;
	int verbose, foreground;

	struct supervisor sv;      /* the children */
	struct device_id id;       /* uuid, type, arch, OS */
	struct keys keys;          /* the local API's keys */
	struct power power;        /* reboot and shutdown (logind or commands) */
	struct host_state host;    /* firewall, VPN, discoverability, proxy units */
	struct apply *apply;       /* owned: the state engine */
	struct engine_port engine; /* to the engine, through enginectl */
	int engine_up;             /* enginectl reports the engine reachable */
	int engine_balena;         /* it is balenaEngine (it applies deltas) */
	struct containers clist;
	struct event *ev_term, *ev_int, *ev_chld, *ev_ping, *ev_stop;
#ifdef AGENTD_TEST_HOOKS
	struct event *ev_usr2; /* the test build's forbidden-syscall hook */
#endif
	unsigned long ticks;    /* ping timer rounds */
	json_t *followed;       /* owned: container id -> {serviceName, serviceId, level} */
	int log_wanted;         /* apid has /v2/local/logs listeners */
	json_t *journals;       /* owned: pids of journalctl run for the API */
	json_t *power_locks;    /* owned: the locks a reboot or shutdown took, or NULL */
	struct event *ev_blink; /* owned: POST /v1/blink's LED timer while it blinks */
	json_t *cloud_pending;  /* owned: a cloud target not stored yet (full disk), or NULL */
	struct event *ev_cloud_retry; /* owned: tries cloud_pending again */
	int blinks;                   /* half seconds it has blinked */
};

/* containers.c */
/// The supervised containers (engine list form, all states; borrowed).
typedef void (*containers_cb)(json_t *list, const char *err, void *arg);
/// The list from the cache, or from the engine when an event made the cache
/// stale; concurrent askers share one request. cb may run before this returns.
void containers_get(struct agentd *ad, containers_cb cb, void *arg);
void containers_invalidate(struct agentd *ad);
void containers_free(struct agentd *ad);

/* devlog.c */
/// Route system messages to apid and the cloud; take MSG_LOG_WANT.
void devlog_init(struct agentd *ad);
/// Have enginectl follow a supervised container's output from `since` (unix
/// s), or, with `resume`, from where its last follow of it ended (lines
/// already delivered are never delivered again).
void devlog_follow(struct agentd *ad, const char *id, json_t *labels, int64_t since, int resume);
/// Follow every running supervised container (after the engine (re)connects).
void devlog_resync(struct agentd *ad);
/// A container's log line from enginectl (MSG_ENGINE_LOG body).
void devlog_container(struct agentd *ad, json_t *body);
/// enginectl stopped following a container.
void devlog_unfollowed(struct agentd *ad, const char *id);

/* reboot.c */
/// Take every app's update locks (all of them, or -1 with the reason in err)
/// and reboot (or shut down) the device a second later. With `force`, held
/// locks and a host OS update still checking itself do not stop it.
int reboot_request(struct agentd *ad, int reboot, int force, const char *why, char *err,
		   size_t errlen);
/// The state engine's hook: a service needs a reboot (arg: struct agentd).
int reboot_for_apply(const char *why, char *err, size_t errlen, void *arg);
/// Set up the power commands' failure path.
void reboot_init(struct agentd *ad);

/* host.c */
/// Open the host's D-Bus (paths.dbus) for power and units; decide whether
/// agentd keeps the host firewall. Says in the log which way it controls the host.
void host_init(struct agentd *ad);
void host_free(struct agentd *ad);
/// Bring the firewall, the VPN and discoverability to the target's device config.
void host_update(struct agentd *ad);
/// The proxy settings changed (host-config PATCH): restart the proxy's units.
void host_proxy_changed(struct agentd *ad);
/// SUPERVISOR_VPN_CONTROL as the host has it (GET /v2/device/vpn).
int host_vpn_enabled(struct agentd *ad);

/* cloudlink.c */
/// Handle cloudsyncd's messages.
void cloudlink_init(struct agentd *ad);
void cloudlink_free(struct agentd *ad);
/// Add cloudsyncd's settings to its MSG_CONFIG body.
void cloudlink_config(struct agentd *ad, json_t *config);
/// Ask cloudsyncd to fetch the target now (POST /v1/update).
void cloudlink_poll(struct agentd *ad);
/// Send the current state to cloudsyncd, which reports what changed.
void cloudlink_report_state(struct agentd *ad);
/// Store the tags the device should have (PATCH /v2/device/tags) and pass them on.
int cloudlink_set_tags(struct agentd *ad, json_t *tags);
/// Pass the stored tags to cloudsyncd (when it becomes ready).
void cloudlink_send_tags(struct agentd *ad);
/// Ask the cloud for the device's tags; cb gets MSG_CLOUD_RESULT or MSG_ERROR.
int cloudlink_get_tags(struct agentd *ad, chan_reply_cb cb, void *arg);
/// The state engine's delta_request hook (arg: the agentd): cloudsyncd asks.
int cloudlink_delta(void *arg, const char *src, const char *dest, long timeout_ms, delta_cb cb,
		    void *cbarg);

/* enginelink.c */
/// Fill in ad->engine (calls go to enginectl) and handle enginectl's messages.
void enginelink_init(struct agentd *ad);

/* api.c */
/// Handle apid's MSG_API_CALL.
void api_init(struct agentd *ad);
/// Tell apid whether auth is on and which keys are valid.
void api_send_auth(struct agentd *ad);

/* wire.c */
/// Connect the rooms of a configured agentd (settings, config, database,
/// identity, paths and event base set): the supervisor (children found next
/// to `self` or in the libexec dir), the glue, the state engine. -1 (logged)
/// on failure.
int agentd_wire(struct agentd *ad, const char *self);
/// Undo agentd_wire: free the children's side, the glue and the state engine.
void agentd_unwire(struct agentd *ad);

/* sandbox.c */
/// agentd's allow-list: the calls of every architecture, and this one's own.
extern const struct sandbox_policy agentd_policy, agentd_arch_policy;
/// The capabilities agentd keeps after start-up (a mask of CAP_* bits): what
/// it always needs, plus the firewall's when it keeps the host firewall, plus
/// binding a port under 1024 for apid.
uint64_t agentd_caps(int firewall, int api_port);
/// Drop every capability outside `keep` from every set (bounding included,
/// where agentd may). -1 with the reason in err.
int agentd_caps_drop(uint64_t keep, char *err, size_t errlen);
/// Whether this architecture has its section of agentd's allow-list.
int agentd_sandbox_written(void);
/// After start-up: keep only agentd_caps(), set no_new_privs, load the
/// allow-list (in ad->sandbox's mode). -1 (logged) if any of it failed.
int agentd_confine(struct agentd *ad);

/* healthprobe.c */
/// `agentd -H`: 0 if the local agentd answers GET /v1/healthy with 200, else 1.
int healthprobe_run(void);

/* api_device.c */
/// A process was reaped: forget it if it was a journalctl of the API.
void api_journal_reaped(struct agentd *ad, pid_t pid);
/// agentd stops: end every journalctl of the API.
void api_journals_kill(struct agentd *ad);
/// Stop blinking the LED (POST /v1/blink), if it blinks.
void api_blink_free(struct agentd *ad);

#endif
