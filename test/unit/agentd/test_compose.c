/*
 * test_compose.c - unit tests of compose.c: a target service in (plain JSON),
 * the engine's create body and the side outputs out, checked field by field
 * against the balena supervisor's behaviour (facts §1.4, §2.2, §4.4, §9.2).
 */
#include "testutil.h"

#include "compose.h"
#include "jsonx.h"

static struct compose_ctx ctx;
static struct composed out;
static char err[512];

static int setup(void **state)
{
	(void)state;
	memset(&ctx, 0, sizeof(ctx));
	ctx.app_id = 123;
	ctx.app_uuid = "appuuid";
	ctx.app_name = "myapp";
	ctx.service_name = "test";
	ctx.service_id = 5;
	ctx.image_id = 7;
	ctx.release_id = 9;
	ctx.commit = "deadbeef";
	ctx.device_uuid = "devuuid";
	ctx.device_type = "raspberrypi4-64";
	ctx.device_arch = "aarch64";
	ctx.device_name = "my-device";
	ctx.host_os_version = "balenaOS 6.0.0";
	ctx.run_dir = "/tmp/balena-supervisor";
	ctx.engine_socket = "/var/run/balena-engine.sock";
	ctx.api_key = "svckey";
	ctx.api_port = 48484;
	ctx.api_host = "10.114.104.1";
	memset(&out, 0, sizeof(out));
	err[0] = '\0';
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	compose_free(&out);
	json_decref(ctx.image_config);
	ctx.image_config = NULL;
	return 0;
}

/* Compose a service given as JSON text (out is freed first); fail on an error. */
static json_t *compose(const char *svc_json)
{
	json_t *svc = test_json(svc_json);

	compose_free(&out);
	if (compose_service(&ctx, svc, &out, err, sizeof(err)) == -1)
		fail_msg("compose failed: %s", err);
	json_decref(svc);
	return out.spec;
}

/* Compose a service that must be rejected; returns the reason. */
static const char *compose_err(const char *svc_json)
{
	json_t *svc = test_json(svc_json);

	compose_free(&out);
	err[0] = '\0';
	assert_int_equal(compose_service(&ctx, svc, &out, err, sizeof(err)), -1);
	assert_null(out.spec);
	assert_true(err[0] != '\0');
	json_decref(svc);
	return err;
}

static json_t *host(void)
{
	return json_object_get(out.spec, "HostConfig");
}

static json_t *spec(const char *key)
{
	return json_object_get(out.spec, key);
}

static json_t *hostf(const char *key)
{
	return json_object_get(host(), key);
}

static const char *str(json_t *v)
{
	assert_true(json_is_string(v));
	return json_string_value(v);
}

static long long num(json_t *v)
{
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static const char *env(const char *key)
{
	static char val[512];
	size_t i, n = strlen(key);
	json_t *v;

	json_array_foreach(spec("Env"), i, v) {
		const char *e = json_string_value(v);

		if (strncmp(e, key, n) == 0 && e[n] == '=') {
			snprintf(val, sizeof(val), "%s", e + n + 1);
			return val;
		}
	}
	return NULL;
}

static const char *label(const char *key)
{
	return json_string_value(json_object_get(spec("Labels"), key));
}

/* Assert that v equals the JSON text. */
static void assert_json(json_t *v, const char *expected)
{
	json_t *e = test_json(expected);

	if (!json_equal(v, e)) {
		char *got = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

		json_decref(e);
		fail_msg("got %s, expected %s", got ? got : "(null)", expected);
	}
	json_decref(e);
}

/* --- Environment --------------------------------------------------------- */

static void environment_has_balena_and_resin_defaults(void **state)
{
	static const char *const names[] = {"APP_ID",       "APP_UUID",        "APP_NAME",
					    "SERVICE_NAME", "DEVICE_UUID",     "DEVICE_TYPE",
					    "DEVICE_ARCH",  "HOST_OS_VERSION", "APP_LOCK_PATH"};
	char b_key[64], r_key[64], b_val[512];
	size_t i;

	(void)state;
	compose("{\"image\": \"alpine\"}");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(b_key, sizeof(b_key), "BALENA_%s", names[i]);
		snprintf(r_key, sizeof(r_key), "RESIN_%s", names[i]);
		assert_non_null(env(b_key));
		snprintf(b_val, sizeof(b_val), "%s", env(b_key));
		assert_non_null(env(r_key));
		assert_string_equal(env(r_key), b_val);
	}
	assert_string_equal(env("BALENA_APP_ID"), "123");
	assert_string_equal(env("BALENA_APP_UUID"), "appuuid");
	assert_string_equal(env("BALENA_APP_NAME"), "myapp");
	assert_string_equal(env("BALENA_SERVICE_NAME"), "test");
	assert_string_equal(env("BALENA_DEVICE_UUID"), "devuuid");
	assert_string_equal(env("BALENA_DEVICE_TYPE"), "raspberrypi4-64");
	assert_string_equal(env("BALENA_DEVICE_ARCH"), "aarch64");
	assert_string_equal(env("BALENA_HOST_OS_VERSION"), "balenaOS 6.0.0");
	assert_string_equal(env("RESIN_APP_LOCK_PATH"), "/tmp/balena/updates.lock");
	assert_string_equal(env("RESIN_SERVICE_KILL_ME_PATH"), "/tmp/balena/handover-complete");
	assert_string_equal(env("USER"), "root");
}

static void device_name_at_init_is_not_in_the_spec(void **state)
{
	(void)state;
	compose("{\"image\": \"alpine\"}");
	assert_null(env("BALENA_DEVICE_NAME_AT_INIT"));
	assert_null(env("RESIN_DEVICE_NAME_AT_INIT"));
	{
		char *text = json_dumps(out.spec, JSON_COMPACT);

		assert_non_null(text);
		assert_null(strstr(text, "my-device"));
		free(text);
	}
}

static void image_env_fills_gaps_user_env_overrides(void **state)
{
	(void)state;
	ctx.image_config =
		test_json("{\"Env\": [\"PATH=/usr/bin:/bin\", \"FOO=image\", \"USER=nobody\", "
			  "\"EMPTY=\", \"NOEQUALS\"]}");
	compose("{\"image\": \"a\", \"environment\": {\"FOO\": \"mine\", \"BALENA_APP_NAME\": "
		"\"override\", \"EXTRA\": \"x=y\"}}");
	assert_string_equal(env("FOO"), "mine");
	assert_string_equal(env("PATH"), "/usr/bin:/bin");
	assert_string_equal(env("EMPTY"), "");
	assert_null(env("NOEQUALS"));
	assert_string_equal(env("USER"), "root"); /* a supervisor default beats the image */
	assert_string_equal(env("BALENA_APP_NAME"), "override");
	assert_string_equal(env("RESIN_APP_NAME"), "myapp");
	assert_string_equal(env("EXTRA"), "x=y");
}

static void env_entries_are_sorted_by_key(void **state)
{
	json_t *v;
	size_t i;
	const char *prev = "";

	(void)state;
	compose("{\"image\": \"a\", \"environment\": {\"ZED\": \"1\", \"AAA\": \"2\", \"MID\": "
		"\"3\"}}");
	json_array_foreach(spec("Env"), i, v) {
		assert_true(strcmp(prev, json_string_value(v)) < 0);
		prev = json_string_value(v);
	}
	assert_string_equal(str(json_array_get(spec("Env"), 0)), "AAA=2");
}

static void environment_value_not_a_string_is_an_error(void **state)
{
	(void)state;
	assert_non_null(strstr(compose_err("{\"image\": \"a\", \"environment\": {\"N\": 5}}"),
			       "environment"));
	assert_non_null(strstr(err, "N"));
	assert_non_null(
		strstr(compose_err("{\"image\": \"a\", \"environment\": \"A=1\"}"), "environment"));
}

static void supervisor_api_feature_uses_api_host_unless_host_networked(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"labels\": {\"io.balena.features.supervisor-api\": "
		"\"1\"}}");
	assert_string_equal(env("BALENA_SUPERVISOR_API_KEY"), "svckey");
	assert_string_equal(env("RESIN_SUPERVISOR_API_KEY"), "svckey");
	assert_string_equal(env("BALENA_SUPERVISOR_PORT"), "48484");
	assert_string_equal(env("BALENA_SUPERVISOR_HOST"), "10.114.104.1");
	assert_string_equal(env("BALENA_SUPERVISOR_ADDRESS"), "http://10.114.104.1:48484");
	assert_string_equal(env("RESIN_SUPERVISOR_ADDRESS"), "http://10.114.104.1:48484");
	{ /* created on the app's network, then joined to supervisor0 */
		void *it = json_object_iter(out.networks);

		assert_int_equal(json_object_size(out.networks), 2);
		assert_string_not_equal(json_object_iter_key(it), SUPERVISOR_NETWORK);
		assert_non_null(json_object_get(out.networks, SUPERVISOR_NETWORK));
		assert_string_equal(
			json_string_value(json_object_get(json_object_get(out.spec, "HostConfig"),
							  "NetworkMode")),
			json_object_iter_key(it));
	}
	compose("{\"image\": \"a\", \"labels\": {\"io.balena.features.supervisor-api\": "
		"\"true\"}, \"composition\": {\"network_mode\": \"host\"}}");
	assert_string_equal(env("BALENA_SUPERVISOR_HOST"), "127.0.0.1");
	assert_string_equal(env("BALENA_SUPERVISOR_ADDRESS"), "http://127.0.0.1:48484");
	assert_int_equal(json_object_size(out.networks), 0);
	compose("{\"image\": \"a\"}");
	assert_null(env("BALENA_SUPERVISOR_API_KEY"));
	assert_null(json_object_get(out.networks, SUPERVISOR_NETWORK));
}

static void balena_api_feature_gives_the_device_api_key(void **state)
{
	(void)state;
	ctx.device_api_key = "devkey";
	ctx.api_endpoint = "https://api.balena-cloud.com";
	compose("{\"image\": \"a\", \"labels\": {\"io.balena.features.balena-api\": \"1\"}}");
	assert_string_equal(env("BALENA_API_KEY"), "devkey");
	assert_string_equal(env("RESIN_API_KEY"), "devkey");
	assert_string_equal(env("BALENA_API_URL"), "https://api.balena-cloud.com");
	compose("{\"image\": \"a\", \"labels\": {\"io.balena.features.balena-api\": \"0\"}}");
	assert_null(env("BALENA_API_KEY"));
}

static void balena_socket_feature_mounts_the_socket_and_sets_docker_host(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"labels\": {\"io.balena.features.balena-socket\": \"1\"}}");
	assert_string_equal(env("DOCKER_HOST"), "unix:///host/run/balena-engine.sock");
	assert_true(jsonx_has_string(hostf("Binds"),
				     "/var/run/balena-engine.sock:/host/run/balena-engine.sock"));
	assert_true(jsonx_has_string(hostf("Binds"),
				     "/var/run/balena-engine.sock:/var/run/balena.sock"));
	compose("{\"image\": \"a\", \"environment\": {\"DOCKER_HOST\": \"tcp://x:2375\"}, "
		"\"labels\": {\"io.balena.features.balena-socket\": \"1\"}}");
	assert_string_equal(env("DOCKER_HOST"), "tcp://x:2375");
}

/* --- Labels --------------------------------------------------------------- */

static void io_resin_labels_become_io_balena(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"labels\": {\"io.resin.features.dbus\": \"1\", "
		"\"io.resin.update.strategy\": \"kill-then-download\", \"my.label\": \"x\"}}");
	assert_string_equal(label("io.balena.features.dbus"), "1");
	assert_null(label("io.resin.features.dbus"));
	assert_string_equal(label("my.label"), "x");
	assert_true(jsonx_has_string(hostf("Binds"), "/run/dbus:/host/run/dbus"));
	assert_string_equal(out.strategy, "kill-then-download");
}

static void image_labels_fill_gaps(void **state)
{
	(void)state;
	ctx.image_config = test_json("{\"Labels\": {\"from.image\": \"i\", \"shared\": \"image\", "
				     "\"io.balena.supervised\": \"false\"}}");
	compose("{\"image\": \"a\", \"labels\": {\"shared\": \"user\"}}");
	assert_string_equal(label("from.image"), "i");
	assert_string_equal(label("shared"), "user");
	assert_string_equal(label("io.balena.supervised"), "true");
}

static void label_value_not_a_string_is_an_error(void **state)
{
	(void)state;
	assert_non_null(
		strstr(compose_err("{\"image\": \"a\", \"labels\": {\"x\": 1}}"), "labels"));
}

/* facts §9.2 #8 */
static void facts_9_2_8_created_container_labels_and_env(void **state)
{
	(void)state;
	compose("{\"image\": \"alpine\", \"environment\": {}, \"labels\": {}}");
	assert_string_equal(label("io.balena.supervised"), "true");
	assert_string_equal(label("io.balena.app-id"), "123");
	assert_string_equal(label("io.balena.app-uuid"), "appuuid");
	assert_string_equal(label("io.balena.service-id"), "5");
	assert_string_equal(label("io.balena.service-name"), "test");
	assert_string_equal(env("BALENA_APP_LOCK_PATH"), "/tmp/balena/updates.lock");
	assert_string_equal(env("BALENA_SERVICE_HANDOVER_COMPLETE_PATH"),
			    "/tmp/balena/handover-complete");
	assert_string_equal(env("BALENA"), "1");
	assert_string_equal(env("RESIN"), "1");
	assert_string_equal(env("USER"), "root");
}

/* --- Volumes -------------------------------------------------------------- */

/* facts §9.2 #9 */
static void facts_9_2_9_named_volumes_and_lock_dirs(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"volumes\": [\"vol1:vol2\", "
		"\"vol3 :/usr/src/app\"]}}");
	assert_json(hostf("Binds"), "[\"123_vol1:vol2\", \"123_vol3:/usr/src/app\", "
				    "\"/tmp/balena-supervisor/services/123/test:/tmp/resin\", "
				    "\"/tmp/balena-supervisor/services/123/test:/tmp/balena\"]");
	assert_json(out.volumes, "[\"123_vol1\", \"123_vol3\"]");
	assert_int_equal(json_array_size(out.warnings), 0);
}

static void bind_mounts_are_dropped_with_a_warning(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"volumes\": [\"/host/path:/c\", "
		"\"./rel:/r\", \"~/home:/h\", \"data:/data:ro\"]}}");
	assert_json(hostf("Binds"), "[\"123_data:/data:ro\", "
				    "\"/tmp/balena-supervisor/services/123/test:/tmp/resin\", "
				    "\"/tmp/balena-supervisor/services/123/test:/tmp/balena\"]");
	assert_true(jsonx_has_string(out.warnings, "Ignoring invalid bind mount /host/path:/c"));
	assert_true(jsonx_has_string(out.warnings, "Ignoring invalid bind mount ./rel:/r"));
	assert_true(jsonx_has_string(out.warnings, "Ignoring invalid bind mount ~/home:/h"));
	assert_json(out.volumes, "[\"123_data\"]");
}

static void anonymous_and_long_syntax_volumes(void **state)
{
	(void)state;
	ctx.image_config = test_json("{\"Volumes\": {\"/from-image\": {}}}");
	compose("{\"image\": \"a\", \"composition\": {\"volumes\": [\"/cache\", "
		"{\"type\": \"volume\", \"source\": \"db\", \"target\": \"/db\", \"read_only\": "
		"true}, {\"type\": \"tmpfs\", \"target\": \"/scratch\", \"tmpfs\": {\"size\": "
		"\"1m\"}}, {\"type\": \"volume\", \"target\": \"/anon2\"}, {\"type\": \"bind\", "
		"\"source\": \"/etc\", \"target\": \"/e\"}]}}");
	assert_json(spec("Volumes"), "{\"/cache\": {}, \"/anon2\": {}, \"/from-image\": {}}");
	assert_json(hostf("Mounts"),
		    "[{\"Type\": \"volume\", \"Source\": \"123_db\", \"Target\": \"/db\", "
		    "\"ReadOnly\": true}, {\"Type\": \"tmpfs\", \"Target\": \"/scratch\", "
		    "\"TmpfsOptions\": {\"SizeBytes\": 1048576}}]");
	assert_json(out.volumes, "[\"123_db\"]");
	assert_true(jsonx_has_string(out.warnings, "Ignoring invalid bind mount /etc:/e"));
	assert_non_null(
		strstr(compose_err("{\"image\": \"a\", \"composition\": {\"volumes\": [{\"type\": "
				   "\"volume\", \"source\": \"x\"}]}}"),
		       "volumes"));
}

static void feature_labels_add_host_mounts(void **state)
{
	json_t *binds;

	(void)state;
	compose("{\"image\": \"a\", \"labels\": {\"io.balena.features.journal-logs\": \"1\", "
		"\"io.balena.features.dbus\": \"1\", \"io.balena.features.kernel-modules\": "
		"\"1\", \"io.balena.features.firmware\": \"1\", \"io.balena.features.sysfs\": "
		"\"1\", \"io.balena.features.procfs\": \"1\"}}");
	binds = hostf("Binds");
	assert_true(jsonx_has_string(binds, "/var/log/journal:/var/log/journal:ro"));
	assert_true(jsonx_has_string(binds, "/run/log/journal:/run/log/journal:ro"));
	assert_true(jsonx_has_string(binds, "/etc/machine-id:/etc/machine-id:ro"));
	assert_true(jsonx_has_string(binds, "/run/dbus:/host/run/dbus"));
	assert_true(jsonx_has_string(binds, "/sys:/sys"));
	assert_true(jsonx_has_string(binds, "/proc:/proc"));
	/* the host has neither /lib/modules nor /lib/firmware */
	assert_false(jsonx_has_string(binds, "/lib/modules:/lib/modules"));
	assert_false(jsonx_has_string(binds, "/lib/firmware:/lib/firmware"));
	ctx.host_has_lib_modules = ctx.host_has_lib_firmware = 1;
	compose("{\"image\": \"a\", \"labels\": {\"io.balena.features.kernel-modules\": \"1\", "
		"\"io.balena.features.firmware\": \"true\", \"io.balena.features.sysfs\": "
		"\"0\"}}");
	binds = hostf("Binds");
	assert_true(jsonx_has_string(binds, "/lib/modules:/lib/modules"));
	assert_true(jsonx_has_string(binds, "/lib/firmware:/lib/firmware"));
	assert_false(jsonx_has_string(binds, "/sys:/sys"));
}

/* --- Ports ---------------------------------------------------------------- */

/* facts §9.2 #10 */
static void facts_9_2_10_ports_and_exposed_ports(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"ports\": [\"2344\", \"2345:2354\", "
		"\"2346:2367/udp\"], \"expose\": [1000]}}");
	assert_json(hostf("PortBindings"),
		    "{\"2344/tcp\": [{\"HostIp\": \"\", \"HostPort\": \"2344\"}], "
		    "\"2354/tcp\": [{\"HostIp\": \"\", \"HostPort\": \"2345\"}], "
		    "\"2367/udp\": [{\"HostIp\": \"\", \"HostPort\": \"2346\"}]}");
	assert_json(spec("ExposedPorts"), "{\"2344/tcp\": {}, \"2354/tcp\": {}, \"2367/udp\": {}}");
}

static void ports_ranges_and_udp(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"ports\": [\"8000-8001:80-81/udp\", "
		"\"5000-5001\", \"9000:90-91\", 7000]}}");
	assert_json(hostf("PortBindings"),
		    "{\"80/udp\": [{\"HostIp\": \"\", \"HostPort\": \"8000\"}], "
		    "\"81/udp\": [{\"HostIp\": \"\", \"HostPort\": \"8001\"}], "
		    "\"5000/tcp\": [{\"HostIp\": \"\", \"HostPort\": \"5000\"}], "
		    "\"5001/tcp\": [{\"HostIp\": \"\", \"HostPort\": \"5001\"}], "
		    "\"90/tcp\": [{\"HostIp\": \"\", \"HostPort\": \"9000\"}], "
		    "\"91/tcp\": [{\"HostIp\": \"\", \"HostPort\": \"9001\"}], "
		    "\"7000/tcp\": [{\"HostIp\": \"\", \"HostPort\": \"7000\"}]}");
	assert_int_equal(json_object_size(spec("ExposedPorts")), 7);
}

static void ports_with_host_ip(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"ports\": [\"127.0.0.1:8080:80\", "
		"\"127.0.0.1::81\", \"::1:8082:82\", \"8080:80\"]}}");
	assert_json(hostf("PortBindings"),
		    "{\"80/tcp\": [{\"HostIp\": \"127.0.0.1\", \"HostPort\": \"8080\"}, "
		    "{\"HostIp\": \"\", \"HostPort\": \"8080\"}], "
		    "\"81/tcp\": [{\"HostIp\": \"127.0.0.1\", \"HostPort\": \"81\"}], "
		    "\"82/tcp\": [{\"HostIp\": \"::1\", \"HostPort\": \"8082\"}]}");
}

static void invalid_port_specs_are_errors(void **state)
{
	static const char *const bad[] = {
		"\"x:y\"", "\"70000\"",      "\"80/sctp\"", "\"8000-8002:80-81\"",
		"\"0\"",   "\"host:80:80\"", "\"80-79\"",   "{}",
		"\"\""};
	char svc[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(svc, sizeof(svc), "{\"image\": \"a\", \"composition\": {\"ports\": [%s]}}",
			 bad[i]);
		assert_non_null(strstr(compose_err(svc), "ports"));
	}
	assert_non_null(strstr(compose_err("{\"image\": \"a\", \"composition\": {\"ports\": 5}}"),
			       "ports"));
}

/* --- Restart, resources, misc ---------------------------------------------- */

static const char *restart_name(void)
{
	return str(json_object_get(hostf("RestartPolicy"), "Name"));
}

static void restart_defaults_to_always_and_invalid_becomes_always(void **state)
{
	(void)state;
	compose("{\"image\": \"a\"}");
	assert_string_equal(restart_name(), "always");
	assert_int_equal(num(json_object_get(hostf("RestartPolicy"), "MaximumRetryCount")), 0);
	compose("{\"image\": \"a\", \"composition\": {\"restart\": \"sometimes\"}}");
	assert_string_equal(restart_name(), "always");
	compose("{\"image\": \"a\", \"composition\": {\"restart\": 3}}");
	assert_string_equal(restart_name(), "always");
	compose("{\"image\": \"a\", \"composition\": {\"restart\": \"On-Failure\"}}");
	assert_string_equal(restart_name(), "on-failure");
	compose("{\"image\": \"a\", \"composition\": {\"restart\": \"unless-stopped\"}}");
	assert_string_equal(restart_name(), "unless-stopped");
}

static void no_is_kept_as_no(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"restart\": \"no\"}}");
	assert_string_equal(restart_name(), "no");
	compose("{\"image\": \"a\", \"composition\": {\"restart\": \"NO\"}}");
	assert_string_equal(restart_name(), "no");
	/* YAML `restart: no` arrives as false: still "no", never "" */
	compose("{\"image\": \"a\", \"composition\": {\"restart\": false}}");
	assert_string_equal(restart_name(), "no");
}

static void memory_units_are_powers_of_1024(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"mem_limit\": \"64m\", \"mem_reservation\": "
		"\"1G\", \"shm_size\": \"512kb\"}}");
	assert_int_equal(num(hostf("Memory")), 64LL * 1024 * 1024);
	assert_int_equal(num(hostf("MemoryReservation")), 1024LL * 1024 * 1024);
	assert_int_equal(num(hostf("ShmSize")), 512LL * 1024);
	compose("{\"image\": \"a\", \"composition\": {\"mem_limit\": 1000, \"mem_reservation\": "
		"\"100b\"}}");
	assert_int_equal(num(hostf("Memory")), 1000);
	assert_int_equal(num(hostf("MemoryReservation")), 100);
	assert_non_null(
		strstr(compose_err("{\"image\": \"a\", \"composition\": {\"mem_limit\": \"64x\"}}"),
		       "mem_limit"));
	assert_non_null(
		strstr(compose_err("{\"image\": \"a\", \"composition\": {\"mem_limit\": true}}"),
		       "mem_limit"));
}

static void shm_size_defaults_to_64m(void **state)
{
	(void)state;
	compose("{\"image\": \"a\"}");
	assert_int_equal(num(hostf("ShmSize")), 64LL * 1024 * 1024);
	assert_null(hostf("Memory"));
}

static void cpus_become_nano_cpus_and_zero_cpu_fields_are_dropped(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"cpus\": 1.5, \"cpu_shares\": 512, "
		"\"cpu_quota\": 0, \"oom_score_adj\": \"7\", \"cpuset\": \"0-1\"}}");
	assert_int_equal(num(hostf("NanoCpus")), 1500000000LL);
	assert_int_equal(num(hostf("CpuShares")), 512);
	assert_null(hostf("CpuQuota"));
	assert_null(hostf("OomScoreAdj"));
	assert_string_equal(str(hostf("CpusetCpus")), "0-1");
	compose("{\"image\": \"a\", \"composition\": {\"cpus\": \"0.25\", \"oom_score_adj\": "
		"-500}}");
	assert_int_equal(num(hostf("NanoCpus")), 250000000LL);
	assert_int_equal(num(hostf("OomScoreAdj")), -500);
}

static void stop_grace_period_and_stop_signal(void **state)
{
	(void)state;
	compose("{\"image\": \"a\"}");
	assert_int_equal(num(spec("StopTimeout")), 10);
	assert_string_equal(str(spec("StopSignal")), "SIGTERM");
	ctx.image_config = test_json("{\"StopSignal\": \"SIGINT\"}");
	compose("{\"image\": \"a\", \"composition\": {\"stop_grace_period\": \"1m30s\"}}");
	assert_int_equal(num(spec("StopTimeout")), 90);
	assert_string_equal(str(spec("StopSignal")), "SIGINT");
	compose("{\"image\": \"a\", \"composition\": {\"stop_grace_period\": 20, \"stop_signal\": "
		"\"SIGUSR1\"}}");
	assert_int_equal(num(spec("StopTimeout")), 20);
	assert_string_equal(str(spec("StopSignal")), "SIGUSR1");
	assert_non_null(strstr(compose_err("{\"image\": \"a\", \"composition\": "
					   "{\"stop_grace_period\": \"soon\"}}"),
			       "stop_grace_period"));
}

static void ulimits_sysctls_dns_and_extra_hosts(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"ulimits\": {\"nproc\": 65535, "
		"\"nofile\": {\"soft\": 20000, \"hard\": 40000}}, \"sysctls\": "
		"[\"net.core.somaxconn=1024\", \"net.ipv4.tcp_syncookies=0\"], \"dns\": "
		"\"8.8.8.8\", \"dns_search\": [\"example.com\"], \"dns_opt\": [\"use-vc\"], "
		"\"extra_hosts\": [\"somehost=162.242.195.82\", \"other:10.0.0.1\"]}}");
	assert_json(hostf("Ulimits"), "[{\"Name\": \"nofile\", \"Soft\": 20000, \"Hard\": 40000}, "
				      "{\"Name\": \"nproc\", \"Soft\": 65535, \"Hard\": 65535}]");
	assert_json(hostf("Sysctls"), "{\"net.core.somaxconn\": \"1024\", "
				      "\"net.ipv4.tcp_syncookies\": \"0\"}");
	assert_json(hostf("Dns"), "[\"8.8.8.8\"]");
	assert_json(hostf("DnsSearch"), "[\"example.com\"]");
	assert_json(hostf("DnsOptions"), "[\"use-vc\"]");
	assert_json(hostf("ExtraHosts"), "[\"somehost:162.242.195.82\", \"other:10.0.0.1\"]");
	compose("{\"image\": \"a\", \"composition\": {\"sysctls\": {\"net.core.somaxconn\": "
		"2048}}}");
	assert_json(hostf("Sysctls"), "{\"net.core.somaxconn\": \"2048\"}");
	assert_non_null(
		strstr(compose_err("{\"image\": \"a\", \"composition\": {\"ulimits\": {\"nofile\": "
				   "\"many\"}}}"),
		       "ulimits"));
	assert_non_null(strstr(
		compose_err("{\"image\": \"a\", \"composition\": {\"sysctls\": [\"novalue\"]}}"),
		"sysctls"));
}

static void tmpfs_and_security_opt(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"tmpfs\": \"/run\", \"security_opt\": "
		"[\"label=disable\", \"no-new-privileges\", \"apparmor=unconfined\"]}}");
	assert_json(hostf("Tmpfs"), "{\"/run\": \"\"}");
	assert_json(hostf("SecurityOpt"), "[\"no-new-privileges\", \"apparmor=unconfined\"]");
	compose("{\"image\": \"a\", \"composition\": {\"tmpfs\": [\"/a\", \"/b:size=1m\"]}}");
	assert_json(hostf("Tmpfs"), "{\"/a\": \"\", \"/b\": \"size=1m\"}");
}

static void tty_ipc_init_and_privilege_defaults(void **state)
{
	(void)state;
	compose("{\"image\": \"a\"}");
	assert_true(json_is_true(spec("Tty")));
	assert_string_equal(str(hostf("IpcMode")), "shareable");
	assert_null(hostf("Init"));
	assert_true(json_is_false(hostf("Privileged")));
	assert_true(json_is_false(hostf("ReadonlyRootfs")));
	compose("{\"image\": \"a\", \"composition\": {\"tty\": false, \"ipc\": \"host\", \"init\": "
		"true}}");
	assert_true(json_is_false(spec("Tty")));
	assert_string_equal(str(hostf("IpcMode")), "host");
	assert_true(json_is_true(hostf("Init")));
	/* init is kept only when a boolean */
	compose("{\"image\": \"a\", \"composition\": {\"init\": \"yes\"}}");
	assert_null(hostf("Init"));
}

static void passthrough_fields_land_where_the_engine_reads_them(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"cap_add\": [\"NET_ADMIN\"], \"cap_drop\": "
		"[\"MKNOD\"], \"privileged\": true, \"read_only\": true, \"user\": 1000, "
		"\"hostname\": \"h\", \"domainname\": \"d.example\", \"mac_address\": "
		"\"02:42:ac:11:65:43\", \"pid\": \"host\", \"pids_limit\": 100, \"group_add\": "
		"[\"dialout\", 20], \"cgroup_parent\": \"cg\", \"userns_mode\": \"host\", "
		"\"storage_opt\": {\"size\": \"1G\"}, \"oom_kill_disable\": true}}");
	assert_json(hostf("CapAdd"), "[\"NET_ADMIN\"]");
	assert_json(hostf("CapDrop"), "[\"MKNOD\"]");
	assert_true(json_is_true(hostf("Privileged")));
	assert_true(json_is_true(hostf("ReadonlyRootfs")));
	assert_string_equal(str(spec("User")), "1000");
	assert_string_equal(str(spec("Hostname")), "h");
	assert_string_equal(str(spec("Domainname")), "d.example");
	assert_string_equal(str(spec("MacAddress")), "02:42:ac:11:65:43");
	assert_string_equal(str(hostf("PidMode")), "host");
	assert_int_equal(num(hostf("PidsLimit")), 100);
	assert_json(hostf("GroupAdd"), "[\"dialout\", \"20\"]");
	assert_string_equal(str(hostf("CgroupParent")), "cg");
	assert_string_equal(str(hostf("UsernsMode")), "host");
	assert_json(hostf("StorageOpt"), "{\"size\": \"1G\"}");
	assert_true(json_is_true(hostf("OomKillDisable")));
}

static void devices_default_to_rwm(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"devices\": [\"/dev/ttyUSB0\", "
		"\"/dev/a:/dev/b\", \"/dev/c:/dev/d:r\", \"/dev/e:rw\"]}}");
	assert_json(hostf("Devices"),
		    "[{\"PathOnHost\": \"/dev/ttyUSB0\", \"PathInContainer\": \"/dev/ttyUSB0\", "
		    "\"CgroupPermissions\": \"rwm\"}, {\"PathOnHost\": \"/dev/a\", "
		    "\"PathInContainer\": \"/dev/b\", \"CgroupPermissions\": \"rwm\"}, "
		    "{\"PathOnHost\": \"/dev/c\", \"PathInContainer\": \"/dev/d\", "
		    "\"CgroupPermissions\": \"r\"}, {\"PathOnHost\": \"/dev/e\", "
		    "\"PathInContainer\": \"/dev/e\", \"CgroupPermissions\": \"rw\"}]");
	assert_non_null(strstr(
		compose_err("{\"image\": \"a\", \"composition\": {\"devices\": \"/dev/x\"}}"),
		"devices"));
}

/* --- Command, entrypoint, working dir, healthcheck -------------------------- */

static void command_string_is_split_like_a_shell(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"command\": \"sh -c 'echo $HOME \\\"x\\\"' "
		"\\\"a  b\\\" c\\\\ d \\\"e\\\\\\\"f\\\" $VAR\"}}");
	assert_json(spec("Cmd"),
		    "[\"sh\", \"-c\", \"echo $HOME \\\"x\\\"\", \"a  b\", \"c d\", \"e\\\"f\", "
		    "\"$VAR\"]");
	compose("{\"image\": \"a\", \"composition\": {\"entrypoint\": \"/usr/bin/env  python3\", "
		"\"command\": [\"app.py\", \"--x\"]}}");
	assert_json(spec("Entrypoint"), "[\"/usr/bin/env\", \"python3\"]");
	assert_json(spec("Cmd"), "[\"app.py\", \"--x\"]");
	assert_non_null(strstr(
		compose_err("{\"image\": \"a\", \"composition\": {\"command\": [\"a\", 1]}}"),
		"command"));
}

static void command_and_entrypoint_fall_back_to_the_image(void **state)
{
	(void)state;
	ctx.image_config = test_json("{\"Cmd\": [\"/bin/sh\"], \"Entrypoint\": [\"/init\"], "
				     "\"WorkingDir\": \"/w\"}");
	compose("{\"image\": \"a\"}");
	assert_json(spec("Cmd"), "[\"/bin/sh\"]");
	assert_json(spec("Entrypoint"), "[\"/init\"]");
	assert_string_equal(str(spec("WorkingDir")), "/w");
	compose("{\"image\": \"a\", \"composition\": {\"command\": \"node x.js\"}}");
	assert_json(spec("Cmd"), "[\"node\", \"x.js\"]");
	assert_json(spec("Entrypoint"), "[\"/init\"]");
}

static void working_dir_trailing_slash_is_stripped(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"working_dir\": \"/usr/src/app/\"}}");
	assert_string_equal(str(spec("WorkingDir")), "/usr/src/app");
	compose("{\"image\": \"a\", \"composition\": {\"working_dir\": \"/\"}}");
	assert_string_equal(str(spec("WorkingDir")), "/");
}

static void healthcheck_durations_become_nanoseconds(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"healthcheck\": {\"test\": \"curl -f "
		"localhost\", \"interval\": \"1m30s\", \"timeout\": \"10s\", \"start_period\": "
		"\"500ms\", \"retries\": 3}}}");
	assert_json(spec("Healthcheck"),
		    "{\"Test\": [\"CMD-SHELL\", \"curl -f localhost\"], \"Interval\": 90000000000, "
		    "\"Timeout\": 10000000000, \"StartPeriod\": 500000000, \"Retries\": 3}");
	compose("{\"image\": \"a\", \"composition\": {\"healthcheck\": {\"interval\": \"1h\", "
		"\"timeout\": \"1.5s\"}}}");
	assert_int_equal(num(json_object_get(spec("Healthcheck"), "Interval")), 3600000000000LL);
	assert_int_equal(num(json_object_get(spec("Healthcheck"), "Timeout")), 1500000000LL);
	assert_non_null(strstr(compose_err("{\"image\": \"a\", \"composition\": {\"healthcheck\": "
					   "{\"interval\": \"often\"}}}"),
			       "healthcheck.interval"));
}

static void healthcheck_merges_over_the_image_and_disable_gives_none(void **state)
{
	(void)state;
	ctx.image_config =
		test_json("{\"Healthcheck\": {\"Test\": [\"CMD\", \"/check\"], \"Interval\": "
			  "5000000000, \"Retries\": 2}}");
	compose("{\"image\": \"a\", \"composition\": {\"healthcheck\": {\"retries\": 5}}}");
	assert_json(spec("Healthcheck"),
		    "{\"Test\": [\"CMD\", \"/check\"], \"Interval\": 5000000000, \"Retries\": 5}");
	compose("{\"image\": \"a\", \"composition\": {\"healthcheck\": {\"disable\": true}}}");
	assert_json(spec("Healthcheck"), "{\"Test\": [\"NONE\"]}");
	compose("{\"image\": \"a\"}");
	assert_null(spec("Healthcheck")); /* the engine applies the image's own */
}

/* --- Networks -------------------------------------------------------------- */

static void network_mode_service_becomes_a_dependency(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"network_mode\": \"service:db\", "
		"\"depends_on\": [\"cache\", \"db\"]}}");
	assert_string_equal(out.network_mode_service, "db");
	assert_json(out.depends_on, "[\"db\", \"cache\"]");
	assert_string_equal(str(hostf("NetworkMode")), "container:db");
	assert_int_equal(json_object_size(out.networks), 0);
	assert_null(spec("NetworkingConfig"));
}

static void network_mode_container_is_dropped_with_a_warning(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"network_mode\": \"container:abc\"}}");
	assert_true(
		jsonx_has_string(out.warnings, "Ignoring unsupported network_mode container:abc"));
	assert_string_equal(str(hostf("NetworkMode")), "appuuid_default");
	assert_null(out.network_mode_service);
}

/* facts §9.2 #11 (the service side: the app's network is the caller's) */
static void default_network_is_app_uuid_default_with_service_alias(void **state)
{
	(void)state;
	compose("{\"image\": \"a\"}");
	assert_string_equal(str(hostf("NetworkMode")), "appuuid_default");
	assert_json(out.networks, "{\"appuuid_default\": {\"Aliases\": [\"test\"]}}");
	assert_json(spec("NetworkingConfig"),
		    "{\"EndpointsConfig\": {\"appuuid_default\": {\"Aliases\": [\"test\"]}}}");
}

static void facts_9_2_11_host_network_joins_no_app_network(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"network_mode\": \"host\", \"networks\": "
		"[\"frontend\"]}}");
	assert_string_equal(str(hostf("NetworkMode")), "host");
	assert_int_equal(json_object_size(out.networks), 0);
	assert_null(spec("NetworkingConfig"));
	compose("{\"image\": \"a\", \"composition\": {\"network_mode\": \"none\"}}");
	assert_string_equal(str(hostf("NetworkMode")), "none");
}

static void networks_object_with_aliases_and_addresses(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"networks\": {\"front\": {\"aliases\": "
		"[\"web\", \"test\"], \"ipv4_address\": \"10.0.0.5\"}, \"back\": null}}}");
	assert_json(out.networks,
		    "{\"appuuid_front\": {\"Aliases\": [\"test\", \"web\"], \"IPAMConfig\": "
		    "{\"IPv4Address\": \"10.0.0.5\"}}, \"appuuid_back\": {\"Aliases\": "
		    "[\"test\"]}}");
	assert_string_equal(str(hostf("NetworkMode")), "appuuid_front");
	assert_json(json_object_get(spec("NetworkingConfig"), "EndpointsConfig"),
		    "{\"appuuid_front\": {\"Aliases\": [\"test\", \"web\"], \"IPAMConfig\": "
		    "{\"IPv4Address\": \"10.0.0.5\"}}}");
	compose("{\"image\": \"a\", \"composition\": {\"networks\": [\"one\", \"two\"]}}");
	assert_string_equal(str(hostf("NetworkMode")), "appuuid_one");
	assert_int_equal(json_object_size(out.networks), 2);
	assert_non_null(strstr(compose_err("{\"image\": \"a\", \"composition\": {\"networks\": "
					   "{\"n\": {\"aliases\": \"x\"}}}}"),
			       "networks"));
}

static void named_network_mode_is_prefixed_with_the_app_uuid(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"network_mode\": \"mynet\"}}");
	assert_string_equal(str(hostf("NetworkMode")), "appuuid_mynet");
	assert_json(out.networks, "{\"appuuid_mynet\": {\"Aliases\": [\"test\"]}}");
}

/* --- Warnings, dependencies, meta ------------------------------------------ */

static void unknown_fields_give_one_warning(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"links\": [], \"expose\": [1], \"deploy\": "
		"{}, \"restart\": \"always\", \"env_file\": \"x\"}}");
	assert_json(out.warnings, "[\"Ignoring unsupported or unknown compose fields: deploy, "
				  "env_file, expose, links\"]");
	compose("{\"image\": \"a\", \"composition\": {\"restart\": \"always\"}}");
	assert_int_equal(json_array_size(out.warnings), 0);
}

static void depends_on_list_or_object(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"depends_on\": [\"db\", \"db\", "
		"\"mq\"]}}");
	assert_json(out.depends_on, "[\"db\", \"mq\"]");
	compose("{\"image\": \"a\", \"composition\": {\"depends_on\": {\"db\": {\"condition\": "
		"\"service_started\"}}}}");
	assert_json(out.depends_on, "[\"db\"]");
	compose("{\"image\": \"a\"}");
	assert_json(out.depends_on, "[]");
	assert_non_null(
		strstr(compose_err("{\"image\": \"a\", \"composition\": {\"depends_on\": \"db\"}}"),
		       "depends_on"));
}

static void update_strategy_and_handover_timeout(void **state)
{
	(void)state;
	compose("{\"image\": \"a\"}");
	assert_string_equal(out.strategy, "download-then-kill");
	assert_int_equal(out.handover_timeout_ms, 60000);
	compose("{\"image\": \"a\", \"labels\": {\"io.balena.update.strategy\": \"hand-over\", "
		"\"io.balena.update.handover-timeout\": \"5000\"}}");
	assert_string_equal(out.strategy, "hand-over");
	assert_int_equal(out.handover_timeout_ms, 5000);
	compose("{\"image\": \"a\", \"labels\": {\"io.balena.update.strategy\": \"yolo\", "
		"\"io.balena.update.handover-timeout\": \"soon\"}}");
	assert_string_equal(out.strategy, "download-then-kill");
	assert_int_equal(out.handover_timeout_ms, 60000);
	compose("{\"image\": \"a\", \"labels\": {\"io.balena.update.strategy\": "
		"\"delete-then-download\"}}");
	assert_string_equal(out.strategy, "delete-then-download");
}

static void running_flag_defaults_to_true(void **state)
{
	(void)state;
	compose("{\"image\": \"a\"}");
	assert_int_equal(out.running, 1);
	compose("{\"image\": \"a\", \"running\": false}");
	assert_int_equal(out.running, 0);
	compose("{\"image\": \"a\", \"running\": true}");
	assert_int_equal(out.running, 1);
	assert_non_null(strstr(compose_err("{\"image\": \"a\", \"running\": \"no\"}"), "running"));
}

static void image_is_the_resolved_id_when_known(void **state)
{
	(void)state;
	compose("{\"image\": \"registry2.balena-cloud.com/v2/abc@sha256:1234\"}");
	assert_string_equal(str(spec("Image")), "registry2.balena-cloud.com/v2/abc@sha256:1234");
	compose("{\"image\": \"alpine\"}");
	assert_string_equal(str(spec("Image")), "alpine:latest");
	ctx.image_id_ref = "sha256:feed";
	compose("{\"image\": \"alpine\"}");
	assert_string_equal(str(spec("Image")), "sha256:feed");
	ctx.image_id_ref = NULL;
	assert_non_null(strstr(compose_err("{\"image\": 5}"), "image"));
	assert_non_null(strstr(compose_err("{}"), "image"));
}

static void wrong_types_name_the_field(void **state)
{
	static const char *const cases[][2] = {
		{"\"volumes\": \"/data\"", "volumes"},
		{"\"tty\": \"yes\"", "tty"},
		{"\"privileged\": 1", "privileged"},
		{"\"hostname\": 5", "hostname"},
		{"\"pids_limit\": \"x\"", "pids_limit"},
		{"\"cap_add\": 5", "cap_add"},
		{"\"healthcheck\": \"x\"", "healthcheck"},
		{"\"network_mode\": 1", "network_mode"},
		{"\"networks\": 1", "networks"},
		{"\"cpus\": \"lots\"", "cpus"},
		{"\"working_dir\": 1", "working_dir"},
		{"\"stop_signal\": 9", "stop_signal"},
		{"\"extra_hosts\": {\"h\": 1}", "extra_hosts"},
		{"\"ulimits\": []", "ulimits"},
	};
	char svc[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(svc, sizeof(svc), "{\"image\": \"a\", \"composition\": {%s}}",
			 cases[i][0]);
		if (strstr(compose_err(svc), cases[i][1]) == NULL)
			fail_msg("%s: reason \"%s\" does not name %s", svc, err, cases[i][1]);
	}
	assert_non_null(
		strstr(compose_err("{\"image\": \"a\", \"composition\": 5}"), "composition"));
}

/* --- Names, references, hash ------------------------------------------------ */

static void name_round_trips(void **state)
{
	char name[256], svc[128], commit[80];
	int img = 0, rel = 0;

	(void)state;
	ctx.service_name = "my_service_2";
	compose_container_name(&ctx, name, sizeof(name));
	assert_string_equal(name, "my_service_2_7_9_deadbeef");
	assert_int_equal(
		compose_parse_name(name, svc, sizeof(svc), &img, &rel, commit, sizeof(commit)), 0);
	assert_string_equal(svc, "my_service_2");
	assert_int_equal(img, 7);
	assert_int_equal(rel, 9);
	assert_string_equal(commit, "deadbeef");
	/* an all-digit commit still round-trips */
	ctx.commit = "1234";
	compose_container_name(&ctx, name, sizeof(name));
	assert_int_equal(
		compose_parse_name(name, svc, sizeof(svc), &img, &rel, commit, sizeof(commit)), 0);
	assert_string_equal(svc, "my_service_2");
	assert_int_equal(img, 7);
	assert_int_equal(rel, 9);
	assert_string_equal(commit, "1234");
}

static void parse_name_handles_engine_names_legacy_and_strangers(void **state)
{
	char svc[128], commit[80];
	int img = 0, rel = 0;

	(void)state;
	assert_int_equal(compose_parse_name("/one_11_1_deadbeef", svc, sizeof(svc), &img, &rel,
					    commit, sizeof(commit)),
			 0);
	assert_string_equal(svc, "one");
	assert_int_equal(img, 11);
	assert_int_equal(rel, 1);
	assert_string_equal(commit, "deadbeef");
	assert_int_equal(compose_parse_name("legacy_1_2", svc, sizeof(svc), &img, &rel, commit,
					    sizeof(commit)),
			 0);
	assert_string_equal(svc, "legacy");
	assert_int_equal(img, 1);
	assert_int_equal(rel, 2);
	assert_string_equal(commit, "");
	/* a commit holding '_' still matches the regex */
	assert_int_equal(compose_parse_name("web_3_4_abc_def", svc, sizeof(svc), &img, &rel, commit,
					    sizeof(commit)),
			 0);
	assert_string_equal(svc, "web");
	assert_string_equal(commit, "abc_def");
	assert_int_equal(compose_parse_name("old_web_3_4_c", svc, sizeof(svc), &img, &rel, commit,
					    sizeof(commit)),
			 0);
	assert_string_equal(svc, "old_web");
	assert_int_equal(compose_parse_name("balena_supervisor", svc, sizeof(svc), &img, &rel,
					    commit, sizeof(commit)),
			 -1);
	assert_int_equal(
		compose_parse_name("_1_2", svc, sizeof(svc), &img, &rel, commit, sizeof(commit)),
		-1);
	assert_int_equal(compose_parse_name("svc_x_2_c", svc, sizeof(svc), &img, &rel, commit,
					    sizeof(commit)),
			 -1);
}

static void image_normalise_adds_latest_and_drops_tag_with_digest(void **state)
{
	static const char *const cases[][2] = {
		{"alpine", "alpine:latest"},
		{"alpine:3.19", "alpine:3.19"},
		{"127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b:latest"},
		{"reg:443/x:1.0", "reg:443/x:1.0"},
		{"reg:443/x:tag@sha256:abc", "reg:443/x@sha256:abc"},
		{"repo@sha256:abc", "repo@sha256:abc"},
		{"repo:tag@sha256:abc", "repo@sha256:abc"},
	};
	char ref[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		compose_image_normalise(cases[i][0], ref, sizeof(ref));
		assert_string_equal(ref, cases[i][1]);
	}
}

static void hash_is_stable_under_key_order(void **state)
{
	char h1[17], h2[17];
	json_t *a = test_json("{\"a\": 1, \"b\": {\"x\": [1, 2], \"y\": \"z\"}}");
	json_t *b = test_json("{\"b\": {\"y\": \"z\", \"x\": [1, 2]}, \"a\": 1}");
	struct composed o2;
	json_t *s1, *s2;

	(void)state;
	compose_hash(a, h1);
	compose_hash(b, h2);
	assert_string_equal(h1, h2);
	assert_int_equal(strlen(h1), 16);
	assert_int_equal(strspn(h1, "0123456789abcdef"), 16);
	json_decref(a);
	json_decref(b);
	/* two targets differing only in key order compose to the same hash */
	s1 = test_json("{\"image\": \"a\", \"environment\": {\"A\": \"1\", \"B\": \"2\"}, "
		       "\"composition\": {\"ulimits\": {\"nproc\": 1, \"nofile\": 2}, \"sysctls\": "
		       "{\"a\": \"1\", \"b\": \"2\"}}}");
	s2 = test_json(
		"{\"composition\": {\"sysctls\": {\"b\": \"2\", \"a\": \"1\"}, \"ulimits\": "
		"{\"nofile\": 2, \"nproc\": 1}}, \"environment\": {\"B\": \"2\", \"A\": \"1\"}, "
		"\"image\": \"a\"}");
	assert_int_equal(compose_service(&ctx, s1, &out, err, sizeof(err)), 0);
	assert_int_equal(compose_service(&ctx, s2, &o2, err, sizeof(err)), 0);
	compose_hash(out.spec, h1);
	compose_hash(o2.spec, h2);
	assert_string_equal(h1, h2);
	compose_free(&o2);
	json_decref(s1);
	json_decref(s2);
}

static void hash_changes_with_the_config_not_the_device_name(void **state)
{
	char h1[17], h2[17];

	(void)state;
	compose("{\"image\": \"a\", \"environment\": {\"A\": \"1\"}}");
	compose_hash(out.spec, h1);
	ctx.device_name = "renamed-device";
	compose("{\"image\": \"a\", \"environment\": {\"A\": \"1\"}}");
	compose_hash(out.spec, h2);
	assert_string_equal(h1, h2);
	compose("{\"image\": \"a\", \"environment\": {\"A\": \"2\"}}");
	compose_hash(out.spec, h2);
	assert_string_not_equal(h1, h2);
}

static void compose_free_is_safe_twice(void **state)
{
	struct composed c;

	(void)state;
	memset(&c, 0, sizeof(c));
	compose_free(&c);
	compose("{\"image\": \"a\"}");
	compose_free(&out);
	compose_free(&out);
	assert_null(out.spec);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(environment_has_balena_and_resin_defaults),
		T(device_name_at_init_is_not_in_the_spec),
		T(image_env_fills_gaps_user_env_overrides),
		T(env_entries_are_sorted_by_key),
		T(environment_value_not_a_string_is_an_error),
		T(supervisor_api_feature_uses_api_host_unless_host_networked),
		T(balena_api_feature_gives_the_device_api_key),
		T(balena_socket_feature_mounts_the_socket_and_sets_docker_host),
		T(io_resin_labels_become_io_balena),
		T(image_labels_fill_gaps),
		T(label_value_not_a_string_is_an_error),
		T(facts_9_2_8_created_container_labels_and_env),
		T(facts_9_2_9_named_volumes_and_lock_dirs),
		T(bind_mounts_are_dropped_with_a_warning),
		T(anonymous_and_long_syntax_volumes),
		T(feature_labels_add_host_mounts),
		T(facts_9_2_10_ports_and_exposed_ports),
		T(ports_ranges_and_udp),
		T(ports_with_host_ip),
		T(invalid_port_specs_are_errors),
		T(restart_defaults_to_always_and_invalid_becomes_always),
		T(no_is_kept_as_no),
		T(memory_units_are_powers_of_1024),
		T(shm_size_defaults_to_64m),
		T(cpus_become_nano_cpus_and_zero_cpu_fields_are_dropped),
		T(stop_grace_period_and_stop_signal),
		T(ulimits_sysctls_dns_and_extra_hosts),
		T(tmpfs_and_security_opt),
		T(tty_ipc_init_and_privilege_defaults),
		T(passthrough_fields_land_where_the_engine_reads_them),
		T(devices_default_to_rwm),
		T(command_string_is_split_like_a_shell),
		T(command_and_entrypoint_fall_back_to_the_image),
		T(working_dir_trailing_slash_is_stripped),
		T(healthcheck_durations_become_nanoseconds),
		T(healthcheck_merges_over_the_image_and_disable_gives_none),
		T(network_mode_service_becomes_a_dependency),
		T(network_mode_container_is_dropped_with_a_warning),
		T(default_network_is_app_uuid_default_with_service_alias),
		T(facts_9_2_11_host_network_joins_no_app_network),
		T(networks_object_with_aliases_and_addresses),
		T(named_network_mode_is_prefixed_with_the_app_uuid),
		T(unknown_fields_give_one_warning),
		T(depends_on_list_or_object),
		T(update_strategy_and_handover_timeout),
		T(running_flag_defaults_to_true),
		T(image_is_the_resolved_id_when_known),
		T(wrong_types_name_the_field),
		T(name_round_trips),
		T(parse_name_handles_engine_names_legacy_and_strangers),
		T(image_normalise_adds_latest_and_drops_tag_with_digest),
		T(hash_is_stable_under_key_order),
		T(hash_changes_with_the_config_not_the_device_name),
		T(compose_free_is_safe_twice),
	};

	return cmocka_run_group_tests_name("compose", tests, NULL, NULL);
}
