/*
 * config.h - config.json, the balena device configuration on the boot
 * partition: read with type checks, and rewritten atomically (temp file,
 * fsync, rename, fsync of the directory; mode 0600).
 */
#ifndef AGENTD_CONFIG_H
#define AGENTD_CONFIG_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

struct device_config {
	json_t *root; /* owned: the whole document, unknown keys kept for rewrites */
	/* Borrowed views into root, checked by config_load(): */
	const char *api_endpoint; /* NULL or "" = unmanaged */
	int listen_port;          /* listenPort, default 48484 */
	const char *uuid;
	const char *device_type;
};

/// Load and type-check `path`. On failure returns -1 and writes a one-line
/// reason naming the file into err.
int config_load(const char *path, struct device_config *cfg, char *err, size_t errlen);
void config_free(struct device_config *cfg);
/// True when the device has a cloud to talk to.
int config_managed(const struct device_config *cfg);

/// The text of a (small: 1 MB at most) file, malloc'd; NULL if unreadable.
char *file_read_text(const char *path);
/// The bytes of a file of at most `max` bytes, malloc'd (with a NUL after
/// them), their number in *len; NULL if it cannot be read or is larger.
unsigned char *file_read_bytes(const char *path, size_t max, size_t *len);
/// Replace `path` with `len` bytes of `data`, atomically and durably (temp
/// file, fsync, rename, fsync of the directory), with `mode`.
int file_write_atomic(const char *path, const char *data, size_t len, mode_t mode, char *err,
		      size_t errlen);
/// Replace config.json `path` with `root` serialised, atomically and durably,
/// mode 0600 (a failure is counted under STORAGE_CONFIG_JSON, storage.h).
int config_write_atomic(const char *path, json_t *root, char *err, size_t errlen);

#endif
