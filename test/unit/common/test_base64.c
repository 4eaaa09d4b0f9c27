/*
 * test_base64.c - base64 both ways: RFC 4648's examples, the URL-safe
 * alphabet Docker's X-Registry-Auth uses, a buffer too small, and text that
 * is not base64.
 */
#include "testutil.h"

#include "base64.h"

static void encodes_as_the_rfc_says(void **state)
{
	static const char *const cases[][2] = {{"", ""},
					       {"f", "Zg=="},
					       {"fo", "Zm8="},
					       {"foo", "Zm9v"},
					       {"foob", "Zm9vYg=="},
					       {"fooba", "Zm9vYmE="},
					       {"foobar", "Zm9vYmFy"}};
	char out[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(
			base64_encode(cases[i][0], strlen(cases[i][0]), out, sizeof(out), 0),
			(long)strlen(cases[i][1]));
		assert_string_equal(out, cases[i][1]);
	}
}

static void url_safe_and_back(void **state)
{
	const unsigned char bytes[] = {0xfb, 0xff, 0xbf};
	char out[8], *back;
	size_t n;

	(void)state;
	assert_int_equal(base64_encode(bytes, 3, out, sizeof(out), 0), 4);
	assert_string_equal(out, "+/+/");
	assert_int_equal(base64_encode(bytes, 3, out, sizeof(out), 1), 4);
	assert_string_equal(out, "-_-_");
	assert_non_null(back = base64_decode("-_-_", &n));
	assert_int_equal(n, 3);
	assert_memory_equal(back, bytes, 3);
	free(back);
	assert_non_null(back = base64_decode("Zm9v\nYmFy\n", &n));
	assert_string_equal(back, "foobar");
	free(back);
}

static void too_small_and_not_base64(void **state)
{
	char out[4], *back;
	size_t n;

	(void)state;
	assert_int_equal(base64_encode("foo", 3, out, sizeof(out), 0), -1);
	assert_string_equal(out, "");
	back = base64_decode("not*base64", &n);
	assert_null(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encodes_as_the_rfc_says),
		cmocka_unit_test(url_safe_and_back),
		cmocka_unit_test(too_small_and_not_base64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
