/*
 * fuzz_settings.c - libFuzzer target: any bytes as agentd.json must be
 * loaded or refused with a reason, never crash or leak (settings_free
 * releases what a load filled, whether it succeeded or not).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	struct settings s;
	char err[512];

	if (fd == -1) {
		fd = memfd_create("agentd.json", MFD_CLOEXEC);
		if (fd == -1)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) == -1 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	settings_default(&s);
	err[0] = '\0';
	if (settings_load(path, &s, err, sizeof(err)) == -1 && err[0] == '\0')
		abort(); /* a refusal says why */
	settings_free(&s);
	return 0;
}
