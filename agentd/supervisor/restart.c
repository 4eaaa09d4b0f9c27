/*
 * restart.c - restart-policy arithmetic (see restart.h).
 */
#include <string.h>

#include "restart.h"

void restart_policy_default(struct restart_policy *p)
{
	p->mode = RESTART_ALWAYS;
	p->backoff_initial_ms = 100;
	p->backoff_max_ms = 30000;
	p->stable_ms = 60000;
	p->burst_limit = 10;
	p->burst_window_ms = 120000;
}

static const char *const mode_names[] = {"always", "on-failure", "never"};

const char *restart_mode_name(enum restart_mode m)
{
	return mode_names[m];
}

int restart_mode_parse(const char *s, enum restart_mode *m)
{
	unsigned i;

	for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (strcmp(s, mode_names[i]) == 0) {
			*m = (enum restart_mode)i;
			return 0;
		}
	}
	return -1;
}

void restart_note_start(struct restart_state *s, const struct restart_policy *p, uint64_t now_ms)
{
	(void)p;
	s->starts[s->head] = now_ms;
	s->head = (s->head + 1) % RESTART_MAX_BURST;
	if (s->nstarts < RESTART_MAX_BURST)
		s->nstarts++;
}

uint32_t restart_backoff(const struct restart_policy *p, uint32_t attempt, uint32_t rnd)
{
	uint64_t d = p->backoff_initial_ms;
	uint32_t i;

	for (i = 0; i < attempt && d < p->backoff_max_ms; i++)
		d *= 2;
	if (d > p->backoff_max_ms)
		d = p->backoff_max_ms;
	/* Jitter downwards only, so the cap holds: [0.9 d, d]. */
	return (uint32_t)(d - rnd % (d / 10 + 1));
}

/* Starts within the window ending at now. */
static uint32_t restart_recent_starts(const struct restart_state *s, const struct restart_policy *p,
				      uint64_t now_ms)
{
	uint32_t i, n = 0;

	for (i = 0; i < s->nstarts; i++) {
		uint64_t t = s->starts[i];

		if (t <= now_ms && now_ms - t < p->burst_window_ms)
			n++;
	}
	return n;
}

enum restart_verdict restart_after_exit(struct restart_state *s, const struct restart_policy *p,
					uint64_t now_ms, uint64_t uptime_ms, bool failed,
					uint32_t rnd, uint32_t *delay_ms)
{
	if (p->mode == RESTART_NEVER || (p->mode == RESTART_ON_FAILURE && !failed))
		return RESTART_NOT_WANTED;
	if (uptime_ms >= p->stable_ms)
		s->attempt = 0;
	if (restart_recent_starts(s, p, now_ms) >= p->burst_limit)
		return RESTART_BURST_LIMIT;
	*delay_ms = restart_backoff(p, s->attempt, rnd);
	if (s->attempt < 63)
		s->attempt++;
	return RESTART_AFTER_DELAY;
}
