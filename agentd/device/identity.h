/*
 * identity.h - who the device is: its uuid (made and saved in config.json
 * when missing, as balena does), device type, architecture (balena's names:
 * amd64, aarch64, armv7hf, rpi, i386) and OS version, and on a managed
 * device the device API key it makes for itself.
 */
#ifndef AGENTD_IDENTITY_H
#define AGENTD_IDENTITY_H

#include <stddef.h>

#include "config.h"

struct device_id {
	char uuid[64];
	char type[64];
	char arch[32];
	char os_version[128];
	char os_meta_version[64]; /* META_BALENA_VERSION ("2.45.1+rev3"), "" if none */
};

/// Fill `id` from config.json (`cfg`, written back to `config_path` when a
/// uuid had to be made), the boot partition's device-type.json (slug and arch,
/// when config.json has no deviceType), uname and the OS's `os_release`.
/// -1 with a reason when config.json cannot be written.
int identity_load(struct device_id *id, struct device_config *cfg, const char *config_path,
		  const char *os_release, const char *boot_dir, char *err, size_t errlen);
/// Managed devices: make the device API key if config.json has none (the
/// device makes its own; the cloud never hands one out). -1 with a reason.
int identity_device_key(struct device_config *cfg, const char *config_path, char *err,
			size_t errlen);
/// 32 random hex digits (a key or a uuid). -1 if the kernel gave no randomness.
int identity_random_hex(char out[33]);

#endif
