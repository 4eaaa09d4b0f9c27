/*
 * filemodes.c - agentd's private files made private, and directories made
 * with the mode they need whatever the umask (see filemodes.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "filemodes.h"
#include "log.h"

#define MSDOS_MAGIC 0x4d44 /* FAT keeps no modes: chmod there fails or lies */

/* The files, under the data dir and the run dir, that only agentd may read. */
static const char *const data_files[] = {
	PATHS_DB_FILE, /* the API keys, the target, what agentd made */
	PATHS_DB_FILE "-wal", PATHS_DB_FILE "-shm", PATHS_DB_FILE "-journal",
	"boot-config.json", /* the boot-config keys agentd wrote */
};
static const char *const run_files[] = {
	"state-report-cache",  /* what the cloud has of the device's state */
	"target-state-config", /* the target's config vars (the OS reads it as root) */
	"reboot-after-apply",  /* the reboot breadcrumb */
};

static int secure_one(const char *path)
{
	struct statfs fs;
	struct stat st;

	if (lstat(path, &st) == -1 || !S_ISREG(st.st_mode) || (st.st_mode & 07177) == 0)
		return 0; /* absent, a link or not a file (left alone), or private */
	if (statfs(path, &fs) == 0 && fs.f_type == MSDOS_MAGIC)
		return 0;
	if (chmod(path, 0600) == -1) {
		log_warn("cannot make %s private (mode %04o)", path,
			 (unsigned)(st.st_mode & 07777));
		return 0;
	}
	log_info("%s was mode %04o: made 0600 (only agentd may read it)", path,
		 (unsigned)(st.st_mode & 07777));
	return 1;
}

int filemodes_secure(const struct paths *p)
{
	char path[PATH_MAX + 64];
	int n = 0;
	size_t i;

	for (i = 0; i < sizeof(data_files) / sizeof(data_files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", p->data_dir, data_files[i]);
		n += secure_one(path);
	}
	for (i = 0; i < sizeof(run_files) / sizeof(run_files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", p->run_dir, run_files[i]);
		n += secure_one(path);
	}
	n += secure_one(p->config); /* deviceApiKey, apiKey */
	return n;
}

int filemodes_mkdir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == -1)
		return errno == EEXIST ? 0 : -1;
	/* mkdir obeys the umask: set the mode asked for. */
	return chmod(path, mode);
}

int filemodes_mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	char *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (filemodes_mkdir(buf, mode) == -1)
			return -1;
		*p = '/';
	}
	return filemodes_mkdir(buf, mode);
}
