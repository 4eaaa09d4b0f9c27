/*
 * api_device.c - the local API's handlers for the device and its host: its
 * info and name, reboot and shutdown, an immediate update, the LED, API key
 * regeneration, tags, the host config (hostname, proxy), the v1 device
 * summary, journal logs (journalctl run here and streamed by apid) and the
 * metrics.
 */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "hostconfig.h"
#include "log.h"
#include "netinfo.h"
#include "storage.h"
#include "sysmsg.h"

void api_device_info(struct api_call *c)
{
	api_reply(c, 200,
		  json_pack("{s:s, s:{s:s, s:s}}", "status", "success", "info", "arch",
			    c->ad->id.arch, "deviceType", c->ad->id.type));
}

void api_power(struct api_call *c, int reboot)
{
	char err[256];

	if (reboot_request(c->ad, reboot, api_force(c), NULL, err, sizeof(err)) == -1) {
		api_reply(c, 423, json_pack("{s:s, s:s}", "Data", "", "Error", err));
		return;
	}
	api_reply(c, 202, json_pack("{s:s, s:n}", "Data", "OK", "Error"));
}

void api_reboot(struct api_call *c)
{
	api_power(c, 1);
}

void api_shutdown(struct api_call *c)
{
	api_power(c, 0);
}

void api_update(struct api_call *c)
{
	json_t *v = json_object_get(json_object_get(apply_target(c->ad->apply), "config"),
				    "SUPERVISOR_INSTANT_UPDATE_TRIGGER");
	const char *s = json_string_value(v);
	int instant = v == NULL || json_is_true(v) ||
		      (s && (!strcmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "on")));

	if (!api_force(c) && !instant) {
		api_reply(c, 202, NULL);
		return;
	}
	apply_trigger(c->ad->apply, "POST /v1/update");
	cloudlink_poll(c->ad);
	api_reply(c, 204, NULL);
}

/* POST /v1/blink: the LED on and off every half second for 15 s; a second
 * request while it blinks starts the 15 s again. */
#define BLINK_STEPS 30

static void blink_step(evutil_socket_t fd, short what, void *arg)
{
	struct agentd *ad = arg;
	struct timeval half = {0, 500000};
	FILE *f = fopen(ad->paths.led_file, "we");

	(void)fd;
	(void)what;
	if (f != NULL) {
		fputs(ad->blinks % 2 ? "0" : "1", f);
		fclose(f);
	}
	if (++ad->blinks >= BLINK_STEPS) {
		api_blink_free(ad);
		return;
	}
	evtimer_add(ad->ev_blink, &half);
}

void api_blink(struct api_call *c)
{
	struct agentd *ad = c->ad;
	struct timeval now = {0, 0};

	if (ad->ev_blink == NULL) {
		ad->ev_blink = evtimer_new(ad->base, blink_step, ad);
		if (ad->ev_blink != NULL)
			evtimer_add(ad->ev_blink, &now);
	}
	ad->blinks = 0;
	api_reply_text(c, 200, "OK");
}

void api_blink_free(struct agentd *ad)
{
	if (ad->ev_blink != NULL)
		event_free(ad->ev_blink);
	ad->ev_blink = NULL;
	ad->blinks = 0;
}

void api_regenerate_key(struct api_call *c)
{
	const char *old = json_string_value(json_object_get(c->query, "_key"));
	char err[256] = "no key to regenerate: the request came without one";
	char *key = old ? keys_regenerate(&c->ad->keys, old, err, sizeof(err)) : NULL;

	if (key == NULL) {
		api_reply_failed(c, 503, err);
		return;
	}
	api_reply_text(c, 200, key);
	free(key);
}

void api_device_name(struct api_call *c)
{
	api_reply(c, 200,
		  json_pack("{s:s, s:O}", "status", "success", "deviceName",
			    json_object_get(apply_target(c->ad->apply), "name")));
}

void api_device_vpn(struct api_call *c)
{
	char path[PATH_MAX + 64];

	/* the VPN's own breadcrumb, on the host */
	snprintf(path, sizeof(path), "%s/run/openvpn/vpn_status/active", c->ad->paths.host_root);
	api_reply(c, 200,
		  json_pack("{s:s, s:{s:b, s:b}}", "status", "success", "vpn", "enabled",
			    host_vpn_enabled(c->ad), "connected", access(path, F_OK) == 0));
}

static void tags_got(struct chan *ch, const struct frame_hdr *hdr, json_t *body, void *arg)
{
	struct api_call *c = arg;

	(void)ch;
	if (hdr == NULL || hdr->type != MSG_CLOUD_RESULT ||
	    !json_is_array(json_object_get(body, "tags"))) {
		api_reply_failed(c, 500,
				 hdr && hdr->type == MSG_ERROR
					 ? json_string_value(json_object_get(body, "error"))
					 : "could not read the device tags");
		return;
	}
	api_reply(c, 200,
		  json_pack("{s:s, s:O}", "status", "success", "tags",
			    json_object_get(body, "tags")));
}

void api_device_tags(struct api_call *c)
{
	if (cloudlink_get_tags(c->ad, tags_got, c) == -1)
		api_reply_failed(c, 500,
				 "Device tags need the cloud, which this device cannot reach");
}

void api_device_tags_patch(struct api_call *c)
{
	const char *k;
	json_t *v;

	if (!json_is_object(c->body)) {
		api_reply_failed(c, 400,
				 "Invalid tags body, must be an object like {[tagKey: string]: "
				 "string}");
		return;
	}
	json_object_foreach(c->body, k, v) {
		if (!json_is_string(v)) {
			api_reply_failed(c, 400,
					 "Invalid tags body, must be an object like {[tagKey: "
					 "string]: string}");
			return;
		}
		if (strpbrk(k, " \t\r\n") != NULL || k[0] == '\0') {
			api_reply_failed(c, 400, "Tag keys cannot contain whitespace");
			return;
		}
	}
	if (cloudlink_set_tags(c->ad, c->body) == -1) {
		char why[256];

		snprintf(why, sizeof(why), "cannot store the tags: %s", sqlite3_errmsg(c->ad->db));
		api_reply_failed(c, 500, why);
		return;
	}
	api_reply(c, 202, json_pack("{s:s}", "status", "success"));
}

/* --- Host config, device ----------------------------------------------------- */

void api_host_config_get(struct api_call *c)
{
	char host[256] = "", path[PATH_MAX + 16];
	json_t *proxy = hostconfig_proxy_read(c->ad->paths.boot_dir);
	FILE *f;

	/* the host's own, under the host root in the supervisor container */
	snprintf(path, sizeof(path), "%s/etc/hostname", c->ad->paths.host_root);
	f = fopen(path, "re");

	if (f != NULL) {
		if (fgets(host, sizeof(host), f) != NULL)
			host[strcspn(host, "\n")] = '\0';
		fclose(f);
	}
	api_reply(c, 200,
		  json_pack("{s:{s:s, s:o*}}", "network", "hostname", host, "proxy", proxy));
}

/* Give back what a host-config change took, unless a reboot or shutdown
 * under way holds the same locks (it keeps them). */
static void host_config_unlock(struct agentd *ad, json_t *locks)
{
	if (ad->power_locks == NULL)
		applocks_release(ad->apply, locks);
	json_decref(locks);
}

/* Hostname into config.json, proxy into the boot partition, under the locks
 * of every app (balenaOS restarts the engine and redsocks after either). */
void api_host_config_patch(struct api_call *c)
{
	json_t *net = json_object_get(c->body, "network"), *h, *proxy, *locks;
	char err[768];
	int rc;

	if (!json_is_object(c->body)) {
		api_reply_text(c, 400, "Invalid request body");
		return;
	}
	if (net == NULL) {
		log_warnx("PATCH /v1/device/host-config without \"network\": nothing to do");
		api_reply_text(c, 200, "OK");
		return;
	}
	h = json_object_get(net, "hostname");
	proxy = json_object_get(net, "proxy");
	if (!json_is_object(net) || (h != NULL && !json_is_string(h))) {
		api_reply_text(c, 400, "Invalid hostname");
		return;
	}
	if (proxy != NULL && !json_is_object(proxy)) {
		api_reply_text(c, 400, "Invalid proxy configuration: must be an object");
		return;
	}
	if ((locks = applocks_take_all(c->ad->apply, api_force(c), err, sizeof(err))) == NULL) {
		api_reply_text(c, 423, err);
		return;
	}
	if (proxy != NULL &&
	    (rc = hostconfig_proxy_patch(c->ad->paths.boot_dir, proxy, err, sizeof(err))) != 0) {
		host_config_unlock(c->ad, locks);
		log_warnx("host-config: %s", err);
		api_reply_text(c, rc == -1 ? 400 : 503, err);
		return;
	}
	if (proxy != NULL) {
		log_info("host-config: proxy settings %s",
			 json_object_size(proxy) ? "updated" : "removed");
		host_proxy_changed(c->ad);
	}
	if (h != NULL) {
		char name[8];
		const char *v = json_string_value(h);
		json_t *was = json_incref(json_object_get(c->ad->cfg.root, "hostname"));

		if (v[0] == '\0') { /* empty: the first 7 characters of the uuid */
			snprintf(name, sizeof(name), "%.7s", c->ad->id.uuid);
			v = name;
		}
		json_object_set_new(c->ad->cfg.root, "hostname", json_string(v));
		if (config_write_atomic(c->ad->config_path, c->ad->cfg.root, err, sizeof(err)) ==
		    -1) {
			/* config.json is as it was: so is what agentd holds of it */
			if (was != NULL)
				json_object_set(c->ad->cfg.root, "hostname", was);
			else
				json_object_del(c->ad->cfg.root, "hostname");
			json_decref(was);
			host_config_unlock(c->ad, locks);
			api_reply_text(c, 503, err);
			return;
		}
		json_decref(was);
	}
	host_config_unlock(c->ad, locks);
	api_reply_text(c, 200, "OK");
}

void api_device_v1(struct api_call *c)
{
	json_t *st = apply_status(c->ad->apply), *out, *app;
	char ips[512], macs[512];
	const char *k;

	netinfo_addresses(ips, sizeof(ips), macs, sizeof(macs));
	out = json_pack("{s:i, s:s, s:s, s:s, s:s, s:b, s:b, s:b}", "api_port",
			c->ad->cfg.listen_port, "ip_address", ips, "os_version",
			c->ad->id.os_version, "mac_address", macs, "supervisor_version",
			"19.0.0+agentd." AGENTD_VERSION, "update_pending",
			strcmp(json_string_value(json_object_get(st, "appState")), "applied") != 0,
			"update_failed", 0, "update_downloaded", 0);
	json_object_foreach(json_object_get(apply_target(c->ad->apply), "apps"), k, app) {
		if (!strcmp(json_string_value(json_object_get(st, "appState")), "applied"))
			json_object_set(out, "commit", json_object_get(app, "commit"));
		json_object_set_new(out, "status", json_string("Idle"));
		break;
	}
	json_decref(st);
	api_reply(c, 200, out);
}

/* journalctl on PATH, or NULL. */
static const char *journalctl_path(char *buf, size_t len)
{
	const char *path = getenv("PATH");
	char dirs[1024], *d, *save = NULL;

	snprintf(dirs, sizeof(dirs), "%s", path ? path : "/usr/bin:/bin");
	for (d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(buf, len, "%s/journalctl", d);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

/* POST /v2/journal-logs: journalctl runs here (apid may not exec) with its
 * output on a socket whose other end goes to apid with the reply. */
void api_journal_logs(struct api_call *c)
{
	const char *argv[24], *opt;
	char exe[512], count[32];
	json_t *b = json_is_object(c->body) ? c->body : NULL, *v, *r;
	int sv[2], n = 0, devnull;
	pid_t pid;
	size_t i;
	static const struct {
		const char *key, *flag;
	} strs[] = {{"unit", "-u"}, {"containerId", "-t"}, {"since", "-S"}, {"until", "-U"}};

	if (journalctl_path(exe, sizeof(exe)) == NULL) {
		api_reply_failed(c, 503, "journalctl is not available on this device");
		return;
	}
	argv[n++] = exe;
	if (json_is_true(json_object_get(b, "all")))
		argv[n++] = "-a";
	if (json_is_true(json_object_get(b, "follow")))
		argv[n++] = "--follow";
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if ((v = json_object_get(b, strs[i].key)) == NULL)
			continue;
		if (!json_is_string(v)) {
			api_reply_failed(c, 400, "journal-logs: options must be strings");
			return;
		}
		argv[n++] = strs[i].flag;
		argv[n++] = json_string_value(v);
	}
	if ((v = json_object_get(b, "count")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1) {
			api_reply_failed(c, 400, "journal-logs: count must be a positive integer");
			return;
		}
		snprintf(count, sizeof(count), "%lld", (long long)json_integer_value(v));
		argv[n++] = "-n";
		argv[n++] = count;
	}
	opt = json_string_value(json_object_get(b, "format"));
	argv[n++] = "-o";
	argv[n++] = opt ? opt : "short";
	argv[n++] = "--no-pager";
	argv[n] = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1 ||
	    (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) {
		api_reply_failed(c, 503, "cannot run journalctl");
		return;
	}
	if ((pid = fork()) == 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(sv[1], STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	close(sv[1]);
	close(devnull);
	if (pid == -1) {
		close(sv[0]);
		api_reply_failed(c, 503, "cannot run journalctl");
		return;
	}
	snprintf(count, sizeof(count), "%d", (int)pid);
	json_object_set_new(c->ad->journals, count, json_true());
	r = json_pack("{s:i, s:b, s:i}", "status", 200, "stream", 1, "stream_id", (int)pid);
	chan_reply_fd(c->ad->sv.d[D_APID].ch, &c->req, MSG_API_REPLY, r, sv[0]);
	json_decref(r);
	api_call_free(c);
}

/* The client went away: its journalctl goes too. */
void api_journal_stop(struct api_call *c)
{
	json_int_t pid = json_integer_value(json_object_get(c->body, "stream_id"));
	char key[32];

	snprintf(key, sizeof(key), "%lld", (long long)pid);
	if (pid > 0 && json_object_get(c->ad->journals, key) != NULL) {
		kill((pid_t)pid, SIGKILL);
		json_object_del(c->ad->journals, key);
	}
	api_reply(c, 200, NULL);
}

void api_metrics(struct api_call *c)
{
	char text[8192], path[64], line[256];
	size_t off = 0;
	int i;

	off += (size_t)snprintf(text + off, sizeof(text) - off,
				"# HELP agentd_daemon_rss_bytes Resident memory of each daemon.\n"
				"# TYPE agentd_daemon_rss_bytes gauge\n");
	for (i = D_AGENTD; i < D_COUNT; i++) {
		pid_t pid = i == D_AGENTD ? getpid() : c->ad->sv.d[i].pid;
		long kb = 0;
		FILE *f;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		if ((f = fopen(path, "re")) != NULL) {
			while (fgets(line, sizeof(line), f))
				if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
					break;
			fclose(f);
		}
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"agentd_daemon_rss_bytes{daemon=\"%s\"} %ld\n",
					daemon_names[i], kb * 1024);
	}
	off += (size_t)snprintf(text + off, sizeof(text) - off,
				"# HELP agentd_daemon_starts_total Times each child was started.\n"
				"# TYPE agentd_daemon_starts_total counter\n");
	for (i = D_ENGINECTL; i < D_COUNT; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"agentd_daemon_starts_total{daemon=\"%s\"} %u\n",
					daemon_names[i], c->ad->sv.d[i].starts);
	off += (size_t)snprintf(
		text + off, sizeof(text) - off,
		"# HELP agentd_healthy Whether agentd reports itself healthy.\n"
		"# TYPE agentd_healthy gauge\nagentd_healthy %d\n"
		"# HELP agentd_engine_connected Whether the engine is reachable.\n"
		"# TYPE agentd_engine_connected gauge\nagentd_engine_connected %d\n",
		c->ad->sv.healthy, c->ad->engine_up);
	apply_metrics(c->ad->apply, text + off, sizeof(text) - off);
	off += strlen(text + off);
	storage_metrics(text, sizeof(text), &off);
	api_reply_text(c, 200, text);
}

void api_journal_reaped(struct agentd *ad, pid_t pid)
{
	char key[32];

	snprintf(key, sizeof(key), "%d", (int)pid);
	json_object_del(ad->journals, key);
}

void api_journals_kill(struct agentd *ad)
{
	const char *k;
	json_t *v;

	json_object_foreach(ad->journals, k, v)
		kill((pid_t)atoi(k), SIGKILL);
}
