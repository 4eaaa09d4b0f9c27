/*
 * powerfan.h - the power mode and fan profile backend (Jetson Orin boards,
 * facts §5.2): HOST_CONFIG_power_mode and HOST_CONFIG_fan_profile become
 * config.json's os.power.mode and os.fan.profile, which the OS applies. See
 * powerfan.c.
 */
#ifndef AGENTD_POWERFAN_H
#define AGENTD_POWERFAN_H

#include <stddef.h>

#include <jansson.h>

/// Device types with "-orin-" in their name.
int powerfan_applies(const char *device_type);
/// {"power_mode"?, "fan_profile"?} from the target's HOST_CONFIG_* vars (the
/// other HOST_CONFIG_ vars are config.txt's, for other boards: ignored); NULL
/// with the reason for a bad value.
json_t *powerfan_from_target(json_t *config, char *err, size_t errlen);
/// What config.json (`root`) sets now, as config vars:
/// {"HOST_CONFIG_power_mode"?, "HOST_CONFIG_fan_profile"?}.
json_t *powerfan_current(json_t *root);
/// Bring config.json's os object (in `root`, changed in place) to the target;
/// a key of `managed_before` (a list, may be NULL) the target no longer sets is
/// removed. 1 when something changed (*reboot: the power mode did, which the
/// OS applies at boot), 0 when nothing did, -1 with the reason when os (or
/// os.power, os.fan) is not an object.
int powerfan_render(json_t *root, json_t *target, json_t *managed_before, int *reboot, char *err,
		    size_t errlen);

#endif
