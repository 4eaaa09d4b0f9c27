/*
 * proto.h - the message catalogue of the agentd suite: every message type
 * that may cross a socketpair, who may send it to whom, and how big it may be.
 *
 * Rule: bump PROTO_VERSION whenever a type is added, removed or its body
 * changes. Every frame carries the version (see frame.h) and the handshake
 * (MSG_HELLO/MSG_CONFIG) refuses a peer built with another one.
 */
#ifndef AGENTD_PROTO_H
#define AGENTD_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION 12

/* agentd's own version, for User-Agent and /v2/version */
#define AGENTD_VERSION_STR "0.1.0"

/* Largest frame payload on any channel: apid relays request bodies of up to
 * 10 MB (the API's limit), so 16 MiB leaves room for the JSON envelope. */
#define PROTO_MAX_PAYLOAD (16u * 1024 * 1024)

/* The fixed fd on which a child finds its end of the socketpair. */
#define PROTO_CHILD_FD 3

enum daemon_id { D_AGENTD, D_ENGINECTL, D_APID, D_CLOUDSYNCD, D_COUNT };

#define D_BIT(d)   (1u << (d))
#define D_CHILDREN (D_BIT(D_ENGINECTL) | D_BIT(D_APID) | D_BIT(D_CLOUDSYNCD))

/*
 * Message types. Bodies are JSON objects; the shape is given beside each.
 * A reply carries FRAME_F_REPLY and the request's id; MSG_ERROR is the reply
 * to any request that failed: {"error": "reason", "status"?: int}.
 */
enum msg_type {
	MSG_NONE,
	MSG_ERROR,    /* any -> any (reply)   {error, status?} */
	MSG_HELLO,    /* child -> agentd      {version, daemon, pid} */
	MSG_CONFIG,   /* agentd -> child      {version, verbose, sandbox, user, ...per daemon} */
	MSG_READY,    /* child -> agentd      {} once sandboxed and serving */
	MSG_PING,     /* agentd -> child      {} liveness probe, answered with MSG_PONG */
	MSG_PONG,     /* child -> agentd      {} (reply) */
	MSG_HEALTH,   /* agentd -> apid       {healthy, reason?} */
	MSG_SHUTDOWN, /* agentd -> child      {} stop cleanly and exit 0 */

	/* The engine (enginectl/ops.c lists the ops and their arguments). */
	MSG_ENGINE_CALL,     /* agentd -> enginectl   {op, args} request */
	MSG_ENGINE_RESULT,   /* enginectl -> agentd   {status, body} reply (MSG_ERROR on failure) */
	MSG_ENGINE_STATE,    /* enginectl -> agentd   {connected, api_version?, engine_version?,
				resync?, error?} */
	MSG_ENGINE_EVENT,    /* enginectl -> agentd   {type, action, id, attributes, time_ms} */
	MSG_ENGINE_PROGRESS, /* enginectl -> agentd   {request, image, percent} of a pull */
	MSG_ENGINE_LOG,      /* enginectl -> agentd   {container, stream, timestamp, message} */
	MSG_ENGINE_LOG_END,  /* enginectl -> agentd   {container, reason} following stopped */

	/* The local API (agentd/api.c lists the routes). */
	MSG_API_CALL,  /* apid -> agentd   {route, params, query, body, key_scope} request */
	MSG_API_REPLY, /* agentd -> apid   {status, json | text} reply */
	MSG_API_AUTH,  /* agentd -> apid   {enabled, keys: [{key, scopes}]} who may call */
	MSG_LOG_WANT,  /* apid -> agentd   {want} whether anyone streams /v2/local/logs */
	MSG_LOG,       /* agentd -> apid   one device log line, as /v2/local/logs shows it */

	/* The cloud (cloudsyncd/sync.c). */
	MSG_CLOUD_PROVISIONED, /* cloudsyncd -> agentd  {device_id, registered_at} */
	MSG_CLOUD_TARGET,      /* cloudsyncd -> agentd  {target, etag?} a new target state */
	MSG_CLOUD_POLL,        /* agentd -> cloudsyncd  {} poll the target now */
	MSG_CLOUD_REPORT,      /* agentd -> cloudsyncd  {report} the current state, whole */
	MSG_CLOUD_LOG,         /* agentd -> cloudsyncd  {line} one device log line */
	MSG_CLOUD_TAGS,        /* agentd -> cloudsyncd  {tags} the device tags to have */
	MSG_CLOUD_TAGS_GET,    /* agentd -> cloudsyncd  {} request: the cloud's tags */
	MSG_CLOUD_RESULT,      /* cloudsyncd -> agentd  {tags} reply to MSG_CLOUD_TAGS_GET */
	MSG_CLOUD_REPORTED,    /* cloudsyncd -> agentd  {sent} what the cloud has: cache it */
	MSG_CLOUD_SETTINGS,    /* agentd -> cloudsyncd  {poll_interval_ms?, request_timeout_ms?,
				  connectivity_check?} */
	MSG_CLOUD_INITIAL_REPORTED, /* cloudsyncd -> agentd  {endpoint} initial config sent */
	MSG_CLOUD_PINNED,           /* cloudsyncd -> agentd  {} the preloaded release is pinned */
	MSG_CLOUD_DELTA, /* agentd -> cloudsyncd  {src, dest, timeout_ms} request: a delta's name
			    (reply MSG_CLOUD_RESULT {outcome, name?, token?, reason?}) */
	MSG_CLOUD_CONNECTIVITY, /* cloudsyncd -> agentd  {connected} the API endpoint can
				   (not) be reached: sent when that changes */
	MSG_TYPE_COUNT
};

struct msg_spec {
	const char *name;
	uint32_t senders;   /* D_BIT()s of who may send it */
	uint32_t receivers; /* D_BIT()s of who may receive it */
	uint32_t max_len;   /* payload cap, checked before parsing */
	uint32_t max_depth; /* deepest nesting of arrays and objects, checked before parsing */
	uint32_t max_items; /* array elements and object members in all, checked before parsing */
};

extern const struct msg_spec msg_catalogue[MSG_TYPE_COUNT];
extern const char *const daemon_names[D_COUNT];

/// Name of a message type, or "unknown".
const char *msg_name(uint32_t type);

/// Check that `type` exists, may travel from `from` to `to`, and that `len`
/// is within its cap. Returns 0, or -1 with a static reason in *why.
int msg_check(uint32_t type, enum daemon_id from, enum daemon_id to, uint32_t len,
	      const char **why);

/// Check a payload of `type` against its depth and item limits, by reading
/// the JSON text once without parsing it (so an absurd payload costs no
/// memory). Returns 0, or -1 with the reason written to why.
int msg_check_body(uint32_t type, const char *text, size_t len, char *why, size_t whylen);

/// Measure JSON text without parsing it: returns 0 when it nests at most
/// max_depth arrays and objects deep and holds at most max_items array
/// elements and object members in all; else -1 and the reason in why
/// ("nested more than 32 levels deep", "more than 1000 values"). Text that is
/// not JSON is measured as far as it looks like JSON; the parser refuses it.
int json_text_within(const char *text, size_t len, uint32_t max_depth, uint32_t max_items,
		     char *why, size_t whylen);

#endif
