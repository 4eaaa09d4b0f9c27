/*
 * fuzz_configfs.c - libFuzzer target: any configfs.json (the input, after
 * its first byte) read and rendered with one of a few targets must not
 * crash; a render of agentd's own output gives the same text, and its
 * tables are the target's.
 */
#include <stdint.h>
#include <stdlib.h>

#include "bootfuzz.h"
#include "configfs.h"

static const char *const targets[] = {
	"{}",
	"{\"ssdt\":[\"spidev1.0\"]}",
	"{\"ssdt\":[\"a\",\"b-2\"]}",
	"{\"ssdt\":[]}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bootfuzz b;
	char *once, err[256];
	json_t *tables, *want;

	if (!bootfuzz_start(&b, data, size, targets, "[\"ssdt\"]"))
		return 0;
	json_decref(configfs_current(b.text));
	json_decref(configfs_tables(b.text));
	once = configfs_render(b.text, b.target, b.before, err, sizeof(err));
	if (once != NULL) {
		bootfuzz_same_again(once,
				    configfs_render(once, b.target, b.keys, err, sizeof(err)));
		tables = configfs_tables(once);
		if ((want = json_object_get(b.target, "ssdt")) != NULL && !json_equal(tables, want))
			abort();
		json_decref(tables);
	}
	free(once);
	bootfuzz_end(&b);
	return 0;
}
