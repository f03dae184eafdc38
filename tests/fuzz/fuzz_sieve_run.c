/*
 * fuzz_sieve_run.c — the Sieve interpreter on random scripts and
 * messages. The input up to its first NUL is the script, the rest the
 * message. Checks: a run ends within its step budget; the action count
 * and the redirect count stay within their limits; a run-time error
 * leaves the implicit keep alone; the printed result is bounded text.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "sieve/sieve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *nul = memchr(in, '\0', size);
	size_t slen = nul ? (size_t)(nul - in) : size;
	const char *msg = nul ? nul + 1 : "";
	size_t mlen = nul ? size - slen - 1 : 0;
	char err[SIEVE_ERROR_MAX], out[2048];
	struct sieve_script *s = sieve_compile(in, slen, err);

	if (!s)
		return 0;
	struct sieve_env env = { .msg = msg, .len = mlen, .env_from = STR_LIT("a@example.org"),
		                 .env_to = STR_LIT("b+x@example.com"), .now = 1794787200 };
	struct sieve_result res;
	struct arena *a = arena_new(0);
	int rc = sieve_run(s, &env, a, &res);
	unsigned redirects = 0;
	assert(res.steps <= SIEVE_STEPS_MAX);
	assert(res.nactions <= SIEVE_ACTIONS_MAX);
	for (uint32_t i = 0; i < res.nactions; i++)
		redirects += res.actions[i].kind == SIEVE_ACT_REDIRECT;
	assert(redirects <= SIEVE_REDIRECTS_MAX);
	if (rc < 0)
		assert(res.implicit_keep && res.nactions == 0 && res.error[0]);
	sieve_result_format(&res, out, sizeof(out));
	assert(strlen(out) < sizeof(out));
	arena_free(&a);
	sieve_script_free(&s);
	return 0;
}
