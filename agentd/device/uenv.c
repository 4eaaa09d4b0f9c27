/*
 * uenv.c - the extra_uEnv.txt boot-config backend (facts §5.2). The file is
 * U-Boot environment text, one NAME=VALUE per line, imported by the boot
 * script (a later line of a name wins):
 *
 *   HOST_EXTLINUX_fdt=x       ->  custom_fdt_file=x
 *   HOST_EXTLINUX_isolcpus=y  ->  extra_os_cmdline=... isolcpus=y
 *
 * extra_os_cmdline holds more kernel arguments than agentd's: only its
 * isolcpus words are agentd's, the rest stay. Lines agentd does not manage
 * (extra_os_firmware_class_path, comments, ...) are given back byte for byte.
 * Pure text in, text out.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extlinux.h"
#include "jsonx.h"
#include "kcmdline.h"
#include "textlines.h"
#include "uenv.h"

#define FDT_NAME "custom_fdt_file"
#define CMD_NAME "extra_os_cmdline"

static int ends_with(const char *s, const char *end)
{
	size_t n = strlen(s), m = strlen(end);

	return n >= m && strcmp(s + n - m, end) == 0;
}

int uenv_applies(const char *t)
{
	const char *p;

	if (t == NULL)
		return 0;
	if (ends_with(t, "-nano") || ends_with(t, "-nano-emmc") ||
	    ends_with(t, "-nano-2gb-devkit") || ends_with(t, "-tx2") ||
	    strstr(t, "-tx2-nx") != NULL || strstr(t, "-agx-orin-") != NULL ||
	    strstr(t, "-orin-nx-") != NULL || strstr(t, "-orin-nano-") != NULL ||
	    strstr(t, "imx8mm-var-som") != NULL || strcmp(t, "iot-gate-imx8plus") == 0 ||
	    strcmp(t, "iot-gate-imx8plus-d1d8") == 0)
		return 1;
	/* imx8m-var-dart or imx8mm-var-dart, anywhere in the name */
	for (p = t; (p = strstr(p, "imx8m")) != NULL; p++)
		if (strncmp(p + 5, "-var-dart", 9) == 0 || strncmp(p + 5, "m-var-dart", 10) == 0)
			return 1;
	return 0;
}

/* NAME=VALUE: the name's length and the value (start, length); 0 for any
 * other line. */
static int entry(const struct textline *l, size_t *nl, const char **val, size_t *vl)
{
	const char *s = l->p;
	size_t n = l->len, i = 0, lead = 0;

	while (lead < n && (s[lead] == ' ' || s[lead] == '\t'))
		lead++;
	for (i = lead; i < n && (isalnum((unsigned char)s[i]) || s[i] == '_'); i++)
		;
	if (i == lead || i == n || s[i] != '=')
		return 0;
	*nl = i;
	*val = s + i + 1;
	*vl = n - i - 1;
	return 1;
}

static int is_entry(const struct textline *l, const char *name, const char **val, size_t *vl)
{
	size_t nl, lead = strspn(l->p, " \t");

	return entry(l, &nl, val, vl) && nl - lead == strlen(name) &&
	       strncmp(l->p + lead, name, nl - lead) == 0;
}

json_t *uenv_current(const char *text)
{
	json_t *out = json_object();
	struct textline *l;
	const char *v, *p, *val;
	size_t n, i, vl, len;

	if (out == NULL || textlines_split(text, &l, &n) == -1) {
		json_decref(out);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (is_entry(&l[i], FDT_NAME, &v, &vl)) {
			json_object_set_new(out, EXTLINUX_PREFIX "fdt", json_stringn(v, vl));
		} else if (is_entry(&l[i], CMD_NAME, &v, &vl)) {
			json_object_del(out, EXTLINUX_PREFIX "isolcpus");
			for (p = v; kcmdline_next_isolcpus(&p, v + vl, &val, &len);)
				json_object_set_new(out, EXTLINUX_PREFIX "isolcpus",
						    json_stringn(val, len));
		}
	}
	free(l);
	return out;
}

char *uenv_render(const char *text, json_t *target, json_t *managed_before)
{
	const char *fdt = json_string_value(json_object_get(target, "fdt"));
	const char *iso = json_string_value(json_object_get(target, "isolcpus"));
	int fdt_managed = jsonx_has_string(managed_before, "fdt");
	int iso_managed = jsonx_has_string(managed_before, "isolcpus");
	struct textline *l;
	const char *v;
	size_t n, i, vl, nfdt = 0, len = 0;
	long last_fdt = -1, last_cmd = -1;
	int fdt_same = 0, ended = 1;
	char *cmd = NULL, *out = NULL;
	FILE *f;

	if (textlines_split(text, &l, &n) == -1)
		return NULL;
	for (i = 0; i < n; i++) {
		if (is_entry(&l[i], FDT_NAME, &v, &vl)) {
			nfdt++;
			last_fdt = (long)i;
			fdt_same = fdt != NULL && vl == strlen(fdt) && strncmp(v, fdt, vl) == 0;
		} else if (is_entry(&l[i], CMD_NAME, &v, &vl)) {
			last_cmd = (long)i;
		}
	}
	if (last_cmd >= 0) {
		is_entry(&l[last_cmd], CMD_NAME, &v, &vl);
		cmd = kcmdline_set_isolcpus(v, vl, iso, iso_managed);
	}
	if ((f = open_memstream(&out, &len)) == NULL) {
		free(cmd);
		free(l);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		int is_fdt = is_entry(&l[i], FDT_NAME, &v, &vl);

		if (is_fdt &&
		    (fdt != NULL ? (long)i != last_fdt || !(nfdt == 1 && fdt_same) : fdt_managed)) {
			/* agentd's line: written again below, or gone */
			if (fdt != NULL && (long)i == last_fdt)
				fprintf(f, "%s=%s%.*s", FDT_NAME, fdt, (int)(l[i].full - l[i].len),
					l[i].p + l[i].len);
			continue;
		}
		if ((long)i == last_cmd && cmd != NULL) {
			if (cmd[0] != '\0') /* with no word left, the line goes */
				fprintf(f, "%s=%s%.*s", CMD_NAME, cmd, (int)(l[i].full - l[i].len),
					l[i].p + l[i].len);
			continue;
		}
		fwrite(l[i].p, 1, l[i].full, f);
	}
	/* new lines at the end: the file's last line may lack its line end */
	ended = n == 0 || l[n - 1].full > l[n - 1].len;
	if (fdt != NULL && nfdt == 0) {
		fprintf(f, "%s%s=%s\n", ended ? "" : "\n", FDT_NAME, fdt);
		ended = 1;
	}
	if (iso != NULL && last_cmd < 0)
		fprintf(f, "%s%s=isolcpus%s%s\n", ended ? "" : "\n", CMD_NAME, iso[0] ? "=" : "",
			iso);
	free(cmd);
	free(l);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}
