/*
 * apid/sandbox.c - apid's seccomp allow-list, on top of sandbox_base[]
 * (common/sandbox.c). The listening socket is bound before the filter, so
 * apid may accept and serve connections but not create sockets, open files
 * or exec.
 */
#include <sys/ioctl.h>

#include "apid.h"

static const struct sandbox_rule apid_rules[] = {
	SB_ALLOW(accept),
	SB_ALLOW(accept4),
	SB_ALLOW(getpeername), /* client address for the access log */
	SB_ALLOW(getsockname),
	SB_ALLOW_ARG(ioctl, 1, SCMP_CMP_EQ, FIONREAD), /* evbuffer_read() sizing */
	SB_ALLOW(recv),                                /* recv() on armhf */
	SB_ALLOW(recvfrom),                            /* recv() on x86_64 and arm64 */
	SB_ALLOW(setsockopt),
	SB_ALLOW(shutdown),
};

const struct sandbox_policy apid_policy = {
	"apid",
	apid_rules,
	sizeof(apid_rules) / sizeof(apid_rules[0]),
};
