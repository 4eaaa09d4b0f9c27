/*
 * fuzz_compose.c - libFuzzer target: any JSON as a target service (image,
 * environment, labels, composition) is composed into an engine create body
 * or refused with a reason naming the field, never crashes; the same input
 * composes to the same body (its hash is what tells an unchanged service);
 * the image normaliser and the container-name parser take any string.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct compose_ctx ctx = {
		.app_id = 1011,
		.app_uuid = "1011",
		.app_name = "fuzz",
		.service_name = "main",
		.service_id = 1,
		.image_id = 2,
		.release_id = 3,
		.commit = "abc",
		.device_uuid = "0123456789abcdef0123456789abcdef",
		.device_type = "raspberrypi4-64",
		.device_arch = "aarch64",
		.device_name = "fuzzy",
		.host_os_version = "balenaOS 6.0.0",
		.run_dir = "/tmp/balena-supervisor",
		.engine_socket = "/var/run/balena-engine.sock",
		.api_key = "k",
		.api_port = 48484,
		.api_host = "10.114.104.1",
	};
	struct composed a = {0}, b = {0};
	char err[512] = "", h1[17], h2[17], buf[600], svc[128], commit[128];
	json_t *in;
	int image_id, release_id;
	size_t n = size < sizeof(buf) - 1 ? size : sizeof(buf) - 1;

	memcpy(buf, data, n);
	buf[n] = '\0';
	compose_image_normalise(buf, svc, sizeof(svc));
	(void)compose_parse_name(buf, svc, sizeof(svc), &image_id, &release_id, commit,
				 sizeof(commit));
	in = json_loadb((const char *)data, size, 0, NULL);
	if (in == NULL)
		return 0;
	if (compose_service(&ctx, in, &a, err, sizeof(err)) == 0) {
		if (compose_service(&ctx, in, &b, err, sizeof(err)) != 0)
			abort();
		compose_hash(a.spec, h1);
		compose_hash(b.spec, h2);
		if (strcmp(h1, h2) != 0)
			abort(); /* composing is a function of its input */
	} else if (err[0] == '\0') {
		abort(); /* a refusal says why */
	}
	compose_free(&a);
	compose_free(&b);
	json_decref(in);
	return 0;
}
