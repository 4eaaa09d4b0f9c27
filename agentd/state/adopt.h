/*
 * adopt.h - whether a container, network or volume agentd did not make (the
 * Node supervisor did, or an agentd that kept no record of it) already is
 * what the target wants, by the balena supervisor's own comparison: the same
 * fields it compares (Service.isEqualConfig, Network.isEqualConfig,
 * Volume.isEqualConfig), with the same defaults and the same fields left out.
 * Such an object is adopted as it is: not created, removed, stopped, started
 * or renamed for it. Pure: engine JSON in, a verdict out.
 */
#ifndef AGENTD_ADOPT_H
#define AGENTD_ADOPT_H

#include <stddef.h>

#include <jansson.h>

/// Compare a container's engine inspect with the create body compose.c made
/// for its target service. `image_config` is the image's Config (what the
/// engine fills in where the body says nothing), `networks` the composed
/// networks (full name -> {Aliases}), `service_container` the id of the
/// container of the service a `network_mode: service:x` names (or NULL).
/// Returns NULL when equal, else the name of the first field that differs
/// (balena's name, e.g. "environment"; valid until the next call) with what
/// each side has in `why`.
const char *adopt_container(json_t *inspect, json_t *spec, json_t *image_config, json_t *networks,
			    const char *service_container, char *why, size_t len);
/// The same for a network (engine list entry vs named.c's create body).
const char *adopt_network(json_t *current, json_t *spec, char *why, size_t len);
/// The same for a volume (engine list entry vs named.c's create body).
const char *adopt_volume(json_t *current, json_t *spec, char *why, size_t len);

#endif
