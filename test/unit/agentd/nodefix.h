/*
 * nodefix.h - the Node supervisor v19.0.5 fixture (test/fixtures/node-v19)
 * for unit tests: its files as JSON, and a service of its app composed the
 * way agentd's apply loop composes it on that device.
 */
#ifndef AGENTD_TEST_NODEFIX_H
#define AGENTD_TEST_NODEFIX_H

#include "testutil.h"

#include "compose.h"
#include "target.h"

#define NODEFIX "test/fixtures/node-v19/"

static inline json_t *nodefix_load(const char *file)
{
	char path[512];
	json_error_t e;
	json_t *j;

	snprintf(path, sizeof(path), NODEFIX "%s", file);
	if ((j = json_load_file(path, 0, &e)) == NULL)
		fail_msg("cannot read %s: %s", path, e.text);
	return j;
}

/* The image id and config the fixture's images.json has for a reference. */
static inline json_t *nodefix_image(json_t *images, const char *ref, const char **id)
{
	json_t *img, *tag;
	size_t i, k;

	json_array_foreach(images, i, img)
		json_array_foreach(json_object_get(img, "RepoTags"), k, tag)
			if (!strcmp(json_string_value(tag), ref)) {
				*id = json_string_value(json_object_get(img, "Id"));
				return json_object_get(img, "Config");
			}
	fail_msg("no image %s in the fixture", ref);
	return NULL;
}

/* The fixture's release-2 target, internal form (new reference). */
static inline json_t *nodefix_target(void)
{
	json_t *posted = nodefix_load("target.json"), *t;
	char err[512];

	t = target_from_v2_local(json_object_get(posted, "release2"), err, sizeof(err));
	if (t == NULL)
		fail_msg("the fixture's target: %s", err);
	json_decref(posted);
	return t;
}

/* Compose service `name` of the fixture app as agentd would on the
 * fixture's device; *image_config gets the image's Config (borrowed from
 * images). 0, or -1 with the reason in err. */
static inline int nodefix_compose(json_t *target, json_t *images, const char *name,
				  struct composed *out, json_t **image_config, char *err,
				  size_t errlen)
{
	json_t *app = json_object_get(json_object_get(target, "apps"), "1011");
	json_t *svc = json_object_get(json_object_get(app, "services"), name);
	struct compose_ctx ctx;
	const char *id = NULL;
	char image[512];

	if (svc == NULL)
		fail_msg("no service %s in the fixture's target", name);
	compose_image_normalise(json_string_value(json_object_get(svc, "image")), image,
				sizeof(image));
	memset(&ctx, 0, sizeof(ctx));
	ctx.app_id = 1011;
	ctx.app_uuid = "1011";
	ctx.app_name = "fixture-app";
	ctx.service_name = name;
	ctx.service_id = (int)json_integer_value(json_object_get(svc, "id"));
	ctx.image_id = (int)json_integer_value(json_object_get(svc, "image_id"));
	ctx.release_id = 2101;
	ctx.commit = "9d8e7f6a5b4c4d3e2f1a0b9c8d7e6f5a";
	ctx.device_uuid = "7c1d9e0a4b2f4c6d8e3a5b7c9d1e2f30";
	ctx.device_type = "intel-nuc";
	ctx.device_arch = "amd64";
	ctx.device_name = "nodesup-fixture";
	ctx.host_os_version = "balenaOS 6.5.39+rev1";
	ctx.run_dir = "/tmp/balena-supervisor";
	ctx.engine_socket = "/var/run/balena-engine.sock";
	ctx.api_port = 48777;
	ctx.api_host = SUPERVISOR_NETWORK_GATEWAY;
	ctx.api_key = "052f4fbc85664d73840fcc60b6e4b0cb";
	*image_config = ctx.image_config = nodefix_image(images, image, &id);
	ctx.image_id_ref = id;
	memset(out, 0, sizeof(*out));
	return compose_service(&ctx, svc, out, err, errlen);
}

#endif
