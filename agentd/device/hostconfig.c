/*
 * hostconfig.c - the proxy part of /v1/device/host-config: balenaOS keeps
 * it in <boot>/system-proxy/redsocks.conf (redsocks' own block syntax) and
 * <boot>/system-proxy/no_proxy (one address per line). Reading turns the
 * files into the API's proxy object; a PATCH is checked field by field,
 * merged over what is there and written back atomically.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "filemodes.h"
#include "hostconfig.h"

#define REDSOCKS_LOCAL_PORT 12345

static const char *const proxy_types[] = {"socks4", "socks5", "http-connect", "http-relay", NULL};

/* ---------------------------------------------------------------- parsing */

/* One token of redsocks.conf: a word, a quoted string, or one of { } = ; */
static const char *conf_token(const char *p, char *out, size_t len, int *quoted)
{
	size_t n = 0;

	*quoted = 0;
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (p[0] == '/' && p[1] == '/') {
			p += strcspn(p, "\n");
		} else if (p[0] == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");

			p = e ? e + 2 : p + strlen(p);
		} else {
			break;
		}
	}
	if (*p == '\0')
		return NULL;
	if (strchr("{}=;", *p) != NULL) {
		out[0] = *p;
		out[1] = '\0';
		return p + 1;
	}
	if (*p == '"') {
		*quoted = 1;
		for (p++; *p != '\0' && *p != '"'; p++)
			if (n + 1 < len)
				out[n++] = *p;
		out[n] = '\0';
		return *p == '"' ? p + 1 : NULL;
	}
	for (; *p != '\0' && !isspace((unsigned char)*p) && strchr("{}=;\"", *p) == NULL; p++)
		if (n + 1 < len)
			out[n++] = *p;
	out[n] = '\0';
	return p;
}

json_t *redsocks_parse(const char *text)
{
	json_t *conf = json_object(), *block = NULL;
	char tok[512], key[512];
	const char *p = text;
	int quoted;

	while ((p = conf_token(p, tok, sizeof(tok), &quoted)) != NULL) {
		if (block == NULL) { /* expect: name { */
			if (quoted || strchr("{}=;", tok[0]) != NULL)
				goto bad;
			block = json_object();
			json_object_set_new(conf, tok, block);
			if ((p = conf_token(p, tok, sizeof(tok), &quoted)) == NULL ||
			    strcmp(tok, "{") != 0)
				goto bad;
			continue;
		}
		if (!quoted && strcmp(tok, "}") == 0) {
			block = NULL;
			continue;
		}
		if (quoted || strchr("{}=;", tok[0]) != NULL)
			goto bad;
		snprintf(key, sizeof(key), "%s", tok);
		if ((p = conf_token(p, tok, sizeof(tok), &quoted)) == NULL ||
		    strcmp(tok, "=") != 0 || (p = conf_token(p, tok, sizeof(tok), &quoted)) == NULL)
			goto bad;
		json_object_set_new(block, key, json_string(tok));
		if ((p = conf_token(p, tok, sizeof(tok), &quoted)) == NULL || strcmp(tok, ";") != 0)
			goto bad;
	}
	if (block != NULL)
		goto bad;
	return conf;
bad:
	json_decref(conf);
	return NULL;
}

/* The API's proxy object from parsed redsocks.conf blocks; NULL if it has no
 * usable redsocks block. */
static json_t *proxy_from_conf(json_t *conf)
{
	json_t *r = json_object_get(conf, "redsocks"), *d = json_object_get(conf, "dnsu2t");
	json_t *proxy;
	const char *v;
	long port;
	char *end;

	if (!json_is_object(r))
		return NULL;
	proxy = json_object();
	if ((v = json_string_value(json_object_get(r, "type"))) != NULL)
		json_object_set_new(proxy, "type", json_string(v));
	if ((v = json_string_value(json_object_get(r, "ip"))) != NULL)
		json_object_set_new(proxy, "ip", json_string(v));
	if ((v = json_string_value(json_object_get(r, "port"))) != NULL) {
		port = strtol(v, &end, 10);
		if (*end == '\0' && end != v)
			json_object_set_new(proxy, "port", json_integer(port));
	}
	if ((v = json_string_value(json_object_get(r, "login"))) != NULL)
		json_object_set_new(proxy, "login", json_string(v));
	if ((v = json_string_value(json_object_get(r, "password"))) != NULL)
		json_object_set_new(proxy, "password", json_string(v));
	if (json_is_object(d) && json_is_string(json_object_get(d, "remote_ip")) &&
	    json_is_string(json_object_get(d, "remote_port")))
		json_object_set_new(
			proxy, "dns",
			json_sprintf("%s:%s", json_string_value(json_object_get(d, "remote_ip")),
				     json_string_value(json_object_get(d, "remote_port"))));
	return proxy;
}

char *redsocks_render(json_t *proxy)
{
	const char *login = json_string_value(json_object_get(proxy, "login"));
	const char *password = json_string_value(json_object_get(proxy, "password"));
	const char *dns = json_string_value(json_object_get(proxy, "dns"));
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	fprintf(f, "base {\n\tlog_debug = off;\n\tlog_info = on;\n\tlog = stderr;\n"
		   "\tdaemon = off;\n\tredirector = iptables;\n}\n\n");
	fprintf(f, "redsocks {\n\ttype = %s;\n\tip = %s;\n\tport = %d;\n",
		json_string_value(json_object_get(proxy, "type")),
		json_string_value(json_object_get(proxy, "ip")),
		(int)json_integer_value(json_object_get(proxy, "port")));
	if (login != NULL)
		fprintf(f, "\tlogin = \"%s\";\n", login);
	if (password != NULL)
		fprintf(f, "\tpassword = \"%s\";\n", password);
	fprintf(f, "\tlocal_ip = 127.0.0.1;\n\tlocal_port = %d;\n}\n", REDSOCKS_LOCAL_PORT);
	if (dns != NULL) {
		const char *colon = strrchr(dns, ':');

		fprintf(f,
			"\ndnsu2t {\n\tremote_ip = %.*s;\n\tremote_port = %s;\n"
			"\tlocal_ip = 127.0.0.1;\n\tlocal_port = 53;\n}\n",
			(int)(colon - dns), dns, colon + 1);
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* ------------------------------------------------------------- validation */

/* A host name or address: letters, digits, '.', '-', ':' (IPv6). */
static int valid_host(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr(".-:", s[i]) == NULL)
			return 0;
	return 1;
}

static int valid_port_text(const char *s)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)s[0]))
		return 0;
	v = strtol(s, &end, 10);
	return *end == '\0' && v >= 1 && v <= 65535;
}

/* Quoted in redsocks.conf: no quote, backslash or control character. */
static int valid_quoted(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '"' || *s == '\\' || iscntrl((unsigned char)*s))
			return 0;
	return 1;
}

/* Check one PATCH proxy object and copy it, normalised, into `out` (port
 * becomes an integer, dns true becomes 8.8.8.8:53, dns false is JSON null
 * meaning "remove"). */
static int proxy_check(json_t *in, json_t *out, char *err, size_t errlen)
{
	const char *k, *s;
	json_t *v, *e;
	size_t i;
	int t;

	json_object_foreach(in, k, v) {
		if (strcmp(k, "type") == 0) {
			for (t = 0, s = json_string_value(v); s && proxy_types[t]; t++)
				if (strcmp(s, proxy_types[t]) == 0)
					break;
			if (s == NULL || proxy_types[t] == NULL) {
				snprintf(err, errlen,
					 "Invalid proxy type: must be socks4, socks5, http-connect "
					 "or http-relay");
				return -1;
			}
			json_object_set(out, k, v);
		} else if (strcmp(k, "ip") == 0) {
			if (!json_is_string(v) ||
			    !valid_host(json_string_value(v), json_string_length(v))) {
				snprintf(err, errlen,
					 "Invalid proxy ip: must be a host name or "
					 "address");
				return -1;
			}
			json_object_set(out, k, v);
		} else if (strcmp(k, "port") == 0) {
			json_int_t port = -1;

			if (json_is_integer(v))
				port = json_integer_value(v);
			else if (json_is_string(v) && valid_port_text(json_string_value(v)))
				port = strtol(json_string_value(v), NULL, 10);
			if (port < 1 || port > 65535) {
				snprintf(err, errlen, "Invalid proxy port: must be 1 to 65535");
				return -1;
			}
			json_object_set_new(out, k, json_integer(port));
		} else if (strcmp(k, "login") == 0 || strcmp(k, "password") == 0) {
			if (!json_is_string(v) || json_string_length(v) > 255 ||
			    !valid_quoted(json_string_value(v))) {
				snprintf(
					err, errlen,
					"Invalid proxy %s: a string without quotes, backslashes or "
					"control characters",
					k);
				return -1;
			}
			json_object_set(out, k, v);
		} else if (strcmp(k, "dns") == 0) {
			const char *colon;

			if (json_is_true(v)) {
				json_object_set_new(out, k, json_string("8.8.8.8:53"));
			} else if (json_is_false(v)) {
				json_object_set_new(out, k, json_null());
			} else if (json_is_string(v) && (s = json_string_value(v)) &&
				   (colon = strrchr(s, ':')) != NULL &&
				   valid_host(s, (size_t)(colon - s)) &&
				   valid_port_text(colon + 1)) {
				json_object_set(out, k, v);
			} else {
				snprintf(err, errlen,
					 "Invalid proxy dns: must be true, false or "
					 "\"ADDRESS:PORT\"");
				return -1;
			}
		} else if (strcmp(k, "noProxy") == 0) {
			if (!json_is_array(v))
				goto bad_noproxy;
			json_array_foreach(v, i, e) {
				if (!json_is_string(e) || json_string_length(e) == 0 ||
				    json_string_length(e) > 253 ||
				    strpbrk(json_string_value(e), " \t\r\n") != NULL)
					goto bad_noproxy;
			}
			json_object_set(out, k, v);
		} else {
			snprintf(err, errlen, "Invalid proxy configuration: unknown key \"%s\"", k);
			return -1;
		}
	}
	return 0;
bad_noproxy:
	snprintf(err, errlen, "Invalid proxy noProxy: must be a list of addresses");
	return -1;
}

/* ------------------------------------------------------------------ files */

static void proxy_paths(const char *boot_dir, char *dir, char *conf, char *noproxy, size_t len)
{
	snprintf(dir, len, "%s/system-proxy", boot_dir);
	snprintf(conf, len, "%s/system-proxy/redsocks.conf", boot_dir);
	snprintf(noproxy, len, "%s/system-proxy/no_proxy", boot_dir);
}

json_t *hostconfig_proxy_read(const char *boot_dir)
{
	char dir[512], conf_path[512], noproxy_path[512];
	char *text, *line, *save = NULL;
	json_t *conf, *proxy = NULL, *list;

	proxy_paths(boot_dir, dir, conf_path, noproxy_path, sizeof(dir));
	if ((text = file_read_text(conf_path)) != NULL) {
		conf = redsocks_parse(text);
		proxy = conf ? proxy_from_conf(conf) : NULL;
		json_decref(conf);
		free(text);
	}
	if (proxy != NULL && (text = file_read_text(noproxy_path)) != NULL) {
		list = json_array();
		for (line = strtok_r(text, "\r\n", &save); line != NULL;
		     line = strtok_r(NULL, "\r\n", &save))
			if (line[strspn(line, " \t")] != '\0')
				json_array_append_new(list, json_string(line));
		if (json_array_size(list) > 0)
			json_object_set_new(proxy, "noProxy", list);
		else
			json_decref(list);
		free(text);
	}
	return proxy;
}

static int remove_file(const char *path, char *err, size_t errlen)
{
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
		return -2;
	}
	return 0;
}

static int write_noproxy(const char *path, json_t *list, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);
	json_t *v;
	int rc;

	if (f == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	json_array_foreach(list, i, v)
		fprintf(f, "%s\n", json_string_value(v));
	if (fclose(f) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = file_write_atomic(path, text, len, 0644, err, errlen);
	free(text);
	return rc;
}

int hostconfig_proxy_patch(const char *boot_dir, json_t *patch, char *err, size_t errlen)
{
	char dir[512], conf_path[512], noproxy_path[512];
	json_t *norm, *merged = NULL, *noproxy, *v;
	const char *k, *missing = NULL;
	char *text = NULL;
	int rc = -1;

	if (!json_is_object(patch)) {
		snprintf(err, errlen, "Invalid proxy configuration: must be an object");
		return -1;
	}
	proxy_paths(boot_dir, dir, conf_path, noproxy_path, sizeof(dir));
	if (json_object_size(patch) == 0) { /* {}: no proxy */
		if (remove_file(conf_path, err, errlen) == -2 ||
		    remove_file(noproxy_path, err, errlen) == -2)
			return -2;
		return 0;
	}
	norm = json_object();
	if (proxy_check(patch, norm, err, errlen) == -1)
		goto out;
	noproxy = json_incref(json_object_get(norm, "noProxy"));
	json_object_del(norm, "noProxy");
	if (json_object_size(norm) > 0) {
		/* the fields merge over the proxy in place now */
		if ((merged = hostconfig_proxy_read(boot_dir)) == NULL)
			merged = json_object();
		json_object_del(merged, "noProxy");
		json_object_foreach(norm, k, v) {
			if (json_is_null(v))
				json_object_del(merged, k);
			else
				json_object_set(merged, k, v);
		}
		if (json_object_get(merged, "type") == NULL)
			missing = "type";
		else if (json_object_get(merged, "ip") == NULL)
			missing = "ip";
		else if (json_object_get(merged, "port") == NULL)
			missing = "port";
		if (missing != NULL) {
			snprintf(err, errlen, "Invalid proxy configuration: \"%s\" is required",
				 missing);
			goto out_noproxy;
		}
		{ /* what came from the file is checked like what came in the PATCH */
			json_t *checked = json_object();
			char why[256];

			if (proxy_check(merged, checked, why, sizeof(why)) == -1) {
				snprintf(err, errlen,
					 "%s (kept from the current %s; PATCH it or {})", why,
					 conf_path);
				json_decref(checked);
				goto out_noproxy;
			}
			json_decref(merged);
			merged = checked;
		}
		if ((text = redsocks_render(merged)) == NULL) {
			snprintf(err, errlen, "out of memory");
			rc = -2;
			goto out_noproxy;
		}
	}
	rc = -2;
	if (filemodes_mkdir(dir, 0755) == -1) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		goto out_noproxy;
	}
	if (noproxy != NULL && write_noproxy(noproxy_path, noproxy, err, errlen) == -1)
		goto out_noproxy;
	/* redsocks.conf may hold the proxy's login and password: the OS reads
	 * it as root */
	if (text != NULL &&
	    file_write_atomic(conf_path, text, strlen(text), 0600, err, errlen) == -1)
		goto out_noproxy;
	rc = 0;
out_noproxy:
	json_decref(noproxy);
out:
	free(text);
	json_decref(merged);
	json_decref(norm);
	return rc;
}
