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
#include <sys/un.h>
#include <unistd.h>

#include "agentd.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "sysmsg.h"

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
	if (mkdir_p(ad->paths.data_dir, 0700) == -1)
		fatal("cannot create data directory %s", ad->paths.data_dir);
	if (mkdir_p(ad->paths.run_dir, 0755) == -1)
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

/* --- The hooks that connect the rooms ------------------------------------- */

/* What each child is told beyond the supervisor's own fields. */
static void on_child_config(enum daemon_id id, json_t *c, void *arg)
{
	struct agentd *ad = arg;

	switch (id) {
	case D_ENGINECTL:
		json_object_set_new(c, "engine_socket", json_string(ad->engine_sock));
		break;
	case D_APID:
		json_object_set_new(c, "api_address", json_string(ad->api_address));
		json_object_set_new(c, "api_port", json_integer(ad->cfg.listen_port));
		json_object_set_new(c, "api_max_connections",
				    json_integer(ad->set.api_max_connections));
		/* config.json apiTimeout (ms): idle and slow clients are dropped after it */
		if (json_is_integer(json_object_get(ad->cfg.root, "apiTimeout")))
			json_object_set(c, "api_timeout_ms",
					json_object_get(ad->cfg.root, "apiTimeout"));
		break;
	case D_CLOUDSYNCD:
		cloudlink_config(ad, c);
		break;
	default:
		break;
	}
}

static void on_child_ready(enum daemon_id id, void *arg)
{
	struct agentd *ad = arg;

	if (id == D_APID)
		api_send_auth(ad);
	if (id == D_CLOUDSYNCD)
		cloudlink_send_tags(ad);
}

/* A process that is not a child: a journalctl of the API, or the power command. */
static void on_reaped(pid_t pid, int status, void *arg)
{
	struct agentd *ad = arg;

	api_journal_reaped(ad, pid);
	power_reaped(&ad->power, pid, status, ad->sv.stopping);
}

static void on_stopping(void *arg)
{
	api_journals_kill(arg);
}

static void on_keys_changed(void *arg)
{
	api_send_auth(arg);
}

static void on_applied(void *arg)
{
	cloudlink_report_state(arg);
}

static void on_target_set(void *arg)
{
	host_update(arg);
	cloudlink_connectivity_check(arg);
}

/* The children, the device and the state engine, connected. */
static void wire(struct agentd *ad, const char *self)
{
	struct supervisor_conf conf;
	struct apply_env env;

	memset(&conf, 0, sizeof(conf));
	memcpy(conf.policy, ad->set.policy, sizeof(conf.policy));
	conf.handshake_timeout_ms = ad->set.handshake_timeout_ms;
	snprintf(conf.user, sizeof(conf.user), "%s", ad->set.user);
	conf.verbose = ad->verbose;
	conf.sandbox = ad->sandbox;
	if (supervise_init(&ad->sv, ad->base, self, &conf) == -1)
		exit(1);
	ad->sv.hooks = (struct supervisor_hooks){.arg = ad,
						 .config_for = on_child_config,
						 .ready = on_child_ready,
						 .reaped = on_reaped,
						 .stopping = on_stopping};
	ad->keys = (struct keys){.db = ad->db, .changed = on_keys_changed, .arg = ad};
	ad->followed = json_object();
	ad->journals = json_object();
	ad->cloud_connected = ad->connectivity_check = -1;
	led_init(&ad->led, ad->base, ad->paths.led_file);
	reboot_init(ad);
	host_init(ad);
	enginelink_init(ad);
	devlog_init(ad);
	cloudlink_init(ad);
	api_init(ad);

	memset(&env, 0, sizeof(env));
	env.base = ad->base;
	env.db = ad->db;
	env.cfg = &ad->cfg;
	env.id = &ad->id;
	env.keys = &ad->keys;
	env.engine = ad->engine;
	env.run_dir = ad->run_dir;
	env.host_run_dir = ad->paths.host_run_dir;
	env.preload = ad->paths.preload;
	env.data_dir = ad->data_dir;
	env.engine_sock = ad->engine_sock;
	env.boot_dir = ad->paths.boot_dir;
	env.boot = (struct boot_env){.cfg = &ad->cfg,
				     .config_path = ad->config_path,
				     .configfs_dir = ad->paths.configfs_dir,
				     .acpi_tables_dir = ad->paths.acpi_tables_dir,
				     .odmdata_device = ad->paths.odmdata_device,
				     .odmdata_force_ro = ad->paths.odmdata_force_ro,
				     .configfs_modprobe = ad->set.configfs_modprobe,
				     .host_root = ad->paths.host_root};
	env.hooks = (struct apply_hooks){.arg = ad,
					 .applied = on_applied,
					 .reboot = reboot_for_apply,
					 .target_set = on_target_set};
	if ((ad->apply = apply_new(&env)) == NULL)
		fatalx("cannot set up the state engine");
	host_update(ad); /* the stored target's device config, from the start */
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
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)getpid() ^ (unsigned)now_ms());

	if ((ad.base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	wire(&ad, self);
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

	supervise_start(&ad.sv);
	event_base_dispatch(ad.base);

	log_info("stopped");
	supervise_free(&ad.sv);
	host_free(&ad);
	led_free(&ad.led);
	apply_free(ad.apply);
	sysmsg_set_sink(NULL, NULL);
	json_decref(ad.followed);
	json_decref(ad.journals);
	json_decref(ad.power_locks);
	containers_free(&ad);
	event_free(ad.ev_term);
	event_free(ad.ev_int);
	event_free(ad.ev_chld);
	event_free(ad.ev_ping);
	event_free(ad.ev_stop);
	event_base_free(ad.base);
	config_free(&ad.cfg);
	settings_free(&ad.set);
	db_close(ad.db);
	return 0;
}
