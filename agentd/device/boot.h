/*
 * boot.h - what the state engine needs to know about boots: this boot's id
 * (/proc/sys/kernel/random/boot_id, right whatever the clock says) and
 * start time, the reboot breadcrumb (<rundir>/reboot-after-apply: a change
 * that needs a reboot was made during this boot, facts §5.4), and the
 * device's boot configuration brought to the target's HOST_* vars through
 * each backend the device has (facts §5.2):
 *
 *   config.txt       Raspberry Pi and kin      HOST_CONFIG_*      bootcfg.c
 *   extlinux.conf    Jetson, balenaOS < 2.47   HOST_EXTLINUX_*    extlinux.c
 *   extra_uEnv.txt   Jetson, i.MX (file there) HOST_EXTLINUX_*    uenv.c
 *   configfs.json    UP board (+ ACPI tables)  HOST_CONFIGFS_*    configfs.c
 *   ODM data bytes   Jetson TX2                HOST_ODMDATA_*     odmdata.c
 *   splash logo      every device              HOST_SPLASH_*      splash.c
 *   config.json os   Jetson Orin               HOST_CONFIG_power_mode, _fan_profile  powerfan.c
 *
 * The rules of each backend are pure (the files named); the reading and
 * writing of the files is here.
 */
#ifndef AGENTD_BOOT_H
#define AGENTD_BOOT_H

#include <stdint.h>

#include <jansson.h>

#include "config.h"

/* Where the backends' files are, and what the device is (all borrowed). */
struct boot_env {
	const char *run_dir, *data_dir, *boot_dir;
	const char *device_type;
	const char *os_meta_version;    /* os-release META_BALENA_VERSION, "" if none */
	struct device_config *cfg;      /* config.json as agentd holds it (power, fan) */
	const char *config_path;        /* where it is written back */
	const char *configfs_dir;       /* the kernel's configfs (/sys/kernel/config) */
	const char *acpi_tables_dir;    /* the OS's ACPI tables (/boot/acpi-tables) */
	const char *odmdata_device;     /* the eMMC boot partition (/dev/mmcblk0boot0) */
	const char *odmdata_force_ro;   /* its write lock (/sys/block/mmcblk0boot0/force_ro) */
	char *const *configfs_modprobe; /* argv that loads acpi_configfs, or NULL */
	const char *host_root;          /* the modprobe runs chrooted here; "" for none */
};

enum boot_backend {
	BB_CONFIG_TXT,
	BB_EXTLINUX,
	BB_UENV,
	BB_CONFIGFS,
	BB_ODMDATA,
	BB_SPLASH,
	BB_POWERFAN,
	BB_COUNT
};

struct boot {
	char id[40];  /* this boot's id, "" if the kernel has none */
	int64_t time; /* /proc/stat btime: when this boot started (unix s) */
	struct boot_env env;
	char error[BB_COUNT][512]; /* per backend, the last refusal logged ("" none) */
};

/// Read this boot's id and start time; keep the environment.
void boot_init(struct boot *b, const struct boot_env *env);
/// Once per start of agentd, before it confines itself: on an UP board,
/// acpi_configfs loaded (configfs_modprobe, chrooted into the host root) when
/// configfs has no acpi/table, then the ACPI tables configfs.json lists
/// loaded into it. Nothing on other boards.
void boot_start(struct boot *b);
/// The breadcrumb was left during this boot: a reboot is due.
int boot_breadcrumb_due(const struct boot *b);
/// Leave the breadcrumb (this boot's id inside) and say why in the device log.
void boot_breadcrumb_touch(const struct boot *b, const char *why);
/// Bring every backend of this device to the HOST_* vars of `config` (the
/// target's device config, prefixes stripped): a file changes only when its
/// text would; a change that the backend applies at boot leaves the
/// breadcrumb. A backend refuses a bad variable or an unreadable file with
/// one device log line and changes nothing. What agentd wrote is recorded in
/// <data_dir>/boot-config.json, so that a var taken away undoes it.
void boot_config_apply(struct boot *b, json_t *config);
/// The device's boot configuration now, read back from the backends' files,
/// as config vars ({"HOST_CONFIG_gpu_mem": "16", ...}). New reference.
json_t *boot_config_current(struct boot *b);

#endif
