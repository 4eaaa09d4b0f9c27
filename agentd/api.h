/*
 * api.h - agentd's answers to the local API. apid routes and authenticates
 * a request and sends it here as MSG_API_CALL {route, params, query, body,
 * scope}; api.c finds the handler its route names (api_apps.c: apps,
 * services, the local target; api_device.c: the device and the host) and
 * the handler replies {status, json | text}, now or once the engine has
 * answered. apicall.c holds what every handler uses.
 */
#ifndef AGENTD_API_H
#define AGENTD_API_H

#include "agentd.h"

/* One request; owned by whoever answers it (a reply frees it). */
struct api_call {
	struct agentd *ad;
	struct frame_hdr req; /* the MSG_API_CALL, for the reply's id */
	json_t *params, *query, *body, *scope;
};

/* apicall.c */
void api_call_free(struct api_call *c);
/// Reply with `json` (stolen; NULL: null) and free the call.
void api_reply(struct api_call *c, int status, json_t *json);
/// Reply {status: "failed", message} and free the call.
void api_reply_failed(struct api_call *c, int status, const char *msg);
/// Reply with plain text and free the call.
void api_reply_text(struct api_call *c, int status, const char *text);
/// Whether the caller's key may see the app (scope NULL: auth is off).
int api_in_scope(json_t *scope, long long app_id);
/// The request's force flag, or SUPERVISOR_OVERRIDE_LOCK.
int api_force(struct api_call *c);
/// The app id of a request: the :appId path parameter or the body's appId.
long long api_app_id(struct api_call *c);
/// The target app with this id (borrowed) and its uuid, or NULL.
json_t *api_target_app(struct agentd *ad, long long id, const char **uuid);
/// The container of an app's service (by name, or by image id when service
/// is NULL) in an engine list, leaving out hand-over leftovers; or NULL.
json_t *api_container_of(json_t *list, long long app_id, const char *service, long long image_id);

/// A handler's next step once the container list is there (borrowed).
typedef void (*api_list_fn)(struct api_call *c, json_t *containers);
/// fn with the supervised containers (cached); 503 when the engine fails.
void api_with_containers(struct api_call *c, api_list_fn fn);
/// fn with every container of the engine, supervised or not.
void api_with_all_containers(struct api_call *c, api_list_fn fn);

/* api_apps.c */
void api_target_get(struct api_call *c);
void api_target_set(struct api_call *c);
void api_state_status(struct api_call *c);
void api_applications_state(struct api_call *c);
void api_stop_service(struct api_call *c);
void api_start_service(struct api_call *c);
void api_restart_service(struct api_call *c);
void api_v1_app_stop(struct api_call *c);
void api_v1_app_start(struct api_call *c);
void api_app_restart(struct api_call *c);
void api_app_purge(struct api_call *c);
void api_container_id(struct api_call *c);
void api_v1_app_get(struct api_call *c);
void api_app_state(struct api_call *c);
void api_cleanup_volumes(struct api_call *c);

/* api_device.c */
void api_device_info(struct api_call *c);
void api_reboot(struct api_call *c);
void api_shutdown(struct api_call *c);
void api_update(struct api_call *c);
void api_blink(struct api_call *c);
void api_regenerate_key(struct api_call *c);
void api_device_name(struct api_call *c);
void api_device_vpn(struct api_call *c);
void api_device_tags(struct api_call *c);
void api_device_tags_patch(struct api_call *c);
void api_host_config_get(struct api_call *c);
void api_host_config_patch(struct api_call *c);
void api_device_v1(struct api_call *c);
void api_journal_logs(struct api_call *c);
void api_journal_stop(struct api_call *c);
void api_metrics(struct api_call *c);

#endif
