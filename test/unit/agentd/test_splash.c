/*
 * test_splash.c - HOST_SPLASH_image: a data: URI or bare base64 of a PNG
 * (either base64 alphabet, with or without padding and line breaks), the
 * default image when empty, and data that is not base64 or not a PNG
 * refused; the data: URI the device reports back.
 */
#include "testutil.h"

#include "base64.h"
#include "splash.h"

/* a 1x1 PNG */
#define PNG_B64                                                                                    \
	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+"                            \
	"M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

static int from(const char *config_json, unsigned char **png, size_t *len, char *err, size_t n)
{
	json_t *c = test_json(config_json);
	int rc = splash_from_target(c, png, len, err, n);

	json_decref(c);
	return rc;
}

static void data_uris_and_bare_base64_give_the_png(void **state)
{
	static const char *const forms[] = {
		"{\"HOST_SPLASH_image\":\"data:image/png;base64," PNG_B64 "\"}",
		"{\"HOST_SPLASH_image\":\"data:image/png;charset=x;base64," PNG_B64 "\"}",
		"{\"HOST_SPLASH_image\":\"" PNG_B64 "\"}",
		"{\"HOST_SPLASH_IMAGE\":\"" PNG_B64 "\"}",
		NULL,
	};
	unsigned char *png, *first = NULL;
	size_t len, first_len = 0;
	char err[256];
	int i;

	(void)state;
	for (i = 0; forms[i] != NULL; i++) {
		assert_int_equal(from(forms[i], &png, &len, err, sizeof(err)), 1);
		assert_true(splash_is_png(png, len));
		if (first == NULL) {
			first = png;
			first_len = len;
			continue;
		}
		assert_int_equal(len, first_len);
		assert_memory_equal(png, first, len);
		free(png);
	}
	/* it reads back as the data URI it came as */
	{
		char *uri = splash_data_uri(first, first_len);

		assert_string_equal(uri, "data:image/png;base64," PNG_B64);
		free(uri);
	}
	free(first);
}

/* The data URI of any bytes reads back as them (common/base64.c both ways;
 * its own cases are test_base64's); the URL-safe alphabet, missing padding
 * and line breaks are read too, as the balena supervisor's Buffer reads them. */
static void data_uris_round_trip(void **state)
{
	static const char *const texts[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	unsigned char *png;
	size_t len, i;
	char err[256];
	char *out;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		char *uri = splash_data_uri((const unsigned char *)texts[i], strlen(texts[i]));
		const char *b64 = uri + strlen("data:image/png;base64,");

		assert_non_null((out = base64_decode(b64, &len)));
		assert_int_equal(len, strlen(texts[i]));
		assert_memory_equal(out, texts[i], len);
		free(out);
		free(uri);
	}
	/* the PNG, its padding taken off, broken over lines, URL-safe */
	{
		char b64[] = PNG_B64, config[512];
		size_t n = strlen(b64);

		while (n > 0 && b64[n - 1] == '=')
			b64[--n] = '\0';
		for (i = 0; i < n; i++)
			if (b64[i] == '+')
				b64[i] = '-';
		snprintf(config, sizeof(config), "{\"HOST_SPLASH_image\":\"%.40s\\n%s\"}", b64,
			 b64 + 40);
		assert_int_equal(from(config, &png, &len, err, sizeof(err)), 1);
		assert_true(splash_is_png(png, len));
		free(png);
	}
}

static void nothing_or_blank_is_the_default_image(void **state)
{
	unsigned char *png = NULL;
	size_t len;
	char err[256];

	(void)state;
	assert_int_equal(from("{}", &png, &len, err, sizeof(err)), 0);
	assert_int_equal(from("{\"HOST_SPLASH_image\":\"\"}", &png, &len, err, sizeof(err)), 0);
	assert_int_equal(from("{\"HOST_SPLASH_image\":\" \\n\"}", &png, &len, err, sizeof(err)), 0);
	assert_null(png);
}

static void bad_data_and_other_keys_are_refused(void **state)
{
	unsigned char *png = NULL;
	size_t len;
	char err[256];

	(void)state;
	assert_int_equal(from("{\"HOST_SPLASH_image\":\"data:image/png;base64,%%%\"}", &png, &len,
			      err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "Expected splash image to be a base64 encoded PNG image"));
	/* base64, but of a GIF */
	assert_int_equal(from("{\"HOST_SPLASH_image\":\"R0lGODlhAQABAAAAACw=\"}", &png, &len, err,
			      sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "it is not a PNG"));
	/* a data URI that is not base64 */
	assert_int_equal(from("{\"HOST_SPLASH_image\":\"data:image/png,rawbytes\"}", &png, &len,
			      err, sizeof(err)),
			 -1);
	assert_int_equal(
		from("{\"HOST_SPLASH_logo\":\"" PNG_B64 "\"}", &png, &len, err, sizeof(err)), -1);
	assert_string_equal(err, "Attempt to change blacklisted config value logo");
	assert_null(png);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(data_uris_and_bare_base64_give_the_png),
		cmocka_unit_test(data_uris_round_trip),
		cmocka_unit_test(nothing_or_blank_is_the_default_image),
		cmocka_unit_test(bad_data_and_other_keys_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
