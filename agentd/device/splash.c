/*
 * splash.c - the splash image boot-config backend (facts §5.2). The value of
 * HOST_SPLASH_image is a data: URI ("data:image/png;base64,...") or bare
 * base64; either way it must decode to a PNG, or it is refused and the image
 * on the device is kept. An empty value (or none) means the default image,
 * which boot.c keeps as splash/balena-logo-default.png. Pure.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "splash.h"

static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int splash_is_png(const unsigned char *data, size_t len)
{
	return data != NULL && len >= sizeof(png_magic) &&
	       memcmp(data, png_magic, sizeof(png_magic)) == 0;
}

static int b64_value(int c)
{
	const char *p;

	if (c == '-')
		return 62; /* the URL-safe alphabet */
	if (c == '_')
		return 63;
	if (c == '\0' || (p = strchr(b64, c)) == NULL)
		return -1;
	return (int)(p - b64);
}

int splash_base64_decode(const char *in, size_t inlen, unsigned char **out, size_t *len)
{
	unsigned char *o = malloc(inlen / 4 * 3 + 3);
	unsigned v = 0, bits = 0;
	size_t i, n = 0;
	int padding = 0;

	if (o == NULL)
		return -1;
	for (i = 0; i < inlen; i++) {
		int c = (unsigned char)in[i], d;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			padding = 1;
			continue;
		}
		if (padding || (d = b64_value(c)) < 0) { /* data after padding, or not base64 */
			free(o);
			return -1;
		}
		v = (v << 6) | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[n++] = (unsigned char)((v >> bits) & 0xff);
		}
	}
	*out = o;
	*len = n;
	return 0;
}

char *splash_data_uri(const unsigned char *data, size_t len)
{
	static const char head[] = "data:image/png;base64,";
	char *out = malloc(sizeof(head) + (len + 2) / 3 * 4), *p;
	size_t i;

	if (out == NULL)
		return NULL;
	memcpy(out, head, sizeof(head) - 1);
	p = out + sizeof(head) - 1;
	for (i = 0; i + 2 < len; i += 3) {
		unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];

		*p++ = b64[v >> 18];
		*p++ = b64[(v >> 12) & 63];
		*p++ = b64[(v >> 6) & 63];
		*p++ = b64[v & 63];
	}
	if (i < len) {
		unsigned v =
			(unsigned)data[i] << 16 | (i + 1 < len ? (unsigned)data[i + 1] << 8 : 0);

		*p++ = b64[v >> 18];
		*p++ = b64[(v >> 12) & 63];
		*p++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		*p++ = '=';
	}
	*p = '\0';
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
	if (splash_base64_decode(data, strlen(data), png, len) == -1) {
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
