/*
 * paths.c - where the device's files are (see paths.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"

#define HOST_RUN_DIR "/tmp/balena-supervisor"

/* a then b into out; a path too long for out leaves it empty (and is refused
 * wherever it is used). */
static void join(char *out, size_t len, const char *a, const char *b)
{
	int n = snprintf(out, len, "%s%s", a, b);

	if (n < 0 || (size_t)n >= len)
		out[0] = '\0';
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void host_root(struct paths *p)
{
	const char *r = getenv("AGENTD_HOST_ROOT");
	char probe[PATH_MAX];

	if (r != NULL) { /* set, even empty: the operator decides */
		join(p->host_root, sizeof(p->host_root), r, "");
	} else {
		snprintf(probe, sizeof(probe), "/mnt/root/mnt/boot");
		p->balenaos = is_dir(probe);
		join(p->host_root, sizeof(p->host_root), p->balenaos ? "/mnt/root" : "", "");
	}
	/* "/" means the host's own root: no prefix */
	if (strcmp(p->host_root, "/") == 0)
		p->host_root[0] = '\0';
}

/* `first` if set, else `second` if set, else host root + `rel`. */
static void pick(char *out, size_t len, const char *first, const char *second, const char *root,
		 const char *rel)
{
	if (first != NULL && first[0] != '\0')
		join(out, len, first, "");
	else if (second != NULL && second[0] != '\0')
		join(out, len, second, "");
	else
		join(out, len, root, rel);
}

void paths_set_data_dir(struct paths *p, const char *abs)
{
	join(p->data_dir, sizeof(p->data_dir), abs, "");
	join(p->db, sizeof(p->db), abs, "/" PATHS_DB_FILE);
	/* balenaOS preloads apps.json on the data partition (/mnt/data) */
	if (p->host_root[0] != '\0')
		snprintf(p->preload, sizeof(p->preload), "%.*s%s/apps.json", 1024, p->host_root,
			 env("DATA_MOUNTPOINT") ? env("DATA_MOUNTPOINT") : "/mnt/data");
	else
		join(p->preload, sizeof(p->preload), abs, "/apps.json");
}

void paths_set_run_dir(struct paths *p, const char *abs)
{
	char ours[PATH_MAX];
	const char *host = env("AGENTD_HOST_RUN_DIR");

	join(ours, sizeof(ours), p->host_root, HOST_RUN_DIR);
	join(p->run_dir, sizeof(p->run_dir), abs, "");
	if (host != NULL)
		join(p->host_run_dir, sizeof(p->host_run_dir), host, "");
	else if (p->host_root[0] != '\0' && strcmp(abs, ours) == 0)
		join(p->host_run_dir, sizeof(p->host_run_dir), HOST_RUN_DIR, "");
	else
		join(p->host_run_dir, sizeof(p->host_run_dir), abs, "");
}

void paths_resolve(struct paths *p, const struct paths_flags *f, const struct settings *set)
{
	const char *boot = env("BOOT_MOUNTPOINT") ? env("BOOT_MOUNTPOINT") : "/mnt/boot";
	char rel[PATH_MAX], sock[PATH_MAX];

	memset(p, 0, sizeof(*p));
	host_root(p);
	/* config.json: on the boot partition, as the host mounts it */
	join(rel, sizeof(rel), boot, "/config.json");
	pick(p->config, sizeof(p->config), f->config, env("CONFIG_MOUNT_POINT"), p->host_root, rel);
	pick(p->boot_dir, sizeof(p->boot_dir), set->boot_dir_set ? set->boot_dir : NULL, NULL,
	     p->host_root, boot);
	pick(p->state_dir, sizeof(p->state_dir), set->state_dir_set ? set->state_dir : NULL, NULL,
	     p->host_root, env("STATE_MOUNTPOINT") ? env("STATE_MOUNTPOINT") : "/mnt/state");
	pick(p->os_release, sizeof(p->os_release), env("HOST_OS_VERSION_PATH"), NULL, p->host_root,
	     "/etc/os-release");
	pick(p->led_file, sizeof(p->led_file), set->led_file_set ? set->led_file : NULL,
	     env("LED_FILE"), "", set->led_file);
	/* some boards' boot config, the VPN's status: the host's, or agentd.json's */
	pick(p->configfs_dir, sizeof(p->configfs_dir), set->configfs_dir, NULL, p->host_root,
	     "/sys/kernel/config");
	pick(p->acpi_tables_dir, sizeof(p->acpi_tables_dir), set->acpi_tables_dir, NULL,
	     p->host_root, "/boot/acpi-tables");
	pick(p->odmdata_device, sizeof(p->odmdata_device), set->odmdata_device, NULL, p->host_root,
	     "/dev/mmcblk0boot0");
	pick(p->odmdata_force_ro, sizeof(p->odmdata_force_ro), set->odmdata_force_ro, NULL,
	     p->host_root, "/sys/block/mmcblk0boot0/force_ro");
	pick(p->vpn_status_dir, sizeof(p->vpn_status_dir), set->vpn_status_dir, NULL, p->host_root,
	     "/run/openvpn/vpn_status");
	/* agentd's data: /data in the container (bound by the start script) */
	pick(rel, sizeof(rel), f->data_dir, env("AGENTD_DATA_DIR"), "", "/data");
	paths_set_data_dir(p, rel);
	pick(rel, sizeof(rel), f->run_dir, env("AGENTD_RUN_DIR"), p->host_root, HOST_RUN_DIR);
	paths_set_run_dir(p, rel);
	/* The host's system bus: only where agentd runs for a host it reaches
	 * through the host root, or when told; a plain host uses commands. */
	join(sock, sizeof(sock), p->host_root, "/run/dbus/system_bus_socket");
	if (env("DBUS_SYSTEM_BUS_ADDRESS") != NULL)
		join(p->dbus, sizeof(p->dbus), env("DBUS_SYSTEM_BUS_ADDRESS"), "");
	else if (p->host_root[0] != '\0' && access(sock, F_OK) == 0)
		join(p->dbus, sizeof(p->dbus), "unix:path=", sock);
}
