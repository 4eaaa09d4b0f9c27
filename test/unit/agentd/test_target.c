/*
 * test_target.c - target states in, internal form out: the cloud's v3, the
 * local API's v2 and apps.json; an invalid target is refused whole with a
 * reason (an absurd one too: too many apps, services, env vars, or values
 * nested too deep); config var names lose their BALENA_/RESIN_ prefixes.
 */
#include "testutil.h"

#include "target.h"

#define V3                                                                                         \
	"{\"dev1\": {\"name\": \"holy-wildflower\", \"config\": "                                  \
	"{\"RESIN_SUPERVISOR_POLL_INTERVAL\": "                                                    \
	"\"900000\", \"BALENA_SUPERVISOR_POLL_INTERVAL\": \"60000\"}, \"apps\": {\"appuuid1\": {"  \
	"\"id\": 1011165, \"name\": \"myfleet\", \"releases\": {\"217d5523\": {\"id\": 557617, "   \
	"\"services\": {\"web\": {\"id\": 43697, \"image_id\": \"431889\", \"image\": "            \
	"\"reg/web\", "                                                                            \
	"\"environment\": {\"FOO\": \"bar\"}, \"labels\": {\"io.balena.update.strategy\": "        \
	"\"hand-over\"}, \"composition\": {\"ports\": [\"80:8080\"]}}}, \"volumes\": {\"data\": "  \
	"{}}, "                                                                                    \
	"\"networks\": {}}}}}}}"

static void v3_target_converts_to_the_internal_form(void **state)
{
	char err[256] = "";
	json_t *in = test_json(V3), *t, *app, *web;

	(void)state;
	t = target_from_v3(in, "dev1", err, sizeof(err));
	if (t == NULL)
		fail_msg("%s", err);
	assert_string_equal(json_string_value(json_object_get(t, "name")), "holy-wildflower");
	/* BALENA_ wins over RESIN_ */
	assert_string_equal(json_string_value(json_object_get(json_object_get(t, "config"),
							      "SUPERVISOR_POLL_INTERVAL")),
			    "60000");
	app = json_object_get(json_object_get(t, "apps"), "appuuid1");
	assert_int_equal(json_integer_value(json_object_get(app, "id")), 1011165);
	assert_string_equal(json_string_value(json_object_get(app, "commit")), "217d5523");
	assert_int_equal(json_integer_value(json_object_get(app, "release_id")), 557617);
	web = json_object_get(json_object_get(app, "services"), "web");
	assert_int_equal(json_integer_value(json_object_get(web, "image_id")), 431889);
	assert_true(json_is_true(json_object_get(web, "running")));
	assert_non_null(json_object_get(json_object_get(app, "volumes"), "data"));
	json_decref(t);
	json_decref(in);
}

/* facts §9.2 #28 */
static void target_without_this_device_is_rejected(void **state)
{
	char err[256] = "";
	json_t *in = test_json(V3);

	(void)state;
	assert_null(target_from_v3(in, "other", err, sizeof(err)));
	assert_string_equal(err, "Expected target state for local device with uuid 'other'.");
	json_decref(in);
}

static void v2_shape_on_the_v3_path_is_rejected(void **state)
{
	char err[256] = "";
	json_t *in = test_json("{\"local\": {\"name\": \"x\", \"apps\": {}}}");

	(void)state;
	assert_null(target_from_v3(in, "dev1", err, sizeof(err)));
	json_decref(in);
}

static void invalid_service_name_rejects_the_whole_target(void **state)
{
	char err[256] = "";
	json_t *in =
		test_json("{\"d\": {\"apps\": {\"u\": {\"id\": 1, \"name\": \"a\", \"releases\": "
			  "{\"c\": {\"id\": 1, \"services\": {\"bad name\": {\"id\": 1, "
			  "\"image_id\": 1, \"image\": \"x\"}}}}}}}}");

	(void)state;
	assert_null(target_from_v3(in, "d", err, sizeof(err)));
	assert_non_null(strstr(err, "invalid service name"));
	json_decref(in);
}

static void bad_env_and_ids_are_rejected(void **state)
{
	char err[256] = "";
	json_t *in;

	(void)state;
	in = test_json(
		"{\"d\": {\"apps\": {\"u\": {\"id\": 1, \"name\": \"a\", \"releases\": {\"c\": "
		"{\"id\": 1, \"services\": {\"s\": {\"id\": 1, \"image_id\": 1, \"image\": \"x\", "
		"\"environment\": {\"1BAD\": \"v\"}}}}}}}}}");
	assert_null(target_from_v3(in, "d", err, sizeof(err)));
	assert_non_null(strstr(err, "environment variable"));
	json_decref(in);
	in = test_json("{\"d\": {\"apps\": {\"u\": {\"id\": \"x1\", \"name\": \"a\"}}}}");
	assert_null(target_from_v3(in, "d", err, sizeof(err)));
	assert_non_null(strstr(err, "numeric id"));
	json_decref(in);
	in = test_json(
		"{\"d\": {\"apps\": {\"u\": {\"id\": 1, \"name\": \"a\", \"releases\": {\"c\": "
		"{\"id\": 1, \"services\": {\"s\": {\"id\": 1, \"image_id\": 1, \"image\": \"x\", "
		"\"environment\": {\"A\": 5}}}}}}}}}");
	assert_null(target_from_v3(in, "d", err, sizeof(err)));
	json_decref(in);
}

static void bad_network_or_volume_config_rejects_the_whole_target(void **state)
{
	char err[256] = "";
	json_t *in;

	(void)state;
	in = test_json("{\"d\": {\"apps\": {\"u\": {\"id\": 1, \"name\": \"a\", \"releases\": "
		       "{\"c\": {\"id\": 1, \"services\": {}, \"networks\": {\"back\": "
		       "{\"internal\": \"yes\"}}}}}}}}");
	assert_null(target_from_v3(in, "d", err, sizeof(err)));
	assert_non_null(strstr(err, "network u_back: internal must be true or false"));
	json_decref(in);
	in = test_json("{\"local\": {\"name\": \"dev\", \"apps\": {\"7\": {\"name\": \"a\", "
		       "\"commit\": \"c\", \"releaseId\": 1, \"services\": {}, \"volumes\": "
		       "{\"data\": {\"driver_opts\": {\"size\": 5}}}}}}}");
	assert_null(target_from_v2_local(in, err, sizeof(err)));
	assert_non_null(strstr(err, "volume 7_data: driver_opts.size must be a string"));
	json_decref(in);
}

/* facts §9.2 #7 */
static void v2_local_target_keeps_compose_fields(void **state)
{
	char err[256] = "";
	json_t *in = test_json(
		       "{\"local\": {\"name\": \"dev\", \"config\": {\"SUPERVISOR_LOCAL_MODE\": "
		       "\"true\"}, "
		       "\"apps\": {\"123\": {\"name\": \"app\", \"commit\": \"deadbeef\", "
		       "\"releaseId\": "
		       "\"1\", \"services\": {\"1\": {\"serviceName\": \"one\", \"imageId\": 11, "
		       "\"image\": "
		       "\"alpine\", \"environment\": {}, \"labels\": {}, \"running\": true, "
		       "\"restart\": "
		       "\"always\", \"network_mode\": \"host\"}, \"2\": {\"serviceName\": \"two\", "
		       "\"imageId\": 12, \"image\": \"alpine\"}}, \"volumes\": {}, \"networks\": "
		       "{}}}}}"),
	       *t, *app, *one;

	(void)state;
	if ((t = target_from_v2_local(in, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	app = json_object_get(json_object_get(t, "apps"), "123");
	assert_int_equal(json_integer_value(json_object_get(app, "id")), 123);
	assert_int_equal(json_integer_value(json_object_get(app, "release_id")), 1);
	one = json_object_get(json_object_get(app, "services"), "one");
	assert_int_equal(json_integer_value(json_object_get(one, "id")), 1);
	assert_int_equal(json_integer_value(json_object_get(one, "image_id")), 11);
	assert_string_equal(json_string_value(json_object_get(json_object_get(one, "composition"),
							      "network_mode")),
			    "host");
	assert_null(json_object_get(json_object_get(one, "composition"), "serviceName"));
	assert_non_null(json_object_get(json_object_get(app, "services"), "two"));
	assert_true(json_is_true(json_object_get(t, "local")));
	json_decref(t);
	json_decref(in);
}

static void v2_without_local_wrapper_is_rejected(void **state)
{
	char err[256] = "";
	json_t *in = test_json("{\"apps\": {}}");

	(void)state;
	assert_null(target_from_v2_local(in, err, sizeof(err)));
	json_decref(in);
}

/* facts §9.2 #22 */
static void config_keys_lose_prefixes_and_unprefixed_are_dropped(void **state)
{
	json_t *in = test_json(
		       "{\"FOO\": \"bar\", \"RESIN_SUPERVISOR_LOCAL_MODE\": \"false\", "
		       "\"BALENA_SUPERVISOR_POLL_INTERVAL\": \"100\", \"RESIN_HOST_CONFIG_"
		       "dtparam\": \"x\", \"RESIN_HOST_CONFIGFS_ssdt\": \"spidev1.0\", "
		       "\"BALENA_HOST_EXTLINUX_isolcpus\": \"1,2,3\", \"RESIN_OVERRIDE_LOCK\": "
		       "\"1\", \"HOST_FIREWALL_MODE\": \"off\", \"BALENA_FOO\": \"x\"}"),
	       *out = target_config_keys(in);

	(void)state;
	assert_null(json_object_get(out, "FOO"));
	assert_null(json_object_get(out, "BALENA_FOO"));
	assert_string_equal(json_string_value(json_object_get(out, "SUPERVISOR_LOCAL_MODE")),
			    "false");
	assert_string_equal(json_string_value(json_object_get(out, "SUPERVISOR_POLL_INTERVAL")),
			    "100");
	assert_non_null(json_object_get(out, "HOST_CONFIG_dtparam"));
	assert_non_null(json_object_get(out, "HOST_CONFIGFS_ssdt"));
	assert_non_null(json_object_get(out, "HOST_EXTLINUX_isolcpus"));
	assert_string_equal(json_string_value(json_object_get(out, "SUPERVISOR_OVERRIDE_LOCK")),
			    "1");
	/* unprefixed known names are kept (the balena CLI sends them so) */
	assert_string_equal(json_string_value(json_object_get(out, "HOST_FIREWALL_MODE")), "off");
	json_decref(in);
	json_decref(out);
}

static void preload_is_v3_without_the_uuid(void **state)
{
	char err[256] = "";
	json_t *in = test_json(
		       "{\"config\": {}, \"apps\": {\"u1\": {\"id\": 5, \"name\": \"demo\", "
		       "\"releases\": {\"c\": {\"id\": 2, \"services\": {\"s\": {\"id\": 1, "
		       "\"image_id\": 3, \"image\": \"img:1\"}}}}}}, \"pinDevice\": true}"),
	       *t;

	(void)state;
	assert_non_null(t = target_from_preload(in, err, sizeof(err)));
	assert_non_null(json_object_get(
		json_object_get(json_object_get(json_object_get(t, "apps"), "u1"), "services"),
		"s"));
	json_decref(t);
	json_decref(in);
}

static void ids_as_numbers_or_decimal_strings(void **state)
{
	json_t *a = json_integer(5), *b = json_string("17"), *c = json_string("1x"),
	       *d = json_integer(-3);

	(void)state;
	assert_int_equal(target_id(a), 5);
	assert_int_equal(target_id(b), 17);
	assert_int_equal(target_id(c), -1);
	assert_int_equal(target_id(d), -1);
	assert_int_equal(target_id(NULL), -1);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(d);
}

/* facts §9.2 #24 */
static void invalid_config_value_falls_back_to_its_default_with_a_warning(void **state)
{
	json_t *cfg = test_json(
		       "{\"SUPERVISOR_POLL_INTERVAL\": \"abc\", \"SUPERVISOR_LOCAL_MODE\": "
		       "\"TRUE\", \"SUPERVISOR_DELTA\": \"maybe\", \"HOST_FIREWALL_MODE\": "
		       "\"auto\", \"SUPERVISOR_API_REQUEST_TIMEOUT\": \"5.00\"}"),
	       *w = json_array();

	(void)state;
	assert_int_equal(target_config_check(cfg, w), 2);
	assert_string_equal(json_string_value(json_object_get(cfg, "SUPERVISOR_POLL_INTERVAL")),
			    "900000");
	assert_string_equal(json_string_value(json_object_get(cfg, "SUPERVISOR_DELTA")), "false");
	assert_string_equal(json_string_value(json_object_get(cfg, "SUPERVISOR_LOCAL_MODE")),
			    "TRUE");
	assert_string_equal(
		json_string_value(json_array_get(w, 0)),
		"Warning: Ignoring invalid device configuration value for "
		"SUPERVISOR_POLL_INTERVAL, value: abc. Falling back to default (900000)");
	json_decref(cfg);
	json_decref(w);
}

/* A v3 target for "dev1" with `apps` apps of `services` services each; the
 * first service gets `env` env vars and `depth` levels of nesting in one
 * composition field. */
static json_t *big_target(int apps, int services, int env, int depth)
{
	json_t *t = json_object(), *all = json_object();
	int a, s, i;

	json_object_set_new(t, "dev1",
			    json_pack("{s:s, s:{}, s:o}", "name", "big", "config", "apps", all));
	for (a = 0; a < apps; a++) {
		json_t *svcs = json_object();
		char uuid[32];

		snprintf(uuid, sizeof(uuid), "app%d", a);
		json_object_set_new(all, uuid,
				    json_pack("{s:i, s:s, s:{s:{s:i, s:o}}}", "id", a + 1, "name",
					      uuid, "releases", "c0ffee", "id", 7, "services",
					      svcs));
		for (s = 0; s < services; s++) {
			json_t *e = json_object(), *deep = json_array(), *cur = deep;
			char name[32];

			for (i = 0; a == 0 && s == 0 && i < env; i++) {
				char k[32];

				snprintf(k, sizeof(k), "V%d", i);
				json_object_set_new(e, k, json_string("x"));
			}
			for (i = 1; a == 0 && s == 0 && i < depth; i++) {
				json_t *next = json_array();

				json_array_append_new(cur, next);
				cur = next;
			}
			snprintf(name, sizeof(name), "s%d", s);
			json_object_set_new(svcs, name,
					    json_pack("{s:i, s:i, s:s, s:o, s:{s:o}}", "id", s + 1,
						      "image_id", s + 1, "image", "busybox",
						      "environment", e, "composition", "command",
						      deep));
		}
	}
	return t;
}

static void refused(json_t *t, const char *why)
{
	char err[256] = "";
	json_t *out = target_from_v3(t, "dev1", err, sizeof(err));

	if (out != NULL)
		fail_msg("an absurd target was taken (expected: %s)", why);
	if (strstr(err, why) == NULL)
		fail_msg("reason '%s' does not say '%s'", err, why);
	json_decref(t);
}

static void taken(json_t *t)
{
	char err[256] = "";
	json_t *out = target_from_v3(t, "dev1", err, sizeof(err));

	if (out == NULL)
		fail_msg("a target at the limits was refused: %s", err);
	json_decref(out);
	json_decref(t);
}

static void targets_at_the_limits_are_taken(void **state)
{
	(void)state;
	taken(big_target(TARGET_MAX_APPS, 1, TARGET_MAX_ENTRIES, TARGET_MAX_DEPTH));
	taken(big_target(1, TARGET_MAX_SERVICES, 0, 1));
}

static void absurd_targets_are_refused_whole_with_the_reason(void **state)
{
	(void)state;
	refused(big_target(TARGET_MAX_APPS + 1, 1, 0, 1), "101 apps, at most 100");
	refused(big_target(1, TARGET_MAX_SERVICES + 1, 0, 1), "101 services, at most 100");
	refused(big_target(1, 1, TARGET_MAX_ENTRIES + 1, 1),
		"1001 environment variables, at most 1000");
	refused(big_target(1, 1, 0, TARGET_MAX_DEPTH + 1),
		"field command nests more than 8 levels deep");
}

static void v2_local_targets_have_the_same_limits(void **state)
{
	json_t *apps = json_object(), *v2 = json_pack("{s:{s:o}}", "local", "apps", apps), *t;
	char err[256] = "";
	int i;

	(void)state;
	for (i = 0; i <= TARGET_MAX_APPS; i++) {
		char id[16];

		snprintf(id, sizeof(id), "%d", i + 1);
		json_object_set_new(apps, id, json_pack("{s:{}}", "services"));
	}
	t = target_from_v2_local(v2, err, sizeof(err));
	assert_null(t);
	assert_non_null(strstr(err, "101 apps, at most 100"));
	json_decref(v2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(v3_target_converts_to_the_internal_form),
		cmocka_unit_test(target_without_this_device_is_rejected),
		cmocka_unit_test(v2_shape_on_the_v3_path_is_rejected),
		cmocka_unit_test(invalid_service_name_rejects_the_whole_target),
		cmocka_unit_test(bad_env_and_ids_are_rejected),
		cmocka_unit_test(bad_network_or_volume_config_rejects_the_whole_target),
		cmocka_unit_test(v2_local_target_keeps_compose_fields),
		cmocka_unit_test(v2_without_local_wrapper_is_rejected),
		cmocka_unit_test(config_keys_lose_prefixes_and_unprefixed_are_dropped),
		cmocka_unit_test(preload_is_v3_without_the_uuid),
		cmocka_unit_test(ids_as_numbers_or_decimal_strings),
		cmocka_unit_test(invalid_config_value_falls_back_to_its_default_with_a_warning),
		cmocka_unit_test(targets_at_the_limits_are_taken),
		cmocka_unit_test(absurd_targets_are_refused_whole_with_the_reason),
		cmocka_unit_test(v2_local_targets_have_the_same_limits),
	};

	return cmocka_run_group_tests_name("target", tests, NULL, NULL);
}
