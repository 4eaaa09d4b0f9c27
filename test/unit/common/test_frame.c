/*
 * test_frame.c - frame header encoding and the checks made before a payload
 * is looked at: partial input, version, flags and size.
 */
#include "testutil.h"

#include "frame.h"
#include "proto.h"

static void complete_frame_decodes_to_its_length(void **state)
{
	unsigned char buf[64];
	struct frame_hdr h;
	const char *why = NULL;

	(void)state;
	frame_encode(buf, MSG_PING, 2, 7, FRAME_F_REPLY);
	memcpy(buf + FRAME_HDR_LEN, "{}", 2);
	assert_int_equal(frame_decode(buf, FRAME_HDR_LEN + 2, 1024, &h, &why), FRAME_HDR_LEN + 2);
	assert_int_equal(h.type, MSG_PING);
	assert_int_equal(h.len, 2);
	assert_int_equal(h.id, 7);
	assert_int_equal(h.flags & FRAME_F_MASK, FRAME_F_REPLY);
	assert_int_equal(FRAME_VERSION(h.flags), PROTO_VERSION);
}

static void partial_frame_needs_more_bytes(void **state)
{
	unsigned char buf[64];
	struct frame_hdr h;
	const char *why = NULL;
	size_t i;

	(void)state;
	frame_encode(buf, MSG_PING, 10, 1, 0);
	for (i = 0; i < FRAME_HDR_LEN + 10; i++)
		assert_int_equal(frame_decode(buf, i, 1024, &h, &why), 0);
}

static void other_protocol_version_is_refused(void **state)
{
	struct frame_hdr h = {MSG_PING, 0, 1, ((uint32_t)(PROTO_VERSION + 1) << 24)}, out;
	const char *why = NULL;

	(void)state;
	assert_int_equal(frame_decode(&h, sizeof(h), 1024, &out, &why), -1);
	assert_non_null(strstr(why, "version"));
}

static void unknown_flag_bits_are_refused(void **state)
{
	struct frame_hdr h = {MSG_PING, 0, 1, ((uint32_t)PROTO_VERSION << 24) | 0x100}, out;
	const char *why = NULL;

	(void)state;
	assert_int_equal(frame_decode(&h, sizeof(h), 1024, &out, &why), -1);
	h.flags = ((uint32_t)PROTO_VERSION << 24) | 0x10000;
	assert_int_equal(frame_decode(&h, sizeof(h), 1024, &out, &why), -1);
}

static void oversize_frame_is_refused_from_its_header(void **state)
{
	unsigned char buf[FRAME_HDR_LEN];
	struct frame_hdr h;
	const char *why = NULL;

	(void)state;
	frame_encode(buf, MSG_PING, 1025, 1, 0);
	/* Refused from the header alone: no payload needs to arrive. */
	assert_int_equal(frame_decode(buf, sizeof(buf), 1024, &h, &why), -1);
	assert_non_null(strstr(why, "larger"));
	frame_encode(buf, MSG_PING, 0xffffffffu, 1, 0);
	assert_int_equal(frame_decode(buf, sizeof(buf), 1024, &h, &why), -1);
}

static void catalogue_enforces_direction_and_size(void **state)
{
	const char *why = NULL;

	(void)state;
	assert_int_equal(msg_check(MSG_HELLO, D_APID, D_AGENTD, 10, &why), 0);
	assert_int_equal(msg_check(MSG_HELLO, D_AGENTD, D_APID, 10, &why), -1);
	assert_int_equal(msg_check(MSG_CONFIG, D_APID, D_AGENTD, 10, &why), -1);
	assert_int_equal(msg_check(MSG_HEALTH, D_AGENTD, D_ENGINECTL, 10, &why), -1);
	assert_int_equal(msg_check(MSG_HELLO, D_APID, D_AGENTD, 1u << 20, &why), -1);
	assert_int_equal(msg_check(MSG_TYPE_COUNT, D_APID, D_AGENTD, 1, &why), -1);
	assert_int_equal(msg_check(0, D_APID, D_AGENTD, 1, &why), -1);
	assert_string_equal(msg_name(MSG_PING), "ping");
	assert_string_equal(msg_name(9999), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(complete_frame_decodes_to_its_length),
		cmocka_unit_test(partial_frame_needs_more_bytes),
		cmocka_unit_test(other_protocol_version_is_refused),
		cmocka_unit_test(unknown_flag_bits_are_refused),
		cmocka_unit_test(oversize_frame_is_refused_from_its_header),
		cmocka_unit_test(catalogue_enforces_direction_and_size),
	};

	return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
