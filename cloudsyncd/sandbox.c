/*
 * cloudsyncd/sandbox.c - cloudsyncd's seccomp allow-list, on top of
 * sandbox_base[] (common/sandbox.c). While the device is unmanaged
 * cloudsyncd only idles on its channel, so it needs nothing more; HTTPS,
 * DNS and their threads are added together with the cloud client.
 */
#include "cloudsyncd.h"

const struct sandbox_policy cloudsyncd_policy = {
	"cloudsyncd",
	NULL,
	0,
};
