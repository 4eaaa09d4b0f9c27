/*
 * fuzz_settings.c - libFuzzer target: any bytes as agentd.json must be
 * loaded or refused with a reason, never crash or leak (settings_free
 * releases what a load filled, whether it succeeded or not).
 */
#include <stdlib.h>

#include "memfile.h"
#include "settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = memfile("agentd.json", data, size);
	struct settings s;
	char err[512];

	settings_default(&s);
	err[0] = '\0';
	if (settings_load(path, &s, err, sizeof(err)) == -1 && err[0] == '\0')
		abort(); /* a refusal says why */
	settings_free(&s);
	return 0;
}
