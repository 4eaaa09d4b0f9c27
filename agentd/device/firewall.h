/*
 * firewall.h - the host firewall of HOST_FIREWALL_MODE (facts §5.5): a chain
 * BALENA-FIREWALL in the filter table, IPv4 and IPv6, that INPUT jumps to.
 *
 * The chain, first rule first:
 *   - ACCEPT packets of connections already made (ESTABLISHED,RELATED) and
 *     packets from the device's own addresses (addrtype LOCAL);
 *   - the local API's port: ACCEPT from resin-vpn, tun0, docker0, lo and
 *     supervisor0 (from anywhere in local mode), then REJECT. This holds in
 *     every mode, "off" too: the API is never open to the LAN outside
 *     local mode;
 *   - ACCEPT SSH (tcp 22222), the engine (tcp 2375), multicast (mDNS),
 *     ICMP, DNS (udp 53) from balena0 and from br+ (the engine's bridges);
 *   - mode off, invalid, or auto with no service on the host network:
 *     RETURN (INPUT's own rules decide the rest);
 *   - REJECT everything else.
 * One deliberate difference from the Node supervisor: its IPv6 table has
 * "-p icmp", which never matches in IPv6, so ICMPv6 (ping, neighbour
 * discovery replies) is rejected in mode on; agentd accepts "-p ipv6-icmp".
 *
 * The rules go in with `iptables-restore --noflush` (one transaction per
 * family: the chain is never half-written), after `iptables -S INPUT` has
 * told where INPUT jumps to the chain: every such jump is deleted and one is
 * put back where the first was (position 1 when there was none), so INPUT's
 * other rules and their order are left alone. The listen-port override of
 * balenaOS's helios (the BALENA-SUPERVISOR chain) is not done.
 */
#ifndef AGENTD_FIREWALL_H
#define AGENTD_FIREWALL_H

#include <stddef.h>

#define FIREWALL_CHAIN "BALENA-FIREWALL"

struct firewall_params {
	const char *mode;          /* HOST_FIREWALL_MODE: "on", "off", "auto"; else off */
	int local_mode;            /* the API port is open on every interface */
	int host_network_services; /* >0: a target service uses network_mode host */
	int api_port;              /* the local API's port (config.json listenPort) */
};

/// The programs firewall_apply runs and what it last applied. A zeroed
/// struct uses the standard program names from PATH.
struct firewall {
	const char *restore4, *restore6; /* NULL: "iptables-restore", "ip6tables-restore" */
	const char *list4, *list6;       /* lists INPUT; NULL: "iptables", "ip6tables" */
	int timeout_ms;                  /* per program run; 0: 10 s */
	char applied[48];                /* the last successful apply's key; "" none */
};

/// Whether these params filter the host (mode "on", or "auto" with a
/// service on the host network) rather than returning to INPUT.
int firewall_filters(const struct firewall_params *p);
/// The rules for iptables-restore --noflush (v4) or ip6tables-restore
/// (ipv6=1) for a table whose INPUT does not jump to the chain yet: pure,
/// malloc'd text; NULL when api_port is not a port or memory runs out.
char *firewall_rules(const struct firewall_params *p, int ipv6);
/// The same rules given `input`, what `iptables -S INPUT` prints now (NULL
/// or "" for an empty chain): every jump from INPUT to the chain is deleted
/// and one is inserted where the first was. Pure, malloc'd text.
char *firewall_rules_over(const struct firewall_params *p, int ipv6, const char *input);
/// Apply the rules (IPv4, then IPv6) unless they are what the last
/// successful apply made. 1 applied, 0 nothing to do, -1 with a one-line
/// reason (the failing program's first stderr line) in err, already logged
/// and sent as the system message "Firewall mode not applied due to error";
/// a failed apply is tried again on the next call. Blocks while the programs
/// run (forked and exec'd, no shell; killed after timeout_ms). Needs root.
int firewall_apply(struct firewall *fw, const struct firewall_params *p, char *err, size_t errlen);

#endif
