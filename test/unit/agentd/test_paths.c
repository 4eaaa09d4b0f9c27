/*
 * test_paths.c - where agentd looks for the device's files: flags, then the
 * start script's environment, then agentd.json, then the host root (the
 * supervisor container's /mnt/root), then the defaults.
 */
#include <stdlib.h>
#include <sys/stat.h>

#include "testutil.h"

#include "paths.h"

static const char *const vars[] = {
	"AGENTD_HOST_ROOT",        "AGENTD_HOST_RUN_DIR",  "BOOT_MOUNTPOINT",
	"STATE_MOUNTPOINT",        "HOST_OS_VERSION_PATH", "LED_FILE",
	"CONFIG_MOUNT_POINT",      "AGENTD_DATA_DIR",      "AGENTD_RUN_DIR",
	"DBUS_SYSTEM_BUS_ADDRESS", "DATA_MOUNTPOINT",      NULL};

static int clean_env(void **state)
{
	int i;

	(void)state;
	for (i = 0; vars[i] != NULL; i++)
		unsetenv(vars[i]);
	return 0;
}

static void plain_host_uses_the_defaults(void **state)
{
	struct paths_flags f = {NULL, NULL, NULL};
	struct settings set;
	struct paths p;

	(void)state;
	setenv("AGENTD_HOST_ROOT", "", 1);
	settings_default(&set);
	paths_resolve(&p, &f, &set);
	assert_string_equal(p.host_root, "");
	assert_string_equal(p.config, "/mnt/boot/config.json");
	assert_string_equal(p.boot_dir, "/mnt/boot");
	assert_string_equal(p.state_dir, "/mnt/state");
	assert_string_equal(p.data_dir, "/data");
	assert_string_equal(p.db, "/data/agentd.sqlite");
	assert_string_equal(p.preload, "/data/apps.json");
	assert_string_equal(p.run_dir, "/tmp/balena-supervisor");
	assert_string_equal(p.host_run_dir, "/tmp/balena-supervisor");
	assert_string_equal(p.os_release, "/etc/os-release");
	assert_string_equal(p.led_file, "/sys/class/leds/led0/brightness");
	assert_string_equal(p.dbus, "");
	assert_string_equal(p.configfs_dir, "/sys/kernel/config");
	assert_string_equal(p.acpi_tables_dir, "/boot/acpi-tables");
	assert_string_equal(p.odmdata_device, "/dev/mmcblk0boot0");
	assert_string_equal(p.odmdata_force_ro, "/sys/block/mmcblk0boot0/force_ro");
	assert_string_equal(p.vpn_status_dir, "/run/openvpn/vpn_status");
	settings_free(&set);
}

static void the_host_root_holds_the_hosts_files(void **state)
{
	char *dir = test_tmpdir(), sock[512], want[600];
	struct paths_flags f = {NULL, NULL, NULL};
	struct settings set;
	struct paths p;

	(void)state;
	snprintf(sock, sizeof(sock), "%s/run", dir);
	mkdir(sock, 0755);
	snprintf(sock, sizeof(sock), "%s/run/dbus", dir);
	mkdir(sock, 0755);
	snprintf(sock, sizeof(sock), "%s/run/dbus/system_bus_socket", dir);
	test_write_file(sock, "");
	setenv("AGENTD_HOST_ROOT", dir, 1);
	setenv("LED_FILE", "/sys/class/leds/x/brightness", 1);
	settings_default(&set);
	paths_resolve(&p, &f, &set);
	assert_string_equal(p.host_root, dir);
	snprintf(want, sizeof(want), "%s/mnt/boot/config.json", dir);
	assert_string_equal(p.config, want);
	snprintf(want, sizeof(want), "%s/mnt/state", dir);
	assert_string_equal(p.state_dir, want);
	snprintf(want, sizeof(want), "%s/tmp/balena-supervisor", dir);
	assert_string_equal(p.run_dir, want);
	/* the engine binds lock dirs by the host's own path */
	assert_string_equal(p.host_run_dir, "/tmp/balena-supervisor");
	snprintf(want, sizeof(want), "%s/etc/os-release", dir);
	assert_string_equal(p.os_release, want);
	/* balenaOS preloads on its data partition */
	snprintf(want, sizeof(want), "%s/mnt/data/apps.json", dir);
	assert_string_equal(p.preload, want);
	snprintf(want, sizeof(want), "unix:path=%s", sock);
	assert_string_equal(p.dbus, want);
	assert_string_equal(p.led_file, "/sys/class/leds/x/brightness");
	/* the boards' device files and the VPN's status are the host's */
	snprintf(want, sizeof(want), "%s/sys/kernel/config", dir);
	assert_string_equal(p.configfs_dir, want);
	snprintf(want, sizeof(want), "%s/dev/mmcblk0boot0", dir);
	assert_string_equal(p.odmdata_device, want);
	snprintf(want, sizeof(want), "%s/run/openvpn/vpn_status", dir);
	assert_string_equal(p.vpn_status_dir, want);
	settings_free(&set);
	test_rmtree(dir);
	free(dir);
}

static void flags_environment_and_agentd_json_win(void **state)
{
	struct paths_flags f = {NULL, NULL, "/var/run/x"};
	struct settings set;
	struct paths p;

	(void)state;
	setenv("AGENTD_HOST_ROOT", "/nonexistent-root", 1);
	setenv("CONFIG_MOUNT_POINT", "/cfg/config.json", 1);
	setenv("BOOT_MOUNTPOINT", "/boot2", 1);
	setenv("LED_FILE", "/dev/null", 1);
	settings_default(&set);
	set.state_dir_set = 1;
	snprintf(set.state_dir, sizeof(set.state_dir), "/st");
	set.led_file_set = 1;
	snprintf(set.led_file, sizeof(set.led_file), "/led");
	snprintf(set.odmdata_device, sizeof(set.odmdata_device), "/tmp/odm");
	paths_resolve(&p, &f, &set);
	assert_string_equal(p.odmdata_device, "/tmp/odm");
	assert_string_equal(p.config, "/cfg/config.json");
	assert_string_equal(p.boot_dir, "/nonexistent-root/boot2");
	assert_string_equal(p.state_dir, "/st");
	assert_string_equal(p.led_file, "/led");
	/* a run dir of the operator's: the host sees it where agentd does */
	assert_string_equal(p.run_dir, "/var/run/x");
	assert_string_equal(p.host_run_dir, "/var/run/x");
	settings_free(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(plain_host_uses_the_defaults, clean_env),
		cmocka_unit_test_setup(the_host_root_holds_the_hosts_files, clean_env),
		cmocka_unit_test_setup(flags_environment_and_agentd_json_win, clean_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
