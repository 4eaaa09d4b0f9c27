/*
 * bootcfg.h - the config.txt boot-config backend (see bootcfg.c).
 */
#ifndef AGENTD_BOOTCFG_H
#define AGENTD_BOOTCFG_H

#include <stddef.h>

#include <jansson.h>

/// Whether config.txt is this device type's boot config (facts §5.2).
int bootcfg_applies(const char *device_type);
/// {key: "value" | ["value", ...]} from the target's HOST_CONFIG_<key>
/// vars (prefixes already stripped); NULL with the reason for a forbidden
/// key or a bad value.
json_t *bootcfg_from_target(json_t *config, const char *device_type, char *err, size_t errlen);
/// The keys the rendered lines of `target` use (for the next render's
/// managed_before).
json_t *bootcfg_keys(json_t *target);
/// config.txt with the target's lines: `current` with the lines of the
/// target's keys and of `managed_before` (a list, may be NULL) removed,
/// then the target's lines. Malloc'd.
char *bootcfg_render(const char *current, json_t *target, json_t *managed_before);

/// What config.txt sets now, as config vars, read as the balena supervisor
/// reads it: {"HOST_CONFIG_<key>": "value"}, the list keys as "\"a\",\"b\""
/// (a dtoverlay with the dtparams that follow it, the base device tree's
/// dtparams in dtparam).
json_t *bootcfg_current(const char *text);

#endif
