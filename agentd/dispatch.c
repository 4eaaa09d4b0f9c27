/*
 * dispatch.c - what agentd accepts from its children. Every frame is checked
 * against the catalogue (type, direction, size) before its JSON is parsed;
 * a child that sends anything malformed or out of turn is treated as
 * compromised: logged, killed and restarted per its policy.
 */
#include <string.h>
#include <unistd.h>

#include "agentd.h"
#include "log.h"

json_t *dispatch_config_for(struct daemon *d)
{
	struct agentd *ad = d->ad;
	json_t *c;

	c = json_pack("{s:i, s:i, s:s, s:s}", "version", PROTO_VERSION, "verbose", ad->verbose,
		      "sandbox", ad->sandbox == SANDBOX_KILL ? "kill" : "log", "user",
		      ad->set.user);
	if (c == NULL)
		return NULL;
	switch (d->id) {
	case D_ENGINECTL:
		json_object_set_new(c, "engine_socket", json_string(ad->engine_sock));
		break;
	case D_APID:
		json_object_set_new(c, "api_address", json_string(ad->api_address));
		json_object_set_new(c, "api_port", json_integer(ad->cfg.listen_port));
		json_object_set_new(c, "api_max_connections",
				    json_integer(ad->set.api_max_connections));
		/* config.json apiTimeout (ms): idle and slow clients are dropped after it */
		if (json_is_integer(json_object_get(ad->cfg.root, "apiTimeout")))
			json_object_set(c, "api_timeout_ms",
					json_object_get(ad->cfg.root, "apiTimeout"));
		break;
	case D_CLOUDSYNCD:
		cloud_config(ad, c);
		break;
	default:
		break;
	}
	return c;
}

void dispatch_health(struct agentd *ad)
{
	struct daemon *api = &ad->d[D_APID];
	char reason[256] = "";
	json_t *body;
	int i;

	for (i = D_ENGINECTL; i < D_COUNT; i++) {
		if (ad->d[i].state == DS_FAILED) {
			snprintf(reason, sizeof(reason), "%s is down: restarted too often",
				 ad->d[i].name);
			break;
		}
	}
	ad->healthy = reason[0] == '\0';
	if (api->state != DS_READY || api->ch == NULL)
		return;
	body = json_pack("{s:b}", "healthy", ad->healthy);
	if (body == NULL)
		return;
	if (!ad->healthy)
		json_object_set_new(body, "reason", json_string(reason));
	chan_send_json(api->ch, MSG_HEALTH, 0, 0, body);
	json_decref(body);
}

static int dispatch_hello(struct daemon *d, json_t *body)
{
	json_int_t version, pid;
	const char *name;
	json_t *config;
	int rc;

	if (d->hello_seen || d->state != DS_HANDSHAKE) {
		log_error("%s: hello out of turn", d->name);
		return -1;
	}
	if (json_unpack(body, "{s:I, s:s, s:I !}", "version", &version, "daemon", &name, "pid",
			&pid) == -1) {
		log_error("%s: malformed hello", d->name);
		return -1;
	}
	if (version != PROTO_VERSION) {
		log_error("%s: protocol version %lld, agentd speaks %d: handshake refused", d->name,
			  (long long)version, PROTO_VERSION);
		return -1;
	}
	if (strcmp(name, d->name) != 0 || pid != d->pid) {
		log_error("%s: hello claims to be %s pid %lld", d->name, name, (long long)pid);
		return -1;
	}
	d->hello_seen = 1;
	if ((config = dispatch_config_for(d)) == NULL)
		return -1;
	rc = chan_send_json(d->ch, MSG_CONFIG, 0, 0, config);
	json_decref(config);
	return rc;
}

void dispatch_child(struct chan *ch, const struct frame_hdr *hdr, const char *payload, int fd,
		    void *arg)
{
	struct daemon *d = arg;
	const char *why = NULL;
	json_t *body = NULL;
	int ok = 0;

	if (hdr == NULL) {
		const char *err = chan_error(ch);

		/* A closed channel is a child exiting: SIGCHLD does the rest. */
		if (err != NULL && strcmp(err, "peer closed the channel") != 0) {
			log_error("%s: bad frame: %s", d->name, err);
			supervise_kill(d, "sent a malformed frame");
		}
		return;
	}
	if (fd >= 0)
		close(fd); /* no child message carries a descriptor to agentd yet */
	if (msg_check(hdr->type, d->id, D_AGENTD, hdr->len, &why) == -1) {
		log_error("%s: rejected message type %u (%s) of %u bytes: %s", d->name, hdr->type,
			  msg_name(hdr->type), hdr->len, why);
		supervise_kill(d, "sent a message it may not send");
		return;
	}
	if ((body = json_loads(payload, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    !json_is_object(body)) {
		log_error("%s: %s message is not a JSON object", d->name, msg_name(hdr->type));
		json_decref(body);
		supervise_kill(d, "sent invalid JSON");
		return;
	}
	switch (hdr->type) {
	case MSG_HELLO:
		ok = dispatch_hello(d, body) == 0;
		break;
	case MSG_READY:
		if (d->hello_seen && d->state == DS_HANDSHAKE) {
			supervise_ready(d);
			ok = 1;
		}
		break;
	case MSG_ENGINE_STATE:
	case MSG_ENGINE_EVENT:
	case MSG_ENGINE_PROGRESS:
	case MSG_ENGINE_LOG:
	case MSG_ENGINE_LOG_END:
		ok = d->state == DS_READY && engine_dispatch(d, hdr->type, body) == 0;
		break;
	case MSG_API_CALL:
		ok = d->state == DS_READY && api_dispatch(d, hdr, body) == 0;
		break;
	case MSG_CLOUD_PROVISIONED:
	case MSG_CLOUD_TARGET:
	case MSG_CLOUD_REPORTED:
	case MSG_CLOUD_INITIAL_REPORTED:
	case MSG_CLOUD_PINNED:
		ok = d->state == DS_READY && cloud_dispatch(d, hdr->type, body) == 0;
		break;
	case MSG_LOG_WANT:
		ok = d->state == DS_READY && json_is_boolean(json_object_get(body, "want"));
		d->ad->log_wanted = json_is_true(json_object_get(body, "want"));
		break;
	default:
		break;
	}
	json_decref(body);
	if (!ok) {
		if (hdr->type != MSG_HELLO)
			log_error("%s: unexpected %s message", d->name, msg_name(hdr->type));
		supervise_kill(d, "broke the protocol");
	}
}
