/*
 * cloudsyncd/initial.c - the first report of a device to the API it is
 * managed by (facts §3.2 step 3): its config values that differ from the
 * defaults, as device config variables, then its initial name. agentd
 * works out what to send (config "initial_report"), and records in
 * config.json once it is done (MSG_CLOUD_INITIAL_REPORTED), so that it
 * happens once per API endpoint. Failures retry with backoff.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudsyncd.h"
#include "log.h"

static void initial_next(struct cloud *c);

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
	log_warnx("initial config report failed: %s%s%.*s", err ? err : "the API refused it",
		  err ? "" : ": ", err ? 0 : (int)(len > 200 ? 200 : len), body);
	cloud_after_ms(c->ev_initial,
		       cloud_backoff(15000, c->initial_failures++, c->bootstrap_retry_ms));
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

	if (c->initial == NULL || c->initial_busy || !c->provisioned)
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
	if (c->initial != NULL)
		cloud_after_ms(c->ev_initial, 0);
}

void cloud_initial_setup(struct cloud *c, struct event_base *base)
{
	json_t *r = json_object_get(c->config, "initial_report");

	c->ev_initial = evtimer_new(base, initial_on_timer, c);
	if (json_is_object(r))
		c->initial = json_incref(r);
	if (c->provisioned)
		cloud_initial_start(c);
}

void cloud_initial_teardown(struct cloud *c)
{
	if (c->ev_initial)
		event_free(c->ev_initial);
	json_decref(c->initial);
}
