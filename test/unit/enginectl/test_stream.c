/*
 * test_stream.c - the engine stream parsers: lines split anywhere, pull
 * progress from the engine's JSON lines, log frames (multiplexed and TTY)
 * split across reads, and RFC 3339 timestamps.
 */
#include "testutil.h"

#include "stream.h"

struct lines {
	char got[16][128];
	int n;
};

static void on_line(const char *line, size_t len, void *arg)
{
	struct lines *l = arg;

	if (l->n < 16)
		snprintf(l->got[l->n++], 128, "%.*s", (int)len, line);
}

static void lines_split_anywhere_come_out_whole(void **state)
{
	const char *text = "{\"a\":1}\r\n{\"b\":2}\n\n{\"c\":3}";
	struct linebuf lb = {0};
	struct lines l = {0};
	size_t i;

	(void)state;
	for (i = 0; i < strlen(text); i++)
		linebuf_feed(&lb, text + i, 1, on_line, &l);
	assert_int_equal(l.n, 3);
	linebuf_flush(&lb, on_line, &l);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.got[0], "{\"a\":1}");
	assert_string_equal(l.got[1], "{\"b\":2}");
	assert_string_equal(l.got[2], "");
	assert_string_equal(l.got[3], "{\"c\":3}");
	linebuf_free(&lb);
}

static void overlong_line_is_cut_not_grown(void **state)
{
	struct linebuf lb = {0};
	struct lines l = {0};
	char *big = malloc(LINEBUF_MAX + 10);

	(void)state;
	memset(big, 'x', LINEBUF_MAX + 10);
	linebuf_feed(&lb, big, LINEBUF_MAX + 10, on_line, &l);
	assert_int_equal(l.n, 1); /* the first LINEBUF_MAX bytes */
	assert_true(lb.len == 10);
	assert_true(lb.cap <= LINEBUF_MAX);
	linebuf_free(&lb);
	free(big);
}

static int feed(struct pull_progress *p, const char *line)
{
	return pull_progress_line(p, line, strlen(line));
}

static void pull_progress_counts_bytes_and_ends_at_100(void **state)
{
	struct pull_progress *p = calloc(1, sizeof(*p));

	(void)state;
	assert_int_equal(feed(p, "{\"status\":\"Pulling from x\",\"id\":\"latest\"}"), -1);
	feed(p, "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"aaa\"}");
	feed(p, "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"bbb\"}");
	feed(p, "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":50,\"total\":100},"
		"\"id\":\"aaa\"}");
	/* bbb's size is unknown yet: below 100 whatever aaa says */
	assert_true(pull_progress_percent(p) < 100);
	feed(p, "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":0,\"total\":300},"
		"\"id\":\"bbb\"}");
	assert_int_equal(pull_progress_percent(p), 12); /* 50 of 400 */
	feed(p, "{\"status\":\"Download complete\",\"progressDetail\":{},\"id\":\"aaa\"}");
	assert_int_equal(pull_progress_percent(p), 25);
	feed(p, "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"bbb\"}");
	assert_int_equal(pull_progress_percent(p), 100);
	assert_string_equal(p->error, "");
	free(p);
}

static void pull_error_inside_the_stream_is_kept(void **state)
{
	struct pull_progress *p = calloc(1, sizeof(*p));

	(void)state;
	feed(p, "{\"errorDetail\":{\"message\":\"boom\"},\"error\":\"boom\"}");
	feed(p, "{\"error\":\"second\"}");
	assert_string_equal(p->error, "boom");
	assert_int_equal(feed(p, "not json"), -1);
	free(p);
}

static void already_present_image_is_100(void **state)
{
	struct pull_progress *p = calloc(1, sizeof(*p));

	(void)state;
	feed(p, "{\"status\":\"Already exists\",\"progressDetail\":{},\"id\":\"aaa\"}");
	assert_int_equal(pull_progress_percent(p), 100);
	free(p);
}

struct logs {
	int n;
	enum log_stream stream[8];
	int64_t ts[8];
	char text[8][64];
};

static void on_log(enum log_stream stream, int64_t ts, const char *line, size_t len, void *arg)
{
	struct logs *l = arg;

	if (l->n < 8) {
		l->stream[l->n] = stream;
		l->ts[l->n] = ts;
		snprintf(l->text[l->n], 64, "%.*s", (int)len, line);
		l->n++;
	}
}

static size_t frame(unsigned char *out, int stream, const char *payload)
{
	size_t n = strlen(payload);

	out[0] = (unsigned char)stream;
	out[1] = out[2] = out[3] = 0;
	out[4] = (unsigned char)(n >> 24);
	out[5] = (unsigned char)(n >> 16);
	out[6] = (unsigned char)(n >> 8);
	out[7] = (unsigned char)n;
	memcpy(out + 8, payload, n);
	return n + 8;
}

static void multiplexed_frames_split_across_reads(void **state)
{
	struct logdemux *d = calloc(1, sizeof(*d));
	unsigned char buf[512];
	struct logs l = {0};
	size_t n = 0, i;

	(void)state;
	n += frame(buf + n, 1, "2024-05-01T10:00:00.250Z out one\n2024-05-01T10:00:01Z out");
	n += frame(buf + n, 2, "2024-05-01T10:00:02.5Z err one\n");
	n += frame(buf + n, 1, " two\n");
	n += frame(buf + n, 0, "stdin is dropped\n");
	for (i = 0; i < n; i++)
		logdemux_feed(d, buf + i, 1, on_log, &l);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.stream[0], LOGSTREAM_STDOUT);
	assert_string_equal(l.text[0], "out one");
	assert_int_equal(l.ts[0], 1714557600250000000LL);
	assert_int_equal(l.stream[1], LOGSTREAM_STDERR);
	assert_string_equal(l.text[1], "err one");
	assert_int_equal(l.ts[1], 1714557602500000000LL);
	assert_string_equal(l.text[2], "out two"); /* joined across frames */
	free(d);
}

static void tty_output_is_raw_stdout(void **state)
{
	struct logdemux *d = calloc(1, sizeof(*d));
	const char *raw = "2024-05-01T10:00:00Z hello\r\nno timestamp here\npartial";
	struct logs l = {0};

	(void)state;
	d->tty = 1;
	logdemux_feed(d, (const unsigned char *)raw, strlen(raw), on_log, &l);
	logdemux_flush(d, on_log, &l);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.text[0], "hello");
	assert_int_equal(l.stream[0], LOGSTREAM_STDOUT);
	assert_int_equal(l.ts[1], 0);
	assert_string_equal(l.text[1], "no timestamp here");
	assert_string_equal(l.text[2], "partial");
	free(d);
}

static void huge_frame_length_does_not_overrun(void **state)
{
	struct logdemux *d = calloc(1, sizeof(*d));
	unsigned char hdr[8] = {1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
	unsigned char junk[100000];
	struct logs l = {0};

	(void)state;
	memset(junk, 'a', sizeof(junk));
	logdemux_feed(d, hdr, sizeof(hdr), on_log, &l);
	logdemux_feed(d, junk, sizeof(junk), on_log, &l);
	/* An endless line is cut at LOGLINE_MAX. */
	assert_int_equal(l.n, (int)(sizeof(junk) / LOGLINE_MAX));
	free(d);
}

static void timestamps_parse_with_offsets(void **state)
{
	size_t used = 0;

	(void)state;
	assert_int_equal(rfc3339_to_ms("1970-01-01T00:00:00Z", 20, &used), 0);
	assert_int_equal(used, 20);
	assert_int_equal(rfc3339_to_ms("1970-01-01T01:00:00.123+01:00 x", 31, &used), 123);
	assert_int_equal(rfc3339_to_ms("2000-02-29T12:00:00Z", 20, &used), 951825600000LL);
	assert_int_equal(rfc3339_to_ms("2000-13-01T00:00:00Z", 20, &used), -1);
	assert_int_equal(rfc3339_to_ms("hello world, not a time", 23, &used), -1);
	assert_int_equal(rfc3339_to_ms("1970-01-01T00:00:00", 19, &used), -1);
	/* the engine's own precision, kept: resuming a log after it is exact */
	assert_int_equal(rfc3339_to_ns("2024-05-01T10:00:00.123456789Z", 30, &used),
			 1714557600123456789LL);
	assert_int_equal(rfc3339_to_ns("2024-05-01T10:00:00.1234567891Z", 31, &used),
			 1714557600123456789LL);
	assert_int_equal(rfc3339_to_ns("1969-12-31T23:59:59Z", 20, &used), -1);
	assert_int_equal(rfc3339_to_ns("2262-01-01T00:00:00Z", 20, &used), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lines_split_anywhere_come_out_whole),
		cmocka_unit_test(overlong_line_is_cut_not_grown),
		cmocka_unit_test(pull_progress_counts_bytes_and_ends_at_100),
		cmocka_unit_test(pull_error_inside_the_stream_is_kept),
		cmocka_unit_test(already_present_image_is_100),
		cmocka_unit_test(multiplexed_frames_split_across_reads),
		cmocka_unit_test(tty_output_is_raw_stdout),
		cmocka_unit_test(huge_frame_length_does_not_overrun),
		cmocka_unit_test(timestamps_parse_with_offsets),
	};

	return cmocka_run_group_tests_name("stream", tests, NULL, NULL);
}
