/*
 * cloudsyncd/initial.c - what a newly provisioned device tells the API
 * (facts §3.2): first, for a preloaded device with pinDevice, it pins
 * itself to the preloaded release (MSG_CLOUD_PINNED when done); then its
 * config values that differ from the defaults, as device config
 * variables, and its initial name. agentd works out what to send (config
 * "pin_device", "initial_report") and records what was done, so that the
 * pin happens once and the report once per API endpoint. Failures retry
 * with backoff.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudsyncd.h"
#include "log.h"

static void initial_next(struct cloud *c);

static void initial_failed(struct cloud *c, const char *what, const char *err, long status,
			   const char *body, size_t len)
{
	char why[CLOUD_REASON_MAX + 300];

	log_warnx("%s failed: %s", what, cloud_reason(c, err, status, body, len, why, sizeof(why)));
	cloud_after_ms(c->ev_initial,
		       cloud_backoff(15000, c->initial_failures++, c->bootstrap_retry_ms));
}

static void pin_done(struct xfer *x, const char *err, long status, const char *body, size_t len,
		     void *arg)
{
	struct cloud *c = arg;

	(void)x;
	c->initial_busy = 0;
	if (err != NULL || status < 200 || status >= 300) {
		initial_failed(c, "pinning the device", err, status, body, len);
		return;
	}
	log_info("device pinned to the preloaded release");
	chan_send_json(c->ch, MSG_CLOUD_PINNED, 0, 0, NULL);
	json_decref(c->pin);
	c->pin = NULL;
	c->initial_failures = 0;
	initial_next(c);
}

/* GET /v7/release answered: pin the device to the release it names. */
static void pin_release_found(struct xfer *x, const char *err, long status, const char *body,
			      size_t len, void *arg)
{
	struct cloud *c = arg;
	json_t *j = err == NULL && status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
	json_int_t rid = json_integer_value(
		json_object_get(json_array_get(json_object_get(j, "d"), 0), "id"));
	json_t *patch;
	char path[128];

	(void)x;
	json_decref(j);
	c->initial_busy = 0;
	if (rid <= 0) {
		initial_failed(c, "finding the preloaded release",
			       err ? err : (status == 200 ? "no such successful release" : NULL),
			       status, body, len);
		return;
	}
	snprintf(path, sizeof(path), "/v7/device(%lld)", c->device_id);
	patch = json_pack("{s:I}", "is_pinned_on__release", rid);
	c->initial_busy = 1;
	cloud_request(c, "PATCH", path, c->device_api_key, patch, pin_done, c, NULL);
	json_decref(patch);
}

static void pin_start(struct cloud *c)
{
	char path[512];
	const char *commit = json_string_value(json_object_get(c->pin, "commit"));
	json_int_t app = json_integer_value(json_object_get(c->pin, "app"));
	size_t i;

	/* the commit goes into a URL: hex (or at least lower-case letters and digits) */
	for (i = 0; commit != NULL && commit[i] != '\0'; i++)
		if (!((commit[i] >= '0' && commit[i] <= '9') ||
		      (commit[i] >= 'a' && commit[i] <= 'z')))
			break;
	if (commit == NULL || commit[i] != '\0' || i == 0 || i > 64 || app <= 0) {
		log_warnx("pinDevice: the preloaded app has no usable id and commit; not pinned");
		json_decref(c->pin);
		c->pin = NULL;
		chan_send_json(c->ch, MSG_CLOUD_PINNED, 0, 0, NULL); /* nothing to retry */
		initial_next(c);
		return;
	}
	snprintf(path, sizeof(path),
		 "/v7/release?$select=id&$filter=belongs_to__application%%20eq%%20%lld%%20and%%20"
		 "commit%%20eq%%20'%s'%%20and%%20status%%20eq%%20'success'",
		 (long long)app, commit);
	c->initial_busy = 1;
	cloud_request(c, "GET", path, c->device_api_key, NULL, pin_release_found, c, NULL);
}

static void initial_done(struct xfer *x, const char *err, long status, const char *body, size_t len,
			 void *arg)
{
	struct cloud *c = arg;

	(void)x;
	c->initial_busy = 0;
	/* 409: the variable is there already (a report cut short earlier) */
	if (err == NULL && ((status >= 200 && status < 300) || status == 409)) {
		c->initial_step++;
		c->initial_failures = 0;
		initial_next(c);
		return;
	}
	initial_failed(c, "initial config report", err, status, body, len);
}

/* Step n: the n-th config variable, then the device name, then done. */
static void initial_next(struct cloud *c)
{
	json_t *vars = json_object_get(c->initial, "config");
	const char *name = json_string_value(json_object_get(c->initial, "device_name"));
	size_t nvars = json_object_size(vars), i = 0;
	char path[128], var[300];
	const char *k;
	json_t *v, *body;

	if (c->initial_busy || !c->provisioned)
		return;
	if (c->pin != NULL) {
		pin_start(c);
		return;
	}
	if (c->initial == NULL)
		return;
	if (c->initial_step < nvars) {
		json_object_foreach(vars, k, v) {
			if (i++ != c->initial_step)
				continue;
			snprintf(var, sizeof(var), "RESIN_%s", k);
			body = json_pack("{s:O, s:I, s:s}", "value", v, "device",
					 (json_int_t)c->device_id, "name", var);
			c->initial_busy = 1;
			cloud_request(c, "POST", "/v7/device_config_variable", c->device_api_key,
				      body, initial_done, c, NULL);
			json_decref(body);
			return;
		}
	}
	if (c->initial_step == nvars && name != NULL && name[0] != '\0') {
		snprintf(path, sizeof(path), "/v7/device(%lld)", c->device_id);
		body = json_pack("{s:s}", "device_name", name);
		c->initial_busy = 1;
		cloud_request(c, "PATCH", path, c->device_api_key, body, initial_done, c, NULL);
		json_decref(body);
		return;
	}
	log_info("initial config reported (%zu variable%s%s)", nvars, nvars == 1 ? "" : "s",
		 name ? ", device name" : "");
	body = json_pack("{s:s}", "endpoint", c->endpoint);
	chan_send_json(c->ch, MSG_CLOUD_INITIAL_REPORTED, 0, 0, body);
	json_decref(body);
	json_decref(c->initial);
	c->initial = NULL;
}

static void initial_on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	initial_next(arg);
}

void cloud_initial_start(struct cloud *c)
{
	if (c->initial != NULL || c->pin != NULL)
		cloud_after_ms(c->ev_initial, 0);
}

void cloud_initial_setup(struct cloud *c, struct event_base *base)
{
	json_t *r = json_object_get(c->config, "initial_report");

	c->ev_initial = evtimer_new(base, initial_on_timer, c);
	if (json_is_object(r))
		c->initial = json_incref(r);
	if (json_is_object(json_object_get(c->config, "pin_device")))
		c->pin = json_incref(json_object_get(c->config, "pin_device"));
	if (c->provisioned)
		cloud_initial_start(c);
}

void cloud_initial_teardown(struct cloud *c)
{
	if (c->ev_initial)
		event_free(c->ev_initial);
	json_decref(c->initial);
	json_decref(c->pin);
}
