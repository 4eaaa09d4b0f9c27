/*
 * cloudlink.c - agentd's side of cloudsyncd: the config it needs (from
 * config.json: endpoint, uuid, keys, root CA), the provisioning result it
 * reports (written to config.json atomically), the targets it fetches
 * (validated again here, then applied unless in local mode), and the state
 * reports agentd hands it.
 *
 * A target the database cannot take (a full disk) is kept here and tried
 * again every second until it is stored: cloudsyncd fetches a target once
 * per change (ETag), so nothing else would bring it back.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>

#include "agentd.h"
#include "db.h"
#include "log.h"
#include "base64.h"
#include "netinfo.h"
#include "storage.h"
#include "store.h"
#include "sysmsg.h"
#include "target.h"

static void cache_path(struct agentd *ad, char *buf, size_t len)
{
	snprintf(buf, len, "%s/state-report-cache", ad->run_dir);
}

/* What the first report to this API endpoint says, unless it was made:
 * config.json values that differ from their defaults and the boot
 * configuration read back from its files (config.txt, extlinux.conf, ...),
 * where the target does not set them (the target's own come from the
 * cloud), and the initial device name. */
static void initial_report(struct agentd *ad, json_t *c)
{
	json_t *root = ad->cfg.root, *vars = json_object(), *v;
	json_t *target = json_object_get(apply_target(ad->apply), "config");
	const char *endpoint = json_string_value(json_object_get(root, "apiEndpoint"));
	char *done = db_config_get(ad->db, "initialConfigReported");
	const char *name = json_string_value(json_object_get(root, "initialDeviceName"));
	int skip = endpoint == NULL || (done != NULL && strcmp(done, endpoint) == 0);

	free(done);
	if (skip) {
		json_decref(vars);
		return;
	}
	v = json_object_get(root, "appUpdatePollInterval");
	if (json_is_integer(v) && json_integer_value(v) != 900000 &&
	    json_object_get(target, "SUPERVISOR_POLL_INTERVAL") == NULL)
		json_object_set_new(vars, "SUPERVISOR_POLL_INTERVAL",
				    json_sprintf("%lld", (long long)json_integer_value(v)));
	if (json_is_true(json_object_get(root, "persistentLogging")) &&
	    json_object_get(target, "SUPERVISOR_PERSISTENT_LOGGING") == NULL)
		json_object_set_new(vars, "SUPERVISOR_PERSISTENT_LOGGING", json_string("true"));
	{
		json_t *boot = apply_boot_current(ad->apply);
		const char *k;

		json_object_foreach(boot, k, v) {
			if (json_object_get(target, k) != NULL)
				continue;
			if (json_string_length(v) > 64 * 1024) /* a splash image, say */
				log_warnx("initial config report: %s is too large to report (%zu "
					  "bytes)",
					  k, json_string_length(v));
			else
				json_object_set(vars, k, v);
		}
		json_decref(boot);
	}
	json_object_set_new(c, "initial_report",
			    json_pack("{s:o, s:s?}", "config", vars, "device_name", name));
}

/* NODE_EXTRA_CA_CERTS (a PEM file the balenaOS start script names): trusted
 * as well as the rest. cloudsyncd takes one bundle, which replaces the
 * system's: `base` (balenaRootCA, malloc'd, or NULL for the system bundle)
 * with the extra certificates after it. Returns the bundle (malloc'd) or
 * base unchanged. */
static char *cloudlink_extra_ca(char *base)
{
	const char *extra_path = getenv("NODE_EXTRA_CA_CERTS");
	const char *system = getenv("SSL_CERT_FILE");
	char *extra, *out;

	if (extra_path == NULL || extra_path[0] == '\0')
		return base;
	if ((extra = file_read_text(extra_path)) == NULL) {
		log_warnx("NODE_EXTRA_CA_CERTS %s cannot be read: ignored", extra_path);
		return base;
	}
	if (base == NULL &&
	    (base = file_read_text(system ? system : "/etc/ssl/certs/ca-certificates.crt")) == NULL)
		base = strdup("");
	if (base == NULL || asprintf(&out, "%s\n%s", base, extra) == -1)
		out = NULL;
	free(base);
	free(extra);
	log_info("trusting the certificates of %s too", extra_path);
	return out;
}

/* SUPERVISOR_CONNECTIVITY_CHECK (on unless it says false) and no VPN up:
 * with the VPN up the cloud is known to be reachable (facts §3.7). Why
 * not, in *why. */
static int connectivity_wanted(struct agentd *ad, const char **why)
{
	const char *v = json_string_value(
		json_object_get(json_object_get(apply_target(ad->apply), "config"),
				"SUPERVISOR_CONNECTIVITY_CHECK"));
	char path[PATH_MAX + 16];
	struct stat st;

	*why = "on";
	if (v != NULL && (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "off"))) {
		*why = "off (SUPERVISOR_CONNECTIVITY_CHECK is false)";
		return 0;
	}
	snprintf(path, sizeof(path), "%s/active", ad->paths.vpn_status_dir);
	if (lstat(path, &st) == 0) {
		*why = "paused while the VPN is up";
		return 0;
	}
	return 1;
}

void cloudlink_connectivity_check(struct agentd *ad)
{
	struct chan *ch = supervisor_chan(&ad->sv, D_CLOUDSYNCD);
	const char *why;
	int on = connectivity_wanted(ad, &why);
	json_t *m;

	if (ch == NULL || !config_managed(&ad->cfg) || on == ad->connectivity_check)
		return;
	log_info("connectivity check %s", why);
	m = json_pack("{s:b}", "connectivity_check", on);
	if (chan_send_json(ch, MSG_CLOUD_SETTINGS, 0, 0, m) == 0)
		ad->connectivity_check = on;
	json_decref(m);
}

/* cloudsyncd reached the cloud, or no longer does: said as the balena
 * supervisor says it, with the LED pattern while it cannot. A cloud out of
 * reach never makes agentd unhealthy (docs/operations.md). */
static int cloudlink_connectivity(struct agentd *ad, json_t *body)
{
	json_t *v = json_object_get(body, "connected");

	if (!json_is_boolean(v))
		return -1;
	if (ad->cloud_connected == json_is_true(v))
		return 0;
	ad->cloud_connected = json_is_true(v);
	log_info("%s",
		 ad->cloud_connected ? "Internet Connectivity: OK" : "Waiting for connectivity...");
	led_pattern(&ad->led, !ad->cloud_connected);
	return 0;
}

void cloudlink_config(struct agentd *ad, json_t *c)
{
	json_t *root = ad->cfg.root, *poll;
	const char *ca = json_string_value(json_object_get(root, "balenaRootCA"));
	char *pem;
	size_t len;

	if (!config_managed(&ad->cfg))
		return;
	json_object_set_new(c, "api_endpoint", json_string(ad->cfg.api_endpoint));
	/* config.json's deltaEndpoint, else the one balenaOS's start script passes */
	if (json_is_string(json_object_get(root, "deltaEndpoint")))
		json_object_set(c, "delta_endpoint", json_object_get(root, "deltaEndpoint"));
	else if (getenv("DELTA_ENDPOINT") != NULL && getenv("DELTA_ENDPOINT")[0] != '\0')
		json_object_set_new(c, "delta_endpoint", json_string(getenv("DELTA_ENDPOINT")));
	json_object_set_new(c, "uuid", json_string(ad->id.uuid));
	json_object_set(c, "device_api_key", json_object_get(root, "deviceApiKey"));
	if (json_is_string(json_object_get(root, "apiKey")))
		json_object_set(c, "provisioning_key", json_object_get(root, "apiKey"));
	if (json_object_get(root, "applicationId"))
		json_object_set(c, "application", json_object_get(root, "applicationId"));
	json_object_set_new(c, "device_type", json_string(ad->id.type));
	json_object_set_new(c, "os_version", json_string(ad->id.os_version));
	json_object_set_new(c, "os_variant",
			    json_string(json_is_true(json_object_get(root, "developmentMode"))
						? "dev"
						: "prod"));
	{
		char ips[512], macs[512];

		netinfo_addresses(ips, sizeof(ips), macs, sizeof(macs));
		json_object_set_new(c, "mac_address", json_string(macs));
	}
	json_object_set_new(c, "supervisor_version",
			    json_string("19.0.0+agentd." AGENTD_VERSION_STR));
	if (json_is_integer(json_object_get(root, "deviceId")))
		json_object_set(c, "device_id", json_object_get(root, "deviceId"));
	json_object_set_new(c, "registered",
			    json_boolean(json_object_get(root, "registered_at") != NULL &&
					 json_object_get(root, "deviceId") != NULL &&
					 json_object_get(root, "apiKey") == NULL));
	poll = json_object_get(root, "appUpdatePollInterval");
	if (json_is_integer(poll))
		json_object_set(c, "poll_interval_ms", poll);
	{
		/* the device config vars, as last stored, win over config.json */
		json_t *cfg = json_object_get(apply_target(ad->apply), "config");
		const char *p = json_string_value(json_object_get(cfg, "SUPERVISOR_POLL_INTERVAL"));
		const char *t =
			json_string_value(json_object_get(cfg, "SUPERVISOR_API_REQUEST_TIMEOUT"));

		if (p != NULL && atol(p) > 0)
			json_object_set_new(c, "poll_interval_ms", json_integer(atol(p)));
		if (t != NULL && atol(t) > 0)
			json_object_set_new(c, "request_timeout_ms", json_integer(atol(t)));
	}
	initial_report(ad, c);
	{
		const char *why;

		ad->connectivity_check = connectivity_wanted(ad, &why);
		if (!ad->connectivity_check)
			log_info("connectivity check %s", why);
	}
	json_object_set_new(c, "connectivity_check", json_boolean(ad->connectivity_check));
	{ /* a preloaded release to pin the device to (apps.json pinDevice) */
		char *pin = db_config_get(ad->db, "pinDevice");
		json_t *j = pin ? json_loads(pin, 0, NULL) : NULL;

		if (json_is_object(j))
			json_object_set(c, "pin_device", j);
		json_decref(j);
		free(pin);
	}
	if (json_is_integer(json_object_get(root, "bootstrapRetryDelay")))
		json_object_set(c, "bootstrap_retry_ms",
				json_object_get(root, "bootstrapRetryDelay"));
	{
		char path[PATH_MAX];
		json_t *cache;

		cache_path(ad, path, sizeof(path));
		if ((cache = json_load_file(path, 0, NULL)) != NULL && json_is_object(cache))
			json_object_set(c, "report_cache", cache);
		json_decref(cache);
	}
	pem = NULL;
	if (ca != NULL && (pem = base64_decode(ca, &len)) == NULL)
		log_warnx("config.json balenaRootCA is not base64: ignored");
	pem = cloudlink_extra_ca(pem);
	if (pem != NULL) {
		json_object_set_new(c, "ca_pem", json_string(pem));
		free(pem);
	}
}

static int cloudlink_provisioned(struct agentd *ad, json_t *body)
{
	json_int_t id, at;
	char err[512];

	if (json_unpack(body, "{s:I, s:I !}", "device_id", &id, "registered_at", &at) == -1)
		return -1;
	json_object_set_new(ad->cfg.root, "deviceId", json_integer(id));
	json_object_set_new(ad->cfg.root, "registered_at", json_integer(at));
	json_object_del(ad->cfg.root, "apiKey"); /* the provisioning key is spent */
	/* a failure is logged by storage.c; the values are written with the
	 * next rewrite of config.json */
	config_write_atomic(ad->config_path, ad->cfg.root, err, sizeof(err));
	log_info("device provisioned: id %lld", (long long)id);
	return 0;
}

/* SUPERVISOR_POLL_INTERVAL and SUPERVISOR_API_REQUEST_TIMEOUT, for cloudsyncd
 * (invalid values were replaced by their defaults already). */
static void cloudlink_send_settings(struct agentd *ad, json_t *config)
{
	struct chan *ch = supervisor_chan(&ad->sv, D_CLOUDSYNCD);
	const char *poll = json_string_value(json_object_get(config, "SUPERVISOR_POLL_INTERVAL"));
	const char *timeout =
		json_string_value(json_object_get(config, "SUPERVISOR_API_REQUEST_TIMEOUT"));
	json_t *m;

	if (ch == NULL || (poll == NULL && timeout == NULL))
		return;
	m = json_object();
	if (poll != NULL && atol(poll) > 0)
		json_object_set_new(m, "poll_interval_ms", json_integer(atol(poll)));
	if (timeout != NULL && atol(timeout) > 0)
		json_object_set_new(m, "request_timeout_ms", json_integer(atol(timeout)));
	chan_send_json(ch, MSG_CLOUD_SETTINGS, 0, 0, m);
	json_decref(m);
}

#define CLOUD_RETRY_MS 1000

/* Store and apply the cloud's target `t` (stolen), or keep it for the next
 * try when the database cannot take it (storage.c logs that, once). */
static void cloudlink_store(struct agentd *ad, json_t *t)
{
	struct timeval tv = {CLOUD_RETRY_MS / 1000, (CLOUD_RETRY_MS % 1000) * 1000};
	char err[512];

	json_decref(ad->cloud_pending);
	ad->cloud_pending = NULL;
	if (json_equal(t, apply_target(ad->apply))) {
		json_decref(t);
		return;
	}
	json_incref(t); /* apply_set_target takes one reference, even when it fails */
	if (apply_set_target(ad->apply, t, err, sizeof(err)) == 0) {
		json_decref(t);
		return;
	}
	ad->cloud_pending = t;
	if (ad->ev_cloud_retry != NULL)
		evtimer_add(ad->ev_cloud_retry, &tv);
}

static void cloudlink_on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct agentd *ad = arg;
	json_t *t = ad->cloud_pending;

	(void)fd;
	(void)what;
	ad->cloud_pending = NULL;
	if (t == NULL)
		return;
	if (apply_local_mode(ad->apply)) { /* local mode came meanwhile */
		json_decref(t);
		return;
	}
	cloudlink_store(ad, t);
}

static int cloudlink_target(struct agentd *ad, json_t *body)
{
	json_t *raw = json_object_get(body, "target"), *t;
	char err[512];

	if (!json_is_object(raw))
		return -1;
	if (apply_local_mode(ad->apply)) {
		log_debug("local mode: the cloud's target is not applied");
		return 0;
	}
	if ((t = target_from_v3(raw, ad->id.uuid, err, sizeof(err))) == NULL) {
		sysmsg("Could not move to new release: %s", err);
		return 0; /* a bad target is the cloud's fault, not cloudsyncd's */
	}
	json_object_set_new(t, "local", json_false());
	cloudlink_send_settings(ad, json_object_get(t, "config"));
	cloudlink_store(ad, t);
	return 0;
}

/* What the cloud has of our state, kept across restarts of cloudsyncd and
 * agentd (the run dir lives until the device reboots). */
static int cloudlink_reported(struct agentd *ad, json_t *body)
{
	json_t *sent = json_object_get(body, "sent");
	char path[PATH_MAX], err[PATH_MAX + 128], *text;

	if (!json_is_object(sent))
		return -1;
	cache_path(ad, path, sizeof(path));
	if ((text = json_dumps(sent, JSON_COMPACT)) == NULL) {
		storage_failed(STORAGE_REPORT_CACHE, "out of memory");
		return 0;
	}
	/* the old cache stays whole until the new one is complete */
	if (file_write_atomic(path, text, strlen(text), 0600, err, sizeof(err)) == -1)
		storage_failed(STORAGE_REPORT_CACHE, err);
	else
		storage_ok(STORAGE_REPORT_CACHE);
	free(text);
	return 0;
}

/* Done once per API endpoint (facts §3.2 step 3). */
static int cloudlink_initial_reported(struct agentd *ad, json_t *body)
{
	const char *endpoint = json_string_value(json_object_get(body, "endpoint"));

	if (endpoint == NULL)
		return -1;
	/* in the database, as the balena supervisor keeps it (facts §6); a
	 * failure is logged by storage.c, and the report is made again at the
	 * next start */
	db_config_set(ad->db, "initialConfigReported", endpoint);
	return 0;
}

static int cloudlink_dispatch(struct daemon *d, const struct frame_hdr *hdr, json_t *body,
			      void *arg)
{
	struct agentd *ad = arg;

	(void)d;
	switch (hdr->type) {
	case MSG_CLOUD_CONNECTIVITY:
		return cloudlink_connectivity(ad, body);
	case MSG_CLOUD_PINNED:
		db_config_set(ad->db, "pinDevice", NULL);
		log_info("the preloaded release is pinned");
		return 0;
	case MSG_CLOUD_INITIAL_REPORTED:
		return cloudlink_initial_reported(ad, body);
	case MSG_CLOUD_REPORTED:
		return cloudlink_reported(ad, body);
	case MSG_CLOUD_PROVISIONED:
		return cloudlink_provisioned(ad, body);
	case MSG_CLOUD_TARGET:
		return cloudlink_target(ad, body);
	default:
		return -1;
	}
}

void cloudlink_init(struct agentd *ad)
{
	static const enum msg_type types[] = {MSG_CLOUD_PROVISIONED, MSG_CLOUD_TARGET,
					      MSG_CLOUD_REPORTED,    MSG_CLOUD_INITIAL_REPORTED,
					      MSG_CLOUD_PINNED,      MSG_CLOUD_CONNECTIVITY};
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		supervisor_on(&ad->sv, types[i], cloudlink_dispatch, ad);
	if ((ad->ev_cloud_retry = evtimer_new(ad->base, cloudlink_on_retry, ad)) == NULL)
		log_warnx("cannot set up the cloud target's retries");
}

void cloudlink_free(struct agentd *ad)
{
	if (ad->ev_cloud_retry != NULL)
		event_free(ad->ev_cloud_retry);
	ad->ev_cloud_retry = NULL;
	json_decref(ad->cloud_pending);
	ad->cloud_pending = NULL;
}

void cloudlink_poll(struct agentd *ad)
{
	struct chan *ch = supervisor_chan(&ad->sv, D_CLOUDSYNCD);

	if (ch != NULL && config_managed(&ad->cfg))
		chan_send_json(ch, MSG_CLOUD_POLL, 0, 0, NULL);
}

/* Hardware metrics for the report (facts §2.4), or nulls when
 * SUPERVISOR_HARDWARE_METRICS is off. */
static void report_metrics(struct agentd *ad, json_t *r)
{
	static unsigned long long last_busy, last_total;
	const char *hw = json_string_value(json_object_get(
		json_object_get(apply_target(ad->apply), "config"), "SUPERVISOR_HARDWARE_METRICS"));
	unsigned long long v[8] = {0}, busy, total;
	long mem_total = 0, mem_avail = 0, temp = -1;
	char line[256];
	struct statvfs sv;
	FILE *f;

	if (hw && (!strcmp(hw, "0") || !strcasecmp(hw, "false") || !strcasecmp(hw, "off"))) {
		json_object_set_new(r, "cpu_usage", json_null());
		json_object_set_new(r, "memory_usage", json_null());
		json_object_set_new(r, "memory_total", json_null());
		json_object_set_new(r, "storage_usage", json_null());
		json_object_set_new(r, "storage_total", json_null());
		json_object_set_new(r, "cpu_temp", json_null());
		json_object_set_new(r, "is_undervolted", json_false());
		return;
	}
	if ((f = fopen("/proc/stat", "re")) != NULL) {
		if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			   &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
			total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
			busy = total - v[3] - v[4];
			if (total > last_total)
				json_object_set_new(
					r, "cpu_usage",
					json_integer((json_int_t)((busy - last_busy) * 100 /
								  (total - last_total))));
			last_busy = busy;
			last_total = total;
		}
		fclose(f);
	}
	if ((f = fopen("/proc/meminfo", "re")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			sscanf(line, "MemTotal: %ld kB", &mem_total);
			sscanf(line, "MemAvailable: %ld kB", &mem_avail);
		}
		fclose(f);
		json_object_set_new(r, "memory_total", json_integer(mem_total / 1024));
		json_object_set_new(r, "memory_usage",
				    json_integer((mem_total - mem_avail) / 1024));
	}
	if (statvfs(ad->data_dir, &sv) == 0) {
		unsigned long long t = (unsigned long long)sv.f_blocks * sv.f_frsize >> 20;
		unsigned long long fr = (unsigned long long)sv.f_bavail * sv.f_frsize >> 20;

		json_object_set_new(r, "storage_total", json_integer((json_int_t)t));
		json_object_set_new(r, "storage_usage", json_integer((json_int_t)(t - fr)));
	}
	if ((f = fopen("/sys/class/thermal/thermal_zone0/temp", "re")) != NULL) {
		if (fscanf(f, "%ld", &temp) == 1)
			json_object_set_new(r, "cpu_temp", json_integer(temp / 1000));
		fclose(f);
	}
	json_object_set_new(r, "is_undervolted", json_false());
}

static void report_containers(json_t *list, const char *err, void *arg)
{
	struct agentd *ad = arg;
	struct chan *ch = supervisor_chan(&ad->sv, D_CLOUDSYNCD);
	json_t *report, *apps = json_object(), *app, *svc, *st = apply_status(ad->apply);
	const char *uuid, *name;
	char *key = keys_for(&ad->keys, 0, NULL);
	int applied = !strcmp(json_string_value(json_object_get(st, "appState")), "applied");
	char ips[512], macs[512];

	netinfo_addresses(ips, sizeof(ips), macs, sizeof(macs));

	json_decref(st);
	if (err != NULL || ch == NULL) {
		json_decref(apps);
		free(key);
		return;
	}
	json_object_foreach(json_object_get(apply_target(ad->apply), "apps"), uuid, app) {
		const char *commit = json_string_value(json_object_get(app, "commit"));
		long long id = json_integer_value(json_object_get(app, "id"));
		json_t *services, *entry;
		char current[128];
		int downloading = 0;

		/* An app with no release yet has nothing to report (the balena
		 * supervisor reports apps through their services); the cloud
		 * refuses a release named "". */
		if (commit == NULL || commit[0] == '\0')
			continue;
		services = json_object();

		json_object_foreach(json_object_get(app, "services"), name, svc) {
			int pct;
			const char *state =
				containers_service_status(ad, list, uuid, id, name, svc, &pct);
			json_t *s = json_pack("{s:O, s:s}", "image", json_object_get(svc, "image"),
					      "status", state);

			if (pct >= 0) {
				json_object_set_new(s, "download_progress", json_integer(pct));
				downloading |= pct != 100;
			}
			json_object_set_new(services, name, s);
		}
		entry = json_pack("{s:{s:{s:s, s:o}}}", "releases", commit, "update_status",
				  apply_app_rejected(ad->apply, uuid) ? "rejected"
				  : downloading                       ? "downloading"
				  : applied                           ? "done"
								      : "applying changes",
				  "services", services);
		/* release_uuid: the release the device runs, once one was applied */
		if (entry != NULL && store_commit_get(ad->db, uuid, current, sizeof(current))[0])
			json_object_set_new(entry, "release_uuid", json_string(current));
		json_object_set_new(apps, uuid, entry);
	}
	report = json_pack("{s:i, s:s, s:s, s:s, s:s, s:n, s:s, s:s, s:n, s:s, s:s}", "api_port",
			   ad->cfg.listen_port, "api_secret", key ? key : "", "os_version",
			   ad->id.os_version, "os_variant",
			   json_is_true(json_object_get(ad->cfg.root, "developmentMode")) ? "dev"
											  : "prod",
			   "supervisor_version", "19.0.0+agentd." AGENTD_VERSION_STR,
			   "provisioning_progress", "provisioning_state", "", "status", "Idle",
			   "logs_channel", "ip_address", ips, "mac_address", macs);
	report_metrics(ad, report);
	if (apply_local_mode(ad->apply))
		json_decref(apps); /* local mode: the cloud hears nothing of the apps */
	else
		json_object_set_new(report, "apps", apps);
	st = json_pack("{s:o}", "report", report);
	chan_send_json(ch, MSG_CLOUD_REPORT, 0, 0, st);
	json_decref(st);
	free(key);
}

void cloudlink_report_state(struct agentd *ad)
{
	if (!config_managed(&ad->cfg) || supervisor_chan(&ad->sv, D_CLOUDSYNCD) == NULL)
		return;
	containers_get(ad, report_containers, ad);
}

/* --- Tags ------------------------------------------------------------------ */

void cloudlink_send_tags(struct agentd *ad)
{
	struct chan *ch = supervisor_chan(&ad->sv, D_CLOUDSYNCD);
	char *text = db_config_get(ad->db, "targetTags");
	json_t *tags = text ? json_loads(text, 0, NULL) : NULL, *m;

	free(text);
	if (tags != NULL && ch != NULL && config_managed(&ad->cfg)) {
		m = json_pack("{s:O}", "tags", tags);
		chan_send_json(ch, MSG_CLOUD_TAGS, 0, 0, m);
		json_decref(m);
	}
	json_decref(tags);
}

int cloudlink_set_tags(struct agentd *ad, json_t *tags)
{
	char *text = json_dumps(tags, JSON_COMPACT | JSON_SORT_KEYS);
	int rc;

	if (text == NULL)
		return -1;
	rc = db_config_set(ad->db, "targetTags", text);
	free(text);
	if (rc == 0)
		cloudlink_send_tags(ad);
	return rc;
}

/* --- Deltas ------------------------------------------------------------------ */

struct delta_ask {
	delta_cb cb;
	void *arg;
};

static void delta_answered(struct chan *ch, const struct frame_hdr *hdr, json_t *body, void *arg)
{
	struct delta_ask *q = arg;
	const char *outcome = json_string_value(json_object_get(body, "outcome"));

	(void)ch;
	if (hdr == NULL)
		q->cb("retry", NULL, NULL, "cloudsyncd went away", q->arg);
	else if (hdr->type == MSG_ERROR)
		q->cb("retry", NULL, NULL,
		      json_string_value(json_object_get(body, "error")) ?: "cloudsyncd failed",
		      q->arg);
	else if (hdr->type != MSG_CLOUD_RESULT || outcome == NULL)
		q->cb("retry", NULL, NULL, "cloudsyncd answered something else", q->arg);
	else
		q->cb(outcome, json_string_value(json_object_get(body, "name")),
		      json_string_value(json_object_get(body, "token")),
		      json_string_value(json_object_get(body, "reason")), q->arg);
	free(q);
}

int cloudlink_delta(void *arg, const char *src, const char *dest, long timeout_ms, delta_cb cb,
		    void *cbarg)
{
	struct agentd *ad = arg;
	struct chan *ch = supervisor_chan(&ad->sv, D_CLOUDSYNCD);
	struct delta_ask *q;
	json_t *m;
	int rc;

	if (!config_managed(&ad->cfg) || ch == NULL || (q = malloc(sizeof(*q))) == NULL)
		return -1;
	q->cb = cb;
	q->arg = cbarg;
	m = json_pack("{s:s, s:s, s:I}", "src", src, "dest", dest, "timeout_ms",
		      (json_int_t)timeout_ms);
	rc = chan_request(ch, MSG_CLOUD_DELTA, m, delta_answered, q);
	json_decref(m);
	if (rc == -1)
		free(q);
	return rc;
}

int cloudlink_get_tags(struct agentd *ad, chan_reply_cb cb, void *arg)
{
	struct chan *ch = supervisor_chan(&ad->sv, D_CLOUDSYNCD);

	if (!config_managed(&ad->cfg) || ch == NULL)
		return -1;
	return chan_request(ch, MSG_CLOUD_TAGS_GET, NULL, cb, arg);
}
