/*
 * reboot.c - rebooting or shutting the device down for the API or the state
 * engine: under every app's update locks (so no app is stopped while it
 * says it must not be), and never while a host OS update is still checking
 * itself, unless forced. When the command fails the device stays up: the
 * apps get their locks back and the state engine may ask again later.
 */
#include <stdio.h>
#include <stdlib.h>

#include "agentd.h"
#include "sysmsg.h"

static void reboot_locks_release(struct agentd *ad)
{
	applocks_release(ad->apply, ad->power_locks);
	json_decref(ad->power_locks);
	ad->power_locks = NULL;
}

/* The command did not take the device down. */
static void reboot_failed(const char *how, void *arg)
{
	struct agentd *ad = arg;

	sysmsg("The reboot or shutdown command failed (%s): the device stays up", how);
	reboot_locks_release(ad);
	apply_reboot_failed(ad->apply);
}

int reboot_request(struct agentd *ad, int reboot, int force, const char *why, char *err,
		   size_t errlen)
{
	json_t *locks;

	if (!force && power_hup_pending(&ad->power)) {
		snprintf(err, errlen, "Waiting for Host OS update to finish");
		return -1;
	}
	if ((locks = applocks_take_all(ad->apply, force, err, errlen)) == NULL)
		return -1;
	json_decref(ad->power_locks);
	ad->power_locks = locks;
	sysmsg("%s%s%s", reboot ? "Rebooting" : "Shutting down", why ? ": " : "", why ? why : "");
	if (power_run(&ad->power, reboot) == -1) {
		reboot_locks_release(ad);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int reboot_for_apply(const char *why, char *err, size_t errlen, void *arg)
{
	return reboot_request(arg, 1, 0, why, err, errlen);
}

void reboot_init(struct agentd *ad)
{
	ad->power.base = ad->base;
	ad->power.reboot_command = ad->set.reboot_command;
	ad->power.shutdown_command = ad->set.shutdown_command;
	ad->power.state_dir = ad->paths.state_dir;
	ad->power.failed = reboot_failed;
	ad->power.arg = ad;
}
