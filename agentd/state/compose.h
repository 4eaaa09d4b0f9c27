/*
 * compose.h - one target service to one container: a pure function from a
 * service of the target state (image, environment, labels, compose fields)
 * plus what the caller knows about the app, the device and the image, to the
 * Docker Engine API body of POST /containers/create, with the balena
 * supervisor's names, labels, env vars, mounts, defaults and conversions
 * (facts §1.4, §2.2, §4.4, §4.5). No I/O: unit-testable with plain JSON.
 */
#ifndef AGENTD_COMPOSE_H
#define AGENTD_COMPOSE_H

#include <stddef.h>

#include <jansson.h>

/* The bridge services labelled io.balena.features.supervisor-api join (unless
 * on the host's network) to reach the API at its gateway (facts §4.3). */
#define SUPERVISOR_NETWORK         "supervisor0"
#define SUPERVISOR_NETWORK_SUBNET  "10.114.104.0/25"
#define SUPERVISOR_NETWORK_GATEWAY "10.114.104.1"

struct compose_ctx {
	int app_id; /* numeric app id */
	const char *app_uuid;
	const char *app_name;
	const char *service_name;
	int service_id, image_id, release_id;
	const char *commit;
	const char *device_uuid, *device_type, *device_arch, *device_name, *host_os_version;
	const char *run_dir;       /* lock dir = <run_dir>/services/<app_id>/<service_name> */
	const char *engine_socket; /* host path of the engine socket (balena-socket feature) */
	const char *api_key;       /* per-service supervisor API key, or NULL (supervisor-api) */
	int api_port;              /* 48484 */
	const char *api_host;      /* where a container not on the host network reaches the API */
	const char *device_api_key, *api_endpoint; /* balena-api feature, may be NULL */
	json_t *image_config;     /* borrowed: the image's inspect "Config", or NULL if unknown */
	const char *image_id_ref; /* "Image" of the body (e.g. "sha256:..."), or NULL for the
				     service's image reference, normalised */
	int host_has_lib_modules, host_has_lib_firmware; /* the caller looked at the host */
};

struct composed {
	json_t *spec;       /* body of POST /containers/create (owned) */
	json_t *depends_on; /* service names to start first, incl. x of "service:x" (owned) */
	char *network_mode_service; /* x of network_mode "service:x" (owned) or NULL; the spec
				       holds "container:x", for the caller to make "container:<id>"
				     */
	json_t *networks; /* full network name -> {"Aliases": [...], ...} (owned); the first is the
			     one in HostConfig.NetworkMode and NetworkingConfig */
	json_t *volumes;  /* full names ("<appId>_<name>") of the named volumes used (owned) */
	json_t *warnings; /* human-readable strings (owned) */
	char *strategy;   /* io.balena.update.strategy, normalised (owned) */
	long handover_timeout_ms; /* io.balena.update.handover-timeout, default 60000 */
	int running;              /* target running flag, default 1 */
};

/// Compose `svc` ({"image", "environment", "labels", "running"?, "composition"?}).
/// Returns 0 and fills *out (free it with compose_free), or -1 with a one-line
/// reason naming the field in err (out is then left empty).
int compose_service(const struct compose_ctx *ctx, json_t *svc, struct composed *out, char *err,
		    size_t errlen);
/// Release what compose_service filled; safe on a zeroed or freed struct.
void compose_free(struct composed *c);

/// "<serviceName>_<imageId>_<releaseId>_<commit>" into buf.
void compose_container_name(const struct compose_ctx *ctx, char *buf, size_t len);
/// The reverse (a leading '/' is ignored): 0 and the parts, or -1 if the name
/// is not one of ours. Service names may hold '_': the name is parsed from the
/// right, per /.*_(\d+)_(\d+)(?:_(.*?))?$/; commit may come back "".
int compose_parse_name(const char *name, char *service, size_t slen, int *image_id, int *release_id,
		       char *commit, size_t clen);
/// Add ":latest" to a reference with neither tag nor digest; drop the tag of
/// one with a digest ("repo:tag@sha256:x" -> "repo@sha256:x").
void compose_image_normalise(const char *in, char *out, size_t len);
/// An engine Env list ("KEY=value") as {KEY: value}, without the name the
/// device had when the container was made (balena leaves it out of a
/// service: BALENA_/RESIN_DEVICE_NAME_AT_INIT). New reference.
json_t *compose_env_object(json_t *env);
/// 16 hex digits: FNV-1a 64 of the canonical JSON (compact, sorted keys) of spec.
void compose_hash(json_t *spec, char out[17]);

#endif
