/*
 * configfs.h - the ConfigFS boot-config backend (UP boards, facts §5.2):
 * HOST_CONFIGFS_ssdt names the ACPI tables (SSDT overlays) to load at boot,
 * kept in the boot partition's configfs.json. See configfs.c; the tables are
 * loaded by boot.c.
 */
#ifndef AGENTD_CONFIGFS_H
#define AGENTD_CONFIGFS_H

#include <stddef.h>

#include <jansson.h>

#define CONFIGFS_PREFIX "HOST_CONFIGFS_"

/// up-board.
int configfs_applies(const char *device_type);
/// Whether `name` can be a table: a file name under the tables directory and
/// a directory name under configfs (letters, digits, '.', '_', '-').
int configfs_table_name_ok(const char *name);
/// {"ssdt"?: ["name", ...]} from the target's HOST_CONFIGFS_* vars; NULL with
/// the reason for an unknown key or a name that is not a table name.
json_t *configfs_from_target(json_t *config, char *err, size_t errlen);
/// The table names configfs.json lists (a new list; empty when none).
json_t *configfs_tables(const char *text);
/// What configfs.json sets now, as config vars: {"HOST_CONFIGFS_ssdt"?:
/// "\"a\",\"b\""}.
json_t *configfs_current(const char *text);
/// configfs.json with the target's ssdt (the text unchanged when the file
/// already says the same; missing or empty text counts as {}); a key of
/// `managed_before` (a list, may be NULL) the target no longer sets is
/// removed. Malloc'd; NULL with the reason when the file is not a JSON object.
char *configfs_render(const char *text, json_t *target, json_t *managed_before, char *err,
		      size_t errlen);

#endif
