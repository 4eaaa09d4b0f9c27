/*
 * frame.h - the wire format of a channel frame: a 16-byte header
 * {u32 type; u32 len; u32 id; u32 flags} in host byte order (both ends are
 * on one machine), followed by `len` payload bytes.
 *
 * flags: bits 0-15 are frame flags (FRAME_F_*), bits 24-31 carry the sender's
 * PROTO_VERSION so a frame from a mismatched build is refused before its
 * payload is looked at.
 */
#ifndef AGENTD_FRAME_H
#define AGENTD_FRAME_H

#include <stddef.h>
#include <stdint.h>

struct frame_hdr {
	uint32_t type;
	uint32_t len;
	uint32_t id;
	uint32_t flags;
};

#define FRAME_HDR_LEN sizeof(struct frame_hdr)

#define FRAME_F_REPLY 0x0001u /* answers the request with the same id */
#define FRAME_F_FD    0x0002u /* one fd travels with this frame (SCM_RIGHTS) */
#define FRAME_F_MASK  0x0003u

#define FRAME_VERSION(flags)   ((flags) >> 24)
#define FRAME_WITH_VERSION(fl) (((fl)&0xffffu) | ((uint32_t)PROTO_VERSION << 24))

/// Decode the frame at the start of `buf`. Returns the whole frame length
/// when one is complete, 0 when more bytes are needed, or -1 when the header
/// is invalid (wrong version, unknown flag bits, payload over `max_payload`),
/// with a static reason in *why.
long frame_decode(const void *buf, size_t avail, uint32_t max_payload, struct frame_hdr *hdr,
		  const char **why);

/// Write the header for a payload of `len` bytes into `out`.
void frame_encode(void *out, uint32_t type, uint32_t len, uint32_t id, uint32_t flags);

#endif
