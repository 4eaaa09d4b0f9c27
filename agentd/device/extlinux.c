/*
 * extlinux.c - the extlinux.conf boot-config backend (facts §5.2): on Jetson
 * boards with a balenaOS older than 2.47.0, HOST_EXTLINUX_isolcpus is a word
 * of the default entry's APPEND line (the kernel command line) and
 * HOST_EXTLINUX_fdt its FDT line (the device tree blob). Pure text in, text
 * out.
 *
 * The file: global directives (DEFAULT names the entry that boots), then
 * entries, each from a LABEL line to the next. Only the default entry's
 * APPEND and FDT lines are edited, and in APPEND only the isolcpus words;
 * every other line, comments and blank lines included, is given back byte
 * for byte, so an unchanged target renders the very same file.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "extlinux.h"
#include "jsonx.h"
#include "kcmdline.h"
#include "textlines.h"

#define READONLY_FROM "2.47.0" /* extlinux.conf moved to a read-only partition */

/* --- Versions ------------------------------------------------------------- */

/* One numeric semver field: digits, no leading zero. -1 when not one. */
static long version_field(const char **p)
{
	const char *s = *p;
	long n = 0;

	if (!isdigit((unsigned char)*s) || (s[0] == '0' && isdigit((unsigned char)s[1])))
		return -1;
	while (isdigit((unsigned char)*s) && n < 100000000)
		n = n * 10 + (*s++ - '0');
	*p = s;
	return n;
}

/* major.minor.patch[-prerelease][+build] */
static int version_parse(const char *v, long num[3], const char **pre)
{
	const char *p = v;
	int i;

	for (i = 0; i < 3; i++) {
		if ((num[i] = version_field(&p)) < 0)
			return -1;
		if (i < 2 && *p++ != '.')
			return -1;
	}
	*pre = NULL;
	if (*p == '-') {
		*pre = ++p;
		if (*p == '\0' || *p == '+')
			return -1;
		p += strcspn(p, "+");
	}
	if (*p == '+')
		p += strlen(p);
	return *p == '\0' ? 0 : -1;
}

int extlinux_version_older(const char *a, const char *b)
{
	long na[3], nb[3];
	const char *pa, *pb;
	int i;

	if (a == NULL || version_parse(a, na, &pa) == -1 || version_parse(b, nb, &pb) == -1)
		return -1;
	for (i = 0; i < 3; i++)
		if (na[i] != nb[i])
			return na[i] < nb[i];
	/* a pre-release comes before its release; two pre-releases by text */
	if (pa == NULL || pb == NULL)
		return pa != NULL && pb == NULL;
	return strncmp(pa, pb, strcspn(pa, "+")) < 0;
}

int extlinux_applies(const char *device_type, const char *os_meta_version)
{
	return device_type != NULL && strncmp(device_type, "jetson-", 7) == 0 &&
	       extlinux_version_older(os_meta_version, READONLY_FROM) == 1;
}

/* --- The variables ---------------------------------------------------------- */

static int has_blank_or_control(const char *s)
{
	for (; *s != '\0'; s++)
		if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
			return 1;
	return 0;
}

json_t *extlinux_from_target(json_t *config, char *err, size_t errlen)
{
	json_t *out = json_object(), *v;
	const char *k;

	json_object_foreach(config, k, v) {
		const char *key = k + strlen(EXTLINUX_PREFIX), *s = json_string_value(v);

		if (strncmp(k, EXTLINUX_PREFIX, strlen(EXTLINUX_PREFIX)) != 0 || s == NULL)
			continue;
		if (strcmp(key, "isolcpus") == 0) {
			if (has_blank_or_control(s) || strchr(s, '=') != NULL) {
				snprintf(err, errlen,
					 "%sisolcpus: \"%.100s\" is not a CPU list (no blanks, no "
					 "\"=\")",
					 EXTLINUX_PREFIX, s);
				goto bad;
			}
			json_object_set(out, key, v);
		} else if (strcmp(key, "fdt") == 0) {
			if (has_blank_or_control(s)) {
				snprintf(err, errlen,
					 "%sfdt: \"%.100s\" is not a device tree file (no blanks)",
					 EXTLINUX_PREFIX, s);
				goto bad;
			}
			if (s[0] != '\0') /* an empty fdt leaves the FDT line alone */
				json_object_set(out, key, v);
		} else {
			snprintf(err, errlen, "Attempt to change blacklisted config value %.100s",
				 key);
			goto bad;
		}
	}
	return out;
bad:
	json_decref(out);
	return NULL;
}

/* --- The file ----------------------------------------------------------------- */

struct ext {
	struct textline *l;
	size_t n;
	size_t label, end;      /* the default entry: its LABEL line, the line after it */
	long append, fdt, last; /* its last APPEND, FDT and directive lines (-1: none) */
};

/* A directive line: its word (start, length) and value (start, length,
 * blanks trimmed). 0 for blank lines and comments. */
static int directive(const struct textline *l, const char **w, size_t *wl, const char **val,
		     size_t *vl)
{
	const char *s;
	size_t n, i = 0;

	textlines_trim(l, &s, &n);
	if (n == 0 || s[0] == '#')
		return 0;
	while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_'))
		i++;
	if (i == 0)
		return 0;
	*w = s;
	*wl = i;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	*val = s + i;
	*vl = n - i;
	return 1;
}

static int is_word(const char *w, size_t wl, const char *name)
{
	return wl == strlen(name) && strncasecmp(w, name, wl) == 0;
}

static int ext_parse(struct ext *e, const char *text, char *err, size_t errlen)
{
	char def[256] = "";
	const char *w, *v;
	size_t wl, vl, i;
	int in_label = 0, found = 0;

	memset(e, 0, sizeof(*e));
	if (textlines_split(text, &e->l, &e->n) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* DEFAULT among the global directives; the last entry of that name */
	for (i = 0; i < e->n; i++) {
		if (!directive(&e->l[i], &w, &wl, &v, &vl))
			continue;
		if (is_word(w, wl, "LABEL")) {
			in_label = 1;
			if (def[0] != '\0' && vl == strlen(def) && strncmp(v, def, vl) == 0) {
				found = 1;
				e->label = i;
			}
		} else if (!in_label && is_word(w, wl, "DEFAULT")) {
			snprintf(def, sizeof(def), "%.*s", (int)(vl < 255 ? vl : 255), v);
		}
	}
	if (def[0] == '\0') {
		snprintf(err, errlen, "Could not find default entry for extlinux.conf file");
		goto bad;
	}
	if (!found) {
		snprintf(err, errlen, "Cannot find label entry (label: %s) for extlinux.conf file",
			 def);
		goto bad;
	}
	/* the entry: up to the next LABEL */
	e->append = e->fdt = -1;
	e->last = (long)e->label;
	for (i = e->label + 1; i < e->n; i++) {
		if (!directive(&e->l[i], &w, &wl, &v, &vl))
			continue;
		if (is_word(w, wl, "LABEL"))
			break;
		e->last = (long)i;
		if (is_word(w, wl, "APPEND"))
			e->append = (long)i;
		else if (is_word(w, wl, "FDT"))
			e->fdt = (long)i;
	}
	e->end = i;
	if (e->append < 0) {
		snprintf(err, errlen,
			 "Could not find APPEND directive in default extlinux.conf boot entry");
		goto bad;
	}
	return 0;
bad:
	free(e->l);
	e->l = NULL;
	return -1;
}

json_t *extlinux_current(const char *text, char *err, size_t errlen)
{
	struct ext e;
	const char *w, *v, *p, *val;
	size_t wl, vl, n;
	json_t *out;

	if (ext_parse(&e, text, err, errlen) == -1)
		return NULL;
	out = json_object();
	directive(&e.l[e.append], &w, &wl, &v, &vl);
	for (p = v; kcmdline_next_isolcpus(&p, v + vl, &val, &n);) {
		if (memchr(val, '=', n) != NULL) {
			snprintf(err, errlen, "Unable to parse invalid value: isolcpus=%.*s",
				 (int)(n < 191 ? n : 191), val);
			json_decref(out);
			free(e.l);
			return NULL;
		}
		json_object_set_new(out, EXTLINUX_PREFIX "isolcpus", json_stringn(val, n));
	}
	if (e.fdt >= 0 && directive(&e.l[e.fdt], &w, &wl, &v, &vl) && vl > 0)
		json_object_set_new(out, EXTLINUX_PREFIX "fdt", json_stringn(v, vl));
	free(e.l);
	return out;
}

/* The line `i` again with a new value: its indentation and directive word as
 * they were, then the value, then its own line end. */
static void put_directive(FILE *f, const struct textline *l, const char *value)
{
	const char *w, *v;
	size_t wl, vl;

	directive(l, &w, &wl, &v, &vl);
	fprintf(f, "%.*s%s%s%.*s", (int)(w + wl - l->p), l->p, value[0] ? " " : "", value,
		(int)(l->full - l->len), l->p + l->len);
}

char *extlinux_render(const char *text, json_t *target, json_t *managed_before, char *err,
		      size_t errlen)
{
	const char *fdt = json_string_value(json_object_get(target, "fdt"));
	const char *w, *v;
	size_t wl, vl, i, nfdt = 0, outlen = 0;
	int fdt_same = 0, fdt_managed = jsonx_has_string(managed_before, "fdt");
	char *append, *out = NULL;
	struct ext e;
	FILE *f;

	if (ext_parse(&e, text, err, errlen) == -1)
		return NULL;
	directive(&e.l[e.append], &w, &wl, &v, &vl);
	append =
		kcmdline_set_isolcpus(v, vl, json_string_value(json_object_get(target, "isolcpus")),
				      jsonx_has_string(managed_before, "isolcpus"));
	for (i = e.label; i < e.end; i++)
		if (directive(&e.l[i], &w, &wl, &v, &vl) && is_word(w, wl, "FDT")) {
			nfdt++;
			fdt_same = fdt != NULL && vl == strlen(fdt) && strncmp(v, fdt, vl) == 0;
		}
	if ((f = open_memstream(&out, &outlen)) == NULL) {
		free(append);
		free(e.l);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (i = 0; i < e.n; i++) {
		const struct textline *l = &e.l[i];
		int is_fdt = i >= e.label && i < e.end && directive(l, &w, &wl, &v, &vl) &&
			     is_word(w, wl, "FDT");

		if ((long)i == e.append && append != NULL)
			put_directive(f, l, append);
		else if (is_fdt && fdt != NULL && (long)i == e.fdt && !(nfdt == 1 && fdt_same))
			put_directive(f, l, fdt);
		else if (is_fdt && (fdt != NULL ? (long)i != e.fdt : fdt_managed))
			; /* an FDT line the target replaced or took away */
		else
			fwrite(l->p, 1, l->full, f);
		/* a new FDT line ends the default entry, indented as its APPEND */
		if ((long)i == e.last && fdt != NULL && nfdt == 0) {
			const struct textline *a = &e.l[e.append];

			directive(a, &w, &wl, &v, &vl);
			fprintf(f, "%s%.*sFDT %s\n", l->full == l->len ? "\n" : "", (int)(w - a->p),
				a->p, fdt);
		}
	}
	free(append);
	free(e.l);
	if (fclose(f) != 0) {
		free(out);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return out;
}
