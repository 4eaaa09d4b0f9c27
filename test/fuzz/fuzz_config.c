/*
 * fuzz_config.c - libFuzzer target: any bytes as config.json must be loaded
 * or refused with a reason, never crash; what loads has a listen port in
 * range. The bytes go through a memfd, so config_load reads a real file.
 */
#include <stdlib.h>

#include "memfile.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = memfile("config.json", data, size);
	struct device_config cfg;
	char err[512];

	err[0] = '\0';
	if (config_load(path, &cfg, err, sizeof(err)) == 0) {
		if (cfg.listen_port < 1 || cfg.listen_port > 65535)
			abort();
		(void)config_managed(&cfg);
		config_free(&cfg);
	} else if (err[0] == '\0') {
		abort(); /* a refusal says why */
	}
	return 0;
}
