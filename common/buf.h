/*
 * buf.h - a growable byte buffer, always NUL-terminated, with a size cap:
 * the response bodies of the HTTP clients (enginectl/ehttp.c,
 * common/http.c) are collected in one.
 */
#ifndef AGENTD_COMMON_BUF_H
#define AGENTD_COMMON_BUF_H

#include <stddef.h>

struct buf {
	char *data; /* owned, NULL while empty */
	size_t len, cap;
};

/// Append n bytes; -1 (nothing appended) when the result would pass max
/// bytes or memory runs out.
int buf_append(struct buf *b, const char *data, size_t n, size_t max);
void buf_free(struct buf *b);

#endif
