/*
 * firewall-apply.c - applies the host firewall once, as agentd does, for
 * the integration tests (test/integration/test_firewall.py) and by hand:
 *
 *   firewall-apply [-m MODE] [-l LOCAL] [-n HOSTSERVICES] [-p PORT] [-c COUNT]
 *                  [-r RESTORE4] [-R RESTORE6] [-s LIST4] [-S LIST6] [-d] [-v]
 *
 * -m HOST_FIREWALL_MODE (default off), -l local mode 0/1, -n how many target
 * services use the host network, -p the API port (default 48484). -c calls
 * firewall_apply COUNT times with the same struct (default 1). -r/-R/-s/-S
 * replace the programs run (iptables-restore, ip6tables-restore, iptables,
 * ip6tables). -d prints the IPv4 and IPv6 rules and applies nothing.
 *
 * stdout, one line per call: "applied", "unchanged" or "error: REASON".
 * Exit status 0 when no call failed, 1 when one did, 2 for bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "firewall.h"
#include "log.h"

static void usage(void)
{
	fprintf(stderr, "usage: firewall-apply [-m mode] [-l local] [-n hostservices] [-p port] "
			"[-c count] [-r restore4] [-R restore6] [-s list4] [-S list6] [-d] [-v]\n");
	exit(2);
}

static int number(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < -1000000 || v > 1000000)
		usage();
	return (int)v;
}

int main(int argc, char **argv)
{
	struct firewall_params p = {.mode = "off", .api_port = 48484};
	struct firewall fw = {0};
	int opt, count = 1, dry = 0, verbose = 0, failed = 0, i;
	char err[512];

	while ((opt = getopt(argc, argv, "m:l:n:p:c:r:R:s:S:dv")) != -1) {
		switch (opt) {
		case 'm':
			p.mode = optarg;
			break;
		case 'l':
			p.local_mode = number(optarg);
			break;
		case 'n':
			p.host_network_services = number(optarg);
			break;
		case 'p':
			p.api_port = number(optarg);
			break;
		case 'c':
			count = number(optarg);
			break;
		case 'r':
			fw.restore4 = optarg;
			break;
		case 'R':
			fw.restore6 = optarg;
			break;
		case 's':
			fw.list4 = optarg;
			break;
		case 'S':
			fw.list6 = optarg;
			break;
		case 'd':
			dry = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("firewall-apply", LOG_TO_STDERR, verbose);

	if (dry) {
		for (i = 0; i < 2; i++) {
			char *text = firewall_rules(&p, i);

			if (text == NULL) {
				printf("error: no rules for API port %d\n", p.api_port);
				return 1;
			}
			fputs(text, stdout);
			free(text);
		}
		return 0;
	}
	for (i = 0; i < count; i++) {
		switch (firewall_apply(&fw, &p, err, sizeof(err))) {
		case 1:
			printf("applied\n");
			break;
		case 0:
			printf("unchanged\n");
			break;
		default:
			printf("error: %s\n", err);
			failed = 1;
		}
		fflush(stdout);
	}
	return failed;
}
