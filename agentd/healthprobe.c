/*
 * healthprobe.c - `agentd -H`: the supervisor image's HEALTHCHECK. Asks the
 * running agentd's API for GET /v1/healthy on 127.0.0.1 (port LISTEN_PORT,
 * default 48484) and exits 0 when it answers 200, 1 otherwise (no answer
 * within 10 s included). No other process, no libraries beyond libc: a
 * FROM-scratch image has no wget.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agentd.h"

#define PROBE_TIMEOUT_MS 10000

static long probe_left_ms(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* Wait for fd to be ready for `events` until the deadline. */
static int probe_wait(int fd, short events, const struct timespec *deadline)
{
	struct pollfd p = {fd, events, 0};
	long left;
	int n;

	while ((left = probe_left_ms(deadline)) > 0) {
		if ((n = poll(&p, 1, (int)left)) > 0)
			return 0;
		if (n == -1 && errno != EINTR)
			return -1;
	}
	return -1;
}

int healthprobe_run(void)
{
	static const char req[] = "GET /v1/healthy HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	const char *env = getenv("LISTEN_PORT");
	long port = env != NULL && env[0] != '\0' ? strtol(env, NULL, 10) : 48484;
	struct sockaddr_in sin;
	struct timespec deadline;
	char buf[64];
	size_t got = 0;
	ssize_t n;
	int fd, err = 0, status;
	socklen_t len = sizeof(err);

	if (port < 1 || port > 65535) {
		fprintf(stderr, "agentd -H: LISTEN_PORT '%s' is not a port\n", env);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += PROBE_TIMEOUT_MS / 1000;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return 1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    (errno != EINPROGRESS || probe_wait(fd, POLLOUT, &deadline) == -1 ||
	     getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0)) {
		fprintf(stderr, "agentd -H: cannot reach 127.0.0.1:%ld\n", port);
		close(fd);
		return 1;
	}
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1) {
		close(fd);
		return 1;
	}
	/* "HTTP/1.x 200 ..." */
	while (got < sizeof(buf) - 1 && memchr(buf, '\n', got) == NULL) {
		if (probe_wait(fd, POLLIN, &deadline) == -1)
			break;
		if ((n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1) {
		fprintf(stderr, "agentd -H: no HTTP answer from 127.0.0.1:%ld\n", port);
		return 1;
	}
	if (status != 200)
		fprintf(stderr, "agentd -H: /v1/healthy answered %d\n", status);
	return status == 200 ? 0 : 1;
}
