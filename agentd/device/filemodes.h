/*
 * filemodes.h - secrets at rest. agentd runs with umask 077: what it creates
 * is 0600 (directories 0700) unless others must read or write it, and those
 * few get their mode explicitly where they are made (the update lock dirs
 * containers write, the run dir the OS reads, the host's boot files). The
 * files that hold the device's keys or what agentd knows of the device (the
 * database and its WAL, config.json, the run dir's caches) made before this
 * rule, by an older agentd or by hand, are brought to 0600 at start-up, each
 * change logged (so once). docs/operations.md lists every file and its mode.
 */
#ifndef AGENTD_FILEMODES_H
#define AGENTD_FILEMODES_H

#include <sys/types.h>

#include "paths.h"

#define FILEMODES_UMASK 077

/// Make each of agentd's private files that exists 0600 if it allows more
/// (group or other bits, or execute), logging each change. Files on a
/// filesystem without modes (the FAT boot partition's config.json) are left
/// as they are. Returns how many were changed.
int filemodes_secure(const struct paths *p);

/// mkdir `path`, and each missing directory above it, with exactly `mode`
/// (the umask does not apply); one that exists keeps its mode. -1 (errno)
/// on failure.
int filemodes_mkdirs(const char *path, mode_t mode);

/// mkdir one directory with exactly `mode`, or leave it as it is when it
/// exists. -1 (errno) on failure.
int filemodes_mkdir(const char *path, mode_t mode);

#endif
