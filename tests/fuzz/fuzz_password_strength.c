/*
 * fuzz_password_strength.c — the password rule (auth/password_policy.c)
 * and zxcvbn-c's estimate under it, on any bytes. Checks: the estimate is
 * finite and not negative, its score follows zxcvbn's documented scale,
 * the weakness is one of the names the rule documents or empty, the
 * message is a NUL-terminated sentence, the rule accepts exactly what
 * scores PASSWORD_MIN_SCORE or more, and check() agrees with rate().
 * zxcvbn-c itself is Debian's uninstrumented build (vendor/manifest): the
 * fuzzer steers by our code's coverage only, but ASan still sees every
 * read of the password and every allocation zxcvbn-c makes through
 * malloc.
 */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password_policy.h"

static int known_weakness(const char *w)
{
	static const char *const names[] = {
		"", "a common password or word",
		"a common password or word with look-alike substitutions",
		"a word of this service", "a repeat", "a sequence", "a keyboard pattern", "a date",
		"a year",
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(w, names[i]) == 0)
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4 * PASSWORD_MAX_CHARS + 16)
		return 0; /* refused for its length before any estimate */
	char *pw = malloc(size + 1), err[256];
	struct password_rating r;

	memcpy(pw, data, size);
	pw[size] = '\0';
	password_policy_rate(pw, &r);
	double g = r.log10_guesses;
	assert(isfinite(g) && g >= 0);
	assert(r.score == (g < 3 ? 0 : g < 6 ? 1 : g < 8 ? 2 : g < 10 ? 3 : 4));
	assert(r.weakness != NULL && known_weakness(r.weakness));
	assert(memchr(r.message, '\0', sizeof r.message) != NULL && r.message[0] != '\0');
	assert(r.ok == (r.score >= PASSWORD_MIN_SCORE));
	int c = password_policy_check(pw, err, sizeof err);
	assert((c == 0) == r.ok);
	if (c < 0)
		assert(strcmp(err, r.message) == 0);
	free(pw);
	return 0;
}
