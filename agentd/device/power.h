/*
 * power.h - rebooting and shutting the device down, a second after it is
 * asked for (so the API can answer first): through logind on the host's
 * D-Bus when agentd has one (the balenaOS supervisor container), else by
 * running the reboot or shutdown command of agentd.json. A failure (the bus
 * refused, the command exited non-zero) comes back through a callback.
 * Taking the apps' update locks first is the caller's business.
 */
#ifndef AGENTD_POWER_H
#define AGENTD_POWER_H

#include <stddef.h>
#include <sys/types.h>

#include <event2/event.h>

struct hostctl;

struct power {
	struct event_base *base;       /* borrowed */
	char *const *reboot_command;   /* argv, borrowed (agentd.json) */
	char *const *shutdown_command; /* argv, borrowed */
	const char *state_dir;         /* balenaOS's /mnt/state (HUP breadcrumbs) */
	pid_t pid;                     /* the command while it runs, else 0 */
	struct event *ev_run;          /* owned: the second before it, or NULL */
	char *const *run_argv;         /* which command that second ends with */
	struct hostctl *bus;           /* borrowed: the host's D-Bus, or NULL: commands */
	/// The command could not run or exited non-zero: the device stays up.
	/// `how` says why ("exit status 1", "cannot fork").
	void (*failed)(const char *how, void *arg);
	void *arg;
};

/// A host OS update is still checking itself (its rollback breadcrumbs are
/// in state_dir): a reboot or shutdown now would cut it short.
int power_hup_pending(const struct power *p);
/// Run the reboot (or shutdown) command a second from now. -1 if out of memory.
int power_run(struct power *p, int reboot);
/// A process was reaped: 1 if it was the command (its failure is reported
/// unless `stopping`), else 0.
int power_reaped(struct power *p, pid_t pid, int status, int stopping);
/// Forget a reboot or shutdown still waiting for its second (agentd stops).
void power_free(struct power *p);

#endif
