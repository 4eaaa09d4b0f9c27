/*
 * memfile.h - for fuzz targets whose code under test reads a file: the
 * input written to one memory file (memfd), reused for every run, and the
 * path that opens it.
 */
#ifndef AGENTD_FUZZ_MEMFILE_H
#define AGENTD_FUZZ_MEMFILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static inline const char *memfile(const char *name, const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];

	if (fd == -1) {
		fd = memfd_create(name, MFD_CLOEXEC);
		if (fd == -1)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) == -1 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	return path;
}

#endif
