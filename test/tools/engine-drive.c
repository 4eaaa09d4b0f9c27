/*
 * engine-drive.c - a test and benchmark driver for enginectl: it starts
 * enginectl exactly as agentd does (socketpair on fd 3, hello/config/ready
 * handshake) and then plays agentd's part from a script.
 *
 *   engine-drive ENGINECTL ENGINE_SOCKET [kill|log]
 *
 * stdin, one JSON object per line:
 *   {"op": "container.inspect", "args": {...}, "tag": "t1"}   an engine call
 *   {"bench": {"op": ..., "args": ..., "n": 1000, "concurrency": 1}}
 *   {"quit": true}
 * stdout, one JSON object per line:
 *   {"ready": true, "pid": N}                          enginectl is sandboxed
 *   {"reply": "t1", "type": "engine-result"|"error", "body": {...}}
 *   {"event": "engine-state"|"engine-event"|"engine-progress"|..., "body": {...}}
 *   {"bench": {"n": N, "seconds": S}}
 *   {"exit": STATUS}                                   enginectl's wait status
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "chan.h"
#include "log.h"
#include "proto.h"

struct drive {
	struct event_base *base;
	struct chan *ch;
	struct bufferevent *in;
	const char *sock, *mode;
	pid_t pid;
	/* bench */
	json_t *bench_call;
	long bench_left, bench_inflight, bench_done, bench_n;
	struct timespec bench_t0;
};

static void out(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	if (s != NULL) {
		printf("%s\n", s);
		fflush(stdout);
		free(s);
	}
	json_decref(j);
}

static void on_reply(struct chan *ch, const struct frame_hdr *hdr, json_t *body, void *arg)
{
	json_t *tag = arg;

	(void)ch;
	out(json_pack("{s:o, s:s, s:O?}", "reply", tag ? tag : json_null(), "type",
		      hdr ? msg_name(hdr->type) : "closed", "body", body));
}

static void bench_next(struct drive *d);

static void on_bench_reply(struct chan *ch, const struct frame_hdr *hdr, json_t *body, void *arg)
{
	struct drive *d = arg;
	struct timespec t1;

	(void)ch;
	(void)body;
	if (hdr == NULL || hdr->type != MSG_ENGINE_RESULT)
		fprintf(stderr, "bench: a call failed\n");
	d->bench_inflight--;
	d->bench_done++;
	if (d->bench_done == d->bench_n) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		out(json_pack("{s:{s:I, s:f}}", "bench", "n", (json_int_t)d->bench_n, "seconds",
			      (double)(t1.tv_sec - d->bench_t0.tv_sec) +
				      (double)(t1.tv_nsec - d->bench_t0.tv_nsec) / 1e9));
		json_decref(d->bench_call);
		d->bench_call = NULL;
		return;
	}
	bench_next(d);
}

static void bench_next(struct drive *d)
{
	while (d->bench_left > 0 && d->bench_inflight < 64) {
		d->bench_left--;
		d->bench_inflight++;
		chan_request(d->ch, MSG_ENGINE_CALL, d->bench_call, on_bench_reply, d);
		if (d->bench_inflight >=
		    (long)json_integer_value(json_object_get(d->bench_call, "_concurrency")))
			break;
	}
}

static void on_msg(struct chan *ch, const struct frame_hdr *hdr, const char *payload, int fd,
		   void *arg)
{
	struct drive *d = arg;
	json_t *body, *cfg;

	if (fd >= 0)
		close(fd);
	if (hdr == NULL) {
		fprintf(stderr, "engine-drive: channel closed: %s\n", chan_error(ch));
		event_base_loopbreak(d->base);
		return;
	}
	body = json_loads(payload, 0, NULL);
	switch (hdr->type) {
	case MSG_HELLO:
		cfg = json_pack("{s:i, s:i, s:s, s:s, s:s}", "version", PROTO_VERSION, "verbose", 1,
				"sandbox", d->mode, "user", "nobody", "engine_socket", d->sock);
		chan_send_json(ch, MSG_CONFIG, 0, 0, cfg);
		json_decref(cfg);
		break;
	case MSG_READY:
		out(json_pack("{s:b, s:i}", "ready", 1, "pid", (int)d->pid));
		bufferevent_enable(d->in, EV_READ); /* commands only once it serves */
		break;
	default:
		out(json_pack("{s:s, s:O?}", "event", msg_name(hdr->type), "body", body));
		break;
	}
	json_decref(body);
}

static void on_input(struct bufferevent *be, void *arg)
{
	struct drive *d = arg;
	char *line;

	while ((line = evbuffer_readln(bufferevent_get_input(be), NULL, EVBUFFER_EOL_LF)) != NULL) {
		json_t *cmd = json_loads(line, 0, NULL), *b;

		free(line);
		if (cmd == NULL)
			continue;
		if (json_is_true(json_object_get(cmd, "quit"))) {
			chan_send_json(d->ch, MSG_SHUTDOWN, 0, 0, NULL);
		} else if ((b = json_object_get(cmd, "bench")) != NULL) {
			d->bench_n = d->bench_left =
				(long)json_integer_value(json_object_get(b, "n"));
			d->bench_done = d->bench_inflight = 0;
			d->bench_call = json_pack(
				"{s:O, s:O?, s:I}", "op", json_object_get(b, "op"), "args",
				json_object_get(b, "args"), "_concurrency",
				json_integer_value(json_object_get(b, "concurrency")) ?: 1);
			clock_gettime(CLOCK_MONOTONIC, &d->bench_t0);
			bench_next(d);
		} else {
			json_t *tag = json_object_get(cmd, "tag");
			json_t *call = json_pack("{s:O, s:O?}", "op", json_object_get(cmd, "op"),
						 "args", json_object_get(cmd, "args"));

			chan_request(d->ch, MSG_ENGINE_CALL, call, on_reply,
				     tag ? json_incref(tag) : NULL);
			json_decref(call);
		}
		json_decref(cmd);
	}
}

static void on_input_event(struct bufferevent *be, short what, void *arg)
{
	struct drive *d = arg;

	(void)be;
	(void)what;
	chan_send_json(d->ch, MSG_SHUTDOWN, 0, 0, NULL); /* stdin closed: stop */
}

static void on_chld(evutil_socket_t sig, short what, void *arg)
{
	struct drive *d = arg;
	int status;

	(void)sig;
	(void)what;
	if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
		out(json_pack("{s:i}", "exit", status));
		event_base_loopbreak(d->base);
	}
}

int main(int argc, char **argv)
{
	struct drive d;
	struct event *chld;
	int sv[2];

	if (argc < 3) {
		fprintf(stderr, "usage: engine-drive ENGINECTL ENGINE_SOCKET [kill|log]\n");
		return 2;
	}
	memset(&d, 0, sizeof(d));
	d.sock = argv[2];
	d.mode = argc > 3 ? argv[3] : "kill";
	log_init("engine-drive", LOG_TO_STDERR, 0);
	signal(SIGPIPE, SIG_IGN);
	d.base = event_base_new();
	chld = evsignal_new(d.base, SIGCHLD, on_chld, &d);
	event_add(chld, NULL);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return 1;
	if ((d.pid = fork()) == 0) {
		int cfd = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
		char *cargv[] = {argv[1], NULL};

		dup2(cfd, PROTO_CHILD_FD);
		execv(argv[1], cargv);
		_exit(127);
	}
	close(sv[1]);
	d.ch = chan_new(d.base, sv[0], PROTO_MAX_PAYLOAD, on_msg, &d);
	d.in = bufferevent_socket_new(d.base, STDIN_FILENO, 0);
	bufferevent_setcb(d.in, on_input, NULL, on_input_event, &d);
	event_base_dispatch(d.base);
	kill(d.pid, SIGKILL);
	waitpid(d.pid, NULL, 0);
	chan_free(d.ch);
	bufferevent_free(d.in);
	event_free(chld);
	event_base_free(d.base);
	return 0;
}
