/*
 * restart.h - the arithmetic of per-daemon restart policies, kept pure (no
 * clocks, no randomness of its own) so it can be tested as a table.
 *
 * A daemon that exits is restarted after an exponential backoff with
 * jitter (initial, doubling, capped); its attempt count resets once it has
 * stayed up for `stable_ms`; and if it was started `burst_limit` times
 * within `burst_window_ms` it stays down (agentd is then unhealthy).
 */
#ifndef AGENTD_RESTART_H
#define AGENTD_RESTART_H

#include <stdbool.h>
#include <stdint.h>

#define RESTART_MAX_BURST 64 /* upper bound for burst_limit */

enum restart_mode { RESTART_ALWAYS, RESTART_ON_FAILURE, RESTART_NEVER };

struct restart_policy {
	enum restart_mode mode;
	uint32_t backoff_initial_ms; /* first delay (default 100) */
	uint32_t backoff_max_ms;     /* cap (default 30000) */
	uint32_t stable_ms;          /* uptime that resets the backoff (default 60000) */
	uint32_t burst_limit;        /* starts allowed per window (default 10) */
	uint32_t burst_window_ms;    /* (default 120000) */
};

struct restart_state {
	uint32_t attempt;                   /* consecutive quick failures */
	uint64_t starts[RESTART_MAX_BURST]; /* ring of start times, ms */
	uint32_t nstarts;                   /* valid entries in starts[] */
	uint32_t head;                      /* next slot of the ring */
};

enum restart_verdict {
	RESTART_AFTER_DELAY, /* restart after the returned delay */
	RESTART_NOT_WANTED,  /* policy says no (never, or on-failure and exit 0) */
	RESTART_BURST_LIMIT, /* too many starts in the window: stay down */
};

void restart_policy_default(struct restart_policy *p);
const char *restart_mode_name(enum restart_mode m);
int restart_mode_parse(const char *s, enum restart_mode *m);

/// Record that the daemon was started at `now_ms`.
void restart_note_start(struct restart_state *s, const struct restart_policy *p, uint64_t now_ms);

/// Delay before the attempt-th restart: min(initial * 2^attempt, max), then
/// reduced by up to 10% using `rnd` as the jitter source.
uint32_t restart_backoff(const struct restart_policy *p, uint32_t attempt, uint32_t rnd);

/// Decide what happens after an exit at `now_ms` following `uptime_ms` of
/// running; `failed` is false for a clean exit 0. Fills *delay_ms when the
/// verdict is RESTART_AFTER_DELAY.
enum restart_verdict restart_after_exit(struct restart_state *s, const struct restart_policy *p,
					uint64_t now_ms, uint64_t uptime_ms, bool failed,
					uint32_t rnd, uint32_t *delay_ms);

#endif
