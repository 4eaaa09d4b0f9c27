/*
 * chan.h - a framed, non-blocking message channel over a socketpair, driven
 * by libevent. Frames are described in frame.h; payloads are usually JSON.
 *
 * A channel owns its fd. Incoming frames are delivered whole to the message
 * callback; replies (FRAME_F_REPLY) are routed to the callback given to
 * chan_request() for that id instead. When the peer goes away or sends a
 * malformed frame, the message callback is called once with hdr == NULL and
 * the channel stops reading; the owner then frees it.
 */
#ifndef AGENTD_CHAN_H
#define AGENTD_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>

#include "frame.h"

struct chan;

/// A whole frame arrived. `payload` is NUL-terminated (len in hdr->len) and
/// valid during the call only. `fd` is the descriptor that came with the
/// frame or -1; the callee owns it. hdr == NULL: the channel failed, see
/// chan_error().
typedef void (*chan_msg_cb)(struct chan *ch, const struct frame_hdr *hdr, const char *payload,
			    int fd, void *arg);

/// The reply to a chan_request() arrived (type MSG_ERROR on failure), or the
/// channel closed first (hdr == NULL, body == NULL). body is borrowed.
typedef void (*chan_reply_cb)(struct chan *ch, const struct frame_hdr *hdr, json_t *body,
			      void *arg);

/// Looks at every complete incoming frame, replies included, before it is
/// delivered: -1 refuses it (with the reason in why), and the channel then
/// fails as it does on a malformed frame (chan_error() gives the reason).
typedef int (*chan_check_cb)(const struct frame_hdr *hdr, const char *payload, char *why,
			     size_t whylen, void *arg);

/// Wrap `fd` (made non-blocking here). `max_payload` bounds incoming frames.
struct chan *chan_new(struct event_base *base, int fd, uint32_t max_payload, chan_msg_cb cb,
		      void *arg);
/// Check every incoming frame with `check` from now on (agentd holds its
/// children's frames to the catalogue this way).
void chan_set_check(struct chan *ch, chan_check_cb check, void *arg);
/// Close the fd, drop queued output and answer pending requests with NULL.
/// Safe to call from inside a callback of the same channel.
void chan_free(struct chan *ch);

/// Queue one frame. `fd` >= 0 is sent with it and closed here once sent.
/// Returns 0, or -1 when the channel is dead or the payload too large. A
/// frame for agentd that its checks would refuse (the catalogue's size, depth
/// and item limits: agentd kills a child that sends one) is not sent: it is
/// logged, and a reply is replaced by an error reply that says why.
int chan_send(struct chan *ch, uint32_t type, uint32_t id, uint32_t flags, const void *data,
	      size_t len, int fd);
/// Queue `body` (borrowed) serialised as compact JSON; NULL sends "{}".
int chan_send_json(struct chan *ch, uint32_t type, uint32_t id, uint32_t flags, json_t *body);
/// Send a request with a fresh id and call `cb` when its reply arrives.
int chan_request(struct chan *ch, uint32_t type, json_t *body, chan_reply_cb cb, void *arg);
/// Reply to the frame `req` with `type` and `body` (borrowed).
int chan_reply(struct chan *ch, const struct frame_hdr *req, uint32_t type, json_t *body);
/// Reply MSG_ERROR {"error": reason, "status": status} (status 0 = omitted).
int chan_reply_error(struct chan *ch, const struct frame_hdr *req, int status, const char *reason);

/// Write all queued output now, blocking up to `timeout_ms`. For shutdown.
int chan_flush(struct chan *ch, int timeout_ms);

/// Inside a reply callback: take the descriptor that came with the reply
/// (the caller then owns it), or -1. Unclaimed ones are closed.
int chan_take_reply_fd(struct chan *ch);
/// Reply with `body` (borrowed) and pass `fd` along with it (closed once sent).
int chan_reply_fd(struct chan *ch, const struct frame_hdr *req, uint32_t type, json_t *body,
		  int fd);

/// Why the channel failed ("peer closed", "frame larger than ..."), or NULL.
const char *chan_error(const struct chan *ch);
/// Bytes queued for output.
size_t chan_queued(const struct chan *ch);
int chan_fd(const struct chan *ch);

#endif
