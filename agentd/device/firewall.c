/*
 * firewall.c - the host firewall (see firewall.h): the restore text is
 * rendered by pure functions; firewall_apply runs `iptables -S INPUT` and
 * `iptables-restore` for each family, a program at a time, with a deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "firewall.h"
#include "log.h"
#include "sysmsg.h"

#define FIREWALL_TIMEOUT_MS 10000
#define FIREWALL_LIST_MAX   (4 << 20) /* bytes of `iptables -S INPUT` we read */

enum firewall_mode { FW_OFF, FW_ON, FW_AUTO, FW_INVALID };

/* Where the local API is reachable outside local mode (the Node
 * supervisor's allowedInterfaces). */
static const char *const api_interfaces[] = {"resin-vpn", "tun0", "docker0", "lo", "supervisor0"};

/* An unset mode is the default, off; an unknown one is off too, but said. */
static enum firewall_mode firewall_mode(const char *mode)
{
	if (mode == NULL || mode[0] == '\0' || strcmp(mode, "off") == 0)
		return FW_OFF;
	if (strcmp(mode, "on") == 0)
		return FW_ON;
	if (strcmp(mode, "auto") == 0)
		return FW_AUTO;
	return FW_INVALID;
}

int firewall_filters(const struct firewall_params *p)
{
	enum firewall_mode m = firewall_mode(p->mode);

	return m == FW_ON || (m == FW_AUTO && p->host_network_services > 0);
}

static const char *firewall_mode_text(enum firewall_mode m, int filters)
{
	switch (m) {
	case FW_ON:
		return "on";
	case FW_OFF:
		return "off";
	case FW_AUTO:
		return filters ? "auto, on: a service uses the host network"
			       : "auto, off: no service uses the host network";
	case FW_INVALID:
		break;
	}
	return "off (not on, off or auto)";
}

/* How many rules of `input` (iptables -S INPUT) jump to the chain, and the
 * position of the first among INPUT's rules (0 when none). */
static int firewall_jumps(const char *input, int *first)
{
	static const char rule[] = "-A INPUT ", jump[] = "-j " FIREWALL_CHAIN;
	const char *line = input, *end;
	int n = 0, pos = 0;
	size_t len;

	*first = 0;
	for (; line != NULL && *line != '\0'; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		len = (size_t)(end - line);
		while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
			len--;
		if (len < sizeof(rule) - 1 || strncmp(line, rule, sizeof(rule) - 1) != 0)
			continue;
		pos++;
		if (len == sizeof(rule) - 1 + sizeof(jump) - 1 &&
		    strncmp(line + sizeof(rule) - 1, jump, sizeof(jump) - 1) == 0) {
			if (n++ == 0)
				*first = pos;
		}
	}
	return n;
}

char *firewall_rules_over(const struct firewall_params *p, int ipv6, const char *input)
{
	const char *c = FIREWALL_CHAIN;
	enum firewall_mode m = firewall_mode(p->mode);
	int port = p->api_port, filters = firewall_filters(p), first, n, i;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (port < 1 || port > 65535 || (f = open_memstream(&text, &len)) == NULL)
		return NULL;
	/* A comment for whoever reads the text in a log; the mode itself is
	 * never printed: it is user input, and this is iptables-restore's. */
	fprintf(f, "# agentd host firewall (IPv%d): mode %s%s\n", ipv6 ? 6 : 4,
		firewall_mode_text(m, filters), p->local_mode ? "; local mode" : "");
	fprintf(f, "*filter\n:%s - [0:0]\n-F %s\n", c, c);
	n = firewall_jumps(input, &first);
	for (i = 0; i < n; i++)
		fprintf(f, "-D INPUT -j %s\n", c);
	fprintf(f, "-I INPUT %d -j %s\n", n > 0 ? first : 1, c);

	fprintf(f, "-A %s -m state --state ESTABLISHED,RELATED -j ACCEPT\n", c);
	fprintf(f, "-A %s -m addrtype --src-type LOCAL -j ACCEPT\n", c);
	if (p->local_mode) {
		fprintf(f, "-A %s -p tcp --dport %d -j ACCEPT\n", c, port);
	} else {
		for (i = 0; i < (int)(sizeof(api_interfaces) / sizeof(api_interfaces[0])); i++)
			fprintf(f, "-A %s -p tcp --dport %d -i %s -j ACCEPT\n", c, port,
				api_interfaces[i]);
	}
	fprintf(f, "-A %s -p tcp --dport %d -j REJECT\n", c, port);

	fprintf(f, "-A %s -p tcp --dport 22222 -j ACCEPT\n", c);             /* SSH */
	fprintf(f, "-A %s -p tcp --dport 2375 -j ACCEPT\n", c);              /* the engine */
	fprintf(f, "-A %s -m addrtype --dst-type MULTICAST -j ACCEPT\n", c); /* mDNS */
	fprintf(f, "-A %s -p %s -j ACCEPT\n", c, ipv6 ? "ipv6-icmp" : "icmp");
	fprintf(f, "-A %s -p udp --dport 53 -i balena0 -j ACCEPT\n", c);
	fprintf(f, "-A %s -p udp --dport 53 -i br+ -j ACCEPT\n", c);
	if (!filters)
		fprintf(f, "-A %s -j RETURN\n", c);
	fprintf(f, "-A %s -j REJECT\nCOMMIT\n", c);
	if (fclose(f) != 0 || text == NULL) {
		free(text);
		return NULL;
	}
	return text;
}

char *firewall_rules(const struct firewall_params *p, int ipv6)
{
	return firewall_rules_over(p, ipv6, NULL);
}

/* The child's side of firewall_run: its three fds in place, nothing else
 * inherited (agentd's sockets, its ignored SIGPIPE, its signal mask). */
static void firewall_exec(char *const argv[], int in, int out, int err)
{
	sigset_t none;

	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	close_range(3, ~0U, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	execvp(argv[0], argv);
	dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* The first line of what a program wrote on stderr, or how it ended. */
static void firewall_reason(const char *prog, const char *stderr_text, int status, char *err,
			    size_t errlen)
{
	size_t n = strcspn(stderr_text, "\n");

	if (n > 0)
		snprintf(err, errlen, "%.*s", (int)n, stderr_text);
	else if (WIFEXITED(status))
		snprintf(err, errlen, "%s: exit status %d", prog, WEXITSTATUS(status));
	else
		snprintf(err, errlen, "%s: killed by signal %d", prog, WTERMSIG(status));
}

/*
 * Run argv with `in` on its stdin (a socket, so a program that stops
 * reading cannot SIGPIPE us), its stdout into `out` (may be NULL: dropped).
 * 0 when it exits 0; else -1 with the reason in err. Killed at the deadline.
 */
static int firewall_run(char *const argv[], const char *in, struct buf *out, int timeout_ms,
			char *err, size_t errlen)
{
	int sv[2] = {-1, -1}, po[2] = {-1, -1}, pe[2] = {-1, -1}, status = 0, rc = -1;
	size_t inlen = in ? strlen(in) : 0, sent = 0, elen = 0;
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	char errtext[1024] = "", chunk[4096];
	pid_t pid = -1;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "%s: cannot make pipes: %s", argv[0], strerror(errno));
		goto done;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "%s: cannot fork: %s", argv[0], strerror(errno));
		goto done;
	}
	if (pid == 0)
		firewall_exec(argv, sv[1], po[1], pe[1]);
	close(sv[1]);
	close(po[1]);
	close(pe[1]);
	sv[1] = po[1] = pe[1] = -1;
	if (sent == inlen)
		shutdown(sv[0], SHUT_WR);

	/* Feed stdin, drain stdout and stderr until both are closed. */
	while (po[0] >= 0 || pe[0] >= 0) {
		struct pollfd fds[3] = {{.fd = po[0], .events = POLLIN},
					{.fd = pe[0], .events = POLLIN},
					{.fd = sent < inlen ? sv[0] : -1, .events = POLLOUT}};
		uint64_t now = now_ms();
		ssize_t r;

		if (now >= deadline)
			goto timeout;
		if (poll(fds, 3, (int)(deadline - now)) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: poll: %s", argv[0], strerror(errno));
			goto kill;
		}
		if (fds[2].revents) {
			r = send(sv[0], in + sent, inlen - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (r > 0)
				sent += (size_t)r;
			else if (r < 0 && errno != EAGAIN && errno != EINTR)
				sent = inlen; /* it stopped reading: its status will say why */
			if (sent == inlen)
				shutdown(sv[0], SHUT_WR);
		}
		if (fds[0].revents) {
			r = read(po[0], chunk, sizeof(chunk));
			if (r <= 0 && !(r < 0 && errno == EINTR)) {
				close(po[0]);
				po[0] = -1;
			} else if (r > 0 && out != NULL &&
				   buf_append(out, chunk, (size_t)r, FIREWALL_LIST_MAX) < 0) {
				snprintf(err, errlen, "%s: more than %d bytes of output", argv[0],
					 FIREWALL_LIST_MAX);
				goto kill;
			}
		}
		if (fds[1].revents) {
			r = read(pe[0], chunk, sizeof(chunk));
			if (r <= 0 && !(r < 0 && errno == EINTR)) {
				close(pe[0]);
				pe[0] = -1;
			} else if (r > 0 && elen < sizeof(errtext) - 1) {
				size_t n = (size_t)r < sizeof(errtext) - 1 - elen
						   ? (size_t)r
						   : sizeof(errtext) - 1 - elen;

				memcpy(errtext + elen, chunk, n);
				errtext[elen += n] = '\0';
			}
		}
	}
	/* Its output is closed; it exits now (or is killed at the deadline). */
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			snprintf(err, errlen, "%s: waitpid: %s", argv[0], strerror(errno));
			pid = -1;
			goto done;
		}
		if (now_ms() >= deadline)
			goto timeout;
		poll(NULL, 0, 5);
	}
	pid = -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		rc = 0;
	else
		firewall_reason(argv[0], errtext, status, err, errlen);
	goto done;

timeout:
	snprintf(err, errlen, "%s: no answer within %d ms", argv[0], timeout_ms);
kill:
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pid = -1;
done:
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	return rc;
}

static const char *firewall_or(const char *prog, const char *standard)
{
	return prog != NULL ? prog : standard;
}

/* One family: where INPUT jumps to the chain now, then the rules. */
static int firewall_apply_family(const struct firewall *fw, const struct firewall_params *p,
				 int ipv6, char *err, size_t errlen)
{
	const char *list =
		ipv6 ? firewall_or(fw->list6, "ip6tables") : firewall_or(fw->list4, "iptables");
	const char *restore = ipv6 ? firewall_or(fw->restore6, "ip6tables-restore")
				   : firewall_or(fw->restore4, "iptables-restore");
	char *listv[] = {(char *)list, "-w", "-S", "INPUT", NULL};
	char *restorev[] = {(char *)restore, "-w", "--noflush", NULL};
	int timeout = fw->timeout_ms > 0 ? fw->timeout_ms : FIREWALL_TIMEOUT_MS, rc;
	struct buf input = {0};
	char *text;

	if (firewall_run(listv, NULL, &input, timeout, err, errlen) < 0) {
		buf_free(&input);
		return -1;
	}
	text = firewall_rules_over(p, ipv6, input.data);
	buf_free(&input);
	if (text == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	log_debug("%s --noflush:\n%s", restore, text);
	rc = firewall_run(restorev, text, NULL, timeout, err, errlen);
	free(text);
	return rc;
}

int firewall_apply(struct firewall *fw, const struct firewall_params *p, char *err, size_t errlen)
{
	enum firewall_mode m = firewall_mode(p->mode);
	const char *mode = m == FW_ON ? "on" : m == FW_AUTO ? "auto" : "off";
	char key[sizeof(fw->applied)];

	/* The rules depend on these three only. */
	snprintf(key, sizeof(key), "%s local=%d port=%d", firewall_filters(p) ? "on" : "off",
		 p->local_mode ? 1 : 0, p->api_port);
	if (strcmp(key, fw->applied) == 0)
		return 0;
	if (p->api_port < 1 || p->api_port > 65535) {
		snprintf(err, errlen, "API port %d is not a port", p->api_port);
		log_error("Firewall mode not applied: %s", err);
		return -1;
	}
	if (m == FW_INVALID)
		log_warnx("Invalid firewall mode: %s. Reverting to state: off", p->mode);
	log_info("Applying firewall mode: %s", mode);
	fw->applied[0] = '\0'; /* from here on, half done is not done */
	if (firewall_apply_family(fw, p, 0, err, errlen) < 0 ||
	    firewall_apply_family(fw, p, 1, err, errlen) < 0) {
		log_error("Firewall mode not applied: %s", err);
		sysmsg("Firewall mode not applied due to error");
		return -1;
	}
	snprintf(fw->applied, sizeof(fw->applied), "%s", key);
	log_info("Firewall mode applied");
	return 1;
}
