/*
 * test_locks.c - update lock files: agentd's are owned by uid 65534, an
 * application's lock blocks until it goes unless forced, releasing never
 * touches the application's own lock, and what a stopped agentd left (its
 * locks, a half-made one) is swept at the next start, the application's
 * locks kept.
 */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "locks.h"

static char *dir;
static const char *const svcs[] = {"main", "db"};

static int setup(void **state)
{
	(void)state;
	dir = test_tmpdir();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	test_rmtree(dir);
	free(dir);
	return 0;
}

static int owner_of(const char *svc, const char *file)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/services/7/%s/%s", dir, svc, file);
	return stat(path, &st) == 0 ? (int)st.st_uid : -1;
}

static void user_lock(const char *svc)
{
	char path[512];

	assert_int_equal(lock_dir_make(dir, 7, svc), 0);
	snprintf(path, sizeof(path), "%s/services/7/%s/updates.lock", dir, svc);
	test_write_file(path, "");
	assert_int_equal(chown(path, 0, 0), 0);
}

static void taking_creates_both_files_owned_by_65534(void **state)
{
	char err[256];
	struct stat st;
	char path[512];

	(void)state;
	assert_int_equal(lock_take(dir, 7, svcs, 2, 0, err, sizeof(err)), 0);
	assert_int_equal(owner_of("main", "updates.lock"), LOCK_OWNER_UID);
	assert_int_equal(owner_of("main", "resin-updates.lock"), LOCK_OWNER_UID);
	assert_int_equal(owner_of("db", "updates.lock"), LOCK_OWNER_UID);
	snprintf(path, sizeof(path), "%s/services/7/main", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 01777);
	/* taking again (e.g. after a restart) reuses our own leftovers */
	assert_int_equal(lock_take(dir, 7, svcs, 2, 0, err, sizeof(err)), 0);
	lock_release(dir, 7, svcs, 2);
	assert_int_equal(owner_of("main", "updates.lock"), -1);
	assert_int_equal(owner_of("db", "resin-updates.lock"), -1);
}

static void application_lock_blocks_with_the_balena_message(void **state)
{
	char err[256] = "";

	(void)state;
	user_lock("db");
	assert_int_equal(lock_take(dir, 7, svcs, 2, 0, err, sizeof(err)), -1);
	assert_string_equal(err, "Lockfile exists for { appId: 7, service: db }");
	/* nothing was taken */
	assert_int_equal(owner_of("main", "updates.lock"), -1);
	assert_int_equal(lock_user_held(dir, 7, svcs, 2, NULL, 0), 1);
}

static void force_removes_the_application_lock(void **state)
{
	char err[256];

	(void)state;
	user_lock("main");
	assert_int_equal(lock_take(dir, 7, svcs, 2, 1, err, sizeof(err)), 0);
	assert_int_equal(owner_of("main", "updates.lock"), LOCK_OWNER_UID);
}

static void release_leaves_the_application_lock_alone(void **state)
{
	(void)state;
	user_lock("main");
	lock_release(dir, 7, svcs, 2);
	assert_int_equal(owner_of("main", "updates.lock"), 0);
}

/* The names in a service's lock dir, sorted, joined by spaces. */
static void names_in(const char *svc, char *out, size_t len)
{
	char path[512], *names[16];
	struct dirent *e;
	int n = 0, i, j;
	DIR *d;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/services/7/%s", dir, svc);
	assert_non_null(d = opendir(path));
	while ((e = readdir(d)) != NULL && n < 16)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			names[n++] = strdup(e->d_name);
	closedir(d);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (strcmp(names[j], names[i]) < 0) {
				char *t = names[i];

				names[i] = names[j];
				names[j] = t;
			}
	for (i = 0; i < n; i++) {
		snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? " " : "", names[i]);
		free(names[i]);
	}
}

static void taking_leaves_only_the_two_lock_files(void **state)
{
	char err[256], names[256];

	(void)state;
	assert_int_equal(lock_take(dir, 7, svcs, 1, 0, err, sizeof(err)), 0);
	names_in("main", names, sizeof(names));
	assert_string_equal(names, "resin-updates.lock updates.lock");
}

/* A cut while agentd made a lock leaves at most its temporary name, owned by
 * root: that is no lock, for agentd or the application. */
static void a_half_made_lock_is_no_lock(void **state)
{
	char err[256], path[512], names[256];

	(void)state;
	assert_int_equal(lock_dir_make(dir, 7, "main"), 0);
	snprintf(path, sizeof(path), "%s/services/7/main/.agentd-updates.lock.99999", dir);
	test_write_file(path, "");
	assert_int_equal(chown(path, 0, 0), 0);
	assert_int_equal(lock_user_held(dir, 7, svcs, 2, NULL, 0), 0);
	assert_int_equal(lock_take(dir, 7, svcs, 2, 0, err, sizeof(err)), 0);
	assert_int_equal(owner_of("main", "updates.lock"), LOCK_OWNER_UID);
	lock_release(dir, 7, svcs, 2);
	assert_int_equal(lock_sweep(dir), 0);
	names_in("main", names, sizeof(names));
	assert_string_equal(names, "");
}

static void sweep_removes_what_a_stopped_agentd_held_and_keeps_the_applications(void **state)
{
	char err[256], path[512];
	static const char *const other[] = {"other"};

	(void)state;
	assert_int_equal(lock_take(dir, 7, svcs, 2, 0, err, sizeof(err)), 0);
	user_lock("other");
	/* only one of a service's two files: a cut between the two unlinks */
	snprintf(path, sizeof(path), "%s/services/7/db/resin-updates.lock", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(lock_sweep(dir), 3);
	assert_int_equal(owner_of("main", "updates.lock"), -1);
	assert_int_equal(owner_of("main", "resin-updates.lock"), -1);
	assert_int_equal(owner_of("db", "updates.lock"), -1);
	assert_int_equal(owner_of("other", "updates.lock"), 0);
	assert_int_equal(lock_user_held(dir, 7, other, 1, NULL, 0), 1);
	/* nothing left to sweep; a run dir without services is fine */
	assert_int_equal(lock_sweep(dir), 0);
	assert_int_equal(lock_sweep("/nonexistent/agentd-run"), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(taking_creates_both_files_owned_by_65534),
		T(application_lock_blocks_with_the_balena_message),
		T(force_removes_the_application_lock),
		T(release_leaves_the_application_lock_alone),
		T(taking_leaves_only_the_two_lock_files),
		T(a_half_made_lock_is_no_lock),
		T(sweep_removes_what_a_stopped_agentd_held_and_keeps_the_applications),
	};

	return cmocka_run_group_tests_name("locks", tests, NULL, NULL);
}
