/*
 * config.c - reading and atomically rewriting config.json (see config.h).
 *
 * Only the keys agentd uses are type-checked; every other key is kept as
 * it is, because config.json is shared with the host OS.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "storage.h"

enum cfg_type { CT_STRING, CT_INT, CT_BOOL, CT_OBJECT, CT_INT_OR_STRING };

static const struct {
	const char *key;
	enum cfg_type type;
} config_schema[] = {
	{"apiEndpoint", CT_STRING},
	{"apiKey", CT_STRING},
	{"apiTimeout", CT_INT},
	{"applicationId", CT_INT_OR_STRING},
	{"appUpdatePollInterval", CT_INT},
	{"balenaRootCA", CT_STRING},
	{"bootstrapRetryDelay", CT_INT},
	{"deltaEndpoint", CT_STRING},
	{"developmentMode", CT_BOOL},
	{"deviceApiKey", CT_STRING},
	{"deviceId", CT_INT_OR_STRING},
	{"deviceType", CT_STRING},
	{"hostname", CT_STRING},
	{"initialDeviceName", CT_STRING},
	{"listenPort", CT_INT},
	{"logsEndpoint", CT_STRING},
	{"os", CT_OBJECT},
	{"persistentLogging", CT_BOOL},
	{"registered_at", CT_INT},
	{"uuid", CT_STRING},
};

static const char *const type_words[] = {"a string", "an integer", "a boolean", "an object",
					 "an integer or a string"};

static int config_type_ok(json_t *v, enum cfg_type t)
{
	switch (t) {
	case CT_STRING:
		return json_is_string(v);
	case CT_INT:
		return json_is_integer(v);
	case CT_BOOL:
		return json_is_boolean(v);
	case CT_OBJECT:
		return json_is_object(v);
	case CT_INT_OR_STRING:
		return json_is_integer(v) || json_is_string(v);
	}
	return 0;
}

int config_load(const char *path, struct device_config *cfg, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *v;
	size_t i;
	FILE *f;

	memset(cfg, 0, sizeof(*cfg));
	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "config.json %s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	fclose(f);
	if (root == NULL) {
		snprintf(err, errlen, "config.json %s: invalid JSON at line %d column %d: %s", path,
			 jerr.line, jerr.column, jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "config.json %s: top level must be an object", path);
		json_decref(root);
		return -1;
	}
	for (i = 0; i < sizeof(config_schema) / sizeof(config_schema[0]); i++) {
		v = json_object_get(root, config_schema[i].key);
		if (v == NULL || json_is_null(v))
			continue;
		if (!config_type_ok(v, config_schema[i].type)) {
			snprintf(err, errlen, "config.json %s: \"%s\" must be %s", path,
				 config_schema[i].key, type_words[config_schema[i].type]);
			json_decref(root);
			return -1;
		}
	}
	cfg->root = root;
	cfg->api_endpoint = json_string_value(json_object_get(root, "apiEndpoint"));
	cfg->uuid = json_string_value(json_object_get(root, "uuid"));
	cfg->device_type = json_string_value(json_object_get(root, "deviceType"));
	cfg->listen_port = 48484;
	if ((v = json_object_get(root, "listenPort")) != NULL && json_is_integer(v)) {
		json_int_t port = json_integer_value(v);

		if (port < 1 || port > 65535) {
			snprintf(err, errlen, "config.json %s: \"listenPort\" must be 1-65535",
				 path);
			config_free(cfg);
			return -1;
		}
		cfg->listen_port = (int)port;
	}
	return 0;
}

void config_free(struct device_config *cfg)
{
	json_decref(cfg->root);
	memset(cfg, 0, sizeof(*cfg));
}

int config_managed(const struct device_config *cfg)
{
	return cfg->api_endpoint != NULL && cfg->api_endpoint[0] != '\0';
}

static int write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

char *file_read_text(const char *path)
{
	char *text = NULL, buf[4096];
	size_t len = 0, n;
	FILE *f = fopen(path, "re"), *m;
	int failed;

	if (f == NULL)
		return NULL;
	if ((m = open_memstream(&text, &len)) == NULL) {
		fclose(f);
		return NULL;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && len < 1024 * 1024)
		fwrite(buf, 1, n, m);
	failed = ferror(f); /* a directory, an I/O error: not "" */
	fclose(f);
	if (fclose(m) != 0 || failed) {
		free(text);
		return NULL;
	}
	return text;
}

unsigned char *file_read_bytes(const char *path, size_t max, size_t *len)
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t n = 0, size;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	size = (size_t)st.st_size;
	while (n < size) {
		if ((r = read(fd, buf + n, size - n)) == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n < size) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

int file_write_atomic(const char *path, const char *data, size_t len, mode_t mode, char *err,
		      size_t errlen)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd, dfd, saved;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp) ||
	    snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd == -1 || fchmod(fd, mode) == -1 || write_all(fd, data, len) == -1 ||
	    fsync(fd) == -1) {
		saved = errno;
		if (fd != -1) {
			close(fd);
			unlink(tmp);
		}
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(saved));
		return -1;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		saved = errno;
		unlink(tmp);
		snprintf(err, errlen, "cannot replace %s: %s", path, strerror(saved));
		return -1;
	}
	/* The rename is durable only once the directory entry is on disk. */
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int config_write_atomic(const char *path, json_t *root, char *err, size_t errlen)
{
	char why[PATH_MAX + 128];
	char *text;
	int rc;

	if ((text = json_dumps(root, JSON_COMPACT)) == NULL) {
		snprintf(err, errlen, "config.json %s: cannot serialise", path);
		return -1;
	}
	rc = file_write_atomic(path, text, strlen(text), 0600, why, sizeof(why));
	free(text);
	if (rc == -1) {
		snprintf(err, errlen, "config.json %s: %s", path, why);
		storage_failed(STORAGE_CONFIG_JSON, why);
	} else {
		storage_ok(STORAGE_CONFIG_JSON);
	}
	return rc;
}
