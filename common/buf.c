/*
 * buf.c - the growable byte buffer of buf.h.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int buf_append(struct buf *b, const char *data, size_t n, size_t max)
{
	if (b->len + n > max)
		return -1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *nb;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((nb = realloc(b->data, cap)) == NULL)
			return -1;
		b->data = nb;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
