/*
 * boot.c - boots, the reboot breadcrumb and the boot configuration backends'
 * files (see boot.h). Each backend: is it this device's, what does the
 * target ask (refused whole when a variable is bad), what is there now, and
 * if that differs, one safe write (temp file, fsync, rename) and one line in
 * the device log before and after, as the balena supervisor logs them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot.h"
#include "bootcfg.h"
#include "configfs.h"
#include "extlinux.h"
#include "jsonx.h"
#include "log.h"
#include "odmdata.h"
#include "powerfan.h"
#include "splash.h"
#include "storage.h"
#include "sysmsg.h"
#include "uenv.h"

#define SPLASH_MAX (16u * 1024 * 1024) /* the largest splash image read */
#define AML_MAX    (1024u * 1024)      /* the largest ACPI table loaded */

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

void boot_init(struct boot *b, const struct boot_env *env)
{
	memset(b, 0, sizeof(*b));
	b->time = boot_read_time();
	boot_read_id(b->id, sizeof(b->id));
	b->env = *env;
	if (b->env.os_meta_version == NULL)
		b->env.os_meta_version = "";
	if (b->env.host_root == NULL)
		b->env.host_root = "";
}

static void breadcrumb_path(const struct boot *b, char *buf, size_t len)
{
	snprintf(buf, len, "%s/reboot-after-apply", b->env.run_dir);
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

/* --- Shared by the backends ----------------------------------------------------- */

/* One round of boot_config_apply(): what agentd wrote before (and writes
 * now), and the changes that need a reboot. */
struct round {
	struct boot *b;
	json_t *config;    /* the target's vars (borrowed) */
	json_t *state;     /* <data_dir>/boot-config.json: {backend: [keys agentd wrote]} */
	json_t *rebooting; /* what changed that the device applies at boot */
};

static const char *const state_names[BB_COUNT] = {
	"config.txt", "extlinux.conf", "extra_uEnv.txt", "configfs.json",
	"odmdata",    "splash",        "config.json",
};

static void state_path(const struct boot *b, char *buf, size_t len)
{
	snprintf(buf, len, "%s/boot-config.json", b->env.data_dir);
}

/* Record the keys the backend's file now holds from agentd (a failure, a
 * full data dir, is counted under STORAGE_BOOT_CONFIG and the record made
 * again at the next round: see record_again()). */
static void state_record(struct round *r, enum boot_backend id, json_t *keys)
{
	char path[4096], err[512], *text;

	json_object_set(r->state, state_names[id], keys);
	state_path(r->b, path, sizeof(path));
	text = json_dumps(r->state, JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL)
		storage_failed(STORAGE_BOOT_CONFIG, "out of memory");
	else if (file_write_atomic(path, text, strlen(text), 0600, err, sizeof(err)) == -1)
		storage_failed(STORAGE_BOOT_CONFIG, err);
	else
		storage_ok(STORAGE_BOOT_CONFIG);
	free(text);
}

/* The backend's file says what the target asks already. If the record of
 * an earlier write was lost (the data dir was full), it is made now: else
 * a var taken away later would leave agentd's line behind. */
static void record_again(struct round *r, enum boot_backend id, json_t *keys)
{
	if (storage_failing(STORAGE_BOOT_CONFIG) &&
	    !json_equal(json_object_get(r->state, state_names[id]), keys))
		state_record(r, id, keys);
}

/* A backend refuses: said once while the reason stays the same. */
static void refuse(struct boot *b, enum boot_backend id, const char *why)
{
	size_t n = strlen(why);

	if (n >= sizeof(b->error[id]))
		n = sizeof(b->error[id]) - 1;
	if (strlen(b->error[id]) != n || strncmp(b->error[id], why, n) != 0)
		sysmsg("Boot config not applied: %s", why);
	memcpy(b->error[id], why, n);
	b->error[id][n] = '\0';
}

static void accepted(struct boot *b, enum boot_backend id)
{
	b->error[id][0] = '\0';
}

/* A written change the device applies at boot: the target's values, and
 * null for each key agentd wrote before that the target took away. */
static void note_reboot(struct round *r, json_t *target, json_t *before)
{
	json_t *v;
	size_t i;

	json_object_update(r->rebooting, target);
	json_array_foreach(before, i, v)
		if (json_is_string(v) && json_object_get(target, json_string_value(v)) == NULL)
			json_object_set_new(r->rebooting, json_string_value(v), json_null());
}

static void boot_path(const struct boot *b, char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s/%s", b->env.boot_dir, rel);
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* "Applying boot config: {...}", the write, "Applied boot config: {...}"
 * (or the refusal). 0 when written. */
static int write_logged(struct boot *b, enum boot_backend id, const char *path, const void *data,
			size_t len, const char *what)
{
	char err[512];

	sysmsg("Applying boot config: %s", what);
	if (file_write_atomic(path, data, len, 0644, err, sizeof(err)) == -1) {
		refuse(b, id, err);
		return -1;
	}
	accepted(b, id);
	sysmsg("Applied boot config: %s", what);
	return 0;
}

/* --- The text backends: config.txt, extlinux.conf, extra_uEnv.txt, configfs.json --- */

struct text_backend {
	enum boot_backend id;
	const char *rel; /* under the boot dir */
	int create;      /* a missing file is made (else refused: the image's is gone) */
	json_t *(*from_target)(json_t *config, const char *type, char *err, size_t errlen);
	json_t *(*keys)(json_t *target);
	char *(*render)(const char *text, json_t *target, json_t *before, char *err, size_t errlen);
};

static json_t *ext_from_target(json_t *config, const char *type, char *err, size_t errlen)
{
	(void)type;
	return extlinux_from_target(config, err, errlen);
}

static json_t *cfs_from_target(json_t *config, const char *type, char *err, size_t errlen)
{
	(void)type;
	return configfs_from_target(config, err, errlen);
}

static char *txt_render(const char *text, json_t *target, json_t *before, char *err, size_t errlen)
{
	char *out = bootcfg_render(text, target, before);

	if (out == NULL)
		snprintf(err, errlen, "out of memory");
	return out;
}

static char *uenv_render_err(const char *text, json_t *target, json_t *before, char *err,
			     size_t errlen)
{
	char *out = uenv_render(text, target, before);

	if (out == NULL)
		snprintf(err, errlen, "out of memory");
	return out;
}

static const struct text_backend text_backends[] = {
	{BB_CONFIG_TXT, "config.txt", 1, bootcfg_from_target, bootcfg_keys, txt_render},
	{BB_EXTLINUX, "extlinux/extlinux.conf", 0, ext_from_target, jsonx_keys, extlinux_render},
	{BB_UENV, "extra_uEnv.txt", 0, ext_from_target, jsonx_keys, uenv_render_err},
	{BB_CONFIGFS, "configfs.json", 1, cfs_from_target, jsonx_keys, configfs_render},
};

static void text_apply(struct round *r, const struct text_backend *tb)
{
	struct boot *b = r->b;
	char path[4096], err[512], *current, *text, *what;
	json_t *target, *before = json_object_get(r->state, state_names[tb->id]);

	if ((target = tb->from_target(r->config, b->env.device_type, err, sizeof(err))) == NULL) {
		refuse(b, tb->id, err);
		return;
	}
	if (json_object_size(target) == 0 && json_array_size(before) == 0) {
		accepted(b, tb->id); /* nothing asked, nothing of agentd's to undo */
		json_decref(target);
		return;
	}
	boot_path(b, path, sizeof(path), tb->rel);
	current = file_read_text(path);
	if (current == NULL && (exists(path) || !tb->create)) {
		snprintf(err, sizeof(err), "cannot read %.400s: %s; left as it is", path,
			 exists(path) ? "unreadable" : "it is missing");
		refuse(b, tb->id, err);
		json_decref(target);
		return;
	}
	text = tb->render(current, target, before, err, sizeof(err));
	if (text == NULL) {
		char why[1024];

		snprintf(why, sizeof(why), "%s (%.400s)", err, path);
		refuse(b, tb->id, why);
	} else if (current != NULL && strcmp(text, current) == 0) {
		json_t *keys = tb->keys(target);

		accepted(b, tb->id); /* the file says it already */
		record_again(r, tb->id, keys);
		json_decref(keys);
	} else if ((what = json_dumps(target, JSON_COMPACT)) != NULL) {
		if (write_logged(b, tb->id, path, text, strlen(text), what) == 0) {
			json_t *keys = tb->keys(target);

			note_reboot(r, target, before);
			state_record(r, tb->id, keys);
			json_decref(keys);
		}
		free(what);
	}
	free(text);
	free(current);
	json_decref(target);
}

/* --- ConfigFS: the ACPI tables, loaded once per start (facts §5.2) ------------------
 * at start-up, before agentd confines itself: the modprobe loads a kernel
 * module (CAP_SYS_MODULE, finit_module) and chroots (CAP_SYS_CHROOT), which
 * agentd keeps neither of afterwards, and its filter forbids. */

/* modprobe acpi_configfs, in the host's root when agentd has one (its
 * modules and its modprobe are there), waited for (it is quick; an alarm
 * ends it after 5 s). */
static int configfs_modprobe(struct boot *b)
{
	char *const *argv = b->env.configfs_modprobe;
	int status;
	pid_t pid;

	if (argv == NULL || argv[0] == NULL)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		if (b->env.host_root[0] != '\0' &&
		    (chroot(b->env.host_root) == -1 || chdir("/") == -1))
			_exit(126);
		alarm(5);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void read_attr(const char *dir, const char *name, char *out, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	out[0] = '\0';
	if ((f = fopen(path, "re")) != NULL) {
		if (fgets(out, (int)len, f) == NULL)
			out[0] = '\0';
		fclose(f);
	}
	out[strcspn(out, "\r\n")] = '\0';
}

/* One table: <acpi tables>/<name>.aml into <configfs>/acpi/table/<name>/aml. */
static void configfs_load_table(struct boot *b, const char *tables, const char *name)
{
	char src[4200], dst[4200], aml[4300], id[64], table[64], rev[64], err[512];
	unsigned char *data, *loaded;
	size_t len, llen;

	snprintf(src, sizeof(src), "%s/%s.aml", b->env.acpi_tables_dir, name);
	snprintf(dst, sizeof(dst), "%s/%s", tables, name);
	snprintf(aml, sizeof(aml), "%s/aml", dst);
	if ((data = file_read_bytes(src, AML_MAX, &len)) == NULL) {
		sysmsg("Missing AML for '%s'. Unable to load.", name);
		return;
	}
	if ((loaded = file_read_bytes(aml, AML_MAX, &llen)) != NULL && llen > 0) {
		log_info("AML %s is loaded already", name);
	} else if (mkdir(dst, 0755) == -1 && errno != EEXIST) {
		log_warn("Issue while loading AML %s: cannot make %s", name, dst);
	} else {
		int fd = open(aml, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		ssize_t w = fd == -1 ? -1 : write(fd, data, len);

		if (fd == -1 || w != (ssize_t)len || close(fd) == -1) {
			snprintf(err, sizeof(err), "%s", strerror(errno));
			if (fd != -1 && w != (ssize_t)len)
				close(fd);
			log_warnx("Issue while loading AML %s: %s: %s", name, aml, err);
		} else {
			log_info("Loading AML %s", name);
			read_attr(dst, "oem_id", id, sizeof(id));
			read_attr(dst, "oem_table_id", table, sizeof(table));
			read_attr(dst, "oem_revision", rev, sizeof(rev));
			if (id[0] != '\0')
				log_info("AML: %s %s (Rev %s)", id, table, rev);
		}
	}
	free(loaded);
	free(data);
}

void boot_start(struct boot *b)
{
	char tables[4096], path[4096], *text;
	json_t *names, *e;
	size_t i;

	if (!configfs_applies(b->env.device_type))
		return;
	snprintf(tables, sizeof(tables), "%s/acpi/table", b->env.configfs_dir);
	if (!is_dir(tables) && (configfs_modprobe(b) == -1 || !is_dir(tables))) {
		sysmsg("Unable to initialise ConfigFS: %s is missing (acpi_configfs not loaded)",
		       tables);
		return;
	}
	boot_path(b, path, sizeof(path), "configfs.json");
	text = file_read_text(path);
	names = configfs_tables(text);
	if (json_array_size(names) > 0)
		log_info("Loading configured SSDTs");
	json_array_foreach(names, i, e) {
		if (configfs_table_name_ok(json_string_value(e)))
			configfs_load_table(b, tables, json_string_value(e));
		else
			log_warnx("configfs.json: \"%s\" is not an ACPI table name: not loaded",
				  json_string_value(e));
	}
	json_decref(names);
	free(text);
}

/* --- ODM data: three bytes of a block device (facts §5.2) --------------------------- */

static int odm_read(const char *dev, unsigned char bytes[ODMDATA_COPIES], char *err, size_t errlen)
{
	int fd = open(dev, O_RDONLY | O_CLOEXEC), i;

	if (fd == -1) {
		snprintf(err, errlen, "cannot read %s: %s", dev, strerror(errno));
		return -1;
	}
	for (i = 0; i < ODMDATA_COPIES; i++)
		if (pread(fd, &bytes[i], 1, odmdata_offsets[i]) != 1) {
			snprintf(err, errlen, "cannot read %s at %ld", dev, odmdata_offsets[i]);
			close(fd);
			return -1;
		}
	close(fd);
	return 0;
}

/* The partition's lock: "0" lets it be written, "1" makes it read-only. */
static int odm_lock(const char *force_ro, const char *value)
{
	int fd = open(force_ro, O_WRONLY | O_CLOEXEC), ok;

	if (fd == -1)
		return -1;
	ok = write(fd, value, 1) == 1;
	return close(fd) == 0 && ok ? 0 : -1;
}

static int odm_write(const char *dev, const unsigned char bytes[ODMDATA_COPIES], char *err,
		     size_t errlen)
{
	int fd = open(dev, O_RDWR | O_CLOEXEC), i, rc = 0;

	if (fd == -1) {
		snprintf(err, errlen, "cannot open %s for writing: %s", dev, strerror(errno));
		return -1;
	}
	for (i = 0; i < ODMDATA_COPIES && rc == 0; i++)
		if (pwrite(fd, &bytes[i], 1, odmdata_offsets[i]) != 1)
			rc = -1;
	if (rc == 0 && fsync(fd) == -1)
		rc = -1;
	if (rc == -1)
		snprintf(err, errlen, "cannot write %s: %s", dev, strerror(errno));
	close(fd);
	return rc;
}

static void odm_apply(struct round *r)
{
	struct boot *b = r->b;
	const char *dev = b->env.odmdata_device, *lock = b->env.odmdata_force_ro;
	unsigned char was[ODMDATA_COPIES], want[ODMDATA_COPIES], now[ODMDATA_COPIES];
	char err[512], why[600], what[64];
	int mode = odmdata_from_target(r->config, err, sizeof(err)), have, i;

	if (mode == -1) {
		refuse(b, BB_ODMDATA, err);
		return;
	}
	if (mode == 0) { /* no configuration asked: the device's stays */
		accepted(b, BB_ODMDATA);
		return;
	}
	if (odm_read(dev, was, err, sizeof(err)) == -1 ||
	    (have = odmdata_mode(was, err, sizeof(err))) == -1) {
		snprintf(why, sizeof(why), "%s%s", err,
			 err[0] && err[strlen(err) - 1] == '.' ? " Left as it is."
							       : "; left as it is");
		refuse(b, BB_ODMDATA, why);
		return;
	}
	if (have == mode) {
		accepted(b, BB_ODMDATA);
		return;
	}
	snprintf(what, sizeof(what), "{\"configuration\":\"%d\"}", mode);
	sysmsg("Applying boot config: %s", what);
	if (odm_lock(lock, "0") == -1) {
		snprintf(why, sizeof(why), "cannot unlock %s: %s; nothing written", lock,
			 strerror(errno));
		refuse(b, BB_ODMDATA, why);
		return;
	}
	for (i = 0; i < ODMDATA_COPIES; i++)
		want[i] = odmdata_byte(mode);
	if (odm_write(dev, want, err, sizeof(err)) == -1) {
		/* put back what was there, so that the copies agree */
		odm_write(dev, was, why, sizeof(why));
		odm_lock(lock, "1");
		refuse(b, BB_ODMDATA, err);
		return;
	}
	if (odm_lock(lock, "1") == -1)
		log_warn("ODMDATA: cannot lock %s again", lock);
	if (odm_read(dev, now, err, sizeof(err)) == -1 ||
	    odmdata_mode(now, err, sizeof(err)) != mode) {
		refuse(b, BB_ODMDATA, "ODMDATA did not read back as written");
		return;
	}
	accepted(b, BB_ODMDATA);
	sysmsg("Applied boot config: %s", what);
	json_object_set_new(r->rebooting, "configuration", json_sprintf("%d", mode));
}

/* --- The splash image (facts §5.2) -------------------------------------------------- */

/* The logo the OS shows: balena-logo.png, else resin-logo.png where that is
 * the name, else balena-logo.png (made). */
static void splash_paths(const struct boot *b, char *dir, char *logo, char *def, size_t len)
{
	boot_path(b, dir, len, "splash");
	snprintf(logo, len, "%s/balena-logo.png", dir);
	if (!exists(logo)) {
		snprintf(logo, len, "%s/resin-logo.png", dir);
		if (!exists(logo))
			snprintf(logo, len, "%s/balena-logo.png", dir);
	}
	snprintf(def, len, "%s/balena-logo-default.png", dir);
}

static void splash_apply(struct round *r)
{
	struct boot *b = r->b;
	char dir[4096], logo[4096], def[4096], err[512], what[128];
	unsigned char *png = NULL, *cur, *dflt = NULL;
	size_t len = 0, clen = 0, dlen = 0;
	int rc = splash_from_target(r->config, &png, &len, err, sizeof(err));
	int managed = json_array_size(json_object_get(r->state, state_names[BB_SPLASH])) > 0;
	json_t *keys;

	if (rc == -1) {
		refuse(b, BB_SPLASH, err);
		return;
	}
	if (rc == 0 && !managed) { /* no image asked, none of agentd's to take back */
		accepted(b, BB_SPLASH);
		return;
	}
	splash_paths(b, dir, logo, def, sizeof(dir));
	if (!is_dir(dir)) {
		snprintf(err, sizeof(err), "no splash directory %.400s; nothing written", dir);
		refuse(b, BB_SPLASH, err);
		free(png);
		return;
	}
	if (rc == 0) { /* back to the default image */
		if ((dflt = file_read_bytes(def, SPLASH_MAX, &dlen)) == NULL ||
		    !splash_is_png(dflt, dlen)) {
			snprintf(err, sizeof(err), "no default splash image %.400s to go back to",
				 def);
			refuse(b, BB_SPLASH, err);
			free(dflt);
			return;
		}
		png = dflt;
		len = dlen;
	}
	cur = file_read_bytes(logo, SPLASH_MAX, &clen);
	if (cur != NULL && clen == len && memcmp(cur, png, len) == 0) {
		accepted(b, BB_SPLASH); /* the logo is that image already */
		keys = rc == 1 ? json_pack("[s]", "image") : json_array();
		if (rc == 0)
			state_record(r, BB_SPLASH, keys);
		else
			record_again(r, BB_SPLASH, keys);
		json_decref(keys);
		free(cur);
		free(png);
		return;
	}
	/* the image the OS came with is kept as the default, before the first change */
	if (rc == 1 && !exists(def) && cur != NULL && splash_is_png(cur, clen) &&
	    file_write_atomic(def, (const char *)cur, clen, 0644, err, sizeof(err)) == -1) {
		refuse(b, BB_SPLASH, err);
		free(cur);
		free(png);
		return;
	}
	if (rc == 1)
		snprintf(what, sizeof(what), "{\"image\":\"<a PNG of %zu bytes>\"}", len);
	else
		snprintf(what, sizeof(what), "{\"image\":\"<the default image>\"}");
	if (write_logged(b, BB_SPLASH, logo, png, len, what) == 0) {
		keys = rc == 1 ? json_pack("[s]", "image") : json_array();
		state_record(r, BB_SPLASH, keys);
		json_decref(keys);
		json_object_set_new(r->rebooting, "image",
				    json_string(rc == 1 ? "<a PNG image>" : "<the default image>"));
	}
	free(cur);
	free(png);
}

/* --- Power mode and fan profile: config.json's os (facts §5.2) ---------------------- */

static void powerfan_apply(struct round *r)
{
	struct boot *b = r->b;
	json_t *before = json_object_get(r->state, state_names[BB_POWERFAN]), *target, *copy, *keys;
	char err[512], *what;
	int reboot = 0, rc;

	if ((target = powerfan_from_target(r->config, err, sizeof(err))) == NULL) {
		refuse(b, BB_POWERFAN, err);
		return;
	}
	if (b->env.cfg == NULL || (json_object_size(target) == 0 && json_array_size(before) == 0)) {
		accepted(b, BB_POWERFAN);
		json_decref(target);
		return;
	}
	copy = json_deep_copy(b->env.cfg->root);
	rc = powerfan_render(copy, target, before, &reboot, err, sizeof(err));
	if (rc == -1) {
		refuse(b, BB_POWERFAN, err);
	} else if (rc == 0) {
		accepted(b, BB_POWERFAN); /* config.json says it already */
		keys = jsonx_keys(target);
		record_again(r, BB_POWERFAN, keys);
		json_decref(keys);
	} else if ((what = json_dumps(target, JSON_COMPACT)) != NULL) {
		sysmsg("Applying boot config: %s", what);
		if (config_write_atomic(b->env.config_path, copy, err, sizeof(err)) == -1) {
			refuse(b, BB_POWERFAN, err);
		} else {
			/* agentd's config.json in memory: the new os object */
			json_object_set(b->env.cfg->root, "os", json_object_get(copy, "os"));
			accepted(b, BB_POWERFAN);
			sysmsg("Applied boot config: %s", what);
			if (reboot) { /* the fan profile needs none */
				json_t *pm = json_object_get(target, "power_mode");

				json_object_set(r->rebooting, "power_mode", pm ? pm : json_null());
			}
			keys = jsonx_keys(target);
			state_record(r, BB_POWERFAN, keys);
			json_decref(keys);
		}
		free(what);
	}
	json_decref(copy);
	json_decref(target);
}

/* --- The round ---------------------------------------------------------------------- */

static int uenv_here(const struct boot *b)
{
	char path[4096];

	boot_path(b, path, sizeof(path), "extra_uEnv.txt");
	return uenv_applies(b->env.device_type) && exists(path);
}

void boot_config_apply(struct boot *b, json_t *config)
{
	const char *type = b->env.device_type;
	char path[4096], *why;
	struct round r = {b, config, NULL, json_object()};

	state_path(b, path, sizeof(path));
	r.state = json_load_file(path, 0, NULL);
	if (!json_is_object(r.state)) {
		json_decref(r.state);
		r.state = json_object();
	}
	if (bootcfg_applies(type))
		text_apply(&r, &text_backends[0]);
	if (extlinux_applies(type, b->env.os_meta_version))
		text_apply(&r, &text_backends[1]);
	if (uenv_here(b))
		text_apply(&r, &text_backends[2]);
	if (configfs_applies(type)) /* its tables load at the next start (boot_start) */
		text_apply(&r, &text_backends[3]);
	if (odmdata_applies(type))
		odm_apply(&r);
	splash_apply(&r);
	if (powerfan_applies(type))
		powerfan_apply(&r);
	if (json_object_size(r.rebooting) > 0 &&
	    (why = json_dumps(r.rebooting, JSON_COMPACT)) != NULL) {
		boot_breadcrumb_touch(b, why);
		free(why);
	}
	json_decref(r.rebooting);
	json_decref(r.state);
}

/* --- The current values ------------------------------------------------------------- */

static void current_text(const struct boot *b, const char *rel, json_t *out,
			 json_t *(*read)(const char *text))
{
	char path[4096], *text;
	json_t *vars;

	boot_path(b, path, sizeof(path), rel);
	if ((text = file_read_text(path)) == NULL)
		return;
	if ((vars = read(text)) != NULL)
		json_object_update(out, vars);
	json_decref(vars);
	free(text);
}

static json_t *extlinux_current_quiet(const char *text)
{
	char err[256];
	json_t *vars = extlinux_current(text, err, sizeof(err));

	if (vars == NULL)
		log_debug("extlinux.conf: %s", err);
	return vars;
}

json_t *boot_config_current(struct boot *b)
{
	const char *type = b->env.device_type;
	json_t *out = json_object();

	if (bootcfg_applies(type))
		current_text(b, "config.txt", out, bootcfg_current);
	if (extlinux_applies(type, b->env.os_meta_version))
		current_text(b, "extlinux/extlinux.conf", out, extlinux_current_quiet);
	if (uenv_here(b))
		current_text(b, "extra_uEnv.txt", out, uenv_current);
	if (configfs_applies(type))
		current_text(b, "configfs.json", out, configfs_current);
	if (odmdata_applies(type)) {
		unsigned char bytes[ODMDATA_COPIES];
		char err[256];
		int mode;

		if (odm_read(b->env.odmdata_device, bytes, err, sizeof(err)) == 0 &&
		    (mode = odmdata_mode(bytes, err, sizeof(err))) > 0)
			json_object_set_new(out, ODMDATA_PREFIX "configuration",
					    json_sprintf("%d", mode));
	}
	{ /* the splash image, when it is not the default one */
		char dir[4096], logo[4096], def[4096], *uri;
		unsigned char *img, *dflt;
		size_t len = 0, dlen = 0;

		splash_paths(b, dir, logo, def, sizeof(dir));
		img = file_read_bytes(logo, SPLASH_MAX, &len);
		dflt = img ? file_read_bytes(def, SPLASH_MAX, &dlen) : NULL;
		if (img != NULL && dflt != NULL && (len != dlen || memcmp(img, dflt, len) != 0) &&
		    (uri = splash_data_uri(img, len)) != NULL) {
			json_object_set_new(out, SPLASH_PREFIX "image", json_string(uri));
			free(uri);
		}
		free(img);
		free(dflt);
	}
	if (powerfan_applies(type) && b->env.cfg != NULL) {
		json_t *vars = powerfan_current(b->env.cfg->root);

		json_object_update(out, vars);
		json_decref(vars);
	}
	return out;
}
