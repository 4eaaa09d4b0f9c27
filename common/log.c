/*
 * log.c - logging for agentd and its children (see log.h).
 *
 * Writes are one write(2) per line so that lines from several processes
 * sharing a pipe or a terminal never interleave mid-line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static const char *log_name = "agentd";
static enum log_dest log_dest = LOG_TO_STDERR;
static int log_verbosity;

void log_init(const char *procname, enum log_dest dest, int verbose)
{
	log_name = procname;
	log_dest = dest;
	log_verbosity = verbose;
	if (dest == LOG_TO_SYSLOG)
		openlog(procname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int log_verbose(void)
{
	return log_verbosity;
}

static const char level_tag[] = {'D', 'I', 'W', 'E'};
static const char *const level_word[] = {"debug", "info", "warning", "error"};
static const int level_syslog[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};

static void log_emit(const char *name, enum log_level lvl, const char *text)
{
	char line[8192];
	int n;

	if (lvl == LOG_LVL_DEBUG && log_verbosity < 1)
		return;
	switch (log_dest) {
	case LOG_TO_SYSLOG:
		syslog(level_syslog[lvl], "%s%s%s", name == log_name ? "" : name,
		       name == log_name ? "" : ": ", text);
		return;
	case LOG_TO_PARENT:
		n = snprintf(line, sizeof(line), "%c %s\n", level_tag[lvl], text);
		break;
	case LOG_TO_STDERR:
	default:
		if (lvl == LOG_LVL_INFO)
			n = snprintf(line, sizeof(line), "%s: %s\n", name, text);
		else
			n = snprintf(line, sizeof(line), "%s: %s: %s\n", name, level_word[lvl],
				     text);
		break;
	}
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* A failed log write has nowhere to be reported; ignoring it is deliberate. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

static void log_vemit(enum log_level lvl, int with_errno, const char *fmt, va_list ap)
{
	char text[4096];
	int saved = errno;
	size_t len;

	vsnprintf(text, sizeof(text), fmt, ap);
	if (with_errno) {
		len = strlen(text);
		snprintf(text + len, sizeof(text) - len, ": %s", strerror(saved));
	}
	log_emit(log_name, lvl, text);
	errno = saved;
}

#define LOG_BODY(lvl, with_errno)                                                                  \
	do {                                                                                       \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		log_vemit(lvl, with_errno, fmt, ap);                                               \
		va_end(ap);                                                                        \
	} while (0)

void log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_DEBUG, 0);
}

void log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_INFO, 0);
}

void log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_WARN, 1);
}

void log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_WARN, 0);
}

void log_error(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERROR, 0);
}

void fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERROR, 1);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERROR, 0);
	exit(1);
}

void log_as(const char *name, enum log_level lvl, const char *fmt, ...)
{
	char text[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_emit(name, lvl, text);
}

enum log_level log_parse_tagged(const char *line, const char **msg)
{
	size_t i;

	for (i = 0; i < sizeof(level_tag); i++) {
		if (line[0] == level_tag[i] && line[1] == ' ') {
			*msg = line + 2;
			return (enum log_level)i;
		}
	}
	*msg = line;
	return LOG_LVL_WARN;
}
