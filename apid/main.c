/*
 * apid/main.c - entry point of apid: binds the API address and port from
 * MSG_CONFIG before the sandbox, then serves HTTP and follows agentd's
 * health reports (MSG_HEALTH).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apid.h"
#include "log.h"

static void apid_on_request(struct evhttp_request *req, void *arg)
{
	routes_dispatch(arg, req);
}

static int apid_setup(struct child *c, json_t *config)
{
	const char *address = "0.0.0.0";
	json_int_t port = 48484, timeout_ms = 900000, max_conns = 128;
	struct apid *a;

	if (json_unpack(config, "{s?s, s?I, s?I, s?I}", "api_address", &address, "api_port", &port,
			"api_timeout_ms", &timeout_ms, "api_max_connections", &max_conns) == -1 ||
	    port < 1 || port > 65535 || timeout_ms < 1 || max_conns < 1 || max_conns > 100000) {
		log_error("config has a bad api_address, api_port, api_timeout_ms or "
			  "api_max_connections");
		return -1;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -1;
	a->child = c;
	a->healthy = 1;
	a->auth_enabled = 1; /* until agentd says otherwise */
	a->keys = json_array();
	TAILQ_INIT(&a->pending);
	TAILQ_INIT(&a->log_clients);
	if ((a->http = evhttp_new(child_base(c))) == NULL) {
		free(a);
		return -1;
	}
	evhttp_set_max_body_size(a->http, 10 * 1024 * 1024);
	/* A client that stalls while sending or reading is dropped after this;
	 * it never holds up others (one event loop, no blocking I/O). */
	{
		struct timeval tv = {(time_t)(timeout_ms / 1000),
				     (suseconds_t)(timeout_ms % 1000) * 1000};

		evhttp_set_timeout_tv(a->http, &tv);
	}
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						    EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(a->http, apid_on_request, a);
	conns_init(a, (unsigned)max_conns);
	if (evhttp_bind_socket(a->http, address, (ev_uint16_t)port) == -1) {
		log_warn("cannot listen on %s:%d", address, (int)port);
		evhttp_free(a->http);
		free(a);
		return -1;
	}
	log_info("listening on %s:%d", address, (int)port);
	child_set_data(c, a);
	return 0;
}

static int apid_dispatch(struct child *c, const struct frame_hdr *hdr, json_t *body, int fd)
{
	struct apid *a = child_data(c);
	const char *why = NULL;
	int healthy;

	if (fd >= 0)
		close(fd);
	if (hdr->type == MSG_API_AUTH)
		return auth_update(a, body);
	if (hdr->type == MSG_LOG) {
		logs_broadcast(a, body);
		return 0;
	}
	if (hdr->type != MSG_HEALTH)
		return -1;
	if (json_unpack(body, "{s:b, s?s}", "healthy", &healthy, "reason", &why) == -1)
		return -1;
	a->healthy = healthy;
	free(a->unhealthy_why);
	a->unhealthy_why = why ? strdup(why) : NULL;
	return 0;
}

static void apid_teardown(struct child *c)
{
	struct apid *a = child_data(c);

	forward_free_all(a);
	logs_free_all(a);
	conns_free_all(a);
	evhttp_free(a->http);
	json_decref(a->keys);
	free(a->unhealthy_why);
	free(a);
}

static const struct child_ops apid_ops = {
	.id = D_APID,
	.policy = &apid_policy,
	.drop_user = 1,
	.setup = apid_setup,
	.dispatch = apid_dispatch,
	.teardown = apid_teardown,
};

int main(int argc, char **argv)
{
	return child_main(argc, argv, &apid_ops);
}
