/*
 * fuzz_uenv.c - libFuzzer target: any extra_uEnv.txt (the input, after its
 * first byte) read and rendered with one of a few targets (the first byte
 * picks it, and whether agentd wrote keys before) must not crash; a render
 * of agentd's own output gives the same text and reads back as the target.
 */
#include <stdint.h>
#include <stdlib.h>

#include "bootfuzz.h"
#include "extlinux.h"
#include "uenv.h"

static const char *const targets[] = {
	"{}",
	"{\"isolcpus\":\"2\"}",
	"{\"fdt\":\"/boot/x.dtb\"}",
	"{\"isolcpus\":\"\",\"fdt\":\"tegra.dtb\"}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bootfuzz b;
	char *once;
	json_t *cur;

	if (!bootfuzz_start(&b, data, size, targets, "[\"isolcpus\", \"fdt\"]"))
		return 0;
	json_decref(uenv_current(b.text));
	once = uenv_render(b.text, b.target, b.before);
	if (once != NULL) {
		bootfuzz_same_again(once, uenv_render(once, b.target, b.keys));
		cur = uenv_current(once);
		bootfuzz_reads_back(cur, b.target, EXTLINUX_PREFIX);
		json_decref(cur);
	}
	free(once);
	bootfuzz_end(&b);
	return 0;
}
