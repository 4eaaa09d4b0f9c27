/*
 * contract.h - service contracts (balena "contract.requires"): a release may
 * require a supervisor version, a device type or an architecture. A service
 * whose requirements this device does not meet is skipped when it is marked
 * io.balena.features.optional; otherwise its whole app is rejected.
 */
#ifndef AGENTD_CONTRACT_H
#define AGENTD_CONTRACT_H

#include <stddef.h>

#include <jansson.h>

#define CONTRACT_SUPERVISOR_VERSION "19.0.0" /* the balena API level agentd implements */

struct contract_env {
	const char *supervisor_version;
	const char *device_type;
	const char *arch;
};

/// 1 if `contract` ({requires: [{type, version?, slug?}]}) is met (a missing
/// contract is), 0 if not, with the unmet requirement described in why.
int contract_met(json_t *contract, const struct contract_env *env, char *why, size_t len);

/// Compare "a.b.c" versions: <0, 0, >0.
int contract_version_cmp(const char *a, const char *b);
/// Does `version` satisfy `range` (space-separated comparators: >, >=, <,
/// <=, =, ^, ~, or a bare version)?
int contract_version_in(const char *version, const char *range);

#endif
