/*
 * boot.c - boots, the reboot breadcrumb and the boot config files (see
 * boot.h).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot.h"
#include "bootcfg.h"
#include "config.h"
#include "log.h"
#include "storage.h"
#include "sysmsg.h"

static int64_t boot_read_time(void)
{
	char line[256];
	long long t = 0;
	FILE *f = fopen("/proc/stat", "re");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "btime %lld", &t) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return t;
}

static void boot_read_id(char *out, size_t len)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	out[0] = '\0';
	if (f != NULL) {
		if (fgets(out, (int)len, f) != NULL)
			out[strcspn(out, "\n")] = '\0';
		fclose(f);
	}
}

void boot_init(struct boot *b, const char *run_dir, const char *data_dir, const char *boot_dir,
	       const char *device_type)
{
	memset(b, 0, sizeof(*b));
	b->time = boot_read_time();
	boot_read_id(b->id, sizeof(b->id));
	b->run_dir = run_dir;
	b->data_dir = data_dir;
	b->boot_dir = boot_dir;
	b->device_type = device_type;
}

static void breadcrumb_path(const struct boot *b, char *buf, size_t len)
{
	snprintf(buf, len, "%s/reboot-after-apply", b->run_dir);
}

/* The breadcrumb holds the id of the boot that left it (one without an id
 * counts by its time, which a clock set after boot can mislead). */
int boot_breadcrumb_due(const struct boot *b)
{
	char path[4096], *text;
	struct stat st;
	int due;

	breadcrumb_path(b, path, sizeof(path));
	if (stat(path, &st) != 0)
		return 0;
	if ((text = file_read_text(path)) != NULL && text[0] != '\0' && b->id[0] != '\0')
		due = strncmp(text, b->id, strlen(b->id)) == 0;
	else
		due = (int64_t)st.st_mtime >= b->time;
	free(text);
	return due;
}

void boot_breadcrumb_touch(const struct boot *b, const char *why)
{
	char path[4096];
	int fd;

	breadcrumb_path(b, path, sizeof(path));
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1 ||
	    dprintf(fd, "%s\n", b->id) < 0)
		log_warn("cannot write %s", path);
	if (fd != -1)
		close(fd);
	sysmsg("Reboot has been scheduled to apply changes: %s", why);
}

/* Record in `state` (the data dir) the config.txt keys agentd wrote, so that
 * it removes them when their vars go. */
static void boot_config_record(const char *state, json_t *keys)
{
	json_t *ns = json_pack("{s:O}", "config.txt", keys);
	char *nst = ns != NULL ? json_dumps(ns, JSON_COMPACT) : NULL, err[512];

	if (nst == NULL)
		storage_failed(STORAGE_BOOT_CONFIG, "out of memory");
	else if (file_write_atomic(state, nst, strlen(nst), 0600, err, sizeof(err)) == -1)
		storage_failed(STORAGE_BOOT_CONFIG, err);
	else
		storage_ok(STORAGE_BOOT_CONFIG);
	free(nst);
	json_decref(ns);
}

/* config.txt (facts §5.2) */
void boot_config_apply(struct boot *b, json_t *config)
{
	char path[4096], state[4096], err[512], *current, *text;
	json_t *target, *st, *before, *keys;

	if (!bootcfg_applies(b->device_type))
		return;
	target = bootcfg_from_target(config, b->device_type, err, sizeof(err));
	if (target == NULL) {
		if (strcmp(b->config_error, err) != 0)
			sysmsg("Boot config not applied: %s", err);
		snprintf(b->config_error, sizeof(b->config_error), "%s", err);
		return;
	}
	b->config_error[0] = '\0';
	snprintf(path, sizeof(path), "%s/config.txt", b->boot_dir);
	snprintf(state, sizeof(state), "%s/boot-config.json", b->data_dir);
	st = json_load_file(state, 0, NULL);
	before = json_object_get(st, "config.txt");
	if (json_object_size(target) == 0 && json_array_size(before) == 0) {
		json_decref(st);
		json_decref(target);
		return;
	}
	current = file_read_text(path);
	if (current == NULL && access(path, F_OK) == 0) { /* there, but unreadable */
		log_warn("boot config: cannot read %s; left as it is", path);
		json_decref(st);
		json_decref(target);
		return;
	}
	text = bootcfg_render(current, target, before);
	if (text != NULL && (current == NULL || strcmp(text, current) != 0)) {
		char *what = json_dumps(target, JSON_COMPACT);

		sysmsg("Applying boot config: %s", what ? what : "");
		keys = bootcfg_keys(target);
		if (file_write_atomic(path, text, strlen(text), 0644, err, sizeof(err)) == -1) {
			sysmsg("Boot config not applied: %s", err);
		} else {
			boot_config_record(state, keys);
			sysmsg("Applied boot config: %s", what ? what : "");
			boot_breadcrumb_touch(b, what ? what : "boot config");
		}
		json_decref(keys);
		free(what);
	} else if (text != NULL && storage_failing(STORAGE_BOOT_CONFIG)) {
		/* config.txt is written, its record was not (a full data dir) */
		keys = bootcfg_keys(target);
		boot_config_record(state, keys);
		json_decref(keys);
	}
	free(text);
	free(current);
	json_decref(st);
	json_decref(target);
}
