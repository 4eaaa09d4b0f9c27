/*
 * jsonx.h - small helpers over jansson that several modules need.
 */
#ifndef AGENTD_COMMON_JSONX_H
#define AGENTD_COMMON_JSONX_H

#include <string.h>

#include <jansson.h>

/// Whether the JSON array `arr` (may be NULL) holds the string `s`.
static inline int jsonx_has_string(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return 1;
	return 0;
}

/// The keys of the object `obj` as a new array of strings (empty for NULL):
/// the keys a boot-config target sets, for its next render's managed_before.
static inline json_t *jsonx_keys(json_t *obj)
{
	json_t *keys = json_array(), *v;
	const char *k;

	json_object_foreach(obj, k, v)
		json_array_append_new(keys, json_string(k));
	return keys;
}

#endif
