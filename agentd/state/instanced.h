/*
 * instanced.h - the target as the balena supervisor shows it on
 * GET /v2/local/target-state: each app as its internal App object (appId,
 * appUuid, appName, commit, source, isHost, isRejected) with its services as
 * an *array* of Service objects, whose `config` is the service as composed
 * (camelCase, every default filled in), and its networks and volumes as
 * arrays. Pure: built from what compose.c and named.c made.
 */
#ifndef AGENTD_INSTANCED_H
#define AGENTD_INSTANCED_H

#include <jansson.h>

#include "compose.h"

/// The `config` of a Service object, from a composed service (spec, networks,
/// running) and the image reference it runs (the engine's id when the image
/// is there, else the target's reference). New reference.
json_t *instanced_service_config(const struct composed *c, const char *image);
/// A Network object {appId, appUuid, name, config} from the engine body that
/// named.c made for it (`name` without the app prefix). New reference.
json_t *instanced_network(int app_id, const char *app_uuid, const char *name, json_t *spec);
/// A Volume object {name, appId, appUuid, config}, likewise.
json_t *instanced_volume(int app_id, const char *app_uuid, const char *name, json_t *spec);

#endif
