/*
 * fuzz_sieve_parse.c — the Sieve compiler on any text. Checks: a script
 * either compiles with no error or gives at least one, each naming its
 * line and column, their text within SIEVE_ERRORS_TEXT_MAX; the outcome
 * is the same when compiled twice, and sieve_compile's error is the
 * first; a compiled script's run over a small fixed message ends within
 * the step budget.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "sieve/sieve.h"

static const char msg[] = "From: a@example.org\r\nTo: b+x@example.com\r\nSubject: hi\r\n\r\nbody\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sieve_errors errs;
	static char all[SIEVE_ERRORS_TEXT_MAX + 1];
	char err[SIEVE_ERROR_MAX];
	struct sieve_script *s, *s2;

	err[0] = '\0';
	s = sieve_compile_errors((const char *)data, size, &errs);
	s2 = sieve_compile((const char *)data, size, err);
	assert((s == NULL) == (s2 == NULL));
	assert((s == NULL) == (errs.n > 0));
	if (!s) {
		for (uint32_t i = 0; i < errs.n && i < SIEVE_ERRORS_MAX; i++)
			assert(strncmp(errs.text[i], "line ", 5) == 0);
		assert(strcmp(err, errs.text[0]) == 0);
		all[SIEVE_ERRORS_TEXT_MAX] = 'x';
		sieve_errors_format(&errs, "\r\n", all, SIEVE_ERRORS_TEXT_MAX);
		assert(all[SIEVE_ERRORS_TEXT_MAX] == 'x' && strlen(all) < SIEVE_ERRORS_TEXT_MAX - 1);
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
