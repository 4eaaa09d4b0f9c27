/*
 * applocks.c - every app's update locks at once, for what must not happen
 * under an app's feet: a reboot, a shutdown, a host-config change. The
 * locks of an app the apply loop holds for an update stay its own: they are
 * never given back from here.
 */
#include <string.h>

#include "apply.h"
#include "locks.h"

/* The service names of a target app, for its lock files. */
static int app_services(json_t *app, const char **svcs, int max)
{
	const char *name;
	json_t *svc;
	int n = 0;

	json_object_foreach(json_object_get(app, "services"), name, svc)
		if (n < max)
			svcs[n++] = name;
	return n;
}

void applocks_release(struct apply *a, json_t *record)
{
	const char *svcs[256];
	json_t *e, *v;
	size_t i, j;
	int n;

	json_array_foreach(record, i, e) {
		if (apply_app_locked(a, json_string_value(json_object_get(e, "uuid"))))
			continue;
		n = 0;
		json_array_foreach(json_object_get(e, "services"), j, v)
			if (n < 256)
				svcs[n++] = json_string_value(v);
		lock_release(apply_run_dir(a), (int)json_integer_value(json_object_get(e, "id")),
			     svcs, n);
	}
}

json_t *applocks_take_all(struct apply *a, int force, char *err, size_t errlen)
{
	json_t *record = json_array(), *app, *names;
	const char *k, *svcs[256];
	int n, i, id;

	json_object_foreach(json_object_get(apply_target(a), "apps"), k, app) {
		n = app_services(app, svcs, 256);
		id = (int)json_integer_value(json_object_get(app, "id"));
		if (lock_take(apply_run_dir(a), id, svcs, n, force, err, errlen) != 0) {
			applocks_release(a, record); /* a partial take is given back */
			json_decref(record);
			return NULL;
		}
		names = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(names, json_string(svcs[i]));
		json_array_append_new(record, json_pack("{s:s, s:I, s:o}", "uuid", k, "id",
							(json_int_t)id, "services", names));
	}
	return record;
}
