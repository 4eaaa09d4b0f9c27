/*
 * test_chan.c - the framed channel over a real socketpair and a real event
 * loop: whole frames from split writes, oversize and garbage headers, fd
 * passing, and request/reply correlation by id.
 */
#include "testutil.h"

#include <fcntl.h>
#include <sys/socket.h>

#include "chan.h"
#include "proto.h"

struct rx {
	struct event_base *base;
	int frames;
	uint32_t last_type, last_id;
	char last_payload[256];
	int last_fd;
	int failed;
	const char *error;
	int stop_after;
};

static void on_msg(struct chan *ch, const struct frame_hdr *hdr, const char *payload, int fd,
		   void *arg)
{
	struct rx *rx = arg;

	if (hdr == NULL) {
		rx->failed = 1;
		rx->error = chan_error(ch);
		event_base_loopbreak(rx->base);
		return;
	}
	rx->frames++;
	rx->last_type = hdr->type;
	rx->last_id = hdr->id;
	snprintf(rx->last_payload, sizeof(rx->last_payload), "%s", payload);
	rx->last_fd = fd;
	if (rx->frames >= rx->stop_after)
		event_base_loopbreak(rx->base);
}

struct fixture {
	struct event_base *base;
	int raw;         /* the peer end, written by hand */
	struct chan *ch; /* the end under test */
	struct rx rx;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int sv[2];

	assert_non_null(f);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->base = event_base_new();
	f->raw = sv[1];
	f->rx.base = f->base;
	f->rx.stop_after = 1;
	f->rx.last_fd = -1;
	f->ch = chan_new(f->base, sv[0], 1024, on_msg, &f->rx);
	assert_non_null(f->ch);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	chan_free(f->ch);
	close(f->raw);
	event_base_free(f->base);
	free(f);
	return 0;
}

static void run_loop(struct fixture *f)
{
	struct timeval tv = {5, 0};

	event_base_loopexit(f->base, &tv); /* a safety net, not a timing */
	event_base_dispatch(f->base);
}

static size_t encode(unsigned char *buf, uint32_t type, uint32_t id, const char *payload)
{
	size_t len = strlen(payload);

	frame_encode(buf, type, (uint32_t)len, id, 0);
	memcpy(buf + FRAME_HDR_LEN, payload, len);
	return FRAME_HDR_LEN + len;
}

static void frame_split_into_single_bytes_arrives_whole(void **state)
{
	struct fixture *f = *state;
	unsigned char buf[128];
	size_t n = encode(buf, MSG_HELLO, 42, "{\"a\":1}"), i;

	for (i = 0; i < n; i++) {
		assert_int_equal(write(f->raw, buf + i, 1), 1);
		event_base_loop(f->base, EVLOOP_NONBLOCK);
		if (i + 1 < n)
			assert_int_equal(f->rx.frames, 0);
	}
	assert_int_equal(f->rx.frames, 1);
	assert_int_equal(f->rx.last_type, MSG_HELLO);
	assert_int_equal(f->rx.last_id, 42);
	assert_string_equal(f->rx.last_payload, "{\"a\":1}");
}

static void several_frames_in_one_read_are_all_delivered(void **state)
{
	struct fixture *f = *state;
	unsigned char buf[256];
	size_t n = 0;

	n += encode(buf + n, MSG_PING, 1, "{}");
	n += encode(buf + n, MSG_PING, 2, "{\"x\":2}");
	n += encode(buf + n, MSG_PING, 3, "");
	assert_int_equal(write(f->raw, buf, n), (ssize_t)n);
	f->rx.stop_after = 3;
	run_loop(f);
	assert_int_equal(f->rx.frames, 3);
	assert_int_equal(f->rx.last_id, 3);
	assert_string_equal(f->rx.last_payload, "");
}

static void oversize_header_fails_the_channel(void **state)
{
	struct fixture *f = *state;
	unsigned char hdr[FRAME_HDR_LEN];

	frame_encode(hdr, MSG_PING, 4096, 1, 0); /* channel max is 1024 */
	assert_int_equal(write(f->raw, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	run_loop(f);
	assert_int_equal(f->rx.failed, 1);
	assert_int_equal(f->rx.frames, 0);
	assert_non_null(strstr(f->rx.error, "larger"));
}

static void garbage_header_fails_the_channel(void **state)
{
	struct fixture *f = *state;
	unsigned char junk[32];

	memset(junk, 0xa5, sizeof(junk));
	assert_int_equal(write(f->raw, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	run_loop(f);
	assert_int_equal(f->rx.failed, 1);
	assert_int_equal(f->rx.frames, 0);
}

static void peer_close_is_reported(void **state)
{
	struct fixture *f = *state;

	close(f->raw);
	f->raw = open("/dev/null", O_RDONLY);
	run_loop(f);
	assert_int_equal(f->rx.failed, 1);
	assert_string_equal(f->rx.error, "peer closed the channel");
}

static void fd_travels_with_its_frame(void **state)
{
	struct fixture *f = *state;
	struct chan *peer;
	struct rx prx = {0};
	int p[2];
	char got[8] = "";

	prx.base = f->base;
	peer = chan_new(f->base, dup(f->raw), 1024, on_msg, &prx);
	assert_non_null(peer);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(chan_send(peer, MSG_PING, 5, 0, "{}", 2, p[0]), 0);
	run_loop(f);
	assert_int_equal(f->rx.frames, 1);
	assert_true(f->rx.last_fd >= 0);
	/* The received fd is the pipe's read end. */
	assert_int_equal(write(p[1], "hi", 2), 2);
	assert_int_equal(read(f->rx.last_fd, got, sizeof(got)), 2);
	assert_memory_equal(got, "hi", 2);
	close(f->rx.last_fd);
	close(p[1]);
	chan_free(peer);
}

static void frame_claiming_an_fd_without_one_fails(void **state)
{
	struct fixture *f = *state;
	unsigned char buf[64];

	frame_encode(buf, MSG_PING, 2, 1, FRAME_F_FD);
	memcpy(buf + FRAME_HDR_LEN, "{}", 2);
	assert_int_equal(write(f->raw, buf, FRAME_HDR_LEN + 2), FRAME_HDR_LEN + 2);
	run_loop(f);
	assert_int_equal(f->rx.failed, 1);
}

struct replies {
	struct event_base *base;
	int order[2];
	int n;
};

static void on_reply(struct chan *ch, const struct frame_hdr *hdr, json_t *body, void *arg)
{
	struct replies *r = arg;

	(void)ch;
	assert_non_null(hdr);
	r->order[r->n++] = (int)json_integer_value(json_object_get(body, "n"));
	if (r->n == 2)
		event_base_loopbreak(r->base);
}

/* The peer answers two requests in reverse order; each reply must reach the
 * callback of its own request. */
static void replies_are_matched_to_requests_by_id(void **state)
{
	struct fixture *f = *state;
	struct replies r = {f->base, {0, 0}, 0};
	unsigned char buf[256];
	struct frame_hdr h1, h2;
	const char *why;
	ssize_t n;
	json_t *b1 = json_pack("{s:i}", "n", 1), *b2 = json_pack("{s:i}", "n", 2);

	assert_int_equal(chan_request(f->ch, MSG_PING, b1, on_reply, &r), 0);
	assert_int_equal(chan_request(f->ch, MSG_PING, b2, on_reply, &r), 0);
	n = read(f->raw, buf, sizeof(buf));
	assert_true(n > 0);
	assert_true(frame_decode(buf, (size_t)n, 1024, &h1, &why) > 0);
	assert_true(frame_decode(buf + FRAME_HDR_LEN + h1.len, (size_t)n - FRAME_HDR_LEN - h1.len,
				 1024, &h2, &why) > 0);
	assert_int_not_equal(h1.id, h2.id);
	{
		unsigned char out[128];
		size_t len = 0;

		frame_encode(out, MSG_PONG, 7, h2.id, FRAME_F_REPLY);
		memcpy(out + FRAME_HDR_LEN, "{\"n\":2}", 7);
		len += FRAME_HDR_LEN + 7;
		frame_encode(out + len, MSG_PONG, 7, h1.id, FRAME_F_REPLY);
		memcpy(out + len + FRAME_HDR_LEN, "{\"n\":1}", 7);
		len += FRAME_HDR_LEN + 7;
		assert_int_equal(write(f->raw, out, len), (ssize_t)len);
	}
	run_loop(f);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.order[0], 2);
	assert_int_equal(r.order[1], 1);
	assert_int_equal(f->rx.frames, 0); /* replies do not reach the message callback */
	json_decref(b1);
	json_decref(b2);
}

static void on_reply_gone(struct chan *ch, const struct frame_hdr *hdr, json_t *body, void *arg)
{
	(void)ch;
	(void)body;
	*(int *)arg = hdr == NULL ? 1 : 2;
}

static void pending_requests_are_answered_when_the_channel_is_freed(void **state)
{
	struct fixture *f = *state;
	int answered = 0;

	assert_int_equal(chan_request(f->ch, MSG_PING, NULL, on_reply_gone, &answered), 0);
	chan_free(f->ch);
	f->ch = NULL;
	assert_int_equal(answered, 1);
}

static void sending_more_than_the_maximum_is_refused(void **state)
{
	struct fixture *f = *state;
	char big[2048];

	memset(big, 'x', sizeof(big));
	assert_int_equal(chan_send(f->ch, MSG_PING, 1, 0, big, sizeof(big), -1), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(frame_split_into_single_bytes_arrives_whole, setup,
						teardown),
		cmocka_unit_test_setup_teardown(several_frames_in_one_read_are_all_delivered, setup,
						teardown),
		cmocka_unit_test_setup_teardown(oversize_header_fails_the_channel, setup, teardown),
		cmocka_unit_test_setup_teardown(garbage_header_fails_the_channel, setup, teardown),
		cmocka_unit_test_setup_teardown(peer_close_is_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(fd_travels_with_its_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(frame_claiming_an_fd_without_one_fails, setup,
						teardown),
		cmocka_unit_test_setup_teardown(replies_are_matched_to_requests_by_id, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			pending_requests_are_answered_when_the_channel_is_freed, setup, teardown),
		cmocka_unit_test_setup_teardown(sending_more_than_the_maximum_is_refused, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("chan", tests, NULL, NULL);
}
