/*
 * locks.h - update locks, as the balena supervisor keeps them: per service,
 * <rundir>/services/<appId>/<service>/updates.lock and resin-updates.lock
 * (the directory is bind-mounted into the container at /tmp/balena and
 * /tmp/resin). A lock file owned by uid 65534 is agentd's own; any other
 * owner is the application's, and blocks kill/stop/rename until it goes,
 * unless forced (force, SUPERVISOR_OVERRIDE_LOCK). A lock file agentd makes
 * is owned by 65534 from the moment it has its name, so a cut (power, kill)
 * never leaves one that reads as the application's.
 */
#ifndef AGENTD_LOCKS_H
#define AGENTD_LOCKS_H

#include <stddef.h>

#define LOCK_OWNER_UID 65534

/// Create (mode 1777) the service's lock dir. -1 on failure.
int lock_dir_make(const char *rundir, int app_id, const char *service);
/// Path of the service's lock dir.
void lock_dir_path(const char *rundir, int app_id, const char *service, char *buf, size_t len);

/// Take the locks of `services` of one app: both files per service, owned by
/// uid 65534. With `force`, the application's lock files are removed first.
/// On a held user lock returns -1 with "Lockfile exists for { appId: N,
/// service: S }" in err and takes nothing. Other failures: -2.
int lock_take(const char *rundir, int app_id, const char *const *services, int n, int force,
	      char *err, size_t errlen);
/// Remove agentd's lock files of `services` (the application's stay).
void lock_release(const char *rundir, int app_id, const char *const *services, int n);
/// Remove the lock files a stopped agentd left (those owned by uid 65534,
/// as balena treats its own leftovers; the application's stay) from every
/// service's lock dir under `rundir`, with any half-made one. For the start,
/// when agentd holds no lock yet. Returns how many lock files went.
int lock_sweep(const char *rundir);
/// 1 if any service of the app has a lock file not owned by agentd.
int lock_user_held(const char *rundir, int app_id, const char *const *services, int n, char *which,
		   size_t len);

#endif
