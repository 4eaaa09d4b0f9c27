/*
 * extlinux.h - the extlinux.conf boot-config backend (Jetson boards on an
 * older balenaOS, facts §5.2), and the HOST_EXTLINUX_* variables it shares
 * with extra_uEnv.txt (uenv.h). See extlinux.c.
 */
#ifndef AGENTD_EXTLINUX_H
#define AGENTD_EXTLINUX_H

#include <stddef.h>

#include <jansson.h>

#define EXTLINUX_PREFIX "HOST_EXTLINUX_"

/// Whether `a` (a balenaOS version, "2.45.1+rev3") is older than `b`
/// ("2.47.0") by semver; -1 when `a` is not a version.
int extlinux_version_older(const char *a, const char *b);
/// jetson-* on a balenaOS older than 2.47.0 (os-release META_BALENA_VERSION;
/// from 2.47.0 on, extlinux.conf is on a read-only partition).
int extlinux_applies(const char *device_type, const char *os_meta_version);
/// {"isolcpus"?: "...", "fdt"?: "..."} from the target's HOST_EXTLINUX_* vars
/// (prefixes already stripped; an empty fdt is no fdt); NULL with the reason
/// for an unknown key or a bad value.
json_t *extlinux_from_target(json_t *config, char *err, size_t errlen);
/// What the file sets now, as config vars: {"HOST_EXTLINUX_isolcpus"?,
/// "HOST_EXTLINUX_fdt"?} of the default entry; NULL with the reason when the
/// file has no default entry or it has no APPEND line.
json_t *extlinux_current(const char *text, char *err, size_t errlen);
/// The file with the target's isolcpus in the default entry's APPEND line and
/// its fdt in an FDT line; a key of `managed_before` (a list, may be NULL)
/// the target no longer sets is taken out; every other line is kept as it
/// is. Malloc'd; NULL with the reason when the file cannot be edited.
char *extlinux_render(const char *text, json_t *target, json_t *managed_before, char *err,
		      size_t errlen);

#endif
