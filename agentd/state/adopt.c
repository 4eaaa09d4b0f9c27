/*
 * adopt.c - the balena supervisor's comparison of a current container,
 * network or volume with its target (see adopt.h). Both sides are brought to
 * one view first: the engine's inspect of what exists, and the create body
 * agentd would send (with the image's config where the body leaves a field
 * to the image, as the engine does at create time); then each field the
 * balena supervisor compares is compared its way: unordered for lists whose
 * order means nothing, with its default where one side has none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adopt.h"
#include "compose.h"

/* v, or the default when v is missing or null (dflt is stolen). */
static json_t *or_dflt(json_t *v, json_t *dflt)
{
	if (v == NULL || json_is_null(v))
		return dflt;
	json_decref(dflt);
	return json_incref(v);
}

static int cmp_json(const void *a, const void *b)
{
	char *x = json_dumps(*(json_t *const *)a, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	char *y = json_dumps(*(json_t *const *)b, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	int c = strcmp(x ? x : "", y ? y : "");

	free(x);
	free(y);
	return c;
}

/* A list in a canonical order (the balena supervisor sorts these before it
 * compares them). New reference; null and missing are []. */
static json_t *sorted(json_t *list)
{
	json_t *out = json_array(), **items;
	size_t n = json_array_size(list), i;

	if (n == 0)
		return out;
	if ((items = calloc(n, sizeof(*items))) == NULL)
		return out;
	for (i = 0; i < n; i++)
		items[i] = json_array_get(list, i);
	qsort(items, n, sizeof(*items), cmp_json);
	for (i = 0; i < n; i++)
		json_array_append(out, items[i]);
	free(items);
	return out;
}

static json_t *keys_sorted(json_t *obj)
{
	json_t *keys = json_array(), *v, *out;
	const char *k;

	json_object_foreach(obj, k, v)
		json_array_append_new(keys, json_string(k));
	out = sorted(keys);
	json_decref(keys);
	return out;
}

/* Labels, io.resin. read as io.balena., without agentd's own. */
static json_t *label_map(json_t *labels)
{
	json_t *out = json_object(), *v;
	const char *k;
	char key[512];

	json_object_foreach(labels, k, v) {
		if (strncmp(k, "io.balena.agentd.", 17) == 0)
			continue;
		if (strncmp(k, "io.resin.", 9) == 0)
			snprintf(key, sizeof(key), "io.balena.%s", k + 9);
		else
			snprintf(key, sizeof(key), "%s", k);
		json_object_set(out, key, v);
	}
	return out;
}

/* Binds, every Config.Volumes path and the long-syntax mounts, as one set. */
static json_t *volume_set(json_t *cfg, json_t *host)
{
	json_t *all = json_array(), *v, *out;
	const char *k;
	size_t i;

	json_array_foreach(json_object_get(host, "Binds"), i, v)
		json_array_append(all, v);
	json_object_foreach(json_object_get(cfg, "Volumes"), k, v)
		json_array_append_new(all, json_string(k));
	json_array_foreach(json_object_get(host, "Mounts"), i, v)
		json_array_append_new(all, json_pack("{s:O?, s:O?, s:O?, s:b}", "Type",
						     json_object_get(v, "Type"), "Source",
						     json_object_get(v, "Source"), "Target",
						     json_object_get(v, "Target"), "ReadOnly",
						     json_is_true(json_object_get(v, "ReadOnly"))));
	out = sorted(all);
	json_decref(all);
	return out;
}

/* PortBindings as a set of "host:port->port/proto". */
static json_t *port_set(json_t *bindings)
{
	json_t *all = json_array(), *arr, *b, *out;
	const char *k;
	size_t i;

	json_object_foreach(bindings, k, arr)
		json_array_foreach(arr, i, b)
			json_array_append_new(
				all,
				json_sprintf("%s:%s->%s",
					     json_string_value(json_object_get(b, "HostIp")) ?: "",
					     json_string_value(json_object_get(b, "HostPort"))
						     ?: "",
					     k));
	out = sorted(all);
	json_decref(all);
	return out;
}

static json_t *security_opts(json_t *opts)
{
	json_t *keep = json_array(), *v, *out;
	size_t i;

	json_array_foreach(opts, i, v)
		if (strncmp(json_string_value(v) ?: "", "label=", 6) != 0)
			json_array_append(keep, v);
	out = sorted(keep);
	json_decref(keep);
	return out;
}

static json_t *ulimit_list(json_t *ulimits)
{
	json_t *all = json_array(), *u, *out;
	size_t i;

	json_array_foreach(ulimits, i, u)
		json_array_append_new(all, json_pack("{s:O?, s:O?, s:O?}", "Name",
						     json_object_get(u, "Name"), "Soft",
						     json_object_get(u, "Soft"), "Hard",
						     json_object_get(u, "Hard")));
	out = sorted(all);
	json_decref(all);
	return out;
}

/* A healthcheck with no test is none at all: {"Test": ["NONE"]}, as balena
 * reads it; else its set fields. */
static json_t *healthcheck_of(json_t *hc)
{
	static const char *const keys[] = {"Test", "Interval", "Timeout", "StartPeriod", "Retries"};
	json_t *out, *v;
	size_t i;

	if (json_object_get(hc, "Test") == NULL || json_is_null(json_object_get(hc, "Test")))
		return json_pack("{s:[s]}", "Test", "NONE");
	out = json_object();
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((v = json_object_get(hc, keys[i])) != NULL && !json_is_null(v) &&
		    !(json_is_integer(v) && json_integer_value(v) == 0))
			json_object_set(out, keys[i], v);
	return out;
}

/* The fields the balena supervisor compares, from a container's Config and
 * HostConfig (inspect) or a create body and its HostConfig. */
static json_t *container_view(json_t *cfg, json_t *host)
{
	json_t *v = json_object();
	long long stop = json_integer_value(json_object_get(cfg, "StopTimeout"));
	const char *restart =
		json_string_value(json_object_get(json_object_get(host, "RestartPolicy"), "Name"));

	json_object_set_new(v, "portMaps", port_set(json_object_get(host, "PortBindings")));
	json_object_set_new(v, "command", or_dflt(json_object_get(cfg, "Cmd"), json_array()));
	json_object_set_new(v, "entrypoint",
			    or_dflt(json_object_get(cfg, "Entrypoint"), json_array()));
	json_object_set_new(v, "volumes", volume_set(cfg, host));
	json_object_set_new(v, "image", or_dflt(json_object_get(cfg, "Image"), json_string("")));
	json_object_set_new(v, "environment", compose_env_object(json_object_get(cfg, "Env")));
	json_object_set_new(v, "privileged",
			    json_boolean(json_is_true(json_object_get(host, "Privileged"))));
	json_object_set_new(v, "labels", label_map(json_object_get(cfg, "Labels")));
	json_object_set_new(v, "restart", json_string(restart && *restart ? restart : "always"));
	json_object_set_new(v, "capAdd", sorted(json_object_get(host, "CapAdd")));
	json_object_set_new(v, "capDrop", sorted(json_object_get(host, "CapDrop")));
	json_object_set_new(v, "devices", sorted(json_object_get(host, "Devices")));
	json_object_set_new(v, "deviceRequests",
			    or_dflt(json_object_get(host, "DeviceRequests"), json_array()));
	json_object_set_new(v, "memLimit",
			    or_dflt(json_object_get(host, "Memory"), json_integer(0)));
	json_object_set_new(v, "memReservation",
			    or_dflt(json_object_get(host, "MemoryReservation"), json_integer(0)));
	json_object_set_new(v, "shmSize",
			    or_dflt(json_object_get(host, "ShmSize"), json_integer(67108864)));
	json_object_set_new(v, "cpuShares",
			    or_dflt(json_object_get(host, "CpuShares"), json_integer(0)));
	json_object_set_new(v, "cpuQuota",
			    or_dflt(json_object_get(host, "CpuQuota"), json_integer(0)));
	json_object_set_new(v, "cpuset",
			    or_dflt(json_object_get(host, "CpusetCpus"), json_string("")));
	json_object_set_new(v, "domainname",
			    or_dflt(json_object_get(cfg, "Domainname"), json_string("")));
	json_object_set_new(v, "oomKillDisable",
			    json_boolean(json_is_true(json_object_get(host, "OomKillDisable"))));
	json_object_set_new(v, "oomScoreAdj",
			    or_dflt(json_object_get(host, "OomScoreAdj"), json_integer(0)));
	json_object_set_new(v, "dns", or_dflt(json_object_get(host, "Dns"), json_array()));
	json_object_set_new(v, "dnsSearch",
			    or_dflt(json_object_get(host, "DnsSearch"), json_array()));
	json_object_set_new(v, "dnsOpt", sorted(json_object_get(host, "DnsOptions")));
	json_object_set_new(v, "tmpfs", keys_sorted(json_object_get(host, "Tmpfs")));
	json_object_set_new(v, "extraHosts", sorted(json_object_get(host, "ExtraHosts")));
	json_object_set_new(v, "ulimits", ulimit_list(json_object_get(host, "Ulimits")));
	json_object_set_new(v, "stopSignal",
			    or_dflt(json_object_get(cfg, "StopSignal"), json_string("SIGTERM")));
	json_object_set_new(v, "stopGracePeriod", json_integer(stop > 0 ? stop : 10));
	json_object_set_new(v, "healthcheck", healthcheck_of(json_object_get(cfg, "Healthcheck")));
	json_object_set_new(v, "readOnly",
			    json_boolean(json_is_true(json_object_get(host, "ReadonlyRootfs"))));
	json_object_set_new(v, "sysctls", or_dflt(json_object_get(host, "Sysctls"), json_object()));
	json_object_set_new(v, "cgroupParent",
			    or_dflt(json_object_get(host, "CgroupParent"), json_string("")));
	json_object_set_new(v, "groupAdd", sorted(json_object_get(host, "GroupAdd")));
	json_object_set_new(v, "pid", or_dflt(json_object_get(host, "PidMode"), json_string("")));
	json_object_set_new(v, "pidsLimit",
			    or_dflt(json_object_get(host, "PidsLimit"), json_integer(0)));
	json_object_set_new(v, "securityOpt", security_opts(json_object_get(host, "SecurityOpt")));
	json_object_set_new(v, "usernsMode",
			    or_dflt(json_object_get(host, "UsernsMode"), json_string("")));
	json_object_set_new(v, "ipc", or_dflt(json_object_get(host, "IpcMode"), json_string("")));
	json_object_set_new(v, "macAddress",
			    or_dflt(json_object_get(cfg, "MacAddress"), json_string("")));
	json_object_set_new(v, "user", or_dflt(json_object_get(cfg, "User"), json_string("")));
	json_object_set_new(v, "workingDir",
			    or_dflt(json_object_get(cfg, "WorkingDir"), json_string("")));
	json_object_set_new(v, "tty", json_boolean(json_is_true(json_object_get(cfg, "Tty"))));
	return v;
}

static int starts_with(const char *s, const char *prefix)
{
	return s != NULL && strstr(s, prefix) == s;
}

/* What differs, for the log: for two objects, the first key whose values
 * differ; else both values (cut short). */
static void why_of(char *why, size_t len, json_t *cur, json_t *tgt)
{
	const char *key = NULL, *k;
	char *a, *b;
	json_t *v;

	if (json_is_object(cur) && json_is_object(tgt)) {
		json_object_foreach(tgt, k, v)
			if (key == NULL && !json_equal(v, json_object_get(cur, k)))
				key = k;
		json_object_foreach(cur, k, v)
			if (key == NULL && json_object_get(tgt, k) == NULL)
				key = k;
	}
	if (key != NULL) {
		cur = json_object_get(cur, key);
		tgt = json_object_get(tgt, key);
	}
	a = cur ? json_dumps(cur, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
	b = tgt ? json_dumps(tgt, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
	snprintf(why, len, "%s%.60s%s%.250s on the container, %.250s in the target", key ? "" : "",
		 key ? key : "", key ? ": " : "", a ? a : "(none)", b ? b : "(none)");
	free(a);
	free(b);
}

/* The create body as the engine makes it into a container: what the body
 * leaves to the image comes from the image. New reference. */
static json_t *as_created(json_t *spec, json_t *image_config)
{
	static const char *const from_image[] = {"User", "WorkingDir", "Healthcheck",
						 "Cmd",  "Entrypoint", "StopSignal"};
	json_t *c = json_deep_copy(spec), *v;
	size_t i;

	for (i = 0; i < sizeof(from_image) / sizeof(from_image[0]); i++)
		if (json_object_get(c, from_image[i]) == NULL &&
		    (v = json_object_get(image_config, from_image[i])) != NULL)
			json_object_set(c, from_image[i], v);
	return c;
}

/* The container's own hostname, or "" when it is the engine's default (its
 * id's first 12 characters). */
static const char *hostname_of(json_t *inspect)
{
	const char *h = json_string_value(
			   json_object_get(json_object_get(inspect, "Config"), "Hostname")),
		   *id = json_string_value(json_object_get(inspect, "Id"));

	if (h == NULL || (id != NULL && strlen(h) == 12 && strncmp(h, id, 12) == 0))
		return "";
	return h;
}

const char *adopt_container(json_t *inspect, json_t *spec, json_t *image_config, json_t *networks,
			    const char *service_container, char *why, size_t len)
{
	json_t *created = as_created(spec, image_config);
	json_t *cur = container_view(json_object_get(inspect, "Config"),
				     json_object_get(inspect, "HostConfig"));
	json_t *tgt = container_view(created, json_object_get(created, "HostConfig"));
	json_t *curnets = json_object_get(json_object_get(inspect, "NetworkSettings"), "Networks");
	static char name[64]; /* the field named, which outlives the views */
	const char *field = NULL, *k, *mode, *curmode;
	json_t *v, *ep;
	char buf[160];

	/* every field of the view, in balena's order of the list */
	json_object_foreach(tgt, k, v) {
		if (!json_equal(v, json_object_get(cur, k))) {
			snprintf(name, sizeof(name), "%s", k);
			field = name;
			why_of(why, len, json_object_get(cur, k), v);
			goto out;
		}
	}
	/* the network mode: service:x is the container of x */
	mode = json_string_value(
		json_object_get(json_object_get(spec, "HostConfig"), "NetworkMode"));
	curmode = json_string_value(
		json_object_get(json_object_get(inspect, "HostConfig"), "NetworkMode"));
	if (mode == NULL)
		mode = "";
	if (curmode == NULL)
		curmode = "";
	if (starts_with(mode, "container:") && service_container != NULL) {
		snprintf(buf, sizeof(buf), "container:%s", service_container);
		mode = buf;
	}
	if (strcmp(mode, curmode) != 0) {
		field = "networkMode";
		snprintf(why, len, "%s on the container, %s in the target", curmode, mode);
		goto out;
	}
	/* the hostname, unless it is another container's network */
	if (!starts_with(mode, "container:") && strcmp(mode, "host") != 0 &&
	    strcmp(hostname_of(inspect),
		   json_string_value(json_object_get(spec, "Hostname")) ?: "") != 0) {
		field = "hostname";
		snprintf(why, len, "%s on the container, %s in the target", hostname_of(inspect),
			 json_string_value(json_object_get(spec, "Hostname")) ?: "");
		goto out;
	}
	/* every target network joined, with at least its aliases */
	json_object_foreach(networks, k, ep) {
		json_t *have = json_object_get(curnets, k), *alias;
		size_t i, j;

		if (have == NULL) {
			field = "networks";
			snprintf(why, len, "not on network %s", k);
			goto out;
		}
		json_array_foreach(json_object_get(ep, "Aliases"), i, alias) {
			json_t *a;
			int found = 0;

			json_array_foreach(json_object_get(have, "Aliases"), j, a)
				found |= json_equal(a, alias);
			if (!found) {
				field = "networks";
				snprintf(why, len, "no alias %s on network %s",
					 json_string_value(alias) ?: "?", k);
				goto out;
			}
		}
	}
out:
	json_decref(created);
	json_decref(cur);
	json_decref(tgt);
	return field;
}

/* Labels without the ones every supervised object has, and without agentd's
 * (and the app uuid agentd used to put on networks). */
static json_t *named_labels(json_t *labels, int network)
{
	json_t *out = json_object(), *v;
	const char *k;

	json_object_foreach(labels, k, v) {
		if (!strcmp(k, "io.balena.supervised") || !strncmp(k, "io.balena.agentd.", 17) ||
		    (network && !strcmp(k, "io.balena.app-uuid")))
			continue;
		json_object_set(out, k, v);
	}
	return out;
}

static const char *differs(const char *field, json_t *cur, json_t *tgt, char *why, size_t len)
{
	if (json_equal(cur, tgt))
		return NULL;
	why_of(why, len, cur, tgt);
	return field;
}

const char *adopt_network(json_t *current, json_t *spec, char *why, size_t len)
{
	json_t *ci = json_object_get(current, "IPAM"), *ti = json_object_get(spec, "IPAM");
	json_t *a, *b;
	const char *f;
	int config_only = json_is_true(json_object_get(spec, "ConfigOnly"));

	/* the driver means nothing for a config-only network */
	if (!config_only && (f = differs("driver", json_object_get(current, "Driver"),
					 json_object_get(spec, "Driver"), why, len)) != NULL)
		return f;
	a = or_dflt(json_object_get(ci, "Driver"), json_string("default"));
	b = or_dflt(json_object_get(ti, "Driver"), json_string("default"));
	f = differs("ipam.driver", a, b, why, len);
	json_decref(a);
	json_decref(b);
	if (f != NULL)
		return f;
	/* the engine fills in a subnet for a network that asks for none */
	if (json_array_size(json_object_get(ti, "Config")) > 0 &&
	    (f = differs("ipam.config", json_object_get(ci, "Config"),
			 json_object_get(ti, "Config"), why, len)) != NULL)
		return f;
	a = or_dflt(json_object_get(ci, "Options"), json_object());
	b = or_dflt(json_object_get(ti, "Options"), json_object());
	f = differs("ipam.options", a, b, why, len);
	json_decref(a);
	json_decref(b);
	if (f != NULL)
		return f;
	if ((f = differs("enableIPv6",
			 json_boolean(json_is_true(json_object_get(current, "EnableIPv6"))),
			 json_boolean(json_is_true(json_object_get(spec, "EnableIPv6"))), why,
			 len)) != NULL ||
	    (f = differs("internal",
			 json_boolean(json_is_true(json_object_get(current, "Internal"))),
			 json_boolean(json_is_true(json_object_get(spec, "Internal"))), why,
			 len)) != NULL ||
	    (f = differs("configOnly",
			 json_boolean(json_is_true(json_object_get(current, "ConfigOnly"))),
			 json_boolean(config_only), why, len)) != NULL)
		return f;
	a = or_dflt(json_object_get(current, "Options"), json_object());
	b = or_dflt(json_object_get(spec, "Options"), json_object());
	f = differs("options", a, b, why, len);
	json_decref(a);
	json_decref(b);
	if (f != NULL)
		return f;
	a = named_labels(json_object_get(current, "Labels"), 1);
	b = named_labels(json_object_get(spec, "Labels"), 1);
	f = differs("labels", a, b, why, len);
	json_decref(a);
	json_decref(b);
	return f;
}

const char *adopt_volume(json_t *current, json_t *spec, char *why, size_t len)
{
	json_t *a, *b;
	const char *f;

	a = or_dflt(json_object_get(current, "Driver"), json_string("local"));
	b = or_dflt(json_object_get(spec, "Driver"), json_string("local"));
	f = differs("driver", a, b, why, len);
	json_decref(a);
	json_decref(b);
	if (f != NULL)
		return f;
	a = or_dflt(json_object_get(current, "Options"), json_object());
	b = or_dflt(json_object_get(spec, "DriverOpts"), json_object());
	f = differs("driverOpts", a, b, why, len);
	json_decref(a);
	json_decref(b);
	if (f != NULL)
		return f;
	a = named_labels(json_object_get(current, "Labels"), 0);
	b = named_labels(json_object_get(spec, "Labels"), 0);
	json_object_del(a, "io.balena.app-uuid");
	json_object_del(b, "io.balena.app-uuid");
	f = differs("labels", a, b, why, len);
	json_decref(a);
	json_decref(b);
	return f;
}
