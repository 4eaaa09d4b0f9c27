/*
 * named.c - an app's networks and volumes from the target state to the
 * bodies of POST /networks/create and POST /volumes/create, with balena's
 * defaults and labels (facts §4.5; networks: io.balena.supervised and
 * io.balena.app-id, volumes: io.balena.supervised and io.balena.app-uuid,
 * exactly as the balena supervisor labels them, so that it can adopt them),
 * and a hash of each body. Whether an existing one is what the target wants
 * is adopt.c's business. No I/O.
 */
#include <stdio.h>
#include <string.h>

#include "compose.h"
#include "named.h"

static int check_string_map(json_t *m, const char *what, char *err, size_t errlen)
{
	const char *k;
	json_t *v;

	if (m == NULL)
		return 0;
	if (!json_is_object(m)) {
		snprintf(err, errlen, "%s must be an object of strings", what);
		return -1;
	}
	json_object_foreach(m, k, v) {
		if (!json_is_string(v)) {
			snprintf(err, errlen, "%s.%s must be a string", what, k);
			return -1;
		}
	}
	return 0;
}

/* Labels: the target's ("io.resin." renamed "io.balena.") plus balena's:
 * a volume carries the app's uuid, a network (below) its id. */
static json_t *named_labels(json_t *cfg_labels, const char *app_uuid)
{
	json_t *labels = json_object(), *v;
	const char *k;
	char key[512];

	json_object_foreach(cfg_labels, k, v) {
		if (strncmp(k, "io.resin.", 9) == 0)
			snprintf(key, sizeof(key), "io.balena.%s", k + 9);
		else
			snprintf(key, sizeof(key), "%s", k);
		json_object_set(labels, key, v);
	}
	json_object_set_new(labels, "io.balena.supervised", json_string("true"));
	if (app_uuid != NULL)
		json_object_set_new(labels, "io.balena.app-uuid", json_string(app_uuid));
	return labels;
}

json_t *named_volume(const char *full_name, json_t *cfg, const char *app_uuid, char hash[17],
		     char *err, size_t errlen)
{
	json_t *driver = json_object_get(cfg, "driver"),
	       *opts = json_object_get(cfg, "driver_opts");
	json_t *labels = json_object_get(cfg, "labels"), *spec;
	char where[300];

	if (cfg != NULL && !json_is_null(cfg) && !json_is_object(cfg)) {
		snprintf(err, errlen, "volume %s: must be an object", full_name);
		return NULL;
	}
	if (driver != NULL && (!json_is_string(driver) || json_string_length(driver) == 0)) {
		snprintf(err, errlen, "volume %s: driver must be a name", full_name);
		return NULL;
	}
	snprintf(where, sizeof(where), "volume %s: driver_opts", full_name);
	if (check_string_map(opts, where, err, errlen) == -1)
		return NULL;
	snprintf(where, sizeof(where), "volume %s: labels", full_name);
	if (check_string_map(labels, where, err, errlen) == -1)
		return NULL;
	spec = json_pack("{s:s, s:s, s:o, s:o}", "Name", full_name, "Driver",
			 driver ? json_string_value(driver) : "local", "DriverOpts",
			 opts ? json_deep_copy(opts) : json_object(), "Labels",
			 named_labels(labels, app_uuid));
	if (spec == NULL) {
		snprintf(err, errlen, "volume %s: out of memory", full_name);
		return NULL;
	}
	compose_hash(spec, hash);
	return spec;
}

/* One entry of ipam.config: compose names to the engine's. */
static json_t *ipam_entry(json_t *in, const char *where, char *err, size_t errlen)
{
	static const char *const names[][2] = {{"subnet", "Subnet"},
					       {"gateway", "Gateway"},
					       {"ip_range", "IPRange"},
					       {"aux_addresses", "AuxiliaryAddresses"},
					       {NULL, NULL}};
	json_t *out, *v;
	const char *k;
	int i;

	if (!json_is_object(in)) {
		snprintf(err, errlen, "%s: ipam.config entries must be objects", where);
		return NULL;
	}
	out = json_object();
	json_object_foreach(in, k, v) {
		for (i = 0; names[i][0] != NULL; i++)
			if (strcmp(k, names[i][0]) == 0)
				break;
		if (names[i][0] == NULL) {
			snprintf(err, errlen, "%s: unknown ipam.config key \"%s\"", where, k);
			json_decref(out);
			return NULL;
		}
		if (i == 3 ? check_string_map(v, "aux_addresses", err, errlen) == -1
			   : !json_is_string(v)) {
			if (i != 3)
				snprintf(err, errlen, "%s: ipam.config %s must be a string", where,
					 k);
			json_decref(out);
			return NULL;
		}
		json_object_set(out, names[i][1], v);
	}
	return out;
}

json_t *named_network(const char *full_name, json_t *cfg, const char *app_uuid, int app_id,
		      char hash[17], char *err, size_t errlen)
{
	(void)app_uuid; /* in its name (<appUuid>_<name>); balena labels networks with the app's id
			 */
	json_t *ipam = json_object_get(cfg, "ipam"), *spec, *entries, *e, *v;
	json_t *driver = json_object_get(cfg, "driver");
	json_t *ipam_driver = json_object_get(ipam, "driver");
	json_t *ipam_config = json_object_get(ipam, "config");
	json_t *ipam_opts = json_object_get(ipam, "options");
	char where[300], id[16];
	const char *bools[] = {"enable_ipv6", "internal", "config_only"};
	size_t i;

	snprintf(where, sizeof(where), "network %s", full_name);
	if (cfg != NULL && !json_is_null(cfg) && !json_is_object(cfg)) {
		snprintf(err, errlen, "%s: must be an object", where);
		return NULL;
	}
	if ((driver != NULL && (!json_is_string(driver) || json_string_length(driver) == 0)) ||
	    (ipam_driver != NULL && !json_is_string(ipam_driver))) {
		snprintf(err, errlen, "%s: driver must be a name", where);
		return NULL;
	}
	if (ipam != NULL && !json_is_object(ipam)) {
		snprintf(err, errlen, "%s: ipam must be an object", where);
		return NULL;
	}
	if (ipam_config != NULL && !json_is_array(ipam_config)) {
		snprintf(err, errlen, "%s: ipam.config must be a list", where);
		return NULL;
	}
	for (i = 0; i < 3; i++)
		if ((v = json_object_get(cfg, bools[i])) != NULL && !json_is_boolean(v)) {
			snprintf(err, errlen, "%s: %s must be true or false", where, bools[i]);
			return NULL;
		}
	{
		char w[320];

		snprintf(w, sizeof(w), "%s: driver_opts", where);
		if (check_string_map(json_object_get(cfg, "driver_opts"), w, err, errlen) == -1)
			return NULL;
		snprintf(w, sizeof(w), "%s: labels", where);
		if (check_string_map(json_object_get(cfg, "labels"), w, err, errlen) == -1)
			return NULL;
		snprintf(w, sizeof(w), "%s: ipam.options", where);
		if (check_string_map(ipam_opts, w, err, errlen) == -1)
			return NULL;
	}
	entries = json_array();
	json_array_foreach(ipam_config, i, v) {
		if ((e = ipam_entry(v, where, err, errlen)) == NULL) {
			json_decref(entries);
			return NULL;
		}
		json_array_append_new(entries, e);
	}
	snprintf(id, sizeof(id), "%d", app_id);
	spec = json_pack("{s:s, s:s, s:b, s:{s:s, s:o, s:o}, s:b, s:b, s:b, s:o, s:o}", "Name",
			 full_name, "Driver", driver ? json_string_value(driver) : "bridge",
			 "CheckDuplicate", 1, "IPAM", "Driver",
			 ipam_driver ? json_string_value(ipam_driver) : "default", "Config",
			 entries, "Options", ipam_opts ? json_deep_copy(ipam_opts) : json_object(),
			 "EnableIPv6", json_is_true(json_object_get(cfg, "enable_ipv6")),
			 "Internal", json_is_true(json_object_get(cfg, "internal")), "ConfigOnly",
			 json_is_true(json_object_get(cfg, "config_only")), "Options",
			 json_object_get(cfg, "driver_opts")
				 ? json_deep_copy(json_object_get(cfg, "driver_opts"))
				 : json_object(),
			 "Labels", named_labels(json_object_get(cfg, "labels"), NULL));
	if (spec == NULL) {
		snprintf(err, errlen, "%s: out of memory", where);
		return NULL;
	}
	json_object_set_new(json_object_get(spec, "Labels"), "io.balena.app-id", json_string(id));
	/* balena marks a network with its own IPAM config (since v17.0.0): a
	 * network that gains or loses one differs, and is made again */
	if (json_array_size(entries) > 0)
		json_object_set_new(json_object_get(spec, "Labels"),
				    "io.balena.private.ipam.config", json_string("true"));
	compose_hash(spec, hash);
	return spec;
}
