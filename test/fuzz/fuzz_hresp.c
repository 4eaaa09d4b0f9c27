/*
 * fuzz_hresp.c - libFuzzer target: whatever an engine might answer, fed to
 * enginectl's HTTP response parser (enginectl/hresp.c) in uneven pieces.
 * The parser must never hand on more body bytes than it was given, never
 * take bytes past a complete response, and never read out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hresp.h"

static size_t body_total;

static int on_body(const char *data, size_t len, void *arg)
{
	(void)arg;
	if (len > 0)
		(void)data[len - 1];
	body_total += len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hresp r;
	size_t off = 1, step, used;
	const char *err;
	int rc = HRESP_MORE;

	if (size == 0)
		return 0;
	memset(&r, 0, sizeof(r));
	r.head = data[0] & 1;
	step = (data[0] >> 1) + 1;
	body_total = 0;
	while (off < size && rc == HRESP_MORE) {
		size_t n = size - off < step ? size - off : step;

		used = 0;
		err = NULL;
		rc = hresp_feed(&r, (const char *)data + off, n, &used, on_body, NULL, &err);
		if (rc == HRESP_ERROR && err == NULL)
			abort(); /* an error always says why */
		if ((rc == HRESP_MORE && used != n) || used > n)
			abort();
		off += n;
	}
	if (body_total > size)
		abort();
	if (rc == HRESP_MORE)
		(void)hresp_eof(&r);
	return 0;
}
