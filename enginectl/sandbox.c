/*
 * enginectl/sandbox.c - enginectl's seccomp allow-list, on top of
 * sandbox_base[] (common/sandbox.c). enginectl talks to the container engine
 * over its unix socket and to nothing else: sockets are AF_UNIX only, and
 * there is no exec, no file opening and no inet.
 */
#include <sys/socket.h>

#include "enginectl.h"

static const struct sandbox_rule enginectl_rules[] = {
	SB_ALLOW(connect),                             /* the engine socket */
	SB_ALLOW(recv),                                /* recv() on armhf */
	SB_ALLOW(recvfrom),                            /* recv() on x86_64 and arm64 */
	SB_ALLOW_ARG(socket, 0, SCMP_CMP_EQ, AF_UNIX), /* unix sockets only */
};

const struct sandbox_policy enginectl_policy = {
	"enginectl",
	enginectl_rules,
	sizeof(enginectl_rules) / sizeof(enginectl_rules[0]),
};
