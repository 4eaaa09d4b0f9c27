/*
 * test_adopt.c - the balena supervisor's "no change" comparison: every
 * container, network and volume the Node supervisor v19.0.5 made for its
 * fixture app (test/fixtures/node-v19, engine inspects) compares equal with
 * what agentd composes for the same target; one changed field compares
 * unequal and is named.
 */
#include "nodefix.h"

#include "adopt.h"
#include "named.h"

static json_t *container_named(json_t *containers, const char *service)
{
	json_t *c;
	size_t i;
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "/%s_", service);
	json_array_foreach(containers, i, c)
		if (!strncmp(json_string_value(json_object_get(c, "Name")), prefix, strlen(prefix)))
			return c;
	fail_msg("no container for %s in the fixture", service);
	return NULL;
}

/* Compare service `name` after letting `edit` change the target's service
 * (may be NULL); returns the field named (or NULL when equal). */
static const char *compare(const char *name, void (*edit_svc)(json_t *svc),
			   void (*edit_ct)(json_t *inspect), char *why, size_t len)
{
	static char field[64];
	json_t *containers = nodefix_load("containers.json"), *images = nodefix_load("images.json");
	json_t *t = nodefix_target(), *inspect, *image_config;
	struct composed comp;
	const char *f;
	char err[512];

	if (edit_svc != NULL)
		edit_svc(json_object_get(
			json_object_get(json_object_get(json_object_get(t, "apps"), "1011"),
					"services"),
			name));
	inspect = json_deep_copy(container_named(containers, name));
	if (edit_ct != NULL)
		edit_ct(inspect);
	assert_int_equal(nodefix_compose(t, images, name, &comp, &image_config, err, sizeof(err)),
			 0);
	f = adopt_container(inspect, comp.spec, image_config, comp.networks, NULL, why, len);
	snprintf(field, sizeof(field), "%s", f ? f : "");
	compose_free(&comp);
	json_decref(inspect);
	json_decref(t);
	json_decref(containers);
	json_decref(images);
	return field[0] ? field : NULL;
}

static void every_node_made_container_is_what_agentd_would_make(void **state)
{
	static const char *const names[] = {"frontend", "api", "worker"};
	char why[700];
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		const char *f = compare(names[i], NULL, NULL, why, sizeof(why));

		if (f != NULL)
			fail_msg("%s: %s differs: %s", names[i], f, why);
	}
}

static void env_changed(json_t *svc)
{
	json_object_set_new(json_object_get(svc, "environment"), "MODE", json_string("debug"));
}

static void label_added(json_t *svc)
{
	json_object_set_new(json_object_get(svc, "labels"), "com.example.new", json_string("1"));
}

static void restart_changed(json_t *svc)
{
	json_object_set_new(json_object_get(svc, "composition"), "restart", json_string("no"));
}

static void other_image(json_t *inspect)
{
	json_object_set_new(
		json_object_get(inspect, "Config"), "Image",
		json_string("sha256:0000000000000000000000000000000000000000000000000000"
			    "000000000000"));
}

static void port_gone(json_t *inspect)
{
	json_object_set_new(json_object_get(inspect, "HostConfig"), "PortBindings", json_object());
}

static void off_the_network(json_t *inspect)
{
	json_object_del(json_object_get(json_object_get(inspect, "NetworkSettings"), "Networks"),
			"1011_backnet");
}

static void name_at_init_and_agentd_labels(json_t *inspect)
{
	json_t *cfg = json_object_get(inspect, "Config");

	json_array_append_new(json_object_get(cfg, "Env"),
			      json_string("BALENA_DEVICE_NAME_AT_INIT=another-name"));
	json_object_set_new(json_object_get(cfg, "Labels"), "io.balena.agentd.config-hash",
			    json_string("0123456789abcdef"));
}

static void a_changed_field_is_named(void **state)
{
	char why[700];

	(void)state;
	assert_string_equal(compare("frontend", env_changed, NULL, why, sizeof(why)),
			    "environment");
	assert_non_null(strstr(why, "debug"));
	assert_string_equal(compare("api", label_added, NULL, why, sizeof(why)), "labels");
	assert_string_equal(compare("worker", restart_changed, NULL, why, sizeof(why)), "restart");
	assert_string_equal(compare("api", NULL, other_image, why, sizeof(why)), "image");
	assert_string_equal(compare("frontend", NULL, port_gone, why, sizeof(why)), "portMaps");
	assert_string_equal(compare("frontend", NULL, off_the_network, why, sizeof(why)),
			    "networks");
}

/* What balena leaves out: the device name at creation, and agentd's labels. */
static void fields_balena_ignores_stay_ignored(void **state)
{
	char why[700];

	(void)state;
	assert_null(compare("worker", NULL, name_at_init_and_agentd_labels, why, sizeof(why)));
}

static void node_made_networks_and_volumes_are_what_agentd_would_make(void **state)
{
	json_t *networks = nodefix_load("networks.json"), *volumes = nodefix_load("volumes.json");
	json_t *posted = nodefix_load("target.json"), *n, *spec, *cfg, *copy;
	json_t *app = json_object_get(
		json_object_get(json_object_get(json_object_get(posted, "release2"), "local"),
				"apps"),
		"1011");
	char hash[17], err[256], why[700];
	const char *name, *f;
	size_t i;

	(void)state;
	json_array_foreach(networks, i, n) {
		name = json_string_value(json_object_get(n, "Name"));
		if (strncmp(name, "1011_", 5) != 0)
			continue; /* supervisor0 is agentd's own business */
		cfg = json_object_get(json_object_get(app, "networks"), name + 5);
		spec = named_network(name, cfg, "1011", 1011, hash, err, sizeof(err));
		assert_non_null(spec);
		if ((f = adopt_network(n, spec, why, sizeof(why))) != NULL)
			fail_msg("%s: %s differs: %s", name, f, why);
		/* a network that gains a subnet is not the same network */
		if (strcmp(name, "1011_backnet") == 0) {
			copy = json_deep_copy(spec);
			json_object_set_new(
				json_array_get(
					json_object_get(json_object_get(copy, "IPAM"), "Config"),
					0),
				"Subnet", json_string("172.31.241.0/24"));
			assert_string_equal(adopt_network(n, copy, why, sizeof(why)),
					    "ipam.config");
			json_decref(copy);
		}
		json_decref(spec);
	}
	json_array_foreach(volumes, i, n) {
		name = json_string_value(json_object_get(n, "Name"));
		if (strcmp(name, "1011_appdata") != 0)
			continue;
		spec = named_volume(name,
				    json_object_get(json_object_get(app, "volumes"), "appdata"),
				    "1011", hash, err, sizeof(err));
		assert_non_null(spec);
		if ((f = adopt_volume(n, spec, why, sizeof(why))) != NULL)
			fail_msg("%s: %s differs: %s", name, f, why);
		json_object_set_new(json_object_get(spec, "Labels"), "com.example.backup",
				    json_string("weekly"));
		assert_string_equal(adopt_volume(n, spec, why, sizeof(why)), "labels");
		json_decref(spec);
	}
	json_decref(networks);
	json_decref(volumes);
	json_decref(posted);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_node_made_container_is_what_agentd_would_make),
		cmocka_unit_test(a_changed_field_is_named),
		cmocka_unit_test(fields_balena_ignores_stay_ignored),
		cmocka_unit_test(node_made_networks_and_volumes_are_what_agentd_would_make),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
