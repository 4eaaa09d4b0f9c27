/*
 * clock.h - the two clocks agentd's code reads: a monotonic one for delays
 * and deadlines, and the wall clock for timestamps that leave the device.
 */
#ifndef AGENTD_COMMON_CLOCK_H
#define AGENTD_COMMON_CLOCK_H

#include <stdint.h>

/// Milliseconds since an arbitrary point (CLOCK_MONOTONIC): for intervals.
uint64_t now_ms(void);
/// Milliseconds since the epoch: for timestamps in logs and reports.
int64_t wall_ms(void);

#endif
