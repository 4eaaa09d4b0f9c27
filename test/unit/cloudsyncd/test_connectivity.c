/*
 * test_connectivity.c - the connectivity check's target: the API endpoint's
 * host and port (443 for https, 80 for http, unless the URL names one), as
 * the URL of a TCP-only check; endpoints that are no http(s) URL refused.
 */
#include "testutil.h"

#include "cloudsyncd.h"

static void endpoints_give_host_and_port(void **state)
{
	static const struct {
		const char *endpoint, *url;
	} cases[] = {
		{"https://api.balena-cloud.com", "http://api.balena-cloud.com:443/"},
		{"https://api.balena-cloud.com/", "http://api.balena-cloud.com:443/"},
		{"http://127.0.0.1:8123", "http://127.0.0.1:8123/"},
		{"HTTP://example.org/v6?x=1", "http://example.org:80/"},
		{"https://user:pw@api.example.org:8443/path", "http://api.example.org:8443/"},
		{"https://[::1]:9443", "http://[::1]:9443/"},
		{"https://[fe80::1]", "http://[fe80::1]:443/"},
	};
	char url[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cloud_connect_url(cases[i].endpoint, url, sizeof(url)), 0);
		assert_string_equal(url, cases[i].url);
	}
}

static void other_endpoints_are_refused(void **state)
{
	static const char *const bad[] = {
		"ftp://example.org",  "example.org",       "https://",     "https://host:0",
		"https://host:70000", "https://host:12ab", "https://[::1", "",
	};
	char url[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cloud_connect_url(bad[i], url, sizeof(url)) != -1)
			fail_msg("\"%s\" was taken as %s", bad[i], url);
	assert_int_equal(cloud_connect_url(NULL, url, sizeof(url)), -1);
	assert_int_equal(cloud_connect_url("https://a.very.long.host.name", url, 10), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(endpoints_give_host_and_port),
		cmocka_unit_test(other_endpoints_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
