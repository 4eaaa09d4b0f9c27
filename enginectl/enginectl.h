/*
 * enginectl.h - the engine-control daemon: the only process that talks to
 * the container engine (Docker Engine API over its unix socket).
 */
#ifndef AGENTD_ENGINECTL_H
#define AGENTD_ENGINECTL_H

#include "child.h"

/* sandbox.c */
extern const struct sandbox_policy enginectl_policy;

#endif
