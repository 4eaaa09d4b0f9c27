/*
 * fuzz_extlinux.c - libFuzzer target: any extlinux.conf (the input, after
 * its first byte) read and rendered with one of a few targets (the first
 * byte picks it, and whether agentd wrote keys before) must not crash; a
 * render of agentd's own output must give the same text (or the device
 * would rewrite it and reboot forever), and reads back as the target.
 */
#include <stdint.h>
#include <stdlib.h>

#include "bootfuzz.h"
#include "extlinux.h"

static const char *const targets[] = {
	"{}",
	"{\"isolcpus\":\"2\"}",
	"{\"fdt\":\"/boot/x.dtb\"}",
	"{\"isolcpus\":\"\",\"fdt\":\"/boot/tegra.dtb\"}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bootfuzz b;
	char *once, err[256];
	json_t *cur;

	if (!bootfuzz_start(&b, data, size, targets, "[\"isolcpus\", \"fdt\"]"))
		return 0;
	json_decref(extlinux_current(b.text, err, sizeof(err)));
	once = extlinux_render(b.text, b.target, b.before, err, sizeof(err));
	if (once != NULL) {
		bootfuzz_same_again(once,
				    extlinux_render(once, b.target, b.keys, err, sizeof(err)));
		if ((cur = extlinux_current(once, err, sizeof(err))) != NULL) {
			bootfuzz_reads_back(cur, b.target, EXTLINUX_PREFIX);
			json_decref(cur);
		}
	}
	free(once);
	bootfuzz_end(&b);
	return 0;
}
