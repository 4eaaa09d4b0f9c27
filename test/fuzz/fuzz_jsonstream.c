/*
 * fuzz_jsonstream.c - libFuzzer target: newline-delimited JSON from the
 * engine (pull progress, events) split into lines and accounted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

static void on_line(const char *line, size_t len, void *arg)
{
	struct pull_progress *p = arg;
	int pct = pull_progress_line(p, line, len);

	if (pct > 100 || pull_progress_percent(p) > 100 || pull_progress_percent(p) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pull_progress p;
	struct linebuf lb = {0};
	size_t half = size / 2;

	memset(&p, 0, sizeof(p));
	linebuf_feed(&lb, (const char *)data, half, on_line, &p);
	linebuf_feed(&lb, (const char *)data + half, size - half, on_line, &p);
	linebuf_flush(&lb, on_line, &p);
	linebuf_free(&lb);
	return 0;
}
