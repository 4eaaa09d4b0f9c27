/*
 * test_restart.c - restart-policy arithmetic: backoff growth and cap,
 * jitter bounds, reset after a stable period, burst limit, and modes.
 */
#include "testutil.h"

#include "restart.h"

static struct restart_policy policy(void)
{
	struct restart_policy p;

	restart_policy_default(&p);
	return p;
}

static void defaults_match_the_spec(void **state)
{
	struct restart_policy p = policy();

	(void)state;
	assert_int_equal(p.mode, RESTART_ALWAYS);
	assert_int_equal(p.backoff_initial_ms, 100);
	assert_int_equal(p.backoff_max_ms, 30000);
	assert_int_equal(p.stable_ms, 60000);
	assert_int_equal(p.burst_limit, 10);
	assert_int_equal(p.burst_window_ms, 120000);
}

static void backoff_doubles_from_the_initial_delay(void **state)
{
	struct restart_policy p = policy();

	(void)state;
	/* rnd = 0 means no jitter. */
	assert_int_equal(restart_backoff(&p, 0, 0), 100);
	assert_int_equal(restart_backoff(&p, 1, 0), 200);
	assert_int_equal(restart_backoff(&p, 2, 0), 400);
	assert_int_equal(restart_backoff(&p, 8, 0), 25600);
}

static void backoff_is_capped(void **state)
{
	struct restart_policy p = policy();

	(void)state;
	assert_int_equal(restart_backoff(&p, 9, 0), 30000);
	assert_int_equal(restart_backoff(&p, 63, 0), 30000);
	assert_int_equal(restart_backoff(&p, 1000, 12345), 30000 - 12345 % 3001);
}

static void jitter_stays_within_ten_percent_below(void **state)
{
	struct restart_policy p = policy();
	uint32_t r, d;

	(void)state;
	for (r = 0; r < 5000; r += 7) {
		d = restart_backoff(&p, 3, r);
		assert_true(d <= 800 && d >= 720);
	}
}

static void attempts_grow_until_a_stable_run_resets_them(void **state)
{
	struct restart_policy p = policy();
	struct restart_state s;
	uint32_t delay = 0;
	uint64_t t = 1000000;

	(void)state;
	memset(&s, 0, sizeof(s));
	p.burst_limit = 64;
	restart_note_start(&s, &p, t);
	assert_int_equal(restart_after_exit(&s, &p, t + 10, 10, true, 0, &delay),
			 RESTART_AFTER_DELAY);
	assert_int_equal(delay, 100);
	restart_note_start(&s, &p, t + 200);
	assert_int_equal(restart_after_exit(&s, &p, t + 210, 10, true, 0, &delay),
			 RESTART_AFTER_DELAY);
	assert_int_equal(delay, 200);
	/* This run lasted the stable period: back to the initial delay. */
	restart_note_start(&s, &p, t + 500);
	assert_int_equal(restart_after_exit(&s, &p, t + 70500, 70000, true, 0, &delay),
			 RESTART_AFTER_DELAY);
	assert_int_equal(delay, 100);
}

static void burst_limit_keeps_the_daemon_down(void **state)
{
	struct restart_policy p = policy();
	struct restart_state s;
	uint32_t delay, i;
	uint64_t t = 5000;

	(void)state;
	memset(&s, 0, sizeof(s));
	p.burst_limit = 3;
	p.burst_window_ms = 10000;
	for (i = 0; i < 2; i++) {
		restart_note_start(&s, &p, t);
		assert_int_equal(restart_after_exit(&s, &p, t + 1, 1, true, 0, &delay),
				 RESTART_AFTER_DELAY);
		t += 100;
	}
	restart_note_start(&s, &p, t);
	assert_int_equal(restart_after_exit(&s, &p, t + 1, 1, true, 0, &delay),
			 RESTART_BURST_LIMIT);
}

static void starts_outside_the_window_do_not_count(void **state)
{
	struct restart_policy p = policy();
	struct restart_state s;
	uint32_t delay;

	(void)state;
	memset(&s, 0, sizeof(s));
	p.burst_limit = 2;
	p.burst_window_ms = 1000;
	restart_note_start(&s, &p, 1000);
	restart_note_start(&s, &p, 5000);
	/* Only the start at 5000 is within [5000, 6000). */
	assert_int_equal(restart_after_exit(&s, &p, 5500, 500, true, 0, &delay),
			 RESTART_AFTER_DELAY);
	restart_note_start(&s, &p, 5600);
	assert_int_equal(restart_after_exit(&s, &p, 5700, 100, true, 0, &delay),
			 RESTART_BURST_LIMIT);
}

static void modes_decide_whether_to_restart(void **state)
{
	struct restart_policy p = policy();
	struct restart_state s;
	uint32_t delay;

	(void)state;
	memset(&s, 0, sizeof(s));
	p.mode = RESTART_NEVER;
	assert_int_equal(restart_after_exit(&s, &p, 10, 1, true, 0, &delay), RESTART_NOT_WANTED);
	p.mode = RESTART_ON_FAILURE;
	assert_int_equal(restart_after_exit(&s, &p, 10, 1, false, 0, &delay), RESTART_NOT_WANTED);
	assert_int_equal(restart_after_exit(&s, &p, 10, 1, true, 0, &delay), RESTART_AFTER_DELAY);
	p.mode = RESTART_ALWAYS;
	assert_int_equal(restart_after_exit(&s, &p, 10, 1, false, 0, &delay), RESTART_AFTER_DELAY);
}

static void mode_names_round_trip(void **state)
{
	enum restart_mode m;

	(void)state;
	assert_int_equal(restart_mode_parse("on-failure", &m), 0);
	assert_int_equal(m, RESTART_ON_FAILURE);
	assert_string_equal(restart_mode_name(m), "on-failure");
	assert_int_equal(restart_mode_parse("sometimes", &m), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_match_the_spec),
		cmocka_unit_test(backoff_doubles_from_the_initial_delay),
		cmocka_unit_test(backoff_is_capped),
		cmocka_unit_test(jitter_stays_within_ten_percent_below),
		cmocka_unit_test(attempts_grow_until_a_stable_run_resets_them),
		cmocka_unit_test(burst_limit_keeps_the_daemon_down),
		cmocka_unit_test(starts_outside_the_window_do_not_count),
		cmocka_unit_test(modes_decide_whether_to_restart),
		cmocka_unit_test(mode_names_round_trip),
	};

	return cmocka_run_group_tests_name("restart", tests, NULL, NULL);
}
