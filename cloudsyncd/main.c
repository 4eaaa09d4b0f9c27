/*
 * cloudsyncd/main.c - entry point of cloudsyncd. It learns from MSG_CONFIG
 * whether the device is managed; unmanaged, it does nothing but answer
 * agentd until told to stop.
 */
#include <stdlib.h>

#include "cloudsyncd.h"
#include "log.h"

static int cloudsyncd_setup(struct child *c, json_t *config)
{
	const char *endpoint = NULL;

	(void)c;
	if (json_unpack(config, "{s?s}", "api_endpoint", &endpoint) == -1)
		return -1;
	if (endpoint == NULL || endpoint[0] == '\0')
		log_debug("unmanaged device: no cloud to sync with");
	else
		log_info("managed device, api endpoint %s (cloud sync not implemented yet)",
			 endpoint);
	return 0;
}

static const struct child_ops cloudsyncd_ops = {
	.id = D_CLOUDSYNCD,
	.policy = &cloudsyncd_policy,
	.drop_user = 1,
	.setup = cloudsyncd_setup,
	.dispatch = NULL,
	.teardown = NULL,
};

int main(int argc, char **argv)
{
	return child_main(argc, argv, &cloudsyncd_ops);
}
