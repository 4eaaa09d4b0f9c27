/*
 * textlines.h - a text file as lines, each kept with its own ending, for the
 * boot-config backends that edit some lines of a file and must give every
 * other line back byte for byte (extlinux.c, uenv.c).
 */
#ifndef AGENTD_TEXTLINES_H
#define AGENTD_TEXTLINES_H

#include <stddef.h>

struct textline {
	const char *p; /* into the text (borrowed) */
	size_t len;    /* without the line end ("\n" or "\r\n") */
	size_t full;   /* with it (== len for a last line without one) */
};

/// The lines of `text` (NULL: none) in *out (malloc'd, to free), their number
/// in *n. -1 when out of memory.
int textlines_split(const char *text, struct textline **out, size_t *n);
/// The line without leading and trailing blanks (spaces, tabs, CR): its start
/// in *start and length in *len.
void textlines_trim(const struct textline *l, const char **start, size_t *len);

#endif
