/*
 * netinfo.h - the device's addresses, as the balena supervisor reports them
 * (facts §2.4): IPv4 and global IPv6 addresses and the MACs of physical
 * interfaces, leaving out loopback, engine bridges, VPN and the like.
 */
#ifndef AGENTD_NETINFO_H
#define AGENTD_NETINFO_H

#include <stddef.h>

/// Space-separated IP addresses and MACs.
void netinfo_addresses(char *ips, size_t iplen, char *macs, size_t maclen);

#endif
