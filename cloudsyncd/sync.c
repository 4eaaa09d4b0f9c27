/*
 * cloudsyncd/sync.c - the device side of the balena device API: register
 * the device (with the 409 key exchange), poll the target state with ETags,
 * and PATCH state reports (changed top-level fields only, at most one per
 * 10 s, Retry-After read as seconds). Everything it learns goes to agentd;
 * cloudsyncd itself keeps no files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cloudsyncd.h"
#include "log.h"
#include "report.h"

#define REPORT_MIN_MS   10000
#define BACKOFF_BASE_MS 500

static int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* --- Provisioning ------------------------------------------------------------- */

static void cloud_provisioned(struct cloud *c, long long device_id)
{
	json_t *m = json_pack("{s:I, s:I}", "device_id", (json_int_t)device_id, "registered_at",
			      (json_int_t)wall_ms());

	log_info("device provisioned (device id %lld)", device_id);
	c->device_id = device_id;
	chan_send_json(c->ch, MSG_CLOUD_PROVISIONED, 0, 0, m);
	json_decref(m);
	c->provisioned = 1;
	c->failures = 0;
	cloud_after_ms(c->ev_poll, 0);
	cloud_initial_start(c);
}

static void cloud_retry_provision(struct cloud *c, const char *why)
{
	long d = cloud_backoff(BACKOFF_BASE_MS, c->failures++, c->bootstrap_retry_ms);

	log_warnx("provisioning failed: %s; retrying in %ld ms", why, d);
	cloud_after_ms(c->ev_poll, d);
}

static void key_exchange_done(struct xfer *x, const char *err, long status, const char *body,
			      size_t len, void *arg)
{
	struct cloud *c = arg;
	char why[CLOUD_REASON_MAX + 300];

	(void)x;
	if (err == NULL && status == 200)
		cloud_provisioned(c, c->device_id);
	else
		cloud_retry_provision(c, cloud_reason(c, err, status, body, len, why, sizeof(why)));
}

/* GET /v7/device?...uuid eq '<uuid>' -> the device id, or -1 */
static long long device_id_of(const char *body, size_t len)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	long long id = json_integer_value(
		json_object_get(json_array_get(json_object_get(j, "d"), 0), "id"));

	json_decref(j);
	return id > 0 ? id : -1;
}

static void lookup_with_provisioning_key(struct xfer *x, const char *err, long status,
					 const char *body, size_t len, void *arg)
{
	struct cloud *c = arg;
	char path[128], why[CLOUD_REASON_MAX + 300];
	json_t *b;

	(void)x;
	if (err != NULL || status != 200) {
		cloud_retry_provision(c, cloud_reason(c, err, status, body, len, why, sizeof(why)));
		return;
	}
	if ((c->device_id = device_id_of(body, len)) < 0) {
		cloud_retry_provision(c, "cannot find the device to exchange its key");
		return;
	}
	snprintf(path, sizeof(path), "/api-key/device/%lld/device-key", c->device_id);
	b = json_pack("{s:s}", "apiKey", c->device_api_key);
	cloud_request(c, "POST", path, c->provisioning_key, b, key_exchange_done, c,
		      "Content-Type: application/json");
	json_decref(b);
}

static void lookup_with_device_key(struct xfer *x, const char *err, long status, const char *body,
				   size_t len, void *arg)
{
	struct cloud *c = arg;
	long long id;

	(void)x;
	if (err == NULL && status == 200 && (id = device_id_of(body, len)) > 0) {
		cloud_provisioned(c, id); /* our key already works */
		return;
	}
	cloud_request(c, "GET", c->lookup_path, c->provisioning_key, NULL,
		      lookup_with_provisioning_key, c, NULL);
}

static void register_done(struct xfer *x, const char *err, long status, const char *body,
			  size_t len, void *arg)
{
	struct cloud *c = arg;
	json_t *j;

	(void)x;
	if (err == NULL && status == 201) {
		j = json_loadb(body, len, 0, NULL);
		cloud_provisioned(c, json_integer_value(json_object_get(j, "id")));
		json_decref(j);
	} else if (err == NULL && status == 409) {
		log_info("device already registered: exchanging keys");
		cloud_request(c, "GET", c->lookup_path, c->device_api_key, NULL,
			      lookup_with_device_key, c, NULL);
	} else {
		char why[CLOUD_REASON_MAX + 300];

		cloud_retry_provision(c, cloud_reason(c, err, status, body, len, why, sizeof(why)));
	}
}

static void cloud_register(struct cloud *c)
{
	json_t *b = json_pack("{s:O, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "application",
			      c->application, "uuid", c->uuid, "device_type", c->device_type,
			      "api_key", c->device_api_key, "supervisor_version",
			      c->supervisor_version, "os_version", c->os_version, "os_variant",
			      c->os_variant, "mac_address", c->mac_address);

	cloud_request(c, "POST", "/device/register", c->provisioning_key, b, register_done, c,
		      "Content-Type: application/json");
	json_decref(b);
}

/* --- Target polling --------------------------------------------------------------- */

static long poll_delay(struct cloud *c)
{
	long jitter = c->poll_interval_ms / 10 + 1;

	return c->poll_interval_ms + (long)(random() % jitter);
}

static void poll_done(struct xfer *x, const char *err, long status, const char *body, size_t len,
		      void *arg)
{
	struct cloud *c = arg;
	const char *etag = x ? xfer_header(x, "ETag") : NULL;
	char complexity[128];
	json_t *t, *m;
	json_error_t jerr;

	c->polling = 0;
	if (err == NULL && status == 304) {
		c->failures = 0;
		cloud_after_ms(c->ev_poll, poll_delay(c));
		return;
	}
	if (err != NULL || status != 200) {
		long d = cloud_backoff(BACKOFF_BASE_MS, c->failures++,
				       c->poll_interval_ms > 15000 ? c->poll_interval_ms : 15000);

		char why[CLOUD_REASON_MAX + 300];

		log_warnx("target state poll failed: %s; retrying in %ld ms",
			  cloud_reason(c, err, status, body, len, why, sizeof(why)), d);
		cloud_after_ms(c->ev_poll, d);
		return;
	}
	/* What agentd would refuse is refused here, before parsing it: the
	 * catalogue's limits, less the envelope {target, etag}. */
	if (json_text_within(body, len, msg_catalogue[MSG_CLOUD_TARGET].max_depth - 1,
			     msg_catalogue[MSG_CLOUD_TARGET].max_items - 2, complexity,
			     sizeof(complexity)) == -1) {
		log_warnx("Could not move to new release: the target state is too complex: %s",
			  complexity);
		cloud_after_ms(c->ev_poll, poll_delay(c));
		return;
	}
	if ((t = json_loadb(body, len, 0, &jerr)) == NULL || !json_is_object(t)) {
		log_warnx("Could not move to new release: the target state is not a JSON object "
			  "(%s)",
			  t ? "not an object" : jerr.text);
		json_decref(t);
		cloud_after_ms(c->ev_poll, cloud_backoff(BACKOFF_BASE_MS, c->failures++, 15000));
		return;
	}
	c->failures = 0;
	/* Checked here first (agentd checks it all again): it is for this device. */
	if (!json_is_object(json_object_get(t, c->uuid))) {
		log_warnx("Could not move to new release: Expected target state for local device "
			  "with uuid '%s'.",
			  c->uuid);
		json_decref(t);
		cloud_after_ms(c->ev_poll, poll_delay(c));
		return;
	}
	m = json_pack("{s:o, s:s?}", "target", t, "etag", etag);
	if (chan_send_json(c->ch, MSG_CLOUD_TARGET, 0, 0, m) == 0 && etag != NULL)
		snprintf(c->etag, sizeof(c->etag), "%s", etag);
	json_decref(m);
	cloud_after_ms(c->ev_poll, poll_delay(c));
}

static void sync_poll(struct cloud *c)
{
	char path[256], inm[300];

	if (c->polling)
		return;
	c->polling = 1;
	snprintf(path, sizeof(path), "/device/v3/%s/state", c->uuid);
	snprintf(inm, sizeof(inm), "If-None-Match: %s", c->etag);
	cloud_request(c, "GET", path, c->device_api_key, NULL, poll_done, c,
		      c->etag[0] ? inm : NULL);
}

static void cloud_on_poll_timer(evutil_socket_t fd, short what, void *arg)
{
	struct cloud *c = arg;

	(void)fd;
	(void)what;
	if (c->provisioned)
		sync_poll(c);
	else
		cloud_register(c);
}

void cloud_settings(struct cloud *c, json_t *body)
{
	json_int_t poll = json_integer_value(json_object_get(body, "poll_interval_ms"));
	json_int_t timeout = json_integer_value(json_object_get(body, "request_timeout_ms"));
	json_t *check = json_object_get(body, "connectivity_check");

	if (json_is_boolean(check))
		cloud_connectivity_set(c, json_is_true(check));
	if (poll > 0)
		c->poll_interval_ms = (long)poll;
	if (timeout > 0)
		c->request_timeout_ms = (long)timeout;
}

void cloud_poll_now(struct cloud *c)
{
	if (c->provisioned)
		cloud_after_ms(c->ev_poll, 0);
}

/* --- Reports ------------------------------------------------------------------------ */

static void report_send(struct cloud *c);

static void report_done(struct xfer *x, const char *err, long status, const char *body, size_t len,
			void *arg)
{
	struct cloud *c = arg;
	const char *ra = x ? xfer_header(x, "Retry-After") : NULL;
	const char *k;
	char why[CLOUD_REASON_MAX + 300];
	json_t *v;

	c->reporting = 0;
	c->last_report_ms = wall_ms();
	if (err == NULL && status >= 200 && status < 300) {
		json_t *m;

		json_object_foreach(c->in_flight, k, v)
			json_object_set(c->sent, k, v);
		/* agentd keeps it in the run dir: a restart need not resend it all */
		m = json_pack("{s:O}", "sent", c->sent);
		chan_send_json(c->ch, MSG_CLOUD_REPORTED, 0, 0, m);
		json_decref(m);
		json_decref(c->in_flight);
		c->in_flight = NULL;
		c->report_failures = 0;
		if (c->pending_report != NULL)
			cloud_after_ms(c->ev_report, REPORT_MIN_MS);
		return;
	}
	json_decref(c->in_flight);
	c->in_flight = NULL;
	/* Retry-After is seconds (RFC 9110), whatever the Node supervisor did. */
	cloud_after_ms(c->ev_report,
		       ra && atol(ra) > 0
			       ? atol(ra) * 1000
			       : cloud_backoff(BACKOFF_BASE_MS, c->report_failures++ + 5, 900000));
	log_warnx("state report failed: %s",
		  cloud_reason(c, err, status, body, len, why, sizeof(why)));
}

static void report_send(struct cloud *c)
{
	json_t *diff, *body, *v;
	const char *k;

	if (c->reporting || c->pending_report == NULL || !c->provisioned)
		return;
	if (wall_ms() - c->last_report_ms < REPORT_MIN_MS) {
		cloud_after_ms(c->ev_report,
			       (long)(REPORT_MIN_MS - (wall_ms() - c->last_report_ms)));
		return;
	}
	/* Only the top-level fields that changed, each whole (report.c). */
	diff = report_diff(c->sent, c->pending_report, wall_ms(), c->last_metrics_ms);
	json_decref(c->pending_report);
	c->pending_report = NULL;
	json_object_foreach(diff, k, v) {
		if (report_is_metric(k)) {
			c->last_metrics_ms = wall_ms();
			break;
		}
	}
	if (json_object_size(diff) == 0) {
		json_decref(diff);
		return;
	}
	c->reporting = 1;
	c->in_flight = diff;
	body = json_pack("{s:O}", c->uuid, diff);
	cloud_request(c, "PATCH", "/device/v3/state", c->device_api_key, body, report_done, c,
		      "Content-Type: application/json");
	json_decref(body);
}

static void cloud_on_report_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	report_send(arg);
}

void cloud_report(struct cloud *c, json_t *report)
{
	json_decref(c->pending_report);
	c->pending_report = json_incref(report);
	report_send(c);
}

/* --- Set-up ------------------------------------------------------------------------- */

int cloud_setup(struct cloud *c, struct event_base *base, json_t *config)
{
	const char *ca = NULL;
	json_int_t poll = 900000, retry = 30000, timeout = 59000;
	char ua[160];

	if (json_unpack(config,
			"{s:s, s:s, s:s, s?s, s?O, s?s, s?s, s?s, s?s, s?s, s?s, s?b, s?I, s?I, "
			"s?I}",
			"api_endpoint", &c->endpoint, "uuid", &c->uuid, "device_api_key",
			&c->device_api_key, "provisioning_key", &c->provisioning_key, "application",
			&c->application, "device_type", &c->device_type, "os_version",
			&c->os_version, "os_variant", &c->os_variant, "mac_address",
			&c->mac_address, "supervisor_version", &c->supervisor_version, "ca_pem",
			&ca, "registered", &c->provisioned, "poll_interval_ms", &poll,
			"bootstrap_retry_ms", &retry, "request_timeout_ms", &timeout) == -1) {
		log_error("cloud config incomplete");
		return -1;
	}
	c->config = json_incref(config); /* keeps the strings above alive */
	c->device_id = json_integer_value(json_object_get(config, "device_id"));
	if (c->application == NULL)
		c->application = json_null();
	c->poll_interval_ms = poll > 0 ? (long)poll : 900000;
	c->bootstrap_retry_ms = retry > 0 ? (long)retry : 30000;
	c->request_timeout_ms = timeout > 0 ? (long)timeout : 59000;
	snprintf(c->lookup_path, sizeof(c->lookup_path),
		 "/v7/device?$select=id&$filter=uuid%%20eq%%20'%s'", c->uuid);
	if ((c->http = http_new(base, NULL)) == NULL)
		return -1;
	/* The CA is loaded now, before the sandbox forbids reading files. */
	if (ca != NULL && http_set_ca(c->http, ca, strlen(ca)) == -1)
		return -1;
	snprintf(ua, sizeof(ua), "Supervisor/%s (Linux; %s; %s)", c->supervisor_version,
		 c->os_version, c->os_variant);
	http_set_user_agent(c->http, ua);
	c->delta_endpoint = json_string_value(json_object_get(config, "delta_endpoint"));
	if (c->delta_endpoint == NULL)
		c->delta_endpoint = "https://delta.balena-cloud.com";
	c->logs_endpoint = json_string_value(json_object_get(config, "logs_endpoint"));
	if (c->logs_endpoint == NULL)
		c->logs_endpoint = c->endpoint;
	cloud_logs_setup(c, base);
	cloud_tags_setup(c, base);
	cloud_initial_setup(c, base);
	cloud_connectivity_setup(c, base,
				 !json_is_false(json_object_get(config, "connectivity_check")));
	c->sent = json_is_object(json_object_get(config, "report_cache"))
			  ? json_deep_copy(json_object_get(config, "report_cache"))
			  : json_object();
	c->ev_poll = evtimer_new(base, cloud_on_poll_timer, c);
	c->ev_report = evtimer_new(base, cloud_on_report_timer, c);
	cloud_after_ms(c->ev_poll, 0);
	return 0;
}

void cloud_teardown(struct cloud *c)
{
	cloud_logs_teardown(c);
	cloud_tags_teardown(c);
	cloud_initial_teardown(c);
	cloud_connectivity_teardown(c);
	http_free(c->http);
	if (c->ev_poll)
		event_free(c->ev_poll);
	if (c->ev_report)
		event_free(c->ev_report);
	json_decref(c->sent);
	json_decref(c->pending_report);
	json_decref(c->in_flight);
	json_decref(c->config);
}
