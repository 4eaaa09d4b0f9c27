/*
 * hostctl-drive.c - a test driver for agentd/device/hostctl.c: it opens the
 * bus at ADDRESS and makes the calls its arguments name, one after the
 * other, each once the previous one has answered, from a libevent loop.
 *
 *   hostctl-drive [-v] ADDRESS CALL...
 *   CALL: reboot | poweroff | start UNIT | stop UNIT | restart UNIT
 *         | state UNIT | partof UNIT | prop UNIT PROPERTY
 *
 * stdout, one line per call: "ok", "ok VALUE" (a property) or "error
 * REASON"; a bus that cannot be opened is one "error REASON" line. Exit
 * status 0 when every call succeeded, 1 when one failed, 2 for bad usage or
 * a broken contract (a callback run inside the call that started it, or
 * a call that could not be queued). SIGUSR1 closes hostctl at once, as
 * agentd does when it stops: the call in flight must then fail, and no
 * more calls are made. hostctl's log (-v: with debug) goes to stderr.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "hostctl.h"
#include "log.h"

struct drive {
	struct event_base *base;
	struct hostctl *h; /* NULL once closed */
	char **argv;       /* the calls left */
	int in_call;       /* inside a hostctl_* call */
	int failed;
	int broken;
};

static void drive_next(struct drive *d);

static void drive_answer(const char *err, const char *value, void *arg)
{
	struct drive *d = arg;

	if (d->in_call) {
		printf("error the callback ran inside the call that started it\n");
		d->broken = 1;
	}
	if (err != NULL) {
		printf("error %s\n", err);
		d->failed = 1;
	} else if (value != NULL) {
		printf("ok %s\n", value);
	} else {
		printf("ok\n");
	}
	fflush(stdout);
	drive_next(d);
}

/* How many arguments CALL takes, and start it; -1 for a bad call. */
static int drive_start(struct drive *d, char **argv, int *used)
{
	static const struct {
		const char *verb, *method, *property;
	} calls[] = {
		{"start", "StartUnit", NULL},     {"stop", "StopUnit", NULL},
		{"restart", "RestartUnit", NULL}, {"state", NULL, "ActiveState"},
		{"partof", NULL, "PartOf"},       {"prop", NULL, NULL},
	};
	size_t i;

	if (strcmp(argv[0], "reboot") == 0 || strcmp(argv[0], "poweroff") == 0) {
		*used = 1;
		return hostctl_power(d->h, argv[0][0] == 'r', drive_answer, d);
	}
	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		if (strcmp(argv[0], calls[i].verb) != 0)
			continue;
		if (argv[1] == NULL)
			return -1;
		*used = 2;
		if (calls[i].method != NULL)
			return hostctl_unit(d->h, calls[i].method, argv[1], drive_answer, d);
		if (calls[i].property != NULL)
			return hostctl_unit_property(d->h, argv[1], calls[i].property, drive_answer,
						     d);
		if (argv[2] == NULL)
			return -1;
		*used = 3;
		return hostctl_unit_property(d->h, argv[1], argv[2], drive_answer, d);
	}
	return -1;
}

static void drive_next(struct drive *d)
{
	int used = 0, rc;

	if (d->h == NULL || d->argv[0] == NULL || d->broken) {
		event_base_loopbreak(d->base);
		return;
	}
	d->in_call = 1;
	rc = drive_start(d, d->argv, &used);
	d->in_call = 0;
	if (rc == -1) {
		printf("error cannot start '%s'\n", d->argv[0]);
		d->broken = 1;
		event_base_loopbreak(d->base);
		return;
	}
	d->argv += used;
}

static void drive_close(evutil_socket_t fd, short what, void *arg)
{
	struct drive *d = arg;
	struct hostctl *h = d->h;

	(void)fd;
	(void)what;
	d->h = NULL; /* the answer to the call in flight must not start another */
	hostctl_close(h);
	event_base_loopbreak(d->base);
}

int main(int argc, char **argv)
{
	struct drive d;
	struct event *usr1;
	char err[256];
	int verbose = 0;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		verbose = 1;
		argv++;
		argc--;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: hostctl-drive [-v] ADDRESS reboot|poweroff|start U|stop U|"
				"restart U|state U|partof U|prop U P...\n");
		return 2;
	}
	memset(&d, 0, sizeof(d));
	log_init("hostctl-drive", LOG_TO_STDERR, verbose);
	d.base = event_base_new();
	if ((d.h = hostctl_open(d.base, argv[1], err, sizeof(err))) == NULL) {
		printf("error %s\n", err);
		event_base_free(d.base);
		return 1;
	}
	usr1 = evsignal_new(d.base, SIGUSR1, drive_close, &d);
	event_add(usr1, NULL);
	d.argv = argv + 2;
	drive_next(&d);
	event_base_dispatch(d.base);
	hostctl_close(d.h);
	event_free(usr1);
	event_base_free(d.base);
	return d.broken ? 2 : d.failed ? 1 : 0;
}
