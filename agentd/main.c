/*
 * agentd/main.c - the coordinator's entry point: flags and environment,
 * start-up checks (config.json, agentd.json, database), the event loop, and
 * a clean shutdown. Supervision of the children is in supervise.c.
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/un.h>
#include <unistd.h>

#include "agentd.h"
#include "db.h"
#include "log.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: agentd [-f] [-v]... [-c config.json] [-d datadir] [-s engine.sock]\n"
		"              [-a api-address] [-r rundir] [-C agentd.json] [-S kill|log]\n");
	exit(1);
}

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : fallback;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	char *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct agentd *ad = arg;

	(void)what;
	if (sig == SIGCHLD) {
		supervise_reap(ad);
		return;
	}
	if (ad->stopping)
		return;
	log_info("signal %d: stopping", (int)sig);
	supervise_stop(ad);
	/* Children get a grace period, then SIGKILL. */
	{
		struct timeval tv = {5, 0};

		evtimer_add(ad->ev_stop, &tv);
	}
}

static void on_stop_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct agentd *ad = arg;
	int i;

	(void)fd;
	(void)what;
	for (i = D_ENGINECTL; i < D_COUNT; i++) {
		if (ad->d[i].pid > 0) {
			log_warnx("%s: did not stop in time: killing it", ad->d[i].name);
			kill(ad->d[i].pid, SIGKILL);
		}
	}
}

static void on_ping(evutil_socket_t fd, short what, void *arg)
{
	struct agentd *ad = arg;

	(void)fd;
	(void)what;
	supervise_ping(ad);
	/* The cloud's view (metrics included): cloudsyncd sends what changed. */
	if (++ad->ticks % 6 == 0)
		cloud_report_state(ad);
}

static void parse_args(struct agentd *ad, int argc, char **argv)
{
	const char *sandbox = "kill";
	int opt;

	ad->config_path = env_or("CONFIG_MOUNT_POINT", "/mnt/boot/config.json");
	ad->data_dir = env_or("AGENTD_DATA_DIR", "/data");
	ad->engine_sock = env_or("DOCKER_SOCKET", "/var/run/balena-engine.sock");
	ad->api_address = env_or("AGENTD_API_ADDRESS", "0.0.0.0");
	ad->run_dir = env_or("AGENTD_RUN_DIR", "/tmp/balena-supervisor");
	while ((opt = getopt(argc, argv, "fvc:d:s:a:r:C:S:")) != -1) {
		switch (opt) {
		case 'f':
			ad->foreground = 1;
			break;
		case 'v':
			ad->verbose++;
			break;
		case 'c':
			ad->config_path = optarg;
			break;
		case 'd':
			ad->data_dir = optarg;
			break;
		case 's':
			ad->engine_sock = optarg;
			break;
		case 'a':
			ad->api_address = optarg;
			break;
		case 'r':
			ad->run_dir = optarg;
			break;
		case 'C':
			ad->settings_path = optarg;
			break;
		case 'S':
			sandbox = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (sandbox_mode_parse(sandbox, &ad->sandbox) == -1)
		fatalx("-S must be kill or log, not '%s'", sandbox);
}

/* What the containers are told about the device: its uuid (made and saved
 * in config.json when missing, as balena does), type, arch and OS. */
static void device_identity(struct agentd *ad)
{
	const char *uuid = ad->cfg.uuid, *type = ad->cfg.device_type;
	unsigned char rnd[16];
	char err[512], line[256];
	struct utsname u;
	FILE *f;
	int i;

	if (uuid == NULL || uuid[0] == '\0') {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			fatal("getrandom");
		for (i = 0; i < 16; i++)
			snprintf(ad->device_uuid + 2 * i, 3, "%02x", rnd[i]);
		json_object_set_new(ad->cfg.root, "uuid", json_string(ad->device_uuid));
		if (config_write_atomic(ad->config_path, ad->cfg.root, err, sizeof(err)) == -1)
			fatalx("%s", err);
		ad->cfg.uuid = json_string_value(json_object_get(ad->cfg.root, "uuid"));
		log_info("generated device uuid %s", ad->device_uuid);
	} else {
		snprintf(ad->device_uuid, sizeof(ad->device_uuid), "%s", uuid);
	}
	snprintf(ad->device_type, sizeof(ad->device_type), "%s", type ? type : "unknown");
	uname(&u);
	if (strcmp(u.machine, "x86_64") == 0)
		snprintf(ad->device_arch, sizeof(ad->device_arch), "amd64");
	else if (strncmp(u.machine, "armv7", 5) == 0)
		snprintf(ad->device_arch, sizeof(ad->device_arch), "armv7hf");
	else if (strncmp(u.machine, "armv6", 5) == 0)
		snprintf(ad->device_arch, sizeof(ad->device_arch), "rpi");
	else if (strcmp(u.machine, "i686") == 0)
		snprintf(ad->device_arch, sizeof(ad->device_arch), "i386");
	else
		snprintf(ad->device_arch, sizeof(ad->device_arch), "%.31s", u.machine);
	snprintf(ad->os_version, sizeof(ad->os_version), "Linux");
	if ((f = fopen(getenv("HOST_OS_VERSION_PATH") ? getenv("HOST_OS_VERSION_PATH")
						      : "/etc/os-release",
		       "re")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			char *v;

			if (strncmp(line, "PRETTY_NAME=", 12) != 0)
				continue;
			v = line + 12;
			v[strcspn(v, "\n")] = '\0';
			if (v[0] == '"') {
				v++;
				v[strcspn(v, "\"")] = '\0';
			}
			snprintf(ad->os_version, sizeof(ad->os_version), "%.127s", v);
		}
		fclose(f);
	}
}

/* Everything that can make start-up fail, checked before any child runs. */
static void startup_checks(struct agentd *ad)
{
	char err[1024], dbpath[PATH_MAX + 32];
	static char data_abs[PATH_MAX], run_abs[PATH_MAX];
	struct sockaddr_un sun;
	int n;

	settings_default(&ad->set);
	if (ad->settings_path != NULL &&
	    settings_load(ad->settings_path, &ad->set, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (config_load(ad->config_path, &ad->cfg, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (getpwnam(ad->set.user) == NULL)
		fatalx("unknown user '%s' for the unprivileged children (agentd.json \"user\")",
		       ad->set.user);
	if (strlen(ad->engine_sock) >= sizeof(sun.sun_path))
		fatalx("engine socket path is too long (%zu bytes, at most %zu): %s",
		       strlen(ad->engine_sock), sizeof(sun.sun_path) - 1, ad->engine_sock);
	if (mkdir_p(ad->data_dir, 0700) == -1)
		fatal("cannot create data directory %s", ad->data_dir);
	if (mkdir_p(ad->run_dir, 0755) == -1)
		fatal("cannot create run directory %s", ad->run_dir);
	/* Absolute from here on: the lock dirs under run_dir are bind sources,
	 * which the engine takes only as absolute paths. */
	if (realpath(ad->data_dir, data_abs) == NULL || realpath(ad->run_dir, run_abs) == NULL)
		fatal("cannot resolve %s or %s", ad->data_dir, ad->run_dir);
	ad->data_dir = data_abs;
	ad->run_dir = run_abs;
	snprintf(dbpath, sizeof(dbpath), "%s/database.sqlite", ad->data_dir);
	if ((ad->db = db_open(dbpath, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	if ((n = db_migrate(ad->db, db_migrations, db_migrations_count, err, sizeof(err))) < 0) {
		db_close(ad->db);
		fatalx("%s", err);
	}
	device_identity(ad);
	if (cloud_prepare(ad, err, sizeof(err)) == -1)
		fatalx("%s", err);
	log_info("agentd %s: %s device, config %s, data %s", AGENTD_VERSION,
		 config_managed(&ad->cfg) ? "managed" : "unmanaged", ad->config_path, ad->data_dir);
}

/* libevent's own complaints, in our log format. */
static void on_libevent_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

static void daemonise(void)
{
	pid_t pid;

	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	if (setsid() == -1)
		fatal("setsid");
	if (freopen("/dev/null", "r", stdin) == NULL || freopen("/dev/null", "w", stdout) == NULL)
		fatal("/dev/null");
}

int main(int argc, char **argv)
{
	struct agentd ad;
	char self[PATH_MAX];
	ssize_t n;
	struct timeval ping;

	memset(&ad, 0, sizeof(ad));
	event_set_log_callback(on_libevent_log);
	parse_args(&ad, argc, argv);
	log_init("agentd", LOG_TO_STDERR, ad.verbose);
	startup_checks(&ad);
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		fatal("readlink /proc/self/exe");
	self[n] = '\0';

	if (!ad.foreground) {
		daemonise();
		log_init("agentd", LOG_TO_SYSLOG, ad.verbose);
	}
	notify_init(&ad.notify);
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)getpid() ^ (unsigned)now_ms());

	if ((ad.base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	if (supervise_init(&ad, self) == -1)
		exit(1);
	ad.ev_term = evsignal_new(ad.base, SIGTERM, on_signal, &ad);
	ad.ev_int = evsignal_new(ad.base, SIGINT, on_signal, &ad);
	ad.ev_chld = evsignal_new(ad.base, SIGCHLD, on_signal, &ad);
	ad.ev_ping = event_new(ad.base, -1, EV_PERSIST, on_ping, &ad);
	ad.ev_stop = evtimer_new(ad.base, on_stop_deadline, &ad);
	if (ad.ev_term == NULL || ad.ev_int == NULL || ad.ev_chld == NULL || ad.ev_ping == NULL ||
	    ad.ev_stop == NULL)
		fatalx("cannot set up events");
	event_add(ad.ev_term, NULL);
	event_add(ad.ev_int, NULL);
	event_add(ad.ev_chld, NULL);
	/* Ping often enough for the systemd watchdog too (half its period). */
	{
		uint64_t ms = ad.set.ping_interval_ms;

		if (ad.notify.watchdog_usec > 0 && ad.notify.watchdog_usec / 2000 < ms)
			ms = ad.notify.watchdog_usec / 2000;
		if (ms == 0)
			ms = 1;
		ping.tv_sec = (time_t)(ms / 1000);
		ping.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	}
	event_add(ad.ev_ping, &ping);
	ad.kmsg = kmsg_open(ad.base, supervise_seccomp_record, &ad);
	ad.followed = json_object();
	ad.journals = json_object();
	if (apply_init(&ad) == -1)
		fatalx("cannot set up the state engine");

	supervise_start(&ad);
	event_base_dispatch(ad.base);

	log_info("stopped");
	kmsg_close(ad.kmsg);
	supervise_free(&ad);
	apply_free(&ad);
	json_decref(ad.followed);
	json_decref(ad.journals);
	json_decref(ad.power_locks);
	engine_containers_free(&ad);
	event_free(ad.ev_term);
	event_free(ad.ev_int);
	event_free(ad.ev_chld);
	event_free(ad.ev_ping);
	event_free(ad.ev_stop);
	event_base_free(ad.base);
	notify_close(&ad.notify);
	config_free(&ad.cfg);
	settings_free(&ad.set);
	db_close(ad.db);
	return 0;
}
