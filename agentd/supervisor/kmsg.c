/*
 * kmsg.c - follow /dev/kmsg for seccomp audit records (see kmsg.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmsg.h"
#include "log.h"

struct kmsg {
	int fd;
	struct event *ev;
	kmsg_cb cb;
	void *arg;
};

/* Find " key=" in rec and return what follows, or NULL. */
static const char *kmsg_field(const char *rec, const char *key)
{
	size_t klen = strlen(key);
	const char *p = rec;

	while ((p = strstr(p, key)) != NULL) {
		if ((p == rec || p[-1] == ' ') && p[klen] == '=')
			return p + klen + 1;
		p += klen;
	}
	return NULL;
}

int kmsg_parse_seccomp(const char *rec, struct seccomp_record *out)
{
	const char *pid, *nr, *arch, *code;
	unsigned long c;

	if (strstr(rec, "type=1326") == NULL)
		return -1;
	if ((pid = kmsg_field(rec, "pid")) == NULL || (nr = kmsg_field(rec, "syscall")) == NULL ||
	    (arch = kmsg_field(rec, "arch")) == NULL || (code = kmsg_field(rec, "code")) == NULL)
		return -1;
	out->pid = (pid_t)strtol(pid, NULL, 10);
	out->nr = strtol(nr, NULL, 10);
	out->arch = (uint32_t)strtoul(arch, NULL, 16);
	c = strtoul(code, NULL, 16);
	/* SECCOMP_RET_KILL_PROCESS is 0x80000000, KILL_THREAD 0. */
	out->killed = c == 0x80000000UL || c == 0;
	return out->pid > 0 ? 0 : -1;
}

const char *kmsg_syscall_name(const struct seccomp_record *rec, char *buf, size_t len)
{
	char *name = seccomp_syscall_resolve_num_arch(rec->arch, (int)rec->nr);

	snprintf(buf, len, "%s", name ? name : "unknown");
	free(name);
	return buf;
}

void kmsg_drain(struct kmsg *k)
{
	struct seccomp_record rec;
	char buf[8192];
	ssize_t n;

	if (k == NULL)
		return;
	for (;;) {
		n = read(k->fd, buf, sizeof(buf) - 1);
		if (n == -1 && errno == EPIPE)
			continue; /* we were overrun: some records are lost, go on */
		if (n <= 0)
			return;
		buf[n] = '\0';
		if (kmsg_parse_seccomp(buf, &rec) == 0)
			k->cb(&rec, k->arg);
	}
}

static void kmsg_on_read(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	kmsg_drain(arg);
}

struct kmsg *kmsg_open(struct event_base *base, kmsg_cb cb, void *arg)
{
	struct kmsg *k;
	int fd;

	if ((fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		log_debug("kmsg: cannot read /dev/kmsg (%s): violations will not be named",
			  strerror(errno));
		return NULL;
	}
	lseek(fd, 0, SEEK_END);
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		close(fd);
		return NULL;
	}
	k->fd = fd;
	k->cb = cb;
	k->arg = arg;
	if ((k->ev = event_new(base, fd, EV_READ | EV_PERSIST, kmsg_on_read, k)) == NULL ||
	    event_add(k->ev, NULL) == -1) {
		kmsg_close(k);
		return NULL;
	}
	return k;
}

void kmsg_close(struct kmsg *k)
{
	if (k == NULL)
		return;
	if (k->ev)
		event_free(k->ev);
	close(k->fd);
	free(k);
}
