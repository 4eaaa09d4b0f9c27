/*
 * locks.c - update lock files (see locks.h).
 *
 * A power cut or a SIGKILL may stop agentd anywhere in here, so a lock file
 * comes to its name already owned by uid 65534 (lock_create), and whatever
 * a stopped agentd left is agentd's own to remove at the next start
 * (lock_sweep).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filemodes.h"
#include "locks.h"
#include "log.h"

static const char *const lock_names[] = {"updates.lock", "resin-updates.lock"};

/* The name a lock file has while agentd makes it: ".agentd-<lock>.<pid>". */
#define LOCK_TMP_PREFIX ".agentd-"

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

/* Make the lock file `name` in `dir`, owned by uid 65534 from the moment it
 * has its name: it is made under a name of agentd's own, given mode 0644 and
 * to 65534, then renamed to its name unless that exists (RENAME_NOREPLACE,
 * atomic like O_EXCL; no hard link, which protected_hardlinks would refuse
 * to a root without CAP_FOWNER). A cut at any point leaves no lock or one of
 * agentd's, never a root-owned file that would read as the application's
 * lock; a temporary name left behind is removed by lock_sweep(). 0, or -1
 * with errno (EEXIST: the lock exists). */
static int lock_create(const char *dir, const char *name)
{
	char tmp[4300], path[4200];
	int fd, rc, saved;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/" LOCK_TMP_PREFIX "%s.%d", dir, name, (int)getpid());
	unlink(tmp); /* left by an agentd that had this pid */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd == -1) {
		if (errno == EEXIST) /* the temporary name, not the lock */
			errno = EBUSY;
		return -1;
	}
	/* balena's lock files: 0644, the user nobody's, whatever the umask */
	if (fchmod(fd, 0644) == -1 || fchown(fd, LOCK_OWNER_UID, LOCK_OWNER_UID) == -1) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	close(fd);
	rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
	if (rc == -1 && (errno == EINVAL || errno == ENOSYS)) {
		/* a filesystem without RENAME_NOREPLACE: made at its name, then
		 * given away (a cut in between leaves a root-owned lock) */
		unlink(tmp);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644)) ==
		    -1)
			return -1;
		rc = fchmod(fd, 0644) == -1 || fchown(fd, LOCK_OWNER_UID, LOCK_OWNER_UID) == -1 ? -1
												: 0;
		saved = errno;
		close(fd);
		errno = saved;
		return rc;
	}
	saved = errno;
	if (rc == -1)
		unlink(tmp);
	errno = saved;
	return rc;
}

int lock_take(const char *rundir, int app_id, const char *const *services, int n, int force,
	      char *err, size_t errlen)
{
	char dir[4096], path[4200], who[128];
	int i, k, rc;

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
			if (lock_create(dir, lock_names[k]) == 0)
				continue;
			if (errno == EEXIST && lock_owner(path) == 0)
				continue;    /* ours already */
			if (errno == EEXIST) /* someone took it between the check and now */
				snprintf(err, errlen,
					 "Lockfile exists for { appId: %d, service: %s }", app_id,
					 services[i]);
			else
				snprintf(err, errlen, "cannot create the lock %s: %s", path,
					 strerror(errno));
			rc = errno == EEXIST ? -1 : -2;
			lock_release(rundir, app_id, services, i + 1);
			return rc;
		}
	}
	return 0;
}

/* dir/name into buf; -1 if it does not fit. */
static int lock_join(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Remove what a stopped agentd left in one service's lock dir. */
static int lock_sweep_dir(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *e;
	int removed = 0, k;
	DIR *d;

	for (k = 0; k < 2; k++)
		if (lock_join(path, sizeof(path), dir, lock_names[k]) == 0 &&
		    lock_owner(path) == 0 && unlink(path) == 0)
			removed++;
	if ((d = opendir(dir)) == NULL)
		return removed;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, LOCK_TMP_PREFIX, strlen(LOCK_TMP_PREFIX)) != 0 ||
		    lock_join(path, sizeof(path), dir, e->d_name) == -1)
			continue;
		if (unlink(path) == -1 && errno != ENOENT)
			log_warn("cannot remove %s", path);
	}
	closedir(d);
	return removed;
}

int lock_sweep(const char *rundir)
{
	char apps[PATH_MAX], app[PATH_MAX], svc[PATH_MAX];
	struct dirent *a, *s;
	DIR *da, *ds;
	int removed = 0;

	if (lock_join(apps, sizeof(apps), rundir, "services") == -1 || (da = opendir(apps)) == NULL)
		return 0;
	while ((a = readdir(da)) != NULL) {
		if (a->d_name[0] == '.' || lock_join(app, sizeof(app), apps, a->d_name) == -1 ||
		    (ds = opendir(app)) == NULL)
			continue;
		while ((s = readdir(ds)) != NULL)
			if (s->d_name[0] != '.' && lock_join(svc, sizeof(svc), app, s->d_name) == 0)
				removed += lock_sweep_dir(svc);
		closedir(ds);
	}
	closedir(da);
	return removed;
}
