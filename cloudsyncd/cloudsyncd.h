/*
 * cloudsyncd.h - the cloud-sync daemon: provisioning, target-state polling
 * and state reports against the balena device API (HTTPS, libcurl).
 * Unprivileged, sandboxed, and it never touches files: its config (uuid,
 * keys, endpoint, CA) comes over its channel, and what it learns goes back.
 */
#ifndef AGENTD_CLOUDSYNCD_H
#define AGENTD_CLOUDSYNCD_H

#include <stdint.h>

#include "child.h"
#include "http.h"

struct cloudlog;

struct cloud {
	struct chan *ch;
	struct http *http; /* owned */
	json_t *config;    /* owned: the strings below point into it */
	const char *endpoint, *uuid, *device_api_key, *provisioning_key, *device_type;
	const char *os_version, *os_variant, *mac_address, *supervisor_version;
	json_t *application;
	char lookup_path[256];
	int provisioned;
	long long device_id;
	long poll_interval_ms, bootstrap_retry_ms, request_timeout_ms;
	unsigned failures, report_failures;
	int polling, reporting;
	char etag[256];
	struct event *ev_poll, *ev_report; /* owned */
	json_t *sent;                      /* owned: the fields the cloud has */
	json_t *pending_report;            /* owned: the latest report not sent yet */
	json_t *in_flight;                 /* owned: the fields being sent */
	int64_t last_report_ms;
	int64_t last_metrics_ms;   /* when metrics were last sent */
	const char *logs_endpoint; /* logsEndpoint, else the api endpoint */
	struct cloudlog *logs;     /* owned */
	/* tags.c (all owned) */
	json_t *tags_target, *tags_reported, *tags_in_flight;
	int tags_busy;
	unsigned tags_failures;
	struct event *ev_tags;
	/* initial.c */
	json_t *initial; /* owned: {config, device_name?} still to report, or NULL */
	json_t *pin;     /* owned: {app, commit} of a preloaded release to pin to, or NULL */
	size_t initial_step;
	int initial_busy;
	unsigned initial_failures;
	struct event *ev_initial; /* owned */
	/* delta.c */
	const char *delta_endpoint; /* deltaEndpoint (points into config) */
	char delta_token[2048];     /* the last registry token, for delta_token_url */
	char delta_token_url[2048];
	int64_t delta_token_at; /* when it was got (ms, monotonic) */
	/* connectivity.c */
	int check_on;            /* the check runs (else the cloud counts as reachable) */
	int connected;           /* what agentd was told last: 1, 0, -1 nothing yet */
	char check_url[300];     /* "http://host:port/" of the API endpoint, "" if none */
	struct event *ev_check;  /* owned */
	struct xfer *check_xfer; /* the check in flight, or NULL */
};

/* delta.c */
/// MSG_CLOUD_DELTA {src, dest, timeout_ms}: answered with MSG_CLOUD_RESULT
/// {outcome: ready|processing|retry|fallback, name?, token?, reason?}.
void cloud_delta(struct cloud *c, const struct frame_hdr *hdr, json_t *body);
/// Split an image reference into its registry host ("" when it names none)
/// and its repository without tag or digest ("registry2.x/v2/abc@sha256:..."
/// -> "registry2.x", "v2/abc"). -1 if it does not fit or names nothing.
int delta_repo(const char *ref, char *host, size_t hlen, char *name, size_t nlen);

/* request.c */
/// One request to the API endpoint + path, with "Authorization: Bearer <key>"
/// and an optional extra header; `body` (borrowed) is sent as JSON.
void cloud_request(struct cloud *c, const char *method, const char *path, const char *key,
		   json_t *body, xfer_done_cb done, void *arg, const char *extra_header);
/// A GET of a full URL (another server than the API endpoint) with one
/// header line, `auth` ("Authorization: ...").
void cloud_get(struct cloud *c, const char *url, const char *auth, long timeout_ms,
	       xfer_done_cb done, void *arg);
/// Arm a one-shot timer to fire `ms` from now (re-arming it if pending).
void cloud_after_ms(struct event *ev, long ms);
/// Why a request failed, for the log: the transport error, or "HTTP <status>"
/// and the first line of the body (at most CLOUD_REASON_MAX characters, control
/// characters blanked, the device's keys redacted). Returns buf.
#define CLOUD_REASON_MAX 200
const char *cloud_reason(struct cloud *c, const char *err, long status, const char *body,
			 size_t len, char *buf, size_t buflen);
/// `base` doubled `n` times, at most `cap`: the retry delays of cloudsyncd.
long cloud_backoff(long base, unsigned n, long cap);

/* sync.c */
int cloud_setup(struct cloud *c, struct event_base *base, json_t *config);
void cloud_teardown(struct cloud *c);
void cloud_poll_now(struct cloud *c);
/// New poll interval / request timeout from the device config vars.
void cloud_settings(struct cloud *c, json_t *body);
/// A whole current-state report from agentd (borrowed).
void cloud_report(struct cloud *c, json_t *report);

/* logs.c */
void cloud_logs_setup(struct cloud *c, struct event_base *base);
void cloud_logs_teardown(struct cloud *c);
/// Queue one device log line (MSG_CLOUD_LOG body; may be edited).
void cloud_log(struct cloud *c, json_t *line);

/* initial.c */
void cloud_initial_setup(struct cloud *c, struct event_base *base);
void cloud_initial_teardown(struct cloud *c);
/// Report the initial config, if agentd asked for it (once provisioned).
void cloud_initial_start(struct cloud *c);

/* connectivity.c */
/// "http://host:port/" for a TCP check of the API endpoint (443 for https, 80
/// for http, unless it names a port). -1 when it is no http(s) URL.
int cloud_connect_url(const char *endpoint, char *out, size_t len);
void cloud_connectivity_setup(struct cloud *c, struct event_base *base, int on);
void cloud_connectivity_teardown(struct cloud *c);
/// SUPERVISOR_CONNECTIVITY_CHECK as agentd has it (off while the VPN is up).
void cloud_connectivity_set(struct cloud *c, int on);

/* tags.c */
void cloud_tags_setup(struct cloud *c, struct event_base *base);
void cloud_tags_teardown(struct cloud *c);
/// The tags the device should have (borrowed).
void cloud_tags(struct cloud *c, json_t *tags);
/// Answer MSG_CLOUD_TAGS_GET with the cloud's tags.
void cloud_tags_get(struct cloud *c, const struct frame_hdr *hdr);

/* sandbox.c */
extern const struct sandbox_policy cloudsyncd_policy;

#endif
