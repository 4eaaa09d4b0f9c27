/*
 * configfs.c - the ConfigFS boot-config backend (facts §5.2). On an UP
 * board, HOST_CONFIGFS_ssdt ("name" or "\"a\",\"b\"") lists ACPI tables;
 * configfs.json on the boot partition keeps them as {"ssdt": ["a", "b"]},
 * and at start agentd loads each <acpi tables>/<name>.aml into the kernel
 * through configfs (boot.c). Other keys of configfs.json are kept. Pure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "configfs.h"
#include "jsonx.h"

int configfs_applies(const char *device_type)
{
	return device_type != NULL && strcmp(device_type, "up-board") == 0;
}

/* A table name is a file name under the tables directory and a directory
 * name under configfs: no path, nothing strange. */
int configfs_table_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 64 && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 &&
	       s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")] ==
		       '\0';
}

/* "a" or "\"a\",\"b\"" (quotes dropped, blanks around names trimmed). */
static json_t *split_names(const char *v)
{
	json_t *out = json_array();
	const char *p = v;

	if (v[0] != '"') {
		json_array_append_new(out, json_string(v));
		return out;
	}
	for (;;) {
		size_t n = strcspn(p, ","), i, j = 0;
		char *name = malloc(n + 1);

		if (name == NULL)
			break;
		for (i = 0; i < n; i++)
			if (p[i] != '"')
				name[j++] = p[i];
		name[j] = '\0';
		for (i = 0; name[i] == ' ' || name[i] == '\t'; i++)
			;
		while (j > i && (name[j - 1] == ' ' || name[j - 1] == '\t'))
			name[--j] = '\0';
		json_array_append_new(out, json_string(name + i));
		free(name);
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
	return out;
}

json_t *configfs_from_target(json_t *config, char *err, size_t errlen)
{
	json_t *out = json_object(), *v, *e;
	const char *k;
	size_t i;

	json_object_foreach(config, k, v) {
		const char *key = k + strlen(CONFIGFS_PREFIX), *s = json_string_value(v);
		json_t *names;

		if (strncmp(k, CONFIGFS_PREFIX, strlen(CONFIGFS_PREFIX)) != 0 || s == NULL)
			continue;
		if (strcmp(key, "ssdt") != 0) {
			snprintf(err, errlen, "Attempt to change blacklisted config value %.100s",
				 key);
			goto bad;
		}
		if (s[0] == '\0') /* no tables */
			continue;
		names = split_names(s);
		json_array_foreach(names, i, e) {
			if (!configfs_table_name_ok(json_string_value(e))) {
				snprintf(err, errlen,
					 "%sssdt: \"%.100s\" is not an ACPI table name (letters, "
					 "digits, '.', '_', '-')",
					 CONFIGFS_PREFIX, json_string_value(e));
				json_decref(names);
				goto bad;
			}
		}
		json_object_set_new(out, "ssdt", names);
	}
	return out;
bad:
	json_decref(out);
	return NULL;
}

/* configfs.json as an object; missing or blank text is {}. NULL when it is
 * anything else. */
static json_t *parse(const char *text)
{
	json_t *j;

	if (text == NULL || text[strspn(text, " \t\r\n")] == '\0')
		return json_object();
	j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

json_t *configfs_tables(const char *text)
{
	json_t *j = parse(text), *out = json_array(), *e;
	size_t i;

	json_array_foreach(json_object_get(j, "ssdt"), i, e)
		if (json_is_string(e))
			json_array_append(out, e);
	json_decref(j);
	return out;
}

json_t *configfs_current(const char *text)
{
	json_t *tables = configfs_tables(text), *out = json_object();
	char *s;

	if (json_array_size(tables) > 0 && (s = json_dumps(tables, JSON_COMPACT)) != NULL) {
		/* the list as the balena supervisor shows it: without its brackets */
		json_object_set_new(out, CONFIGFS_PREFIX "ssdt",
				    json_stringn(s + 1, strlen(s) - 2));
		free(s);
	}
	json_decref(tables);
	return out;
}

char *configfs_render(const char *text, json_t *target, json_t *managed_before, char *err,
		      size_t errlen)
{
	json_t *j = parse(text), *was, *want = json_object_get(target, "ssdt");
	char *out;

	if (j == NULL) {
		snprintf(err, errlen, "configfs.json is not a JSON object: left as it is");
		return NULL;
	}
	was = json_deep_copy(j);
	if (want != NULL)
		json_object_set(j, "ssdt", want);
	else if (jsonx_has_string(managed_before, "ssdt"))
		json_object_del(j, "ssdt");
	if (text != NULL && json_equal(j, was))
		out = strdup(text);
	else
		out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(was);
	json_decref(j);
	if (out == NULL)
		snprintf(err, errlen, "out of memory");
	return out;
}
