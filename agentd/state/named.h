/*
 * named.h - create bodies for an app's networks and volumes (see named.c).
 */
#ifndef AGENTD_NAMED_H
#define AGENTD_NAMED_H

#include <stddef.h>

#include <jansson.h>

/// Body of POST /volumes/create for target volume config `cfg` ({driver?,
/// driver_opts?, labels?}, may be NULL), named `full_name` ("<appId>_<name>").
/// hash gets the config hash, also stored in the body's labels. NULL with a
/// reason naming the field on bad input.
json_t *named_volume(const char *full_name, json_t *cfg, const char *app_uuid, char hash[17],
		     char *err, size_t errlen);
/// Body of POST /networks/create for target network config `cfg` ({driver?,
/// driver_opts?, ipam? {driver?, config? [{subnet, gateway, ip_range,
/// aux_addresses}], options?}, enable_ipv6?, internal?, labels?,
/// config_only?}, may be NULL), named `full_name` ("<appUuid>_<name>").
json_t *named_network(const char *full_name, json_t *cfg, const char *app_uuid, int app_id,
		      char hash[17], char *err, size_t errlen);

#endif
