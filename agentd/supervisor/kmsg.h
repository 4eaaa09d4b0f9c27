/*
 * kmsg.h - naming the syscall behind a sandbox violation. The kernel writes
 * an audit record (type=1326) to the kernel log for every seccomp kill and
 * every SCMP_ACT_LOG hit; agentd, as root, follows /dev/kmsg from its start
 * and matches records to its children's pids. Where /dev/kmsg cannot be
 * read, violations are still reported, just without the syscall's name.
 */
#ifndef AGENTD_KMSG_H
#define AGENTD_KMSG_H

#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

struct seccomp_record {
	pid_t pid;
	long nr;       /* syscall number */
	uint32_t arch; /* AUDIT_ARCH_* */
	int killed;    /* the action killed the process (vs. only logged) */
};

typedef void (*kmsg_cb)(const struct seccomp_record *rec, void *arg);

struct kmsg;

/// Start following the kernel log from now on. NULL when unavailable.
struct kmsg *kmsg_open(struct event_base *base, kmsg_cb cb, void *arg);
/// Read every record already waiting (used right after a child's SIGSYS).
void kmsg_drain(struct kmsg *k);
void kmsg_close(struct kmsg *k);

/// Parse one /dev/kmsg record; 0 when it is a seccomp audit record.
int kmsg_parse_seccomp(const char *rec, struct seccomp_record *out);
/// The syscall's name for a record, or "unknown".
const char *kmsg_syscall_name(const struct seccomp_record *rec, char *buf, size_t len);

#endif
