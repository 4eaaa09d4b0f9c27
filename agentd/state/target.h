/*
 * target.h - the target state: what the device should run. Three inputs
 * (the cloud's v3 state, the local API's v2 state, and the apps.json
 * preload) are validated and converted into one internal form, a JSON
 * object agentd stores and plans from:
 *
 *   {"name": str, "config": {VAR: str},          (VAR without BALENA_/RESIN_)
 *    "local": bool,                               (set through the local API)
 *    "apps": {"<appUuid>": {"id": int, "name": str, "class": str, "is_host": bool,
 *             "commit": str, "release_id": int,
 *             "services": {"<serviceName>": {"id": int, "image_id": int, "image": str,
 *                          "environment": {}, "labels": {}, "running": bool,
 *                          "composition": {}, "contract"?: {}}},
 *             "volumes": {}, "networks": {}}}}
 *
 * An invalid target is rejected whole, with a one-line reason. So is an
 * absurd one, before anything is stored or planned: the limits below are far
 * above what a device runs, and keep validation, planning and the database
 * small whatever a target holds (docs/architecture.md, "Bounded input").
 */
#ifndef AGENTD_TARGET_H
#define AGENTD_TARGET_H

#include <stddef.h>

#include <jansson.h>

#define TARGET_MAX_APPS     100 /* apps in a target */
#define TARGET_MAX_SERVICES 100 /* services of one app's release */
#define TARGET_MAX_NAMED    100 /* networks, and volumes, of one app's release */
#define TARGET_MAX_ENTRIES                                                                         \
	1000 /* config vars; env vars or labels of a service; members or                           \
		elements of any object or array inside a service, network,                         \
		volume or contract */
#define TARGET_MAX_DEPTH                                                                           \
	8 /* nesting of arrays and objects inside one composition                                  \
	     field, network or volume config, or contract */

/// The cloud's v3 state {<uuid>: {name, config, apps}}; `uuid` must be the key.
json_t *target_from_v3(json_t *v3, const char *uuid, char *err, size_t errlen);
/// The local API's v2 body {"local": {name, config, apps}}.
json_t *target_from_v2_local(json_t *v2, char *err, size_t errlen);
/// apps.json: {config, apps, pinDevice?} (v3 without the uuid wrapper).
json_t *target_from_preload(json_t *preload, char *err, size_t errlen);

/// Strip BALENA_/RESIN_ prefixes from config var names (BALENA_ wins) and
/// map the legacy OVERRIDE_LOCK. Returns a new object.
json_t *target_config_keys(json_t *config);

/// Replace device config values of the wrong type by their defaults, adding
/// one balena-worded warning per value to `warnings`. Returns how many.
int target_config_check(json_t *config, json_t *warnings);

/// The app is balena's supervisor release (its fleet uuid, per architecture):
/// on a device agentd is the supervisor, so none of its services (core,
/// core-next, service-relay, main, balena-supervisor) is run, and each is
/// reported Running.
int target_is_supervisor_app(const char *uuid);

/// Parse a numeric id given as a number or a decimal string. -1 if neither.
long long target_id(json_t *v);

#endif
