/*
 * compose.c - a target service to a container create body (see compose.h).
 *
 * The field list and the defaults follow the balena supervisor (facts §2.2):
 * compose keys are snake_case; anything not supported is ignored with one
 * warning; bind mounts are dropped; every container gets the balena labels,
 * env vars and the lock-dir mounts.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose.h"

static int cfail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int cfail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Compose fields handled below; anything else draws the "unsupported" warning. */
static const char *const known_fields[] = {"cap_add",
					   "cap_drop",
					   "cgroup_parent",
					   "command",
					   "cpu_quota",
					   "cpu_shares",
					   "cpus",
					   "cpuset",
					   "depends_on",
					   "devices",
					   "dns",
					   "dns_opt",
					   "dns_search",
					   "domainname",
					   "entrypoint",
					   "environment",
					   "extra_hosts",
					   "group_add",
					   "healthcheck",
					   "hostname",
					   "image",
					   "init",
					   "ipc",
					   "labels",
					   "mac_address",
					   "mem_limit",
					   "mem_reservation",
					   "network_mode",
					   "networks",
					   "oom_kill_disable",
					   "oom_score_adj",
					   "pid",
					   "pids_limit",
					   "ports",
					   "privileged",
					   "read_only",
					   "restart",
					   "running",
					   "security_opt",
					   "shm_size",
					   "stop_grace_period",
					   "stop_signal",
					   "storage_opt",
					   "sysctls",
					   "tmpfs",
					   "tty",
					   "ulimits",
					   "user",
					   "userns_mode",
					   "volumes",
					   "working_dir",
					   NULL};

static int known_field(const char *k)
{
	int i;

	for (i = 0; known_fields[i]; i++)
		if (strcmp(known_fields[i], k) == 0)
			return 1;
	return 0;
}

/* checkTruthy: 1, true, on (strings any case), true, 1 */
static int truthy(json_t *v)
{
	const char *s = json_string_value(v);

	if (json_is_true(v) || (json_is_integer(v) && json_integer_value(v) == 1))
		return 1;
	return s && (!strcmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "on"));
}

static void warn(struct composed *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn(struct composed *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_array_append_new(c->warnings, json_string(msg));
}

void compose_image_normalise(const char *in, char *out, size_t len)
{
	const char *at, *slash, *colon;

	if (in == NULL) {
		snprintf(out, len, "%s", "");
		return;
	}
	at = strchr(in, '@');
	slash = strrchr(in, '/');
	if (at != NULL) {
		/* repo[:tag]@digest -> repo@digest */
		const char *last = slash && slash < at ? slash + 1 : in;

		colon = memchr(last, ':', (size_t)(at - last));
		if (colon != NULL)
			snprintf(out, len, "%.*s%s", (int)(colon - in), in, at);
		else
			snprintf(out, len, "%s", in);
		return;
	}
	colon = strchr(slash ? slash + 1 : in, ':');
	snprintf(out, len, colon ? "%s" : "%s:latest", in);
}

void compose_container_name(const struct compose_ctx *ctx, char *buf, size_t len)
{
	snprintf(buf, len, "%s_%d_%d_%s", ctx->service_name, ctx->image_id, ctx->release_id,
		 ctx->commit ? ctx->commit : "");
}

/* service_imageId_releaseId[_commit], service names may hold '_' */
int compose_parse_name(const char *name, char *service, size_t slen, int *image_id, int *release_id,
		       char *commit, size_t clen)
{
	const char *p[3];
	int n = 0, i;
	size_t len;

	if (name[0] == '/')
		name++;
	len = strlen(name);
	/* Try with a commit first (three separators from the right), then without. */
	for (i = (int)len - 1; i >= 0 && n < 3; i--)
		if (name[i] == '_')
			p[n++] = name + i;
	if (n == 3) {
		char *end;
		long a = strtol(p[2] + 1, &end, 10), b;

		if (end == p[1] && end > p[2] + 1 && (b = strtol(p[1] + 1, &end, 10)) >= 0 &&
		    end == p[0] && end > p[1] + 1 && p[2] > name) {
			snprintf(service, slen, "%.*s", (int)(p[2] - name), name);
			*image_id = (int)a;
			*release_id = (int)b;
			snprintf(commit, clen, "%s", p[0] + 1);
			return 0;
		}
	}
	if (n >= 2) {
		char *end;
		long a = strtol(p[1] + 1, &end, 10), b;

		if (end == p[0] && end > p[1] + 1 && (b = strtol(p[0] + 1, &end, 10)) >= 0 &&
		    *end == '\0' && end > p[0] + 1 && p[1] > name) {
			snprintf(service, slen, "%.*s", (int)(p[1] - name), name);
			*image_id = (int)a;
			*release_id = (int)b;
			snprintf(commit, clen, "%s", "");
			return 0;
		}
	}
	return -1;
}

void compose_hash(json_t *spec, char out[17])
{
	char *text = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)(text ? text : ""); *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	free(text);
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* "512m" -> bytes (powers of 1024); -1 if not a size */
static long long parse_size(json_t *v)
{
	const char *s = json_string_value(v);
	char *end;
	long long n;

	if (json_is_integer(v))
		return json_integer_value(v);
	if (s == NULL)
		return -1;
	n = strtoll(s, &end, 10);
	if (end == s || n < 0)
		return -1;
	switch (tolower((unsigned char)*end)) {
	case 'g':
		n *= 1024;
		/* fall through */
	case 'm':
		n *= 1024;
		/* fall through */
	case 'k':
		n *= 1024;
		end++;
		break;
	case 'b':
		end++;
		break;
	case '\0':
		break;
	default:
		return -1;
	}
	if (tolower((unsigned char)*end) == 'b')
		end++;
	return *end == '\0' ? n : -1;
}

/* "1m30s", "10s", "500ms" -> nanoseconds; -1 if not a duration */
static long long parse_duration_ns(json_t *v)
{
	const char *s = json_string_value(v);
	long long total = 0;

	if (json_is_integer(v))
		return json_integer_value(v) * 1000000000LL;
	if (s == NULL || *s == '\0')
		return -1;
	while (*s) {
		char *end;
		double n = strtod(s, &end);
		long long unit;

		if (end == s)
			return -1;
		if (!strncmp(end, "ms", 2)) {
			unit = 1000000LL;
			end += 2;
		} else if (!strncmp(end, "us", 2)) {
			unit = 1000LL;
			end += 2;
		} else if (!strncmp(end, "ns", 2)) {
			unit = 1;
			end += 2;
		} else if (*end == 'h') {
			unit = 3600000000000LL;
			end++;
		} else if (*end == 'm') {
			unit = 60000000000LL;
			end++;
		} else if (*end == 's') {
			unit = 1000000000LL;
			end++;
		} else {
			return -1;
		}
		total += (long long)(n * (double)unit);
		s = end;
	}
	return total;
}

/* Split a command line like a POSIX shell would (quotes and backslashes). */
static json_t *shell_split(const char *s)
{
	json_t *out = json_array();
	char *word = malloc(strlen(s) + 1);
	size_t n = 0;
	int in_word = 0, q = 0;

	if (word == NULL)
		return out;
	for (; *s; s++) {
		if (q == '\'') {
			if (*s == '\'')
				q = 0;
			else
				word[n++] = *s;
		} else if (q == '"') {
			if (*s == '"')
				q = 0;
			else if (*s == '\\' && (s[1] == '"' || s[1] == '\\' || s[1] == '$'))
				word[n++] = *++s;
			else
				word[n++] = *s;
		} else if (*s == '\'' || *s == '"') {
			q = *s;
			in_word = 1;
		} else if (*s == '\\' && s[1]) {
			word[n++] = *++s;
			in_word = 1;
		} else if (isspace((unsigned char)*s)) {
			if (in_word) {
				word[n] = '\0';
				json_array_append_new(out, json_string(word));
				n = 0;
				in_word = 0;
			}
		} else {
			word[n++] = *s;
			in_word = 1;
		}
	}
	if (in_word) {
		word[n] = '\0';
		json_array_append_new(out, json_string(word));
	}
	free(word);
	return out;
}

static json_t *string_or_array(json_t *v, int split, const char *field, char *err, size_t errlen)
{
	size_t i;
	json_t *e;

	if (json_is_string(v))
		return split ? shell_split(json_string_value(v)) : json_pack("[O]", v);
	if (!json_is_array(v))
		return cfail(err, errlen, "%s must be a string or an array of strings", field),
		       NULL;
	json_array_foreach(v, i, e)
		if (!json_is_string(e))
			return cfail(err, errlen, "%s must hold only strings", field), NULL;
	return json_deep_copy(v);
}

/* --- Labels and environment ------------------------------------------ */

static json_t *compose_labels(const struct compose_ctx *ctx, json_t *svc)
{
	json_t *labels = json_object(), *v;
	const char *k;
	char buf[32];

	json_object_foreach(json_object_get(svc, "labels"), k, v) {
		if (!strncmp(k, "io.resin.", 9)) {
			char *nk = NULL;

			if (asprintf(&nk, "io.balena.%s", k + 9) > 0) {
				json_object_set(labels, nk, v);
				free(nk);
			}
		} else {
			json_object_set(labels, k, v);
		}
	}
	json_object_foreach(json_object_get(ctx->image_config, "Labels"), k, v)
		if (json_object_get(labels, k) == NULL && json_is_string(v))
			json_object_set(labels, k, v);
	json_object_set_new(labels, "io.balena.supervised", json_string("true"));
	snprintf(buf, sizeof(buf), "%d", ctx->app_id);
	json_object_set_new(labels, "io.balena.app-id", json_string(buf));
	json_object_set_new(labels, "io.balena.app-uuid", json_string(ctx->app_uuid));
	snprintf(buf, sizeof(buf), "%d", ctx->service_id);
	json_object_set_new(labels, "io.balena.service-id", json_string(buf));
	json_object_set_new(labels, "io.balena.service-name", json_string(ctx->service_name));
	return labels;
}

static void env_both(json_t *env, const char *name, const char *value)
{
	char key[128];

	snprintf(key, sizeof(key), "BALENA_%s", name);
	json_object_set_new(env, key, json_string(value ? value : ""));
	snprintf(key, sizeof(key), "RESIN_%s", name);
	json_object_set_new(env, key, json_string(value ? value : ""));
}

static json_t *compose_env(const struct compose_ctx *ctx, json_t *svc, json_t *labels, int host_net)
{
	json_t *env = json_object(), *v, *arr;
	const char *k;
	char buf[512];
	size_t i;

	snprintf(buf, sizeof(buf), "%d", ctx->app_id);
	env_both(env, "APP_ID", buf);
	env_both(env, "APP_UUID", ctx->app_uuid);
	env_both(env, "APP_NAME", ctx->app_name);
	env_both(env, "SERVICE_NAME", ctx->service_name);
	env_both(env, "DEVICE_UUID", ctx->device_uuid);
	env_both(env, "DEVICE_TYPE", ctx->device_type);
	env_both(env, "DEVICE_ARCH", ctx->device_arch);
	env_both(env, "HOST_OS_VERSION", ctx->host_os_version);
	env_both(env, "APP_LOCK_PATH", "/tmp/balena/updates.lock");
	json_object_set_new(env, "BALENA", json_string("1"));
	json_object_set_new(env, "RESIN", json_string("1"));
	json_object_set_new(env, "RESIN_SERVICE_KILL_ME_PATH",
			    json_string("/tmp/balena/handover-complete"));
	json_object_set_new(env, "BALENA_SERVICE_HANDOVER_COMPLETE_PATH",
			    json_string("/tmp/balena/handover-complete"));
	json_object_set_new(env, "USER", json_string("root"));
	if (truthy(json_object_get(labels, "io.balena.features.supervisor-api"))) {
		const char *host = host_net ? "127.0.0.1" : ctx->api_host;

		env_both(env, "SUPERVISOR_API_KEY", ctx->api_key);
		snprintf(buf, sizeof(buf), "%d", ctx->api_port);
		env_both(env, "SUPERVISOR_PORT", buf);
		env_both(env, "SUPERVISOR_HOST", host);
		snprintf(buf, sizeof(buf), "http://%s:%d", host ? host : "", ctx->api_port);
		env_both(env, "SUPERVISOR_ADDRESS", buf);
	}
	if (truthy(json_object_get(labels, "io.balena.features.balena-api"))) {
		env_both(env, "API_KEY", ctx->device_api_key);
		env_both(env, "API_URL", ctx->api_endpoint);
	}
	/* The user's environment overrides the defaults... */
	json_object_foreach(json_object_get(svc, "environment"), k, v)
		json_object_set(env, k, v);
	if (truthy(json_object_get(labels, "io.balena.features.balena-socket")) &&
	    json_object_get(env, "DOCKER_HOST") == NULL)
		json_object_set_new(env, "DOCKER_HOST",
				    json_string("unix:///host/run/balena-engine.sock"));
	/* ...and the image's fills the gaps. */
	json_array_foreach(json_object_get(ctx->image_config, "Env"), i, v) {
		const char *e = json_string_value(v), *eq = e ? strchr(e, '=') : NULL;

		if (eq == NULL)
			continue;
		snprintf(buf, sizeof(buf), "%.*s", (int)(eq - e), e);
		if (json_object_get(env, buf) == NULL)
			json_object_set_new(env, buf, json_string(eq + 1));
	}
	/* As a sorted "K=V" list, so equal environments compose equally. */
	arr = json_array();
	{
		const char **keys = malloc(json_object_size(env) * sizeof(char *) + 1);
		size_t n = 0, a, b;

		json_object_foreach(env, k, v)
			keys[n++] = k;
		for (a = 1; a < n; a++)
			for (b = a; b > 0 && strcmp(keys[b - 1], keys[b]) > 0; b--) {
				const char *t = keys[b];

				keys[b] = keys[b - 1];
				keys[b - 1] = t;
			}
		for (a = 0; a < n; a++)
			json_array_append_new(
				arr,
				json_sprintf("%s=%s", keys[a],
					     json_string_value(json_object_get(env, keys[a]))));
		free(keys);
	}
	json_decref(env);
	return arr;
}

/* --- Volumes ------------------------------------------------------------ */

static int compose_volumes(const struct compose_ctx *ctx, json_t *comp, json_t *labels,
			   json_t *host, json_t *spec, struct composed *out, char *err,
			   size_t errlen)
{
	json_t *binds = json_array(), *anon = json_object(), *v, *mounts = json_array();
	char dir[1024], buf[1200];
	size_t i;

	json_array_foreach(json_object_get(comp, "volumes"), i, v) {
		if (json_is_string(v)) {
			const char *s = json_string_value(v), *colon = strchr(s, ':');

			if (colon == NULL) {
				json_object_set_new(anon, s, json_object());
			} else if (s[0] == '/' || s[0] == '.' || s[0] == '~') {
				warn(out, "Ignoring invalid bind mount %s", s);
			} else {
				size_t nl = (size_t)(colon - s);

				while (nl > 0 && s[nl - 1] == ' ')
					nl--;
				snprintf(buf, sizeof(buf), "%d_%.*s%s", ctx->app_id, (int)nl, s,
					 colon);
				json_array_append_new(binds, json_string(buf));
				snprintf(buf, sizeof(buf), "%d_%.*s", ctx->app_id, (int)nl, s);
				json_array_append_new(out->volumes, json_string(buf));
			}
		} else if (json_is_object(v)) {
			const char *type = json_string_value(json_object_get(v, "type"));
			const char *src = json_string_value(json_object_get(v, "source"));
			const char *dst = json_string_value(json_object_get(v, "target"));

			if (dst == NULL)
				return cfail(err, errlen, "volumes: long syntax needs a target");
			if (type && !strcmp(type, "tmpfs")) {
				json_array_append_new(mounts, json_pack("{s:s, s:s}", "Type",
									"tmpfs", "Target", dst));
			} else if ((type == NULL || !strcmp(type, "volume")) && src != NULL) {
				snprintf(buf, sizeof(buf), "%d_%s", ctx->app_id, src);
				json_array_append_new(out->volumes, json_string(buf));
				json_array_append_new(
					mounts,
					json_pack("{s:s, s:s, s:s, s:b}", "Type", "volume",
						  "Source", buf, "Target", dst, "ReadOnly",
						  json_is_true(json_object_get(v, "read_only"))));
			} else if (type == NULL || !strcmp(type, "volume")) {
				json_object_set_new(anon, dst, json_object());
			} else {
				warn(out, "Ignoring invalid bind mount %s", src ? src : dst);
			}
		} else {
			return cfail(err, errlen, "volumes must be strings or objects");
		}
	}
	snprintf(dir, sizeof(dir), "%s/services/%d/%s", ctx->run_dir, ctx->app_id,
		 ctx->service_name);
	snprintf(buf, sizeof(buf), "%s:/tmp/resin", dir);
	json_array_append_new(binds, json_string(buf));
	snprintf(buf, sizeof(buf), "%s:/tmp/balena", dir);
	json_array_append_new(binds, json_string(buf));
	if (truthy(json_object_get(labels, "io.balena.features.journal-logs"))) {
		json_array_append_new(binds, json_string("/var/log/journal:/var/log/journal:ro"));
		json_array_append_new(binds, json_string("/run/log/journal:/run/log/journal:ro"));
		json_array_append_new(binds, json_string("/etc/machine-id:/etc/machine-id:ro"));
	}
	if (truthy(json_object_get(labels, "io.balena.features.dbus")))
		json_array_append_new(binds, json_string("/run/dbus:/host/run/dbus"));
	if (truthy(json_object_get(labels, "io.balena.features.kernel-modules")) &&
	    ctx->host_has_lib_modules)
		json_array_append_new(binds, json_string("/lib/modules:/lib/modules"));
	if (truthy(json_object_get(labels, "io.balena.features.firmware")) &&
	    ctx->host_has_lib_firmware)
		json_array_append_new(binds, json_string("/lib/firmware:/lib/firmware"));
	if (truthy(json_object_get(labels, "io.balena.features.balena-socket")) &&
	    ctx->engine_socket) {
		snprintf(buf, sizeof(buf), "%s:/host/run/balena-engine.sock", ctx->engine_socket);
		json_array_append_new(binds, json_string(buf));
		snprintf(buf, sizeof(buf), "%s:/var/run/balena-engine.sock", ctx->engine_socket);
		json_array_append_new(binds, json_string(buf));
		snprintf(buf, sizeof(buf), "%s:/var/run/balena.sock", ctx->engine_socket);
		json_array_append_new(binds, json_string(buf));
	}
	if (truthy(json_object_get(labels, "io.balena.features.sysfs")))
		json_array_append_new(binds, json_string("/sys:/sys"));
	if (truthy(json_object_get(labels, "io.balena.features.procfs")))
		json_array_append_new(binds, json_string("/proc:/proc"));
	if (truthy(json_object_get(labels, "io.balena.features.extra-firmware")))
		json_array_append_new(binds, json_string("extra-firmware:/extra-firmware"));
	/* Image VOLUMEs stay anonymous volumes, as the engine would make them. */
	{
		const char *k;

		json_object_foreach(json_object_get(ctx->image_config, "Volumes"), k, v)
			if (json_object_get(anon, k) == NULL)
				json_object_set_new(anon, k, json_object());
	}
	json_object_set_new(host, "Binds", binds);
	if (json_array_size(mounts))
		json_object_set_new(host, "Mounts", mounts);
	else
		json_decref(mounts);
	if (json_object_size(anon))
		json_object_set_new(spec, "Volumes", anon);
	else
		json_decref(anon);
	return 0;
}

/* --- Ports ------------------------------------------------------------------ */

/* [ip:][host[-host]:]container[-container][/proto] */
static int compose_ports(json_t *comp, json_t *host, json_t *spec, char *err, size_t errlen)
{
	json_t *bind = json_object(), *exposed = json_object(), *v;
	size_t i;

	json_array_foreach(json_object_get(comp, "ports"), i, v) {
		char buf[128], *proto, *parts[3];
		unsigned hs = 0, he = 0, cs, ce, k;
		const char *ip = "";
		int n = 0;
		char *p, *save = NULL;

		if (json_is_integer(v))
			snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
		else if (json_is_string(v) && json_string_length(v) < sizeof(buf))
			snprintf(buf, sizeof(buf), "%s", json_string_value(v));
		else
			goto bad;
		proto = strchr(buf, '/');
		if (proto != NULL) {
			*proto++ = '\0';
			if (strcmp(proto, "tcp") && strcmp(proto, "udp"))
				goto bad;
		} else {
			proto = "tcp";
		}
		for (p = strtok_r(buf, ":", &save); p && n < 3; p = strtok_r(NULL, ":", &save))
			parts[n++] = p;
		if (p != NULL || n == 0)
			goto bad;
		if (n == 3)
			ip = parts[0];
		if (sscanf(parts[n - 1], "%u-%u", &cs, &ce) == 2) {
		} else if (sscanf(parts[n - 1], "%u", &cs) == 1) {
			ce = cs;
		} else {
			goto bad;
		}
		if (n >= 2 && parts[n - 2][0] != '\0') {
			if (sscanf(parts[n - 2], "%u-%u", &hs, &he) != 2) {
				if (sscanf(parts[n - 2], "%u", &hs) != 1)
					goto bad;
				he = hs + (ce - cs);
			}
		}
		if (ce < cs || ce > 65535 || cs == 0 || (hs && he - hs != ce - cs))
			goto bad;
		for (k = 0; k <= ce - cs; k++) {
			char key[32], hp[16];

			snprintf(key, sizeof(key), "%u/%s", cs + k, proto);
			snprintf(hp, sizeof(hp), "%u", hs ? hs + k : cs + k);
			json_object_set_new(exposed, key, json_object());
			if (json_object_get(bind, key) == NULL)
				json_object_set_new(bind, key, json_array());
			json_array_append_new(json_object_get(bind, key),
					      json_pack("{s:s, s:s}", "HostIp", ip, "HostPort",
							n >= 2 ? hp : ""));
		}
		continue;
	bad:
		json_decref(bind);
		json_decref(exposed);
		return cfail(err, errlen, "ports: invalid port specification");
	}
	if (json_object_size(bind)) {
		json_object_set_new(host, "PortBindings", bind);
		json_object_set_new(spec, "ExposedPorts", exposed);
	} else {
		json_decref(bind);
		json_decref(exposed);
	}
	return 0;
}

/* --- Networks ----------------------------------------------------------- */

static int compose_network(const struct compose_ctx *ctx, json_t *comp, json_t *host, json_t *spec,
			   struct composed *out, char *err, size_t errlen)
{
	const char *mode = json_string_value(json_object_get(comp, "network_mode"));
	json_t *nets = json_object_get(comp, "networks"), *v, *first = NULL;
	char full[512];
	const char *k;
	size_t i;

	if (json_object_get(comp, "network_mode") && mode == NULL)
		return cfail(err, errlen, "network_mode must be a string");
	if (mode != NULL && !strncmp(mode, "service:", 8)) {
		out->network_mode_service = strdup(mode + 8);
		json_array_append_new(out->depends_on, json_string(mode + 8));
		json_object_set_new(host, "NetworkMode", json_sprintf("container:%s", mode + 8));
		return 0;
	}
	if (mode != NULL && !strncmp(mode, "container:", 10)) {
		warn(out, "Ignoring unsupported network_mode %s", mode);
		mode = NULL;
	}
	if (mode != NULL &&
	    (!strcmp(mode, "host") || !strcmp(mode, "bridge") || !strcmp(mode, "none"))) {
		json_object_set_new(host, "NetworkMode", json_string(mode));
		return 0;
	}
	/* Named networks: the first (or network_mode's) is joined at create. */
	if (mode != NULL) {
		snprintf(full, sizeof(full), "%s_%s", ctx->app_uuid, mode);
		json_object_set_new(out->networks, full,
				    json_pack("{s:[s]}", "Aliases", ctx->service_name));
	}
	if (json_is_array(nets)) {
		json_array_foreach(nets, i, v) {
			if (!json_is_string(v))
				return cfail(err, errlen, "networks must be names");
			snprintf(full, sizeof(full), "%s_%s", ctx->app_uuid, json_string_value(v));
			json_object_set_new(out->networks, full,
					    json_pack("{s:[s]}", "Aliases", ctx->service_name));
		}
	} else if (json_is_object(nets)) {
		json_object_foreach(nets, k, v) {
			json_t *aliases = json_pack("[s]", ctx->service_name), *a;
			json_t *ep = json_object();

			json_array_foreach(json_object_get(v, "aliases"), i, a)
				if (json_is_string(a))
					json_array_append(aliases, a);
			json_object_set_new(ep, "Aliases", aliases);
			if (json_is_string(json_object_get(v, "ipv4_address")) ||
			    json_is_string(json_object_get(v, "ipv6_address")))
				json_object_set_new(ep, "IPAMConfig",
						    json_pack("{s:O*, s:O*}", "IPv4Address",
							      json_object_get(v, "ipv4_address"),
							      "IPv6Address",
							      json_object_get(v, "ipv6_address")));
			snprintf(full, sizeof(full), "%s_%s", ctx->app_uuid, k);
			json_object_set_new(out->networks, full, ep);
		}
	} else if (nets != NULL) {
		return cfail(err, errlen, "networks must be an array or an object");
	}
	if (json_object_size(out->networks) == 0) {
		snprintf(full, sizeof(full), "%s_default", ctx->app_uuid);
		json_object_set_new(out->networks, full,
				    json_pack("{s:[s]}", "Aliases", ctx->service_name));
	}
	json_object_foreach(out->networks, k, v) {
		first = v;
		json_object_set_new(host, "NetworkMode", json_string(k));
		json_object_set_new(spec, "NetworkingConfig",
				    json_pack("{s:{s:O}}", "EndpointsConfig", k, first));
		break;
	}
	return 0;
}

/* --- Everything else ------------------------------------------------------ */

static int compose_host_fields(json_t *comp, json_t *host, json_t *spec, struct composed *out,
			       char *err, size_t errlen)
{
	json_t *v, *e;
	const char *k;
	long long n;
	size_t i;

	/* restart: no | always | on-failure | unless-stopped, else always */
	v = json_object_get(comp, "restart");
	{
		const char *r = json_string_value(v);
		char low[32] = "always";

		if (json_is_false(v))
			snprintf(low, sizeof(low), "no");
		else if (r != NULL) {
			for (i = 0; r[i] && i < sizeof(low) - 1; i++)
				low[i] = (char)tolower((unsigned char)r[i]);
			low[i] = '\0';
			if (strcmp(low, "no") && strcmp(low, "always") &&
			    strcmp(low, "on-failure") && strcmp(low, "unless-stopped"))
				snprintf(low, sizeof(low), "always");
		}
		json_object_set_new(host, "RestartPolicy",
				    json_pack("{s:s, s:i}", "Name", low, "MaximumRetryCount", 0));
	}
	if ((v = json_object_get(comp, "mem_limit")) != NULL) {
		if ((n = parse_size(v)) < 0)
			return cfail(err, errlen, "mem_limit: invalid size");
		json_object_set_new(host, "Memory", json_integer(n));
	}
	if ((v = json_object_get(comp, "mem_reservation")) != NULL) {
		if ((n = parse_size(v)) < 0)
			return cfail(err, errlen, "mem_reservation: invalid size");
		json_object_set_new(host, "MemoryReservation", json_integer(n));
	}
	v = json_object_get(comp, "shm_size");
	if ((n = v ? parse_size(v) : 64LL * 1024 * 1024) < 0)
		return cfail(err, errlen, "shm_size: invalid size");
	json_object_set_new(host, "ShmSize", json_integer(n));
	if ((v = json_object_get(comp, "cpus")) != NULL) {
		double c = json_is_number(v)   ? json_number_value(v)
			   : json_is_string(v) ? atof(json_string_value(v))
					       : -1;

		if (c < 0)
			return cfail(err, errlen, "cpus: must be a number");
		json_object_set_new(host, "NanoCpus", json_integer((json_int_t)(c * 1e9)));
	}
	if ((v = json_object_get(comp, "cpu_shares")) && json_is_integer(v) &&
	    json_integer_value(v))
		json_object_set(host, "CpuShares", v);
	if ((v = json_object_get(comp, "cpu_quota")) && json_is_integer(v) && json_integer_value(v))
		json_object_set(host, "CpuQuota", v);
	if ((v = json_object_get(comp, "oom_score_adj")) && json_is_integer(v) &&
	    json_integer_value(v))
		json_object_set(host, "OomScoreAdj", v);
	if ((v = json_object_get(comp, "cpuset")) && json_is_string(v))
		json_object_set(host, "CpusetCpus", v);
	if ((v = json_object_get(comp, "pids_limit")) && json_is_integer(v))
		json_object_set(host, "PidsLimit", v);
	if ((v = json_object_get(comp, "oom_kill_disable")) && json_is_boolean(v))
		json_object_set(host, "OomKillDisable", v);
	json_object_set_new(host, "Privileged",
			    json_boolean(json_is_true(json_object_get(comp, "privileged"))));
	json_object_set_new(host, "ReadonlyRootfs",
			    json_boolean(json_is_true(json_object_get(comp, "read_only"))));
	v = json_object_get(comp, "ipc");
	json_object_set_new(host, "IpcMode",
			    json_string(json_is_string(v) ? json_string_value(v) : "shareable"));
	if ((v = json_object_get(comp, "pid")) && json_is_string(v))
		json_object_set(host, "PidMode", v);
	if ((v = json_object_get(comp, "userns_mode")) && json_is_string(v))
		json_object_set(host, "UsernsMode", v);
	if ((v = json_object_get(comp, "cgroup_parent")) && json_is_string(v))
		json_object_set(host, "CgroupParent", v);
	if ((v = json_object_get(comp, "init")) && json_is_boolean(v))
		json_object_set(host, "Init", v);
	if ((v = json_object_get(comp, "storage_opt")) && json_is_object(v))
		json_object_set(host, "StorageOpt", v);
	/* Lists of strings, taken as they are. */
	{
		static const char *const lists[][2] = {{"cap_add", "CapAdd"},
						       {"cap_drop", "CapDrop"},
						       {"dns_opt", "DnsOptions"},
						       {"group_add", "GroupAdd"},
						       {"dns", "Dns"},
						       {"dns_search", "DnsSearch"}};

		for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
			json_t *l;

			if ((v = json_object_get(comp, lists[i][0])) == NULL)
				continue;
			if ((l = string_or_array(v, 0, lists[i][0], err, errlen)) == NULL)
				return -1;
			json_object_set_new(host, lists[i][1], l);
		}
	}
	if ((v = json_object_get(comp, "security_opt")) != NULL) {
		json_t *l = string_or_array(v, 0, "security_opt", err, errlen), *keep;

		if (l == NULL)
			return -1;
		keep = json_array();
		json_array_foreach(l, i, e)
			if (strncmp(json_string_value(e), "label=", 6) != 0)
				json_array_append(keep, e);
		json_decref(l);
		json_object_set_new(host, "SecurityOpt", keep);
	}
	if ((v = json_object_get(comp, "extra_hosts")) != NULL) {
		json_t *l = string_or_array(v, 0, "extra_hosts", err, errlen), *out_l;

		if (l == NULL)
			return -1;
		out_l = json_array();
		json_array_foreach(l, i, e) {
			char *s = strdup(json_string_value(e)), *eq = strchr(s, '=');

			if (eq != NULL)
				*eq = ':';
			json_array_append_new(out_l, json_string(s));
			free(s);
		}
		json_decref(l);
		json_object_set_new(host, "ExtraHosts", out_l);
	}
	if ((v = json_object_get(comp, "tmpfs")) != NULL) {
		json_t *l = string_or_array(v, 0, "tmpfs", err, errlen), *t = json_object();

		if (l == NULL) {
			json_decref(t);
			return -1;
		}
		json_array_foreach(l, i, e)
			json_object_set_new(t, json_string_value(e), json_string(""));
		json_decref(l);
		json_object_set_new(host, "Tmpfs", t);
	}
	if ((v = json_object_get(comp, "sysctls")) != NULL) {
		json_t *s = json_object();

		if (json_is_object(v)) {
			json_object_foreach(v, k, e)
				json_object_set_new(
					s, k,
					json_is_string(e)
						? json_incref(e)
						: json_sprintf("%lld",
							       (long long)json_integer_value(e)));
		} else if (json_is_array(v)) {
			json_array_foreach(v, i, e) {
				const char *kv = json_string_value(e), *eq;

				if (kv == NULL || (eq = strchr(kv, '=')) == NULL) {
					json_decref(s);
					return cfail(err, errlen, "sysctls: expected key=value");
				}
				{
					char *key = strndup(kv, (size_t)(eq - kv));

					json_object_set_new(s, key, json_string(eq + 1));
					free(key);
				}
			}
		}
		json_object_set_new(host, "Sysctls", s);
	}
	if ((v = json_object_get(comp, "ulimits")) != NULL) {
		json_t *u = json_array();

		json_object_foreach(v, k, e) {
			json_int_t soft, hard;

			if (json_is_integer(e)) {
				soft = hard = json_integer_value(e);
			} else if (json_is_object(e)) {
				soft = json_integer_value(json_object_get(e, "soft"));
				hard = json_integer_value(json_object_get(e, "hard"));
			} else {
				json_decref(u);
				return cfail(err, errlen,
					     "ulimits: %s must be a number or {soft, hard}", k);
			}
			json_array_append_new(u, json_pack("{s:s, s:I, s:I}", "Name", k, "Soft",
							   soft, "Hard", hard));
		}
		json_object_set_new(host, "Ulimits", u);
	}
	if ((v = json_object_get(comp, "devices")) != NULL) {
		json_t *d = json_array();

		json_array_foreach(v, i, e) {
			char *s = json_is_string(e) ? strdup(json_string_value(e)) : NULL, *c1, *c2;

			if (s == NULL) {
				json_decref(d);
				return cfail(err, errlen, "devices must be strings");
			}
			c1 = strchr(s, ':');
			c2 = c1 ? strchr(c1 + 1, ':') : NULL;
			if (c1)
				*c1++ = '\0';
			if (c2)
				*c2++ = '\0';
			json_array_append_new(d, json_pack("{s:s, s:s, s:s}", "PathOnHost", s,
							   "PathInContainer", c1 ? c1 : s,
							   "CgroupPermissions", c2 ? c2 : "rwm"));
			free(s);
		}
		json_object_set_new(host, "Devices", d);
	}
	(void)spec;
	(void)out;
	return 0;
}

/* healthcheck merged over the image's; durations become nanoseconds */
static int compose_healthcheck(const struct compose_ctx *ctx, json_t *comp, json_t *spec, char *err,
			       size_t errlen)
{
	json_t *hc = json_object_get(comp, "healthcheck"), *img, *out, *v;
	static const char *const durs[][2] = {
		{"interval", "Interval"}, {"timeout", "Timeout"}, {"start_period", "StartPeriod"}};
	size_t i;

	img = json_object_get(ctx->image_config, "Healthcheck");
	if (hc == NULL) {
		return 0; /* the engine applies the image's own */
	}
	if (!json_is_object(hc))
		return cfail(err, errlen, "healthcheck must be an object");
	out = json_is_object(img) ? json_deep_copy(img) : json_object();
	if (json_is_true(json_object_get(hc, "disable"))) {
		json_object_set_new(out, "Test", json_pack("[s]", "NONE"));
	} else if ((v = json_object_get(hc, "test")) != NULL) {
		if (json_is_string(v))
			json_object_set_new(out, "Test", json_pack("[s, O]", "CMD-SHELL", v));
		else if (json_is_array(v))
			json_object_set(out, "Test", v);
		else {
			json_decref(out);
			return cfail(err, errlen, "healthcheck.test must be a string or an array");
		}
	}
	for (i = 0; i < 3; i++) {
		long long ns;

		if ((v = json_object_get(hc, durs[i][0])) == NULL)
			continue;
		if ((ns = parse_duration_ns(v)) < 0) {
			json_decref(out);
			return cfail(err, errlen, "healthcheck.%s: invalid duration", durs[i][0]);
		}
		json_object_set_new(out, durs[i][1], json_integer(ns));
	}
	if ((v = json_object_get(hc, "retries")) != NULL && json_is_integer(v))
		json_object_set(out, "Retries", v);
	json_object_set_new(spec, "Healthcheck", out);
	return 0;
}

static int compose_config_fields(const struct compose_ctx *ctx, json_t *comp, json_t *spec,
				 char *err, size_t errlen)
{
	json_t *v, *l;
	long long ns;
	const char *s;

	/* command/entrypoint: arrays, or strings split like a shell; else the image's */
	if ((v = json_object_get(comp, "command")) != NULL) {
		if ((l = string_or_array(v, 1, "command", err, errlen)) == NULL)
			return -1;
		json_object_set_new(spec, "Cmd", l);
	} else if ((v = json_object_get(ctx->image_config, "Cmd")) && json_is_array(v)) {
		json_object_set(spec, "Cmd", v);
	}
	if ((v = json_object_get(comp, "entrypoint")) != NULL) {
		if ((l = string_or_array(v, 1, "entrypoint", err, errlen)) == NULL)
			return -1;
		json_object_set_new(spec, "Entrypoint", l);
	} else if ((v = json_object_get(ctx->image_config, "Entrypoint")) && json_is_array(v)) {
		json_object_set(spec, "Entrypoint", v);
	}
	v = json_object_get(comp, "tty");
	json_object_set_new(spec, "Tty", json_boolean(v == NULL || json_is_true(v)));
	v = json_object_get(comp, "stop_signal");
	s = json_string_value(v);
	if (s == NULL)
		s = json_string_value(json_object_get(ctx->image_config, "StopSignal"));
	json_object_set_new(spec, "StopSignal", json_string(s ? s : "SIGTERM"));
	v = json_object_get(comp, "stop_grace_period");
	ns = v ? parse_duration_ns(v) : 10000000000LL;
	if (ns < 0)
		return cfail(err, errlen, "stop_grace_period: invalid duration");
	json_object_set_new(spec, "StopTimeout", json_integer(ns / 1000000000LL));
	if ((v = json_object_get(comp, "working_dir")) && json_is_string(v)) {
		char *w = strdup(json_string_value(v));
		size_t n = strlen(w);

		while (n > 1 && w[n - 1] == '/')
			w[--n] = '\0';
		json_object_set_new(spec, "WorkingDir", json_string(w));
		free(w);
	} else if ((v = json_object_get(ctx->image_config, "WorkingDir")) && json_is_string(v) &&
		   json_string_length(v)) {
		json_object_set(spec, "WorkingDir", v);
	}
	if ((v = json_object_get(comp, "user")) && json_is_string(v))
		json_object_set(spec, "User", v);
	if ((v = json_object_get(comp, "hostname")) && json_is_string(v))
		json_object_set(spec, "Hostname", v);
	if ((v = json_object_get(comp, "domainname")) && json_is_string(v))
		json_object_set(spec, "Domainname", v);
	if ((v = json_object_get(comp, "mac_address")) && json_is_string(v))
		json_object_set(spec, "MacAddress", v);
	return compose_healthcheck(ctx, comp, spec, err, errlen);
}

static void compose_unknown_fields(json_t *comp, struct composed *out)
{
	const char *k, *names[64];
	char msg[1024] = "";
	size_t n = 0, i, j, off = 0;
	json_t *v;

	json_object_foreach(comp, k, v)
		if (!known_field(k) && n < 64)
			names[n++] = k;
	if (n == 0)
		return;
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			const char *t = names[j];

			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	for (i = 0; i < n && off < sizeof(msg); i++)
		off += (size_t)snprintf(msg + off, sizeof(msg) - off, "%s%s", i ? ", " : "",
					names[i]);
	warn(out, "Ignoring unsupported or unknown compose fields: %s", msg);
}

static void compose_update_labels(json_t *labels, struct composed *out)
{
	const char *s = json_string_value(json_object_get(labels, "io.balena.update.strategy"));
	const char *t =
		json_string_value(json_object_get(labels, "io.balena.update.handover-timeout"));

	if (s == NULL || (strcmp(s, "kill-then-download") && strcmp(s, "delete-then-download") &&
			  strcmp(s, "hand-over")))
		s = "download-then-kill";
	out->strategy = strdup(s);
	out->handover_timeout_ms = 60000;
	if (t != NULL && atol(t) > 0)
		out->handover_timeout_ms = atol(t);
}

int compose_service(const struct compose_ctx *ctx, json_t *svc, struct composed *out, char *err,
		    size_t errlen)
{
	json_t *comp = json_object_get(svc, "composition"), *spec, *host, *labels, *v;
	char image[512];
	size_t i;
	int host_net;

	memset(out, 0, sizeof(*out));
	out->depends_on = json_array();
	out->networks = json_object();
	out->volumes = json_array();
	out->warnings = json_array();
	if (comp == NULL || json_is_null(comp))
		comp = json_object();
	else
		json_incref(comp);
	if (!json_is_object(comp)) {
		json_decref(comp);
		compose_free(out);
		return cfail(err, errlen, "composition must be an object");
	}
	spec = json_object();
	host = json_object();
	labels = compose_labels(ctx, svc);
	compose_image_normalise(json_string_value(json_object_get(svc, "image")), image,
				sizeof(image));
	json_object_set_new(spec, "Image",
			    json_string(ctx->image_id_ref ? ctx->image_id_ref : image));
	host_net = json_is_string(json_object_get(comp, "network_mode")) &&
		   !strcmp(json_string_value(json_object_get(comp, "network_mode")), "host");
	json_object_set_new(spec, "Env", compose_env(ctx, svc, labels, host_net));
	json_object_set(spec, "Labels", labels);
	json_object_set_new(spec, "HostConfig", host);
	if (compose_volumes(ctx, comp, labels, host, spec, out, err, errlen) == -1 ||
	    compose_ports(comp, host, spec, err, errlen) == -1 ||
	    compose_network(ctx, comp, host, spec, out, err, errlen) == -1 ||
	    compose_host_fields(comp, host, spec, out, err, errlen) == -1 ||
	    compose_config_fields(ctx, comp, spec, err, errlen) == -1)
		goto fail;
	json_array_foreach(json_object_get(comp, "depends_on"), i, v)
		if (json_is_string(v))
			json_array_append(out->depends_on, v);
	compose_unknown_fields(comp, out);
	compose_update_labels(labels, out);
	out->running = !json_is_false(json_object_get(svc, "running"));
	out->spec = spec;
	json_decref(labels);
	json_decref(comp);
	return 0;
fail:
	json_decref(spec);
	json_decref(labels);
	json_decref(comp);
	compose_free(out);
	return -1;
}

void compose_free(struct composed *c)
{
	json_decref(c->spec);
	json_decref(c->depends_on);
	json_decref(c->networks);
	json_decref(c->volumes);
	json_decref(c->warnings);
	free(c->network_mode_service);
	free(c->strategy);
	memset(c, 0, sizeof(*c));
}
