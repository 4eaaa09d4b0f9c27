/*
 * keys.h - the local API's keys, kept in agentd's database (`api_secret`):
 * one global key (app 0) and one scoped key per service that is labelled
 * for the supervisor API, made on first use and injected into containers as
 * BALENA_SUPERVISOR_API_KEY. Whoever needs to know when the set changes (the
 * API's auth list) registers a callback.
 */
#ifndef AGENTD_KEYS_H
#define AGENTD_KEYS_H

#include <stddef.h>

#include <jansson.h>
#include <sqlite3.h>

struct keys {
	sqlite3 *db; /* borrowed */
	/// A key was made or replaced.
	void (*changed)(void *arg);
	void *arg;
};

/// The API key of a service (app_id 0, service NULL: the global key), made
/// and stored on first use. malloc'd, NULL on failure.
char *keys_for(struct keys *k, int app_id, const char *service);
/// Replace `old` by a new key with the same owner and scopes. malloc'd; NULL
/// with the reason in err if `old` is not a key or the database refuses
/// ("cannot store the new key: database or disk is full").
char *keys_regenerate(struct keys *k, const char *old, char *err, size_t errlen);
/// Every key with its scopes: [{key, scopes}] (new reference).
json_t *keys_all(struct keys *k);

#endif
