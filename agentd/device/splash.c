/*
 * splash.c - the splash image boot-config backend (facts §5.2). The value of
 * HOST_SPLASH_image is a data: URI ("data:image/png;base64,...") or bare
 * base64; either way it must decode to a PNG, or it is refused and the image
 * on the device is kept. An empty value (or none) means the default image,
 * which boot.c keeps as splash/balena-logo-default.png. Pure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "splash.h"

static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

int splash_is_png(const unsigned char *data, size_t len)
{
	return data != NULL && len >= sizeof(png_magic) &&
	       memcmp(data, png_magic, sizeof(png_magic)) == 0;
}

char *splash_data_uri(const unsigned char *data, size_t len)
{
	static const char head[] = "data:image/png;base64,";
	size_t room = sizeof(head) + (len + 2) / 3 * 4;
	char *out = malloc(room);

	if (out == NULL)
		return NULL;
	memcpy(out, head, sizeof(head) - 1);
	if (base64_encode(data, len, out + sizeof(head) - 1, room - (sizeof(head) - 1), 0) == -1) {
		free(out);
		return NULL;
	}
	return out;
}

/* The base64 part of a value: after "data:<type>;base64," when it is a data
 * URI (its media type is not checked: the bytes are), else all of it. */
static const char *base64_part(const char *v)
{
	const char *comma;

	if (strncmp(v, "data:", 5) != 0 || (comma = strchr(v, ',')) == NULL)
		return v;
	if (comma - v >= 12 && strncmp(comma - 7, ";base64", 7) == 0)
		return comma + 1;
	return v; /* not a base64 data URI: refused below as not base64 */
}

int splash_from_target(json_t *config, unsigned char **png, size_t *len, char *err, size_t errlen)
{
	const char *k, *value = NULL, *data;
	json_t *v;

	json_object_foreach(config, k, v) {
		const char *key = k + strlen(SPLASH_PREFIX), *s = json_string_value(v);

		if (strncmp(k, SPLASH_PREFIX, strlen(SPLASH_PREFIX)) != 0 || s == NULL)
			continue;
		if (strcasecmp(key, "image") != 0) {
			snprintf(err, errlen, "Attempt to change blacklisted config value %.100s",
				 key);
			return -1;
		}
		value = s;
	}
	if (value == NULL || value[strspn(value, " \t\r\n")] == '\0')
		return 0; /* the default image */
	data = base64_part(value);
	if ((*png = (unsigned char *)base64_decode(data, len)) == NULL) {
		snprintf(err, errlen,
			 "Expected splash image to be a base64 encoded PNG image: it is not "
			 "base64");
		return -1;
	}
	if (!splash_is_png(*png, *len)) {
		free(*png);
		*png = NULL;
		snprintf(err, errlen,
			 "Expected splash image to be a base64 encoded PNG image: it is not a "
			 "PNG");
		return -1;
	}
	return 1;
}
