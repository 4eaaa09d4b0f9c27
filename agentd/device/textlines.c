/*
 * textlines.c - a text file as lines (see textlines.h).
 */
#include <stdlib.h>
#include <string.h>

#include "textlines.h"

int textlines_split(const char *text, struct textline **out, size_t *n)
{
	size_t cap = 16, count = 0;
	struct textline *l = malloc(cap * sizeof(*l));
	const char *p = text ? text : "";

	if (l == NULL)
		return -1;
	while (*p != '\0') {
		const char *eol = strchr(p, '\n');
		size_t full = eol ? (size_t)(eol - p) + 1 : strlen(p);
		size_t len = eol ? full - 1 : full;

		if (eol != NULL && len > 0 && p[len - 1] == '\r')
			len--; /* "\r\n"; a lone "\r" at the end is no line end */
		if (count == cap) {
			struct textline *m = realloc(l, 2 * cap * sizeof(*l));

			if (m == NULL) {
				free(l);
				return -1;
			}
			l = m;
			cap *= 2;
		}
		l[count++] = (struct textline){p, len, full};
		p += full;
	}
	*out = l;
	*n = count;
	return 0;
}

void textlines_trim(const struct textline *l, const char **start, size_t *len)
{
	const char *s = l->p;
	size_t n = l->len;

	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	*start = s;
	*len = n;
}
