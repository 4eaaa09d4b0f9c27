/*
 * fuzz_frame.c - libFuzzer target: frame headers and the message catalogue
 * checks must refuse garbage, never crash, never report a frame longer than
 * the input.
 */
#include <stdint.h>
#include <stdlib.h>

#include "frame.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_hdr h;
	const char *why = NULL;
	size_t off = 0;
	long n;

	while ((n = frame_decode(data + off, size - off, 4096, &h, &why)) > 0) {
		if ((size_t)n > size - off)
			abort();
		msg_check(h.type, D_APID, D_AGENTD, h.len, &why);
		msg_name(h.type);
		off += (size_t)n;
	}
	return 0;
}
