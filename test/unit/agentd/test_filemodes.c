/*
 * test_filemodes.c - secrets at rest: under agentd's umask 077, what it
 * keeps private is 0600, what others must use (lock dirs and files, the run
 * dir, the proxy settings the OS reads) keeps balena's modes, and private
 * files made before with wider modes are made 0600 at start-up, once.
 */
#include "testutil.h"

#include <limits.h>
#include <sys/stat.h>

#include "filemodes.h"
#include "hostconfig.h"
#include "locks.h"
#include "log.h"

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

static void make_file(const char *dir, const char *name, mode_t mode)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs("{}", f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static mode_t mode_in(const char *dir, const char *name)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return mode_of(path);
}

/* A device laid out as agentd finds it: data dir, run dir and config.json in tmp. */
static void device_paths(const char *tmp, struct paths *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->data_dir, sizeof(p->data_dir), "%s/data", tmp);
	snprintf(p->run_dir, sizeof(p->run_dir), "%s/run", tmp);
	snprintf(p->config, sizeof(p->config), "%s/config.json", tmp);
	assert_int_equal(mkdir(p->data_dir, 0755), 0);
	assert_int_equal(mkdir(p->run_dir, 0755), 0);
}

static void files_others_could_read_are_made_private_once(void **state)
{
	char *tmp = test_tmpdir(), link[PATH_MAX + 64];
	struct paths p;

	(void)state;
	device_paths(tmp, &p);
	make_file(p.data_dir, "agentd.sqlite", 0644);
	make_file(p.data_dir, "agentd.sqlite-wal", 0640);
	make_file(p.data_dir, "agentd.sqlite-shm", 0700);
	make_file(p.data_dir, "boot-config.json", 0644);
	make_file(p.data_dir, "apps.json", 0644);       /* the preload: not agentd's */
	make_file(p.data_dir, "database.sqlite", 0644); /* the Node supervisor's */
	make_file(p.run_dir, "state-report-cache", 0644);
	make_file(p.run_dir, "target-state-config", 0604);
	make_file(p.run_dir, "reboot-after-apply", 0644);
	make_file(tmp, "config.json", 0644);
	make_file(tmp, "elsewhere", 0644);
	/* a link is not followed */
	snprintf(link, sizeof(link), "%s/agentd.sqlite-journal", p.data_dir);
	snprintf(p.led_file, sizeof(p.led_file), "%s/elsewhere", tmp);
	assert_int_equal(symlink(p.led_file, link), 0);

	assert_int_equal(filemodes_secure(&p), 8);
	assert_int_equal(mode_in(p.data_dir, "agentd.sqlite"), 0600);
	assert_int_equal(mode_in(p.data_dir, "agentd.sqlite-wal"), 0600);
	assert_int_equal(mode_in(p.data_dir, "agentd.sqlite-shm"), 0600);
	assert_int_equal(mode_in(p.data_dir, "boot-config.json"), 0600);
	assert_int_equal(mode_in(p.run_dir, "state-report-cache"), 0600);
	assert_int_equal(mode_in(p.run_dir, "target-state-config"), 0600);
	assert_int_equal(mode_in(p.run_dir, "reboot-after-apply"), 0600);
	assert_int_equal(mode_of(p.config), 0600);
	assert_int_equal(mode_in(p.data_dir, "apps.json"), 0644);
	assert_int_equal(mode_in(p.data_dir, "database.sqlite"), 0644);
	assert_int_equal(mode_in(tmp, "elsewhere"), 0644);
	/* the directories are not changed */
	assert_int_equal(mode_of(p.data_dir), 0755);
	assert_int_equal(mode_of(p.run_dir), 0755);
	/* once: nothing left to change, nothing logged */
	assert_int_equal(filemodes_secure(&p), 0);
	test_rmtree(tmp);
	free(tmp);
}

static void private_files_are_left_as_they_are(void **state)
{
	char *tmp = test_tmpdir();
	struct paths p;

	(void)state;
	device_paths(tmp, &p);
	make_file(p.data_dir, "agentd.sqlite", 0600);
	make_file(p.data_dir, "boot-config.json", 0400);
	make_file(tmp, "config.json", 0600);
	assert_int_equal(filemodes_secure(&p), 0);
	assert_int_equal(mode_in(p.data_dir, "boot-config.json"), 0400);
	test_rmtree(tmp);
	free(tmp);
}

static void directories_get_their_mode_whatever_the_umask(void **state)
{
	char *tmp = test_tmpdir(), path[512], kept[512];
	mode_t old = umask(077);

	(void)state;
	snprintf(path, sizeof(path), "%s/a/b/c", tmp);
	assert_int_equal(filemodes_mkdirs(path, 0755), 0);
	assert_int_equal(mode_of(path), 0755);
	snprintf(kept, sizeof(kept), "%s/a", tmp);
	assert_int_equal(mode_of(kept), 0755);
	/* one that exists keeps its mode */
	snprintf(kept, sizeof(kept), "%s/mine", tmp);
	assert_int_equal(mkdir(kept, 0700), 0);
	assert_int_equal(filemodes_mkdirs(kept, 0755), 0);
	assert_int_equal(mode_of(kept), 0700);
	umask(old);
	test_rmtree(tmp);
	free(tmp);
}

/* What containers write and the OS reads keeps balena's modes. */
static void lock_dirs_and_files_keep_balena_s_modes(void **state)
{
	char *tmp = test_tmpdir(), err[256], path[512];
	const char *svc[] = {"main"};
	mode_t old = umask(077);
	struct stat st;

	(void)state;
	assert_int_equal(lock_take(tmp, 7, svc, 1, 0, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/services", tmp);
	assert_int_equal(mode_of(path), 0755);
	snprintf(path, sizeof(path), "%s/services/7", tmp);
	assert_int_equal(mode_of(path), 0755);
	snprintf(path, sizeof(path), "%s/services/7/main", tmp);
	assert_int_equal(mode_of(path), 01777);
	snprintf(path, sizeof(path), "%s/services/7/main/updates.lock", tmp);
	assert_int_equal(mode_of(path), 0644);
	assert_int_equal(lstat(path, &st), 0);
	if (geteuid() == 0)
		assert_int_equal(st.st_uid, LOCK_OWNER_UID);
	umask(old);
	test_rmtree(tmp);
	free(tmp);
}

static void proxy_settings_are_readable_but_the_password_is_not(void **state)
{
	char *tmp = test_tmpdir(), err[256], path[512];
	json_t *patch = test_json("{\"type\": \"socks5\", \"ip\": \"10.0.0.1\", \"port\": 1080, "
				  "\"login\": \"me\", \"password\": \"secret\", "
				  "\"noProxy\": [\"10.0.0.0/8\"]}");
	mode_t old = umask(077);

	(void)state;
	if (hostconfig_proxy_patch(tmp, patch, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	snprintf(path, sizeof(path), "%s/system-proxy", tmp);
	assert_int_equal(mode_of(path), 0755);
	snprintf(path, sizeof(path), "%s/system-proxy/redsocks.conf", tmp);
	assert_int_equal(mode_of(path), 0600);
	snprintf(path, sizeof(path), "%s/system-proxy/no_proxy", tmp);
	assert_int_equal(mode_of(path), 0644);
	umask(old);
	json_decref(patch);
	test_rmtree(tmp);
	free(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(files_others_could_read_are_made_private_once),
		cmocka_unit_test(private_files_are_left_as_they_are),
		cmocka_unit_test(directories_get_their_mode_whatever_the_umask),
		cmocka_unit_test(lock_dirs_and_files_keep_balena_s_modes),
		cmocka_unit_test(proxy_settings_are_readable_but_the_password_is_not),
	};

	log_init("test", LOG_TO_STDERR, 0);
	return cmocka_run_group_tests_name("filemodes", tests, NULL, NULL);
}
