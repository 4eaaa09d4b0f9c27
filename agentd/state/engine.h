/*
 * engine.h - the one narrow interface through which agentd's rooms ask the
 * container engine for something: an operation of enginectl's table
 * (enginectl/ops.c) with its arguments, answered later through a callback.
 * The state engine holds a port; the top of agentd fills it in (today with
 * a request to enginectl over its channel).
 */
#ifndef AGENTD_ENGINE_H
#define AGENTD_ENGINE_H

#include <jansson.h>

/// The answer to an engine call: status is the engine's HTTP status (0 when
/// it was not reached); err is NULL on success. body is borrowed.
typedef void (*engine_cb)(int status, json_t *body, const char *err, void *arg);

struct engine_port {
	/// Run `op` with `args` (stolen). The callback always runs, later, from
	/// the event loop. -1 only when out of memory (cb does not run).
	int (*call)(void *ctx, const char *op, json_t *args, engine_cb cb, void *arg);
	/// Whether the engine can be asked now (connected, enginectl ready).
	int (*ready)(void *ctx);
	/// Whether the engine applies balena deltas (it is balenaEngine).
	int (*deltas)(void *ctx);
	void *ctx;
};

static inline int engine_call(const struct engine_port *e, const char *op, json_t *args,
			      engine_cb cb, void *arg)
{
	return e->call(e->ctx, op, args, cb, arg);
}

static inline int engine_ready(const struct engine_port *e)
{
	return e->ready(e->ctx);
}

#endif
