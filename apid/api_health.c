/*
 * apid/api_health.c - the two unauthenticated liveness routes: GET /ping
 * and GET /v1/healthy (500 "Unhealthy" while agentd reports a daemon down
 * past its restart burst limit).
 */
#include "apid.h"

void api_ping(struct apid *a, struct evhttp_request *req)
{
	(void)a;
	reply_text(req, 200, "OK");
}

void api_healthy(struct apid *a, struct evhttp_request *req)
{
	if (a->healthy)
		reply_text(req, 200, "OK");
	else
		reply_text(req, 500, "Unhealthy");
}

/* The balena API level agentd implements, with agentd's own version as
 * semver build metadata (the balena CLI wants >= 9.7.0 for livepush). */
void api_version(struct apid *a, struct evhttp_request *req)
{
	json_t *v = json_pack("{s:s, s:s}", "status", "success", "version",
			      "19.0.0+agentd." AGENTD_VERSION_STR);

	(void)a;
	reply_json(req, 200, v);
	json_decref(v);
}
