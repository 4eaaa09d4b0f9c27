/*
 * notify.c - sd_notify(3) protocol, standalone (see notify.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

void notify_init(struct notify *n)
{
	const char *path = getenv("NOTIFY_SOCKET");
	const char *wd = getenv("WATCHDOG_USEC");
	const char *wdpid = getenv("WATCHDOG_PID");
	size_t len;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	if (wd != NULL && (wdpid == NULL || atol(wdpid) == (long)getpid()))
		n->watchdog_usec = strtoull(wd, NULL, 10);
	if (path != NULL && (path[0] == '/' || path[0] == '@') &&
	    (len = strlen(path)) < sizeof(n->addr.sun_path)) {
		n->addr.sun_family = AF_UNIX;
		memcpy(n->addr.sun_path, path, len);
		if (path[0] == '@')
			n->addr.sun_path[0] = '\0';
		n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
		if ((n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
			log_warn("notify: socket");
	}
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

void notify_send(struct notify *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int len;

	if (n->fd == -1)
		return;
	va_start(ap, fmt);
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(msg))
		return;
	if (sendto(n->fd, msg, (size_t)len, MSG_NOSIGNAL, (struct sockaddr *)&n->addr,
		   n->addrlen) == -1)
		log_warn("notify: cannot send %.20s", msg);
}

void notify_close(struct notify *n)
{
	if (n->fd != -1)
		close(n->fd);
	n->fd = -1;
}
