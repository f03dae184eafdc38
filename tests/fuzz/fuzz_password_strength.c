/*
 * fuzz_password_strength.c — the password strength estimate
 * (auth/password_strength.c) on any bytes. Checks: the estimate is finite
 * and not negative, never above guessing every character alone (digits
 * 10, letters 26, other ASCII 33, other bytes 100, and 10 a byte past the
 * window), its score follows the documented scale, and the policy never
 * accepts what scores under PASSWORD_MIN_SCORE.
 */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password_policy.h"
#include "auth/password_strength.h"

static double card(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return 10;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return 26;
	return c >= 0x20 && c < 0x7f ? 33 : 100;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *pw = malloc(size + 1), err[256];
	struct pw_strength a;

	memcpy(pw, data, size);
	pw[size] = '\0';
	password_strength(pw, &a);
	double g = a.log10_guesses, brute = 0;
	size_t n = strlen(pw);
	for (size_t i = 0; i < n; i++)
		brute += i < PW_STRENGTH_MAX_LEN ? log10(card((unsigned char)pw[i])) : 1.0;
	assert(isfinite(g) && g >= 0 && g <= brute + 1e-9);
	assert(a.score == (g < 3 ? 0 : g < 6 ? 1 : g < 8 ? 2 : g < 10 ? 3 : 4));
	assert(a.weakness != NULL);
	if (password_policy_check(pw, err, sizeof err) == 0)
		assert(a.score >= PASSWORD_MIN_SCORE);
	free(pw);
	return 0;
}
