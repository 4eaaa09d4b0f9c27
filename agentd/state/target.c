/*
 * target.c - validation and conversion of target states (see target.h).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "named.h"
#include "target.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Nothing in v nests deeper than `depth` more levels or has more than
 * TARGET_MAX_ENTRIES members or elements. Recursion stops at the limit. */
static int within(json_t *v, int depth, const char *what, const char *where, char *err,
		  size_t errlen)
{
	size_t i, n;
	const char *k;
	json_t *e;

	if (!json_is_object(v) && !json_is_array(v))
		return 0;
	if (depth <= 0)
		return fail(err, errlen, "%s: %s nests more than %d levels deep", where, what,
			    TARGET_MAX_DEPTH);
	n = json_is_object(v) ? json_object_size(v) : json_array_size(v);
	if (n > TARGET_MAX_ENTRIES)
		return fail(err, errlen, "%s: %s has %zu entries, at most %d", where, what, n,
			    TARGET_MAX_ENTRIES);
	if (json_is_object(v)) {
		json_object_foreach(v, k, e)
			if (within(e, depth - 1, what, where, err, errlen) == -1)
				return -1;
	} else {
		json_array_foreach(v, i, e)
			if (within(e, depth - 1, what, where, err, errlen) == -1)
				return -1;
	}
	return 0;
}

/* At most `max` members in an object (or elements in an array). */
static int at_most(json_t *v, size_t max, const char *what, const char *where, char *err,
		   size_t errlen)
{
	size_t n = json_is_object(v) ? json_object_size(v) : json_array_size(v);

	if (n > max)
		return fail(err, errlen, "%s: %zu %s, at most %zu", where, n, what, max);
	return 0;
}

long long target_id(json_t *v)
{
	const char *s;
	char *end;
	long long n;

	if (json_is_integer(v))
		return json_integer_value(v) >= 0 ? json_integer_value(v) : -1;
	if (!json_is_string(v) || (s = json_string_value(v))[0] == '\0')
		return -1;
	n = strtoll(s, &end, 10);
	return *end == '\0' && n >= 0 ? n : -1;
}

/* [a-zA-Z0-9][a-zA-Z0-9_.-]* : service names as Docker accepts them */
static int docker_name(const char *s)
{
	size_t i;

	if (!isalnum((unsigned char)s[0]) || strlen(s) > 255)
		return 0;
	for (i = 1; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return 0;
	return 1;
}

/* [a-zA-Z_][a-zA-Z0-9_]* */
static int env_name(const char *s)
{
	size_t i;

	if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (i = 1; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}

/* [a-zA-Z_][a-zA-Z0-9_:]* up to 255 */
static int config_name(const char *s)
{
	size_t i;

	if (!(isalpha((unsigned char)s[0]) || s[0] == '_') || strlen(s) > 255)
		return 0;
	for (i = 1; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != ':')
			return 0;
	return 1;
}

/* Label names: printable ASCII except space, '"' and '\''. */
static int label_name(const char *s)
{
	size_t i;

	if (s[0] == '\0')
		return 0;
	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f || s[i] == '"' ||
		    s[i] == '\'')
			return 0;
	return 1;
}

/* An object of string values whose keys pass `ok`. */
static int string_map(json_t *m, int (*ok)(const char *), const char *what, const char *where,
		      char *err, size_t errlen)
{
	const char *k;
	json_t *v;

	if (m == NULL || json_is_null(m))
		return 0;
	if (!json_is_object(m))
		return fail(err, errlen, "%s: %s must be an object", where, what);
	json_object_foreach(m, k, v) {
		if (!ok(k))
			return fail(err, errlen, "%s: invalid %s name \"%s\"", where, what, k);
		if (!json_is_string(v))
			return fail(err, errlen, "%s: %s \"%s\" must be a string", where, what, k);
	}
	return 0;
}

/* Device config vars the supervisor knows (facts §5.1), without prefix. */
static const char *const config_known[] = {"SUPERVISOR_POLL_INTERVAL",
					   "SUPERVISOR_INSTANT_UPDATE_TRIGGER",
					   "SUPERVISOR_LOCAL_MODE",
					   "SUPERVISOR_CONNECTIVITY_CHECK",
					   "SUPERVISOR_LOG_CONTROL",
					   "SUPERVISOR_API_REQUEST_TIMEOUT",
					   "SUPERVISOR_DELTA",
					   "SUPERVISOR_DELTA_REQUEST_TIMEOUT",
					   "SUPERVISOR_DELTA_APPLY_TIMEOUT",
					   "SUPERVISOR_DELTA_RETRY_COUNT",
					   "SUPERVISOR_DELTA_RETRY_INTERVAL",
					   "SUPERVISOR_DELTA_VERSION",
					   "SUPERVISOR_OVERRIDE_LOCK",
					   "SUPERVISOR_PERSISTENT_LOGGING",
					   "HOST_FIREWALL_MODE",
					   "HOST_DISCOVERABILITY",
					   "SUPERVISOR_HARDWARE_METRICS",
					   "SUPERVISOR_VPN_CONTROL",
					   NULL};

/* Prefixes of the boot-config backends' variables (facts §5.2). */
static const char *const config_backends[] = {"HOST_CONFIG_",  "HOST_EXTLINUX_", "HOST_CONFIGFS_",
					      "HOST_ODMDATA_", "HOST_SPLASH_",   NULL};

static int config_kept(const char *name)
{
	int i;

	for (i = 0; config_known[i]; i++)
		if (strcmp(config_known[i], name) == 0)
			return 1;
	for (i = 0; config_backends[i]; i++)
		if (strncmp(config_backends[i], name, strlen(config_backends[i])) == 0)
			return 1;
	return 0;
}

json_t *target_config_keys(json_t *config)
{
	json_t *out = json_object(), *v;
	const char *k;
	int pass;

	/* Unprefixed first, then RESIN_, then BALENA_: later passes win. */
	for (pass = 0; pass < 3; pass++) {
		json_object_foreach(config, k, v) {
			const char *name = NULL;

			if (pass == 0 && strncmp(k, "RESIN_", 6) && strncmp(k, "BALENA_", 7))
				name = k;
			else if (pass == 1 && strncmp(k, "RESIN_", 6) == 0)
				name = k + 6;
			else if (pass == 2 && strncmp(k, "BALENA_", 7) == 0)
				name = k + 7;
			if (name == NULL || !json_is_string(v))
				continue;
			if (strcmp(name, "OVERRIDE_LOCK") == 0)
				name = "SUPERVISOR_OVERRIDE_LOCK";
			if (config_kept(name))
				json_object_set(out, name, v);
		}
	}
	return out;
}

static int check_config(json_t *config, const char *where, char *err, size_t errlen)
{
	return string_map(config, config_name, "config variable", where, err, errlen);
}

static int check_name(json_t *name, const char *where, char *err, size_t errlen)
{
	if (name == NULL || json_is_null(name))
		return 0;
	if (!json_is_string(name) || json_string_length(name) > 255 ||
	    strchr(json_string_value(name), '\n') != NULL)
		return fail(err, errlen, "%s: name must be a single-line string", where);
	return 0;
}

/* One service in internal form from its parts, validated. */
static json_t *make_service(const char *name, json_t *id, json_t *image_id, json_t *image,
			    json_t *env, json_t *labels, json_t *running, json_t *composition,
			    json_t *contract, const char *where, char *err, size_t errlen)
{
	long long sid = target_id(id), iid = target_id(image_id);
	json_t *s;

	if (!docker_name(name))
		return fail(err, errlen, "%s: invalid service name \"%s\"", where, name), NULL;
	if (sid < 0)
		return fail(err, errlen, "%s: service %s needs a numeric id", where, name), NULL;
	if (iid < 0)
		return fail(err, errlen, "%s: service %s needs a numeric image id", where, name),
		       NULL;
	if (!json_is_string(image) || json_string_length(image) == 0 ||
	    json_string_length(image) >= 512)
		return fail(err, errlen, "%s: service %s needs an image", where, name), NULL;
	if (string_map(env, env_name, "environment variable", where, err, errlen) == -1 ||
	    string_map(labels, label_name, "label", where, err, errlen) == -1)
		return NULL;
	{
		char what[320];
		const char *k;
		json_t *v;

		snprintf(what, sizeof(what), "service %s", name);
		if (at_most(env, TARGET_MAX_ENTRIES, "environment variables", what, err, errlen) ==
			    -1 ||
		    at_most(labels, TARGET_MAX_ENTRIES, "labels", what, err, errlen) == -1 ||
		    at_most(composition, TARGET_MAX_ENTRIES, "composition fields", what, err,
			    errlen) == -1 ||
		    within(contract, TARGET_MAX_DEPTH, "the contract", what, err, errlen) == -1)
			return NULL;
		if (json_is_object(composition))
			json_object_foreach(composition, k, v) {
				char field[320];

				snprintf(field, sizeof(field), "field %.64s", k);
				if (within(v, TARGET_MAX_DEPTH, field, what, err, errlen) == -1)
					return NULL;
			}
	}
	if (running != NULL && !json_is_null(running) && !json_is_boolean(running))
		return fail(err, errlen, "%s: service %s: running must be a boolean", where, name),
		       NULL;
	if (composition != NULL && !json_is_null(composition) && !json_is_object(composition))
		return fail(err, errlen, "%s: service %s: composition must be an object", where,
			    name),
		       NULL;
	s = json_pack("{s:I, s:I, s:O, s:o, s:o, s:b, s:o}", "id", (json_int_t)sid, "image_id",
		      (json_int_t)iid, "image", image, "environment",
		      json_is_object(env) ? json_deep_copy(env) : json_object(), "labels",
		      json_is_object(labels) ? json_deep_copy(labels) : json_object(), "running",
		      running == NULL || json_is_null(running) || json_is_true(running),
		      "composition",
		      json_is_object(composition) ? json_deep_copy(composition) : json_object());
	if (s != NULL && json_is_object(contract))
		json_object_set(s, "contract", contract);
	return s;
}

static json_t *object_or_empty(json_t *v, const char *what, const char *where, char *err,
			       size_t errlen)
{
	if (v == NULL || json_is_null(v))
		return json_object();
	if (!json_is_object(v))
		return fail(err, errlen, "%s: %s must be an object", where, what), NULL;
	return json_deep_copy(v);
}

/* One v3 app {id, name, class?, is_host?, releases: {commit: {id, services, ...}}}. */
/* Each network and volume config of an app makes a valid create body. */
static int check_named(json_t *app, const char *uuid, char *err, size_t errlen)
{
	char full[512], hash[17], why[400];
	const char *k;
	json_t *v, *spec;

	snprintf(why, sizeof(why), "app %.64s", uuid);
	if (at_most(json_object_get(app, "networks"), TARGET_MAX_NAMED, "networks", why, err,
		    errlen) == -1 ||
	    at_most(json_object_get(app, "volumes"), TARGET_MAX_NAMED, "volumes", why, err,
		    errlen) == -1 ||
	    within(json_object_get(app, "networks"), TARGET_MAX_DEPTH + 1, "networks", why, err,
		   errlen) == -1 ||
	    within(json_object_get(app, "volumes"), TARGET_MAX_DEPTH + 1, "volumes", why, err,
		   errlen) == -1)
		return -1;

	json_object_foreach(json_object_get(app, "networks"), k, v) {
		snprintf(full, sizeof(full), "%s_%s", uuid, k);
		if ((spec = named_network(full, v, uuid, 0, hash, why, sizeof(why))) == NULL)
			return fail(err, errlen, "Invalid target state: %s", why), -1;
		json_decref(spec);
	}
	json_object_foreach(json_object_get(app, "volumes"), k, v) {
		snprintf(full, sizeof(full), "%lld_%s",
			 (long long)json_integer_value(json_object_get(app, "id")), k);
		if ((spec = named_volume(full, v, uuid, hash, why, sizeof(why))) == NULL)
			return fail(err, errlen, "Invalid target state: %s", why), -1;
		json_decref(spec);
	}
	return 0;
}

static json_t *app_from_v3(const char *uuid, json_t *a, char *err, size_t errlen)
{
	json_t *rels, *rel = NULL, *svcs, *out, *services, *v, *vols, *nets;
	const char *commit = "", *k, *cls;
	char where[256];
	long long id;

	snprintf(where, sizeof(where), "app %.64s", uuid);
	if (!json_is_object(a))
		return fail(err, errlen, "%s: must be an object", where), NULL;
	if ((id = target_id(json_object_get(a, "id"))) < 0)
		return fail(err, errlen, "%s: needs a numeric id", where), NULL;
	if (!json_is_string(json_object_get(a, "name")))
		return fail(err, errlen, "%s: needs a name", where), NULL;
	cls = json_string_value(json_object_get(a, "class"));
	if (cls == NULL)
		cls = "fleet";
	if (strcmp(cls, "fleet") && strcmp(cls, "app") && strcmp(cls, "block"))
		return fail(err, errlen, "%s: class must be fleet, app or block", where), NULL;
	rels = json_object_get(a, "releases");
	if (rels != NULL && !json_is_object(rels))
		return fail(err, errlen, "%s: releases must be an object", where), NULL;
	/* Only the first release counts. */
	if (rels != NULL) {
		void *it = json_object_iter(rels);

		if (it != NULL) {
			commit = json_object_iter_key(it);
			rel = json_object_iter_value(it);
		}
	}
	services = json_object();
	out = json_pack("{s:I, s:O, s:s, s:b, s:s, s:I, s:o}", "id", (json_int_t)id, "name",
			json_object_get(a, "name"), "class", cls, "is_host",
			json_is_true(json_object_get(a, "is_host")), "commit", commit, "release_id",
			(json_int_t)0, "services", services);
	if (rel == NULL) {
		json_object_set_new(out, "volumes", json_object());
		json_object_set_new(out, "networks", json_object());
		return out;
	}
	if (!json_is_object(rel) || target_id(json_object_get(rel, "id")) < 0) {
		json_decref(out);
		return fail(err, errlen, "%s: release %.40s needs a numeric id", where, commit),
		       NULL;
	}
	json_object_set_new(out, "release_id", json_integer(target_id(json_object_get(rel, "id"))));
	svcs = json_object_get(rel, "services");
	if (svcs != NULL && !json_is_object(svcs)) {
		json_decref(out);
		return fail(err, errlen, "%s: services must be an object", where), NULL;
	}
	if (at_most(svcs, TARGET_MAX_SERVICES, "services", where, err, errlen) == -1) {
		json_decref(out);
		return NULL;
	}
	json_object_foreach(svcs, k, v) {
		json_t *s;

		if (!json_is_object(v)) {
			json_decref(out);
			return fail(err, errlen, "%s: service %s must be an object", where, k),
			       NULL;
		}
		s = make_service(k, json_object_get(v, "id"), json_object_get(v, "image_id"),
				 json_object_get(v, "image"), json_object_get(v, "environment"),
				 json_object_get(v, "labels"), json_object_get(v, "running"),
				 json_object_get(v, "composition"), json_object_get(v, "contract"),
				 where, err, errlen);
		if (s == NULL) {
			json_decref(out);
			return NULL;
		}
		json_object_set_new(services, k, s);
	}
	vols = object_or_empty(json_object_get(rel, "volumes"), "volumes", where, err, errlen);
	nets = object_or_empty(json_object_get(rel, "networks"), "networks", where, err, errlen);
	if (vols == NULL || nets == NULL) {
		json_decref(vols);
		json_decref(nets);
		json_decref(out);
		return NULL;
	}
	json_object_set_new(out, "volumes", vols);
	json_object_set_new(out, "networks", nets);
	if (check_named(out, uuid, err, errlen) == -1) {
		json_decref(out);
		return NULL;
	}
	return out;
}

static json_t *target_from_parts(json_t *name, json_t *config, json_t *apps, int local,
				 const char *where, char *err, size_t errlen)
{
	json_t *out, *outapps, *app, *v;
	const char *uuid;

	if (check_name(name, where, err, errlen) == -1)
		return NULL;
	if (config != NULL && !json_is_null(config) &&
	    (!json_is_object(config) || check_config(config, where, err, errlen) == -1)) {
		if (!json_is_object(config))
			fail(err, errlen, "%s: config must be an object", where);
		return NULL;
	}
	if (apps != NULL && !json_is_null(apps) && !json_is_object(apps))
		return fail(err, errlen, "%s: apps must be an object", where), NULL;
	if (at_most(apps, TARGET_MAX_APPS, "apps", where, err, errlen) == -1 ||
	    at_most(config, TARGET_MAX_ENTRIES, "config variables", where, err, errlen) == -1)
		return NULL;
	outapps = json_object();
	json_object_foreach(apps, uuid, v) {
		if ((app = app_from_v3(uuid, v, err, errlen)) == NULL) {
			json_decref(outapps);
			return NULL;
		}
		json_object_set_new(outapps, uuid, app);
	}
	out = json_pack("{s:s, s:o, s:b, s:o}", "name",
			json_is_string(name) ? json_string_value(name) : "", "config",
			json_is_object(config) ? target_config_keys(config) : json_object(),
			"local", local, "apps", outapps);
	return out;
}

json_t *target_from_v3(json_t *v3, const char *uuid, char *err, size_t errlen)
{
	json_t *dev;

	if (!json_is_object(v3))
		return fail(err, errlen, "Invalid target state: not an object"), NULL;
	dev = uuid ? json_object_get(v3, uuid) : NULL;
	if (dev == NULL)
		return fail(err, errlen, "Expected target state for local device with uuid '%s'.",
			    uuid ? uuid : ""),
		       NULL;
	if (!json_is_object(dev))
		return fail(err, errlen, "Invalid target state: device entry is not an object"),
		       NULL;
	return target_from_parts(json_object_get(dev, "name"), json_object_get(dev, "config"),
				 json_object_get(dev, "apps"), 0, "target state", err, errlen);
}

json_t *target_from_preload(json_t *preload, char *err, size_t errlen)
{
	if (!json_is_object(preload))
		return fail(err, errlen, "apps.json: not an object"), NULL;
	return target_from_parts(NULL, json_object_get(preload, "config"),
				 json_object_get(preload, "apps"), 0, "apps.json", err, errlen);
}

/* Keys of a v2 service that are not composition fields. */
static int v2_service_key(const char *k)
{
	static const char *const keys[] = {"serviceName", "imageId", "image",     "environment",
					   "labels",      "running", "serviceId", "contract",
					   "releaseId",   "commit",  "appId",     NULL};
	int i;

	for (i = 0; keys[i]; i++)
		if (strcmp(k, keys[i]) == 0)
			return 1;
	return 0;
}

/* One v2 service {serviceName, imageId, image, ..., compose fields}; `key` is
 * its key in the services object (the service id when serviceId is absent). */
static json_t *service_from_v2(const char *key, json_t *v, const char *where, char *err,
			       size_t errlen)
{
	json_t *comp, *cv, *s, *keyid = NULL, *id;
	const char *name, *ck;

	if (!json_is_object(v) ||
	    (name = json_string_value(json_object_get(v, "serviceName"))) == NULL)
		return fail(err, errlen, "%s: service %s needs a serviceName", where, key), NULL;
	comp = json_object();
	json_object_foreach(v, ck, cv) {
		if (!v2_service_key(ck))
			json_object_set(comp, ck, cv);
	}
	id = json_object_get(v, "serviceId");
	if (id == NULL)
		id = keyid = json_string(key);
	s = make_service(name, id, json_object_get(v, "imageId"), json_object_get(v, "image"),
			 json_object_get(v, "environment"), json_object_get(v, "labels"),
			 json_object_get(v, "running"), comp, json_object_get(v, "contract"), where,
			 err, errlen);
	json_decref(comp);
	json_decref(keyid);
	return s;
}

static json_t *copy_object(json_t *v)
{
	return json_is_object(v) ? json_deep_copy(v) : json_object();
}

json_t *target_from_v2_local(json_t *v2, char *err, size_t errlen)
{
	json_t *local, *apps, *outapps, *a, *v, *out;
	const char *appid, *key;

	if (!json_is_object(v2) || !json_is_object(local = json_object_get(v2, "local")))
		return fail(err, errlen, "Invalid target state: expected {\"local\": {...}}"), NULL;
	apps = json_object_get(local, "apps");
	if (apps != NULL && !json_is_null(apps) && !json_is_object(apps))
		return fail(err, errlen, "Invalid target state: apps must be an object"), NULL;
	if (at_most(apps, TARGET_MAX_APPS, "apps", "Invalid target state", err, errlen) == -1)
		return NULL;
	outapps = json_object();
	json_object_foreach(apps, appid, a) {
		json_t *services, *svcs, *name, *commit;
		long long id, rel;
		char where[96], *end;

		snprintf(where, sizeof(where), "app %.40s", appid);
		id = strtoll(appid, &end, 10);
		if (*end != '\0' || id < 0 || appid[0] == '\0') {
			fail(err, errlen, "%s: app ids must be numeric", where);
			goto bad;
		}
		if (!json_is_object(a)) {
			fail(err, errlen, "%s: must be an object", where);
			goto bad;
		}
		svcs = json_object_get(a, "services");
		if (svcs != NULL && !json_is_null(svcs) && !json_is_object(svcs)) {
			fail(err, errlen, "%s: services must be an object", where);
			goto bad;
		}
		if (at_most(svcs, TARGET_MAX_SERVICES, "services", where, err, errlen) == -1)
			goto bad;
		services = json_object();
		json_object_foreach(svcs, key, v) {
			json_t *s = service_from_v2(key, v, where, err, errlen);

			if (s == NULL) {
				json_decref(services);
				goto bad;
			}
			json_object_set_new(
				services, json_string_value(json_object_get(v, "serviceName")), s);
		}
		name = json_object_get(a, "name");
		commit = json_object_get(a, "commit");
		rel = target_id(json_object_get(a, "releaseId"));
		/* In local mode the app id doubles as the app's uuid. */
		json_object_set_new(
			outapps, appid,
			json_pack("{s:I, s:s, s:s, s:b, s:s, s:I, s:o, s:o, s:o}", "id",
				  (json_int_t)id, "name",
				  json_is_string(name) ? json_string_value(name) : "localapp",
				  "class", "fleet", "is_host", 0, "commit",
				  json_is_string(commit) ? json_string_value(commit) : "",
				  "release_id", (json_int_t)(rel < 0 ? 1 : rel), "services",
				  services, "volumes", copy_object(json_object_get(a, "volumes")),
				  "networks", copy_object(json_object_get(a, "networks"))));
		if (check_named(json_object_get(outapps, appid), appid, err, errlen) == -1)
			goto bad;
	}
	out = target_from_parts(json_object_get(local, "name"), json_object_get(local, "config"),
				NULL, 1, "target state", err, errlen);
	if (out == NULL)
		goto bad;
	json_object_set_new(out, "apps", outapps);
	return out;
bad:
	json_decref(outapps);
	return NULL;
}

/* Typed device config vars (facts §5.1): type and default. */
static const struct {
	const char *name;
	char type; /* 'i' int, 'b' bool, 'f' firewall mode */
	const char *def;
} config_types[] = {
	{"SUPERVISOR_POLL_INTERVAL", 'i', "900000"},
	{"SUPERVISOR_INSTANT_UPDATE_TRIGGER", 'b', "true"},
	{"SUPERVISOR_LOCAL_MODE", 'b', "false"},
	{"SUPERVISOR_CONNECTIVITY_CHECK", 'b', "true"},
	{"SUPERVISOR_LOG_CONTROL", 'b', "true"},
	{"SUPERVISOR_API_REQUEST_TIMEOUT", 'i', "59000"},
	{"SUPERVISOR_DELTA", 'b', "false"},
	{"SUPERVISOR_DELTA_REQUEST_TIMEOUT", 'i', "59000"},
	{"SUPERVISOR_DELTA_APPLY_TIMEOUT", 'i', "0"},
	{"SUPERVISOR_DELTA_RETRY_COUNT", 'i', "30"},
	{"SUPERVISOR_DELTA_RETRY_INTERVAL", 'i', "10000"},
	{"SUPERVISOR_DELTA_VERSION", 'i', "2"},
	{"SUPERVISOR_OVERRIDE_LOCK", 'b', "false"},
	{"SUPERVISOR_PERSISTENT_LOGGING", 'b', "false"},
	{"HOST_FIREWALL_MODE", 'f', "off"},
	{"HOST_DISCOVERABILITY", 'b', "true"},
	{"SUPERVISOR_HARDWARE_METRICS", 'b', "true"},
	{"SUPERVISOR_VPN_CONTROL", 'b', "true"},
};

/* checkInt: /^-?[0-9]+\.?0*$/ */
static int config_int_ok(const char *s)
{
	if (*s == '-')
		s++;
	if (!isdigit((unsigned char)*s))
		return 0;
	while (isdigit((unsigned char)*s))
		s++;
	if (*s == '.')
		for (s++; *s == '0'; s++)
			;
	return *s == '\0';
}

static int config_bool_ok(const char *s)
{
	static const char *const words[] = {"1", "true", "on", "0", "false", "off", NULL};
	int i;

	for (i = 0; words[i]; i++)
		if (strcasecmp(s, words[i]) == 0)
			return 1;
	return 0;
}

int target_config_check(json_t *config, json_t *warnings)
{
	size_t i;
	int fixed = 0;

	for (i = 0; i < sizeof(config_types) / sizeof(config_types[0]); i++) {
		const char *v = json_string_value(json_object_get(config, config_types[i].name));
		int ok;

		if (v == NULL)
			continue;
		switch (config_types[i].type) {
		case 'i':
			ok = config_int_ok(v);
			break;
		case 'b':
			ok = config_bool_ok(v);
			break;
		default:
			ok = !strcmp(v, "on") || !strcmp(v, "off") || !strcmp(v, "auto");
			break;
		}
		if (ok)
			continue;
		if (warnings != NULL)
			json_array_append_new(
				warnings,
				json_sprintf("Warning: Ignoring invalid device configuration value "
					     "for %s, value: %s. Falling back to default (%s)",
					     config_types[i].name, v, config_types[i].def));
		json_object_set_new(config, config_types[i].name, json_string(config_types[i].def));
		fixed++;
	}
	return fixed;
}

int target_is_supervisor_app(const char *uuid)
{
	/* balena's supervisor fleets, one per architecture */
	static const char *const uuids[] = {"52e35121417640b1b28a680504e4039b", /* amd64 */
					    "900de4f3cbac4b9bbd232885a35e407b", /* aarch64 */
					    "2e66a95795c149959c69472a8c2f92b8", /* armv7hf */
					    "531b357e155c480cbec0fdd33041a1f5", /* i386 */
					    "6822565f766e413e96d9bebe2227cdcc", /* rpi */
					    NULL};
	int i;

	for (i = 0; uuid != NULL && uuids[i] != NULL; i++)
		if (strcmp(uuid, uuids[i]) == 0)
			return 1;
	return 0;
}
