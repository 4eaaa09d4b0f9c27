/*
 * cloudsyncd.h - the cloud-sync daemon: provisioning, target-state polling,
 * state reports and log upload against the balena device API. Unprivileged,
 * sandboxed, and it never touches files: everything comes over its channel.
 */
#ifndef AGENTD_CLOUDSYNCD_H
#define AGENTD_CLOUDSYNCD_H

#include "child.h"

/* sandbox.c */
extern const struct sandbox_policy cloudsyncd_policy;

#endif
