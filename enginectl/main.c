/*
 * enginectl/main.c - entry point of enginectl. It keeps the engine socket
 * path it is given in MSG_CONFIG and serves agentd's requests; the engine
 * client itself grows in later work (see docs/architecture.md).
 */
#include <stdlib.h>
#include <string.h>

#include "enginectl.h"
#include "log.h"

struct enginectl {
	char *socket_path; /* owned */
};

static int enginectl_setup(struct child *c, json_t *config)
{
	struct enginectl *e;
	const char *sock = NULL;

	if (json_unpack(config, "{s:s}", "engine_socket", &sock) == -1) {
		log_error("config lacks engine_socket");
		return -1;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL || (e->socket_path = strdup(sock)) == NULL) {
		free(e);
		return -1;
	}
	child_set_data(c, e);
	log_debug("engine socket %s", sock);
	return 0;
}

static void enginectl_teardown(struct child *c)
{
	struct enginectl *e = child_data(c);

	free(e->socket_path);
	free(e);
}

static const struct child_ops enginectl_ops = {
	.id = D_ENGINECTL,
	.policy = &enginectl_policy,
	.drop_user = 0, /* the engine socket is root's */
	.setup = enginectl_setup,
	.dispatch = NULL,
	.teardown = enginectl_teardown,
};

int main(int argc, char **argv)
{
	return child_main(argc, argv, &enginectl_ops);
}
