/*
 * test_instanced.c - GET /v2/local/target-state in the balena supervisor's
 * shape: each service of the Node supervisor's own fixture app (composed by
 * agentd the way the apply loop composes it) must come out field by field
 * as the Node supervisor v19.0.5 showed it (test/fixtures/node-v19).
 */
#include "testutil.h"

#include "compose.h"
#include "instanced.h"
#include "named.h"
#include "target.h"

#define FIX "test/fixtures/node-v19/"

static json_t *load(const char *file)
{
	json_error_t e;
	json_t *j = json_load_file(file, 0, &e);

	if (j == NULL)
		fail_msg("cannot read %s: %s", file, e.text);
	return j;
}

/* The image id and config the fixture's images.json has for a reference. */
static json_t *image_of(json_t *images, const char *ref, const char **id)
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

/* Every field of `want` equals the one in `got`, and got has no other. */
static void assert_fields(const char *what, json_t *got, json_t *want)
{
	const char *k;
	json_t *v;
	int bad = 0;

	json_object_foreach(want, k, v) {
		if (!json_equal(json_object_get(got, k), v)) {
			char *g = json_dumps(json_object_get(got, k),
					     JSON_SORT_KEYS | JSON_ENCODE_ANY);
			char *w = json_dumps(v, JSON_SORT_KEYS | JSON_ENCODE_ANY);

			print_error("%s.%s: got %s, balena has %s\n", what, k, g ? g : "(none)", w);
			free(g);
			free(w);
			bad++;
		}
	}
	json_object_foreach(got, k, v) {
		if (json_object_get(want, k) == NULL) {
			print_error("%s.%s: not in balena's shape\n", what, k);
			bad++;
		}
	}
	if (bad)
		fail_msg("%s: %d field(s) differ from the Node supervisor's", what, bad);
}

static void services_match_the_node_supervisors_field_by_field(void **state)
{
	json_t *posted = load(FIX "target.json"), *node = load(FIX "v2-local-target-state.json");
	json_t *images = load(FIX "images.json"), *nodeapp, *t, *app, *svc, *want;
	char err[512];
	const char *name;
	size_t i;

	(void)state;
	t = target_from_v2_local(json_object_get(posted, "release2"), err, sizeof(err));
	assert_non_null(t);
	app = json_object_get(json_object_get(t, "apps"), "1011");
	nodeapp = json_object_get(
		json_object_get(json_object_get(json_object_get(node, "state"), "local"), "apps"),
		"1011");
	assert_non_null(app);
	assert_non_null(nodeapp);
	json_array_foreach(json_object_get(nodeapp, "services"), i, want) {
		struct compose_ctx ctx;
		struct composed comp;
		const char *id = NULL;
		char image[512];
		json_t *got;

		name = json_string_value(json_object_get(want, "serviceName"));
		svc = json_object_get(json_object_get(app, "services"), name);
		assert_non_null(svc);
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
		ctx.image_config = image_of(images, image, &id);
		ctx.image_id_ref = id;
		memset(&comp, 0, sizeof(comp));
		assert_int_equal(compose_service(&ctx, svc, &comp, err, sizeof(err)), 0);
		got = instanced_service_config(&comp, id);
		assert_fields(name, got, json_object_get(want, "config"));
		json_decref(got);
		compose_free(&comp);
	}
	json_decref(t);
	json_decref(posted);
	json_decref(node);
	json_decref(images);
}

static void networks_and_volumes_match_the_node_supervisors(void **state)
{
	json_t *node = load(FIX "v2-local-target-state.json"), *posted = load(FIX "target.json");
	json_t *nodeapp = json_object_get(
		json_object_get(json_object_get(json_object_get(node, "state"), "local"), "apps"),
		"1011");
	json_t *app = json_object_get(
		json_object_get(json_object_get(json_object_get(posted, "release2"), "local"),
				"apps"),
		"1011");
	json_t *want, *spec, *got;
	char hash[17], err[256], full[300];
	size_t i;

	(void)state;
	json_array_foreach(json_object_get(nodeapp, "networks"), i, want) {
		const char *n = json_string_value(json_object_get(want, "name"));

		snprintf(full, sizeof(full), "1011_%s", n);
		spec = named_network(full, json_object_get(json_object_get(app, "networks"), n),
				     "1011", 1011, hash, err, sizeof(err));
		assert_non_null(spec);
		got = instanced_network(1011, "1011", n, spec);
		/* agentd labels its networks with the app uuid too */
		json_object_del(json_object_get(json_object_get(got, "config"), "labels"),
				"io.balena.app-uuid");
		assert_fields(n, json_object_get(got, "config"), json_object_get(want, "config"));
		assert_int_equal(json_integer_value(json_object_get(got, "appId")), 1011);
		json_decref(got);
		json_decref(spec);
	}
	json_array_foreach(json_object_get(nodeapp, "volumes"), i, want) {
		const char *n = json_string_value(json_object_get(want, "name"));

		snprintf(full, sizeof(full), "1011_%s", n);
		spec = named_volume(full, json_object_get(json_object_get(app, "volumes"), n),
				    "1011", hash, err, sizeof(err));
		assert_non_null(spec);
		got = instanced_volume(1011, "1011", n, spec);
		assert_fields(n, json_object_get(got, "config"), json_object_get(want, "config"));
		json_decref(got);
		json_decref(spec);
	}
	json_decref(node);
	json_decref(posted);
}

/* Ports are folded into ranges the way balena folds them. */
static void consecutive_ports_fold_into_ranges(void **state)
{
	struct composed c;
	json_t *got, *want;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.running = 1;
	c.spec = test_json("{\"HostConfig\":{\"PortBindings\":{"
			   "\"81/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"9001\"}],"
			   "\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"9000\"}],"
			   "\"82/udp\":[{\"HostIp\":\"\",\"HostPort\":\"9002\"}],"
			   "\"90/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"90\"}]}}}");
	c.networks = json_object();
	got = instanced_service_config(&c, "img");
	want = test_json("[{\"ports\":{\"internalStart\":80,\"internalEnd\":81,\"externalStart\":"
			 "9000,\"externalEnd\":9001,\"host\":\"\",\"protocol\":\"tcp\"}},"
			 "{\"ports\":{\"internalStart\":82,\"internalEnd\":82,\"externalStart\":"
			 "9002,\"externalEnd\":9002,\"host\":\"\",\"protocol\":\"udp\"}},"
			 "{\"ports\":{\"internalStart\":90,\"internalEnd\":90,\"externalStart\":90,"
			 "\"externalEnd\":90,\"host\":\"127.0.0.1\",\"protocol\":\"tcp\"}}]");
	assert_true(json_equal(json_object_get(got, "portMaps"), want));
	json_decref(want);
	json_decref(got);
	json_decref(c.spec);
	json_decref(c.networks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(services_match_the_node_supervisors_field_by_field),
		cmocka_unit_test(networks_and_volumes_match_the_node_supervisors),
		cmocka_unit_test(consecutive_ports_fold_into_ranges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
