/*
 * led.h - the device's LED (agentd.json led_file): the pattern the balena
 * supervisor shows while the cloud cannot be reached, four blinks and a
 * pause, again and again (facts §3.7).
 */
#ifndef AGENTD_LED_H
#define AGENTD_LED_H

#include <event2/event.h>

struct led {
	struct event_base *base;
	const char *path; /* borrowed: the LED's brightness file */
	struct event *ev; /* owned: the pattern's next step */
	int step;
	int on; /* the pattern runs */
};

void led_init(struct led *l, struct event_base *base, const char *path);
/// Start (or stop, leaving the LED off) the no-connectivity pattern.
void led_pattern(struct led *l, int on);
void led_free(struct led *l);

#endif
