/*
 * fuzz_route.c - libFuzzer target: apid's routing of any method and path
 * (parameters extracted from the path) and its Authorization header parsing
 * must never crash, and a route found must match the method asked for.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum evhttp_cmd_type methods[] = {EVHTTP_REQ_GET, EVHTTP_REQ_POST,
						       EVHTTP_REQ_PATCH, EVHTTP_REQ_DELETE,
						       EVHTTP_REQ_HEAD};
	const struct route *r;
	char *text, key[256];
	json_t *params;
	int known;

	if (size == 0)
		return 0;
	text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	params = json_object();
	r = routes_find(methods[data[0] % 5], text, params, &known);
	if (r != NULL && (!known || (r->method != methods[data[0] % 5] &&
				     methods[data[0] % 5] != EVHTTP_REQ_HEAD)))
		abort();
	auth_header_key(text, key, sizeof(key));
	json_decref(params);
	free(text);
	return 0;
}
