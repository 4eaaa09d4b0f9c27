/*
 * cloudsyncd/main.c - entry point of cloudsyncd. Unmanaged (no api_endpoint
 * in its config) it only answers agentd; managed, it provisions, polls and
 * reports (sync.c).
 */
#include <stdlib.h>
#include <unistd.h>

#include "cloudsyncd.h"
#include "log.h"

static int cloudsyncd_setup(struct child *c, json_t *config)
{
	const char *endpoint = json_string_value(json_object_get(config, "api_endpoint"));
	struct cloud *cl;
	char err[256];

	if (endpoint == NULL || endpoint[0] == '\0') {
		log_debug("unmanaged device: no cloud to sync with");
		return 0;
	}
	/* Before the sandbox: libcurl, TLS and curl's global state. */
	if (http_global_init(err, sizeof(err)) == -1) {
		log_error("%s", err);
		return -1;
	}
	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		return -1;
	cl->ch = child_chan(c);
	if (cloud_setup(cl, child_base(c), config) == -1) {
		cloud_teardown(cl);
		free(cl);
		return -1;
	}
	child_set_data(c, cl);
	log_info("managed device: api endpoint %s", endpoint);
	return 0;
}

static int cloudsyncd_dispatch(struct child *c, const struct frame_hdr *hdr, json_t *body, int fd)
{
	struct cloud *cl = child_data(c);

	if (fd >= 0)
		close(fd);
	if (cl == NULL)
		return hdr->type == MSG_CLOUD_POLL || hdr->type == MSG_CLOUD_REPORT ||
				       hdr->type == MSG_CLOUD_LOG || hdr->type == MSG_CLOUD_TAGS ||
				       hdr->type == MSG_CLOUD_SETTINGS
			       ? 0
			       : -1;
	if (hdr->type == MSG_CLOUD_POLL) {
		cloud_poll_now(cl);
		return 0;
	}
	if (hdr->type == MSG_CLOUD_SETTINGS) {
		cloud_settings(cl, body);
		return 0;
	}
	if (hdr->type == MSG_CLOUD_TAGS && json_is_object(json_object_get(body, "tags"))) {
		cloud_tags(cl, json_object_get(body, "tags"));
		return 0;
	}
	if (hdr->type == MSG_CLOUD_TAGS_GET) {
		cloud_tags_get(cl, hdr);
		return 0;
	}
	if (hdr->type == MSG_CLOUD_DELTA) {
		cloud_delta(cl, hdr, body);
		return 0;
	}
	if (hdr->type == MSG_CLOUD_LOG && json_is_object(json_object_get(body, "line"))) {
		cloud_log(cl, json_object_get(body, "line"));
		return 0;
	}
	if (hdr->type == MSG_CLOUD_REPORT && json_is_object(json_object_get(body, "report"))) {
		cloud_report(cl, json_object_get(body, "report"));
		return 0;
	}
	return -1;
}

static void cloudsyncd_teardown(struct child *c)
{
	struct cloud *cl = child_data(c);

	if (cl == NULL)
		return;
	cloud_teardown(cl);
	free(cl);
	http_global_cleanup();
}

static const struct child_ops cloudsyncd_ops = {
	.id = D_CLOUDSYNCD,
	.policy = &cloudsyncd_policy,
	.drop_user = 1,
	.setup = cloudsyncd_setup,
	.dispatch = cloudsyncd_dispatch,
	.teardown = cloudsyncd_teardown,
};

int main(int argc, char **argv)
{
	return child_main(argc, argv, &cloudsyncd_ops);
}
