/*
 * proto.c - the message catalogue table and its checks (see proto.h).
 */
#include <stddef.h>

#include "proto.h"

#define KiB 1024u

const char *const daemon_names[D_COUNT] = {
	[D_AGENTD] = "agentd",
	[D_ENGINECTL] = "enginectl",
	[D_APID] = "apid",
	[D_CLOUDSYNCD] = "cloudsyncd",
};

const struct msg_spec msg_catalogue[MSG_TYPE_COUNT] = {
	[MSG_ERROR] = {"error", D_BIT(D_AGENTD) | D_CHILDREN, D_BIT(D_AGENTD) | D_CHILDREN,
		       64 * KiB},
	[MSG_HELLO] = {"hello", D_CHILDREN, D_BIT(D_AGENTD), 4 * KiB},
	[MSG_CONFIG] = {"config", D_BIT(D_AGENTD), D_CHILDREN, 256 * KiB},
	[MSG_READY] = {"ready", D_CHILDREN, D_BIT(D_AGENTD), 4 * KiB},
	[MSG_PING] = {"ping", D_BIT(D_AGENTD), D_CHILDREN, 1 * KiB},
	[MSG_PONG] = {"pong", D_CHILDREN, D_BIT(D_AGENTD), 1 * KiB},
	[MSG_HEALTH] = {"health", D_BIT(D_AGENTD), D_BIT(D_APID), 4 * KiB},
	[MSG_SHUTDOWN] = {"shutdown", D_BIT(D_AGENTD), D_CHILDREN, 1 * KiB},
	[MSG_ENGINE_CALL] = {"engine-call", D_BIT(D_AGENTD), D_BIT(D_ENGINECTL), 4096 * KiB},
	[MSG_ENGINE_RESULT] = {"engine-result", D_BIT(D_ENGINECTL), D_BIT(D_AGENTD),
			       PROTO_MAX_PAYLOAD},
	[MSG_ENGINE_STATE] = {"engine-state", D_BIT(D_ENGINECTL), D_BIT(D_AGENTD), 4 * KiB},
	[MSG_ENGINE_EVENT] = {"engine-event", D_BIT(D_ENGINECTL), D_BIT(D_AGENTD), 64 * KiB},
	[MSG_ENGINE_PROGRESS] = {"engine-progress", D_BIT(D_ENGINECTL), D_BIT(D_AGENTD), 4 * KiB},
	[MSG_ENGINE_LOG] = {"engine-log", D_BIT(D_ENGINECTL), D_BIT(D_AGENTD), 64 * KiB},
	[MSG_ENGINE_LOG_END] = {"engine-log-end", D_BIT(D_ENGINECTL), D_BIT(D_AGENTD), 4 * KiB},
	[MSG_API_CALL] = {"api-call", D_BIT(D_APID), D_BIT(D_AGENTD), PROTO_MAX_PAYLOAD},
	[MSG_API_REPLY] = {"api-reply", D_BIT(D_AGENTD), D_BIT(D_APID), PROTO_MAX_PAYLOAD},
	[MSG_API_AUTH] = {"api-auth", D_BIT(D_AGENTD), D_BIT(D_APID), 1024 * KiB},
	[MSG_LOG_WANT] = {"log-want", D_BIT(D_APID), D_BIT(D_AGENTD), 1 * KiB},
	[MSG_LOG] = {"log", D_BIT(D_AGENTD), D_BIT(D_APID), 64 * KiB},
	[MSG_CLOUD_PROVISIONED] = {"cloud-provisioned", D_BIT(D_CLOUDSYNCD), D_BIT(D_AGENTD),
				   1 * KiB},
	[MSG_CLOUD_TARGET] = {"cloud-target", D_BIT(D_CLOUDSYNCD), D_BIT(D_AGENTD),
			      PROTO_MAX_PAYLOAD},
	[MSG_CLOUD_POLL] = {"cloud-poll", D_BIT(D_AGENTD), D_BIT(D_CLOUDSYNCD), 1 * KiB},
	[MSG_CLOUD_REPORT] = {"cloud-report", D_BIT(D_AGENTD), D_BIT(D_CLOUDSYNCD), 4096 * KiB},
	[MSG_CLOUD_LOG] = {"cloud-log", D_BIT(D_AGENTD), D_BIT(D_CLOUDSYNCD), 64 * KiB},
	[MSG_CLOUD_TAGS] = {"cloud-tags", D_BIT(D_AGENTD), D_BIT(D_CLOUDSYNCD), 1024 * KiB},
	[MSG_CLOUD_TAGS_GET] = {"cloud-tags-get", D_BIT(D_AGENTD), D_BIT(D_CLOUDSYNCD), 1 * KiB},
	[MSG_CLOUD_RESULT] = {"cloud-result", D_BIT(D_CLOUDSYNCD), D_BIT(D_AGENTD), 4096 * KiB},
	[MSG_CLOUD_REPORTED] = {"cloud-reported", D_BIT(D_CLOUDSYNCD), D_BIT(D_AGENTD), 4096 * KiB},
	[MSG_CLOUD_SETTINGS] = {"cloud-settings", D_BIT(D_AGENTD), D_BIT(D_CLOUDSYNCD), 1 * KiB},
	[MSG_CLOUD_INITIAL_REPORTED] = {"cloud-initial-reported", D_BIT(D_CLOUDSYNCD),
					D_BIT(D_AGENTD), 4 * KiB},
	[MSG_CLOUD_PINNED] = {"cloud-pinned", D_BIT(D_CLOUDSYNCD), D_BIT(D_AGENTD), 1 * KiB},
	[MSG_CLOUD_CONNECTIVITY] = {"cloud-connectivity", D_BIT(D_CLOUDSYNCD), D_BIT(D_AGENTD),
				    1 * KiB},
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
