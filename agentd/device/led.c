/*
 * led.c - the no-connectivity LED pattern (see led.h): four blinks of
 * 200 ms on and 200 ms off, then a second off, until it is stopped.
 */
#include <stdio.h>

#include "led.h"

#define BLINKS   4
#define BLINK_MS 200
#define PAUSE_MS 1000

static void led_write(const struct led *l, int on)
{
	FILE *f = fopen(l->path, "we");

	if (f == NULL)
		return; /* no LED: nothing to show */
	fputs(on ? "1" : "0", f);
	fclose(f);
}

/* Steps 0..2*BLINKS-1 alternate on and off; the last one is the pause. */
static void led_step(evutil_socket_t fd, short what, void *arg)
{
	struct led *l = arg;
	int ms = l->step < 2 * BLINKS ? BLINK_MS : PAUSE_MS;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	(void)fd;
	(void)what;
	led_write(l, l->step < 2 * BLINKS && l->step % 2 == 0);
	l->step = (l->step + 1) % (2 * BLINKS + 1);
	evtimer_add(l->ev, &tv);
}

void led_init(struct led *l, struct event_base *base, const char *path)
{
	l->base = base;
	l->path = path;
	l->ev = evtimer_new(base, led_step, l);
	l->step = 0;
	l->on = 0;
}

void led_pattern(struct led *l, int on)
{
	struct timeval now = {0, 0};

	if (l->ev == NULL || l->on == on)
		return;
	l->on = on;
	if (on) {
		l->step = 0;
		evtimer_add(l->ev, &now);
	} else {
		evtimer_del(l->ev);
		led_write(l, 0);
	}
}

void led_free(struct led *l)
{
	if (l->ev != NULL)
		event_free(l->ev);
	l->ev = NULL;
}
