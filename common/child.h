/*
 * child.h - the skeleton every sandboxed child runs (enginectl, apid,
 * cloudsyncd): connect to agentd on PROTO_CHILD_FD, say hello, take the
 * config, let the daemon open what it needs, drop privileges, load the
 * seccomp filter, report ready, then serve messages until told to stop.
 *
 * A daemon supplies a struct child_ops; its main() is one call to
 * child_main().
 */
#ifndef AGENTD_CHILD_H
#define AGENTD_CHILD_H

#include <event2/event.h>
#include <jansson.h>

#include "chan.h"
#include "proto.h"
#include "sandbox.h"

struct child;

struct child_ops {
	enum daemon_id id;
	const struct sandbox_policy *policy;
	int drop_user; /* switch to the configured unprivileged user */
	/// Open sockets, load files: everything the filter will forbid later.
	/// `config` is the MSG_CONFIG body (borrowed). Return -1 to exit(1).
	int (*setup)(struct child *c, json_t *config);
	/// Handle a message from agentd that the skeleton does not (anything but
	/// ping/shutdown/config). `body` is borrowed; `fd` is owned. Return -1 if
	/// the message is not understood (the skeleton treats that as fatal).
	int (*dispatch)(struct child *c, const struct frame_hdr *hdr, json_t *body, int fd);
	/// Release what setup() made, before exit.
	void (*teardown)(struct child *c);
};

int child_main(int argc, char **argv, const struct child_ops *ops);

struct event_base *child_base(struct child *c);
struct chan *child_chan(struct child *c);
/// The daemon's private state, set by setup().
void *child_data(struct child *c);
void child_set_data(struct child *c, void *data);
/// Ask the loop to end; child_main() then tears down and returns `code`.
void child_stop(struct child *c, int code);

#endif
