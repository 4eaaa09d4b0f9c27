/*
 * powerfan.c - the power mode and fan profile backend (facts §5.2). On a
 * Jetson Orin the OS reads config.json's {"os": {"power": {"mode": ...},
 * "fan": {"profile": ...}}} ("low", "mid", "high", "default", "quiet",
 * "cool" or an nvpmodel id: the OS checks them). A new power mode takes a
 * reboot; a new fan profile does not. Other keys of os, os.power and os.fan
 * are kept. Pure: config.json in memory in, changed in place.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "jsonx.h"
#include "powerfan.h"

#define PREFIX "HOST_CONFIG_"

static const struct {
	const char *key, *object, *field;
} fields[] = {
	{"power_mode", "power", "mode"},
	{"fan_profile", "fan", "profile"},
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

int powerfan_applies(const char *device_type)
{
	return device_type != NULL && strstr(device_type, "-orin-") != NULL;
}

json_t *powerfan_from_target(json_t *config, char *err, size_t errlen)
{
	json_t *out = json_object();
	size_t i;

	for (i = 0; i < NFIELDS; i++) {
		char name[64];
		const char *s, *p;

		snprintf(name, sizeof(name), PREFIX "%s", fields[i].key);
		if ((s = json_string_value(json_object_get(config, name))) == NULL)
			continue;
		for (p = s; *p != '\0'; p++)
			if (iscntrl((unsigned char)*p))
				break;
		if (*p != '\0' || strlen(s) > 256) {
			snprintf(err, errlen, "%s: not a %s (one line, at most 256 characters)",
				 name, i == 0 ? "power mode" : "fan profile");
			json_decref(out);
			return NULL;
		}
		json_object_set_new(out, fields[i].key, json_string(s));
	}
	return out;
}

static const char *field_value(json_t *root, size_t i)
{
	return json_string_value(json_object_get(
		json_object_get(json_object_get(root, "os"), fields[i].object), fields[i].field));
}

json_t *powerfan_current(json_t *root)
{
	json_t *out = json_object();
	size_t i;

	for (i = 0; i < NFIELDS; i++) {
		const char *v = field_value(root, i);
		char name[64];

		snprintf(name, sizeof(name), PREFIX "%s", fields[i].key);
		if (v != NULL)
			json_object_set_new(out, name, json_string(v));
	}
	return out;
}

int powerfan_render(json_t *root, json_t *target, json_t *managed_before, int *reboot, char *err,
		    size_t errlen)
{
	json_t *os = json_object_get(root, "os"), *obj;
	int changed = 0;
	size_t i;

	*reboot = 0;
	if (os != NULL && !json_is_object(os)) {
		snprintf(err, errlen, "config.json: \"os\" is not an object: left as it is");
		return -1;
	}
	for (i = 0; i < NFIELDS; i++) {
		obj = json_object_get(os, fields[i].object);
		if (obj != NULL && !json_is_object(obj)) {
			snprintf(err, errlen,
				 "config.json: \"os.%s\" is not an object: left as it is",
				 fields[i].object);
			return -1;
		}
	}
	for (i = 0; i < NFIELDS; i++) {
		const char *want = json_string_value(json_object_get(target, fields[i].key));
		const char *have = field_value(root, i);

		if (want != NULL && (have == NULL || strcmp(have, want) != 0)) {
			if (os == NULL)
				json_object_set_new(root, "os", os = json_object());
			if ((obj = json_object_get(os, fields[i].object)) == NULL)
				json_object_set_new(os, fields[i].object, obj = json_object());
			json_object_set_new(obj, fields[i].field, json_string(want));
		} else if (want == NULL && have != NULL &&
			   jsonx_has_string(managed_before, fields[i].key)) {
			obj = json_object_get(os, fields[i].object);
			json_object_del(obj, fields[i].field);
			if (json_object_size(obj) == 0)
				json_object_del(os, fields[i].object);
		} else {
			continue;
		}
		changed = 1;
		if (i == 0)
			*reboot = 1; /* the power mode is applied at boot */
	}
	return changed;
}
