/*
 * log.h - the one logging API of every agentd daemon.
 *
 * agentd logs to stderr (foreground) or syslog. Children always write to
 * stderr, which agentd has connected to a pipe it reads: each child line
 * starts with a one-letter level tag ("D ", "I ", "W ", "E ") so agentd can
 * re-log it under the child's name at the right level.
 */
#ifndef AGENTD_LOG_H
#define AGENTD_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

enum log_dest {
	LOG_TO_STDERR, /* "name: message" lines, for a foreground agentd */
	LOG_TO_SYSLOG, /* daemonised agentd */
	LOG_TO_PARENT, /* a child: tagged lines on stderr for agentd to re-log */
};

/// Set the process name used as prefix, the destination and the verbosity
/// (0 = info and above, 1+ = debug).
void log_init(const char *procname, enum log_dest dest, int verbose);
int log_verbose(void);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/// log_warn appends ": strerror(errno)"; log_warnx does not.
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/// Log at error level (with strerror for fatal) and exit(1).
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/// Log one message at an explicit level under another name (agentd uses it
/// to re-log its children's lines).
void log_as(const char *name, enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/// Parse a child's tagged line ("I text"); returns the level and sets *msg
/// to the text. Untagged lines (e.g. sanitizer reports) are warnings.
enum log_level log_parse_tagged(const char *line, const char **msg);

#endif
