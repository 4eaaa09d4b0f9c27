/*
 * base64.h - base64 both ways, for the few places that need it: the
 * engine's X-Registry-Auth header (the URL-safe alphabet, padding kept, as
 * Docker's clients send it), HTTP basic auth for the registry token, and
 * config.json's balenaRootCA. No state, no I/O.
 */
#ifndef AGENTD_BASE64_H
#define AGENTD_BASE64_H

#include <stddef.h>

/// Encode n bytes into out (NUL-terminated), with '-' and '_' for '+' and '/'
/// when `urlsafe`; '=' padding either way. Returns the length, or -1 when it
/// does not fit in outlen (out is then "").
long base64_encode(const void *in, size_t n, char *out, size_t outlen, int urlsafe);
/// Decode `in` (either alphabet; '=', spaces and newlines skipped) into a new
/// NUL-terminated buffer, *outlen its length. NULL if `in` is not base64.
char *base64_decode(const char *in, size_t *outlen);

#endif
