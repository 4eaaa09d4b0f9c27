/*
 * fuzz_config.c - libFuzzer target: any bytes as config.json must be loaded
 * or refused with a reason, never crash; what loads has a listen port in
 * range. The bytes go through a memfd, so config_load reads a real file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	struct device_config cfg;
	char err[512];

	if (fd == -1) {
		fd = memfd_create("config.json", MFD_CLOEXEC);
		if (fd == -1)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) == -1 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
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
