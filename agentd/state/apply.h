/*
 * apply.h - the state engine: what the device should run (the target) and
 * the loop that brings the engine to it.
 *
 *   gather (containers, images, networks, volumes from the engine) ->
 *   compose every target service (compose.c, named.c) -> plan (plan.c) ->
 *   run the round's steps in parallel -> again, until nothing is left.
 *
 * The state engine knows nothing of the local API, the cloud or agentd's
 * children. It reads the device (config.json, its database, the boot
 * partition: agentd/device/), asks the engine through one port (engine.h),
 * writes system messages (sysmsg.h), and tells the outside world about what
 * happens through the hooks its owner registers.
 */
#ifndef AGENTD_APPLY_H
#define AGENTD_APPLY_H

#include <stddef.h>

#include <event2/event.h>
#include <jansson.h>
#include <sqlite3.h>

#include "boot.h"
#include "config.h"
#include "engine.h"
#include "identity.h"
#include "keys.h"

struct apply;

/// The cloud's answer to a delta request: outcome "ready" (name: the delta
/// image, token: the registry token to pull it with), "processing" (ask
/// again later), "retry" (a failure: later, with backoff) or "fallback"
/// (pull the image whole); reason says why when not ready.
typedef void (*delta_cb)(const char *outcome, const char *name, const char *token,
			 const char *reason, void *arg);

struct apply_hooks {
	void *arg;
	/// A target has been applied: the device's state changed.
	void (*applied)(void *arg);
	/// An image started downloading (what the device reports changed).
	void (*downloading)(void *arg);
	/// A service needs the device rebooted to start: reboot it under every
	/// app's lock. -1 with the reason when it cannot happen now (a lock is
	/// held): the loop retries later.
	int (*reboot)(const char *why, char *err, size_t errlen, void *arg);
	/// A new target was stored (its device config may have changed).
	void (*target_set)(void *arg);
	/// Ask the cloud for a delta from image `src` to `dest` (references),
	/// its request timing out after timeout_ms; `cb` runs later. -1 when
	/// the cloud cannot be asked (cb does not run).
	int (*delta_request)(void *arg, const char *src, const char *dest, long timeout_ms,
			     delta_cb cb, void *cbarg);
};

/* What the state engine is given (all borrowed; they outlive it). */
struct apply_env {
	struct event_base *base;
	sqlite3 *db;
	const struct device_config *cfg; /* config.json: managed?, deviceApiKey, listenPort */
	const struct device_id *id;
	struct keys *keys; /* scoped API keys for services labelled for the API */
	struct engine_port engine;
	const char *run_dir, *data_dir, *engine_sock, *boot_dir;
	const char *host_run_dir; /* run_dir as the host's engine sees it (bind sources) */
	const char *preload;      /* apps.json, the first target of a new device */
	/* the boot configuration's files and devices (its run_dir, data_dir,
	 * boot_dir and device_type are taken from the fields above) */
	struct boot_env boot;
	struct apply_hooks hooks;
};

/* apply.c */
/// Set up the state engine: load the stored target (or the preload). NULL
/// when out of memory.
struct apply *apply_new(const struct apply_env *env);
void apply_free(struct apply *a);
/// Plan and apply the target now (or right after the apply in progress).
void apply_trigger(struct apply *a, const char *why);
/// Replace the target (validated, internal form, stolen) and apply it; a
/// running apply is cancelled. -1 with a reason if it cannot be stored.
int apply_set_target(struct apply *a, json_t *target, char *err, size_t errlen);
/// Pull progress from the engine; 1 if that changed what is shown.
int apply_progress(struct apply *a, const char *image, int percent);
/// How far the download of `image` (a target image) is, 0-100; -1 if it is
/// not being downloaded.
int apply_download_progress(struct apply *a, const char *image);
/// The current target (borrowed), never NULL.
json_t *apply_target(struct apply *a);
/// The target as the balena supervisor shows it (instanced.h): {name, config,
/// apps: {"<appId>": App object}}; `source` is where the apps came from
/// ("local", or the cloud's API endpoint). New reference.
json_t *apply_target_instanced(struct apply *a, const char *source);
/// The device's boot configuration now, read back from its files, as config
/// vars (boot.h). New reference.
json_t *apply_boot_current(struct apply *a);
/// Local mode: no cloud (unmanaged), or SUPERVISOR_LOCAL_MODE is on.
int apply_local_mode(struct apply *a);
/// {appState, overallDownloadProgress, images} for the API.
json_t *apply_status(struct apply *a);
/// 1 if the app's release was rejected for an unmet contract.
int apply_app_rejected(struct apply *a, const char *uuid);
/// Whether the apply loop holds this app's update locks (mid-update).
int apply_app_locked(struct apply *a, const char *uuid);
/// The reboot the apply loop asked for did not happen: ask again later.
void apply_reboot_failed(struct apply *a);
/// Append the state engine's Prometheus lines to buf.
void apply_metrics(struct apply *a, char *buf, size_t len);
/// The run dir (update locks live under it).
const char *apply_run_dir(struct apply *a);

/* applocks.c: every app's update locks at once (reboot, shutdown, host config) */
/// Take the locks of every app of the target. The record of what was taken
/// (new reference), or NULL with the reason in err (nothing is kept).
json_t *applocks_take_all(struct apply *a, int force, char *err, size_t errlen);
/// Give back what a record says was taken, except the locks the apply loop
/// holds for an update of its own.
void applocks_release(struct apply *a, json_t *record);

#endif
