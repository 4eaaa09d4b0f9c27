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
