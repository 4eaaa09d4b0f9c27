/*
 * test_hostconfig.c - the proxy settings of host-config: redsocks.conf
 * rendering and parsing round-trip, PATCH checks, merging over what is
 * there, and {} removing the files.
 */
#include <sys/stat.h>

#include "testutil.h"

#include "hostconfig.h"

static char *dir;
static char conf_path[512], noproxy_path[512];

static int setup(void **state)
{
	(void)state;
	test_fixture(&dir, conf_path, sizeof(conf_path), "system-proxy/redsocks.conf");
	snprintf(noproxy_path, sizeof(noproxy_path), "%s/system-proxy/no_proxy", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	test_fixture_free(&dir);
	return 0;
}

/* PATCH `patch_text`; expect rc, and when rc is -1, err mentioning `expect`. */
static void patch(const char *patch_text, int rc, const char *expect)
{
	json_t *p = test_json(patch_text);
	char err[512] = "";

	assert_int_equal(hostconfig_proxy_patch(dir, p, err, sizeof(err)), rc);
	json_decref(p);
	if (expect != NULL && strstr(err, expect) == NULL)
		fail_msg("error '%s' does not mention '%s'", err, expect);
}

static void assert_proxy(const char *expect_text)
{
	json_t *got = hostconfig_proxy_read(dir), *expect = test_json(expect_text);

	if (!json_equal(got, expect)) {
		char *g = got ? json_dumps(got, JSON_SORT_KEYS) : NULL;

		fail_msg("proxy is %s, not %s", g ? g : "(none)", expect_text);
	}
	json_decref(got);
	json_decref(expect);
}

static void render_and_parse_round_trip(void **state)
{
	json_t *proxy =
		test_json("{\"type\":\"socks5\",\"ip\":\"proxy.local\",\"port\":1080,"
			  "\"login\":\"me\",\"password\":\"p w\",\"dns\":\"1.1.1.1:5353\"}");
	char *text = redsocks_render(proxy);
	json_t *conf;

	(void)state;
	assert_non_null(text);
	assert_non_null(strstr(text, "redirector = iptables;"));
	assert_non_null(strstr(text, "login = \"me\";"));
	assert_non_null(strstr(text, "local_port = 12345;"));
	conf = redsocks_parse(text);
	assert_non_null(conf);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(conf, "redsocks"), "password")),
		"p w");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(conf, "dnsu2t"), "remote_port")),
		"5353");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(conf, "base"), "log")), "stderr");
	json_decref(conf);
	free(text);
	json_decref(proxy);
}

static void parse_takes_comments_and_rejects_garbage(void **state)
{
	json_t *c;

	(void)state;
	c = redsocks_parse("// comment\nredsocks { /* x */ type = socks4; ip = 10.0.0.1;"
			   " port = 3128; }\n");
	assert_non_null(c);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(c, "redsocks"), "port")), "3128");
	json_decref(c);
	assert_null(redsocks_parse("redsocks { type socks5; }"));
	assert_null(redsocks_parse("redsocks { type = socks5;"));
	assert_null(redsocks_parse("{ type = socks5; }"));
	assert_null(redsocks_parse("redsocks { login = \"open; }"));
}

static void patch_writes_reads_merges_and_removes(void **state)
{
	struct stat st;

	(void)state;
	assert_null(hostconfig_proxy_read(dir));
	patch("{\"type\":\"http-connect\",\"ip\":\"10.1.2.3\",\"port\":\"8080\","
	      "\"noProxy\":[\"10.0.0.0/8\",\"example.com\"],\"dns\":true}",
	      0, NULL);
	assert_proxy("{\"type\":\"http-connect\",\"ip\":\"10.1.2.3\",\"port\":8080,"
		     "\"dns\":\"8.8.8.8:53\",\"noProxy\":[\"10.0.0.0/8\",\"example.com\"]}");
	/* a partial PATCH keeps the other fields; dns false drops dnsu2t */
	patch("{\"port\":3128,\"login\":\"u\",\"password\":\"pw\",\"dns\":false}", 0, NULL);
	assert_proxy("{\"type\":\"http-connect\",\"ip\":\"10.1.2.3\",\"port\":3128,"
		     "\"login\":\"u\",\"password\":\"pw\","
		     "\"noProxy\":[\"10.0.0.0/8\",\"example.com\"]}");
	/* noProxy alone replaces the list only */
	patch("{\"noProxy\":[\"192.168.0.0/16\"]}", 0, NULL);
	assert_proxy("{\"type\":\"http-connect\",\"ip\":\"10.1.2.3\",\"port\":3128,"
		     "\"login\":\"u\",\"password\":\"pw\",\"noProxy\":[\"192.168.0.0/16\"]}");
	/* {} removes both files */
	patch("{}", 0, NULL);
	assert_null(hostconfig_proxy_read(dir));
	assert_int_equal(stat(conf_path, &st), -1);
	assert_int_equal(stat(noproxy_path, &st), -1);
}

static void bad_patches_are_refused_and_change_nothing(void **state)
{
	(void)state;
	patch("{\"type\":\"socks5\",\"ip\":\"1.2.3.4\",\"port\":1080}", 0, NULL);
	patch("{\"type\":\"ftp\"}", -1, "socks4, socks5, http-connect");
	patch("{\"ip\":\"1.2.3.4; }\"}", -1, "ip");
	patch("{\"port\":0}", -1, "port");
	patch("{\"port\":\"80a\"}", -1, "port");
	patch("{\"login\":\"a\\\"b\"}", -1, "login");
	patch("{\"password\":\"a\\nb\"}", -1, "password");
	patch("{\"dns\":\"nope\"}", -1, "dns");
	patch("{\"noProxy\":\"a\"}", -1, "noProxy");
	patch("{\"noProxy\":[\"a b\"]}", -1, "noProxy");
	patch("{\"colour\":1}", -1, "unknown key \"colour\"");
	assert_proxy("{\"type\":\"socks5\",\"ip\":\"1.2.3.4\",\"port\":1080}");
	/* without a proxy in place, a PATCH must name type, ip and port */
	patch("{}", 0, NULL);
	patch("{\"type\":\"socks5\",\"port\":1080,\"noProxy\":[\"x\"]}", -1, "\"ip\" is required");
	assert_null(hostconfig_proxy_read(dir));
	{
		struct stat st;

		assert_int_equal(stat(noproxy_path, &st), -1); /* nothing half-written */
	}
}

static void bad_values_in_the_file_are_not_written_back(void **state)
{
	char dir_path[600];

	(void)state;
	snprintf(dir_path, sizeof(dir_path), "%s/system-proxy", dir);
	assert_int_equal(mkdir(dir_path, 0755), 0);
	/* a hand-edited file whose quoted ip would close the block when written unquoted */
	test_write_file(conf_path, "redsocks { type = socks5; ip = \"1.2.3.4; } base {\"; "
				   "port = 1080; }\n");
	patch("{\"port\":1081}", -1, "kept from the current");
	patch("{\"ip\":\"10.0.0.1\",\"port\":1081}", 0, NULL);
	assert_proxy("{\"type\":\"socks5\",\"ip\":\"10.0.0.1\",\"port\":1081}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(render_and_parse_round_trip),
		cmocka_unit_test(parse_takes_comments_and_rejects_garbage),
		cmocka_unit_test_setup_teardown(patch_writes_reads_merges_and_removes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(bad_patches_are_refused_and_change_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(bad_values_in_the_file_are_not_written_back, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("hostconfig", tests, NULL, NULL);
}
