/*
 * dispatch.c - what agentd accepts from its children. Every frame, replies
 * included, is checked against the catalogue (type, direction, size, and how
 * deep and how many its JSON values are) before its JSON is parsed;
 * the handshake's hello is answered here, and every other message goes to
 * the handler registered for its type (supervisor_on). The verdict goes back
 * to supervise.c: a child that sends anything malformed, unhandled or out
 * of turn is treated as compromised there (logged, killed, restarted per
 * its policy).
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "supervisor.h"

static json_t *dispatch_config_for(struct daemon *d)
{
	struct supervisor *sv = d->sv;
	json_t *c;

	c = json_pack("{s:i, s:i, s:s, s:s}", "version", PROTO_VERSION, "verbose", sv->conf.verbose,
		      "sandbox", sv->conf.sandbox == SANDBOX_KILL ? "kill" : "log", "user",
		      sv->conf.user);
	if (c != NULL && sv->hooks.config_for != NULL)
		sv->hooks.config_for(d->id, c, sv->hooks.arg);
	return c;
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

int dispatch_check(const struct frame_hdr *hdr, const char *payload, char *why, size_t whylen,
		   void *arg)
{
	struct daemon *d = arg;
	const char *reason;

	if (msg_check(hdr->type, d->id, D_AGENTD, hdr->len, &reason) == -1) {
		snprintf(why, whylen, "%s message type %u (%s) of %u bytes: %s",
			 hdr->flags & FRAME_F_REPLY ? "reply of" : "unexpected", hdr->type,
			 msg_name(hdr->type), hdr->len, reason);
		return -1;
	}
	return msg_check_body(hdr->type, payload, hdr->len, why, whylen);
}

enum dispatch_verdict dispatch_frame(struct daemon *d, const struct frame_hdr *hdr,
				     const char *payload, const char **kill_reason)
{
	enum dispatch_verdict v = DISPATCH_BAD;
	const char *why = NULL;
	json_t *body = NULL;

	*kill_reason = "broke the protocol";
	if (msg_check(hdr->type, d->id, D_AGENTD, hdr->len, &why) == -1) {
		log_error("%s: rejected message type %u (%s) of %u bytes: %s", d->name, hdr->type,
			  msg_name(hdr->type), hdr->len, why);
		*kill_reason = "sent a message it may not send";
		return DISPATCH_BAD;
	}
	if ((body = json_loads(payload, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    !json_is_object(body)) {
		log_error("%s: %s message is not a JSON object", d->name, msg_name(hdr->type));
		json_decref(body);
		*kill_reason = "sent invalid JSON";
		return DISPATCH_BAD;
	}
	switch (hdr->type) {
	case MSG_HELLO:
		if (dispatch_hello(d, body) == 0)
			v = DISPATCH_OK;
		break;
	case MSG_READY:
		if (d->hello_seen && d->state == DS_HANDSHAKE)
			v = DISPATCH_READY;
		break;
	default:
		/* Anything else only once the child is ready, and only if someone
		 * handles it. */
		if (d->state == DS_READY && d->sv->on[hdr->type].fn != NULL &&
		    d->sv->on[hdr->type].fn(d, hdr, body, d->sv->on[hdr->type].arg) == 0)
			v = DISPATCH_OK;
		break;
	}
	json_decref(body);
	if (v == DISPATCH_BAD && hdr->type != MSG_HELLO)
		log_error("%s: unexpected %s message", d->name, msg_name(hdr->type));
	return v;
}
