/*
 * odmdata.c - the ODM data boot-config backend (facts §5.2). A TX2's ODM
 * data says how its UPHY lanes are wired; balena offers six configurations,
 * numbered 1-6 in HOST_ODMDATA_configuration (0-5 are their places in the
 * byte table below). The byte is kept three times in /dev/mmcblk0boot0, a
 * hardware boot partition that is read-only until its force_ro is cleared.
 * A target without the variable leaves the device's configuration alone.
 * Pure: which byte, which offsets.
 */
#include <stdio.h>
#include <string.h>

#include "odmdata.h"

const long odmdata_offsets[ODMDATA_COPIES] = {1659, 5243, 18043};

/* configuration 1..6 -> its byte */
static const unsigned char config_bytes[6] = {0x0, 0x1, 0x6, 0x7, 0x2, 0x3};

int odmdata_applies(const char *device_type)
{
	size_t n = device_type ? strlen(device_type) : 0;

	return n >= 4 && strcmp(device_type + n - 4, "-tx2") == 0;
}

int odmdata_from_target(json_t *config, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	int mode = 0;

	json_object_foreach(config, k, v) {
		const char *key = k + strlen(ODMDATA_PREFIX), *s = json_string_value(v);

		if (strncmp(k, ODMDATA_PREFIX, strlen(ODMDATA_PREFIX)) != 0 || s == NULL)
			continue;
		if (strcmp(key, "configuration") != 0) {
			snprintf(err, errlen, "Attempt to change blacklisted config value %.100s",
				 key);
			return -1;
		}
		if (strlen(s) != 1 || s[0] < '1' || s[0] > '6') {
			snprintf(err, errlen,
				 "%sconfiguration: \"%.20s\" is not a configuration (1 to 6)",
				 ODMDATA_PREFIX, s);
			return -1;
		}
		mode = s[0] - '0';
	}
	return mode;
}

unsigned char odmdata_byte(int mode)
{
	return config_bytes[mode >= 1 && mode <= 6 ? mode - 1 : 0];
}

int odmdata_mode(const unsigned char bytes[ODMDATA_COPIES], char *err, size_t errlen)
{
	int i;

	if (bytes[0] != bytes[1] || bytes[1] != bytes[2]) {
		snprintf(err, errlen,
			 "Unable to parse ODMDATA configuration. Data at offsets do not match.");
		return -1;
	}
	for (i = 0; i < 6; i++)
		if (config_bytes[i] == bytes[0])
			return i + 1;
	snprintf(err, errlen, "ODMDATA is set with an unsupported byte: 0x%x", bytes[0]);
	return -1;
}
