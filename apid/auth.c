/*
 * apid/auth.c - API keys: from `?apikey=` first, else the header
 * `Authorization: Bearer <key>` or `ApiKey <key>`. agentd sends the valid
 * keys and their scopes (MSG_API_AUTH); auth is off while the device is
 * unmanaged or in local mode.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/keyvalq_struct.h>

#include "apid.h"

static int key_chars(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return n > 0;
}

int auth_header_key(const char *h, char *out, size_t len)
{
	out[0] = '\0';
	if (strncasecmp(h, "Bearer ", 7) == 0 || strncasecmp(h, "ApiKey ", 7) == 0)
		h += 7;
	else
		return -1;
	if (!key_chars(h, strlen(h)) || strlen(h) >= len)
		return -1;
	memcpy(out, h, strlen(h) + 1);
	return 0;
}

json_t *auth_check(struct apid *a, struct evhttp_request *req, char *keyout, size_t keylen)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL, *h, *key = NULL;
	struct evkeyvalq kv;
	char buf[256];
	json_t *k;
	size_t i, n;

	buf[0] = '\0';
	if (q != NULL && evhttp_parse_query_str(q, &kv) == 0) {
		if ((key = evhttp_find_header(&kv, "apikey")) != NULL)
			snprintf(buf, sizeof(buf), "%s", key);
		evhttp_clear_headers(&kv);
	}
	if (buf[0] == '\0' &&
	    (h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization")))
		auth_header_key(h, buf, sizeof(buf));
	if (buf[0] == '\0')
		return NULL;
	n = strlen(buf);
	json_array_foreach(a->keys, i, k) {
		const char *v = json_string_value(json_object_get(k, "key"));

		if (v != NULL && strlen(v) == n && memcmp(v, buf, n) == 0) {
			snprintf(keyout, keylen, "%s", buf);
			return json_incref(json_object_get(k, "scopes"));
		}
	}
	return NULL;
}

int auth_update(struct apid *a, json_t *body)
{
	json_t *keys = json_object_get(body, "keys");

	if (!json_is_boolean(json_object_get(body, "enabled")) || !json_is_array(keys))
		return -1;
	a->auth_enabled = json_is_true(json_object_get(body, "enabled"));
	json_decref(a->keys);
	a->keys = json_incref(keys);
	return 0;
}
