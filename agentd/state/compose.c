/*
 * compose.c - a target service to a container create body (see compose.h).
 *
 * Follows the balena supervisor (facts §1.4, §2.2, §4.4): compose keys are
 * snake_case; unsupported keys are ignored with one warning; bind mounts are
 * dropped with a warning; every container gets the balena labels, env vars and
 * the lock-dir mounts. Anything whose type cannot be normalised is an error
 * naming the field. The output is deterministic (Env sorted, ulimits sorted)
 * so that equal targets hash equally.
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compose.h"
#include "jsonx.h"

#define NS_PER_SEC       1000000000LL
#define LOCK_PATH        "/tmp/balena/updates.lock"
#define HANDOVER_PATH    "/tmp/balena/handover-complete"
#define CONTAINER_SOCKET "/host/run/balena-engine.sock"

/* Everything one compose_service call works on. */
struct build {
	const struct compose_ctx *ctx;
	json_t *svc;
	json_t *comp;   /* the composition (owned ref; an empty object when absent) */
	json_t *spec;   /* the body being built (owned) */
	json_t *host;   /* spec.HostConfig (borrowed) */
	json_t *labels; /* the container's labels (owned) */
	struct composed *out;
	char *err;
	size_t errlen;
	int host_net; /* network_mode: host */
};

static int fail(struct build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct build *b, const char *fmt, ...)
{
	va_list ap;

	if (b->errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->err, b->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static void warn(struct build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn(struct build *b, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n >= 0) {
		json_array_append_new(b->out->warnings, json_string(msg));
		free(msg);
	}
}

/* A composition field; JSON null (an empty YAML value) counts as absent. */
static json_t *field(struct build *b, const char *name)
{
	json_t *v = json_object_get(b->comp, name);

	return json_is_null(v) ? NULL : v;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of an object, sorted; NULL-terminated, free() the array. */
static const char **sorted_keys(json_t *obj)
{
	const char **keys = calloc(json_object_size(obj) + 1, sizeof(*keys)), *k;
	size_t n = 0;
	json_t *v;

	if (keys == NULL)
		return NULL;
	json_object_foreach(obj, k, v)
		keys[n++] = k;
	qsort(keys, n, sizeof(*keys), cmp_str);
	return keys;
}

static void append_unique(json_t *arr, const char *s)
{
	if (!jsonx_has_string(arr, s))
		json_array_append_new(arr, json_string(s));
}

/* checkTruthy: true, 1, "1", "true", "on" */
static int truthy(json_t *v)
{
	const char *s = json_string_value(v);

	if (json_is_true(v) || (json_is_integer(v) && json_integer_value(v) == 1))
		return 1;
	return s && (!strcmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "on"));
}

static int feature(struct build *b, const char *name)
{
	char key[96];

	snprintf(key, sizeof(key), "io.balena.features.%s", name);
	return truthy(json_object_get(b->labels, key));
}

/* --- Names, references, hash ------------------------------------------ */

void compose_image_normalise(const char *in, char *out, size_t len)
{
	const char *at, *slash, *name, *colon;

	if (len == 0)
		return;
	if (in == NULL) {
		out[0] = '\0';
		return;
	}
	at = strchr(in, '@');
	slash = strrchr(in, '/');
	if (at != NULL) {
		/* repo[:tag]@digest -> repo@digest; a registry's ":port" is before the last '/' */
		if (slash != NULL && slash > at)
			slash = NULL;
		name = slash ? slash + 1 : in;
		colon = memchr(name, ':', (size_t)(at - name));
		if (colon != NULL)
			snprintf(out, len, "%.*s%s", (int)(colon - in), in, at);
		else
			snprintf(out, len, "%s", in);
		return;
	}
	colon = strchr(slash ? slash + 1 : in, ':');
	snprintf(out, len, "%s%s", in, colon ? "" : ":latest");
}

void compose_container_name(const struct compose_ctx *ctx, char *buf, size_t len)
{
	snprintf(buf, len, "%s_%d_%d_%s", ctx->service_name ? ctx->service_name : "", ctx->image_id,
		 ctx->release_id, ctx->commit ? ctx->commit : "");
}

/* A run of n (1..9) decimal digits as an int; -1 if it is not one. */
static int digits_int(const char *s, size_t n, int *v)
{
	size_t i;

	if (n == 0 || n > 9)
		return -1;
	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

static int name_parts(const char *name, const char *sep, const char *img, size_t ni,
		      const char *rel, size_t nr, const char *commit, char *service, size_t slen,
		      int *image_id, int *release_id, char *cbuf, size_t clen)
{
	int a, r;

	if (sep == name || digits_int(img, ni, &a) == -1 || digits_int(rel, nr, &r) == -1)
		return -1;
	snprintf(service, slen, "%.*s", (int)(sep - name), name);
	snprintf(cbuf, clen, "%s", commit);
	*image_id = a;
	*release_id = r;
	return 0;
}

int compose_parse_name(const char *name, char *service, size_t slen, int *image_id, int *release_id,
		       char *commit, size_t clen)
{
	const char *u0, *u1, *u2, *p;
	size_t len;

	if (name == NULL)
		return -1;
	if (name[0] == '/')
		name++;
	len = strlen(name);
	/*
	 * Our own names first: <service>_<imageId>_<releaseId>_<commit>, the
	 * commit holding no '_'. This wins over the regex's rightmost match so
	 * that an all-digit commit ("svc_1_2_3") still round-trips.
	 */
	u0 = strrchr(name, '_');
	u1 = u0 ? memrchr(name, '_', (size_t)(u0 - name)) : NULL;
	u2 = u1 ? memrchr(name, '_', (size_t)(u1 - name)) : NULL;
	if (u2 != NULL &&
	    name_parts(name, u2, u2 + 1, (size_t)(u1 - u2 - 1), u1 + 1, (size_t)(u0 - u1 - 1),
		       u0 + 1, service, slen, image_id, release_id, commit, clen) == 0)
		return 0;
	/* Else the regex: the rightmost "_N_N" that ends the name or is followed by '_'. */
	for (p = name + len; p-- > name;) {
		const char *a = p + 1, *r, *e;

		if (*p != '_')
			continue;
		for (r = a; isdigit((unsigned char)*r); r++)
			;
		if (r == a || *r != '_')
			continue;
		for (e = ++r; isdigit((unsigned char)*e); e++)
			;
		if (e == r || (*e != '\0' && *e != '_'))
			continue;
		if (name_parts(name, p, a, (size_t)(r - 1 - a), r, (size_t)(e - r), *e ? e + 1 : "",
			       service, slen, image_id, release_id, commit, clen) == 0)
			return 0;
	}
	return -1;
}

void compose_hash(json_t *spec, char out[17])
{
	char *text =
		spec ? json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)(text ? text : ""); *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	free(text);
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* --- Value parsers ----------------------------------------------------- */

/* /^([0-9]+)([bkmg]?)b?$/i, powers of 1024, or a plain integer; -1 if neither */
static long long parse_size(json_t *v)
{
	const char *s = json_string_value(v), *p;
	long long n = 0, mul = 1;

	if (json_is_integer(v))
		return json_integer_value(v) < 0 ? -1 : json_integer_value(v);
	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	for (p = s; isdigit((unsigned char)*p); p++) {
		if (n > (LLONG_MAX - 9) / 10)
			return -1;
		n = n * 10 + (*p - '0');
	}
	switch (tolower((unsigned char)*p)) {
	case 'g':
		mul = 1024LL * 1024 * 1024;
		p++;
		break;
	case 'm':
		mul = 1024LL * 1024;
		p++;
		break;
	case 'k':
		mul = 1024;
		p++;
		break;
	case 'b':
		p++;
		break;
	default:
		break;
	}
	if (tolower((unsigned char)*p) == 'b')
		p++;
	if (*p != '\0' || n > LLONG_MAX / mul)
		return -1;
	return n * mul;
}

/*
 * A duration as nanoseconds: Go/compose syntax ("1m30s", "1.5s", "500ms",
 * "2h"), an integer (seconds) or a bare number string (seconds); -1 if none.
 */
static long long parse_duration_ns(json_t *v)
{
	const char *s = json_string_value(v);
	double total = 0;
	char *end;

	if (json_is_integer(v))
		return json_integer_value(v) < 0 ? -1 : json_integer_value(v) * NS_PER_SEC;
	if (s == NULL || (!isdigit((unsigned char)*s) && *s != '.'))
		return -1;
	total = strtod(s, &end) * (double)NS_PER_SEC;
	if (end != s && *end == '\0')
		return total < 9e18 ? (long long)(total + 0.5) : -1;
	total = 0;
	while (*s) {
		static const struct {
			const char *unit;
			double ns;
		} units[] = {{"ns", 1},  {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6},
			     {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
		double n;
		size_t i;

		if (!isdigit((unsigned char)*s) && *s != '.')
			return -1;
		n = strtod(s, &end);
		if (end == s)
			return -1;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (!strncmp(end, units[i].unit, strlen(units[i].unit)))
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return -1;
		total += n * units[i].ns;
		s = end + strlen(units[i].unit);
	}
	return total < 9e18 ? (long long)(total + 0.5) : -1;
}

/*
 * Split a command line the way a POSIX shell would, without expansions:
 * words split on blanks, '...' literal, "..." with \" \\ \$ \` escapes,
 * a backslash outside quotes escapes the next character. "$VAR" stays
 * literal (the shell in the container expands it, if any). An unterminated
 * quote runs to the end of the string.
 */
static json_t *shell_split(const char *s)
{
	json_t *words = json_array();
	char *word = malloc(strlen(s) + 1);
	size_t n = 0;
	int in_word = 0, q = 0;

	if (word == NULL)
		return words;
	for (; *s; s++) {
		if (q == '\'') {
			if (*s == '\'')
				q = 0;
			else
				word[n++] = *s;
		} else if (q == '"') {
			if (*s == '"')
				q = 0;
			else if (*s == '\\' && s[1] && strchr("\"\\$`", s[1]))
				word[n++] = *++s;
			else
				word[n++] = *s;
		} else if (*s == '\'' || *s == '"') {
			q = *s;
			in_word = 1;
		} else if (*s == '\\' && s[1]) {
			word[n++] = *++s;
			in_word = 1;
		} else if (*s == ' ' || *s == '\t' || *s == '\n') {
			if (in_word) {
				word[n] = '\0';
				json_array_append_new(words, json_string(word));
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
		json_array_append_new(words, json_string(word));
	}
	free(word);
	return words;
}

/*
 * A string or a list of strings as a new array (numbers in the list made
 * strings when numbers_ok, as YAML gives "group_add: [20]"); NULL and err set
 * on any other type.
 */
static json_t *str_list(struct build *b, const char *name, json_t *v, int numbers_ok)
{
	json_t *arr, *e;
	size_t i;

	if (json_is_string(v))
		return json_pack("[O]", v);
	if (!json_is_array(v))
		return fail(b, "%s must be a string or a list of strings", name), NULL;
	arr = json_array();
	json_array_foreach(v, i, e) {
		if (json_is_string(e)) {
			json_array_append(arr, e);
		} else if (numbers_ok && json_is_integer(e)) {
			json_array_append_new(
				arr, json_sprintf("%" JSON_INTEGER_FORMAT, json_integer_value(e)));
		} else {
			json_decref(arr);
			return fail(b, "%s must be a string or a list of strings", name), NULL;
		}
	}
	return arr;
}

/*
 * A "K=V" mapping given as an object of strings or as a list of "K=V"
 * strings, into obj (existing keys replaced). Numbers are taken as strings
 * only when numbers_ok. -1 and err on anything else.
 */
static int kv_into(struct build *b, const char *name, json_t *v, json_t *obj, int numbers_ok)
{
	const char *k;
	json_t *e;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, k, e) {
			if (*k == '\0' || strchr(k, '='))
				return fail(b, "%s: invalid name \"%s\"", name, k);
			if (json_is_string(e))
				json_object_set(obj, k, e);
			else if (numbers_ok && json_is_integer(e))
				json_object_set_new(obj, k,
						    json_sprintf("%" JSON_INTEGER_FORMAT,
								 json_integer_value(e)));
			else
				return fail(b, "%s: value of %s is not a string", name, k);
		}
		return 0;
	}
	if (!json_is_array(v))
		return fail(b, "%s must be an object or a list of \"key=value\"", name);
	json_array_foreach(v, i, e) {
		const char *s = json_string_value(e), *eq = s ? strchr(s, '=') : NULL;
		char *key;

		if (eq == NULL || eq == s)
			return fail(b, "%s: expected \"key=value\", got %s", name,
				    s ? s : "a non-string");
		key = strndup(s, (size_t)(eq - s));
		if (key == NULL)
			return fail(b, "%s: out of memory", name);
		json_object_set_new(obj, key, json_string(eq + 1));
		free(key);
	}
	return 0;
}

/* --- Labels and environment ------------------------------------------ */

/* "io.resin.x" -> "io.balena.x" */
static void set_label(json_t *labels, const char *k, json_t *v, int only_if_absent)
{
	char *nk = NULL;

	if (strncmp(k, "io.resin.", 9) == 0 && asprintf(&nk, "io.balena.%s", k + 9) >= 0)
		k = nk;
	if (!only_if_absent || json_object_get(labels, k) == NULL)
		json_object_set(labels, k, v);
	free(nk);
}

static int compose_labels(struct build *b)
{
	const struct compose_ctx *ctx = b->ctx;
	json_t *user = json_object(), *src, *v;
	const char *k;

	src = json_object_get(b->svc, "labels");
	if (src == NULL || json_is_null(src))
		src = field(b, "labels");
	if (src != NULL && kv_into(b, "labels", src, user, 0) == -1) {
		json_decref(user);
		return -1;
	}
	b->labels = json_object();
	json_object_foreach(user, k, v)
		set_label(b->labels, k, v, 0);
	json_decref(user);
	json_object_foreach(json_object_get(ctx->image_config, "Labels"), k, v)
		if (json_is_string(v))
			set_label(b->labels, k, v, 1);
	json_object_set_new(b->labels, "io.balena.supervised", json_string("true"));
	json_object_set_new(b->labels, "io.balena.app-id", json_sprintf("%d", ctx->app_id));
	json_object_set_new(b->labels, "io.balena.app-uuid",
			    json_string(ctx->app_uuid ? ctx->app_uuid : ""));
	json_object_set_new(b->labels, "io.balena.service-id", json_sprintf("%d", ctx->service_id));
	json_object_set_new(b->labels, "io.balena.service-name",
			    json_string(ctx->service_name ? ctx->service_name : ""));
	return 0;
}

/* BALENA_<name> and RESIN_<name> */
static void env_both(json_t *env, const char *name, const char *value)
{
	char key[128];

	snprintf(key, sizeof(key), "BALENA_%s", name);
	json_object_set_new(env, key, json_string(value ? value : ""));
	snprintf(key, sizeof(key), "RESIN_%s", name);
	json_object_set_new(env, key, json_string(value ? value : ""));
}

static void env_defaults(struct build *b, json_t *env)
{
	const struct compose_ctx *ctx = b->ctx;
	char num[32];

	snprintf(num, sizeof(num), "%d", ctx->app_id);
	env_both(env, "APP_ID", num);
	env_both(env, "APP_UUID", ctx->app_uuid);
	env_both(env, "APP_NAME", ctx->app_name);
	env_both(env, "SERVICE_NAME", ctx->service_name);
	env_both(env, "DEVICE_UUID", ctx->device_uuid);
	env_both(env, "DEVICE_TYPE", ctx->device_type);
	env_both(env, "DEVICE_ARCH", ctx->device_arch);
	env_both(env, "HOST_OS_VERSION", ctx->host_os_version);
	env_both(env, "APP_LOCK_PATH", LOCK_PATH);
	json_object_set_new(env, "BALENA", json_string("1"));
	json_object_set_new(env, "RESIN", json_string("1"));
	json_object_set_new(env, "RESIN_SERVICE_KILL_ME_PATH", json_string(HANDOVER_PATH));
	json_object_set_new(env, "BALENA_SERVICE_HANDOVER_COMPLETE_PATH",
			    json_string(HANDOVER_PATH));
	json_object_set_new(env, "USER", json_string("root"));
	if (feature(b, "supervisor-api")) {
		const char *host = b->host_net ? "127.0.0.1" : ctx->api_host;
		char addr[300];

		if (host == NULL)
			host = "127.0.0.1";
		env_both(env, "SUPERVISOR_API_KEY", ctx->api_key);
		snprintf(num, sizeof(num), "%d", ctx->api_port);
		env_both(env, "SUPERVISOR_PORT", num);
		env_both(env, "SUPERVISOR_HOST", host);
		snprintf(addr, sizeof(addr), "http://%s:%d", host, ctx->api_port);
		env_both(env, "SUPERVISOR_ADDRESS", addr);
	}
	if (feature(b, "balena-api")) {
		env_both(env, "API_KEY", ctx->device_api_key);
		env_both(env, "API_URL", ctx->api_endpoint);
	}
}

static int compose_env(struct build *b)
{
	json_t *env = json_object(), *src, *v, *arr;
	const char **keys;
	size_t i;

	env_defaults(b, env);
	/* The user's environment overrides the defaults... */
	src = json_object_get(b->svc, "environment");
	if (src == NULL || json_is_null(src))
		src = field(b, "environment");
	if (src != NULL && kv_into(b, "environment", src, env, 0) == -1) {
		json_decref(env);
		return -1;
	}
	if (feature(b, "balena-socket") && json_object_get(env, "DOCKER_HOST") == NULL)
		json_object_set_new(env, "DOCKER_HOST", json_string("unix://" CONTAINER_SOCKET));
	/* ...and the image's fills the gaps. */
	json_array_foreach(json_object_get(b->ctx->image_config, "Env"), i, v) {
		const char *e = json_string_value(v), *eq = e ? strchr(e, '=') : NULL;
		char *key;

		if (eq == NULL || eq == e || (key = strndup(e, (size_t)(eq - e))) == NULL)
			continue;
		if (json_object_get(env, key) == NULL)
			json_object_set_new(env, key, json_string(eq + 1));
		free(key);
	}
	/* As "K=V" sorted by key, so that equal environments compose equally. */
	arr = json_array();
	keys = sorted_keys(env);
	for (i = 0; keys && keys[i]; i++)
		json_array_append_new(
			arr, json_sprintf("%s=%s", keys[i],
					  json_string_value(json_object_get(env, keys[i]))));
	free(keys);
	json_decref(env);
	json_object_set_new(b->spec, "Env", arr);
	return 0;
}

/* --- Volumes ----------------------------------------------------------- */

static int is_bind_source(const char *s)
{
	return s[0] == '/' || s[0] == '.' || s[0] == '~';
}

/* Short syntax: "/anon", "name:/path[:mode]"; bind mounts are dropped. */
static void volume_short(struct build *b, const char *s, json_t *binds, json_t *anon)
{
	const char *colon = strchr(s, ':'), *start = s, *end;

	if (colon == NULL) {
		if (s[0] == '/')
			json_object_set_new(anon, s, json_object());
		else
			warn(b, "Ignoring invalid volume %s", s);
		return;
	}
	while (*start == ' ')
		start++;
	for (end = colon; end > start && end[-1] == ' '; end--)
		;
	if (end == start || is_bind_source(start)) {
		warn(b, "Ignoring invalid bind mount %s", s);
		return;
	}
	json_array_append_new(
		binds, json_sprintf("%d_%.*s%s", b->ctx->app_id, (int)(end - start), start, colon));
	{
		json_t *name = json_sprintf("%d_%.*s", b->ctx->app_id, (int)(end - start), start);

		append_unique(b->out->volumes, json_string_value(name));
		json_decref(name);
	}
}

/* Long syntax: {type: volume|tmpfs|bind, source, target, read_only, tmpfs.size}. */
static int volume_long(struct build *b, json_t *v, json_t *mounts, json_t *anon)
{
	json_t *t = json_object_get(v, "type");
	const char *type = json_is_string(t) ? json_string_value(t) : "volume";
	const char *src = json_string_value(json_object_get(v, "source"));
	const char *dst = json_string_value(json_object_get(v, "target"));
	json_t *m;

	if (t != NULL && !json_is_string(t))
		return fail(b, "volumes: type must be a string");
	if (dst == NULL || dst[0] == '\0')
		return fail(b, "volumes: long syntax needs a target");
	if (!strcmp(type, "tmpfs")) {
		long long size = -1;

		m = json_pack("{s:s, s:s}", "Type", "tmpfs", "Target", dst);
		if (json_object_get(json_object_get(v, "tmpfs"), "size") != NULL &&
		    (size = parse_size(json_object_get(json_object_get(v, "tmpfs"), "size"))) < 0) {
			json_decref(m);
			return fail(b, "volumes: invalid tmpfs size for %s", dst);
		}
		if (size >= 0)
			json_object_set_new(m, "TmpfsOptions",
					    json_pack("{s:I}", "SizeBytes", (json_int_t)size));
		json_array_append_new(mounts, m);
	} else if (!strcmp(type, "volume")) {
		char *name = NULL;

		if (src == NULL || src[0] == '\0') {
			json_object_set_new(anon, dst, json_object());
			return 0;
		}
		if (is_bind_source(src)) {
			warn(b, "Ignoring invalid bind mount %s:%s", src, dst);
			return 0;
		}
		if (asprintf(&name, "%d_%s", b->ctx->app_id, src) < 0)
			return fail(b, "volumes: out of memory");
		append_unique(b->out->volumes, name);
		m = json_pack("{s:s, s:s, s:s, s:b}", "Type", "volume", "Source", name, "Target",
			      dst, "ReadOnly", json_is_true(json_object_get(v, "read_only")));
		if (json_is_true(json_object_get(json_object_get(v, "volume"), "nocopy")))
			json_object_set_new(m, "VolumeOptions", json_pack("{s:b}", "NoCopy", 1));
		json_array_append_new(mounts, m);
		free(name);
	} else if (!strcmp(type, "bind")) {
		warn(b, "Ignoring invalid bind mount %s:%s", src ? src : "", dst);
	} else {
		warn(b, "Ignoring unsupported volume type %s for %s", type, dst);
	}
	return 0;
}

static void feature_binds(struct build *b, json_t *binds)
{
	const struct compose_ctx *ctx = b->ctx;

	if (feature(b, "journal-logs")) {
		json_array_append_new(binds, json_string("/var/log/journal:/var/log/journal:ro"));
		json_array_append_new(binds, json_string("/run/log/journal:/run/log/journal:ro"));
		json_array_append_new(binds, json_string("/etc/machine-id:/etc/machine-id:ro"));
	}
	if (feature(b, "dbus"))
		json_array_append_new(binds, json_string("/run/dbus:/host/run/dbus"));
	if (feature(b, "kernel-modules") && ctx->host_has_lib_modules)
		json_array_append_new(binds, json_string("/lib/modules:/lib/modules"));
	if (feature(b, "firmware") && ctx->host_has_lib_firmware)
		json_array_append_new(binds, json_string("/lib/firmware:/lib/firmware"));
	if (feature(b, "balena-socket") && ctx->engine_socket) {
		json_array_append_new(binds,
				      json_sprintf("%s:" CONTAINER_SOCKET, ctx->engine_socket));
		json_array_append_new(
			binds, json_sprintf("%s:/var/run/balena-engine.sock", ctx->engine_socket));
		json_array_append_new(binds,
				      json_sprintf("%s:/var/run/balena.sock", ctx->engine_socket));
	}
	if (feature(b, "sysfs"))
		json_array_append_new(binds, json_string("/sys:/sys"));
	if (feature(b, "procfs"))
		json_array_append_new(binds, json_string("/proc:/proc"));
	if (feature(b, "extra-firmware"))
		json_array_append_new(binds, json_string("extra-firmware:/extra-firmware"));
}

static int compose_volumes(struct build *b)
{
	const struct compose_ctx *ctx = b->ctx;
	json_t *vols = field(b, "volumes"), *binds = json_array(), *mounts = json_array();
	json_t *anon = json_object(), *v;
	const char *k;
	size_t i;

	if (vols != NULL && !json_is_array(vols)) {
		fail(b, "volumes must be a list");
		goto bad;
	}
	json_array_foreach(vols, i, v) {
		if (json_is_string(v)) {
			volume_short(b, json_string_value(v), binds, anon);
		} else if (json_is_object(v)) {
			if (volume_long(b, v, mounts, anon) == -1)
				goto bad;
		} else {
			fail(b, "volumes: entries must be strings or objects");
			goto bad;
		}
	}
	/* The lock dir, at both of its names (facts §4.5). */
	json_array_append_new(binds, json_sprintf("%s/services/%d/%s:/tmp/resin", ctx->run_dir,
						  ctx->app_id, ctx->service_name));
	json_array_append_new(binds, json_sprintf("%s/services/%d/%s:/tmp/balena", ctx->run_dir,
						  ctx->app_id, ctx->service_name));
	feature_binds(b, binds);
	/* The image's VOLUMEs stay anonymous volumes, as the engine makes them. */
	json_object_foreach(json_object_get(ctx->image_config, "Volumes"), k, v)
		if (json_object_get(anon, k) == NULL)
			json_object_set_new(anon, k, json_object());
	json_object_set_new(b->host, "Binds", binds);
	if (json_array_size(mounts))
		json_object_set_new(b->host, "Mounts", mounts);
	else
		json_decref(mounts);
	if (json_object_size(anon))
		json_object_set_new(b->spec, "Volumes", anon);
	else
		json_decref(anon);
	return 0;
bad:
	json_decref(binds);
	json_decref(mounts);
	json_decref(anon);
	return -1;
}

/* --- Ports ------------------------------------------------------------- */

/* "N" or "N-M" in [s, s+n): 0 and the range, 1 if empty, -1 if malformed */
static int port_range(const char *s, size_t n, int *lo, int *hi)
{
	const char *dash = memchr(s, '-', n);

	if (n == 0)
		return 1;
	if (digits_int(s, dash ? (size_t)(dash - s) : n, lo) == -1)
		return -1;
	if (dash == NULL) {
		*hi = *lo;
		return 0;
	}
	return digits_int(dash + 1, n - (size_t)(dash + 1 - s), hi);
}

/*
 * ^(?:(?:([a-fA-F\d.:]+):)?([\d]*)(?:-([\d]+))?:)?([\d]+)(?:-([\d]+))?(?:/(udp|tcp))?$
 * Neither port part holds ':', so the last ':' ends the host part and the
 * one before it ends the IP (which may hold ':' itself). A missing host port
 * is the container port.
 */
static int port_one(const char *spec, json_t *bindings, json_t *exposed)
{
	char buf[128], *slash, *last, *prev, *cont;
	const char *proto = "tcp", *ip = "";
	int cs, ce, hs = -1, he = -1, host_range = 0, k;

	if (strlen(spec) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", spec);
	if ((slash = strchr(buf, '/')) != NULL) {
		*slash = '\0';
		proto = slash + 1;
		if (strcmp(proto, "tcp") && strcmp(proto, "udp"))
			return -1;
	}
	last = strrchr(buf, ':');
	cont = last ? last + 1 : buf;
	if (port_range(cont, strlen(cont), &cs, &ce) != 0)
		return -1;
	if (last != NULL) {
		const char *host = buf;
		int r;

		*last = '\0';
		if ((prev = strrchr(buf, ':')) != NULL) {
			*prev = '\0';
			ip = buf;
			host = prev + 1;
			if (*ip == '\0' || strspn(ip, "0123456789abcdefABCDEF.:") != strlen(ip))
				return -1;
		}
		r = port_range(host, strlen(host), &hs, &he);
		if (r == -1)
			return -1;
		host_range = r == 0 && strchr(host, '-') != NULL;
		if (r == 1)
			hs = he = -1;
	}
	if (cs < 1 || ce < cs || ce > 65535)
		return -1;
	if (hs >= 0) {
		if (!host_range)
			he = hs + (ce - cs);
		if (he - hs != ce - cs || he > 65535)
			return -1;
	}
	for (k = 0; k <= ce - cs; k++) {
		char key[32];
		json_t *list, *bnd;

		snprintf(key, sizeof(key), "%d/%s", cs + k, proto);
		json_object_set_new(exposed, key, json_object());
		bnd = json_pack("{s:s, s:o}", "HostIp", ip, "HostPort",
				json_sprintf("%d", hs >= 0 ? hs + k : cs + k));
		if ((list = json_object_get(bindings, key)) == NULL) {
			list = json_array();
			json_object_set_new(bindings, key, list);
		}
		{
			size_t i;
			json_t *e;
			int dup = 0;

			json_array_foreach(list, i, e)
				dup |= json_equal(e, bnd);
			if (dup)
				json_decref(bnd);
			else
				json_array_append_new(list, bnd);
		}
	}
	return 0;
}

static int compose_ports(struct build *b)
{
	json_t *ports = field(b, "ports"), *bindings, *exposed, *v;
	size_t i;

	if (ports == NULL)
		return 0;
	if (!json_is_array(ports))
		return fail(b, "ports must be a list");
	bindings = json_object();
	exposed = json_object();
	json_array_foreach(ports, i, v) {
		char num[32];
		const char *s = json_string_value(v);

		if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			s = num;
		}
		if (s == NULL || port_one(s, bindings, exposed) == -1) {
			json_decref(bindings);
			json_decref(exposed);
			return fail(b, "ports: invalid port specification %s",
				    s ? s : "(not a string)");
		}
	}
	if (json_object_size(bindings)) {
		json_object_set_new(b->host, "PortBindings", bindings);
		json_object_set_new(b->spec, "ExposedPorts", exposed);
	} else {
		json_decref(bindings);
		json_decref(exposed);
	}
	return 0;
}

/* --- Networks ---------------------------------------------------------- */

static json_t *endpoint_for(struct build *b, json_t *conf)
{
	json_t *aliases = json_pack("[s]", b->ctx->service_name ? b->ctx->service_name : "");
	json_t *ep, *a, *ipam;
	size_t i;

	if (conf != NULL && !json_is_null(conf) && !json_is_object(conf)) {
		json_decref(aliases);
		return fail(b, "networks: each network's settings must be an object"), NULL;
	}
	a = json_object_get(conf, "aliases");
	if (a != NULL && !json_is_array(a)) {
		json_decref(aliases);
		return fail(b, "networks: aliases must be a list of strings"), NULL;
	}
	for (i = 0; i < json_array_size(a); i++) {
		json_t *e = json_array_get(a, i);

		if (!json_is_string(e)) {
			json_decref(aliases);
			return fail(b, "networks: aliases must be a list of strings"), NULL;
		}
		append_unique(aliases, json_string_value(e));
	}
	ep = json_pack("{s:o}", "Aliases", aliases);
	ipam = json_object();
	if (json_is_string(json_object_get(conf, "ipv4_address")))
		json_object_set(ipam, "IPv4Address", json_object_get(conf, "ipv4_address"));
	if (json_is_string(json_object_get(conf, "ipv6_address")))
		json_object_set(ipam, "IPv6Address", json_object_get(conf, "ipv6_address"));
	if (json_is_array(json_object_get(conf, "link_local_ips")))
		json_object_set(ipam, "LinkLocalIPs", json_object_get(conf, "link_local_ips"));
	if (json_object_size(ipam))
		json_object_set_new(ep, "IPAMConfig", ipam);
	else
		json_decref(ipam);
	return ep;
}

static void add_network(struct build *b, const char *name, json_t *ep)
{
	char *full = NULL;

	if (asprintf(&full, "%s_%s", b->ctx->app_uuid ? b->ctx->app_uuid : "", name) < 0) {
		json_decref(ep);
		return;
	}
	json_object_set_new(b->out->networks, full, ep);
	free(full);
}

static int compose_network(struct build *b)
{
	json_t *m = field(b, "network_mode"), *nets = field(b, "networks"), *v, *ep;
	const char *mode = json_string_value(m), *k;
	size_t i;

	if (m != NULL && mode == NULL)
		return fail(b, "network_mode must be a string");
	if (nets != NULL && !json_is_array(nets) && !json_is_object(nets))
		return fail(b, "networks must be a list or an object");
	if (mode != NULL && !strncmp(mode, "service:", 8)) {
		if (mode[8] == '\0')
			return fail(b, "network_mode: service: needs a service name");
		b->out->network_mode_service = strdup(mode + 8);
		append_unique(b->out->depends_on, mode + 8);
		json_object_set_new(b->host, "NetworkMode", json_sprintf("container:%s", mode + 8));
		return 0;
	}
	if (mode != NULL && !strncmp(mode, "container:", 10)) {
		warn(b, "Ignoring unsupported network_mode %s", mode);
		mode = NULL;
	}
	if (mode != NULL &&
	    (!strcmp(mode, "host") || !strcmp(mode, "bridge") || !strcmp(mode, "none"))) {
		json_object_set_new(b->host, "NetworkMode", json_string(mode));
		return 0;
	}
	if (mode != NULL && mode[0] != '\0')
		add_network(b, mode, endpoint_for(b, NULL));
	if (json_is_array(nets)) {
		json_array_foreach(nets, i, v) {
			if (!json_is_string(v))
				return fail(b, "networks: names must be strings");
			add_network(b, json_string_value(v), endpoint_for(b, NULL));
		}
	} else {
		json_object_foreach(nets, k, v) {
			if ((ep = endpoint_for(b, v)) == NULL)
				return -1;
			add_network(b, k, ep);
		}
	}
	if (json_object_size(b->out->networks) == 0)
		add_network(b, "default", endpoint_for(b, NULL));
	json_object_foreach(b->out->networks, k, v) {
		json_object_set_new(b->host, "NetworkMode", json_string(k));
		json_object_set_new(b->spec, "NetworkingConfig",
				    json_pack("{s:{s:O}}", "EndpointsConfig", k, v));
		break;
	}
	/* An extra network, after the first (which the container is created on). */
	if (feature(b, "supervisor-api"))
		json_object_set_new(b->out->networks, SUPERVISOR_NETWORK, json_object());
	return 0;
}

/* --- HostConfig fields ------------------------------------------------- */

enum kind { K_STR, K_STR_OR_INT, K_BOOL, K_INT, K_LIST, K_LIST_NUMS, K_MAP };

/* Fields taken as they are, after a type check. */
static const struct passthrough {
	const char *field, *key;
	int in_host;
	enum kind kind;
} passthroughs[] = {
	{"cap_add", "CapAdd", 1, K_LIST},
	{"cap_drop", "CapDrop", 1, K_LIST},
	{"dns", "Dns", 1, K_LIST},
	{"dns_search", "DnsSearch", 1, K_LIST},
	{"dns_opt", "DnsOptions", 1, K_LIST},
	{"group_add", "GroupAdd", 1, K_LIST_NUMS},
	{"cgroup_parent", "CgroupParent", 1, K_STR},
	{"pid", "PidMode", 1, K_STR},
	{"userns_mode", "UsernsMode", 1, K_STR},
	{"cpuset", "CpusetCpus", 1, K_STR},
	{"privileged", "Privileged", 1, K_BOOL},
	{"read_only", "ReadonlyRootfs", 1, K_BOOL},
	{"oom_kill_disable", "OomKillDisable", 1, K_BOOL},
	{"pids_limit", "PidsLimit", 1, K_INT},
	{"storage_opt", "StorageOpt", 1, K_MAP},
	{"user", "User", 0, K_STR_OR_INT},
	{"hostname", "Hostname", 0, K_STR},
	{"domainname", "Domainname", 0, K_STR},
	{"mac_address", "MacAddress", 0, K_STR},
};

static int compose_passthrough(struct build *b)
{
	size_t i;

	/* Defaults the engine would apply anyway, explicit so the spec reads complete. */
	json_object_set_new(b->host, "Privileged", json_false());
	json_object_set_new(b->host, "ReadonlyRootfs", json_false());
	for (i = 0; i < sizeof(passthroughs) / sizeof(passthroughs[0]); i++) {
		const struct passthrough *p = &passthroughs[i];
		json_t *v = field(b, p->field), *val = NULL;

		if (v == NULL)
			continue;
		switch (p->kind) {
		case K_STR:
			if (!json_is_string(v))
				return fail(b, "%s must be a string", p->field);
			val = json_incref(v);
			break;
		case K_STR_OR_INT:
			if (json_is_integer(v))
				val = json_sprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
			else if (json_is_string(v))
				val = json_incref(v);
			else
				return fail(b, "%s must be a string", p->field);
			break;
		case K_BOOL:
			if (!json_is_boolean(v))
				return fail(b, "%s must be a boolean", p->field);
			val = json_incref(v);
			break;
		case K_INT:
			if (!json_is_integer(v))
				return fail(b, "%s must be an integer", p->field);
			val = json_incref(v);
			break;
		case K_LIST:
		case K_LIST_NUMS:
			if ((val = str_list(b, p->field, v, p->kind == K_LIST_NUMS)) == NULL)
				return -1;
			break;
		case K_MAP:
			val = json_object();
			if (kv_into(b, p->field, v, val, 0) == -1) {
				json_decref(val);
				return -1;
			}
			break;
		}
		json_object_set_new(p->in_host ? b->host : b->spec, p->key, val);
	}
	return 0;
}

static void compose_restart(struct build *b)
{
	json_t *v = field(b, "restart");
	const char *r = json_string_value(v);
	char name[32] = "always";
	size_t i;

	if (json_is_false(v)) {
		/* YAML `no` arrives as false: it means "no", never "" */
		snprintf(name, sizeof(name), "no");
	} else if (r != NULL && strlen(r) < sizeof(name)) {
		for (i = 0; r[i]; i++)
			name[i] = (char)tolower((unsigned char)r[i]);
		name[i] = '\0';
		if (strcmp(name, "no") && strcmp(name, "always") && strcmp(name, "on-failure") &&
		    strcmp(name, "unless-stopped"))
			snprintf(name, sizeof(name), "always");
	}
	json_object_set_new(b->host, "RestartPolicy",
			    json_pack("{s:s, s:i}", "Name", name, "MaximumRetryCount", 0));
}

static int compose_resources(struct build *b)
{
	static const char *const sizes[][2] = {{"mem_limit", "Memory"},
					       {"mem_reservation", "MemoryReservation"},
					       {"shm_size", "ShmSize"}};
	static const char *const nonzero[][2] = {{"cpu_shares", "CpuShares"},
						 {"cpu_quota", "CpuQuota"},
						 {"oom_score_adj", "OomScoreAdj"}};
	json_t *v;
	size_t i;

	for (i = 0; i < 3; i++) {
		long long n;

		if ((v = field(b, sizes[i][0])) == NULL) {
			if (!strcmp(sizes[i][0], "shm_size"))
				json_object_set_new(b->host, "ShmSize",
						    json_integer(64LL * 1024 * 1024));
			continue;
		}
		if ((n = parse_size(v)) < 0)
			return fail(b, "%s: invalid size", sizes[i][0]);
		json_object_set_new(b->host, sizes[i][1], json_integer(n));
	}
	if ((v = field(b, "cpus")) != NULL) {
		double c = -1;
		char *end;

		if (json_is_number(v)) {
			c = json_number_value(v);
		} else if (json_is_string(v)) {
			c = strtod(json_string_value(v), &end);
			if (end == json_string_value(v) || *end != '\0')
				c = -1;
		}
		if (!(c >= 0 && c <= 1e6))
			return fail(b, "cpus must be a non-negative number");
		if (c > 0)
			json_object_set_new(b->host, "NanoCpus",
					    json_integer((json_int_t)(c * 1e9 + 0.5)));
	}
	/* Kept only when non-zero integers. */
	for (i = 0; i < 3; i++)
		if ((v = field(b, nonzero[i][0])) && json_is_integer(v) && json_integer_value(v))
			json_object_set(b->host, nonzero[i][1], v);
	return 0;
}

static int cmp_ulimit(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "Name")),
		      json_string_value(json_object_get(*(json_t *const *)b, "Name")));
}

static int compose_ulimits(struct build *b)
{
	json_t *v = field(b, "ulimits"), *e, **items, *arr;
	const char *k;
	size_t n = 0, i;

	if (v == NULL)
		return 0;
	if (!json_is_object(v))
		return fail(b, "ulimits must be an object");
	items = calloc(json_object_size(v) + 1, sizeof(*items));
	if (items == NULL)
		return fail(b, "ulimits: out of memory");
	json_object_foreach(v, k, e) {
		json_t *soft = e, *hard = e;

		if (json_is_object(e)) {
			soft = json_object_get(e, "soft");
			hard = json_object_get(e, "hard");
		}
		if (!json_is_integer(soft) || !json_is_integer(hard)) {
			for (i = 0; i < n; i++)
				json_decref(items[i]);
			free(items);
			return fail(b, "ulimits: %s must be a number or {soft, hard}", k);
		}
		items[n++] = json_pack("{s:s, s:O, s:O}", "Name", k, "Soft", soft, "Hard", hard);
	}
	qsort(items, n, sizeof(*items), cmp_ulimit);
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, items[i]);
	free(items);
	json_object_set_new(b->host, "Ulimits", arr);
	return 0;
}

static int compose_sysctls(struct build *b)
{
	json_t *v = field(b, "sysctls"), *s;

	if (v == NULL)
		return 0;
	s = json_object();
	if (kv_into(b, "sysctls", v, s, 1) == -1) {
		json_decref(s);
		return -1;
	}
	json_object_set_new(b->host, "Sysctls", s);
	return 0;
}

static int compose_extra_hosts(struct build *b)
{
	json_t *v = field(b, "extra_hosts"), *l, *e, *hosts;
	const char *k;
	size_t i;

	if (v == NULL)
		return 0;
	hosts = json_array();
	if (json_is_object(v)) {
		json_object_foreach(v, k, e) {
			if (!json_is_string(e)) {
				json_decref(hosts);
				return fail(b, "extra_hosts: address of %s is not a string", k);
			}
			json_array_append_new(hosts,
					      json_sprintf("%s:%s", k, json_string_value(e)));
		}
	} else {
		if ((l = str_list(b, "extra_hosts", v, 0)) == NULL) {
			json_decref(hosts);
			return -1;
		}
		json_array_foreach(l, i, e) {
			const char *s = json_string_value(e), *eq = strchr(s, '=');

			if (eq != NULL)
				json_array_append_new(
					hosts, json_sprintf("%.*s:%s", (int)(eq - s), s, eq + 1));
			else
				json_array_append(hosts, e);
		}
		json_decref(l);
	}
	json_object_set_new(b->host, "ExtraHosts", hosts);
	return 0;
}

static int compose_tmpfs_secopt(struct build *b)
{
	json_t *v, *l, *e, *o;
	size_t i;

	if ((v = field(b, "tmpfs")) != NULL) {
		if ((l = str_list(b, "tmpfs", v, 0)) == NULL)
			return -1;
		o = json_object();
		json_array_foreach(l, i, e) {
			const char *s = json_string_value(e), *colon = strchr(s, ':');
			char *path = strndup(s, colon ? (size_t)(colon - s) : strlen(s));

			if (path != NULL)
				json_object_set_new(o, path, json_string(colon ? colon + 1 : ""));
			free(path);
		}
		json_decref(l);
		json_object_set_new(b->host, "Tmpfs", o);
	}
	if ((v = field(b, "security_opt")) != NULL) {
		if ((l = str_list(b, "security_opt", v, 0)) == NULL)
			return -1;
		o = json_array();
		json_array_foreach(l, i, e)
			if (strncmp(json_string_value(e), "label=", 6) != 0)
				json_array_append(o, e);
		json_decref(l);
		json_object_set_new(b->host, "SecurityOpt", o);
	}
	return 0;
}

/* Docker's device mode check: only r, w, m. */
static int device_mode(const char *s)
{
	return *s != '\0' && strspn(s, "rwm") == strlen(s);
}

static int compose_devices(struct build *b)
{
	json_t *v = field(b, "devices"), *e, *d;
	size_t i;

	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return fail(b, "devices must be a list of strings");
	d = json_array();
	json_array_foreach(v, i, e) {
		char *s = json_is_string(e) ? strdup(json_string_value(e)) : NULL;
		char *c1, *c2;
		const char *dst, *perms = "rwm";

		if (s == NULL || s[0] == '\0') {
			free(s);
			json_decref(d);
			return fail(b, "devices must be a list of strings");
		}
		c1 = strchr(s, ':');
		c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c1)
			*c1++ = '\0';
		if (c2)
			*c2++ = '\0';
		dst = c1 && *c1 ? c1 : s;
		if (c2 && *c2)
			perms = c2;
		else if (c1 && !c2 && device_mode(c1)) /* "host:rw" */
			dst = s, perms = c1;
		json_array_append_new(d, json_pack("{s:s, s:s, s:s}", "PathOnHost", s,
						   "PathInContainer", dst, "CgroupPermissions",
						   perms));
		free(s);
	}
	json_object_set_new(b->host, "Devices", d);
	return 0;
}

static int compose_host_misc(struct build *b)
{
	json_t *v;

	v = field(b, "ipc");
	if (v != NULL && !json_is_string(v))
		return fail(b, "ipc must be a string");
	json_object_set_new(b->host, "IpcMode",
			    json_string(v ? json_string_value(v) : "shareable"));
	if ((v = field(b, "init")) != NULL && json_is_boolean(v))
		json_object_set(b->host, "Init", v); /* kept only when a boolean */
	if (feature(b, "gpu"))
		json_object_set_new(b->host, "DeviceRequests",
				    json_pack("[{s:s, s:i, s:[[s]]}]", "Driver", "", "Count", 1,
					      "Capabilities", "gpu"));
	return 0;
}

/* --- Config fields ----------------------------------------------------- */

static int compose_healthcheck(struct build *b)
{
	static const char *const durs[][2] = {{"interval", "Interval"},
					      {"timeout", "Timeout"},
					      {"start_period", "StartPeriod"},
					      {"start_interval", "StartInterval"}};
	json_t *hc = field(b, "healthcheck"), *img, *hco, *v;
	size_t i;

	if (hc == NULL)
		return 0; /* the engine applies the image's own */
	if (!json_is_object(hc))
		return fail(b, "healthcheck must be an object");
	if (json_is_true(json_object_get(hc, "disable"))) {
		json_object_set_new(b->spec, "Healthcheck", json_pack("{s:[s]}", "Test", "NONE"));
		return 0;
	}
	img = json_object_get(b->ctx->image_config, "Healthcheck");
	hco = json_is_object(img) ? json_deep_copy(img) : json_object();
	if ((v = json_object_get(hc, "test")) != NULL) {
		json_t *t;

		if (json_is_string(v)) {
			t = json_pack("[s, O]", "CMD-SHELL", v);
		} else if ((t = str_list(b, "healthcheck.test", v, 0)) == NULL) {
			json_decref(hco);
			return -1;
		}
		json_object_set_new(hco, "Test", t);
	}
	for (i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		long long ns;

		if ((v = json_object_get(hc, durs[i][0])) == NULL)
			continue;
		if ((ns = parse_duration_ns(v)) < 0) {
			json_decref(hco);
			return fail(b, "healthcheck.%s: invalid duration", durs[i][0]);
		}
		json_object_set_new(hco, durs[i][1], json_integer(ns));
	}
	if ((v = json_object_get(hc, "retries")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			json_decref(hco);
			return fail(b, "healthcheck.retries must be a non-negative integer");
		}
		json_object_set(hco, "Retries", v);
	}
	json_object_set_new(b->spec, "Healthcheck", hco);
	return 0;
}

/* command/entrypoint: a list, or a string split like a shell; else the image's */
static int compose_argv(struct build *b, const char *name, const char *key)
{
	json_t *v = field(b, name), *l;

	if (v == NULL) {
		v = json_object_get(b->ctx->image_config, key);
		if (json_is_array(v))
			json_object_set(b->spec, key, v);
		return 0;
	}
	if (json_is_string(v))
		l = shell_split(json_string_value(v));
	else if ((l = str_list(b, name, v, 0)) == NULL)
		return -1;
	json_object_set_new(b->spec, key, l);
	return 0;
}

static int compose_config(struct build *b)
{
	json_t *img = b->ctx->image_config, *v;
	const char *s;
	long long ns;

	if (compose_argv(b, "command", "Cmd") == -1 ||
	    compose_argv(b, "entrypoint", "Entrypoint") == -1)
		return -1;
	v = field(b, "tty");
	if (v != NULL && !json_is_boolean(v))
		return fail(b, "tty must be a boolean");
	json_object_set_new(b->spec, "Tty", json_boolean(v == NULL || json_is_true(v)));
	v = field(b, "stop_signal");
	if (v != NULL && !json_is_string(v))
		return fail(b, "stop_signal must be a string");
	s = v ? json_string_value(v) : json_string_value(json_object_get(img, "StopSignal"));
	json_object_set_new(b->spec, "StopSignal", json_string(s && *s ? s : "SIGTERM"));
	v = field(b, "stop_grace_period");
	ns = v ? parse_duration_ns(v) : 10 * NS_PER_SEC;
	if (ns < 0)
		return fail(b, "stop_grace_period: invalid duration");
	json_object_set_new(b->spec, "StopTimeout", json_integer(ns / NS_PER_SEC));
	if ((v = field(b, "working_dir")) != NULL) {
		size_t n;

		if (!json_is_string(v))
			return fail(b, "working_dir must be a string");
		s = json_string_value(v);
		for (n = strlen(s); n > 1 && s[n - 1] == '/'; n--)
			;
		json_object_set_new(b->spec, "WorkingDir", json_stringn(s, n));
	} else if ((v = json_object_get(img, "WorkingDir")) && json_is_string(v) &&
		   json_string_length(v)) {
		json_object_set(b->spec, "WorkingDir", v);
	}
	return compose_healthcheck(b);
}

/* --- The rest ---------------------------------------------------------- */

/* Fields handled here; anything else draws the one "unsupported" warning. */
static const char *const known_fields[] = {
	"cap_add",
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
};

static void compose_unknown_fields(struct build *b)
{
	const char **keys = sorted_keys(b->comp);
	json_t *names = json_array();
	size_t i, j, len = 0;
	char *msg, *p;

	for (i = 0; keys && keys[i]; i++) {
		for (j = 0; j < sizeof(known_fields) / sizeof(known_fields[0]); j++)
			if (!strcmp(keys[i], known_fields[j]))
				break;
		if (j == sizeof(known_fields) / sizeof(known_fields[0])) {
			json_array_append_new(names, json_string(keys[i]));
			len += strlen(keys[i]) + 2;
		}
	}
	free(keys);
	if (json_array_size(names) && (msg = malloc(len + 1)) != NULL) {
		p = msg;
		for (i = 0; i < json_array_size(names); i++)
			p += sprintf(p, "%s%s", i ? ", " : "",
				     json_string_value(json_array_get(names, i)));
		warn(b, "Ignoring unsupported or unknown compose fields: %s", msg);
		free(msg);
	}
	json_decref(names);
}

static int compose_depends_on(struct build *b)
{
	json_t *v = field(b, "depends_on"), *e;
	const char *k;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, e) {
			if (!json_is_string(e))
				return fail(b, "depends_on must be a list of service names");
			append_unique(b->out->depends_on, json_string_value(e));
		}
	} else if (json_is_object(v)) {
		json_object_foreach(v, k, e)
			append_unique(b->out->depends_on, k);
	} else if (v != NULL) {
		return fail(b, "depends_on must be a list of service names");
	}
	return 0;
}

static int compose_meta(struct build *b)
{
	const char *s = json_string_value(json_object_get(b->labels, "io.balena.update.strategy"));
	const char *t =
		json_string_value(json_object_get(b->labels, "io.balena.update.handover-timeout"));
	json_t *r = json_object_get(b->svc, "running");
	char *end;
	long ms;

	if (s == NULL || (strcmp(s, "download-then-kill") && strcmp(s, "kill-then-download") &&
			  strcmp(s, "delete-then-download") && strcmp(s, "hand-over")))
		s = "download-then-kill";
	b->out->strategy = strdup(s);
	b->out->handover_timeout_ms = 60000;
	if (t != NULL) {
		ms = strtol(t, &end, 10);
		if (end != t && *end == '\0' && ms > 0)
			b->out->handover_timeout_ms = ms;
	}
	if (r == NULL || json_is_null(r))
		r = field(b, "running");
	if (r != NULL && !json_is_boolean(r))
		return fail(b, "running must be a boolean");
	b->out->running = !json_is_false(r);
	return 0;
}

static int compose_image(struct build *b)
{
	json_t *v = json_object_get(b->svc, "image");
	char ref[1024];

	if (v == NULL || json_is_null(v))
		v = field(b, "image");
	if (v != NULL && !json_is_string(v))
		return fail(b, "image must be a string");
	if (b->ctx->image_id_ref != NULL) {
		json_object_set_new(b->spec, "Image", json_string(b->ctx->image_id_ref));
		return 0;
	}
	if (v == NULL || json_string_length(v) == 0)
		return fail(b, "image is missing");
	compose_image_normalise(json_string_value(v), ref, sizeof(ref));
	json_object_set_new(b->spec, "Image", json_string(ref));
	return 0;
}

int compose_service(const struct compose_ctx *ctx, json_t *svc, struct composed *out, char *err,
		    size_t errlen)
{
	struct build b = {.ctx = ctx, .svc = svc, .out = out, .err = err, .errlen = errlen};
	json_t *comp = json_object_get(svc, "composition"), *m;

	memset(out, 0, sizeof(*out));
	if (errlen)
		err[0] = '\0';
	if (!json_is_object(svc))
		return fail(&b, "service must be an object");
	if (comp != NULL && !json_is_null(comp) && !json_is_object(comp))
		return fail(&b, "composition must be an object");
	b.comp = json_is_object(comp) ? json_incref(comp) : json_object();
	out->depends_on = json_array();
	out->networks = json_object();
	out->volumes = json_array();
	out->warnings = json_array();
	b.spec = json_object();
	b.host = json_object();
	json_object_set_new(b.spec, "HostConfig", b.host);
	m = field(&b, "network_mode");
	b.host_net = json_is_string(m) && !strcmp(json_string_value(m), "host");
	if (compose_image(&b) == -1 || compose_labels(&b) == -1 || compose_env(&b) == -1)
		goto bad;
	json_object_set(b.spec, "Labels", b.labels);
	if (compose_volumes(&b) == -1 || compose_ports(&b) == -1 || compose_network(&b) == -1 ||
	    compose_passthrough(&b) == -1 || compose_resources(&b) == -1 ||
	    compose_ulimits(&b) == -1 || compose_sysctls(&b) == -1 ||
	    compose_extra_hosts(&b) == -1 || compose_tmpfs_secopt(&b) == -1 ||
	    compose_devices(&b) == -1 || compose_host_misc(&b) == -1 || compose_config(&b) == -1 ||
	    compose_depends_on(&b) == -1 || compose_meta(&b) == -1)
		goto bad;
	compose_restart(&b);
	compose_unknown_fields(&b);
	out->spec = b.spec;
	json_decref(b.labels);
	json_decref(b.comp);
	return 0;
bad:
	json_decref(b.spec);
	json_decref(b.labels);
	json_decref(b.comp);
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

json_t *compose_env_object(json_t *env)
{
	json_t *out = json_object(), *e;
	size_t i;

	json_array_foreach(env, i, e) {
		const char *kv = json_string_value(e), *eq = kv ? strchr(kv, '=') : NULL;
		char *key;

		if (eq == NULL || (key = strndup(kv, (size_t)(eq - kv))) == NULL)
			continue;
		if (strcmp(key, "BALENA_DEVICE_NAME_AT_INIT") != 0 &&
		    strcmp(key, "RESIN_DEVICE_NAME_AT_INIT") != 0)
			json_object_set_new(out, key, json_string(eq + 1));
		free(key);
	}
	return out;
}
