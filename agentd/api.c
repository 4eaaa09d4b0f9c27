/*
 * api.c - the local API's routes on agentd's side: the table from the route
 * names apid sends (apid/routes.c has the same names) to the handlers in
 * api_apps.c and api_device.c, the dispatch of MSG_API_CALL, and the keys
 * apid checks callers against.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"

static const struct {
	const char *route;
	void (*fn)(struct api_call *c);
} api_routes[] = {
	{"app.purge", api_app_purge},
	{"app.restart", api_app_restart},
	{"app.start-service", api_start_service},
	{"app.state", api_app_state},
	{"app.stop-service", api_stop_service},
	{"app.restart-service", api_restart_service},
	{"applications.state", api_applications_state},
	{"cleanup-volumes", api_cleanup_volumes},
	{"containerId", api_container_id},
	{"device.host-config.get", api_host_config_get},
	{"device.host-config.patch", api_host_config_patch},
	{"device.name", api_device_name},
	{"device.tags", api_device_tags},
	{"device.tags.patch", api_device_tags_patch},
	{"device.v1", api_device_v1},
	{"device.vpn", api_device_vpn},
	{"journal-logs", api_journal_logs},
	{"journal-logs.stop", api_journal_stop},
	{"local.device-info", api_device_info},
	{"local.target.get", api_target_get},
	{"local.target.set", api_target_set},
	{"metrics", api_metrics},
	{"state.status", api_state_status},
	{"v1.apps.get", api_v1_app_get},
	{"v1.apps.start", api_v1_app_start},
	{"v1.apps.stop", api_v1_app_stop},
	{"v1.blink", api_blink},
	{"v1.reboot", api_reboot},
	{"v1.regenerate-api-key", api_regenerate_key},
	{"v1.shutdown", api_shutdown},
	{"v1.update", api_update},
};

static int api_dispatch(struct daemon *d, const struct frame_hdr *hdr, json_t *body, void *arg)
{
	struct api_call *c;
	const char *route;
	json_t *params, *query, *scope = NULL, *b = NULL;
	size_t i;

	(void)d;
	if (json_unpack(body, "{s:s, s:o, s:o, s?o, s?o !}", "route", &route, "params", &params,
			"query", &query, "body", &b, "scope", &scope) == -1 ||
	    !json_is_object(params) || !json_is_object(query))
		return -1;
	for (i = 0; i < sizeof(api_routes) / sizeof(api_routes[0]); i++)
		if (strcmp(api_routes[i].route, route) == 0)
			break;
	if (i == sizeof(api_routes) / sizeof(api_routes[0]))
		return -1; /* apid's table and ours disagree: apid is not to be trusted */
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return 0;
	c->ad = arg;
	c->req = *hdr;
	c->params = json_incref(params);
	c->query = json_incref(query);
	c->body = b ? json_incref(b) : json_null();
	c->scope = scope ? json_incref(scope) : NULL;
	api_routes[i].fn(c);
	return 0;
}

void api_send_auth(struct agentd *ad)
{
	struct chan *ch = supervisor_chan(&ad->sv, D_APID);
	char *global;
	json_t *m;

	if (ch == NULL)
		return;
	global = keys_for(&ad->keys, 0, NULL); /* makes it on first use */
	free(global);
	m = json_pack("{s:b, s:o}", "enabled", !apply_local_mode(ad->apply), "keys",
		      keys_all(&ad->keys));
	if (m != NULL)
		chan_send_json(ch, MSG_API_AUTH, 0, 0, m);
	json_decref(m);
}

void api_init(struct agentd *ad)
{
	supervisor_on(&ad->sv, MSG_API_CALL, api_dispatch, ad);
}
