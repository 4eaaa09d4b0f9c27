/*
 * contract.c - checking service contracts (see contract.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"

static void version_parts(const char *v, long p[3])
{
	int i;

	p[0] = p[1] = p[2] = 0;
	if (*v == 'v' || *v == 'V')
		v++;
	for (i = 0; i < 3 && *v; i++) {
		char *end;

		p[i] = strtol(v, &end, 10);
		if (end == v)
			break;
		v = end;
		if (*v != '.')
			break;
		v++;
	}
}

int contract_version_cmp(const char *a, const char *b)
{
	long pa[3], pb[3];
	int i;

	version_parts(a, pa);
	version_parts(b, pb);
	for (i = 0; i < 3; i++)
		if (pa[i] != pb[i])
			return pa[i] < pb[i] ? -1 : 1;
	return 0;
}

/* One comparator such as ">=1.2.3", "^2", "~1.4", "1.x". */
static int comparator_ok(const char *version, const char *c)
{
	long v[3], b[3];
	int cmp;

	if (!strncmp(c, ">=", 2))
		return contract_version_cmp(version, c + 2) >= 0;
	if (!strncmp(c, "<=", 2))
		return contract_version_cmp(version, c + 2) <= 0;
	if (*c == '>')
		return contract_version_cmp(version, c + 1) > 0;
	if (*c == '<')
		return contract_version_cmp(version, c + 1) < 0;
	if (*c == '=')
		return contract_version_cmp(version, c + 1) == 0;
	version_parts(version, v);
	if (*c == '^' || *c == '~') {
		version_parts(c + 1, b);
		cmp = contract_version_cmp(version, c + 1);
		if (cmp < 0)
			return 0;
		return *c == '^' ? v[0] == b[0] : v[0] == b[0] && v[1] == b[1];
	}
	if (*c == '*' || *c == 'x' || *c == 'X' || *c == '\0')
		return 1;
	/* "1", "1.2", "1.x": the parts given must match */
	version_parts(c, b);
	if (v[0] != b[0])
		return 0;
	{
		const char *dot = strchr(c, '.');

		if (dot == NULL || dot[1] == 'x' || dot[1] == 'X' || dot[1] == '*')
			return 1;
		if (v[1] != b[1])
			return 0;
		dot = strchr(dot + 1, '.');
		return dot == NULL || dot[1] == 'x' || dot[1] == 'X' || dot[1] == '*' ||
		       v[2] == b[2];
	}
}

int contract_version_in(const char *version, const char *range)
{
	char buf[256], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", range);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		if (!comparator_ok(version, tok))
			return 0;
	return 1;
}

int contract_met(json_t *contract, const struct contract_env *env, char *why, size_t len)
{
	json_t *req;
	size_t i;

	if (!json_is_object(contract))
		return 1;
	json_array_foreach(json_object_get(contract, "requires"), i, req) {
		const char *type = json_string_value(json_object_get(req, "type"));
		const char *version = json_string_value(json_object_get(req, "version"));
		const char *slug = json_string_value(json_object_get(req, "slug"));

		if (type == NULL)
			continue;
		if (!strcmp(type, "sw.supervisor") && version != NULL &&
		    !contract_version_in(env->supervisor_version, version)) {
			snprintf(why, len, "sw.supervisor %s (this is %s)", version,
				 env->supervisor_version);
			return 0;
		}
		if (!strcmp(type, "hw.device-type") && slug != NULL &&
		    strcmp(slug, env->device_type ? env->device_type : "") != 0) {
			snprintf(why, len, "hw.device-type %s", slug);
			return 0;
		}
		if (!strcmp(type, "arch.sw") && slug != NULL &&
		    strcmp(slug, env->arch ? env->arch : "") != 0) {
			snprintf(why, len, "arch.sw %s", slug);
			return 0;
		}
		if (!strcmp(type, "sw.l4t") && version != NULL) {
			snprintf(why, len, "sw.l4t %s (no L4T here)", version);
			return 0;
		}
	}
	return 1;
}
