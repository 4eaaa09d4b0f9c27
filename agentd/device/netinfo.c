/*
 * netinfo.c - the device's addresses as balena reports them (facts §2.4):
 * IPv4 and global IPv6 addresses and the MACs of physical interfaces,
 * space-separated, leaving out loopback, engine bridges, VPN and other
 * virtual interfaces.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "netinfo.h"

/* ^(?:(?:balena|docker|rce|tun)[0-9]+|tun[0-9]+|resin-vpn|lo|resin-dns|supervisor0|
 *   balena-redsocks|resin-redsocks|br-[0-9a-f]{12})$ and veths */
static int netinfo_ignored(const char *name)
{
	static const char *const exact[] = {
		"resin-vpn",      "lo", "resin-dns", "supervisor0", "balena-redsocks",
		"resin-redsocks", NULL};
	static const char *const numbered[] = {"balena", "docker", "rce", "tun", NULL};
	size_t i, n;

	for (i = 0; exact[i]; i++)
		if (!strcmp(name, exact[i]))
			return 1;
	for (i = 0; numbered[i]; i++) {
		n = strlen(numbered[i]);
		if (!strncmp(name, numbered[i], n) && isdigit((unsigned char)name[n]))
			return 1;
	}
	if (!strncmp(name, "br-", 3) && strlen(name) == 15)
		return 1;
	return !strncmp(name, "veth", 4);
}

static void append(char *buf, size_t len, const char *item)
{
	size_t off = strlen(buf);

	snprintf(buf + off, len - off, "%s%s", off ? " " : "", item);
}

void netinfo_addresses(char *ips, size_t iplen, char *macs, size_t maclen)
{
	struct ifaddrs *ifa, *i;
	char addr[INET6_ADDRSTRLEN], path[300], line[64];
	struct dirent *de;
	DIR *d;
	FILE *f;

	ips[0] = macs[0] = '\0';
	if (getifaddrs(&ifa) == 0) {
		for (i = ifa; i != NULL; i = i->ifa_next) {
			if (i->ifa_addr == NULL || netinfo_ignored(i->ifa_name) ||
			    (i->ifa_flags & IFF_LOOPBACK))
				continue;
			if (i->ifa_addr->sa_family == AF_INET) {
				inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr,
					  addr, sizeof(addr));
				append(ips, iplen, addr);
			} else if (i->ifa_addr->sa_family == AF_INET6) {
				struct in6_addr *a6 =
					&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;

				if (IN6_IS_ADDR_LINKLOCAL(a6) || IN6_IS_ADDR_LOOPBACK(a6))
					continue;
				inet_ntop(AF_INET6, a6, addr, sizeof(addr));
				append(ips, iplen, addr);
			}
		}
		freeifaddrs(ifa);
	}
	if ((d = opendir("/sys/class/net")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		int type = 0;

		if (de->d_name[0] == '.' || netinfo_ignored(de->d_name))
			continue;
		snprintf(path, sizeof(path), "/sys/class/net/%s/type", de->d_name);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		if (fscanf(f, "%d", &type) != 1)
			type = 0;
		fclose(f);
		snprintf(path, sizeof(path), "/sys/class/net/%s/master", de->d_name);
		if (type != 1 || access(path, F_OK) == 0)
			continue; /* not ethernet, or enslaved to a bridge */
		snprintf(path, sizeof(path), "/sys/class/net/%s/address", de->d_name);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		if (fgets(line, sizeof(line), f) != NULL) {
			size_t k;

			line[strcspn(line, "\n")] = '\0';
			for (k = 0; line[k]; k++)
				line[k] = (char)toupper((unsigned char)line[k]);
			append(macs, maclen, line);
		}
		fclose(f);
	}
	closedir(d);
}
