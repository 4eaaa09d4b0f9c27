/*
 * settings.h - agentd.json (-C): optional overrides of agentd's own
 * behaviour, chiefly the restart policy of each child. Every key is
 * checked; an unknown key or a wrong type is a start-up error.
 *
 *   {
 *     "user": "nobody",                  unprivileged user for apid/cloudsyncd
 *     "handshake_timeout_ms": 10000,     a child must be ready within this
 *     "ping_interval_ms": 5000,          liveness probes of the children
 *     "reboot_command": ["systemctl", "reboot"],     POST /v1/reboot runs it
 *     "shutdown_command": ["systemctl", "poweroff"], POST /v1/shutdown runs it
 *     "led_file": "/sys/class/leds/led0/brightness", POST /v1/blink writes it
 *     "api_max_connections": 128,        more open API connections get 503
 *     "boot_dir": "/mnt/boot",           PATCH host-config writes system-proxy/ here
 *     "state_dir": "/mnt/state",         a host OS update in progress leaves breadcrumbs here
 *     "host_firewall": false,            keep the host firewall (HOST_FIREWALL_MODE) here too
 *     "configfs_dir": "/sys/kernel/config",         UP board: ACPI tables are loaded here
 *     "acpi_tables_dir": "/boot/acpi-tables",       ... from here (<name>.aml)
 *     "configfs_modprobe": ["modprobe", "acpi_configfs"], run when configfs has no acpi/table
 *     "odmdata_device": "/dev/mmcblk0boot0",        TX2: the ODM data's block device
 *     "odmdata_force_ro": "/sys/block/mmcblk0boot0/force_ro",  ... and its write lock
 *     "vpn_status_dir": "/run/openvpn/vpn_status",  the connectivity check pauses while
 *                                        an "active" file is in it
 *     "daemons": {
 *       "apid": { "restart": "always", "backoff_initial_ms": 100,
 *                 "backoff_max_ms": 30000, "stable_after_ms": 60000,
 *                 "burst_limit": 10, "burst_window_ms": 120000 }
 *     }
 *   }
 */
#ifndef AGENTD_SETTINGS_H
#define AGENTD_SETTINGS_H

#include <stddef.h>

#include "proto.h"
#include "restart.h"

struct settings {
	char user[64];
	unsigned handshake_timeout_ms;
	unsigned ping_interval_ms;
	struct restart_policy policy[D_COUNT]; /* indexed by daemon id; [D_AGENTD] unused */
	/* Host actions of the API (argv, NULL-terminated; owned). */
	char *reboot_command[16];
	char *shutdown_command[16];
	char led_file[256];
	unsigned api_max_connections; /* apid answers 503 beyond */
	char boot_dir[256];           /* host-config proxy files go under <boot_dir>/system-proxy */
	char state_dir[256];          /* balenaOS's /mnt/state: host OS update breadcrumbs */
	/* Which of led_file, boot_dir, state_dir agentd.json set (else paths.c
	 * may find them from the environment or the host root). */
	int led_file_set, boot_dir_set, state_dir_set;
	/* Device files of some boards, and the VPN's status ("" = not set: the
	 * host root's, see paths.c). */
	char configfs_dir[256], acpi_tables_dir[256], odmdata_device[256], odmdata_force_ro[256];
	char vpn_status_dir[256];
	char *configfs_modprobe[16]; /* argv, NULL-terminated; owned */
	/* "host_firewall": keep the host's BALENA-FIREWALL chain (default: only as
	 * the balenaOS supervisor, where a host root is found) */
	int host_firewall, host_firewall_set;
};

void settings_default(struct settings *s);
void settings_free(struct settings *s);
/// Apply the overrides in `path` over `s`. -1 with a one-line reason on error.
int settings_load(const char *path, struct settings *s, char *err, size_t errlen);

#endif
