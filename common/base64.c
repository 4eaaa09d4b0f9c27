/*
 * base64.c - base64 both ways (see base64.h).
 */
#include <stdlib.h>
#include <string.h>

#include "base64.h"

static const char std_abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

long base64_encode(const void *in, size_t n, char *out, size_t outlen, int urlsafe)
{
	const unsigned char *p = in;
	const char *abc = urlsafe ? url_abc : std_abc;
	size_t i, o = 0;

	if ((n + 2) / 3 * 4 + 1 > outlen) {
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = abc[(v >> 18) & 63];
		out[o++] = abc[(v >> 12) & 63];
		out[o++] = i + 1 < n ? abc[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? abc[v & 63] : '=';
	}
	out[o] = '\0';
	return (long)o;
}

static int value_of(char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	if ((p = strchr(std_abc, c)) != NULL)
		return (int)(p - std_abc);
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

char *base64_decode(const char *in, size_t *outlen)
{
	size_t n = strlen(in), o = 0;
	unsigned v = 0, bits = 0;
	char *out = malloc(n * 3 / 4 + 4);
	int d;

	if (out == NULL)
		return NULL;
	for (; *in; in++) {
		if (*in == '=' || *in == '\n' || *in == '\r' || *in == ' ')
			continue;
		if ((d = value_of(*in)) < 0) {
			free(out);
			return NULL;
		}
		v = (v << 6) | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((v >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}
