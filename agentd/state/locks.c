/*
 * locks.c - update lock files (see locks.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filemodes.h"
#include "locks.h"
#include "log.h"

static const char *const lock_names[] = {"updates.lock", "resin-updates.lock"};

void lock_dir_path(const char *rundir, int app_id, const char *service, char *buf, size_t len)
{
	snprintf(buf, len, "%s/services/%d/%s", rundir, app_id, service);
}

int lock_dir_make(const char *rundir, int app_id, const char *service)
{
	char path[4096];

	/* The modes balena gives them, whatever agentd's umask: the lock dir is
	 * bound into the service's container, whose processes (any user) take
	 * and release the locks there. */
	snprintf(path, sizeof(path), "%s/services", rundir);
	if (filemodes_mkdir(path, 0755) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/services/%d", rundir, app_id);
	if (filemodes_mkdir(path, 0755) == -1)
		return -1;
	lock_dir_path(rundir, app_id, service, path, sizeof(path));
	if (mkdir(path, 01777) == -1 && errno != EEXIST)
		return -1;
	return chmod(path, 01777);
}

/* -1: no file, 0: ours, 1: the application's */
static int lock_owner(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == -1)
		return -1;
	return st.st_uid == LOCK_OWNER_UID ? 0 : 1;
}

int lock_user_held(const char *rundir, int app_id, const char *const *services, int n, char *which,
		   size_t len)
{
	char dir[4096], path[4200];
	int i, k;

	for (i = 0; i < n; i++) {
		lock_dir_path(rundir, app_id, services[i], dir, sizeof(dir));
		for (k = 0; k < 2; k++) {
			snprintf(path, sizeof(path), "%s/%s", dir, lock_names[k]);
			if (lock_owner(path) == 1) {
				if (which != NULL)
					snprintf(which, len, "%s", services[i]);
				return 1;
			}
		}
	}
	return 0;
}

void lock_release(const char *rundir, int app_id, const char *const *services, int n)
{
	char dir[4096], path[4200];
	int i, k;

	for (i = 0; i < n; i++) {
		lock_dir_path(rundir, app_id, services[i], dir, sizeof(dir));
		for (k = 0; k < 2; k++) {
			snprintf(path, sizeof(path), "%s/%s", dir, lock_names[k]);
			if (lock_owner(path) == 0 && unlink(path) == -1 && errno != ENOENT)
				log_warn("cannot remove lock %s", path);
		}
	}
}

int lock_take(const char *rundir, int app_id, const char *const *services, int n, int force,
	      char *err, size_t errlen)
{
	char dir[4096], path[4200], who[128];
	int i, k, fd;

	if (force) {
		for (i = 0; i < n; i++) {
			lock_dir_path(rundir, app_id, services[i], dir, sizeof(dir));
			for (k = 0; k < 2; k++) {
				snprintf(path, sizeof(path), "%s/%s", dir, lock_names[k]);
				if (lock_owner(path) == 1)
					unlink(path);
			}
		}
	} else if (lock_user_held(rundir, app_id, services, n, who, sizeof(who))) {
		snprintf(err, errlen, "Lockfile exists for { appId: %d, service: %s }", app_id,
			 who);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (lock_dir_make(rundir, app_id, services[i]) == -1) {
			snprintf(err, errlen, "cannot create the lock dir of %s: %s", services[i],
				 strerror(errno));
			lock_release(rundir, app_id, services, i);
			return -2;
		}
		lock_dir_path(rundir, app_id, services[i], dir, sizeof(dir));
		for (k = 0; k < 2; k++) {
			snprintf(path, sizeof(path), "%s/%s", dir, lock_names[k]);
			fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
			if (fd == -1 && errno == EEXIST && lock_owner(path) == 0)
				continue; /* a leftover of ours, from before a restart */
			if (fd == -1) {
				/* Someone took it between the check and now. */
				snprintf(err, errlen,
					 "Lockfile exists for { appId: %d, service: %s }", app_id,
					 services[i]);
				lock_release(rundir, app_id, services, i + 1);
				return errno == EEXIST ? -1 : -2;
			}
			/* balena's lock files: 0644, the user nobody's */
			if (fchmod(fd, 0644) == -1 ||
			    fchown(fd, LOCK_OWNER_UID, LOCK_OWNER_UID) == -1)
				log_warn("cannot chown %s", path);
			close(fd);
		}
	}
	return 0;
}
