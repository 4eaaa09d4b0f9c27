/*
 * fuzz_config.c - libFuzzer target: any bytes as config.json must be loaded
 * or refused with a reason, never crash; what loads has a listen port in
 * range. The bytes go through a memfd, so config_load reads a real file.
 * What loads is also read and rendered as a Jetson Orin's power and fan
 * settings (powerfan.c, its os object): read back, a render to a target
 * gives that target, and a second render changes nothing.
 */
#include <stdlib.h>

#include "memfile.h"
#include "config.h"
#include "powerfan.h"

static void powerfan_check(json_t *root)
{
	json_t *copy = json_deep_copy(root), *now = powerfan_current(root), *back;
	json_t *target = json_pack("{s:s, s:s}", "power_mode", "low", "fan_profile", "cool");
	json_t *before = json_pack("[s]", "fan_profile");
	char err[256];
	int reboot = 0, rc;

	if (copy == NULL || now == NULL || target == NULL || before == NULL)
		abort();
	rc = powerfan_render(copy, target, before, &reboot, err, sizeof(err));
	if (rc == 1) {
		back = powerfan_current(copy);
		if (!json_equal(json_object_get(back, "HOST_CONFIG_power_mode"),
				json_object_get(target, "power_mode")) ||
		    !json_equal(json_object_get(back, "HOST_CONFIG_fan_profile"),
				json_object_get(target, "fan_profile")))
			abort();
		json_decref(back);
		if (powerfan_render(copy, target, before, &reboot, err, sizeof(err)) != 0)
			abort(); /* the same target again: nothing to change */
		/* the target without its fan profile: agentd's key goes */
		json_object_del(target, "fan_profile");
		if (powerfan_render(copy, target, before, &reboot, err, sizeof(err)) != 1 || reboot)
			abort();
		back = powerfan_current(copy);
		if (json_object_get(back, "HOST_CONFIG_fan_profile") != NULL)
			abort();
		json_decref(back);
	} else if (rc == -1 && err[0] == '\0') {
		abort();
	}
	json_decref(before);
	json_decref(target);
	json_decref(now);
	json_decref(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = memfile("config.json", data, size);
	struct device_config cfg;
	char err[512];

	err[0] = '\0';
	if (config_load(path, &cfg, err, sizeof(err)) == 0) {
		if (cfg.listen_port < 1 || cfg.listen_port > 65535)
			abort();
		(void)config_managed(&cfg);
		powerfan_check(cfg.root);
		config_free(&cfg);
	} else if (err[0] == '\0') {
		abort(); /* a refusal says why */
	}
	return 0;
}
