/*
 * agentd/sandbox.c - agentd's own confinement, taken on once start-up is
 * done (main.c: everything agentd keeps open is open, no child runs yet):
 *
 *   1. capabilities: all but agentd_caps() leave the bounding, permitted,
 *      effective, inheritable and ambient sets;
 *   2. no_new_privs: nothing agentd runs gains privileges by exec (no
 *      setuid, no file capabilities), and nothing gets more than agentd kept;
 *   3. its seccomp allow-list (libseccomp, SCMP_ACT_KILL_PROCESS; `-S log`
 *      logs instead), agentd_rules[] below, on top of sandbox_base[].
 *
 * A seccomp filter is inherited across fork and exec and cannot be taken
 * off: every process agentd starts runs under this list as well as its own.
 * So the list covers, besides agentd's own event loop, sqlite, files, D-Bus
 * and signals: its children before and after they load their own (narrower)
 * filters (their tables are held to be inside this one by
 * test/unit/common/test_sandbox.c), and the programs it runs: the dynamic
 * loader, iptables-restore, journalctl, and agentd.json's reboot and
 * shutdown commands (which must ask the init system, as `systemctl reboot`
 * does, not call reboot(2) themselves). What it leaves out is what only an
 * attacker wants of a root process: ptrace, mount and namespaces, module
 * loading, kexec, reboot(2), bpf, perf, keyrings, other processes' memory,
 * the clock, swap, raw sockets of families other than the four it uses.
 * (The one module agentd loads, an UP board's acpi_configfs, is loaded
 * during start-up, before this: boot_start() in device/boot.c.)
 *
 * The list is per architecture like the children's: the calls below exist
 * under these names on every architecture libseccomp knows (a name an
 * architecture lacks is skipped), and the sections after them add each
 * architecture's own. Only x86_64's is written and tested so far: on another
 * architecture agentd takes on (1) and (2) but loads no filter, and says so
 * at start-up (adding that architecture's section here is the only change
 * needed, see agentd_arch_rules).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "agentd.h"
#include "log.h"

#define CAP(c) (UINT64_C(1) << (c))

uint64_t agentd_caps(int firewall, int api_port)
{
	uint64_t keep = CAP(CAP_CHOWN)  /* update lock files belong to nobody (65534) */
			| CAP(CAP_KILL) /* signals to apid and cloudsyncd, which run as nobody */
			| CAP(CAP_SETUID) | CAP(CAP_SETGID); /* apid and cloudsyncd switch to
								nobody after agentd execs them */

	if (firewall) /* iptables-restore for the host's BALENA-FIREWALL chain */
		keep |= CAP(CAP_NET_ADMIN) | CAP(CAP_NET_RAW);
	if (api_port > 0 && api_port < 1024) /* apid binds the API's port before it drops */
		keep |= CAP(CAP_NET_BIND_SERVICE);
	return keep;
}

static int cap_last(void)
{
	int c;

	/* The kernel knows capabilities up to the last one PR_CAPBSET_READ takes. */
	for (c = 0; c < 64 && prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0; c++)
		;
	return c - 1;
}

int agentd_caps_drop(uint64_t keep, char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	int c, last = cap_last(), bounded = 1;
	uint64_t have;

	/* The bounding set first: dropping from it needs CAP_SETPCAP, which
	 * goes with the rest below. Without it (an unprivileged container) the
	 * bounding set stays, and no_new_privs keeps children within ours. */
	for (c = 0; c <= last; c++) {
		if ((keep & CAP(c)) || prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) == -1)
			bounded = 0;
	}
	if (!bounded)
		log_warnx("cannot shrink the capability bounding set (no CAP_SETPCAP): "
			  "what agentd runs is held to its own set by no_new_privs");
	/* Ambient capabilities would survive exec: none. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 && errno != EINVAL) {
		snprintf(err, errlen, "cannot clear the ambient capabilities: %s", strerror(errno));
		return -1;
	}
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) == -1) {
		snprintf(err, errlen, "capget: %s", strerror(errno));
		return -1;
	}
	have = (uint64_t)data[0].permitted | (uint64_t)data[1].permitted << 32;
	have &= keep;
	data[0].permitted = data[0].effective = (uint32_t)have;
	data[1].permitted = data[1].effective = (uint32_t)(have >> 32);
	data[0].inheritable = data[1].inheritable = 0;
	if (syscall(SYS_capset, &hdr, data) == -1) {
		snprintf(err, errlen, "capset: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The allow-list. Alphabetical; a comment says who needs an entry that is
 * not obvious (agentd's event loop, sqlite and files need the rest). "exec'd"
 * means the programs agentd runs (its children before their own filter, the
 * dynamic loader, iptables-restore, journalctl, the power commands).
 */
static const struct sandbox_rule agentd_rules[] = {
	SB_ALLOW(accept), /* apid */
	SB_ALLOW(accept4),
	SB_ALLOW(bind),   /* apid's port; netlink (cloudsyncd's resolver, iptables-nft) */
	SB_ALLOW(capget), /* exec'd: what libcap and systemd's tools ask first */
	SB_ALLOW(chdir),
	SB_ALLOW(clock_getres),
	/* fork() and threads (cloudsyncd's resolver), never a new namespace */
	SB_ALLOW_MASKED(clone, 0,
			CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
				CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET,
			0),
	SB_DENY(clone3, ENOSYS), /* its flags cannot be read: glibc falls back to clone */
	SB_ALLOW(close_range),   /* closefrom() before exec */
	SB_ALLOW(connect),       /* D-Bus, syslog, the engine (enginectl), the cloud */
	SB_ALLOW(dup),
	SB_ALLOW(dup3),
	SB_ALLOW(epoll_create1),
	SB_ALLOW(eventfd2),
	SB_ALLOW(execve), /* its children, iptables-restore, journalctl, power commands */
	SB_ALLOW(faccessat),
	SB_ALLOW(faccessat2),
	SB_ALLOW(fadvise64), /* journalctl reads journal files */
	SB_ALLOW(fchdir),
	SB_ALLOW(fchmod), /* atomic rewrites keep their mode */
	SB_ALLOW(fchmodat),
	SB_ALLOW(fchown), /* lock files to nobody; sqlite's journal as root */
	SB_ALLOW(fchownat),
	SB_ALLOW(fdatasync), /* sqlite */
	SB_ALLOW(flock),     /* iptables-restore's xtables lock */
	SB_ALLOW(fstatfs),
	SB_ALLOW(fsync),
	SB_ALLOW(ftruncate), /* sqlite's WAL */
	SB_ALLOW(getcwd),
	SB_ALLOW(getdents64),
	SB_ALLOW(getegid),
	SB_ALLOW(geteuid),
	SB_ALLOW(getgid),
	SB_ALLOW(getgroups),
	SB_ALLOW(getpeername),
	SB_ALLOW(getpgrp),
	SB_ALLOW(getppid),
	SB_ALLOW(getresgid),
	SB_ALLOW(getresuid),
	SB_ALLOW(getsockname),
	SB_ALLOW(getsockopt), /* SO_ERROR, SO_PEERCRED (D-Bus); iptables' tables */
	SB_ALLOW(getuid),
	SB_ALLOW(inotify_add_watch), /* journalctl --follow */
	SB_ALLOW(inotify_init1),
	SB_ALLOW(inotify_rm_watch),
	/* the requests seen, and what a program asks of its terminal */
	SB_ALLOW_MASKED(ioctl, 1, 0xffffffffu, FIONREAD), /* libevent's reads */
	SB_ALLOW_MASKED(ioctl, 1, 0xffffffffu, FIONBIO),
	SB_ALLOW_MASKED(ioctl, 1, 0xffffffffu, FIOCLEX),
	SB_ALLOW_MASKED(ioctl, 1, 0xffffffffu, FIONCLEX),
	SB_ALLOW_MASKED(ioctl, 1, 0xffffffffu, TCGETS), /* isatty() */
	SB_ALLOW_MASKED(ioctl, 1, 0xffffffffu, TIOCGWINSZ),
	SB_ALLOW_MASKED(ioctl, 1, 0xffffffffu, TIOCGPGRP),
	SB_ALLOW(kill),
	SB_ALLOW(listen), /* apid */
	SB_ALLOW(mkdirat),
	SB_ALLOW(mprotect),          /* exec'd: the dynamic loader; thread stacks */
	SB_ALLOW(name_to_handle_at), /* systemd's tools: is this a mount point? */
	SB_ALLOW(nanosleep),
	SB_ALLOW(openat),
	SB_ALLOW(pidfd_open), /* systemd's tools wait for what they start */
	SB_ALLOW(pipe2),
	SB_ALLOW(ppoll),
	SB_ALLOW(prctl),     /* children: no_new_privs before their filter */
	SB_ALLOW(pread64),   /* sqlite */
	SB_ALLOW(prlimit64), /* children: RLIMIT_CORE */
	SB_ALLOW(pselect6),  /* iptables */
	SB_ALLOW(pwrite64),  /* sqlite */
	SB_ALLOW(readlinkat),
	SB_ALLOW(recvfrom),
	SB_ALLOW(renameat),
	SB_ALLOW(renameat2),
	SB_ALLOW(rseq),
	SB_ALLOW(sched_getaffinity), /* sysconf(_SC_NPROCESSORS_ONLN) */
	SB_ALLOW(sched_yield),
	SB_ALLOW(seccomp),  /* children load their own filter */
	SB_ALLOW(sendmmsg), /* cloudsyncd's DNS queries */
	SB_ALLOW(set_robust_list),
	SB_ALLOW(set_tid_address),
	SB_ALLOW(setgid), /* apid and cloudsyncd become nobody */
	SB_ALLOW(setgroups),
	SB_ALLOW(setresgid),
	SB_ALLOW(setresuid),
	SB_ALLOW(setsockopt),
	SB_ALLOW(setuid),
	SB_ALLOW(shutdown),
	SB_ALLOW(sigaltstack),
	SB_ALLOW(signalfd4),                           /* systemd's tools */
	SB_ALLOW_ARG(socket, 0, SCMP_CMP_EQ, AF_UNIX), /* D-Bus, sd_notify, syslog, engine */
	SB_ALLOW_ARG(socket, 0, SCMP_CMP_EQ, AF_INET), /* apid, cloudsyncd, iptables */
	SB_ALLOW_ARG(socket, 0, SCMP_CMP_EQ, AF_INET6),
	SB_ALLOW_ARG(socket, 0, SCMP_CMP_EQ, AF_NETLINK), /* getaddrinfo, iptables-nft */
	SB_ALLOW(socketpair),
	SB_ALLOW(statfs),
	SB_ALLOW(statx),
	SB_ALLOW(sysinfo),
	SB_ALLOW(tgkill),
	SB_ALLOW(timerfd_create), /* systemd's tools (sd-event) */
	SB_ALLOW(timerfd_settime),
	SB_ALLOW(umask),
	SB_ALLOW(uname),
	SB_ALLOW(unlinkat),
	SB_ALLOW(wait4),
	SB_ALLOW(waitid),
};

/*
 * Each architecture's own calls, one table for all (alphabetical): the older
 * calls x86_64 keeps beside their *at() and p*() successors, which glibc or
 * the programs agentd runs still use there; arm64 has none of them; the
 * 32-bit architectures (SB_ILP32: armhf, rpi, i386) have their own names for
 * 64-bit files and times (_llseek, fcntl64, mmap2, stat64, the *32 uid calls,
 * the *_time64 calls). Found as the children's were (test/arm/: the VMs'
 * workloads in log mode and under strace; test/arm/i386-check.sh natively).
 * To add an architecture: its SB_* bit in common/sandbox.h, its entries here,
 * and its name in AGENTD_SANDBOX_ARCH.
 */
static const struct sandbox_rule agentd_arch_rules[] = {
	SB_ALLOW_ON(SB_ILP32, _newselect), /* select() on 32-bit */
	SB_ALLOW_ON(SB_X86_64 | SB_ILP32, access),
	SB_ALLOW_ON(SB_X86_64, arch_prctl),      /* exec'd: the dynamic loader sets up TLS */
	SB_ALLOW_ON(SB_ARM32, arm_fadvise64_64), /* posix_fadvise() on 32-bit arm */
	SB_ALLOW_ON(SB_X86_64 | SB_ILP32, chmod),
	SB_ALLOW_ON(SB_X86_64, chown),
	SB_ALLOW_ON(SB_ILP32, chown32),
	SB_ALLOW_ON(SB_ILP32, clock_getres_time64),
	SB_ALLOW_ON(SB_X86_64 | SB_ILP32, dup2),
	SB_ALLOW_ON(SB_I386, fadvise64_64), /* posix_fadvise() on i386 */
	SB_ALLOW_ON(SB_ILP32, fchown32),    /* fchown(): lock files to nobody */
	SB_ALLOW_ON(SB_X86_64 | SB_ILP32, fork),
	SB_ALLOW_ON(SB_ILP32, fstat64), /* stat() where the kernel has no statx */
	SB_ALLOW_ON(SB_ILP32, fstatat64),
	SB_ALLOW_ON(SB_ILP32, fstatfs64),
	SB_ALLOW_ON(SB_ILP32, ftruncate64), /* ftruncate(): sqlite's WAL */
	SB_ALLOW_ON(SB_X86_64 | SB_ILP32, getdents),
	SB_ALLOW_ON(SB_ILP32, getegid32),
	SB_ALLOW_ON(SB_ILP32, geteuid32),
	SB_ALLOW_ON(SB_ILP32, getgid32),
	SB_ALLOW_ON(SB_ILP32, getgroups32),
	SB_ALLOW_ON(SB_ILP32, getresgid32),
	SB_ALLOW_ON(SB_ILP32, getresuid32),
	SB_ALLOW_ON(SB_X86_64, getrlimit),
	SB_ALLOW_ON(SB_ILP32, getuid32),
	SB_ALLOW_ON(SB_X86_64, lstat),
	SB_ALLOW_ON(SB_ILP32, lstat64),
	SB_ALLOW_ON(SB_X86_64 | SB_ILP32, mkdir),
	SB_ALLOW_ON(SB_X86_64 | SB_ILP32, open),
	SB_ALLOW_ON(SB_X86_64 | SB_ILP32, pipe),
	SB_ALLOW_ON(SB_X86_64 | SB_ILP32, poll),
	SB_ALLOW_ON(SB_ILP32, ppoll_time64),
	SB_ALLOW_ON(SB_ILP32, pselect6_time64),
	SB_ALLOW_ON(SB_X86_64 | SB_ILP32, readlink),
	SB_ALLOW_ON(SB_ILP32, recv), /* the children's recv(): its own call there */
	SB_ALLOW_ON(SB_X86_64 | SB_ILP32, rename),
	SB_ALLOW_ON(SB_X86_64 | SB_ILP32, rmdir),
	SB_ALLOW_ON(SB_X86_64, select),
	SB_ALLOW_ON(SB_I386, set_thread_area), /* exec'd: the dynamic loader sets up TLS */
	SB_ALLOW_ON(SB_ARM32, set_tls),        /* the same on 32-bit arm */
	SB_ALLOW_ON(SB_ILP32, setgid32),
	SB_ALLOW_ON(SB_ILP32, setgroups32),
	SB_ALLOW_ON(SB_ILP32, setresgid32), /* apid and cloudsyncd become nobody */
	SB_ALLOW_ON(SB_ILP32, setresuid32),
	SB_ALLOW_ON(SB_ILP32, setuid32),
	SB_ALLOW_ON(SB_X86_64, stat),
	SB_ALLOW_ON(SB_ILP32, stat64),
	SB_ALLOW_ON(SB_ILP32, statfs64), /* sqlite, and agentd's free-space figures */
	SB_ALLOW_ON(SB_ILP32, timerfd_settime64),
	SB_ALLOW_ON(SB_ILP32, truncate64),
	SB_ALLOW_ON(SB_ILP32, ugetrlimit), /* getrlimit() on i386 and arm */
	SB_ALLOW_ON(SB_X86_64 | SB_ILP32, unlink),
	SB_ALLOW_ON(SB_X86_64 | SB_ILP32, vfork),
};

#if defined(__x86_64__)
#define AGENTD_SANDBOX_ARCH "x86_64"
#elif defined(__aarch64__)
#define AGENTD_SANDBOX_ARCH "arm64"
#elif defined(__arm__) && defined(__ARM_PCS_VFP)
#define AGENTD_SANDBOX_ARCH "armhf"
#elif defined(__arm__)
#define AGENTD_SANDBOX_ARCH "rpi"
#elif defined(__i386__)
#define AGENTD_SANDBOX_ARCH "i386"
#endif

const struct sandbox_policy agentd_policy = {
	"agentd",
	agentd_rules,
	sizeof(agentd_rules) / sizeof(agentd_rules[0]),
};

#ifdef AGENTD_SANDBOX_ARCH
const struct sandbox_policy agentd_arch_policy = {
	"agentd (" AGENTD_SANDBOX_ARCH ")",
	agentd_arch_rules,
	sizeof(agentd_arch_rules) / sizeof(agentd_arch_rules[0]),
};
#else
const struct sandbox_policy agentd_arch_policy = {"agentd (no architecture section)",
						  agentd_arch_rules, 0};
#endif

int agentd_sandbox_written(void)
{
#ifdef AGENTD_SANDBOX_ARCH
	return 1;
#else
	return 0;
#endif
}

#ifdef AGENTD_TEST_HOOKS
/*
 * Test builds only (test/tools/agentd-syscalls.py): with AGENTD_STRACE_DIR
 * set, agentd has strace attach to it just before its filter loads, follow
 * every process it starts, and write <dir>/<pid>-<time>/t.<pid>; the filter
 * then loads in log mode, so a run of the tests shows every call the list
 * must cover, and nothing is killed meanwhile. 1 when tracing.
 */
static int agentd_trace_self(void)
{
	const char *dir = getenv("AGENTD_STRACE_DIR");
	char out[PATH_MAX], pid[32], line[256];
	pid_t me = getpid(), p;
	int i, tracer = 0;

	if (dir == NULL || dir[0] == '\0')
		return 0;
	snprintf(out, sizeof(out), "%s/%d-%ld", dir, (int)me, (long)time(NULL));
	if (mkdir(out, 0700) == -1)
		return 0;
	strncat(out, "/t", sizeof(out) - strlen(out) - 1);
	snprintf(pid, sizeof(pid), "%d", (int)me);
	/* twice forked: strace is no child of agentd's */
	if ((p = fork()) == 0) {
		if (fork() == 0) {
			execlp("strace", "strace", "-f", "-ff", "-qq", "-s", "0", "-o", out, "-p",
			       pid, (char *)NULL);
			_exit(127);
		}
		_exit(0);
	}
	if (p > 0)
		waitpid(p, NULL, 0);
	for (i = 0; i < 500 && !tracer; i++) {
		FILE *f = fopen("/proc/self/status", "re");

		while (f != NULL && fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "TracerPid: %d", &tracer) == 1)
				break;
		if (f != NULL)
			fclose(f);
		if (!tracer)
			usleep(10000);
	}
	log_warnx("test hook: traced by strace into %s: the filter only logs", out);
	return 1;
}
#else
static int agentd_trace_self(void)
{
	return 0;
}
#endif

int agentd_confine(struct agentd *ad)
{
	const struct sandbox_policy *pols[2] = {&agentd_policy, &agentd_arch_policy};
	uint64_t keep = agentd_caps(ad->host.firewall_managed, ad->cfg.listen_port);
	enum sandbox_mode mode;
	char err[256];

	if (agentd_caps_drop(keep, err, sizeof(err)) == -1) {
		log_error("cannot drop capabilities: %s", err);
		return -1;
	}
	/* valgrind (the house rule: clean on a normal shutdown) cannot run
	 * seccomp filters; it preloads its own library into what it runs */
	if (strstr(getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "", "vgpreload") != NULL) {
		log_warnx("running under valgrind, which cannot run seccomp filters: agentd's "
			  "own filter is not loaded");
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
			log_warn("PR_SET_NO_NEW_PRIVS");
			return -1;
		}
		return 0;
	}
	if (!agentd_sandbox_written()) {
		log_warnx("no seccomp allow-list for agentd on this architecture yet: its own "
			  "filter is not loaded (its children's are)");
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
			log_warn("PR_SET_NO_NEW_PRIVS");
			return -1;
		}
		return 0;
	}
	mode = agentd_trace_self() ? SANDBOX_LOG : ad->sandbox;
	if (sandbox_apply_all(pols, 2, mode) == -1)
		return -1;
	log_info("confined: capabilities 0x%llx, seccomp allow-list of %zu calls (%s mode)",
		 (unsigned long long)keep, sandbox_count(pols, 2),
		 mode == SANDBOX_KILL ? "kill" : "log");
	return 0;
}
