/*
 * proto.c - the message catalogue table and its checks (see proto.h).
 */
#include <stddef.h>
#include <stdio.h>

#include "proto.h"

#define KiB 1024u

const char *const daemon_names[D_COUNT] = {
	[D_AGENTD] = "agentd",
	[D_ENGINECTL] = "enginectl",
	[D_APID] = "apid",
	[D_CLOUDSYNCD] = "cloudsyncd",
};

/* Depth and item limits (see proto.h): a few levels and items more than the
 * bodies beside each type need. The large ones carry what came from outside:
 * a target state (api-call, cloud-target: its services, env vars, labels),
 * the engine's answers (engine-result: every container and image), the
 * cloud's copy of the state report (cloud-reported). */
#define SMALL 4, 64 /* flat bodies: {version, daemon, pid}, {} ... */
#define LARGE 32, 200000

const struct msg_spec msg_catalogue[MSG_TYPE_COUNT] = {
	[MSG_ERROR] = {"error", D_BIT(D_AGENTD) | D_CHILDREN, D_BIT(D_AGENTD) | D_CHILDREN,
		       64 * KiB, SMALL},
	[MSG_HELLO] = {"hello", D_CHILDREN, D_BIT(D_AGENTD), 4 * KiB, SMALL},
	[MSG_CONFIG] = {"config", D_BIT(D_AGENTD), D_CHILDREN, 256 * KiB, 16, 20000},
	[MSG_READY] = {"ready", D_CHILDREN, D_BIT(D_AGENTD), 4 * KiB, SMALL},
	[MSG_PING] = {"ping", D_BIT(D_AGENTD), D_CHILDREN, 1 * KiB, SMALL},
	[MSG_PONG] = {"pong", D_CHILDREN, D_BIT(D_AGENTD), 1 * KiB, SMALL},
	[MSG_HEALTH] = {"health", D_BIT(D_AGENTD), D_BIT(D_APID), 4 * KiB, SMALL},
	[MSG_SHUTDOWN] = {"shutdown", D_BIT(D_AGENTD), D_CHILDREN, 1 * KiB, SMALL},
	[MSG_ENGINE_CALL] = {"engine-call", D_BIT(D_AGENTD), D_BIT(D_ENGINECTL), 4096 * KiB, LARGE},
	[MSG_ENGINE_RESULT] = {"engine-result", D_BIT(D_ENGINECTL), D_BIT(D_AGENTD),
			       PROTO_MAX_PAYLOAD, LARGE},
	[MSG_ENGINE_STATE] = {"engine-state", D_BIT(D_ENGINECTL), D_BIT(D_AGENTD), 4 * KiB, SMALL},
	[MSG_ENGINE_EVENT] = {"engine-event", D_BIT(D_ENGINECTL), D_BIT(D_AGENTD), 64 * KiB, 8,
			      4096},
	[MSG_ENGINE_PROGRESS] = {"engine-progress", D_BIT(D_ENGINECTL), D_BIT(D_AGENTD), 4 * KiB,
				 SMALL},
	[MSG_ENGINE_LOG] = {"engine-log", D_BIT(D_ENGINECTL), D_BIT(D_AGENTD), 64 * KiB, SMALL},
	[MSG_ENGINE_LOG_END] = {"engine-log-end", D_BIT(D_ENGINECTL), D_BIT(D_AGENTD), 4 * KiB,
				SMALL},
	[MSG_API_CALL] = {"api-call", D_BIT(D_APID), D_BIT(D_AGENTD), PROTO_MAX_PAYLOAD, LARGE},
	[MSG_API_REPLY] = {"api-reply", D_BIT(D_AGENTD), D_BIT(D_APID), PROTO_MAX_PAYLOAD, LARGE},
	[MSG_API_AUTH] = {"api-auth", D_BIT(D_AGENTD), D_BIT(D_APID), 1024 * KiB, 8, 100000},
	[MSG_LOG_WANT] = {"log-want", D_BIT(D_APID), D_BIT(D_AGENTD), 1 * KiB, SMALL},
	[MSG_LOG] = {"log", D_BIT(D_AGENTD), D_BIT(D_APID), 64 * KiB, SMALL},
	[MSG_CLOUD_PROVISIONED] = {"cloud-provisioned", D_BIT(D_CLOUDSYNCD), D_BIT(D_AGENTD),
				   1 * KiB, SMALL},
	[MSG_CLOUD_TARGET] = {"cloud-target", D_BIT(D_CLOUDSYNCD), D_BIT(D_AGENTD),
			      PROTO_MAX_PAYLOAD, LARGE},
	[MSG_CLOUD_POLL] = {"cloud-poll", D_BIT(D_AGENTD), D_BIT(D_CLOUDSYNCD), 1 * KiB, SMALL},
	[MSG_CLOUD_REPORT] = {"cloud-report", D_BIT(D_AGENTD), D_BIT(D_CLOUDSYNCD), 4096 * KiB,
			      LARGE},
	[MSG_CLOUD_LOG] = {"cloud-log", D_BIT(D_AGENTD), D_BIT(D_CLOUDSYNCD), 64 * KiB, SMALL},
	[MSG_CLOUD_TAGS] = {"cloud-tags", D_BIT(D_AGENTD), D_BIT(D_CLOUDSYNCD), 1024 * KiB, 8,
			    100000},
	[MSG_CLOUD_TAGS_GET] = {"cloud-tags-get", D_BIT(D_AGENTD), D_BIT(D_CLOUDSYNCD), 1 * KiB,
				SMALL},
	[MSG_CLOUD_RESULT] = {"cloud-result", D_BIT(D_CLOUDSYNCD), D_BIT(D_AGENTD), 4096 * KiB, 8,
			      100000},
	[MSG_CLOUD_REPORTED] = {"cloud-reported", D_BIT(D_CLOUDSYNCD), D_BIT(D_AGENTD), 4096 * KiB,
				LARGE},
	[MSG_CLOUD_SETTINGS] = {"cloud-settings", D_BIT(D_AGENTD), D_BIT(D_CLOUDSYNCD), 1 * KiB,
				SMALL},
	[MSG_CLOUD_INITIAL_REPORTED] = {"cloud-initial-reported", D_BIT(D_CLOUDSYNCD),
					D_BIT(D_AGENTD), 4 * KiB, SMALL},
	[MSG_CLOUD_PINNED] = {"cloud-pinned", D_BIT(D_CLOUDSYNCD), D_BIT(D_AGENTD), 1 * KiB, SMALL},
	[MSG_CLOUD_DELTA] = {"cloud-delta", D_BIT(D_AGENTD), D_BIT(D_CLOUDSYNCD), 8 * KiB, SMALL},
	[MSG_CLOUD_CONNECTIVITY] = {"cloud-connectivity", D_BIT(D_CLOUDSYNCD), D_BIT(D_AGENTD),
				    1 * KiB, SMALL},
};

const char *msg_name(uint32_t type)
{
	if (type >= MSG_TYPE_COUNT || msg_catalogue[type].name == NULL)
		return "unknown";
	return msg_catalogue[type].name;
}

int msg_check(uint32_t type, enum daemon_id from, enum daemon_id to, uint32_t len, const char **why)
{
	const struct msg_spec *s;

	if (type >= MSG_TYPE_COUNT || msg_catalogue[type].name == NULL) {
		*why = "unknown message type";
		return -1;
	}
	s = &msg_catalogue[type];
	if (!(s->senders & D_BIT(from)) || !(s->receivers & D_BIT(to))) {
		*why = "message type not allowed in this direction";
		return -1;
	}
	if (len > s->max_len) {
		*why = "message larger than its type allows";
		return -1;
	}
	return 0;
}

int json_text_within(const char *text, size_t len, uint32_t max_depth, uint32_t max_items,
		     char *why, size_t whylen)
{
	uint32_t depth = 0, items = 0;
	int in_string = 0, escaped = 0, opened = 0;
	size_t i;

	/* `opened`: a container just began, so the next value is its first item;
	 * every comma outside a string starts one more. */
	for (i = 0; i < len; i++) {
		char c = text[i];

		if (in_string) {
			if (escaped)
				escaped = 0;
			else if (c == '\\')
				escaped = 1;
			else if (c == '"')
				in_string = 0;
			continue;
		}
		switch (c) {
		case ' ':
		case '\t':
		case '\n':
		case '\r':
			continue;
		case ']':
		case '}':
			opened = 0;
			if (depth > 0)
				depth--;
			continue;
		case ',':
			items++;
			break;
		case '"':
			in_string = 1;
			break;
		default:
			break;
		}
		if (opened) {
			items++;
			opened = 0;
		}
		if (c == '[' || c == '{') {
			opened = 1;
			if (++depth > max_depth) {
				snprintf(why, whylen, "nested more than %u levels deep",
					 (unsigned)max_depth);
				return -1;
			}
		}
		if (items > max_items) {
			snprintf(why, whylen, "more than %u values", (unsigned)max_items);
			return -1;
		}
	}
	return 0;
}

int msg_check_body(uint32_t type, const char *text, size_t len, char *why, size_t whylen)
{
	const struct msg_spec *s;
	char what[64];

	if (type >= MSG_TYPE_COUNT || msg_catalogue[type].name == NULL) {
		snprintf(why, whylen, "unknown message type");
		return -1;
	}
	s = &msg_catalogue[type];
	if (json_text_within(text, len, s->max_depth, s->max_items, what, sizeof(what)) == -1) {
		snprintf(why, whylen, "%s message %s (at most %u levels and %u values)", s->name,
			 what, (unsigned)s->max_depth, (unsigned)s->max_items);
		return -1;
	}
	return 0;
}
