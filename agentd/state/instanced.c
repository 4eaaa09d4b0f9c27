/*
 * instanced.c - the balena supervisor's App, Service, Network and Volume
 * objects (see instanced.h), read off the engine bodies that compose.c and
 * named.c made, with the supervisor's names (camelCase) and its defaults for
 * every field the body leaves out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose.h"
#include "instanced.h"

/* o[key], or a new `dflt` when absent (dflt is stolen either way). */
static json_t *or_default(json_t *o, const char *key, json_t *dflt)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v))
		return dflt;
	json_decref(dflt);
	return json_incref(v);
}

/* Binds, named and anonymous volumes and long-syntax mounts, as compose
 * strings. */
static json_t *volumes_list(json_t *spec, json_t *host)
{
	json_t *out = json_array(), *v;
	const char *k;
	size_t i;

	json_array_foreach(json_object_get(host, "Binds"), i, v)
		json_array_append(out, v);
	json_array_foreach(json_object_get(host, "Mounts"), i, v) {
		const char *src = json_string_value(json_object_get(v, "Source"));
		const char *dst = json_string_value(json_object_get(v, "Target"));
		const char *type = json_string_value(json_object_get(v, "Type"));

		if (dst == NULL)
			continue;
		if (type != NULL && strcmp(type, "tmpfs") == 0)
			continue; /* balena shows these under tmpfs */
		json_array_append_new(
			out, src && *src ? json_sprintf("%s:%s%s", src, dst,
							json_is_true(json_object_get(v, "ReadOnly"))
								? ":ro"
								: "")
					 : json_string(dst));
	}
	json_object_foreach(json_object_get(spec, "Volumes"), k, v)
		json_array_append_new(out, json_string(k));
	return out;
}

struct port {
	long internal, external;
	char host[64], proto[8];
};

static int port_cmp(const void *a, const void *b)
{
	const struct port *p = a, *q = b;
	int c;

	if (p->internal != q->internal)
		return p->internal < q->internal ? -1 : 1;
	if ((c = strcmp(p->host, q->host)) != 0)
		return c;
	return strcmp(p->proto, q->proto);
}

/* PortBindings to balena's port maps: one binding each, sorted, then
 * consecutive ones folded into ranges (as balena normalises them). */
static json_t *port_maps(json_t *bindings)
{
	json_t *out = json_array(), *arr, *b;
	struct port *ps;
	const char *k;
	size_t n = 0, i, j;

	json_object_foreach(bindings, k, arr)
		n += json_array_size(arr);
	if (n == 0 || (ps = calloc(n, sizeof(*ps))) == NULL)
		return out;
	n = 0;
	json_object_foreach(bindings, k, arr) {
		const char *slash = strchr(k, '/');

		json_array_foreach(arr, j, b) {
			struct port *p = &ps[n];

			p->internal = atol(k);
			p->external =
				atol(json_string_value(json_object_get(b, "HostPort")) ?: "0");
			if (p->external == 0)
				p->external = p->internal;
			snprintf(p->host, sizeof(p->host), "%s",
				 json_string_value(json_object_get(b, "HostIp")) ?: "");
			snprintf(p->proto, sizeof(p->proto), "%s", slash ? slash + 1 : "tcp");
			n++;
		}
	}
	qsort(ps, n, sizeof(*ps), port_cmp);
	for (i = 0; i < n; i = j) {
		for (j = i + 1;
		     j < n && ps[j].internal == ps[j - 1].internal + 1 &&
		     ps[j].external == ps[j - 1].external + 1 && !strcmp(ps[j].host, ps[i].host) &&
		     !strcmp(ps[j].proto, ps[i].proto);
		     j++)
			;
		json_array_append_new(out, json_pack("{s:{s:I, s:I, s:I, s:I, s:s, s:s}}", "ports",
						     "internalStart", (json_int_t)ps[i].internal,
						     "internalEnd", (json_int_t)ps[j - 1].internal,
						     "externalStart", (json_int_t)ps[i].external,
						     "externalEnd", (json_int_t)ps[j - 1].external,
						     "host", ps[i].host, "protocol", ps[i].proto));
	}
	free(ps);
	return out;
}

/* The engine's endpoint settings to balena's: aliases, addresses. */
static json_t *networks_object(json_t *nets)
{
	json_t *out = json_object(), *ep, *o, *v;
	const char *k;

	json_object_foreach(nets, k, ep) {
		o = json_object();
		if (json_array_size(json_object_get(ep, "Aliases")) > 0)
			json_object_set(o, "aliases", json_object_get(ep, "Aliases"));
		v = json_object_get(ep, "IPAMConfig");
		if (json_is_string(json_object_get(v, "IPv4Address")))
			json_object_set(o, "ipv4Address", json_object_get(v, "IPv4Address"));
		if (json_is_string(json_object_get(v, "IPv6Address")))
			json_object_set(o, "ipv6Address", json_object_get(v, "IPv6Address"));
		if (json_array_size(json_object_get(v, "LinkLocalIPs")) > 0)
			json_object_set(o, "linkLocalIps", json_object_get(v, "LinkLocalIPs"));
		json_object_set_new(out, k, o);
	}
	return out;
}

static json_t *ulimits_object(json_t *ulimits)
{
	json_t *out = json_object(), *u;
	size_t i;

	json_array_foreach(ulimits, i, u) {
		const char *name = json_string_value(json_object_get(u, "Name"));

		if (name != NULL)
			json_object_set_new(out, name,
					    json_pack("{s:O, s:O}", "soft",
						      json_object_get(u, "Soft"), "hard",
						      json_object_get(u, "Hard")));
	}
	return out;
}

static json_t *tmpfs_list(json_t *tmpfs)
{
	json_t *out = json_array(), *v;
	const char *k;

	json_object_foreach(tmpfs, k, v) {
		const char *opts = json_string_value(v);

		json_array_append_new(out, opts && *opts ? json_sprintf("%s:%s", k, opts)
							 : json_string(k));
	}
	return out;
}

/* The engine's healthcheck (nanoseconds) with balena's names; none is NONE. */
static json_t *healthcheck_object(json_t *hc)
{
	static const char *const keys[][2] = {{"Test", "test"},
					      {"Interval", "interval"},
					      {"Timeout", "timeout"},
					      {"StartPeriod", "startPeriod"},
					      {"StartInterval", "startInterval"},
					      {"Retries", "retries"}};
	json_t *out, *v;
	size_t i;

	if (!json_is_object(hc))
		return json_pack("{s:[s]}", "test", "NONE");
	out = json_object();
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((v = json_object_get(hc, keys[i][0])) != NULL)
			json_object_set(out, keys[i][1], v);
	return out;
}

json_t *instanced_service_config(const struct composed *c, const char *image)
{
	json_t *spec = c->spec, *host = json_object_get(spec, "HostConfig");
	json_t *labels = json_deep_copy(json_object_get(spec, "Labels")), *out, *v;
	long long nano = json_integer_value(json_object_get(host, "NanoCpus"));
	void *tmp;
	const char *k;

	if (labels == NULL)
		labels = json_object();
	json_object_foreach_safe(labels, tmp, k, v)
		if (strncmp(k, "io.balena.agentd.", 17) == 0)
			json_object_del(labels, k); /* agentd's own bookkeeping */
	out = json_object();
	json_object_set_new(out, "image", json_string(image));
	json_object_set_new(out, "running", json_boolean(c->running));
	json_object_set_new(out, "command", or_default(spec, "Cmd", json_array()));
	json_object_set_new(
		out, "restart",
		or_default(json_object_get(host, "RestartPolicy"), "Name", json_string("always")));
	json_object_set_new(out, "labels", labels);
	json_object_set_new(out, "environment", compose_env_object(json_object_get(spec, "Env")));
	json_object_set_new(out, "networkMode", or_default(host, "NetworkMode", json_string("")));
	json_object_set_new(out, "entrypoint", or_default(spec, "Entrypoint", json_array()));
	json_object_set_new(out, "stopSignal",
			    or_default(spec, "StopSignal", json_string("SIGTERM")));
	json_object_set_new(out, "workingDir", or_default(spec, "WorkingDir", json_string("")));
	json_object_set_new(out, "user", or_default(spec, "User", json_string("")));
	json_object_set_new(out, "volumes", volumes_list(spec, host));
	json_object_set_new(out, "oomKillDisable",
			    or_default(host, "OomKillDisable", json_false()));
	json_object_set_new(out, "readOnly", or_default(host, "ReadonlyRootfs", json_false()));
	json_object_set_new(out, "sysctls", or_default(host, "Sysctls", json_object()));
	json_object_set_new(out, "portMaps", port_maps(json_object_get(host, "PortBindings")));
	json_object_set_new(out, "capAdd", or_default(host, "CapAdd", json_array()));
	json_object_set_new(out, "capDrop", or_default(host, "CapDrop", json_array()));
	json_object_set_new(out, "cgroupParent", or_default(host, "CgroupParent", json_string("")));
	json_object_set_new(out, "devices", or_default(host, "Devices", json_array()));
	json_object_set_new(out, "deviceRequests",
			    or_default(host, "DeviceRequests", json_array()));
	json_object_set_new(out, "dnsOpt", or_default(host, "DnsOptions", json_array()));
	json_object_set_new(out, "extraHosts", or_default(host, "ExtraHosts", json_array()));
	json_object_set_new(out, "networks", networks_object(c->networks));
	json_object_set_new(out, "dns", or_default(host, "Dns", json_array()));
	json_object_set_new(out, "dnsSearch", or_default(host, "DnsSearch", json_array()));
	json_object_set_new(out, "ulimits", ulimits_object(json_object_get(host, "Ulimits")));
	json_object_set_new(out, "groupAdd", or_default(host, "GroupAdd", json_array()));
	json_object_set_new(out, "healthcheck",
			    healthcheck_object(json_object_get(spec, "Healthcheck")));
	json_object_set_new(out, "pid", or_default(host, "PidMode", json_string("")));
	json_object_set_new(out, "pidsLimit", or_default(host, "PidsLimit", json_integer(0)));
	json_object_set_new(out, "securityOpt", or_default(host, "SecurityOpt", json_array()));
	json_object_set_new(out, "stopGracePeriod",
			    or_default(spec, "StopTimeout", json_integer(10)));
	json_object_set_new(out, "tmpfs", tmpfs_list(json_object_get(host, "Tmpfs")));
	json_object_set_new(out, "usernsMode", or_default(host, "UsernsMode", json_string("")));
	json_object_set_new(out, "cpuShares", or_default(host, "CpuShares", json_integer(0)));
	json_object_set_new(out, "cpuQuota", or_default(host, "CpuQuota", json_integer(0)));
	json_object_set_new(out, "cpus",
			    nano % 1000000000 == 0 ? json_integer(nano / 1000000000)
						   : json_real((double)nano / 1e9));
	json_object_set_new(out, "cpuset", or_default(host, "CpusetCpus", json_string("")));
	json_object_set_new(out, "domainname", or_default(spec, "Domainname", json_string("")));
	json_object_set_new(out, "ipc", or_default(host, "IpcMode", json_string("shareable")));
	json_object_set_new(out, "macAddress", or_default(spec, "MacAddress", json_string("")));
	json_object_set_new(out, "memLimit", or_default(host, "Memory", json_integer(0)));
	json_object_set_new(out, "memReservation",
			    or_default(host, "MemoryReservation", json_integer(0)));
	json_object_set_new(out, "oomScoreAdj", or_default(host, "OomScoreAdj", json_integer(0)));
	json_object_set_new(out, "privileged", or_default(host, "Privileged", json_false()));
	json_object_set_new(out, "shmSize", or_default(host, "ShmSize", json_integer(67108864)));
	json_object_set_new(out, "hostname", or_default(spec, "Hostname", json_string("")));
	json_object_set_new(out, "tty", or_default(spec, "Tty", json_true()));
	if (json_is_boolean(json_object_get(host, "Init")))
		json_object_set(out, "init", json_object_get(host, "Init"));
	return out;
}

/* Labels without the ones every supervised object has, and without agentd's. */
static json_t *own_labels(json_t *labels)
{
	json_t *out = json_deep_copy(labels), *v;
	void *tmp;
	const char *k;

	if (out == NULL)
		return json_object();
	json_object_foreach_safe(out, tmp, k, v)
		if (!strcmp(k, "io.balena.supervised") || !strncmp(k, "io.balena.agentd.", 17))
			json_object_del(out, k);
	return out;
}

json_t *instanced_network(int app_id, const char *app_uuid, const char *name, json_t *spec)
{
	json_t *ipam = json_object_get(spec, "IPAM"), *cfg = json_array(), *e;
	size_t i;

	json_array_foreach(json_object_get(ipam, "Config"), i, e) {
		static const char *const keys[][2] = {{"Subnet", "subnet"},
						      {"Gateway", "gateway"},
						      {"IPRange", "ipRange"},
						      {"AuxiliaryAddresses", "auxAddress"}};
		json_t *o = json_object(), *v;
		size_t k;

		for (k = 0; k < 4; k++)
			if ((v = json_object_get(e, keys[k][0])) != NULL)
				json_object_set(o, keys[k][1], v);
		json_array_append_new(cfg, o);
	}
	return json_pack(
		"{s:i, s:s, s:s, s:{s:O, s:{s:O, s:o, s:o}, s:O, s:O, s:o, s:o, s:O}}", "appId",
		app_id, "appUuid", app_uuid, "name", name, "config", "driver",
		json_object_get(spec, "Driver"), "ipam", "driver", json_object_get(ipam, "Driver"),
		"config", cfg, "options", or_default(ipam, "Options", json_object()), "enableIPv6",
		json_object_get(spec, "EnableIPv6"), "internal", json_object_get(spec, "Internal"),
		"labels", own_labels(json_object_get(spec, "Labels")), "options",
		or_default(spec, "Options", json_object()), "configOnly",
		json_object_get(spec, "ConfigOnly"));
}

json_t *instanced_volume(int app_id, const char *app_uuid, const char *name, json_t *spec)
{
	json_t *labels = json_deep_copy(json_object_get(spec, "Labels")), *v;
	void *tmp;
	const char *k;

	if (labels == NULL)
		labels = json_object();
	json_object_foreach_safe(labels, tmp, k, v)
		if (!strncmp(k, "io.balena.agentd.", 17))
			json_object_del(labels, k);
	return json_pack("{s:s, s:i, s:s, s:{s:o, s:O, s:o}}", "name", name, "appId", app_id,
			 "appUuid", app_uuid, "config", "driverOpts",
			 or_default(spec, "DriverOpts", json_object()), "driver",
			 json_object_get(spec, "Driver"), "labels", labels);
}
