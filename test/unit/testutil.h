/*
 * testutil.h - includes every cmocka unit test needs, in the order cmocka
 * requires, plus small helpers shared by the tests.
 */
#ifndef AGENTD_TESTUTIL_H
#define AGENTD_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <jansson.h>

/* JSON text written in a test; a typo in it fails the test, saying where. */
static inline json_t *test_json(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (j == NULL)
		fail_msg("bad JSON in test (%s): %s", e.text, text);
	return j;
}

/* Fail unless `got` (may be NULL) is the JSON written as `want_text`,
 * saying what it is. */
static inline void test_assert_json(json_t *got, const char *want_text)
{
	json_t *want = test_json(want_text);

	if (!json_equal(got, want)) {
		char *g = got ? json_dumps(got, JSON_SORT_KEYS) : NULL;

		fail_msg("got %s, want %s", g ? g : "NULL", want_text);
	}
	json_decref(want);
}

/* A boot-config backend's target from config vars written as JSON (its
 * from_target: extlinux_from_target(), configfs_from_target(), ...); a
 * refusal fails the test, saying why. */
static inline json_t *test_from_target(json_t *(*from)(json_t *, char *, size_t),
				       const char *config_json)
{
	json_t *c = test_json(config_json), *t;
	char err[256] = "";

	t = from(c, err, sizeof(err));
	json_decref(c);
	if (t == NULL)
		fail_msg("rejected: %s", err);
	return t;
}

/* Fail unless the backend's from_target refuses the config vars written as
 * JSON; the reason in err, to check. */
static inline void test_refused(json_t *(*from)(json_t *, char *, size_t), const char *config_json,
				char *err, size_t errlen)
{
	json_t *c = test_json(config_json), *t;

	err[0] = '\0';
	t = from(c, err, errlen);
	json_decref(c);
	if (t != NULL) {
		json_decref(t);
		fail_msg("accepted: %s", config_json);
	}
}

/* Under qemu-user (rpi's unit tests on an emulated ARMv6 CPU, test/arm/user-check.sh)
 * no seccomp filter can be loaded: QEMU refuses PR_SET_SECCOMP. A test that loads one
 * skips there when the runner says so (AGENTD_UNIT_QEMU_USER=1); the VM runs it. */
static inline int test_no_seccomp(void)
{
	return getenv("AGENTD_UNIT_QEMU_USER") != NULL;
}

/* A fresh private directory under /tmp; the caller removes it. */
static inline char *test_tmpdir(void)
{
	char *dir = strdup("/tmp/agentd-unit.XXXXXX");

	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	return dir;
}

static inline void test_rmtree(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* A fresh directory in *dir and the path of `file` in it, for fixtures. */
static inline void test_fixture(char **dir, char *path, size_t len, const char *file)
{
	*dir = test_tmpdir();
	snprintf(path, len, "%s/%s", *dir, file);
}

/* Remove and forget a fixture directory. */
static inline void test_fixture_free(char **dir)
{
	test_rmtree(*dir);
	free(*dir);
	*dir = NULL;
}

static inline void test_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

#endif
