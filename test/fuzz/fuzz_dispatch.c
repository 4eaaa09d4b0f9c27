/*
 * fuzz_dispatch.c - libFuzzer target: agentd's side of its children, driven
 * with arbitrary frames from fake ones. For each input agentd is wired as
 * main.c wires it (agentd_wire: the supervisor, the glue, the state engine,
 * a real event loop), with its database in memory and its files in a
 * private temporary directory of its own; the three children are this
 * harness, each on a socketpair attached as a started child is
 * (supervise_attach) and through its handshake. The input is then cut into records, each written
 * to agentd as one child would write it, and agentd's loop runs until it has
 * read everything. Whatever a child sends, agentd must neither crash nor
 * leak (ASan, LeakSanitizer, UBSan), and must not hang.
 *
 * A record: byte 0 picks the child (% 3) and the kind (/ 3 % 4): a message,
 * a reply (to request id byte 2), a line on the child's stderr, or raw bytes
 * on its channel; byte 1 the message type; bytes 3-4 the length (little
 * endian) of the payload that follows. test/fuzz/corpus/dispatch/ has seeds
 * (test/fuzz/mkcorpus_dispatch.py writes them).
 *
 * No process is ever started from here: fork() below fails, so the API's
 * journalctl and the power commands cannot run (and nothing waits the one
 * second a reboot waits); children are never signalled, their pids being
 * beyond the kernel's pid_max.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentd.h"
#include "db.h"
#include "frame.h"
#include "log.h"

#define FAKE_PID    (4194304 + 1000) /* above any pid_max: kill() finds no one */
#define SETTLE_LOOP 24

pid_t fork(void)
{
	errno = EAGAIN;
	return -1;
}

static char dir[64];
static char self[128];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rm_tree(void)
{
	if (dir[0] != '\0')
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *name, const char *text, mode_t mode)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "we")) == NULL || fputs(text, f) == EOF || fclose(f) != 0)
		abort();
	chmod(path, mode);
}

/* A fresh device in a new private directory: config.json, the children's
 * binaries (supervise_init looks for them beside agentd, and never runs
 * them), os-release, and data, run, boot and state dirs. Each input has its
 * own, removed after it (libFuzzer may end the process without atexit). */
static void fresh_device(void)
{
	static const char *const dirs[] = {"data", "run", "boot", "state"};
	char path[256];
	size_t i;

	snprintf(dir, sizeof(dir), "/tmp/agentd-fuzz.XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, dirs[i]);
		mkdir(path, 0700);
	}
	write_file("agentd", "", 0755);
	write_file("enginectl", "", 0755);
	write_file("apid", "", 0755);
	write_file("cloudsyncd", "", 0755);
	write_file("os-release", "PRETTY_NAME=\"balenaOS 6.0.0\"\n", 0644);
	write_file("config.json",
		   "{\"listenPort\":48484,\"uuid\":\"0123456789abcdef0123456789abcdef\","
		   "\"deviceType\":\"raspberrypi4-64\"}",
		   0600);
	snprintf(self, sizeof(self), "%s/agentd", dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const unset[] = {
		"NOTIFY_SOCKET",        "WATCHDOG_USEC",  "DBUS_SYSTEM_BUS_ADDRESS",
		"AGENTD_HOST_ROOT",     "LISTEN_PORT",    "NODE_EXTRA_CA_CERTS",
		"HOST_OS_VERSION_PATH", "AGENTD_RUN_DIR", "AGENTD_DATA_DIR"};
	size_t i;

	(void)argc;
	(void)argv;
	for (i = 0; i < sizeof(unset) / sizeof(unset[0]); i++)
		unsetenv(unset[i]);
	signal(SIGPIPE, SIG_IGN);
	log_init("agentd", LOG_TO_STDERR, 0);
	return 0;
}

struct fake {
	int sock, log; /* the child's ends: its channel, its stderr */
};

/* Read (and drop) what agentd sent to the fake children. */
static void drain(struct fake *f)
{
	char buf[65536];
	int i;

	for (i = 0; i < 3; i++)
		while (f[i].sock >= 0 && read(f[i].sock, buf, sizeof(buf)) > 0)
			;
}

static void settle(struct agentd *ad, struct fake *f)
{
	int i;

	for (i = 0; i < SETTLE_LOOP; i++) {
		drain(f);
		event_base_loop(ad->base, EVLOOP_NONBLOCK);
	}
}

/* Write all of it, letting agentd read meanwhile; give up on a child agentd
 * dropped (a closed channel). */
static void feed(struct agentd *ad, struct fake *f, int *fd, const void *data, size_t len)
{
	const char *p = data;
	int spins = 0;

	while (*fd >= 0 && len > 0) {
		ssize_t n = write(*fd, p, len);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno == EAGAIN && ++spins < 1000) {
			settle(ad, f);
			continue;
		}
		close(*fd);
		*fd = -1;
	}
}

static void send_frame(struct agentd *ad, struct fake *f, int child, uint32_t type, uint32_t id,
		       uint32_t flags, const char *payload, size_t len)
{
	unsigned char hdr[FRAME_HDR_LEN];

	frame_encode(hdr, type, (uint32_t)len, id, FRAME_WITH_VERSION(flags));
	feed(ad, f, &f[child].sock, hdr, sizeof(hdr));
	feed(ad, f, &f[child].sock, payload, len);
}

static int wire_device(struct agentd *ad)
{
	char err[512];

	memset(ad, 0, sizeof(*ad));
	if ((ad->base = event_base_new()) == NULL)
		return -1;
	settings_default(&ad->set);
	snprintf(ad->paths.config, sizeof(ad->paths.config), "%s/config.json", dir);
	snprintf(ad->paths.data_dir, sizeof(ad->paths.data_dir), "%s/data", dir);
	snprintf(ad->paths.db, sizeof(ad->paths.db), ":memory:");
	snprintf(ad->paths.preload, sizeof(ad->paths.preload), "%s/data/apps.json", dir);
	snprintf(ad->paths.run_dir, sizeof(ad->paths.run_dir), "%s/run", dir);
	snprintf(ad->paths.host_run_dir, sizeof(ad->paths.host_run_dir), "%s/run", dir);
	snprintf(ad->paths.boot_dir, sizeof(ad->paths.boot_dir), "%s/boot", dir);
	snprintf(ad->paths.state_dir, sizeof(ad->paths.state_dir), "%s/state", dir);
	snprintf(ad->paths.os_release, sizeof(ad->paths.os_release), "%s/os-release", dir);
	snprintf(ad->paths.led_file, sizeof(ad->paths.led_file), "%s/led", dir);
	ad->config_path = ad->paths.config;
	ad->data_dir = ad->paths.data_dir;
	ad->run_dir = ad->paths.run_dir;
	ad->engine_sock = "/nonexistent/engine.sock";
	ad->api_address = "127.0.0.1";
	ad->sandbox = SANDBOX_KILL;
	if (config_load(ad->config_path, &ad->cfg, err, sizeof(err)) == -1 ||
	    (ad->db = db_open(ad->paths.db, err, sizeof(err))) == NULL ||
	    db_migrate(ad->db, db_migrations, db_migrations_count, err, sizeof(err)) < 0 ||
	    identity_load(&ad->id, &ad->cfg, ad->config_path, ad->paths.os_release,
			  ad->paths.boot_dir, err, sizeof(err)) == -1 ||
	    identity_device_key(&ad->cfg, ad->config_path, err, sizeof(err)) == -1 ||
	    agentd_wire(ad, self) == -1) {
		fprintf(stderr, "fuzz_dispatch: cannot set agentd up: %s\n", err);
		abort();
	}
	/* The machine's kernel log is no input of this target. */
	kmsg_close(ad->sv.kmsg);
	ad->sv.kmsg = NULL;
	return 0;
}

/* Attach the three fake children and take each through its handshake. */
static void attach_children(struct agentd *ad, struct fake *f)
{
	char hello[128];
	int i;

	for (i = 0; i < 3; i++) {
		struct daemon *d = &ad->sv.d[daemon_order[i]];
		int sp[2], lp[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) == -1 ||
		    pipe2(lp, O_CLOEXEC | O_NONBLOCK) == -1)
			abort();
		f[i].sock = sp[1];
		f[i].log = lp[1];
		supervise_attach(d, FAKE_PID + d->id, sp[0], lp[0]);
		snprintf(hello, sizeof(hello), "{\"version\":%d,\"daemon\":\"%s\",\"pid\":%d}",
			 PROTO_VERSION, d->name, FAKE_PID + d->id);
		send_frame(ad, f, i, MSG_HELLO, 0, 0, hello, strlen(hello));
		send_frame(ad, f, i, MSG_READY, 0, 0, "{}", 2);
	}
	settle(ad, f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agentd ad;
	struct fake f[3];
	size_t off = 0;
	int i;

	fresh_device();
	wire_device(&ad);
	attach_children(&ad, f);
	while (off + 5 <= size) {
		int child = data[off] % 3, kind = data[off] / 3 % 4;
		uint32_t type = data[off + 1] % (MSG_TYPE_COUNT + 2), id = data[off + 2];
		size_t len = (size_t)data[off + 3] | (size_t)data[off + 4] << 8;

		off += 5;
		if (len > size - off)
			len = size - off;
		switch (kind) {
		case 0:
			send_frame(&ad, f, child, type, 0, 0, (const char *)data + off, len);
			break;
		case 1:
			send_frame(&ad, f, child, type, id, FRAME_F_REPLY, (const char *)data + off,
				   len);
			break;
		case 2:
			feed(&ad, f, &f[child].log, data + off, len);
			break;
		default:
			feed(&ad, f, &f[child].sock, data + off, len);
			break;
		}
		off += len;
		settle(&ad, f);
	}
	settle(&ad, f);

	agentd_unwire(&ad);
	for (i = 0; i < 3; i++) {
		if (f[i].sock >= 0)
			close(f[i].sock);
		if (f[i].log >= 0)
			close(f[i].log);
	}
	event_base_free(ad.base);
	config_free(&ad.cfg);
	settings_free(&ad.set);
	db_close(ad.db);
	rm_tree();
	return 0;
}
