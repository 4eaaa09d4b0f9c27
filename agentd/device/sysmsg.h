/*
 * sysmsg.h - system messages for the device log, in the balena supervisor's
 * wording (facts §7.4: "Installing service '…'", "Rebooting", …). Any room
 * of agentd may write one; where it goes (agentd's log, the local API's log
 * stream, the cloud) is up to the sink the top registers. Without a sink a
 * message goes to agentd's own log only.
 */
#ifndef AGENTD_SYSMSG_H
#define AGENTD_SYSMSG_H

/// Where system messages go: `msg` is borrowed for the call.
typedef void (*sysmsg_sink)(const char *msg, void *arg);

/// Send every later message to `sink` too (NULL: agentd's log only).
void sysmsg_set_sink(sysmsg_sink sink, void *arg);
/// One system message (printf format), logged and handed to the sink.
void sysmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
