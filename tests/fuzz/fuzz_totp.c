/*
 * fuzz_totp.c — TOTP input handling (auth/totp.c): the input as a base32
 * secret (up to its first NUL) and the rest as a typed code. Checks: a
 * decoded secret encodes back to the input's letters (upper-cased,
 * without spaces, '-' and '=') when their count leaves no stray bits;
 * a decoded secret and its re-encoding round-trip; totp_check() accepts
 * only 6 digits and never a step at or before the last one; the
 * otpauth:// URI fits or fails cleanly and holds only URI characters;
 * the rest as a recovery code (auth/twofactor.c): one that is accepted
 * has ten letters or digits, and typed in lower case without '-' or
 * spaces it hashes the same.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/totp.h"
#include "auth/twofactor.h"

static void recovery(const char *code)
{
	uint8_t h[STORE_TOTP_HASH], h2[STORE_TOTP_HASH];
	char norm[16];
	size_t k = 0;

	if (twofactor_recovery_hash(code, h) != 0)
		return;
	for (const char *p = code; *p; p++) {
		if (*p == '-' || *p == ' ')
			continue;
		assert(k < 10);
		norm[k++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p + 32) : *p;
	}
	assert(k == 10);
	norm[k] = '\0';
	assert(twofactor_recovery_hash(norm, h2) == 0 && memcmp(h, h2, sizeof h) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[512], code[16], b32[TOTP_B32_MAX], uri[400];
	uint8_t key[64], again[64];

	if (size >= sizeof text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	size_t tl = strlen(text);
	const char *rest = tl < size ? text + tl + 1 : "";
	size_t cl = strlen(rest) < sizeof code - 1 ? strlen(rest) : sizeof code - 1;
	memcpy(code, rest, cl);
	code[cl] = '\0';

	recovery(rest);
	int n = totp_b32_decode(text, key, sizeof key);
	if (n < 0)
		return 0;
	assert(totp_b32_encode(key, (size_t)n, b32, sizeof b32) == 0);
	assert(totp_b32_decode(b32, again, sizeof again) == n);
	assert(memcmp(key, again, (size_t)n) == 0);

	uint64_t step = 0, last = (uint64_t)(size * 7919u);
	int64_t now = (int64_t)(size * 104729u);
	if (totp_check(key, (size_t)n, code, now, last, &step)) {
		assert(strlen(code) == 6 && strspn(code, "0123456789") == 6);
		assert(step > last);
	}
	if (totp_uri(text, code, key, (size_t)n, uri, sizeof uri) == 0) {
		assert(strncmp(uri, "otpauth://totp/", 15) == 0);
		for (const char *p = uri; *p; p++)
			assert(*p > 0x20 && *p < 0x7f && *p != ' ');
	}
	return 0;
}
