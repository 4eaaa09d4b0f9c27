/*
 * compose.h - composition to container: a pure function from one target
 * service (image, environment, labels, compose fields) and its context to
 * the Docker Engine API body that creates its container, with the balena
 * supervisor's names, labels, env vars, mounts, defaults and conversions
 * (facts §1.4, §2.2, §4.4). No I/O: the caller supplies what it knows about
 * the device and the image.
 */
#ifndef AGENTD_COMPOSE_H
#define AGENTD_COMPOSE_H

#include <stddef.h>

#include <jansson.h>

struct compose_ctx {
	int app_id;
	const char *app_uuid, *app_name;
	const char *service_name;
	int service_id, image_id, release_id;
	const char *commit;
	const char *device_uuid, *device_type, *device_arch, *device_name, *host_os_version;
	const char *run_dir;       /* lock dir = <run_dir>/services/<app_id>/<service_name> */
	const char *engine_socket; /* host path of the engine socket (balena-socket feature) */
	const char *api_key;       /* per-service supervisor API key, or NULL */
	int api_port;
	const char *api_host; /* where a non-host-networked container reaches the API */
	const char *device_api_key, *api_endpoint; /* balena-api feature, may be NULL */
	json_t *image_config;     /* borrowed: the image's inspect "Config", or NULL */
	const char *image_id_ref; /* "Image" of the create body, or NULL for the reference */
	int host_has_lib_modules, host_has_lib_firmware;
};

struct composed {
	json_t *spec;               /* body of POST /containers/create (owned) */
	json_t *depends_on;         /* service names to start first (owned) */
	char *network_mode_service; /* x of network_mode "service:x" (owned) or NULL */
	json_t *networks;           /* full network name -> {"Aliases": [...]} (owned); the first is
				       the one in the spec */
	json_t *volumes;            /* full names of named volumes used (owned) */
	json_t *warnings;           /* human-readable strings (owned) */
	char *strategy;             /* io.balena.update.strategy, normalised (owned) */
	long handover_timeout_ms;
	int running;
};

/// Compose `svc` ({image, environment, labels, running?, composition?}).
/// Returns 0, or -1 with a one-line reason naming the field.
int compose_service(const struct compose_ctx *ctx, json_t *svc, struct composed *out, char *err,
		    size_t errlen);
void compose_free(struct composed *c);

/// "<serviceName>_<imageId>_<releaseId>_<commit>"
void compose_container_name(const struct compose_ctx *ctx, char *buf, size_t len);
/// The reverse, parsed from the right; a leading '/' is ignored. -1 if no match.
int compose_parse_name(const char *name, char *service, size_t slen, int *image_id, int *release_id,
		       char *commit, size_t clen);
/// Add ":latest" when a reference has neither tag nor digest; drop the tag
/// when it has a digest.
void compose_image_normalise(const char *in, char *out, size_t len);
/// 16 hex digits of FNV-1a 64 over the canonical JSON of spec.
void compose_hash(json_t *spec, char out[17]);

#endif
