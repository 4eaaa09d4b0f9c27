/*
 * fuzz_logdemux.c - libFuzzer target: container log streams, multiplexed
 * (first input byte odd) or TTY, fed in uneven pieces.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

static void on_line(enum log_stream stream, int64_t ts, const char *line, size_t len, void *arg)
{
	(void)ts;
	(void)arg;
	if (len > LOGLINE_MAX || (stream != LOGSTREAM_STDOUT && stream != LOGSTREAM_STDERR))
		abort();
	if (len > 0)
		(void)line[len - 1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct logdemux d;
	size_t off = 1, step;

	if (size == 0)
		return 0;
	memset(&d, 0, sizeof(d));
	d.tty = data[0] & 1;
	step = (data[0] >> 1) + 1;
	while (off < size) {
		size_t n = size - off < step ? size - off : step;

		logdemux_feed(&d, data + off, n, on_line, NULL);
		off += n;
	}
	logdemux_flush(&d, on_line, NULL);
	return 0;
}
