/*
 * agentd/main.c - the coordinator's entry point: flags and environment,
 * start-up checks (config.json, agentd.json, database), the wiring of
 * agentd's rooms (the children, the device, the state engine and the glue
 * between them: see agentd.h), the event loop, and a clean shutdown.
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "agentd.h"
#include "clock.h"
#include "db.h"
#include "filemodes.h"
#include "log.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: agentd [-f] [-v]... [-c config.json] [-d datadir] [-s engine.sock]\n"
		"              [-a api-address] [-r rundir] [-C agentd.json] [-S kill|log]\n"
		"       agentd -H    (health probe: exit 0 if the local API is healthy)\n");
	exit(1);
}

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : fallback;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct agentd *ad = arg;

	(void)what;
	if (sig == SIGCHLD) {
		supervise_reap(&ad->sv);
		return;
	}
	if (ad->sv.stopping)
		return;
	log_info("signal %d: stopping", (int)sig);
	supervise_stop(&ad->sv);
	/* Children get a grace period, then SIGKILL. */
	{
		struct timeval tv = {5, 0};

		evtimer_add(ad->ev_stop, &tv);
	}
}

static void on_stop_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct agentd *ad = arg;

	(void)fd;
	(void)what;
	supervise_kill_all(&ad->sv);
}

static void on_ping(evutil_socket_t fd, short what, void *arg)
{
	struct agentd *ad = arg;

	(void)fd;
	(void)what;
	supervise_ping(&ad->sv);
	/* The cloud's view (metrics included): cloudsyncd sends what changed. */
	if (++ad->ticks % 6 == 0)
		cloudlink_report_state(ad);
	cloudlink_connectivity_check(ad); /* the VPN may have come or gone */
}

#ifdef AGENTD_TEST_HOOKS
/* Test builds only: SIGUSR2 makes agentd call a syscall its allow-list
 * forbids, so tests can watch its own filter kill it (or, -S log, log it). */
static void on_test_hook(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	log_info("test hook: calling ptrace()");
	syscall(SYS_ptrace, -1L, 0L, 0L, 0L);
}
#endif

static void parse_args(struct agentd *ad, int argc, char **argv)
{
	const char *sandbox = "kill";
	int opt;

	ad->engine_sock = env_or("DOCKER_SOCKET", "/var/run/balena-engine.sock");
	ad->api_address = env_or("AGENTD_API_ADDRESS", "0.0.0.0");
	while ((opt = getopt(argc, argv, "fvc:d:s:a:r:C:S:H")) != -1) {
		switch (opt) {
		case 'H':
			exit(healthprobe_run());
		case 'f':
			ad->foreground = 1;
			break;
		case 'v':
			ad->verbose++;
			break;
		case 'c':
			ad->flags.config = optarg;
			break;
		case 'd':
			ad->flags.data_dir = optarg;
			break;
		case 's':
			ad->engine_sock = optarg;
			break;
		case 'a':
			ad->api_address = optarg;
			break;
		case 'r':
			ad->flags.run_dir = optarg;
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

/* Everything that can make start-up fail, checked before any child runs. */
/* The API port: config.json listenPort, else LISTEN_PORT (what the balenaOS
 * start script passes; empty means the default), else 48484. */
static void api_port(struct agentd *ad)
{
	const char *env = getenv("LISTEN_PORT");
	char *end;
	long port;

	if (json_object_get(ad->cfg.root, "listenPort") != NULL || env == NULL || env[0] == '\0')
		return;
	port = strtol(env, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		fatalx("LISTEN_PORT '%s' is not a port (1-65535)", env);
	ad->cfg.listen_port = (int)port;
}

/* Everything that can make start-up fail, checked before any child runs. */
static void startup_checks(struct agentd *ad)
{
	char err[1024], abs[PATH_MAX], legacy[PATH_MAX + 32];
	struct sockaddr_un sun;
	int n;

	settings_default(&ad->set);
	if (ad->settings_path != NULL &&
	    settings_load(ad->settings_path, &ad->set, err, sizeof(err)) == -1)
		fatalx("%s", err);
	paths_resolve(&ad->paths, &ad->flags, &ad->set);
	ad->config_path = ad->paths.config;
	if (config_load(ad->config_path, &ad->cfg, err, sizeof(err)) == -1)
		fatalx("%s", err);
	api_port(ad);
	if (getpwnam(ad->set.user) == NULL)
		fatalx("unknown user '%s' for the unprivileged children (agentd.json \"user\")",
		       ad->set.user);
	if (strlen(ad->engine_sock) >= sizeof(sun.sun_path))
		fatalx("engine socket path is too long (%zu bytes, at most %zu): %s",
		       strlen(ad->engine_sock), sizeof(sun.sun_path) - 1, ad->engine_sock);
	/* The data dir is agentd's alone; the run dir holds the lock dirs that
	 * containers bind, and the OS reads it: it keeps balena's 0755. */
	if (filemodes_mkdirs(ad->paths.data_dir, 0700) == -1)
		fatal("cannot create data directory %s", ad->paths.data_dir);
	if (filemodes_mkdirs(ad->paths.run_dir, 0755) == -1)
		fatal("cannot create run directory %s", ad->paths.run_dir);
	/* Absolute from here on: the lock dirs under run_dir are bind sources,
	 * which the engine takes only as absolute paths. */
	if (realpath(ad->paths.data_dir, abs) == NULL)
		fatal("cannot resolve %s", ad->paths.data_dir);
	paths_set_data_dir(&ad->paths, abs);
	if (realpath(ad->paths.run_dir, abs) == NULL)
		fatal("cannot resolve %s", ad->paths.run_dir);
	paths_set_run_dir(&ad->paths, abs);
	ad->data_dir = ad->paths.data_dir;
	ad->run_dir = ad->paths.run_dir;
	/* agentd's database used to be database.sqlite, the name the Node
	 * supervisor's has: an agentd one is renamed, a Node one is left alone. */
	snprintf(legacy, sizeof(legacy), "%s/database.sqlite", ad->data_dir);
	if (db_adopt_own(legacy, ad->paths.db, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if ((ad->db = db_open(ad->paths.db, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	if ((n = db_migrate(ad->db, db_migrations, db_migrations_count, err, sizeof(err))) < 0) {
		db_close(ad->db);
		fatalx("%s", err);
	}
	if (identity_load(&ad->id, &ad->cfg, ad->config_path, ad->paths.os_release,
			  ad->paths.boot_dir, err, sizeof(err)) == -1 ||
	    identity_device_key(&ad->cfg, ad->config_path, err, sizeof(err)) == -1)
		fatalx("%s", err);
	log_info("agentd %s: %s device, config %s, data %s%s%s", AGENTD_VERSION,
		 config_managed(&ad->cfg) ? "managed" : "unmanaged", ad->config_path, ad->data_dir,
		 ad->paths.host_root[0] ? ", host root " : "", ad->paths.host_root);
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

	/* Whatever agentd creates is its own unless it says otherwise. */
	umask(FILEMODES_UMASK);
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
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)getpid() ^ (unsigned)now_ms());

	if ((ad.base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	if (agentd_wire(&ad, self) == -1)
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

		if (ad.sv.notify.watchdog_usec > 0 && ad.sv.notify.watchdog_usec / 2000 < ms)
			ms = ad.sv.notify.watchdog_usec / 2000;
		if (ms == 0)
			ms = 1;
		ping.tv_sec = (time_t)(ms / 1000);
		ping.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	}
	event_add(ad.ev_ping, &ping);
#ifdef AGENTD_TEST_HOOKS
	ad.ev_usr2 = evsignal_new(ad.base, SIGUSR2, on_test_hook, &ad);
	if (ad.ev_usr2 == NULL || event_add(ad.ev_usr2, NULL) == -1)
		fatalx("cannot set up the test hook");
#endif

	/* Files an older agentd (or a person) made readable by others: now that
	 * start-up cannot fail any more (a start-up error is one line). */
	filemodes_secure(&ad.paths);
	/* Start-up is done: everything agentd keeps open is open. From here on
	 * it runs with only the capabilities it needs, under its allow-list,
	 * and so does every process it starts. */
	if (agentd_confine(&ad) == -1)
		fatalx("cannot confine agentd");
	supervise_start(&ad.sv);
	event_base_dispatch(ad.base);

	log_info("stopped");
	agentd_unwire(&ad);
	event_free(ad.ev_term);
	event_free(ad.ev_int);
	event_free(ad.ev_chld);
	event_free(ad.ev_ping);
	event_free(ad.ev_stop);
#ifdef AGENTD_TEST_HOOKS
	event_free(ad.ev_usr2);
#endif
	event_base_free(ad.base);
	config_free(&ad.cfg);
	settings_free(&ad.set);
	db_close(ad.db);
	return 0;
}
