/*
 * odmdata.h - the ODM data boot-config backend (Jetson TX2 boards, facts
 * §5.2): HOST_ODMDATA_configuration picks one of six hardware configurations
 * (the UPHY lane mapping), stored as one byte at three offsets of the eMMC
 * boot partition. See odmdata.c; the bytes are read and written by boot.c.
 */
#ifndef AGENTD_ODMDATA_H
#define AGENTD_ODMDATA_H

#include <stddef.h>

#include <jansson.h>

#define ODMDATA_PREFIX "HOST_ODMDATA_"
#define ODMDATA_COPIES 3

/// Where the configuration byte is, in each of its copies.
extern const long odmdata_offsets[ODMDATA_COPIES];

/// *-tx2.
int odmdata_applies(const char *device_type);
/// The configuration the target asks for: 1-6, 0 when it names none, -1 with
/// the reason for an unknown key or a value that is not 1-6.
int odmdata_from_target(json_t *config, char *err, size_t errlen);
/// The byte of configuration `mode` (1-6).
unsigned char odmdata_byte(int mode);
/// The configuration the three copies hold: 1-6, or -1 with the reason when
/// they differ or hold a byte of no configuration.
int odmdata_mode(const unsigned char bytes[ODMDATA_COPIES], char *err, size_t errlen);

#endif
