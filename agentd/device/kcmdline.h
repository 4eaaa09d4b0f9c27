/*
 * kcmdline.h - the isolcpus word of a kernel command line, for the two
 * boot-config backends that hold HOST_EXTLINUX_isolcpus among other kernel
 * arguments: extlinux.conf's APPEND line (extlinux.c) and extra_uEnv.txt's
 * extra_os_cmdline (uenv.c). Only the isolcpus words are agentd's; every
 * other word is kept. See kcmdline.c.
 */
#ifndef AGENTD_KCMDLINE_H
#define AGENTD_KCMDLINE_H

#include <stddef.h>

/// The next isolcpus word of the blank-separated words [*p, end): its value
/// ("3" of "isolcpus=3", "" of a bare "isolcpus") in *val and *n, *p moved
/// past it. 0 when there is none left.
int kcmdline_next_isolcpus(const char **p, const char *end, const char **val, size_t *n);
/// The words [v, v + vl) with their isolcpus words replaced by one
/// "isolcpus=`want`" at the end ("isolcpus" when `want` is ""), or taken out
/// when `want` is NULL; the other words kept in order, one blank apart.
/// NULL when the words stay as they are: one isolcpus word with that value
/// already, or (`want` NULL) none there or `managed` 0 (agentd never wrote
/// one); NULL too when out of memory. Malloc'd; "" when no word is left.
char *kcmdline_set_isolcpus(const char *v, size_t vl, const char *want, int managed);

#endif
