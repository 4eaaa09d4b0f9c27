/*
 * fuzz_bootcfg.c - libFuzzer target: any config.txt (the input, after its
 * first byte) rendered with one of a few targets (the first byte picks it)
 * must not crash, and rendering agentd's own output again must give the
 * same text (or the device would rewrite config.txt and reboot forever);
 * config.txt read back (bootcfg_current) must not crash either, and gives
 * the target's single-value keys as the target has them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootcfg.h"

static const char *const targets[] = {
	"{}",
	"{\"gpu_mem\":\"64\"}",
	"{\"dtoverlay\":[\"vc4-kms-v3d,cma-256\",\"balena-fin\"],\"dtparam\":[\"spi=on\"]}",
	"{\"enable_uart\":\"1\",\"gpio\":[\"4=op\",\"5=ip\"]}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *t, *keys, *before;
	char *text, *once, *twice;

	if (size == 0)
		return 0;
	t = json_loads(targets[data[0] % 4], 0, NULL);
	before = json_loads(targets[(data[0] >> 2) % 4], 0, NULL);
	keys = bootcfg_keys(t);
	{
		json_t *old = bootcfg_keys(before);

		json_decref(before);
		before = (data[0] & 0x10) ? old : (json_decref(old), NULL);
	}
	text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	json_decref(bootcfg_current(text));
	once = bootcfg_render(text, t, before);
	twice = once ? bootcfg_render(once, t, keys) : NULL;
	if (once != NULL && (twice == NULL || strcmp(once, twice) != 0))
		abort();
	if (once != NULL) {
		json_t *cur = bootcfg_current(once), *v;
		const char *k;

		json_object_foreach(t, k, v) {
			char name[64];

			snprintf(name, sizeof(name), "HOST_CONFIG_%s", k);
			if (json_is_string(v) && !json_equal(json_object_get(cur, name), v))
				abort();
		}
		json_decref(cur);
	}
	free(text);
	free(once);
	free(twice);
	json_decref(before);
	json_decref(keys);
	json_decref(t);
	return 0;
}
