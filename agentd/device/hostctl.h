/*
 * hostctl.h - control of the host OS over the host's system D-Bus, as the
 * balena supervisor does from its container: logind's Reboot and PowerOff,
 * systemd's StartUnit/StopUnit/RestartUnit (mode "fail") and two properties
 * of a unit (ActiveState, PartOf). The VPN (openvpn.service), host
 * discoverability (avahi-daemon.service and .socket) and the proxy
 * (balena-proxy-config.service, redsocks.service) are driven through it.
 *
 * It is a client of sd-bus (libsystemd) run from agentd's libevent loop: it
 * watches the bus's socket and timer and never blocks on the bus. Every call
 * is asynchronous and answers through a callback, exactly once, from the
 * event loop. Calls time out after HOSTCTL_TIMEOUT_SEC.
 *
 * A bus that goes away fails the calls in flight ("lost the host's D-Bus
 * ..."), is logged once, and makes every later call fail at once; hostctl
 * does not reconnect (open a new one for that).
 */
#ifndef AGENTD_HOSTCTL_H
#define AGENTD_HOSTCTL_H

#include <stddef.h>

#include <event2/event.h>

/// Where balenaOS mounts the host's system bus inside the supervisor's
/// container; DBUS_SYSTEM_BUS_ADDRESS overrides it (the caller's business).
#define HOSTCTL_DEFAULT_ADDRESS "unix:path=/mnt/root/run/dbus/system_bus_socket"
/// How long a call may wait for its answer.
#define HOSTCTL_TIMEOUT_SEC 25

struct hostctl;

/// The answer to a call: `err` is NULL on success, else one line saying why
/// (for an error the host sent, its D-Bus error message, e.g. "Unit x.service
/// not loaded."). `value` is a property's value for hostctl_unit_property(),
/// else NULL. Both are valid only during the callback.
typedef void (*hostctl_cb)(const char *err, const char *value, void *arg);

/// Connect to the bus at `address` ("unix:path=..."): the socket is
/// connected now, the handshake goes on in the event loop. NULL with a
/// one-line reason in err when the bus cannot be reached (no socket,
/// nobody listening, a malformed address).
struct hostctl *hostctl_open(struct event_base *base, const char *address, char *err,
			     size_t errlen);
/*
 * The three calls below return 0 when the call is under way (cb will run),
 * -1 when it could not be queued: out of memory, or an argument that is
 * NULL, empty or an unknown method (cb will not run). A bus that is gone is
 * not -1: cb gets the reason, from the event loop.
 */

/// logind's Reboot(false) (`reboot` != 0) or PowerOff(false). Success means
/// logind took the request; the host goes down afterwards.
int hostctl_power(struct hostctl *h, int reboot, hostctl_cb cb, void *arg);
/// systemd's `method` ("StartUnit", "StopUnit" or "RestartUnit") on `unit`
/// with mode "fail". Success means systemd queued the job, not that it has
/// finished: ActiveState may still read "activating" for a while.
int hostctl_unit(struct hostctl *h, const char *method, const char *unit, hostctl_cb cb, void *arg);
/// A property of org.freedesktop.systemd1.Unit of a loaded unit (GetUnit,
/// then Properties.Get): "ActiveState" -> "active", "inactive"...;
/// "PartOf" -> its units joined by spaces ("" when none). Strings, string
/// lists, booleans ("true"/"false") and integers are read. A unit systemd
/// has not loaded fails with "Unit NAME not loaded.".
int hostctl_unit_property(struct hostctl *h, const char *unit, const char *property, hostctl_cb cb,
			  void *arg);

/// Disconnect and free. Pending calls get err "hostctl closed", once each,
/// before this returns; their callbacks must not use `h`. May be called from
/// a callback.
void hostctl_close(struct hostctl *h);

#endif
