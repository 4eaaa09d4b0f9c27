/*
 * test_named.c - network and volume create bodies from the target state:
 * balena's defaults, compose names mapped to the engine's, labels, a hash
 * that follows the config, and clear errors on bad input.
 */
#include "testutil.h"

#include "named.h"

static void assert_json(json_t *got, const char *expect_text)
{
	json_t *expect = test_json(expect_text);

	if (!json_equal(got, expect)) {
		char *g = json_dumps(got, JSON_SORT_KEYS);

		fail_msg("got %s\nnot %s", g, expect_text);
	}
	json_decref(expect);
}

static void network_defaults_and_labels(void **state)
{
	char hash[17];
	json_t *spec = named_network("u1_default", NULL, "u1", 7, hash, NULL, 0);

	(void)state;
	assert_non_null(spec);
	assert_int_equal(strlen(hash), 16);
	/* the balena supervisor's labels exactly (it compares them to adopt the
	 * network when a device goes back to it): no app uuid, nothing of agentd */
	assert_json(spec, "{\"Name\":\"u1_default\",\"Driver\":\"bridge\",\"CheckDuplicate\":true,"
			  "\"IPAM\":{\"Driver\":\"default\",\"Config\":[],\"Options\":{}},"
			  "\"EnableIPv6\":false,\"Internal\":false,\"ConfigOnly\":false,"
			  "\"Options\":{},\"Labels\":{\"io.balena.supervised\":\"true\","
			  "\"io.balena.app-id\":\"7\"}}");
	json_decref(spec);
}

static void network_config_is_mapped(void **state)
{
	json_t *cfg =
		test_json("{\"driver\":\"bridge\",\"internal\":true,\"labels\":"
			  "{\"io.resin.x\":\"1\",\"mine\":\"a\"},\"driver_opts\":{\"o\":\"v\"},"
			  "\"ipam\":{\"driver\":\"default\",\"config\":[{\"subnet\":"
			  "\"10.99.0.0/24\",\"gateway\":\"10.99.0.1\",\"ip_range\":"
			  "\"10.99.0.128/25\",\"aux_addresses\":{\"h\":\"10.99.0.5\"}}],"
			  "\"options\":{\"k\":\"v\"}}}");
	char hash[17], err[256];
	json_t *spec = named_network("u1_back", cfg, "u1", 7, hash, err, sizeof(err));

	(void)state;
	assert_non_null(spec);
	assert_json(json_object_get(spec, "IPAM"),
		    "{\"Driver\":\"default\",\"Options\":{\"k\":\"v\"},\"Config\":[{\"Subnet\":"
		    "\"10.99.0.0/24\",\"Gateway\":\"10.99.0.1\",\"IPRange\":\"10.99.0.128/25\","
		    "\"AuxiliaryAddresses\":{\"h\":\"10.99.0.5\"}}]}");
	assert_true(json_is_true(json_object_get(spec, "Internal")));
	assert_json(json_object_get(spec, "Options"), "{\"o\":\"v\"}");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(spec, "Labels"), "io.balena.x")),
		"1");
	assert_int_equal(strlen(hash), 16);
	assert_null(
		json_object_get(json_object_get(spec, "Labels"), "io.balena.agentd.config-hash"));
	json_decref(spec);
	json_decref(cfg);
}

static void hash_follows_the_config_only(void **state)
{
	json_t *a = test_json("{\"driver_opts\":{\"type\":\"tmpfs\"}}");
	json_t *b = test_json("{\"driver_opts\":{\"type\":\"tmpfs\"}}");
	json_t *c = test_json("{\"driver_opts\":{\"type\":\"tmpfs\",\"o\":\"size=1m\"}}");
	char ha[17], hb[17], hc[17], hd[17];
	json_t *sa = named_volume("1_d", a, "u", ha, NULL, 0);
	json_t *sb = named_volume("1_d", b, "u", hb, NULL, 0);
	json_t *sc = named_volume("1_d", c, "u", hc, NULL, 0);
	json_t *sd = named_volume("1_d", NULL, "u", hd, NULL, 0);

	(void)state;
	assert_string_equal(ha, hb);
	assert_string_not_equal(ha, hc);
	assert_string_not_equal(ha, hd);
	assert_string_equal(json_string_value(json_object_get(sd, "Driver")), "local");
	json_decref(sa);
	json_decref(sb);
	json_decref(sc);
	json_decref(sd);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

static void expect_net_error(const char *cfg_text, const char *expect)
{
	json_t *cfg = test_json(cfg_text);
	char hash[17], err[256] = "";

	assert_null(named_network("u1_n", cfg, "u1", 7, hash, err, sizeof(err)));
	if (strstr(err, expect) == NULL)
		fail_msg("error '%s' does not mention '%s'", err, expect);
	json_decref(cfg);
}

static void bad_configs_are_clear_errors(void **state)
{
	json_t *cfg = test_json("{\"driver_opts\":{\"a\":1}}");
	char hash[17], err[256] = "";

	(void)state;
	expect_net_error("{\"driver\":5}", "driver");
	expect_net_error("{\"internal\":\"yes\"}", "internal must be true or false");
	expect_net_error("{\"ipam\":{\"config\":{}}}", "ipam.config must be a list");
	expect_net_error("{\"ipam\":{\"config\":[{\"subnet\":1}]}}", "subnet must be a string");
	expect_net_error("{\"ipam\":{\"config\":[{\"mask\":\"x\"}]}}", "unknown ipam.config key");
	expect_net_error("{\"labels\":[\"a\"]}", "labels must be an object");
	assert_null(named_volume("1_d", cfg, "u", hash, err, sizeof(err)));
	assert_non_null(strstr(err, "driver_opts.a must be a string"));
	json_decref(cfg);
}

/* balena (since v17) labels a network with custom IPAM config, and the label
 * is part of what the network is: gaining or losing IPAM changes the hash. */
static void custom_ipam_is_labelled(void **state)
{
	json_t *with = test_json("{\"ipam\":{\"config\":[{\"subnet\":\"10.99.0.0/24\","
				 "\"gateway\":\"10.99.0.1\"}]}}");
	json_t *empty = test_json("{\"ipam\":{\"driver\":\"default\",\"config\":[]}}");
	char h1[17], h2[17], h3[17];
	json_t *a = named_network("u1_n", with, "u1", 7, h1, NULL, 0);
	json_t *b = named_network("u1_n", empty, "u1", 7, h2, NULL, 0);
	json_t *c = named_network("u1_n", NULL, "u1", 7, h3, NULL, 0);

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_string_equal(json_string_value(json_object_get(json_object_get(a, "Labels"),
							      "io.balena.private.ipam.config")),
			    "true");
	assert_null(json_object_get(json_object_get(b, "Labels"), "io.balena.private.ipam.config"));
	assert_null(json_object_get(json_object_get(c, "Labels"), "io.balena.private.ipam.config"));
	assert_string_not_equal(h1, h2);
	assert_string_equal(h2, h3);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(with);
	json_decref(empty);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(network_defaults_and_labels),
		cmocka_unit_test(network_config_is_mapped),
		cmocka_unit_test(custom_ipam_is_labelled),
		cmocka_unit_test(hash_follows_the_config_only),
		cmocka_unit_test(bad_configs_are_clear_errors),
	};

	return cmocka_run_group_tests_name("named", tests, NULL, NULL);
}
