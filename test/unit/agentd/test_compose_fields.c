/*
 * test_compose_fields.c - compose normalisation, field by field: a target
 * service in, the engine's create body out (facts §1.4, §2.2, §9.2 #8-11).
 */
#include "testutil.h"

#include "compose.h"

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
	ctx.device_name = "dev";
	ctx.host_os_version = "balenaOS 6";
	ctx.run_dir = "/tmp/balena-supervisor";
	ctx.api_port = 48484;
	ctx.api_host = "10.114.104.1";
	memset(&out, 0, sizeof(out));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	compose_free(&out);
	return 0;
}

/* Compose a service given as JSON text; fail the test on an error. */
static json_t *compose(const char *svc_json)
{
	json_t *svc = json_loads(svc_json, 0, NULL);

	assert_non_null(svc);
	if (compose_service(&ctx, svc, &out, err, sizeof(err)) == -1)
		fail_msg("compose failed: %s", err);
	json_decref(svc);
	return out.spec;
}

static json_t *host(void)
{
	return json_object_get(out.spec, "HostConfig");
}

static int has_string(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return 1;
	return 0;
}

static const char *env(const char *key)
{
	static char val[256];
	size_t i, n = strlen(key);
	json_t *v;

	json_array_foreach(json_object_get(out.spec, "Env"), i, v) {
		const char *e = json_string_value(v);

		if (strncmp(e, key, n) == 0 && e[n] == '=') {
			snprintf(val, sizeof(val), "%s", e + n + 1);
			return val;
		}
	}
	return NULL;
}

/* facts §9.2 #8 */
static void labels_and_env_have_the_balena_defaults(void **state)
{
	json_t *labels;

	(void)state;
	compose("{\"image\": \"alpine\", \"environment\": {\"FOO\": \"bar\"}, \"labels\": {}}");
	labels = json_object_get(out.spec, "Labels");
	assert_string_equal(json_string_value(json_object_get(labels, "io.balena.supervised")),
			    "true");
	assert_string_equal(json_string_value(json_object_get(labels, "io.balena.app-id")), "123");
	assert_string_equal(json_string_value(json_object_get(labels, "io.balena.app-uuid")),
			    "appuuid");
	assert_string_equal(json_string_value(json_object_get(labels, "io.balena.service-id")),
			    "5");
	assert_string_equal(json_string_value(json_object_get(labels, "io.balena.service-name")),
			    "test");
	assert_string_equal(env("BALENA_APP_LOCK_PATH"), "/tmp/balena/updates.lock");
	assert_string_equal(env("BALENA_SERVICE_HANDOVER_COMPLETE_PATH"),
			    "/tmp/balena/handover-complete");
	assert_string_equal(env("RESIN_SERVICE_KILL_ME_PATH"), "/tmp/balena/handover-complete");
	assert_string_equal(env("BALENA"), "1");
	assert_string_equal(env("RESIN"), "1");
	assert_string_equal(env("USER"), "root");
	assert_string_equal(env("BALENA_APP_ID"), "123");
	assert_string_equal(env("RESIN_APP_ID"), "123");
	assert_string_equal(env("BALENA_DEVICE_TYPE"), "raspberrypi4-64");
	assert_string_equal(env("BALENA_DEVICE_ARCH"), "aarch64");
	assert_string_equal(env("BALENA_SERVICE_NAME"), "test");
	assert_string_equal(env("FOO"), "bar");
	assert_null(env("BALENA_DEVICE_NAME_AT_INIT"));
}

static void user_env_overrides_and_image_env_fills_gaps(void **state)
{
	json_t *img =
		json_loads("{\"Env\": [\"PATH=/bin\", \"FOO=image\", \"USER=nobody\"]}", 0, NULL);

	(void)state;
	ctx.image_config = img;
	compose("{\"image\": \"a\", \"environment\": {\"FOO\": \"mine\", \"BALENA_APP_NAME\": "
		"\"x\"}}");
	assert_string_equal(env("FOO"), "mine");
	assert_string_equal(env("PATH"), "/bin");
	assert_string_equal(env("USER"), "root"); /* the supervisor's default wins over the image */
	assert_string_equal(env("BALENA_APP_NAME"), "x");
	json_decref(img);
}

static void env_is_sorted_so_equal_targets_compose_equally(void **state)
{
	char h1[17], h2[17];
	json_t *svc1 = json_loads(
		       "{\"image\": \"a\", \"environment\": {\"A\": \"1\", \"B\": \"2\"}}", 0,
		       NULL),
	       *svc2 = json_loads(
		       "{\"image\": \"a\", \"environment\": {\"B\": \"2\", \"A\": \"1\"}}", 0,
		       NULL);
	struct composed o2;

	(void)state;
	assert_int_equal(compose_service(&ctx, svc1, &out, err, sizeof(err)), 0);
	assert_int_equal(compose_service(&ctx, svc2, &o2, err, sizeof(err)), 0);
	compose_hash(out.spec, h1);
	compose_hash(o2.spec, h2);
	assert_string_equal(h1, h2);
	compose_free(&o2);
	json_decref(svc1);
	json_decref(svc2);
}

/* facts §9.2 #9 */
static void named_volumes_are_prefixed_and_binds_dropped(void **state)
{
	json_t *binds;

	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"volumes\": [\"vol1:vol2\", "
		"\"vol3 :/usr/src/app\", \"/host/path:/c\"]}}");
	binds = json_object_get(host(), "Binds");
	assert_true(has_string(binds, "123_vol1:vol2"));
	assert_true(has_string(binds, "123_vol3:/usr/src/app"));
	assert_true(has_string(binds, "/tmp/balena-supervisor/services/123/test:/tmp/resin"));
	assert_true(has_string(binds, "/tmp/balena-supervisor/services/123/test:/tmp/balena"));
	assert_int_equal(json_array_size(binds), 4);
	assert_true(has_string(out.volumes, "123_vol1"));
	assert_true(has_string(out.warnings, "Ignoring invalid bind mount /host/path:/c"));
}

static void anonymous_volumes_become_volumes(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"volumes\": [\"/cache\"]}}");
	assert_non_null(json_object_get(json_object_get(out.spec, "Volumes"), "/cache"));
}

/* facts §9.2 #10 */
static void ports_with_ranges_and_udp(void **state)
{
	json_t *pb, *exp;

	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"ports\": [\"2344\", \"2345:2354\", "
		"\"2346:2367/udp\"], \"expose\": [1000]}}");
	pb = json_object_get(host(), "PortBindings");
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(pb, "2354/tcp"), 0), "HostPort")),
		"2345");
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(pb, "2367/udp"), 0), "HostPort")),
		"2346");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(pb, "2344/tcp"), 0), "HostIp")),
			    "");
	exp = json_object_get(out.spec, "ExposedPorts");
	assert_int_equal(json_object_size(exp), 3);
	assert_null(json_object_get(exp, "1000/tcp"));
	compose_free(&out);
	compose("{\"image\": \"a\", \"composition\": {\"ports\": "
		"[\"127.0.0.1:8000-8001:80-81\"]}}");
	pb = json_object_get(host(), "PortBindings");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(pb, "81/tcp"), 0), "HostPort")),
			    "8001");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(pb, "80/tcp"), 0), "HostIp")),
			    "127.0.0.1");
}

static void invalid_port_is_an_error(void **state)
{
	json_t *svc =
		json_loads("{\"image\": \"a\", \"composition\": {\"ports\": [\"x:y\"]}}", 0, NULL);

	(void)state;
	assert_int_equal(compose_service(&ctx, svc, &out, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ports"));
	json_decref(svc);
}

/* facts §9.2 #11 */
static void default_network_is_app_uuid_default_with_service_alias(void **state)
{
	json_t *ep;

	(void)state;
	compose("{\"image\": \"a\"}");
	assert_string_equal(json_string_value(json_object_get(host(), "NetworkMode")),
			    "appuuid_default");
	ep = json_object_get(
		json_object_get(json_object_get(out.spec, "NetworkingConfig"), "EndpointsConfig"),
		"appuuid_default");
	assert_true(has_string(json_object_get(ep, "Aliases"), "test"));
}

static void network_mode_host_and_service(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"labels\": {\"io.balena.features.supervisor-api\": \"1\"}, "
		"\"composition\": {\"network_mode\": \"host\"}}");
	assert_string_equal(json_string_value(json_object_get(host(), "NetworkMode")), "host");
	assert_string_equal(env("BALENA_SUPERVISOR_HOST"), "127.0.0.1");
	assert_string_equal(env("BALENA_SUPERVISOR_ADDRESS"), "http://127.0.0.1:48484");
	compose_free(&out);
	compose("{\"image\": \"a\", \"composition\": {\"network_mode\": \"service:db\"}}");
	assert_string_equal(out.network_mode_service, "db");
	assert_true(has_string(out.depends_on, "db"));
}

static void restart_defaults_and_invalid_become_always(void **state)
{
	(void)state;
	compose("{\"image\": \"a\"}");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(host(), "RestartPolicy"), "Name")),
			    "always");
	compose_free(&out);
	compose("{\"image\": \"a\", \"composition\": {\"restart\": \"On-Failure\"}}");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(host(), "RestartPolicy"), "Name")),
			    "on-failure");
	compose_free(&out);
	compose("{\"image\": \"a\", \"composition\": {\"restart\": \"sometimes\"}}");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(host(), "RestartPolicy"), "Name")),
			    "always");
	compose_free(&out);
	compose("{\"image\": \"a\", \"composition\": {\"restart\": \"no\"}}");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(host(), "RestartPolicy"), "Name")),
			    "no");
}

static void tty_ipc_shm_and_stop_defaults(void **state)
{
	(void)state;
	compose("{\"image\": \"a\"}");
	assert_true(json_is_true(json_object_get(out.spec, "Tty")));
	assert_string_equal(json_string_value(json_object_get(host(), "IpcMode")), "shareable");
	assert_int_equal(json_integer_value(json_object_get(host(), "ShmSize")), 64 * 1024 * 1024);
	assert_int_equal(json_integer_value(json_object_get(out.spec, "StopTimeout")), 10);
	assert_string_equal(json_string_value(json_object_get(out.spec, "StopSignal")), "SIGTERM");
	assert_string_equal(out.strategy, "download-then-kill");
	assert_int_equal(out.handover_timeout_ms, 60000);
	assert_int_equal(out.running, 1);
}

static void memory_units_are_powers_of_1024(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"mem_limit\": \"64m\", \"mem_reservation\": "
		"\"1g\", \"shm_size\": \"512k\", \"cpus\": 1.5}}");
	assert_int_equal(json_integer_value(json_object_get(host(), "Memory")), 64 * 1048576);
	assert_int_equal(json_integer_value(json_object_get(host(), "MemoryReservation")),
			 1073741824);
	assert_int_equal(json_integer_value(json_object_get(host(), "ShmSize")), 512 * 1024);
	assert_int_equal(json_integer_value(json_object_get(host(), "NanoCpus")), 1500000000);
}

static void command_string_is_split_like_a_shell(void **state)
{
	json_t *cmd;

	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"command\": \"sh -c 'echo $A \\\"b c\\\"' "
		"x\\\\ y\", \"entrypoint\": [\"/init\"]}}");
	cmd = json_object_get(out.spec, "Cmd");
	assert_int_equal(json_array_size(cmd), 4);
	assert_string_equal(json_string_value(json_array_get(cmd, 2)), "echo $A \"b c\"");
	assert_string_equal(json_string_value(json_array_get(cmd, 3)), "x y");
	assert_string_equal(
		json_string_value(json_array_get(json_object_get(out.spec, "Entrypoint"), 0)),
		"/init");
}

static void image_cmd_is_the_fallback(void **state)
{
	json_t *img = json_loads("{\"Cmd\": [\"/bin/sh\"], \"WorkingDir\": \"/w\"}", 0, NULL);

	(void)state;
	ctx.image_config = img;
	compose("{\"image\": \"a\", \"composition\": {\"working_dir\": \"/usr/src/\"}}");
	assert_string_equal(json_string_value(json_array_get(json_object_get(out.spec, "Cmd"), 0)),
			    "/bin/sh");
	assert_string_equal(json_string_value(json_object_get(out.spec, "WorkingDir")), "/usr/src");
	json_decref(img);
}

static void healthcheck_durations_become_nanoseconds(void **state)
{
	json_t *hc;

	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"healthcheck\": {\"test\": \"curl x\", "
		"\"interval\": \"1m30s\", \"timeout\": \"10s\", \"retries\": 3}}}");
	hc = json_object_get(out.spec, "Healthcheck");
	assert_string_equal(json_string_value(json_array_get(json_object_get(hc, "Test"), 0)),
			    "CMD-SHELL");
	assert_int_equal(json_integer_value(json_object_get(hc, "Interval")), 90000000000LL);
	assert_int_equal(json_integer_value(json_object_get(hc, "Timeout")), 10000000000LL);
	assert_int_equal(json_integer_value(json_object_get(hc, "Retries")), 3);
	compose_free(&out);
	compose("{\"image\": \"a\", \"composition\": {\"healthcheck\": {\"disable\": true}}}");
	hc = json_object_get(out.spec, "Healthcheck");
	assert_string_equal(json_string_value(json_array_get(json_object_get(hc, "Test"), 0)),
			    "NONE");
}

static void devices_sysctls_ulimits_extra_hosts_tmpfs(void **state)
{
	json_t *d;

	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"devices\": [\"/dev/ttyUSB0\", "
		"\"/dev/a:/dev/b:r\"], \"sysctls\": [\"net.core.somaxconn=1024\"], \"ulimits\": "
		"{\"nproc\": 65535, \"nofile\": {\"soft\": 20000, \"hard\": 40000}}, "
		"\"extra_hosts\": [\"somehost=162.242.195.82\"], \"tmpfs\": \"/run\", \"dns\": "
		"\"8.8.8.8\", \"security_opt\": [\"label=x\", \"no-new-privileges\"]}}");
	d = json_array_get(json_object_get(host(), "Devices"), 0);
	assert_string_equal(json_string_value(json_object_get(d, "PathInContainer")),
			    "/dev/ttyUSB0");
	assert_string_equal(json_string_value(json_object_get(d, "CgroupPermissions")), "rwm");
	d = json_array_get(json_object_get(host(), "Devices"), 1);
	assert_string_equal(json_string_value(json_object_get(d, "PathInContainer")), "/dev/b");
	assert_string_equal(json_string_value(json_object_get(d, "CgroupPermissions")), "r");
	assert_string_equal(json_string_value(json_object_get(json_object_get(host(), "Sysctls"),
							      "net.core.somaxconn")),
			    "1024");
	assert_int_equal(json_array_size(json_object_get(host(), "Ulimits")), 2);
	assert_true(has_string(json_object_get(host(), "ExtraHosts"), "somehost:162.242.195.82"));
	assert_non_null(json_object_get(json_object_get(host(), "Tmpfs"), "/run"));
	assert_true(has_string(json_object_get(host(), "Dns"), "8.8.8.8"));
	assert_true(has_string(json_object_get(host(), "SecurityOpt"), "no-new-privileges"));
	assert_false(has_string(json_object_get(host(), "SecurityOpt"), "label=x"));
}

static void unknown_fields_give_one_sorted_warning(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"composition\": {\"links\": [], \"expose\": [1], \"deploy\": "
		"{}}}");
	assert_true(has_string(out.warnings, "Ignoring unsupported or unknown compose fields: "
					     "deploy, expose, links"));
}

static void io_resin_labels_become_io_balena(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"labels\": {\"io.resin.features.dbus\": \"1\", "
		"\"io.balena.update.strategy\": \"hand-over\", "
		"\"io.balena.update.handover-timeout\": \"5000\"}}");
	assert_non_null(
		json_object_get(json_object_get(out.spec, "Labels"), "io.balena.features.dbus"));
	assert_true(has_string(json_object_get(host(), "Binds"), "/run/dbus:/host/run/dbus"));
	assert_string_equal(out.strategy, "hand-over");
	assert_int_equal(out.handover_timeout_ms, 5000);
}

static void names_round_trip(void **state)
{
	char name[256], svc[128], commit[80];
	int img, rel;

	(void)state;
	ctx.service_name = "my_service";
	compose_container_name(&ctx, name, sizeof(name));
	assert_string_equal(name, "my_service_7_9_deadbeef");
	assert_int_equal(compose_parse_name("/my_service_7_9_deadbeef", svc, sizeof(svc), &img,
					    &rel, commit, sizeof(commit)),
			 0);
	assert_string_equal(svc, "my_service");
	assert_int_equal(img, 7);
	assert_int_equal(rel, 9);
	assert_string_equal(commit, "deadbeef");
	assert_int_equal(compose_parse_name("legacy_1_2", svc, sizeof(svc), &img, &rel, commit,
					    sizeof(commit)),
			 0);
	assert_string_equal(svc, "legacy");
	assert_string_equal(commit, "");
	assert_int_equal(compose_parse_name("not-ours", svc, sizeof(svc), &img, &rel, commit,
					    sizeof(commit)),
			 -1);
}

static void image_references_are_normalised(void **state)
{
	char out_ref[256];

	(void)state;
	compose_image_normalise("alpine", out_ref, sizeof(out_ref));
	assert_string_equal(out_ref, "alpine:latest");
	compose_image_normalise("127.0.0.1:5000/a/b", out_ref, sizeof(out_ref));
	assert_string_equal(out_ref, "127.0.0.1:5000/a/b:latest");
	compose_image_normalise("reg/x:1.0", out_ref, sizeof(out_ref));
	assert_string_equal(out_ref, "reg/x:1.0");
	compose_image_normalise("reg:443/x:tag@sha256:abc", out_ref, sizeof(out_ref));
	assert_string_equal(out_ref, "reg:443/x@sha256:abc");
}

static void running_false_is_carried(void **state)
{
	(void)state;
	compose("{\"image\": \"a\", \"running\": false}");
	assert_int_equal(out.running, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(labels_and_env_have_the_balena_defaults),
		T(user_env_overrides_and_image_env_fills_gaps),
		T(env_is_sorted_so_equal_targets_compose_equally),
		T(named_volumes_are_prefixed_and_binds_dropped),
		T(anonymous_volumes_become_volumes),
		T(ports_with_ranges_and_udp),
		T(invalid_port_is_an_error),
		T(default_network_is_app_uuid_default_with_service_alias),
		T(network_mode_host_and_service),
		T(restart_defaults_and_invalid_become_always),
		T(tty_ipc_shm_and_stop_defaults),
		T(memory_units_are_powers_of_1024),
		T(command_string_is_split_like_a_shell),
		T(image_cmd_is_the_fallback),
		T(healthcheck_durations_become_nanoseconds),
		T(devices_sysctls_ulimits_extra_hosts_tmpfs),
		T(unknown_fields_give_one_sorted_warning),
		T(io_resin_labels_become_io_balena),
		T(names_round_trip),
		T(image_references_are_normalised),
		T(running_false_is_carried),
	};

	return cmocka_run_group_tests_name("compose", tests, NULL, NULL);
}
