/*
 * frame.c - encode and decode channel frame headers (see frame.h). Pure
 * functions, shared by the channel and the fuzz target.
 */
#include <string.h>

#include "frame.h"
#include "proto.h"

long frame_decode(const void *buf, size_t avail, uint32_t max_payload, struct frame_hdr *hdr,
		  const char **why)
{
	if (avail < FRAME_HDR_LEN)
		return 0;
	memcpy(hdr, buf, FRAME_HDR_LEN);
	if (FRAME_VERSION(hdr->flags) != PROTO_VERSION) {
		*why = "protocol version mismatch";
		return -1;
	}
	if (hdr->flags & 0x00ffffffu & ~FRAME_F_MASK) {
		*why = "unknown frame flags";
		return -1;
	}
	if (hdr->len > max_payload) {
		*why = "frame larger than the channel maximum";
		return -1;
	}
	if (avail - FRAME_HDR_LEN < hdr->len)
		return 0;
	return (long)(FRAME_HDR_LEN + hdr->len);
}

void frame_encode(void *out, uint32_t type, uint32_t len, uint32_t id, uint32_t flags)
{
	struct frame_hdr h = {type, len, id, FRAME_WITH_VERSION(flags)};

	memcpy(out, &h, FRAME_HDR_LEN);
}
