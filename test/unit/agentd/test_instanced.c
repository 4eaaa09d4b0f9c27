/*
 * test_instanced.c - GET /v2/local/target-state in the balena supervisor's
 * shape: each service of the Node supervisor's own fixture app (composed by
 * agentd the way the apply loop composes it) must come out field by field
 * as the Node supervisor v19.0.5 showed it (test/fixtures/node-v19).
 */
#include "nodefix.h"

#include "instanced.h"
#include "named.h"

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
	json_t *node = nodefix_load("v2-local-target-state.json"),
	       *images = nodefix_load("images.json");
	json_t *t = nodefix_target(), *nodeapp, *want, *image_config;
	char err[512];
	size_t i;

	(void)state;
	nodeapp = json_object_get(
		json_object_get(json_object_get(json_object_get(node, "state"), "local"), "apps"),
		"1011");
	assert_non_null(nodeapp);
	json_array_foreach(json_object_get(nodeapp, "services"), i, want) {
		const char *name = json_string_value(json_object_get(want, "serviceName"));
		struct composed comp;
		json_t *got;

		assert_int_equal(
			nodefix_compose(t, images, name, &comp, &image_config, err, sizeof(err)),
			0);
		got = instanced_service_config(
			&comp, json_string_value(json_object_get(comp.spec, "Image")));
		assert_fields(name, got, json_object_get(want, "config"));
		json_decref(got);
		compose_free(&comp);
	}
	json_decref(t);
	json_decref(node);
	json_decref(images);
}

static void networks_and_volumes_match_the_node_supervisors(void **state)
{
	json_t *node = nodefix_load("v2-local-target-state.json"),
	       *posted = nodefix_load("target.json");
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
