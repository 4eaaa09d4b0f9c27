/*
 * chan.c - framed socketpair channel (see chan.h).
 *
 * Reading: recvmsg() into a growing buffer; descriptors that arrive with
 * SCM_RIGHTS wait in a small queue and are handed to the first complete
 * frame flagged FRAME_F_FD (the sender attaches the fd to that frame's first
 * byte, so it is always queued by the time the frame is complete).
 * Writing: a FIFO of encoded frames, written as far as the socket accepts;
 * EV_WRITE is armed only while output is pending.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chan.h"
#include "log.h"
#include "proto.h"

#define CHAN_READ_CHUNK (64 * 1024)
#define CHAN_MAX_FDS    8

struct chan_out {
	TAILQ_ENTRY(chan_out) entry;
	size_t len, off;
	int fd; /* sent with the first byte, then closed; -1 when none */
	unsigned char data[];
};

struct chan_pending {
	TAILQ_ENTRY(chan_pending) entry;
	uint32_t id;
	chan_reply_cb cb;
	void *arg;
};

struct chan {
	int fd;
	struct event *ev_read, *ev_write;
	uint32_t max_payload;
	chan_msg_cb cb;
	void *arg;

	unsigned char *rbuf; /* owned; rlen bytes valid of rcap */
	size_t rlen, rcap;
	int fds[CHAN_MAX_FDS]; /* received fds not yet claimed by a frame */
	int nfds;

	TAILQ_HEAD(, chan_out) out; /* owned */
	size_t queued;
	TAILQ_HEAD(, chan_pending) pending; /* owned */
	uint32_t next_id;

	chan_check_cb check; /* incoming frames' check, or NULL */
	void *check_arg;
	char errbuf[256];  /* a check's reason, when error points here */
	const char *error; /* static string, or errbuf */
	int reply_fd;      /* during a reply callback: the fd that came with it, or -1 */
	int in_dispatch;   /* >0 while callbacks run: defer free */
	int free_pending;
};

static void chan_on_read(evutil_socket_t fd, short what, void *arg);
static void chan_on_write(evutil_socket_t fd, short what, void *arg);

struct chan *chan_new(struct event_base *base, int fd, uint32_t max_payload, chan_msg_cb cb,
		      void *arg)
{
	struct chan *ch;
	int fl;

	if ((ch = calloc(1, sizeof(*ch))) == NULL)
		return NULL;
	if ((fl = fcntl(fd, F_GETFL)) == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		free(ch);
		return NULL;
	}
	ch->fd = fd;
	ch->max_payload = max_payload;
	ch->cb = cb;
	ch->arg = arg;
	ch->next_id = 1;
	ch->reply_fd = -1;
	TAILQ_INIT(&ch->out);
	TAILQ_INIT(&ch->pending);
	ch->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, chan_on_read, ch);
	ch->ev_write = event_new(base, fd, EV_WRITE | EV_PERSIST, chan_on_write, ch);
	if (ch->ev_read == NULL || ch->ev_write == NULL || event_add(ch->ev_read, NULL) == -1) {
		if (ch->ev_read)
			event_free(ch->ev_read);
		if (ch->ev_write)
			event_free(ch->ev_write);
		free(ch);
		return NULL;
	}
	return ch;
}

void chan_set_check(struct chan *ch, chan_check_cb check, void *arg)
{
	ch->check = check;
	ch->check_arg = arg;
}

static void chan_fail_pending(struct chan *ch)
{
	struct chan_pending *p;

	while ((p = TAILQ_FIRST(&ch->pending)) != NULL) {
		TAILQ_REMOVE(&ch->pending, p, entry);
		p->cb(ch, NULL, NULL, p->arg);
		free(p);
	}
}

static void chan_destroy(struct chan *ch)
{
	struct chan_out *o;
	int i;

	event_free(ch->ev_read);
	event_free(ch->ev_write);
	while ((o = TAILQ_FIRST(&ch->out)) != NULL) {
		TAILQ_REMOVE(&ch->out, o, entry);
		if (o->fd >= 0)
			close(o->fd);
		free(o);
	}
	for (i = 0; i < ch->nfds; i++)
		close(ch->fds[i]);
	close(ch->fd);
	free(ch->rbuf);
	free(ch);
}

void chan_free(struct chan *ch)
{
	if (ch == NULL)
		return;
	if (ch->free_pending)
		return;
	ch->free_pending = 1;
	event_del(ch->ev_read);
	event_del(ch->ev_write);
	ch->in_dispatch++;
	chan_fail_pending(ch);
	ch->in_dispatch--;
	if (ch->in_dispatch == 0)
		chan_destroy(ch);
}

/* Stop the channel and tell the owner, once. */
static void chan_fail(struct chan *ch, const char *why)
{
	if (ch->error != NULL)
		return;
	ch->error = why;
	event_del(ch->ev_read);
	event_del(ch->ev_write);
	ch->cb(ch, NULL, NULL, -1, ch->arg);
}

static void chan_stash_fds(struct chan *ch, struct msghdr *msg)
{
	struct cmsghdr *c;
	int *fds, n, i;

	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		fds = (int *)CMSG_DATA(c);
		n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < n; i++) {
			if (ch->nfds < CHAN_MAX_FDS)
				ch->fds[ch->nfds++] = fds[i];
			else
				close(fds[i]);
		}
	}
}

static int chan_take_fd(struct chan *ch)
{
	int fd;

	if (ch->nfds == 0)
		return -1;
	fd = ch->fds[0];
	memmove(ch->fds, ch->fds + 1, (size_t)(ch->nfds - 1) * sizeof(int));
	ch->nfds--;
	return fd;
}

static void chan_route_reply(struct chan *ch, const struct frame_hdr *hdr, const char *payload,
			     int fd)
{
	struct chan_pending *p;
	json_t *body;

	TAILQ_FOREACH(p, &ch->pending, entry)
		if (p->id == hdr->id)
			break;
	if (p == NULL) {
		if (fd >= 0)
			close(fd);
		return; /* a late reply whose requester gave up: drop it */
	}
	TAILQ_REMOVE(&ch->pending, p, entry);
	body = json_loadb(payload, hdr->len, 0, NULL);
	if (body == NULL)
		body = json_object();
	ch->reply_fd = fd;
	p->cb(ch, hdr, body, p->arg);
	if (ch->reply_fd >= 0)
		close(ch->reply_fd);
	ch->reply_fd = -1;
	json_decref(body);
	free(p);
}

/* Deliver every complete frame in the read buffer. */
static void chan_dispatch(struct chan *ch)
{
	struct frame_hdr hdr;
	const char *why = NULL;
	size_t off = 0;
	long n;
	int fd;

	ch->in_dispatch++;
	while (!ch->free_pending && ch->error == NULL) {
		n = frame_decode(ch->rbuf + off, ch->rlen - off, ch->max_payload, &hdr, &why);
		if (n == 0)
			break;
		if (n < 0) {
			chan_fail(ch, why);
			break;
		}
		fd = -1;
		if (hdr.flags & FRAME_F_FD) {
			if ((fd = chan_take_fd(ch)) == -1) {
				chan_fail(ch, "frame announced a descriptor that did not arrive");
				break;
			}
		}
		/* NUL-terminate in place: the next frame's first byte is saved. */
		{
			unsigned char *p = ch->rbuf + off + FRAME_HDR_LEN;
			unsigned char saved = p[hdr.len];

			p[hdr.len] = '\0';
			if (ch->check != NULL &&
			    ch->check(&hdr, (const char *)p, ch->errbuf, sizeof(ch->errbuf),
				      ch->check_arg) == -1) {
				p[hdr.len] = saved;
				if (fd >= 0)
					close(fd);
				chan_fail(ch, ch->errbuf);
				break;
			}
			if (hdr.flags & FRAME_F_REPLY) {
				chan_route_reply(ch, &hdr, (const char *)p, fd);
			} else {
				ch->cb(ch, &hdr, (const char *)p, fd, ch->arg);
			}
			if (!ch->free_pending)
				p[hdr.len] = saved;
		}
		off += (size_t)n;
	}
	if (!ch->free_pending && off > 0) {
		memmove(ch->rbuf, ch->rbuf + off, ch->rlen - off);
		ch->rlen -= off;
	}
	ch->in_dispatch--;
	if (ch->free_pending && ch->in_dispatch == 0)
		chan_destroy(ch);
}

static void chan_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct chan *ch = arg;
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * CHAN_MAX_FDS)];
	} cbuf;
	struct msghdr msg;
	struct iovec iov;
	ssize_t n;
	size_t want;

	(void)what;
	/* +1 keeps room for the NUL written after a payload ending the buffer. */
	want = ch->rlen + CHAN_READ_CHUNK + 1;
	if (want > ch->rcap) {
		unsigned char *nb = realloc(ch->rbuf, want);

		if (nb == NULL) {
			chan_fail(ch, "out of memory");
			return;
		}
		ch->rbuf = nb;
		ch->rcap = want;
	}
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = ch->rbuf + ch->rlen;
	iov.iov_len = CHAN_READ_CHUNK;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		chan_fail(ch, "read error");
		return;
	}
	if (n == 0) {
		chan_fail(ch, "peer closed the channel");
		return;
	}
	chan_stash_fds(ch, &msg);
	if (msg.msg_flags & MSG_CTRUNC) {
		chan_fail(ch, "too many descriptors in one message");
		return;
	}
	ch->rlen += (size_t)n;
	chan_dispatch(ch);
}

/* Write as much queued output as the socket takes. Returns -1 on a hard error. */
static int chan_write_some(struct chan *ch)
{
	struct chan_out *o;
	ssize_t n;

	while ((o = TAILQ_FIRST(&ch->out)) != NULL) {
		if (o->fd >= 0 && o->off == 0) {
			union {
				struct cmsghdr hdr;
				char buf[CMSG_SPACE(sizeof(int))];
			} cbuf;
			struct msghdr msg;
			struct iovec iov = {o->data, o->len};
			struct cmsghdr *c;

			memset(&msg, 0, sizeof(msg));
			memset(&cbuf, 0, sizeof(cbuf));
			msg.msg_iov = &iov;
			msg.msg_iovlen = 1;
			msg.msg_control = cbuf.buf;
			msg.msg_controllen = sizeof(cbuf.buf);
			c = CMSG_FIRSTHDR(&msg);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &o->fd, sizeof(int));
			n = sendmsg(ch->fd, &msg, MSG_NOSIGNAL);
			if (n > 0) {
				close(o->fd);
				o->fd = -1;
			}
		} else {
			n = send(ch->fd, o->data + o->off, o->len - o->off, MSG_NOSIGNAL);
		}
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -1;
		}
		o->off += (size_t)n;
		ch->queued -= (size_t)n;
		if (o->off < o->len)
			return 0;
		TAILQ_REMOVE(&ch->out, o, entry);
		free(o);
	}
	return 0;
}

static void chan_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct chan *ch = arg;

	(void)fd;
	(void)what;
	if (chan_write_some(ch) == -1) {
		chan_fail(ch, "write error");
		return;
	}
	if (TAILQ_EMPTY(&ch->out))
		event_del(ch->ev_write);
}

static void chan_send_error_reply(struct chan *ch, uint32_t id, const char *why)
{
	json_t *e = json_pack("{s:s}", "error", why);

	if (e != NULL)
		chan_send_json(ch, MSG_ERROR, id, FRAME_F_REPLY, e);
	json_decref(e);
}

/* Would agentd refuse this frame (agentd/supervisor/dispatch.c)? Only what
 * agentd receives is looked at; agentd itself sends no such frame but error
 * replies, which are small. */
static int chan_refused(uint32_t type, const void *data, size_t len, char *why, size_t whylen)
{
	const struct msg_spec *s;

	if (type >= MSG_TYPE_COUNT || msg_catalogue[type].name == NULL)
		return 0;
	s = &msg_catalogue[type];
	if (!(s->receivers & D_BIT(D_AGENTD)))
		return 0;
	if (len > s->max_len) {
		snprintf(why, whylen, "%s message of %zu bytes (at most %u)", s->name, len,
			 (unsigned)s->max_len);
		return 1;
	}
	return msg_check_body(type, data, len, why, whylen) == -1;
}

int chan_send(struct chan *ch, uint32_t type, uint32_t id, uint32_t flags, const void *data,
	      size_t len, int fd)
{
	struct chan_out *o;
	char why[256];

	if (ch->error != NULL || ch->free_pending || len > ch->max_payload) {
		if (fd >= 0)
			close(fd);
		if (ch->error == NULL && !ch->free_pending && (flags & FRAME_F_REPLY) &&
		    type != MSG_ERROR) {
			snprintf(why, sizeof(why), "answer of %zu bytes: too large to send", len);
			chan_send_error_reply(ch, id, why);
		}
		return -1;
	}
	if (chan_refused(type, data, len, why, sizeof(why))) {
		log_warnx("not sent: %s", why);
		if (fd >= 0)
			close(fd);
		if ((flags & FRAME_F_REPLY) && type != MSG_ERROR)
			chan_send_error_reply(ch, id, why);
		return -1;
	}
	if ((o = malloc(sizeof(*o) + FRAME_HDR_LEN + len)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (fd >= 0)
		flags |= FRAME_F_FD;
	frame_encode(o->data, type, (uint32_t)len, id, flags);
	if (len > 0)
		memcpy(o->data + FRAME_HDR_LEN, data, len);
	o->len = FRAME_HDR_LEN + len;
	o->off = 0;
	o->fd = fd;
	TAILQ_INSERT_TAIL(&ch->out, o, entry);
	ch->queued += o->len;
	/* Try at once: most frames fit the socket buffer and need no event. A
	 * write error is not reported from here (the caller may be in the middle
	 * of using the channel's owner): the read side sees the peer gone. */
	if (chan_write_some(ch) == -1) {
		event_del(ch->ev_write);
		return -1;
	}
	if (!TAILQ_EMPTY(&ch->out))
		event_add(ch->ev_write, NULL);
	return 0;
}

int chan_send_json(struct chan *ch, uint32_t type, uint32_t id, uint32_t flags, json_t *body)
{
	char *text;
	int rc;

	if (body == NULL)
		return chan_send(ch, type, id, flags, "{}", 2, -1);
	if ((text = json_dumps(body, JSON_COMPACT)) == NULL)
		return -1;
	rc = chan_send(ch, type, id, flags, text, strlen(text), -1);
	free(text);
	return rc;
}

int chan_request(struct chan *ch, uint32_t type, json_t *body, chan_reply_cb cb, void *arg)
{
	struct chan_pending *p;
	uint32_t id;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -1;
	id = ch->next_id++;
	if (ch->next_id == 0)
		ch->next_id = 1;
	if (chan_send_json(ch, type, id, 0, body) == -1) {
		free(p);
		return -1;
	}
	p->id = id;
	p->cb = cb;
	p->arg = arg;
	TAILQ_INSERT_TAIL(&ch->pending, p, entry);
	return 0;
}

int chan_reply(struct chan *ch, const struct frame_hdr *req, uint32_t type, json_t *body)
{
	return chan_send_json(ch, type, req->id, FRAME_F_REPLY, body);
}

int chan_reply_error(struct chan *ch, const struct frame_hdr *req, int status, const char *reason)
{
	json_t *body = json_pack("{s:s}", "error", reason);
	int rc;

	if (body == NULL)
		return -1;
	if (status != 0)
		json_object_set_new(body, "status", json_integer(status));
	rc = chan_reply(ch, req, MSG_ERROR, body);
	json_decref(body);
	return rc;
}

int chan_flush(struct chan *ch, int timeout_ms)
{
	struct pollfd pfd = {ch->fd, POLLOUT, 0};

	while (!TAILQ_EMPTY(&ch->out)) {
		if (chan_write_some(ch) == -1)
			return -1;
		if (TAILQ_EMPTY(&ch->out))
			break;
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -1;
	}
	event_del(ch->ev_write);
	return 0;
}

int chan_take_reply_fd(struct chan *ch)
{
	int fd = ch->reply_fd;

	ch->reply_fd = -1;
	return fd;
}

int chan_reply_fd(struct chan *ch, const struct frame_hdr *req, uint32_t type, json_t *body, int fd)
{
	char *text = json_dumps(body, JSON_COMPACT);
	int rc;

	if (text == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	rc = chan_send(ch, type, req->id, FRAME_F_REPLY, text, strlen(text), fd);
	free(text);
	return rc;
}

const char *chan_error(const struct chan *ch)
{
	return ch->error;
}

size_t chan_queued(const struct chan *ch)
{
	return ch->queued;
}

int chan_fd(const struct chan *ch)
{
	return ch->fd;
}
