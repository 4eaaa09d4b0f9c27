/*
 * test_delta.c - how cloudsyncd names the registry and the repository of an
 * image for the registry token of a delta: the host is the first part only
 * when it looks like one, tags and digests are dropped.
 */
#include "testutil.h"

#include "cloudsyncd.h"

static void repo(const char *ref, const char *host, const char *name)
{
	char h[256], n[512];

	assert_int_equal(delta_repo(ref, h, sizeof(h), n, sizeof(n)), 0);
	assert_string_equal(h, host);
	assert_string_equal(n, name);
}

static void references_split_into_registry_and_repository(void **state)
{
	(void)state;
	repo("registry2.balena-cloud.com/v2/abc@sha256:0123", "registry2.balena-cloud.com",
	     "v2/abc");
	repo("registry2.balena-cloud.com/v2/abc:latest@sha256:0123", "registry2.balena-cloud.com",
	     "v2/abc");
	repo("127.0.0.1:5000/agentd-test/busybox:v2", "127.0.0.1:5000", "agentd-test/busybox");
	repo("localhost/app", "localhost", "app");
	repo("library/busybox:1.36", "", "library/busybox");
	repo("busybox", "", "busybox");
}

static void what_names_nothing_is_refused(void **state)
{
	char h[256], n[512], small[4];

	(void)state;
	assert_int_equal(delta_repo("", h, sizeof(h), n, sizeof(n)), -1);
	assert_int_equal(delta_repo("reg.example.com/", h, sizeof(h), n, sizeof(n)), -1);
	assert_int_equal(delta_repo("reg.example.com/@sha256:00", h, sizeof(h), n, sizeof(n)), -1);
	assert_int_equal(
		delta_repo("reg.example.com/long/name", small, sizeof(small), n, sizeof(n)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(references_split_into_registry_and_repository),
		cmocka_unit_test(what_names_nothing_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
