/*
 * ops.c - the requests agentd may make of the engine, as one table of named
 * operations. Each op validates its arguments and builds the engine call
 * itself: agentd never sends a raw path, so a compromised peer cannot reach
 * engine endpoints outside this list.
 *
 * Replies: MSG_ENGINE_RESULT {status, body} for a 2xx answer (body is the
 * engine's JSON, or null), MSG_ERROR {error, status} otherwise, where status
 * is the engine's HTTP status, or 0 when the engine could not be reached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "enginectl.h"
#include "log.h"

#define TIMEOUT_MS      30000L
#define TIMEOUT_LONG_MS 120000L

struct call {
	struct enginectl *e;
	uint32_t id; /* request id, for the reply */
	const char *op;
	char image[512];            /* image.pull */
	char progress_as[512];      /* image.pull: the name its progress is shown under */
	struct pull_progress *pull; /* image.pull, owned */
	struct linebuf lb;          /* image.pull stream */
	int last_percent;
	long long since;  /* logs.follow: unix seconds */
	int64_t since_ns; /* logs.follow: resuming, from this line's time (0: since) */
};

struct op {
	const char *name;
	int (*start)(struct call *c, json_t *args, char *err, size_t errlen);
};

static int valid_name(const char *s)
{
	size_t i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > 255)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || (i > 0 && (ch == '_' || ch == '.' || ch == '-'))))
			return 0;
	}
	return 1;
}

/* Image references: printable, no spaces, bounded. */
static int valid_image(const char *s)
{
	size_t i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n >= 512)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

int url_escape(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *in; in++) {
		unsigned char ch = (unsigned char)*in;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)ch;
		} else {
			if (o + 3 >= outlen)
				return -1;
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

static void call_free(struct call *c)
{
	linebuf_free(&c->lb);
	free(c->pull);
	free(c);
}

static void reply_error(struct call *c, long status, const char *msg)
{
	struct frame_hdr req = {MSG_ENGINE_CALL, 0, c->id, 0};

	chan_reply_error(c->e->ch, &req, (int)status, msg);
}

static void reply_result(struct call *c, long status, json_t *body)
{
	struct frame_hdr req = {MSG_ENGINE_CALL, 0, c->id, 0};
	json_t *r = json_pack("{s:i, s:O?}", "status", (int)status, "body", body);

	if (r == NULL) {
		reply_error(c, status, "cannot encode the engine's answer");
		return;
	}
	if (chan_reply(c->e->ch, &req, MSG_ENGINE_RESULT, r) == -1)
		log_warnx("%s: reply too large or channel gone", c->op);
	json_decref(r);
}

/* {"status": N, "body": <text>} where text is already known to be JSON. */
static void reply_raw(struct call *c, long status, const char *body, size_t len)
{
	char head[48];
	size_t hlen;
	char *msg;

	hlen = (size_t)snprintf(head, sizeof(head), "{\"status\":%ld,\"body\":", status);
	if ((msg = malloc(hlen + len + 1)) == NULL) {
		reply_error(c, status, "out of memory");
		return;
	}
	memcpy(msg, head, hlen);
	memcpy(msg + hlen, body, len);
	msg[hlen + len] = '}';
	if (chan_send(c->e->ch, MSG_ENGINE_RESULT, c->id, FRAME_F_REPLY, msg, hlen + len + 1, -1) ==
	    -1)
		log_warnx("%s: reply too large or channel gone", c->op);
	free(msg);
}

/* The engine's own words for a failure: {"message": "..."} */
static void reply_engine_error(struct call *c, long status, const char *body, size_t len)
{
	json_t *j = json_loadb(body ? body : "", len, 0, NULL);
	const char *m = json_string_value(json_object_get(j, "message"));
	char text[1024];

	if (m == NULL)
		snprintf(text, sizeof(text), "engine answered %ld to %s", status, c->op);
	else
		snprintf(text, sizeof(text), "%s", m);
	reply_error(c, status, text);
	json_decref(j);
}

static void on_plain_done(struct exfer *x, const char *err, long status, const char *body,
			  size_t len, void *arg)
{
	struct call *c = arg;
	json_t *j = NULL;
	char why[128];

	(void)x;
	if (err != NULL) {
		reply_error(c, 0, err);
	} else if (status < 200 || status >= 300) {
		if (status == 304) /* already started / stopped: not a failure */
			reply_result(c, status, NULL);
		else
			reply_engine_error(c, status, body, len);
	} else if (len > 0 &&
		   json_text_within(body, len, msg_catalogue[MSG_ENGINE_RESULT].max_depth - 1,
				    msg_catalogue[MSG_ENGINE_RESULT].max_items - 2, why,
				    sizeof(why)) == -1) {
		/* agentd would refuse it: say so, without parsing it */
		char text[200];

		snprintf(text, sizeof(text), "the engine's answer to %s is too complex: %s", c->op,
			 why);
		reply_error(c, 502, text);
	} else if (len > 0 && (j = json_loadb(body, len, JSON_DECODE_ANY, NULL)) != NULL) {
		/* Valid JSON: pass the engine's text on as it is, without re-encoding. */
		json_decref(j);
		reply_raw(c, status, body, len);
	} else {
		/* Empty, or text such as /_ping's "OK". */
		j = len > 0 ? json_stringn_nocheck(body, len) : NULL;
		reply_result(c, status, j);
		json_decref(j);
	}
	call_free(c);
}

static int call_start(struct call *c, const char *method, const char *path, const char *body,
		      long timeout_ms, char *err, size_t errlen)
{
	struct exfer_req r = {method, path, body, NULL, timeout_ms, 1, NULL, on_plain_done, c};

	if (ehttp_start(c->e->http, &r) == NULL) {
		snprintf(err, errlen, "cannot start the engine request");
		return -1;
	}
	return 0;
}

/* ?filters={"label":[...]} from an optional array of "key" or "key=value". */
static int label_filter(json_t *args, char *out, size_t outlen, char *err, size_t errlen)
{
	json_t *labels = json_object_get(args, "labels"), *f;
	char *text;
	int rc;

	out[0] = '\0';
	if (labels == NULL)
		return 0;
	if (!json_is_array(labels)) {
		snprintf(err, errlen, "labels must be an array of strings");
		return -1;
	}
	f = json_pack("{s:O}", "label", labels);
	text = f ? json_dumps(f, JSON_COMPACT) : NULL;
	json_decref(f);
	if (text == NULL)
		return -1;
	rc = url_escape(text, out, outlen);
	free(text);
	if (rc == -1)
		snprintf(err, errlen, "label filter too long");
	return rc;
}

static int get_id(json_t *args, const char *key, const char **out, char *err, size_t errlen)
{
	*out = json_string_value(json_object_get(args, key));
	if (!valid_name(*out)) {
		snprintf(err, errlen, "\"%s\" must be a container, network or volume id or name",
			 key);
		return -1;
	}
	return 0;
}

static int get_image(json_t *args, const char *key, const char **out, char *err, size_t errlen)
{
	*out = json_string_value(json_object_get(args, key));
	if (!valid_image(*out)) {
		snprintf(err, errlen, "\"%s\" must be an image reference", key);
		return -1;
	}
	return 0;
}

static int op_ping(struct call *c, json_t *args, char *err, size_t errlen)
{
	(void)args;
	return call_start(c, "GET", "/_ping", NULL, TIMEOUT_MS, err, errlen);
}

static int op_version(struct call *c, json_t *args, char *err, size_t errlen)
{
	(void)args;
	return call_start(c, "GET", "/version", NULL, TIMEOUT_MS, err, errlen);
}

static int op_list(struct call *c, json_t *args, const char *what, char *err, size_t errlen)
{
	char filter[2048], path[2300];

	if (label_filter(args, filter, sizeof(filter), err, errlen) == -1)
		return -1;
	snprintf(path, sizeof(path), "/%s?all=%d%s%s", what,
		 json_is_false(json_object_get(args, "all")) ? 0 : 1, filter[0] ? "&filters=" : "",
		 filter);
	return call_start(c, "GET", path, NULL, TIMEOUT_MS, err, errlen);
}

static int op_containers_list(struct call *c, json_t *args, char *err, size_t errlen)
{
	return op_list(c, args, "containers/json", err, errlen);
}

static int op_images_list(struct call *c, json_t *args, char *err, size_t errlen)
{
	return op_list(c, args, "images/json", err, errlen);
}

static int op_networks_list(struct call *c, json_t *args, char *err, size_t errlen)
{
	char filter[2048], path[2300];

	if (label_filter(args, filter, sizeof(filter), err, errlen) == -1)
		return -1;
	snprintf(path, sizeof(path), "/networks%s%s", filter[0] ? "?filters=" : "", filter);
	return call_start(c, "GET", path, NULL, TIMEOUT_MS, err, errlen);
}

static int op_volumes_list(struct call *c, json_t *args, char *err, size_t errlen)
{
	char filter[2048], path[2300];

	if (label_filter(args, filter, sizeof(filter), err, errlen) == -1)
		return -1;
	snprintf(path, sizeof(path), "/volumes%s%s", filter[0] ? "?filters=" : "", filter);
	return call_start(c, "GET", path, NULL, TIMEOUT_MS, err, errlen);
}

/* GET|POST|DELETE /<kind>/<id><suffix> */
static int op_on_id(struct call *c, json_t *args, const char *method, const char *kind,
		    const char *suffix, long timeout, char *err, size_t errlen)
{
	char path[512];
	const char *id;

	if (get_id(args, "id", &id, err, errlen) == -1)
		return -1;
	snprintf(path, sizeof(path), "/%s/%s%s", kind, id, suffix);
	return call_start(c, method, path, NULL, timeout, err, errlen);
}

static int op_container_inspect(struct call *c, json_t *args, char *err, size_t errlen)
{
	return op_on_id(c, args, "GET", "containers", "/json", TIMEOUT_MS, err, errlen);
}

static int op_container_start(struct call *c, json_t *args, char *err, size_t errlen)
{
	return op_on_id(c, args, "POST", "containers", "/start", TIMEOUT_MS, err, errlen);
}

static int op_container_stop(struct call *c, json_t *args, char *err, size_t errlen)
{
	json_t *t = json_object_get(args, "timeout");
	char suffix[64] = "/stop";
	long timeout = TIMEOUT_MS;

	if (t != NULL) {
		if (!json_is_integer(t) || json_integer_value(t) < 0 ||
		    json_integer_value(t) > 86400) {
			snprintf(err, errlen, "timeout must be seconds (0-86400)");
			return -1;
		}
		snprintf(suffix, sizeof(suffix), "/stop?t=%lld", (long long)json_integer_value(t));
		timeout += (long)json_integer_value(t) * 1000;
	} else {
		timeout += 60000; /* the container's own StopTimeout applies */
	}
	return op_on_id(c, args, "POST", "containers", suffix, timeout, err, errlen);
}

static int op_container_kill(struct call *c, json_t *args, char *err, size_t errlen)
{
	const char *sig = json_string_value(json_object_get(args, "signal"));
	char suffix[64] = "/kill";

	if (sig != NULL) {
		if (!valid_name(sig) || strlen(sig) > 16) {
			snprintf(err, errlen, "signal must be a signal name or number");
			return -1;
		}
		snprintf(suffix, sizeof(suffix), "/kill?signal=%s", sig);
	}
	return op_on_id(c, args, "POST", "containers", suffix, TIMEOUT_MS, err, errlen);
}

static int op_container_remove(struct call *c, json_t *args, char *err, size_t errlen)
{
	char suffix[64];

	snprintf(suffix, sizeof(suffix), "?force=%d&v=%d",
		 json_is_true(json_object_get(args, "force")),
		 json_is_true(json_object_get(args, "volumes")));
	return op_on_id(c, args, "DELETE", "containers", suffix, TIMEOUT_LONG_MS, err, errlen);
}

static int op_container_rename(struct call *c, json_t *args, char *err, size_t errlen)
{
	char suffix[320];
	const char *name;

	if (get_id(args, "name", &name, err, errlen) == -1)
		return -1;
	snprintf(suffix, sizeof(suffix), "/rename?name=%s", name);
	return op_on_id(c, args, "POST", "containers", suffix, TIMEOUT_MS, err, errlen);
}

/* Only the restart policy may be changed (hand-over clears it). */
static int op_container_update(struct call *c, json_t *args, char *err, size_t errlen)
{
	const char *restart = json_string_value(json_object_get(args, "restart")), *id;
	char path[320], body[128];

	if (get_id(args, "id", &id, err, errlen) == -1)
		return -1;
	if (restart == NULL ||
	    (strcmp(restart, "no") && strcmp(restart, "always") && strcmp(restart, "on-failure") &&
	     strcmp(restart, "unless-stopped"))) {
		snprintf(err, errlen, "restart must be no, always, on-failure or unless-stopped");
		return -1;
	}
	snprintf(path, sizeof(path), "/containers/%s/update", id);
	snprintf(body, sizeof(body), "{\"RestartPolicy\":{\"Name\":\"%s\"}}", restart);
	return call_start(c, "POST", path, body, TIMEOUT_MS, err, errlen);
}

static int op_container_create(struct call *c, json_t *args, char *err, size_t errlen)
{
	json_t *spec = json_object_get(args, "spec");
	char path[320], *body;
	const char *name;
	int rc;

	if (get_id(args, "name", &name, err, errlen) == -1)
		return -1;
	if (!json_is_object(spec)) {
		snprintf(err, errlen, "spec must be an object");
		return -1;
	}
	snprintf(path, sizeof(path), "/containers/create?name=%s", name);
	if ((body = json_dumps(spec, JSON_COMPACT)) == NULL)
		return -1;
	rc = call_start(c, "POST", path, body, TIMEOUT_LONG_MS, err, errlen);
	free(body);
	return rc;
}

static int op_image_inspect(struct call *c, json_t *args, char *err, size_t errlen)
{
	char path[1700], esc[1600];
	const char *image;

	if (get_image(args, "image", &image, err, errlen) == -1 ||
	    url_escape(image, esc, sizeof(esc)) == -1)
		return -1;
	/* The engine takes the name in the path, slashes included. */
	snprintf(path, sizeof(path), "/images/%s/json", image);
	return call_start(c, "GET", path, NULL, TIMEOUT_MS, err, errlen);
}

static int op_image_remove(struct call *c, json_t *args, char *err, size_t errlen)
{
	char path[1700];
	const char *image;

	if (get_image(args, "image", &image, err, errlen) == -1)
		return -1;
	snprintf(path, sizeof(path), "/images/%s?force=%d", image,
		 json_is_true(json_object_get(args, "force")));
	return call_start(c, "DELETE", path, NULL, TIMEOUT_LONG_MS, err, errlen);
}

static int op_image_tag(struct call *c, json_t *args, char *err, size_t errlen)
{
	const char *image, *repo, *tag;
	char path[2600], erepo[1600], etag[400];

	if (get_image(args, "image", &image, err, errlen) == -1 ||
	    get_image(args, "repo", &repo, err, errlen) == -1 ||
	    get_image(args, "tag", &tag, err, errlen) == -1 ||
	    url_escape(repo, erepo, sizeof(erepo)) == -1 ||
	    url_escape(tag, etag, sizeof(etag)) == -1)
		return -1;
	snprintf(path, sizeof(path), "/images/%s/tag?repo=%s&tag=%s", image, erepo, etag);
	return call_start(c, "POST", path, NULL, TIMEOUT_MS, err, errlen);
}

static void pull_send_progress(struct call *c, int percent)
{
	json_t *p = json_pack("{s:i, s:s, s:i}", "request", (int)c->id, "image",
			      c->progress_as[0] ? c->progress_as : c->image, "percent", percent);

	if (p != NULL && percent != c->last_percent) {
		chan_send_json(c->e->ch, MSG_ENGINE_PROGRESS, 0, 0, p);
		c->last_percent = percent;
	}
	json_decref(p);
}

static void pull_on_line(const char *line, size_t len, void *arg)
{
	struct call *c = arg;
	int pct = pull_progress_line(c->pull, line, len);

	if (pct >= 0)
		pull_send_progress(c, pct);
}

static void pull_on_data(struct exfer *x, const char *data, size_t len, void *arg)
{
	struct call *c = arg;

	(void)x;
	linebuf_feed(&c->lb, data, len, pull_on_line, c);
}

/* The pull stream always answers 200; failures arrive inside it. */
static void pull_on_done(struct exfer *x, const char *err, long status, const char *body,
			 size_t len, void *arg)
{
	struct call *c = arg;
	json_t *r;

	(void)x;
	linebuf_flush(&c->lb, pull_on_line, c);
	if (err != NULL) {
		reply_error(c, 0, err);
	} else if (status < 200 || status >= 300) {
		reply_engine_error(c, status, body, len);
	} else if (c->pull->error[0] != '\0') {
		reply_error(c, 500, c->pull->error);
	} else {
		pull_send_progress(c, 100);
		r = json_pack("{s:s, s:i}", "image", c->image, "percent", 100);
		reply_result(c, status, r);
		json_decref(r);
	}
	call_free(c);
}

/* X-Registry-Auth: base64url of {"username","password","serveraddress"} or
 * {"registrytoken"}. */
static int registry_auth(json_t *auth, char *out, size_t outlen)
{
	char *text = json_dumps(auth, JSON_COMPACT);
	long n = text ? base64_encode(text, strlen(text), out, outlen, 1) : -1;

	free(text);
	return n < 0 ? -1 : 0;
}

/* Add ":latest" when a reference has neither tag nor digest (otherwise the
 * engine would pull every tag of the repository). */
static void image_normalise(const char *in, char *out, size_t outlen)
{
	const char *slash = strrchr(in, '/');
	const char *last = slash ? slash + 1 : in;

	if (strchr(in, '@') != NULL || strchr(last, ':') != NULL)
		snprintf(out, outlen, "%s", in);
	else
		snprintf(out, outlen, "%s:latest", in);
}

static int op_image_pull(struct call *c, json_t *args, char *err, size_t errlen)
{
	json_t *auth = json_object_get(args, "auth");
	char path[1700], esc[1600], authhdr[4096];
	struct exfer_req r = {"POST", path, NULL, NULL, 0, 1, pull_on_data, pull_on_done, c};
	const char *image;

	if (get_image(args, "image", &image, err, errlen) == -1)
		return -1;
	image_normalise(image, c->image, sizeof(c->image));
	/* a delta's progress is the progress of the image it makes */
	if (json_object_get(args, "progress_image") != NULL) {
		const char *as;

		if (get_image(args, "progress_image", &as, err, errlen) == -1)
			return -1;
		snprintf(c->progress_as, sizeof(c->progress_as), "%s", as);
	}
	if (url_escape(c->image, esc, sizeof(esc)) == -1)
		return -1;
	if (auth != NULL) {
		if (!json_is_object(auth) || registry_auth(auth, authhdr, sizeof(authhdr)) == -1) {
			snprintf(err, errlen,
				 "auth must be {username, password, serveraddress} or "
				 "{registrytoken}");
			return -1;
		}
		r.registry_auth = authhdr;
	}
	if ((c->pull = calloc(1, sizeof(*c->pull))) == NULL)
		return -1;
	c->last_percent = -1;
	snprintf(path, sizeof(path), "/images/create?fromImage=%s", esc);
	if (ehttp_start(c->e->http, &r) == NULL) {
		snprintf(err, errlen, "cannot start the pull");
		return -1;
	}
	pull_send_progress(c, 0);
	return 0;
}

static int op_network_inspect(struct call *c, json_t *args, char *err, size_t errlen)
{
	return op_on_id(c, args, "GET", "networks", "", TIMEOUT_MS, err, errlen);
}

static int op_network_remove(struct call *c, json_t *args, char *err, size_t errlen)
{
	return op_on_id(c, args, "DELETE", "networks", "", TIMEOUT_MS, err, errlen);
}

static int op_volume_remove(struct call *c, json_t *args, char *err, size_t errlen)
{
	char suffix[32];

	snprintf(suffix, sizeof(suffix), "?force=%d", json_is_true(json_object_get(args, "force")));
	return op_on_id(c, args, "DELETE", "volumes", suffix, TIMEOUT_MS, err, errlen);
}

static int op_with_spec(struct call *c, json_t *args, const char *path, char *err, size_t errlen)
{
	json_t *spec = json_object_get(args, "spec");
	char *body;
	int rc;

	if (!json_is_object(spec)) {
		snprintf(err, errlen, "spec must be an object");
		return -1;
	}
	if ((body = json_dumps(spec, JSON_COMPACT)) == NULL)
		return -1;
	rc = call_start(c, "POST", path, body, TIMEOUT_MS, err, errlen);
	free(body);
	return rc;
}

static int op_network_create(struct call *c, json_t *args, char *err, size_t errlen)
{
	return op_with_spec(c, args, "/networks/create", err, errlen);
}

static int op_volume_create(struct call *c, json_t *args, char *err, size_t errlen)
{
	return op_with_spec(c, args, "/volumes/create", err, errlen);
}

static int op_network_connect(struct call *c, json_t *args, char *err, size_t errlen)
{
	json_t *aliases = json_object_get(args, "aliases"), *body;
	const char *id, *container;
	char path[320], *text;
	int rc;

	if (get_id(args, "id", &id, err, errlen) == -1 ||
	    get_id(args, "container", &container, err, errlen) == -1)
		return -1;
	body = json_pack("{s:s, s:{s:O*}}", "Container", container, "EndpointConfig", "Aliases",
			 json_is_array(aliases) ? aliases : NULL);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL)
		return -1;
	snprintf(path, sizeof(path), "/networks/%s/connect", id);
	rc = call_start(c, "POST", path, text, TIMEOUT_MS, err, errlen);
	free(text);
	return rc;
}

/* --- Log following ------------------------------------------------------ */

static struct follower *follower_find(struct enginectl *e, const char *id)
{
	struct follower *f;

	TAILQ_FOREACH(f, &e->followers, entry)
		if (strcmp(f->id, id) == 0)
			return f;
	return NULL;
}

/* Replace invalid UTF-8 with U+FFFD so that any output is a JSON string. */
static size_t utf8_clean(const char *in, size_t len, char *out)
{
	size_t i = 0, o = 0;

	while (i < len) {
		unsigned char ch = (unsigned char)in[i];
		size_t need = ch < 0x80         ? 1
			      : (ch >> 5) == 6  ? 2
			      : (ch >> 4) == 14 ? 3
			      : (ch >> 3) == 30 ? 4
						: 0;
		size_t k;

		for (k = 1; need > 1 && k < need; k++)
			if (i + k >= len || ((unsigned char)in[i + k] & 0xc0) != 0x80)
				need = 0;
		if (need == 0 || ch == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, in + i, need);
		o += need;
		i += need;
	}
	return o;
}

/* The mark of a container's log, made (replacing the least recently used)
 * when `make` is set; NULL if there is none. */
static struct logmark *logmark(struct enginectl *e, const char *id, int make)
{
	struct logmark *m, *lru = &e->marks[0];

	for (m = e->marks; m < e->marks + LOGMARKS; m++) {
		if (m->id[0] != '\0' && strcmp(m->id, id) == 0) {
			m->touched = ++e->mark_clock;
			return m;
		}
		if (m->touched < lru->touched)
			lru = m;
	}
	if (!make)
		return NULL;
	snprintf(lru->id, sizeof(lru->id), "%s", id);
	lru->ns = 0;
	lru->touched = ++e->mark_clock;
	return lru;
}

static void follower_line(enum log_stream stream, int64_t ts_ns, const char *line, size_t len,
			  void *arg)
{
	struct follower *f = arg;
	char clean[LOGLINE_MAX * 3];
	size_t n;
	json_t *m;
	struct logmark *mk;

	if (ts_ns > 0 && ts_ns <= f->seen_ns)
		return; /* delivered before the engine went away */
	n = utf8_clean(line, len, clean);
	m = json_pack("{s:s, s:s, s:I, s:s%}", "container", f->id, "stream",
		      stream == LOGSTREAM_STDERR ? "stderr" : "stdout", "timestamp",
		      (json_int_t)(ts_ns / 1000000), "message", clean, n);
	if (m != NULL)
		chan_send_json(f->e->ch, MSG_ENGINE_LOG, 0, 0, m);
	json_decref(m);
	if (ts_ns > 0) {
		f->seen_ns = ts_ns;
		if ((mk = logmark(f->e, f->id, 1)) != NULL)
			mk->ns = ts_ns;
	}
}

static void follower_end(struct follower *f, const char *reason)
{
	struct enginectl *e = f->e;
	json_t *m = json_pack("{s:s, s:s}", "container", f->id, "reason", reason);

	logdemux_flush(&f->dm, follower_line, f);
	if (m != NULL)
		chan_send_json(e->ch, MSG_ENGINE_LOG_END, 0, 0, m);
	json_decref(m);
	TAILQ_REMOVE(&e->followers, f, entry);
	free(f);
}

static void logs_on_data(struct exfer *x, const char *data, size_t len, void *arg)
{
	struct follower *f = arg;

	(void)x;
	logdemux_feed(&f->dm, (const unsigned char *)data, len, follower_line, f);
}

static void logs_on_done(struct exfer *x, const char *err, long status, const char *body,
			 size_t len, void *arg)
{
	struct follower *f = arg;
	char reason[300];

	(void)x;
	(void)body;
	(void)len;
	f->x = NULL;
	if (err != NULL)
		snprintf(reason, sizeof(reason), "%s", err);
	else if (status != 200)
		snprintf(reason, sizeof(reason), "engine answered %ld", status);
	else
		snprintf(reason, sizeof(reason), "stream ended");
	follower_end(f, reason);
}

/* The inspect told us whether the container has a TTY: now follow. */
static void follow_on_inspect(struct exfer *x, const char *err, long status, const char *body,
			      size_t len, void *arg)
{
	struct call *c = arg;
	struct follower *f = follower_find(c->e, c->image);
	char path[400];
	json_t *j;
	struct exfer_req r = {"GET", path, NULL, NULL, 0, 1, logs_on_data, logs_on_done, f};

	(void)x;
	if (f == NULL) {
		reply_error(c, 0, "unfollowed before it started");
		call_free(c);
		return;
	}
	if (err != NULL || status != 200) {
		if (err != NULL)
			reply_error(c, 0, err);
		else
			reply_engine_error(c, status, body, len);
		TAILQ_REMOVE(&c->e->followers, f, entry);
		free(f);
		call_free(c);
		return;
	}
	j = json_loadb(body, len, 0, NULL);
	f->dm.tty = json_is_true(json_object_get(json_object_get(j, "Config"), "Tty"));
	json_decref(j);
	if (c->since_ns > 0)
		snprintf(path, sizeof(path),
			 "/containers/%s/logs?follow=1&stdout=1&stderr=1&timestamps=1&since="
			 "%lld.%09lld",
			 f->id, (long long)(c->since_ns / 1000000000),
			 (long long)(c->since_ns % 1000000000));
	else
		snprintf(path, sizeof(path),
			 "/containers/%s/logs?follow=1&stdout=1&stderr=1&timestamps=1&since=%lld",
			 f->id, (long long)c->since);
	if ((f->x = ehttp_start(c->e->http, &r)) == NULL) {
		reply_error(c, 0, "cannot start following logs");
		TAILQ_REMOVE(&c->e->followers, f, entry);
		free(f);
	} else {
		reply_result(c, 200, NULL);
	}
	call_free(c);
}

static int op_logs_follow(struct call *c, json_t *args, char *err, size_t errlen)
{
	json_t *since = json_object_get(args, "since"), *resume = json_object_get(args, "resume");
	struct logmark *mk;
	struct follower *f;
	const char *id;
	char path[320];
	struct exfer_req r = {"GET", path, NULL, NULL, TIMEOUT_MS, 1, NULL, follow_on_inspect, c};

	if (get_id(args, "id", &id, err, errlen) == -1)
		return -1;
	if (since != NULL && (!json_is_integer(since) || json_integer_value(since) < 0)) {
		snprintf(err, errlen, "since must be unix seconds");
		return -1;
	}
	if (resume != NULL && !json_is_boolean(resume)) {
		snprintf(err, errlen, "resume must be a boolean");
		return -1;
	}
	if (follower_find(c->e, id) != NULL) {
		snprintf(err, errlen, "already following %s", id);
		return -1;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	f->e = c->e;
	snprintf(f->id, sizeof(f->id), "%s", id);
	snprintf(c->image, sizeof(c->image), "%s", id); /* the follower's key, for the callback */
	c->since = since ? (long long)json_integer_value(since) : 0;
	/* what was delivered is not sent again; resuming starts where it ended */
	if ((mk = logmark(c->e, id, 0)) != NULL) {
		f->seen_ns = mk->ns;
		if (json_is_true(resume))
			c->since_ns = mk->ns;
	}
	TAILQ_INSERT_TAIL(&c->e->followers, f, entry);
	snprintf(path, sizeof(path), "/containers/%s/json", id);
	if (ehttp_start(c->e->http, &r) == NULL) {
		TAILQ_REMOVE(&c->e->followers, f, entry);
		free(f);
		snprintf(err, errlen, "cannot start the engine request");
		return -1;
	}
	return 0;
}

static void follower_stop(struct follower *f, const char *reason)
{
	if (f->x != NULL) {
		ehttp_cancel(f->x);
		f->x = NULL;
	}
	follower_end(f, reason);
}

static int op_logs_unfollow(struct call *c, json_t *args, char *err, size_t errlen)
{
	struct follower *f;
	const char *id;

	if (get_id(args, "id", &id, err, errlen) == -1)
		return -1;
	if ((f = follower_find(c->e, id)) == NULL || f->x == NULL) {
		snprintf(err, errlen, "not following %s", id);
		return -1;
	}
	follower_stop(f, "unfollowed");
	reply_result(c, 200, NULL);
	call_free(c);
	return 0;
}

void ops_unfollow_all(struct enginectl *e)
{
	struct follower *f, *next;

	for (f = TAILQ_FIRST(&e->followers); f != NULL; f = next) {
		next = TAILQ_NEXT(f, entry);
		if (f->x != NULL)
			follower_stop(f, "enginectl stopping");
	}
}

/* Sorted by name; the lookup is linear, the table is short. */
static const struct op ops[] = {
	{"container.create", op_container_create},
	{"container.inspect", op_container_inspect},
	{"container.kill", op_container_kill},
	{"container.remove", op_container_remove},
	{"container.rename", op_container_rename},
	{"container.start", op_container_start},
	{"container.stop", op_container_stop},
	{"container.update", op_container_update},
	{"containers.list", op_containers_list},
	{"image.inspect", op_image_inspect},
	{"image.pull", op_image_pull},
	{"image.remove", op_image_remove},
	{"image.tag", op_image_tag},
	{"images.list", op_images_list},
	{"logs.follow", op_logs_follow},
	{"logs.unfollow", op_logs_unfollow},
	{"network.connect", op_network_connect},
	{"network.create", op_network_create},
	{"network.inspect", op_network_inspect},
	{"network.remove", op_network_remove},
	{"networks.list", op_networks_list},
	{"ping", op_ping},
	{"version", op_version},
	{"volume.create", op_volume_create},
	{"volume.remove", op_volume_remove},
	{"volumes.list", op_volumes_list},
};

void ops_call(struct enginectl *e, const struct frame_hdr *hdr, json_t *body)
{
	const char *name = json_string_value(json_object_get(body, "op"));
	json_t *args = json_object_get(body, "args");
	char err[512] = "";
	struct call *c;
	size_t i;

	for (i = 0; name != NULL && i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(ops[i].name, name) == 0)
			break;
	if (name == NULL || i == sizeof(ops) / sizeof(ops[0])) {
		chan_reply_error(e->ch, hdr, 400, "unknown engine op");
		return;
	}
	if (args == NULL || json_is_null(args))
		args = json_object(); /* an owned reference either way */
	else
		json_incref(args);
	if (!json_is_object(args)) {
		chan_reply_error(e->ch, hdr, 400, "args must be an object");
		json_decref(args);
		return;
	}
	if (e->state != ENGINE_UP && strcmp(name, "ping") != 0) {
		chan_reply_error(e->ch, hdr, 503, "engine unavailable");
		json_decref(args);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		chan_reply_error(e->ch, hdr, 500, "out of memory");
		json_decref(args);
		return;
	}
	c->e = e;
	c->id = hdr->id;
	c->op = ops[i].name;
	if (ops[i].start(c, args, err, sizeof(err)) == -1) {
		chan_reply_error(e->ch, hdr, 400, err[0] ? err : "invalid arguments");
		call_free(c);
	}
	json_decref(args);
}
