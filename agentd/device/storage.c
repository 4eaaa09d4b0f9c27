/*
 * storage.c - one line when a kind of write starts failing, one when it
 * works again, and the counts between (see storage.h).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "clock.h"
#include "log.h"
#include "storage.h"

static const struct {
	const char *what;   /* in the log: "cannot write <what>" */
	const char *metric; /* the kind="" label in /metrics */
} kinds[STORAGE_COUNT] = {
	[STORAGE_TARGET] = {"the target", "target"},
	[STORAGE_KEYS] = {"the API keys", "api_keys"},
	[STORAGE_SETTINGS] = {"agentd's settings", "settings"},
	[STORAGE_APPS] = {"the apps' records", "apps"},
	[STORAGE_CONFIG_JSON] = {"config.json", "config_json"},
	[STORAGE_REPORT_CACHE] = {"the state report cache", "report_cache"},
	[STORAGE_TARGET_CONFIG] = {"target-state-config", "target_state_config"},
	[STORAGE_BOOT_CONFIG] = {"the record of the boot config agentd wrote", "boot_config"},
};

static struct {
	unsigned long long failures; /* since agentd started */
	unsigned long run;           /* failures since the last write that worked */
	uint64_t since_ms;           /* when the run began */
} state[STORAGE_COUNT];

void storage_failed(enum storage_kind kind, const char *reason)
{
	if (kind >= STORAGE_COUNT)
		return;
	state[kind].failures++;
	if (state[kind].run++ > 0)
		return;
	state[kind].since_ms = now_ms();
	log_error("storage: cannot write %s: %s (logged again only once it works)",
		  kinds[kind].what, reason != NULL ? reason : "unknown error");
}

void storage_ok(enum storage_kind kind)
{
	if (kind >= STORAGE_COUNT || state[kind].run == 0)
		return;
	log_info("storage: %s written again (%lu failed attempt%s over %llu s)", kinds[kind].what,
		 state[kind].run, state[kind].run == 1 ? "" : "s",
		 (unsigned long long)((now_ms() - state[kind].since_ms) / 1000));
	state[kind].run = 0;
}

int storage_failing(enum storage_kind kind)
{
	return kind < STORAGE_COUNT && state[kind].run > 0;
}

/* printf onto buf at *off, never past len (a line that does not fit is cut). */
static void storage_append(char *buf, size_t len, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void storage_append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off + 1 >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n < len - *off ? (size_t)n : len - *off - 1;
}

void storage_metrics(char *buf, size_t len, size_t *off)
{
	int k;

	storage_append(buf, len, off,
		       "# HELP agentd_storage_write_failures_total Writes of agentd's own "
		       "storage that failed (e.g. on a full disk), by kind.\n"
		       "# TYPE agentd_storage_write_failures_total counter\n");
	for (k = 0; k < STORAGE_COUNT; k++)
		storage_append(buf, len, off,
			       "agentd_storage_write_failures_total{kind=\"%s\"} %llu\n",
			       kinds[k].metric, state[k].failures);
	storage_append(buf, len, off,
		       "# HELP agentd_storage_failing Whether the last write of a kind failed.\n"
		       "# TYPE agentd_storage_failing gauge\n");
	for (k = 0; k < STORAGE_COUNT; k++)
		storage_append(buf, len, off, "agentd_storage_failing{kind=\"%s\"} %d\n",
			       kinds[k].metric, state[k].run > 0);
}
