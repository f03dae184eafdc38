/*
 * fuzz_sieve_parse.c — the Sieve compiler on any text. Checks: a script
 * either compiles or gives one error that names its line and column; the
 * outcome is the same when compiled twice; a compiled script's run over a
 * small fixed message ends within the step budget.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "sieve/sieve.h"

static const char msg[] = "From: a@example.org\r\nTo: b+x@example.com\r\nSubject: hi\r\n\r\nbody\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[SIEVE_ERROR_MAX], err2[SIEVE_ERROR_MAX];
	struct sieve_script *s, *s2;

	err[0] = err2[0] = '\0';
	s = sieve_compile((const char *)data, size, err);
	s2 = sieve_compile((const char *)data, size, err2);
	assert((s == NULL) == (s2 == NULL));
	if (!s) {
		assert(strncmp(err, "line ", 5) == 0);
		assert(strcmp(err, err2) == 0);
		return 0;
	}
	struct sieve_env env = { .msg = msg, .len = sizeof(msg) - 1 };
	struct sieve_result res;
	struct arena *a = arena_new(0);
	int rc = sieve_run(s, &env, a, &res);
	assert(res.steps <= SIEVE_STEPS_MAX);
	assert(rc == 0 || (res.implicit_keep && res.nactions == 0 && res.error[0]));
	arena_free(&a);
	sieve_script_free(&s);
	sieve_script_free(&s2);
	return 0;
}
