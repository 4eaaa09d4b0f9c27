/*
 * fuzz_configfs.c - libFuzzer target: any configfs.json (the input, after
 * its first byte) read and rendered with one of a few targets must not
 * crash; a render of agentd's own output gives the same text, and its
 * tables are the target's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "configfs.h"

static const char *const targets[] = {
	"{}",
	"{\"ssdt\":[\"spidev1.0\"]}",
	"{\"ssdt\":[\"a\",\"b-2\"]}",
	"{\"ssdt\":[]}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *t, *keys, *before = NULL, *tables;
	char *text, *once, *twice, err[256];

	if (size == 0)
		return 0;
	t = json_loads(targets[data[0] % 4], 0, NULL);
	keys = configfs_keys(t);
	if (data[0] & 0x10)
		before = json_pack("[s]", "ssdt");
	text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	json_decref(configfs_current(text));
	json_decref(configfs_tables(text));
	once = configfs_render(text, t, before, err, sizeof(err));
	if (once != NULL) {
		twice = configfs_render(once, t, keys, err, sizeof(err));
		if (twice == NULL || strcmp(once, twice) != 0)
			abort();
		free(twice);
		tables = configfs_tables(once);
		if (json_object_get(t, "ssdt") != NULL &&
		    !json_equal(tables, json_object_get(t, "ssdt")))
			abort();
		json_decref(tables);
	}
	free(text);
	free(once);
	json_decref(before);
	json_decref(keys);
	json_decref(t);
	return 0;
}
