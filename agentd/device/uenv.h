/*
 * uenv.h - the extra_uEnv.txt boot-config backend (Jetson and i.MX boards,
 * facts §5.2): HOST_EXTLINUX_fdt and HOST_EXTLINUX_isolcpus as U-Boot
 * environment lines. See uenv.c; the variables are read by
 * extlinux_from_target().
 */
#ifndef AGENTD_UENV_H
#define AGENTD_UENV_H

#include <jansson.h>

/// Whether the device type is one whose boot reads extra_uEnv.txt (the file
/// must exist as well: the caller checks).
int uenv_applies(const char *device_type);
/// What the file sets now, as config vars: {"HOST_EXTLINUX_fdt"?,
/// "HOST_EXTLINUX_isolcpus"?}.
json_t *uenv_current(const char *text);
/// The file with custom_fdt_file= the target's fdt and the target's
/// isolcpus in extra_os_cmdline=; a key of `managed_before` (a list, may be
/// NULL) the target no longer sets is taken out; every other line, and the
/// other words of extra_os_cmdline, are kept as they are. Malloc'd (NULL when
/// out of memory).
char *uenv_render(const char *text, json_t *target, json_t *managed_before);

#endif
