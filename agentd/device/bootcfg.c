/*
 * bootcfg.c - the config.txt boot-config backend (Raspberry Pi and kin,
 * facts §5.2): target config vars HOST_CONFIG_<key> become <key>=<value>
 * lines of <boot>/config.txt. Pure text in, text out.
 *
 * Lines agentd does not manage are kept as they are, in place. A key
 * named by the target replaces every line of that key; a key agentd wrote
 * before and the target no longer names is removed. Managed lines go at
 * the end of the file, below a marker line, after "[all]" when the file has
 * conditional sections such as [pi4], so that they apply to every board; a
 * line someone adds below the marker is kept and moves above it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootcfg.h"
#include "jsonx.h"

#define PREFIX  "HOST_CONFIG_"
#define MARKER  "# --- below: written by agentd from HOST_CONFIG_ variables ---"
#define KEY_MAX 100

static const char *const array_keys[] = {
	"dtparam", "dtoverlay", "device_tree_param", "device_tree_overlay", "gpio", NULL};
static const char *const forbidden_keys[] = {"disable_commandline_tags",
					     "cmdline",
					     "kernel",
					     "kernel_address",
					     "kernel_old",
					     "ramfsfile",
					     "ramfsaddr",
					     "initramfs",
					     "device_tree_address",
					     "init_emmc_clock",
					     "avoid_safe_mode",
					     NULL};
/* the Jetson Orin power and fan settings (powerfan.c), never config.txt lines */
static const char *const not_config_txt[] = {"power_mode", "fan_profile", NULL};
static const char *const device_types[] = {"fincm3",       "rt-rpi-300",      "243390-rpi3",
					   "nebra-hnt",    "revpi-connect",   "revpi-connect-s",
					   "revpi-core-3", "revpi-connect-4", NULL};

static int in_list(const char *const *list, const char *s)
{
	int i;

	for (i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

int bootcfg_applies(const char *device_type)
{
	return device_type != NULL &&
	       (strncmp(device_type, "raspberry", 9) == 0 || in_list(device_types, device_type));
}

/* "a","b" (or a single unquoted value) into a list of strings. */
static int split_quoted(const char *v, json_t *out, const char *key, char *err, size_t errlen)
{
	const char *p = v;

	while (*p == ' ')
		p++;
	if (*p != '"') {
		json_array_append_new(out, json_string(v));
		return 0;
	}
	while (*p != '\0') {
		const char *end;

		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		if (*p != '"' || (end = strchr(p + 1, '"')) == NULL) {
			snprintf(err, errlen, "%s%s: values must be \"quoted\",\"like\",\"this\"",
				 PREFIX, key);
			return -1;
		}
		json_array_append_new(out, json_stringn(p + 1, (size_t)(end - p - 1)));
		p = end + 1;
	}
	return 0;
}

static int valid_value(const char *key, const char *v, char *err, size_t errlen)
{
	for (; *v != '\0'; v++)
		if (*v == '\n' || *v == '\r') {
			snprintf(err, errlen, "%s%s: a value cannot span lines", PREFIX, key);
			return -1;
		}
	return 0;
}

json_t *bootcfg_from_target(json_t *config, const char *device_type, char *err, size_t errlen)
{
	json_t *out = json_object(), *v;
	const char *k;

	json_object_foreach(config, k, v) {
		const char *key = k + strlen(PREFIX);
		const char *s = json_string_value(v);

		if (strncmp(k, PREFIX, strlen(PREFIX)) != 0 || *key == '\0' || s == NULL ||
		    in_list(not_config_txt, key))
			continue;
		if (strlen(key) > KEY_MAX ||
		    key[strspn(key, "abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")] != '\0') {
			snprintf(err, errlen, "%s%.100s: not a config.txt key", PREFIX, key);
			goto bad;
		}
		if (in_list(forbidden_keys, key)) {
			snprintf(err, errlen, "Attempt to change blacklisted config value %s", key);
			goto bad;
		}
		if (valid_value(key, s, err, errlen) == -1)
			goto bad;
		if (in_list(array_keys, key)) {
			json_t *list = json_array();

			json_object_set_new(out, key, list);
			if (split_quoted(s, list, key, err, errlen) == -1)
				goto bad;
		} else {
			json_object_set(out, key, v);
		}
	}
	if (device_type != NULL && strcmp(device_type, "fincm3") == 0) {
		json_t *list = json_object_get(out, "dtoverlay");
		size_t i;

		if (list == NULL)
			json_object_set_new(out, "dtoverlay", list = json_array());
		json_array_foreach(list, i, v)
			if (strcmp(json_string_value(v), "balena-fin") == 0)
				break;
		if (i == json_array_size(list))
			json_array_append_new(list, json_string("balena-fin"));
	}
	return out;
bad:
	json_decref(out);
	return NULL;
}

/* The key of a config.txt line ("" for blank lines and comments). */
static void line_key(const char *line, size_t len, char *key, size_t keylen)
{
	size_t i = 0, n = 0;

	while (i < len && isspace((unsigned char)line[i]))
		i++;
	if (i == len || line[i] == '#') {
		key[0] = '\0';
		return;
	}
	while (i < len && line[i] != '=' && !isspace((unsigned char)line[i]) && n + 1 < keylen)
		key[n++] = line[i++];
	key[n] = '\0';
}

static void put_value(FILE *f, const char *key, const char *value)
{
	if (strcmp(key, "dtoverlay") == 0 && strchr(value, ',') != NULL) {
		/* dtoverlay=name,p1,p2: the overlay, then its parameters */
		const char *p = strchr(value, ',');

		fprintf(f, "dtoverlay=%.*s\n", (int)(p - value), value);
		while (p != NULL && *p != '\0') {
			const char *next = strchr(p + 1, ',');
			int n = next ? (int)(next - p - 1) : (int)strlen(p + 1);

			if (n > 0)
				fprintf(f, "dtparam=%.*s\n", n, p + 1);
			p = next;
		}
		return;
	}
	fprintf(f, "%s=%s\n", key, value);
}

/* The keys the target's lines use: its own, and dtparam for a dtoverlay
 * with parameters. */
json_t *bootcfg_keys(json_t *target)
{
	json_t *keys = json_array(), *v, *e;
	const char *k;
	size_t i;

	json_object_foreach(target, k, v) {
		if (!jsonx_has_string(keys, k))
			json_array_append_new(keys, json_string(k));
		if (strcmp(k, "dtoverlay") != 0)
			continue;
		json_array_foreach(v, i, e)
			if (strchr(json_string_value(e) ?: "", ',') != NULL &&
			    !jsonx_has_string(keys, "dtparam"))
				json_array_append_new(keys, json_string("dtparam"));
	}
	return keys;
}

char *bootcfg_render(const char *current, json_t *target, json_t *managed_before)
{
	char *text = NULL, key[KEY_MAX + 2];
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);
	const char *p = current ? current : "", *k;
	json_t *v, *e, *keys = bootcfg_keys(target);
	const char *next;
	int sections = 0, marker_seen = 0; /* 1: the line just after the marker */

	if (f == NULL) {
		json_decref(keys);
		return NULL;
	}
	for (; *p != '\0'; p = next) {
		const char *line = p, *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		size_t bare = n > 0 && line[n - 1] == '\r' ? n - 1 : n; /* CRLF files too */
		size_t lead = strspn(line, " \t");
		int just_after_marker = marker_seen == 1;

		next = eol ? eol + 1 : p + n;
		if (marker_seen)
			marker_seen = 2;
		if (bare == strlen(MARKER) && strncmp(line, MARKER, bare) == 0) {
			marker_seen = 1; /* agentd's lines follow; they are written again */
			continue;
		}
		if (just_after_marker && bare == 5 && strncmp(line, "[all]", 5) == 0)
			continue; /* the [all] agentd put there */
		/* everything else is kept, wherever it was (a user's line below the
		 * marker moves above it), unless the target or agentd owns its key */
		line_key(line, n, key, sizeof(key));
		if (key[0] == '\0' ||
		    (!jsonx_has_string(keys, key) && !jsonx_has_string(managed_before, key))) {
			fprintf(f, "%.*s\n", (int)n, line);
			if (lead < n && line[lead] == '[')
				sections = 1;
		}
	}
	json_decref(keys);
	if (json_object_size(target) > 0)
		fprintf(f, "%s\n%s", MARKER, sections ? "[all]\n" : "");
	json_object_foreach(target, k, v) {
		if (json_is_array(v)) {
			json_array_foreach(v, i, e)
				put_value(f, k, json_string_value(e));
		} else {
			put_value(f, k, json_string_value(v));
		}
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* --- What config.txt sets now (the balena supervisor's reading of it) ------- */

/* dtparams of the base device tree, whichever overlay they follow */
static int base_param(const char *p)
{
	size_t n = strlen(p);
	static const char *const base[] = {"audio",
					   "spi",
					   "i2c",
					   "i2c_arm",
					   "i2c_vc",
					   "i2c_baudrate",
					   "i2c_arm_baudrate",
					   "i2c_vc_baudrate",
					   NULL};
	size_t k = 0;
	int i;

	while (k < n && p[k] != '=')
		k++;
	for (i = 0; base[i] != NULL; i++)
		if (strlen(base[i]) == k && strncmp(base[i], p, k) == 0)
			return 1;
	return 0;
}

/* The comma-separated parts of v[0..n) ("" is one empty part). */
static json_t *split_commas(const char *v, size_t n)
{
	json_t *out = json_array();
	size_t start = 0, i;

	for (i = 0; i <= n; i++)
		if (i == n || v[i] == ',') {
			json_array_append_new(out, json_stringn(v + start, i - start));
			start = i + 1;
		}
	return out;
}

static void push(json_t *conf, const char *key, const char *v, size_t n)
{
	json_t *list = json_object_get(conf, key);

	if (list == NULL)
		json_object_set_new(conf, key, list = json_array());
	json_array_append_new(list, json_stringn(v, n));
}

json_t *bootcfg_current(const char *text)
{
	/* overlays in order, each with the parameters that followed it; the
	 * first is the base device tree */
	json_t *conf = json_object(), *overlays = json_array(), *params = json_array(), *out;
	const char *p = text ? text : "", *next, *k;
	json_t *v, *e, *probe;
	size_t i;

	json_array_append_new(overlays, json_string(""));
	json_array_append_new(params, json_array());
	for (; *p != '\0'; p = next) {
		const char *eol = strchr(p, '\n'), *eq, *s = p;
		size_t n = eol ? (size_t)(eol - p) : strlen(p);

		next = eol ? eol + 1 : p + n;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		while (n > 0 && (*s == ' ' || *s == '\t'))
			s++, n--;
		if (n == 0 || *s == '#' || (probe = json_stringn(s, n)) == NULL)
			continue; /* blank, a comment, or not UTF-8 */
		json_decref(probe);
		if ((eq = memchr(s, '=', n)) != NULL && eq > s) {
			char key[KEY_MAX + 1];
			const char *val = eq + 1;
			size_t kl = (size_t)(eq - s), vl = n - kl - 1;

			if (kl > KEY_MAX)
				continue;
			snprintf(key, sizeof(key), "%.*s", (int)kl, s);
			if (strcmp(key, "dtparam") == 0) {
				json_t *cur = json_array_get(params, json_array_size(params) - 1);
				json_t *parts = split_commas(val, vl);

				json_array_foreach(parts, i, e)
					json_array_append(base_param(json_string_value(e))
								  ? json_array_get(params, 0)
								  : cur,
							  e);
				json_decref(parts);
			} else if (strcmp(key, "dtoverlay") == 0) {
				json_t *parts = split_commas(val, vl);

				json_array_append(overlays, json_array_get(parts, 0));
				json_array_remove(parts, 0);
				json_array_append_new(params, parts);
			} else if (in_list(array_keys, key)) {
				push(conf, key, val, vl);
			} else {
				json_object_set_new(conf, key, json_stringn(val, vl));
			}
		} else if (n > 10 && strncmp(s, "initramfs ", 10) == 0) {
			json_object_set_new(conf, "initramfs", json_stringn(s + 10, n - 10));
		}
	}
	json_array_foreach(overlays, i, v) {
		json_t *ps = json_array_get(params, i);
		size_t j;

		if (i == 0) {
			json_array_foreach(ps, j, e)
				push(conf, "dtparam", json_string_value(e), json_string_length(e));
			continue;
		}
		{
			char *joined = NULL;
			size_t len = 0;
			FILE *f = open_memstream(&joined, &len);

			if (f == NULL)
				continue;
			fputs(json_string_value(v), f);
			json_array_foreach(ps, j, e)
				fprintf(f, ",%s", json_string_value(e));
			if (fclose(f) == 0)
				push(conf, "dtoverlay", joined, len);
			free(joined);
		}
	}
	json_decref(overlays);
	json_decref(params);
	/* as config vars: lists as "a","b" */
	out = json_object();
	json_object_foreach(conf, k, v) {
		char name[KEY_MAX + 32], *s = NULL;

		snprintf(name, sizeof(name), PREFIX "%s", k);
		if (json_is_array(v) && (s = json_dumps(v, JSON_COMPACT)) != NULL)
			json_object_set_new(out, name, json_stringn(s + 1, strlen(s) - 2));
		else if (json_is_string(v))
			json_object_set(out, name, v);
		free(s);
	}
	json_decref(conf);
	return out;
}
