/*
 * notify.h - the systemd notification protocol without libsystemd:
 * READY=1, STATUS=..., STOPPING=1 and WATCHDOG=1 datagrams to
 * $NOTIFY_SOCKET (a path, or '@' for the abstract namespace).
 */
#ifndef AGENTD_NOTIFY_H
#define AGENTD_NOTIFY_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

struct notify {
	int fd; /* -1 when not under systemd */
	struct sockaddr_un addr;
	socklen_t addrlen;
	uint64_t watchdog_usec; /* 0 when no watchdog is asked for */
};

/// Read NOTIFY_SOCKET / WATCHDOG_USEC / WATCHDOG_PID and unset them so that
/// children do not inherit them. Not being under systemd is not an error.
void notify_init(struct notify *n);
/// Send one "KEY=value" message (printf format); a no-op without systemd.
void notify_send(struct notify *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void notify_close(struct notify *n);

#endif
