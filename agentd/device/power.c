/*
 * power.c - reboot and shutdown commands (see power.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostctl.h"
#include "log.h"
#include "power.h"

int power_hup_pending(const struct power *p)
{
	static const char *const hup[] = {"rollback-health-breadcrumb",
					  "rollback-altboot-breadcrumb"};
	char path[512];
	int i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", p->state_dir, hup[i]);
		if (access(path, F_OK) == 0)
			return 1;
	}
	return 0;
}

/* logind's answer: the host is going down, or it said why not. */
static void power_bus_done(const char *err, const char *value, void *arg)
{
	struct power *p = arg;
	char how[512];

	(void)value;
	if (err == NULL)
		return;
	snprintf(how, sizeof(how), "logind: %s", err);
	p->failed(how, p->arg);
}

static void power_exec(evutil_socket_t fd, short what, void *arg)
{
	struct power *p = arg;
	char *const *argv = p->run_argv;
	pid_t pid;

	(void)fd;
	(void)what;
	if (p->bus != NULL) {
		int reboot = argv == p->reboot_command;

		log_info("%s through logind on the host's D-Bus",
			 reboot ? "rebooting" : "powering off");
		if (hostctl_power(p->bus, reboot, power_bus_done, p) == -1)
			p->failed("cannot ask logind (out of memory)", p->arg);
		return;
	}
	log_info("running %s", argv[0]);
	if ((pid = fork()) == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid == -1)
		p->failed("cannot fork", p->arg);
	else
		p->pid = pid;
}

int power_run(struct power *p, int reboot)
{
	struct timeval one = {1, 0};

	if (p->ev_run == NULL && (p->ev_run = evtimer_new(p->base, power_exec, p)) == NULL)
		return -1;
	p->run_argv = reboot ? p->reboot_command : p->shutdown_command;
	evtimer_add(p->ev_run, &one);
	return 0;
}

void power_free(struct power *p)
{
	if (p->ev_run != NULL)
		event_free(p->ev_run);
	p->ev_run = NULL;
}

int power_reaped(struct power *p, pid_t pid, int status, int stopping)
{
	char how[64];

	if (pid != p->pid || pid == 0)
		return 0;
	p->pid = 0;
	if (stopping || (WIFEXITED(status) && WEXITSTATUS(status) == 0))
		return 1; /* the host goes down */
	snprintf(how, sizeof(how), "%s %d", WIFEXITED(status) ? "exit status" : "signal",
		 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	p->failed(how, p->arg);
	return 1;
}
