/*
 * bootfuzz.h - for the fuzz targets of the boot-config backends that render
 * a file (fuzz_extlinux.c, fuzz_uenv.c, fuzz_configfs.c): one round's target
 * and file from the input, and the checks every render of agentd's own
 * output must pass (or the device would rewrite its file and reboot
 * forever).
 */
#ifndef AGENTD_FUZZ_BOOTFUZZ_H
#define AGENTD_FUZZ_BOOTFUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonx.h"

struct bootfuzz {
	json_t *target; /* the backend's target (owned) */
	json_t *keys;   /* its keys: managed_before of the second render (owned) */
	json_t *before; /* managed_before of the first render: NULL or all keys (owned) */
	char *text;     /* the file (owned) */
};

/// One round from the input: its first byte picks one of the four `targets`
/// and whether agentd wrote `all_keys` (a JSON list) before; the rest is the
/// file. 0 for an empty input (nothing to do).
static inline int bootfuzz_start(struct bootfuzz *b, const uint8_t *data, size_t size,
				 const char *const targets[4], const char *all_keys)
{
	if (size == 0)
		return 0;
	b->target = json_loads(targets[data[0] % 4], 0, NULL);
	b->keys = jsonx_keys(b->target);
	b->before = data[0] & 0x10 ? json_loads(all_keys, 0, NULL) : NULL;
	b->text = malloc(size);
	memcpy(b->text, data + 1, size - 1);
	b->text[size - 1] = '\0';
	return 1;
}

static inline void bootfuzz_end(struct bootfuzz *b)
{
	free(b->text);
	json_decref(b->before);
	json_decref(b->keys);
	json_decref(b->target);
}

/// Abort unless rendering agentd's output `once` again gave `twice` (freed
/// here), the very same text.
static inline void bootfuzz_same_again(const char *once, char *twice)
{
	if (twice == NULL || strcmp(once, twice) != 0)
		abort();
	free(twice);
}

/// Abort unless the file read back (`current`, config vars) sets every key
/// of the target as `prefix`<key> with the target's value.
static inline void bootfuzz_reads_back(json_t *current, json_t *target, const char *prefix)
{
	const char *k;
	json_t *v;

	json_object_foreach(target, k, v) {
		char name[64];
		const char *got;

		snprintf(name, sizeof(name), "%s%s", prefix, k);
		got = json_string_value(json_object_get(current, name));
		if (got == NULL || strcmp(got, json_string_value(v)) != 0)
			abort();
	}
}

#endif
