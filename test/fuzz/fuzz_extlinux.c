/*
 * fuzz_extlinux.c - libFuzzer target: any extlinux.conf (the input, after
 * its first byte) read and rendered with one of a few targets (the first
 * byte picks it, and whether agentd wrote keys before) must not crash; a
 * render of agentd's own output must give the same text (or the device
 * would rewrite it and reboot forever), and reads back as the target.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "extlinux.h"

static const char *const targets[] = {
	"{}",
	"{\"isolcpus\":\"2\"}",
	"{\"fdt\":\"/boot/x.dtb\"}",
	"{\"isolcpus\":\"\",\"fdt\":\"/boot/tegra.dtb\"}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *t, *keys, *before = NULL, *cur;
	char *text, *once, *twice, err[256];
	const char *k;
	json_t *v;

	if (size == 0)
		return 0;
	t = json_loads(targets[data[0] % 4], 0, NULL);
	keys = extlinux_keys(t);
	if (data[0] & 0x10)
		before = json_pack("[s, s]", "isolcpus", "fdt");
	text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	json_decref(extlinux_current(text, err, sizeof(err)));
	once = extlinux_render(text, t, before, err, sizeof(err));
	if (once != NULL) {
		twice = extlinux_render(once, t, keys, err, sizeof(err));
		if (twice == NULL || strcmp(once, twice) != 0)
			abort();
		free(twice);
		if ((cur = extlinux_current(once, err, sizeof(err))) != NULL) {
			json_object_foreach(t, k, v) {
				const char *got = json_string_value(json_object_get(
					cur, !strcmp(k, "fdt") ? EXTLINUX_PREFIX "fdt"
							       : EXTLINUX_PREFIX "isolcpus"));

				if (got == NULL || strcmp(got, json_string_value(v)) != 0)
					abort();
			}
			json_decref(cur);
		}
	}
	free(text);
	free(once);
	json_decref(before);
	json_decref(keys);
	json_decref(t);
	return 0;
}
