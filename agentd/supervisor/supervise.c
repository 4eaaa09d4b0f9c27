/*
 * supervise.c - starting, watching and restarting agentd's children.
 *
 * Each child is fork+exec'd with its socketpair end on PROTO_CHILD_FD and
 * its stderr on a pipe that agentd re-logs under the child's name. A child
 * must finish its handshake within the handshake timeout, answer pings,
 * and send only what the catalogue allows; otherwise it is killed. Exits
 * go through the daemon's restart policy (restart.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "clock.h"
#include "log.h"
#include "supervisor.h"

#ifndef AGENTD_LIBEXEC_DIR
#define AGENTD_LIBEXEC_DIR "/usr/local/libexec/agentd"
#endif

#define SIGSYS_NAME_WAIT_MS 500 /* how long to wait for the audit record */
#define MISSED_PINGS_MAX    3

extern char **environ;

const enum daemon_id daemon_order[3] = {D_ENGINECTL, D_APID, D_CLOUDSYNCD};

static void ms_to_tv(uint64_t ms, struct timeval *tv)
{
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)((ms % 1000) * 1000);
}

static void supervise_on_timer(evutil_socket_t fd, short what, void *arg);
static void supervise_on_sigsys_wait(evutil_socket_t fd, short what, void *arg);
static void supervise_spawn(struct daemon *d);

/* Find a child binary: beside our own executable first (so build/agentd
 * runs in place), then in the libexec dir agentd was built for. */
static int supervise_find(struct daemon *d, const char *self_exe)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", self_exe);
	snprintf(d->path, sizeof(d->path), "%s/%s", dirname(dir), d->name);
	if (access(d->path, X_OK) == 0)
		return 0;
	snprintf(d->path, sizeof(d->path), "%s/%s", AGENTD_LIBEXEC_DIR, d->name);
	if (access(d->path, X_OK) == 0)
		return 0;
	log_error("cannot find %s next to %s or in %s", d->name, self_exe, AGENTD_LIBEXEC_DIR);
	return -1;
}

static void supervise_seccomp_record(const struct seccomp_record *rec, void *arg);

int supervise_init(struct supervisor *sv, struct event_base *base, const char *self_exe,
		   const struct supervisor_conf *conf)
{
	int i;

	sv->base = base;
	sv->conf = *conf;
	sv->healthy = 1;
	notify_init(&sv->notify);
	for (i = D_ENGINECTL; i < D_COUNT; i++) {
		struct daemon *d = &sv->d[i];

		d->sv = sv;
		d->id = (enum daemon_id)i;
		d->name = daemon_names[i];
		d->state = DS_DOWN;
		if (supervise_find(d, self_exe) == -1)
			return -1;
		d->ev_timer = evtimer_new(sv->base, supervise_on_timer, d);
		d->ev_sigsys = evtimer_new(sv->base, supervise_on_sigsys_wait, d);
		if (d->ev_timer == NULL || d->ev_sigsys == NULL)
			return -1;
	}
	sv->kmsg = kmsg_open(base, supervise_seccomp_record, sv);
	return 0;
}

void supervisor_on(struct supervisor *sv, enum msg_type type, supervisor_msg_fn fn, void *arg)
{
	sv->on[type].fn = fn;
	sv->on[type].arg = arg;
}

struct chan *supervisor_chan(struct supervisor *sv, enum daemon_id id)
{
	struct daemon *d = &sv->d[id];

	return d->state == DS_READY ? d->ch : NULL;
}

static void supervise_status(struct supervisor *sv)
{
	char buf[256];
	size_t off = 0;
	int i, ready = 0;

	for (i = D_ENGINECTL; i < D_COUNT; i++) {
		if (sv->d[i].state == DS_READY)
			ready++;
		else if (sv->d[i].state == DS_FAILED)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off, ", %s down",
						sv->d[i].name);
	}
	buf[off] = '\0';
	notify_send(&sv->notify, "STATUS=%d/3 children ready%s%s", ready, buf,
		    sv->healthy ? "" : " (unhealthy)");
}

/* Children are started in order, each without waiting for the one before:
 * apid answers /ping while enginectl is still loading its libraries. Nothing
 * reaches the engine before enginectl's handshake (apply.c waits for it). */
void supervise_start(struct supervisor *sv)
{
	size_t i;

	notify_send(&sv->notify, "STATUS=starting children");
	for (i = 0; i < 3; i++)
		supervise_spawn(&sv->d[daemon_order[i]]);
}

static void supervise_on_log(struct bufferevent *be, void *arg)
{
	struct daemon *d = arg;
	struct evbuffer *in = bufferevent_get_input(be);
	const char *msg;
	enum log_level lvl;
	char *line;

	while ((line = evbuffer_readln(in, NULL, EVBUFFER_EOL_LF)) != NULL) {
		lvl = log_parse_tagged(line, &msg);
		log_as(d->name, lvl, "%s", msg);
		free(line);
	}
	/* A runaway line without a newline: log it in pieces. */
	if (evbuffer_get_length(in) > 16384) {
		char chunk[4097];
		size_t n = evbuffer_remove(in, chunk, sizeof(chunk) - 1);

		chunk[n] = '\0';
		log_as(d->name, LOG_LVL_WARN, "%s", chunk);
	}
}

static void supervise_on_log_event(struct bufferevent *be, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	supervise_on_log(be, arg);
	if (be == d->logbe)
		d->logbe = NULL;
	bufferevent_free(be);
}

/* Build the child's environment: ours, minus what systemd meant for us. */
static char **supervise_child_env(void)
{
	static const char *const drop[] = {"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
					   "LISTEN_FDS=",    "LISTEN_PID=",    NULL};
	size_t n = 0, i, j;
	char **env;

	while (environ[n] != NULL)
		n++;
	if ((env = calloc(n + 1, sizeof(char *))) == NULL)
		return NULL;
	for (i = 0, j = 0; i < n; i++) {
		int keep = 1, k;

		for (k = 0; drop[k] != NULL; k++)
			if (strncmp(environ[i], drop[k], strlen(drop[k])) == 0)
				keep = 0;
		if (keep)
			env[j++] = environ[i];
	}
	return env;
}

void supervise_health(struct supervisor *sv)
{
	struct daemon *api = &sv->d[D_APID];
	char reason[256] = "";
	json_t *body;
	int i;

	for (i = D_ENGINECTL; i < D_COUNT; i++) {
		if (sv->d[i].state == DS_FAILED) {
			snprintf(reason, sizeof(reason), "%s is down: restarted too often",
				 sv->d[i].name);
			break;
		}
	}
	sv->healthy = reason[0] == '\0';
	if (api->state != DS_READY || api->ch == NULL)
		return;
	body = json_pack("{s:b}", "healthy", sv->healthy);
	if (body == NULL)
		return;
	if (!sv->healthy)
		json_object_set_new(body, "reason", json_string(reason));
	chan_send_json(api->ch, MSG_HEALTH, 0, 0, body);
	json_decref(body);
}

/* Every frame from a child: the verdict of dispatch.c decides what happens
 * to the child. */
static void supervise_on_frame(struct chan *ch, const struct frame_hdr *hdr, const char *payload,
			       int fd, void *arg)
{
	struct daemon *d = arg;
	const char *why;

	if (hdr == NULL) {
		const char *err = chan_error(ch);

		/* A closed channel is a child exiting: SIGCHLD does the rest. */
		if (err != NULL && strcmp(err, "peer closed the channel") != 0) {
			log_error("%s: bad frame: %s", d->name, err);
			supervise_kill(d, "sent a malformed frame");
		}
		return;
	}
	if (fd >= 0)
		close(fd); /* no child message carries a descriptor to agentd yet */
	switch (dispatch_frame(d, hdr, payload, &why)) {
	case DISPATCH_OK:
		break;
	case DISPATCH_READY:
		supervise_ready(d);
		break;
	case DISPATCH_BAD:
		supervise_kill(d, why);
		break;
	}
}

int supervise_attach(struct daemon *d, pid_t pid, int chan_fd, int log_fd)
{
	struct supervisor *sv = d->sv;
	struct timeval tv;

	d->pid = pid;
	d->starts++;
	d->hello_seen = 0;
	d->missed_pings = 0;
	d->kill_reason = NULL;
	d->started_ms = now_ms();
	restart_note_start(&d->rs, &sv->conf.policy[d->id], d->started_ms);
	d->state = DS_HANDSHAKE;
	d->ch = chan_new(sv->base, chan_fd, PROTO_MAX_PAYLOAD, supervise_on_frame, d);
	d->logbe = bufferevent_socket_new(sv->base, log_fd, BEV_OPT_CLOSE_ON_FREE);
	if (d->ch == NULL || d->logbe == NULL) {
		log_error("%s: cannot watch the new child", d->name);
		if (d->ch == NULL)
			close(chan_fd);
		if (d->logbe == NULL)
			close(log_fd);
		supervise_kill(d, "could not be watched");
		return -1;
	}
	chan_set_check(d->ch, dispatch_check, d);
	bufferevent_setcb(d->logbe, supervise_on_log, NULL, supervise_on_log_event, d);
	bufferevent_enable(d->logbe, EV_READ);
	ms_to_tv(sv->conf.handshake_timeout_ms, &tv);
	evtimer_add(d->ev_timer, &tv);
	log_debug("%s: started, pid %d", d->name, (int)pid);
	return 0;
}

static void supervise_spawn(struct daemon *d)
{
	struct supervisor *sv = d->sv;
	char *argv[8], **env;
	char vflag[8] = "-v";
	int sp[2], lp[2], devnull, i, argc = 0;
	struct timeval tv;
	pid_t pid;

	argv[argc++] = d->path;
	if (sv->conf.verbose > 0) {
		for (i = 1; i < sv->conf.verbose && i < 5; i++)
			vflag[i + 1] = 'v';
		argv[argc++] = vflag;
	}
	argv[argc] = NULL;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("%s: socketpair", d->name);
		goto retry;
	}
	if (pipe2(lp, O_CLOEXEC) == -1) {
		log_warn("%s: pipe", d->name);
		close(sp[0]);
		close(sp[1]);
		goto retry;
	}
	if ((env = supervise_child_env()) == NULL ||
	    (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) {
		free(env);
		close(sp[0]);
		close(sp[1]);
		close(lp[0]);
		close(lp[1]);
		goto retry;
	}
	if ((pid = fork()) == -1) {
		log_warn("%s: fork", d->name);
		free(env);
		close(devnull);
		close(sp[0]);
		close(sp[1]);
		close(lp[0]);
		close(lp[1]);
		goto retry;
	}
	if (pid == 0) {
		/* Move the fds we pass above the fixed slots first, so that
		 * dup2() below never clobbers one of them. dup2() clears
		 * FD_CLOEXEC on the copies; everything else closes at exec. */
		int cfd = fcntl(sp[1], F_DUPFD_CLOEXEC, 10);
		int lfd = fcntl(lp[1], F_DUPFD_CLOEXEC, 10);
		int nfd = fcntl(devnull, F_DUPFD_CLOEXEC, 10);
		sigset_t none;

		if (cfd == -1 || lfd == -1 || nfd == -1 || dup2(nfd, STDIN_FILENO) == -1 ||
		    dup2(nfd, STDOUT_FILENO) == -1 || dup2(lfd, STDERR_FILENO) == -1 ||
		    dup2(cfd, PROTO_CHILD_FD) == -1)
			_exit(126);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		closefrom(PROTO_CHILD_FD + 1);
		execve(d->path, argv, env);
		_exit(127);
	}
	free(env);
	close(devnull);
	close(sp[1]);
	close(lp[1]);
	supervise_attach(d, pid, sp[0], lp[0]);
	return;
retry:
	/* Resources ran out: treat it like an immediate exit. */
	d->state = DS_BACKOFF;
	d->starts++;
	ms_to_tv(1000, &tv);
	evtimer_add(d->ev_timer, &tv);
}

void supervise_kill(struct daemon *d, const char *reason)
{
	if (d->pid <= 0)
		return;
	if (d->kill_reason == NULL)
		d->kill_reason = reason;
	kill(d->pid, SIGKILL);
	if (d->ch != NULL) {
		chan_free(d->ch);
		d->ch = NULL;
	}
}

void supervise_ready(struct daemon *d)
{
	struct supervisor *sv = d->sv;
	int i, all = 1;

	evtimer_del(d->ev_timer);
	d->state = DS_READY;
	log_info("%s: ready (pid %d)", d->name, (int)d->pid);
	if (d->id == D_APID)
		supervise_health(sv);
	if (sv->hooks.ready != NULL)
		sv->hooks.ready(d->id, sv->hooks.arg);
	for (i = D_ENGINECTL; i < D_COUNT; i++)
		all &= sv->d[i].state == DS_READY;
	if (all && !sv->announced_ready) {
		sv->announced_ready = 1;
		notify_send(&sv->notify, "READY=1");
		log_info("all children ready");
	}
	supervise_status(sv);
}

/* Handshake deadline passed, or a restart delay ended. */
static void supervise_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	if (d->state == DS_HANDSHAKE) {
		log_error("%s: no handshake within %u ms", d->name,
			  d->sv->conf.handshake_timeout_ms);
		supervise_kill(d, "did not complete its handshake");
	} else if (d->state == DS_BACKOFF && !d->sv->stopping) {
		supervise_spawn(d);
	}
}

static void supervise_log_violation(struct daemon *d, const struct seccomp_record *rec)
{
	char name[64];

	if (rec == NULL)
		log_error("%s: sandbox violation: pid %d killed by SIGSYS (syscall not known: "
			  "no kernel audit record seen)",
			  d->name, (int)d->sigsys_pid);
	else
		log_error("%s: sandbox violation: pid %d killed by SIGSYS for calling %s (%ld)",
			  d->name, (int)rec->pid, kmsg_syscall_name(rec, name, sizeof(name)),
			  rec->nr);
	d->sigsys_pid = 0;
	evtimer_del(d->ev_sigsys);
}

static void supervise_on_sigsys_wait(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	supervise_log_violation(arg, NULL);
}

/* Whose allow-list forbids a call a child made: its own, or agentd's, which
 * every child inherits (both filters apply; the record does not say which
 * one stopped the call). */
static const char *supervise_whose(struct supervisor *sv, long nr)
{
	if (sv->conf.own_filter_loaded && sv->conf.own_filter[0] != NULL &&
	    !sandbox_names(sv->conf.own_filter, 2, nr))
		return "agentd's allow-list (which its children inherit)";
	return "its allow-list";
}

/* A process agentd started (or one of theirs) that is not a child: a
 * command it ran, under its filter. Its name in comm; 0 if it is not one
 * (or is gone already: the kernel's record came too late to tell). */
static int supervise_descendant(pid_t pid, char *comm, size_t len)
{
	pid_t self = getpid(), p = pid;
	char path[64], buf[512], *rp;
	int depth;
	FILE *f;

	comm[0] = '\0';
	for (depth = 0; depth < 8 && p > 1; depth++) {
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)p);
		if ((f = fopen(path, "re")) == NULL)
			return 0;
		buf[0] = '\0';
		if (fgets(buf, sizeof(buf), f) == NULL)
			buf[0] = '\0';
		fclose(f);
		/* pid (comm) state ppid ...: comm may hold spaces and parentheses */
		if ((rp = strrchr(buf, ')')) == NULL)
			return 0;
		if (p == pid) {
			char *lp = strchr(buf, '(');

			if (lp != NULL)
				snprintf(comm, len, "%.*s", (int)(rp - lp - 1), lp + 1);
		}
		if (sscanf(rp + 1, " %*c %d", &p) != 1)
			return 0;
		if (p == self)
			return 1;
	}
	return 0;
}

static void supervise_seccomp_record(const struct seccomp_record *rec, void *arg)
{
	struct supervisor *sv = arg;
	char name[64], comm[64];
	int i;

	for (i = D_ENGINECTL; i < D_COUNT; i++) {
		struct daemon *d = &sv->d[i];

		if (rec->killed && d->sigsys_pid == rec->pid) {
			supervise_log_violation(d, rec);
			return;
		}
		if (rec->killed && d->pid == rec->pid) {
			d->violation = *rec; /* SIGCHLD has not arrived yet */
			return;
		}
		if (!rec->killed && d->pid == rec->pid) {
			log_as(d->name, LOG_LVL_WARN,
			       "sandbox (log mode): called %s (%ld), which %s forbids",
			       kmsg_syscall_name(rec, name, sizeof(name)), rec->nr,
			       supervise_whose(sv, rec->nr));
			return;
		}
	}
	/* agentd's own filter: agentd itself (in log mode: a kill leaves no one
	 * to say it), or a command it ran (while the kernel's record finds it
	 * still there) */
	if (rec->killed) {
		if (rec->pid != getpid() && supervise_descendant(rec->pid, comm, sizeof(comm)))
			log_error("sandbox violation: %s (pid %d, run by agentd) killed by SIGSYS "
				  "for calling %s (%ld), which agentd's allow-list forbids",
				  comm, (int)rec->pid, kmsg_syscall_name(rec, name, sizeof(name)),
				  rec->nr);
		return;
	}
	if (rec->pid == getpid())
		log_warnx("sandbox (log mode): agentd called %s (%ld), which its allow-list "
			  "forbids",
			  kmsg_syscall_name(rec, name, sizeof(name)), rec->nr);
	else if (supervise_descendant(rec->pid, comm, sizeof(comm)))
		log_warnx("sandbox (log mode): %s (pid %d, run by agentd) called %s (%ld), "
			  "which agentd's allow-list forbids",
			  comm, (int)rec->pid, kmsg_syscall_name(rec, name, sizeof(name)), rec->nr);
}

static void supervise_describe_exit(struct daemon *d, int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "stopped (status 0x%x)", status);
	if (d->kill_reason != NULL) {
		size_t off = strlen(buf);

		snprintf(buf + off, len - off, " after agentd killed it: it %s", d->kill_reason);
	}
}

static void supervise_exited(struct daemon *d, int status)
{
	struct supervisor *sv = d->sv;
	const struct restart_policy *p = &sv->conf.policy[d->id];
	uint64_t now = now_ms();
	enum restart_verdict v;
	char how[256];
	uint32_t delay = 0;
	struct timeval tv;
	int failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	evtimer_del(d->ev_timer);
	if (d->ch != NULL) {
		chan_free(d->ch);
		d->ch = NULL;
	}
	d->pid = 0;
	if (sv->stopping) {
		d->state = DS_DOWN;
		return;
	}
	supervise_describe_exit(d, status, how, sizeof(how));
	log_error("%s: %s", d->name, how);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) {
		/* The audit record may already be here, or arrive shortly. */
		kmsg_drain(sv->kmsg);
		if (d->sigsys_pid != 0 && d->violation.pid == d->sigsys_pid) {
			supervise_log_violation(d, &d->violation);
		} else if (d->sigsys_pid != 0) {
			ms_to_tv(SIGSYS_NAME_WAIT_MS, &tv);
			evtimer_add(d->ev_sigsys, &tv);
		}
	}
	v = restart_after_exit(&d->rs, p, now, now - d->started_ms, failed, (uint32_t)random(),
			       &delay);
	switch (v) {
	case RESTART_AFTER_DELAY:
		d->state = DS_BACKOFF;
		log_info("%s: restarting in %u ms", d->name, delay);
		ms_to_tv(delay, &tv);
		evtimer_add(d->ev_timer, &tv);
		break;
	case RESTART_NOT_WANTED:
		d->state = DS_DOWN;
		log_info("%s: not restarted (restart policy %s)", d->name,
			 restart_mode_name(p->mode));
		break;
	case RESTART_BURST_LIMIT:
		d->state = DS_FAILED;
		log_error("%s: started %u times within %u ms: leaving it down; agentd is "
			  "unhealthy",
			  d->name, p->burst_limit, p->burst_window_ms);
		break;
	}
	supervise_health(sv);
	supervise_status(sv);
}

void supervise_reap(struct supervisor *sv)
{
	int status, i, all_down;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = D_ENGINECTL; i < D_COUNT; i++) {
			struct daemon *d = &sv->d[i];

			if (d->pid != pid)
				continue;
			if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
				d->sigsys_pid = pid;
			supervise_exited(d, status);
			break;
		}
		if (i == D_COUNT && sv->hooks.reaped != NULL)
			sv->hooks.reaped(pid, status, sv->hooks.arg);
	}
	if (sv->stopping) {
		all_down = 1;
		for (i = D_ENGINECTL; i < D_COUNT; i++)
			all_down &= sv->d[i].pid == 0;
		if (all_down)
			event_base_loopbreak(sv->base);
	}
}

static void supervise_on_pong(struct chan *ch, const struct frame_hdr *hdr, json_t *body, void *arg)
{
	struct daemon *d = arg;

	(void)ch;
	(void)body;
	if (hdr != NULL && hdr->type == MSG_PONG)
		d->missed_pings = 0;
}

void supervise_ping(struct supervisor *sv)
{
	int i, fresh = 1;

	for (i = D_ENGINECTL; i < D_COUNT; i++) {
		struct daemon *d = &sv->d[i];

		if (d->state != DS_READY || d->ch == NULL)
			continue;
		if (d->missed_pings >= MISSED_PINGS_MAX) {
			log_error("%s: did not answer %d pings", d->name, MISSED_PINGS_MAX);
			supervise_kill(d, "stopped answering pings");
			continue;
		}
		if (d->missed_pings > 1)
			fresh = 0;
		d->missed_pings++;
		chan_request(d->ch, MSG_PING, NULL, supervise_on_pong, d);
	}
	if (fresh && sv->healthy && sv->notify.watchdog_usec > 0)
		notify_send(&sv->notify, "WATCHDOG=1");
}

void supervise_stop(struct supervisor *sv)
{
	int i, any = 0;

	sv->stopping = 1;
	notify_send(&sv->notify, "STOPPING=1");
	if (sv->hooks.stopping != NULL)
		sv->hooks.stopping(sv->hooks.arg);
	for (i = D_ENGINECTL; i < D_COUNT; i++) {
		struct daemon *d = &sv->d[i];

		evtimer_del(d->ev_timer);
		if (d->pid <= 0)
			continue;
		any = 1;
		if (d->ch != NULL && d->state == DS_READY)
			chan_send_json(d->ch, MSG_SHUTDOWN, 0, 0, NULL);
		kill(d->pid, SIGTERM);
	}
	if (!any)
		event_base_loopbreak(sv->base);
}

void supervise_kill_all(struct supervisor *sv)
{
	int i;

	for (i = D_ENGINECTL; i < D_COUNT; i++) {
		if (sv->d[i].pid > 0) {
			log_warnx("%s: did not stop in time: killing it", sv->d[i].name);
			kill(sv->d[i].pid, SIGKILL);
		}
	}
}

void supervise_free(struct supervisor *sv)
{
	int i;

	kmsg_close(sv->kmsg);
	sv->kmsg = NULL;
	for (i = D_ENGINECTL; i < D_COUNT; i++) {
		struct daemon *d = &sv->d[i];

		if (d->ch != NULL)
			chan_free(d->ch);
		if (d->logbe != NULL) {
			supervise_on_log(d->logbe, d);
			bufferevent_free(d->logbe);
		}
		if (d->ev_timer != NULL)
			event_free(d->ev_timer);
		if (d->ev_sigsys != NULL)
			event_free(d->ev_sigsys);
		memset(d, 0, sizeof(*d));
	}
	notify_close(&sv->notify);
}
