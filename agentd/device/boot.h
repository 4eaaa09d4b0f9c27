/*
 * boot.h - what the state engine needs to know about boots: this boot's id
 * (/proc/sys/kernel/random/boot_id, right whatever the clock says) and
 * start time, the reboot breadcrumb (<rundir>/reboot-after-apply: a change
 * that needs a reboot was made during this boot, facts §5.4), and the boot
 * partition's config files brought to the target's HOST_CONFIG_* vars
 * (config.txt today; the text itself is rendered by bootcfg.c).
 */
#ifndef AGENTD_BOOT_H
#define AGENTD_BOOT_H

#include <stdint.h>

#include <jansson.h>

struct boot {
	char id[40];  /* this boot's id, "" if the kernel has none */
	int64_t time; /* /proc/stat btime: when this boot started (unix s) */
	const char *run_dir, *data_dir, *boot_dir, *device_type; /* borrowed */
	char config_error[512]; /* the last boot config error logged */
};

/// Read this boot's id and start time; keep the paths.
void boot_init(struct boot *b, const char *run_dir, const char *data_dir, const char *boot_dir,
	       const char *device_type);
/// The breadcrumb was left during this boot: a reboot is due.
int boot_breadcrumb_due(const struct boot *b);
/// Leave the breadcrumb (this boot's id inside) and say why in the device log.
void boot_breadcrumb_touch(const struct boot *b, const char *why);
/// Bring the boot config files to the HOST_CONFIG_* vars of `config` (the
/// target's device config); a change leaves the breadcrumb. The keys agentd
/// wrote are kept in <data_dir>/boot-config.json, so that a var taken away
/// loses its line.
void boot_config_apply(struct boot *b, json_t *config);

#endif
