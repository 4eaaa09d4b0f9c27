/*
 * cloudsyncd/sandbox.c - cloudsyncd's seccomp allow-list, on top of
 * sandbox_base[] (common/sandbox.c). cloudsyncd speaks HTTPS to the cloud:
 * TCP sockets (IPv4/6), TLS (OpenSSL, whose root CA was loaded before the
 * filter), and name resolution: libcurl resolves in a thread, and glibc's
 * resolver reads /etc/resolv.conf, /etc/hosts and /etc/nsswitch.conf, so
 * threads and read-only opens are allowed. No exec, no writes to files.
 */
#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>

#include "cloudsyncd.h"

static const struct sandbox_rule cloudsyncd_rules[] = {
	SB_ALLOW(bind),          /* netlink, for getaddrinfo(AI_ADDRCONFIG) */
	SB_ALLOW(clone),         /* libcurl's resolver thread */
	SB_DENY(clone3, ENOSYS), /* glibc falls back to clone */
	SB_ALLOW(connect),
	SB_ALLOW(getpeername),
	SB_ALLOW(getsockname),
	SB_ALLOW(getsockopt),
	SB_ALLOW(ioctl),                                 /* FIONREAD in the resolver */
	SB_ALLOW(mprotect),                              /* thread stacks' guard pages */
	SB_ALLOW_MASKED(openat, 2, O_ACCMODE, O_RDONLY), /* resolver config, read-only */
	SB_ALLOW(poll),                                  /* on x86_64 and armhf */
	SB_ALLOW_ON(SB_X86_64 | SB_ARM64, ppoll),        /* poll() on arm64 */
	SB_ALLOW(recv),                                  /* recv() on armhf */
	SB_ALLOW(recvfrom),                              /* recv(); the resolver's replies */
	SB_ALLOW(rseq),
	SB_ALLOW(sendmmsg), /* DNS queries, A and AAAA at once */
	SB_ALLOW(set_robust_list),
	SB_ALLOW(setsockopt),
	SB_ALLOW(shutdown),
	SB_ALLOW(socket),     /* AF_INET, AF_INET6, and AF_NETLINK/AF_UNIX for the resolver */
	SB_ALLOW(socketpair), /* libcurl's wake-up pair */
	SB_ALLOW(uname),
};

const struct sandbox_policy cloudsyncd_policy = {
	"cloudsyncd",
	cloudsyncd_rules,
	sizeof(cloudsyncd_rules) / sizeof(cloudsyncd_rules[0]),
};
