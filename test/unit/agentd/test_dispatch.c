/*
 * test_dispatch.c - bounded input from the children: every frame agentd
 * reads, replies included, is held to the catalogue's type, direction, size,
 * depth and item limits before its JSON is parsed (the JSON text is measured,
 * not parsed); an honest child never sends what agentd would refuse (its
 * channel refuses it, and a reply becomes an error reply saying why).
 */
#include "testutil.h"

#include <sys/socket.h>

#include "chan.h"
#include "log.h"
#include "proto.h"
#include "supervisor.h"

static char *nested(int depth)
{
	char *s = malloc((size_t)depth * 2 + 64);
	int i, o;

	assert_non_null(s);
	o = sprintf(s, "{\"status\":200,\"body\":");
	for (i = 0; i < depth - 1; i++)
		s[o++] = '[';
	for (i = 0; i < depth - 1; i++)
		s[o++] = ']';
	strcpy(s + o, "}");
	return s;
}

static char *wide(int items)
{
	char *s = malloc((size_t)items * 2 + 64);
	int i, o;

	assert_non_null(s);
	o = sprintf(s, "{\"status\":200,\"body\":[");
	for (i = 0; i < items - 2; i++)
		o += sprintf(s + o, i ? ",0" : "0");
	strcpy(s + o, "]}");
	return s;
}

static void json_text_is_measured_without_parsing(void **state)
{
	char why[128];

	(void)state;
	assert_int_equal(json_text_within("[[[]]]", 6, 3, 10, why, sizeof(why)), 0);
	assert_int_equal(json_text_within("[[[]]]", 6, 2, 10, why, sizeof(why)), -1);
	assert_string_equal(why, "nested more than 2 levels deep");
	/* items: array elements and object members, empty containers hold none */
	assert_int_equal(json_text_within("[1,[2,3],{}]", 12, 8, 5, why, sizeof(why)), 0);
	assert_int_equal(json_text_within("[1,[2,3],{}]", 12, 8, 4, why, sizeof(why)), -1);
	assert_string_equal(why, "more than 4 values");
	assert_int_equal(json_text_within("{\"a\":1,\"b\":{\"c\":2}}", 19, 2, 3, why, sizeof(why)),
			 0);
	/* brackets, commas and escaped quotes in strings are text */
	assert_int_equal(json_text_within("[\"[[[,,,\\\"[[\"]", 14, 1, 1, why, sizeof(why)), 0);
}

static void frames_within_the_limits_pass(void **state)
{
	struct daemon d = {.id = D_ENGINECTL, .name = "enginectl"};
	struct frame_hdr h = {MSG_ENGINE_RESULT, 0, 1, FRAME_F_REPLY};
	char why[256], *p = nested(32), *w = wide(200000);

	(void)state;
	h.len = (uint32_t)strlen(p);
	assert_int_equal(dispatch_check(&h, p, why, sizeof(why), &d), 0);
	h.len = (uint32_t)strlen(w);
	assert_int_equal(dispatch_check(&h, w, why, sizeof(why), &d), 0);
	free(p);
	free(w);
}

static void deep_or_wide_or_misdirected_frames_are_refused(void **state)
{
	struct daemon e = {.id = D_ENGINECTL, .name = "enginectl"};
	struct daemon a = {.id = D_APID, .name = "apid"};
	struct frame_hdr h = {MSG_ENGINE_RESULT, 0, 1, FRAME_F_REPLY};
	char why[256], *p = nested(33), *w = wide(200001);

	(void)state;
	h.len = (uint32_t)strlen(p);
	assert_int_equal(dispatch_check(&h, p, why, sizeof(why), &e), -1);
	assert_non_null(strstr(why, "engine-result message nested more than 32 levels deep"));
	h.len = (uint32_t)strlen(w);
	assert_int_equal(dispatch_check(&h, w, why, sizeof(why), &e), -1);
	assert_non_null(strstr(why, "more than 200000 values"));
	/* an engine answer from apid, a config from anyone, a hello too large */
	h.len = 2;
	assert_int_equal(dispatch_check(&h, "{}", why, sizeof(why), &a), -1);
	assert_non_null(strstr(why, "not allowed in this direction"));
	h.type = MSG_CONFIG;
	h.flags = 0;
	assert_int_equal(dispatch_check(&h, "{}", why, sizeof(why), &e), -1);
	h.type = MSG_HELLO;
	h.len = 5000;
	assert_int_equal(dispatch_check(&h, p, why, sizeof(why), &e), -1);
	assert_non_null(strstr(why, "larger than its type allows"));
	free(p);
	free(w);
}

struct got {
	struct event_base *base;
	uint32_t type, flags;
	char text[512];
	const char *error;
};

static void on_frame(struct chan *ch, const struct frame_hdr *hdr, const char *payload, int fd,
		     void *arg)
{
	struct got *g = arg;

	(void)fd;
	if (hdr == NULL) {
		g->error = chan_error(ch);
	} else {
		g->type = hdr->type;
		g->flags = hdr->flags;
		snprintf(g->text, sizeof(g->text), "%s", payload);
	}
	event_base_loopbreak(g->base);
}

static void on_reply(struct chan *ch, const struct frame_hdr *hdr, json_t *body, void *arg)
{
	struct got *g = arg;
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

	(void)ch;
	if (hdr != NULL) {
		g->type = hdr->type;
		g->flags = hdr->flags;
	}
	snprintf(g->text, sizeof(g->text), "%s", text ? text : "");
	free(text);
	event_base_loopbreak(g->base);
}

static void on_nothing(struct chan *ch, const struct frame_hdr *hdr, const char *payload, int fd,
		       void *arg)
{
	(void)ch;
	(void)hdr;
	(void)payload;
	(void)fd;
	(void)arg;
}

/* A child's end and agentd's end of one channel. */
struct pair {
	struct event_base *base;
	struct chan *child, *agentd;
	struct got got;
	struct daemon d;
};

static void pair_open(struct pair *p, enum daemon_id id, int checked)
{
	int sv[2];

	memset(p, 0, sizeof(*p));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	p->base = event_base_new();
	p->got.base = p->base;
	p->d.id = id;
	p->d.name = daemon_names[id];
	p->child = chan_new(p->base, sv[0], PROTO_MAX_PAYLOAD, on_nothing, NULL);
	p->agentd = chan_new(p->base, sv[1], PROTO_MAX_PAYLOAD, on_frame, &p->got);
	assert_non_null(p->child);
	assert_non_null(p->agentd);
	if (checked)
		chan_set_check(p->agentd, dispatch_check, &p->d);
}

static void pair_run(struct pair *p)
{
	struct timeval two = {2, 0};

	event_base_loopexit(p->base, &two);
	event_base_dispatch(p->base);
}

static void pair_close(struct pair *p)
{
	chan_free(p->child);
	chan_free(p->agentd);
	event_base_free(p->base);
}

static void a_checked_channel_fails_on_a_refused_frame(void **state)
{
	struct pair p;
	char *deep = nested(40);
	unsigned char hdr[FRAME_HDR_LEN];
	int fd;

	(void)state;
	pair_open(&p, D_APID, 1);
	/* written raw, as a compromised child would: the channel does not stop it */
	fd = chan_fd(p.child);
	frame_encode(hdr, MSG_API_CALL, (uint32_t)strlen(deep), 0, FRAME_WITH_VERSION(0));
	assert_int_equal(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	assert_int_equal(write(fd, deep, strlen(deep)), (ssize_t)strlen(deep));
	pair_run(&p);
	assert_non_null(p.got.error);
	assert_non_null(strstr(p.got.error, "api-call message nested more than 32 levels"));
	pair_close(&p);
	free(deep);
}

static void an_honest_child_sends_an_error_reply_instead(void **state)
{
	struct frame_hdr req = {MSG_ENGINE_CALL, 0, 1, 0}; /* agentd's first request */
	json_t *body = json_array(), *cur = body;
	struct pair p;
	int i;

	(void)state;
	for (i = 0; i < 40; i++) {
		json_t *next = json_array();

		json_array_append_new(cur, next);
		cur = next;
	}
	pair_open(&p, D_ENGINECTL, 1);
	assert_int_equal(chan_request(p.agentd, MSG_ENGINE_CALL, NULL, on_reply, &p.got), 0);
	assert_int_equal(chan_reply(p.child, &req, MSG_ENGINE_RESULT, body), -1);
	pair_run(&p);
	assert_null(p.got.error);
	assert_int_equal(p.got.type, MSG_ERROR);
	assert_true(p.got.flags & FRAME_F_REPLY);
	assert_non_null(strstr(p.got.text, "engine-result message nested more than 32 levels"));
	json_decref(body);
	pair_close(&p);
}

static void an_honest_child_does_not_send_a_refused_message(void **state)
{
	json_t *labels = json_object(), *ev;
	struct pair p;
	int i;

	(void)state;
	for (i = 0; i < 5000; i++) {
		char k[16];

		snprintf(k, sizeof(k), "l%d", i);
		json_object_set_new(labels, k, json_string(""));
	}
	ev = json_pack("{s:s, s:o}", "type", "container", "attributes", labels);
	pair_open(&p, D_ENGINECTL, 1);
	assert_int_equal(chan_send_json(p.child, MSG_ENGINE_EVENT, 0, 0, ev), -1);
	/* and the channel still works */
	assert_int_equal(chan_send_json(p.child, MSG_ENGINE_EVENT, 0, 0, NULL), 0);
	pair_run(&p);
	assert_null(p.got.error);
	assert_int_equal(p.got.type, MSG_ENGINE_EVENT);
	assert_string_equal(p.got.text, "{}");
	json_decref(ev);
	pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_text_is_measured_without_parsing),
		cmocka_unit_test(frames_within_the_limits_pass),
		cmocka_unit_test(deep_or_wide_or_misdirected_frames_are_refused),
		cmocka_unit_test(a_checked_channel_fails_on_a_refused_frame),
		cmocka_unit_test(an_honest_child_sends_an_error_reply_instead),
		cmocka_unit_test(an_honest_child_does_not_send_a_refused_message),
	};

	log_init("test", LOG_TO_STDERR, 0);
	return cmocka_run_group_tests_name("dispatch", tests, NULL, NULL);
}
