/*
 * kcmdline.c - the isolcpus word of a kernel command line (kcmdline.h):
 * read from and written into the words of extlinux.conf's APPEND line and
 * extra_uEnv.txt's extra_os_cmdline. Pure text in, text out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcmdline.h"

/* The next blank-separated word of [*p, end) (*p moved past it); 0 at the
 * end. */
static int next_word(const char **p, const char *end, const char **w, size_t *wl)
{
	const char *s = *p;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s == end)
		return 0;
	*w = s;
	while (s < end && *s != ' ' && *s != '\t')
		s++;
	*wl = (size_t)(s - *w);
	*p = s;
	return 1;
}

static int is_isolcpus(const char *w, size_t wl)
{
	return wl >= 8 && strncmp(w, "isolcpus", 8) == 0 && (wl == 8 || w[8] == '=');
}

int kcmdline_next_isolcpus(const char **p, const char *end, const char **val, size_t *n)
{
	const char *w;
	size_t wl;

	while (next_word(p, end, &w, &wl))
		if (is_isolcpus(w, wl)) {
			*val = wl > 9 ? w + 9 : "";
			*n = wl > 9 ? wl - 9 : 0;
			return 1;
		}
	return 0;
}

char *kcmdline_set_isolcpus(const char *v, size_t vl, const char *want, int managed)
{
	const char *p, *w;
	size_t wl, count = 0, same = 0, kept = 0, len = 0;
	char *out = NULL;
	FILE *f;

	for (p = v; next_word(&p, v + vl, &w, &wl);) {
		if (!is_isolcpus(w, wl))
			continue;
		count++;
		if (want != NULL &&
		    (want[0] == '\0' ? wl == 8
				     : wl == 9 + strlen(want) && strncmp(w + 9, want, wl - 9) == 0))
			same++;
	}
	if (want != NULL ? count == 1 && same == 1 : !managed || count == 0)
		return NULL;
	if ((f = open_memstream(&out, &len)) == NULL)
		return NULL;
	for (p = v; next_word(&p, v + vl, &w, &wl);)
		if (!is_isolcpus(w, wl))
			fprintf(f, "%s%.*s", kept++ ? " " : "", (int)wl, w);
	if (want != NULL)
		fprintf(f, "%sisolcpus%s%s", kept ? " " : "", want[0] ? "=" : "", want);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}
