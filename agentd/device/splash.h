/*
 * splash.h - the splash image boot-config backend (every device type, facts
 * §5.2): HOST_SPLASH_image, a base64 PNG (or a data: URI of one), becomes the
 * boot partition's splash/balena-logo.png. See splash.c; the files are read
 * and written by boot.c.
 */
#ifndef AGENTD_SPLASH_H
#define AGENTD_SPLASH_H

#include <stddef.h>

#include <jansson.h>

#define SPLASH_PREFIX "HOST_SPLASH_"

/// The PNG the target asks for: 1 with it in *png (malloc'd) and *len; 0 when
/// it names none (the default image); -1 with the reason for an unknown key,
/// data that is not base64 or not a PNG.
int splash_from_target(json_t *config, unsigned char **png, size_t *len, char *err, size_t errlen);
/// Whether these bytes start as a PNG does.
int splash_is_png(const unsigned char *data, size_t len);
/// "data:image/png;base64,<data>", as the balena supervisor reports a splash
/// image. Malloc'd.
char *splash_data_uri(const unsigned char *data, size_t len);

#endif
