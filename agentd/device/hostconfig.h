/*
 * hostconfig.h - proxy settings of /v1/device/host-config, kept where
 * balenaOS keeps them: <boot_dir>/system-proxy/{redsocks.conf,no_proxy}.
 */
#ifndef AGENTD_HOSTCONFIG_H
#define AGENTD_HOSTCONFIG_H

#include <stddef.h>

#include <jansson.h>

/// The blocks of a redsocks.conf as {block: {key: "value"}}; NULL when the
/// text is not in redsocks' syntax.
json_t *redsocks_parse(const char *text);
/// redsocks.conf for a checked proxy object {type, ip, port, login?,
/// password?, dns? "ADDR:PORT"} (malloc'd text).
char *redsocks_render(json_t *proxy);
/// The API's proxy object {type, ip, port, login?, password?, dns?,
/// noProxy?} from the files, or NULL when no proxy is set.
json_t *hostconfig_proxy_read(const char *boot_dir);
/// Apply a PATCH proxy object: {} removes the proxy; other fields are
/// checked and merged over the current ones. 0 when done, -1 for bad input
/// (400), -2 when the files cannot be written (503); err says why.
int hostconfig_proxy_patch(const char *boot_dir, json_t *patch, char *err, size_t errlen);

#endif
