/*
 * paths.h - where agentd finds the device's files, on a plain Linux host or
 * as the balenaOS supervisor container. In the container the host's root is
 * bound at /mnt/root (the OS start script's `--mount source=/,target=/mnt/root`),
 * so config.json, the boot and state partitions, the run dir the OS reads
 * (locks, target-state-config), the OS's os-release and the host's D-Bus
 * are all found under it; agentd's own data is in /data (the host's
 * /mnt/data/resin-data/balena-supervisor), in its own database file.
 *
 * Each location is taken from, in order: a flag, the environment the start
 * script sets (CONFIG_MOUNT_POINT, BOOT_MOUNTPOINT, LED_FILE, ...), agentd.json,
 * the host root when there is one, and the built-in default.
 */
#ifndef AGENTD_PATHS_H
#define AGENTD_PATHS_H

#include <limits.h>

#include "settings.h"

#define PATHS_DB_FILE "agentd.sqlite" /* database.sqlite is the Node supervisor's */

/* What the flags said (NULL: not given). */
struct paths_flags {
	const char *config, *data_dir, *run_dir;
};

struct paths {
	char host_root[PATH_MAX];    /* "" on a plain host, else where the host's / is */
	int balenaos;                /* the host root was found at /mnt/root, not set by hand:
					agentd runs as the balenaOS supervisor */
	char config[PATH_MAX];       /* config.json */
	char data_dir[PATH_MAX];     /* agentd's database, apps.json */
	char db[PATH_MAX];           /* <data_dir>/agentd.sqlite */
	char preload[PATH_MAX];      /* apps.json: <data_dir>'s, or the data partition's */
	char run_dir[PATH_MAX];      /* locks, breadcrumbs, caches, as agentd reaches them */
	char host_run_dir[PATH_MAX]; /* the same directory as the host (and its engine) sees it */
	char boot_dir[PATH_MAX];     /* the boot partition */
	char state_dir[PATH_MAX];    /* the state partition (host OS update breadcrumbs) */
	char os_release[PATH_MAX];   /* the host OS's os-release */
	char dbus[PATH_MAX];         /* the host's system bus address, "" = none: use commands */
	char led_file[PATH_MAX];     /* what POST /v1/blink writes */
	/* the device files of some boards' boot config (boot.h), the VPN's status */
	char configfs_dir[PATH_MAX];     /* /sys/kernel/config */
	char acpi_tables_dir[PATH_MAX];  /* /boot/acpi-tables */
	char odmdata_device[PATH_MAX];   /* /dev/mmcblk0boot0 */
	char odmdata_force_ro[PATH_MAX]; /* /sys/block/mmcblk0boot0/force_ro */
	char vpn_status_dir[PATH_MAX];   /* /run/openvpn/vpn_status */
};

/// Work out every location (see above). The host root is $AGENTD_HOST_ROOT,
/// else /mnt/root when it holds mnt/boot, else none.
void paths_resolve(struct paths *p, const struct paths_flags *f, const struct settings *set);
/// After the run dir is made and resolved to `abs`: set it, and the host's view
/// of it when it is the host root's /tmp/balena-supervisor.
void paths_set_run_dir(struct paths *p, const char *abs);
/// Set the data dir (absolute), and the database and preload paths (unless
/// the preload is on the host's data partition).
void paths_set_data_dir(struct paths *p, const char *abs);

#endif
