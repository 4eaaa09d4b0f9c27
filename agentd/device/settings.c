/*
 * settings.c - parse agentd.json over the built-in defaults (see settings.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "settings.h"

void settings_default(struct settings *s)
{
	int d;

	memset(s, 0, sizeof(*s));
	snprintf(s->user, sizeof(s->user), "nobody");
	s->handshake_timeout_ms = 10000;
	s->ping_interval_ms = 5000;
	for (d = 0; d < D_COUNT; d++)
		restart_policy_default(&s->policy[d]);
	s->reboot_command[0] = strdup("systemctl");
	s->reboot_command[1] = strdup("reboot");
	s->shutdown_command[0] = strdup("systemctl");
	s->shutdown_command[1] = strdup("poweroff");
	snprintf(s->led_file, sizeof(s->led_file), "/sys/class/leds/led0/brightness");
	s->api_max_connections = 128;
	snprintf(s->boot_dir, sizeof(s->boot_dir), "/mnt/boot");
	snprintf(s->state_dir, sizeof(s->state_dir), "/mnt/state");
	s->configfs_modprobe[0] = strdup("modprobe");
	s->configfs_modprobe[1] = strdup("acpi_configfs");
}

void settings_free(struct settings *s)
{
	int i;

	for (i = 0; i < 16; i++) {
		free(s->reboot_command[i]);
		free(s->shutdown_command[i]);
		free(s->configfs_modprobe[i]);
		s->reboot_command[i] = s->shutdown_command[i] = s->configfs_modprobe[i] = NULL;
	}
}

static int get_argv(json_t *obj, const char *key, char **argv, const char *where, char *err,
		    size_t errlen)
{
	json_t *v = json_object_get(obj, key), *e;
	size_t i;

	if (v == NULL)
		return 0;
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 15) {
		snprintf(err, errlen, "%s: \"%s\" must be a command: [program, args...]", where,
			 key);
		return -1;
	}
	json_array_foreach(v, i, e) {
		if (!json_is_string(e)) {
			snprintf(err, errlen, "%s: \"%s\" must hold strings", where, key);
			return -1;
		}
	}
	for (i = 0; i < 16; i++) {
		free(argv[i]);
		argv[i] = NULL;
	}
	json_array_foreach(v, i, e)
		argv[i] = strdup(json_string_value(e));
	return 0;
}

static int get_uint(json_t *obj, const char *key, unsigned min, unsigned max, unsigned *out,
		    const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	json_int_t n;

	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || (n = json_integer_value(v)) < min || n > max) {
		snprintf(err, errlen, "%s: \"%s\" must be an integer from %u to %u", where, key,
			 min, max);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

static int check_keys(json_t *obj, const char *const *allowed, const char *where, char *err,
		      size_t errlen)
{
	const char *key;
	json_t *v;
	int i, ok;

	json_object_foreach(obj, key, v) {
		ok = 0;
		for (i = 0; allowed[i] != NULL; i++)
			ok |= strcmp(allowed[i], key) == 0;
		if (!ok) {
			snprintf(err, errlen, "%s: unknown key \"%s\"", where, key);
			return -1;
		}
	}
	return 0;
}

static int settings_daemon(json_t *obj, struct restart_policy *p, const char *where, char *err,
			   size_t errlen)
{
	static const char *const keys[] = {"restart",
					   "backoff_initial_ms",
					   "backoff_max_ms",
					   "stable_after_ms",
					   "burst_limit",
					   "burst_window_ms",
					   NULL};
	json_t *v;

	if (!json_is_object(obj)) {
		snprintf(err, errlen, "%s: must be an object", where);
		return -1;
	}
	if (check_keys(obj, keys, where, err, errlen) == -1)
		return -1;
	if ((v = json_object_get(obj, "restart")) != NULL &&
	    (!json_is_string(v) || restart_mode_parse(json_string_value(v), &p->mode) == -1)) {
		snprintf(err, errlen, "%s: \"restart\" must be always, on-failure or never", where);
		return -1;
	}
	if (get_uint(obj, "backoff_initial_ms", 1, 3600000, &p->backoff_initial_ms, where, err,
		     errlen) == -1 ||
	    get_uint(obj, "backoff_max_ms", 1, 3600000, &p->backoff_max_ms, where, err, errlen) ==
		    -1 ||
	    get_uint(obj, "stable_after_ms", 0, 86400000, &p->stable_ms, where, err, errlen) ==
		    -1 ||
	    get_uint(obj, "burst_limit", 1, RESTART_MAX_BURST, &p->burst_limit, where, err,
		     errlen) == -1 ||
	    get_uint(obj, "burst_window_ms", 1, 86400000, &p->burst_window_ms, where, err,
		     errlen) == -1)
		return -1;
	if (p->backoff_max_ms < p->backoff_initial_ms) {
		snprintf(err, errlen, "%s: backoff_max_ms is below backoff_initial_ms", where);
		return -1;
	}
	return 0;
}

/* A directory path (room left for the file names put under it). */
static int get_dir(json_t *root, const char *key, char *out, size_t outlen, const char *where,
		   char *err, size_t errlen)
{
	json_t *v = json_object_get(root, key);

	if (v == NULL)
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) >= outlen - 32) {
		snprintf(err, errlen, "%s: \"%s\" must be a path", where, key);
		return -1;
	}
	snprintf(out, outlen, "%s", json_string_value(v));
	return 0;
}

int settings_load(const char *path, struct settings *s, char *err, size_t errlen)
{
	static const char *const keys[] = {"user",
					   "handshake_timeout_ms",
					   "ping_interval_ms",
					   "daemons",
					   "reboot_command",
					   "shutdown_command",
					   "led_file",
					   "api_max_connections",
					   "boot_dir",
					   "state_dir",
					   "host_firewall",
					   "configfs_dir",
					   "acpi_tables_dir",
					   "configfs_modprobe",
					   "odmdata_device",
					   "odmdata_force_ro",
					   "vpn_status_dir",
					   NULL};
	char where[512];
	json_error_t jerr;
	json_t *root, *v, *dv;
	const char *name;
	int d, rc = -1;

	if ((root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		snprintf(err, errlen, "agentd.json %s: %s (line %d)", path, jerr.text, jerr.line);
		return -1;
	}
	snprintf(where, sizeof(where), "agentd.json %s", path);
	if (!json_is_object(root)) {
		snprintf(err, errlen, "%s: top level must be an object", where);
		goto out;
	}
	if (check_keys(root, keys, where, err, errlen) == -1)
		goto out;
	if ((v = json_object_get(root, "user")) != NULL) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) >= sizeof(s->user)) {
			snprintf(err, errlen, "%s: \"user\" must be a user name", where);
			goto out;
		}
		snprintf(s->user, sizeof(s->user), "%s", json_string_value(v));
	}
	if (get_uint(root, "handshake_timeout_ms", 100, 600000, &s->handshake_timeout_ms, where,
		     err, errlen) == -1 ||
	    get_uint(root, "ping_interval_ms", 100, 600000, &s->ping_interval_ms, where, err,
		     errlen) == -1 ||
	    get_uint(root, "api_max_connections", 1, 100000, &s->api_max_connections, where, err,
		     errlen) == -1)
		goto out;
	if (get_argv(root, "reboot_command", s->reboot_command, where, err, errlen) == -1 ||
	    get_argv(root, "shutdown_command", s->shutdown_command, where, err, errlen) == -1 ||
	    get_argv(root, "configfs_modprobe", s->configfs_modprobe, where, err, errlen) == -1)
		goto out;
	if ((v = json_object_get(root, "led_file")) != NULL) {
		if (!json_is_string(v) || json_string_length(v) >= sizeof(s->led_file)) {
			snprintf(err, errlen, "%s: \"led_file\" must be a path", where);
			goto out;
		}
		snprintf(s->led_file, sizeof(s->led_file), "%s", json_string_value(v));
		s->led_file_set = 1;
	}
	if ((v = json_object_get(root, "host_firewall")) != NULL) {
		if (!json_is_boolean(v)) {
			snprintf(err, errlen, "%s: \"host_firewall\" must be true or false", where);
			goto out;
		}
		s->host_firewall = json_is_true(v);
		s->host_firewall_set = 1;
	}
	s->boot_dir_set |= json_object_get(root, "boot_dir") != NULL;
	s->state_dir_set |= json_object_get(root, "state_dir") != NULL;
	if (get_dir(root, "boot_dir", s->boot_dir, sizeof(s->boot_dir), where, err, errlen) == -1 ||
	    get_dir(root, "state_dir", s->state_dir, sizeof(s->state_dir), where, err, errlen) ==
		    -1 ||
	    get_dir(root, "configfs_dir", s->configfs_dir, sizeof(s->configfs_dir), where, err,
		    errlen) == -1 ||
	    get_dir(root, "acpi_tables_dir", s->acpi_tables_dir, sizeof(s->acpi_tables_dir), where,
		    err, errlen) == -1 ||
	    get_dir(root, "odmdata_device", s->odmdata_device, sizeof(s->odmdata_device), where,
		    err, errlen) == -1 ||
	    get_dir(root, "odmdata_force_ro", s->odmdata_force_ro, sizeof(s->odmdata_force_ro),
		    where, err, errlen) == -1 ||
	    get_dir(root, "vpn_status_dir", s->vpn_status_dir, sizeof(s->vpn_status_dir), where,
		    err, errlen) == -1)
		goto out;
	if ((v = json_object_get(root, "daemons")) != NULL) {
		if (!json_is_object(v)) {
			snprintf(err, errlen, "%s: \"daemons\" must be an object", where);
			goto out;
		}
		json_object_foreach(v, name, dv) {
			for (d = D_ENGINECTL; d < D_COUNT; d++)
				if (strcmp(name, daemon_names[d]) == 0)
					break;
			if (d == D_COUNT) {
				snprintf(err, errlen,
					 "%s: unknown daemon \"%s\" (enginectl, apid, cloudsyncd)",
					 where, name);
				goto out;
			}
			snprintf(where, sizeof(where), "agentd.json %s: daemons.%s", path, name);
			if (settings_daemon(dv, &s->policy[d], where, err, errlen) == -1)
				goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}
