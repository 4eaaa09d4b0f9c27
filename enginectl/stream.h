/*
 * stream.h - pure parsers for what the engine streams back: newline-
 * delimited JSON (pull progress, events) and container log output, either
 * multiplexed (8-byte frame headers) or raw (TTY). They keep no global
 * state, never read past what they were given, and bound every buffer, so
 * garbage, truncation and huge lengths cannot crash them (see test/fuzz).
 */
#ifndef AGENTD_ENGINECTL_STREAM_H
#define AGENTD_ENGINECTL_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* --- Lines ------------------------------------------------------------- */

#define LINEBUF_MAX (1024 * 1024) /* a longer line is cut here */

struct linebuf {
	char *buf; /* owned */
	size_t len, cap;
};

typedef void (*line_cb)(const char *line, size_t len, void *arg);

/// Append bytes and call `cb` for every complete line (without the '\n' or a
/// trailing '\r'). A line longer than LINEBUF_MAX is delivered in pieces.
void linebuf_feed(struct linebuf *lb, const char *data, size_t len, line_cb cb, void *arg);
/// Deliver what is left as a last line (end of stream).
void linebuf_flush(struct linebuf *lb, line_cb cb, void *arg);
void linebuf_free(struct linebuf *lb);

/* --- Pull progress ------------------------------------------------------ */

#define PULL_MAX_LAYERS 128

struct pull_progress {
	struct {
		char id[72];
		uint64_t current, total;
		int done;
	} layer[PULL_MAX_LAYERS];
	int nlayers;
	char error[512]; /* first error reported inside the stream, or "" */
};

/// Account one JSON line of an image pull stream. Returns the overall
/// percentage (0-100) after it, or -1 if nothing countable changed.
int pull_progress_line(struct pull_progress *p, const char *line, size_t len);
/// The current overall percentage.
int pull_progress_percent(const struct pull_progress *p);

/* --- Container logs ----------------------------------------------------- */

enum log_stream { LOGSTREAM_STDOUT = 1, LOGSTREAM_STDERR = 2 };

#define LOGLINE_MAX 16384 /* longer lines are cut */

typedef void (*logline_cb)(enum log_stream stream, int64_t ts_ns, const char *line, size_t len,
			   void *arg);

struct logdemux {
	int tty; /* raw output: everything is stdout */
	unsigned char hdr[8];
	size_t hdrlen;
	uint32_t remaining; /* payload bytes left in the current frame */
	int stream;         /* of the current frame; 0 = stdin or unknown: dropped */
	struct {
		char buf[LOGLINE_MAX];
		size_t len;
	} part[3]; /* partial line per stream, indexed by enum log_stream */
};

/// Feed log bytes (requested with timestamps=1); calls `cb` per whole line
/// with the timestamp the engine put in front of it (ns; 0 if unparseable).
void logdemux_feed(struct logdemux *d, const unsigned char *data, size_t len, logline_cb cb,
		   void *arg);
/// Emit partial lines left at the end of the stream.
void logdemux_flush(struct logdemux *d, logline_cb cb, void *arg);

/// Parse an RFC 3339 timestamp ("2024-05-01T10:00:00.123456789Z") to ns since
/// the epoch (1970 to 2261); -1 if it is not one. *used gets the bytes consumed.
int64_t rfc3339_to_ns(const char *s, size_t len, size_t *used);
/// The same in ms.
int64_t rfc3339_to_ms(const char *s, size_t len, size_t *used);

#endif
