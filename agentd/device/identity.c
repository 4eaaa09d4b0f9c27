/*
 * identity.c - who the device is (see identity.h): uuid, type, architecture,
 * OS version, and the device API key of a managed device.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/utsname.h>

#include "identity.h"
#include "log.h"

int identity_random_hex(char out[33])
{
	unsigned char rnd[16];
	int i;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -1;
	for (i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", rnd[i]);
	return 0;
}

/* balena's architecture names, from the kernel's machine name. */
static void identity_arch(char *out, size_t len)
{
	struct utsname u;

	uname(&u);
	if (strcmp(u.machine, "x86_64") == 0)
		snprintf(out, len, "amd64");
	else if (strncmp(u.machine, "armv7", 5) == 0)
		snprintf(out, len, "armv7hf");
	else if (strncmp(u.machine, "armv6", 5) == 0)
		snprintf(out, len, "rpi");
	else if (strcmp(u.machine, "i686") == 0)
		snprintf(out, len, "i386");
	else
		snprintf(out, len, "%.31s", u.machine);
}

/* PRETTY_NAME of the OS's os-release, or "Linux"; META_BALENA_VERSION, or "". */
static void identity_os(const char *path, struct device_id *id)
{
	char line[256];
	FILE *f;

	snprintf(id->os_version, sizeof(id->os_version), "Linux");
	if ((f = fopen(path, "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *v = strchr(line, '=');

		if (v == NULL)
			continue;
		*v++ = '\0';
		v[strcspn(v, "\r\n")] = '\0';
		if (v[0] == '"') {
			v++;
			v[strcspn(v, "\"")] = '\0';
		}
		if (strcmp(line, "PRETTY_NAME") == 0)
			snprintf(id->os_version, sizeof(id->os_version), "%.127s", v);
		else if (strcmp(line, "META_BALENA_VERSION") == 0)
			snprintf(id->os_meta_version, sizeof(id->os_meta_version), "%.63s", v);
	}
	fclose(f);
}

/* The boot partition's device-type.json {"slug", "arch"} (balenaOS writes it). */
static void identity_device_type(const char *boot_dir, char *type, size_t tlen, char *arch,
				 size_t alen)
{
	char path[4096];
	json_t *j;

	snprintf(path, sizeof(path), "%s/device-type.json", boot_dir);
	if ((j = json_load_file(path, 0, NULL)) == NULL)
		return;
	if (type[0] == '\0' && json_is_string(json_object_get(j, "slug")))
		snprintf(type, tlen, "%s", json_string_value(json_object_get(j, "slug")));
	if (json_is_string(json_object_get(j, "arch")))
		snprintf(arch, alen, "%s", json_string_value(json_object_get(j, "arch")));
	json_decref(j);
}

int identity_load(struct device_id *id, struct device_config *cfg, const char *config_path,
		  const char *os_release, const char *boot_dir, char *err, size_t errlen)
{
	const char *uuid = cfg->uuid, *type = cfg->device_type;

	memset(id, 0, sizeof(*id));
	if (uuid == NULL || uuid[0] == '\0') {
		if (identity_random_hex(id->uuid) == -1)
			return snprintf(err, errlen, "getrandom failed"), -1;
		json_object_set_new(cfg->root, "uuid", json_string(id->uuid));
		if (config_write_atomic(config_path, cfg->root, err, errlen) == -1)
			return -1;
		cfg->uuid = json_string_value(json_object_get(cfg->root, "uuid"));
		log_info("generated device uuid %s", id->uuid);
	} else {
		snprintf(id->uuid, sizeof(id->uuid), "%s", uuid);
	}
	snprintf(id->type, sizeof(id->type), "%s", type ? type : "");
	identity_arch(id->arch, sizeof(id->arch));
	identity_device_type(boot_dir, id->type, sizeof(id->type), id->arch, sizeof(id->arch));
	if (id->type[0] == '\0')
		snprintf(id->type, sizeof(id->type), "unknown");
	identity_os(os_release, id);
	return 0;
}

int identity_device_key(struct device_config *cfg, const char *config_path, char *err,
			size_t errlen)
{
	char key[33];

	if (!config_managed(cfg))
		return 0;
	if (json_string_value(json_object_get(cfg->root, "deviceApiKey")) != NULL)
		return 0;
	if (identity_random_hex(key) == -1)
		return snprintf(err, errlen, "getrandom failed"), -1;
	json_object_set_new(cfg->root, "deviceApiKey", json_string(key));
	return config_write_atomic(config_path, cfg->root, err, errlen);
}
