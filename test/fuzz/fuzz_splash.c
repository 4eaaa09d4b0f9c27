/*
 * fuzz_splash.c - libFuzzer target: any HOST_SPLASH_image value (the input)
 * must not crash the data: URI and base64 reading; what is accepted is a
 * PNG, and its data: URI, read again, gives the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "splash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *value = json_stringn((const char *)data, size), *config;
	unsigned char *png = NULL, *again = NULL;
	size_t len = 0, len2 = 0;
	char err[256], *uri;

	if (value == NULL)
		return 0; /* not UTF-8: no config var is */
	config = json_pack("{s:o}", "HOST_SPLASH_image", value);
	if (splash_from_target(config, &png, &len, err, sizeof(err)) == 1) {
		if (!splash_is_png(png, len) || (uri = splash_data_uri(png, len)) == NULL)
			abort();
		json_object_set_new(config, "HOST_SPLASH_image", json_string(uri));
		if (splash_from_target(config, &again, &len2, err, sizeof(err)) != 1 ||
		    len2 != len || memcmp(again, png, len) != 0)
			abort();
		free(uri);
		free(again);
		free(png);
	}
	json_decref(config);
	return 0;
}
