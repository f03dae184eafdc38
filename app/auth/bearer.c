/*
 * bearer.c — JMAP bearer tokens as text. See bearer.h.
 */
#include "auth/bearer.h"

#include <stdio.h>
#include <string.h>

#include "core/hex.h"

int bearer_token_format(uint32_t account, const char *secret, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "tj1.%x.%s", account, secret);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

int bearer_token_parse(const char *tok, size_t len, uint32_t *account_r, char *secret,
		       size_t secretsz)
{
	uint32_t id = 0;
	size_t i = 4, digits = 0;

	if (len < 4 || memcmp(tok, "tj1.", 4) != 0)
		return -1;
	/* Up to 8 lowercase hex digits, no leading zero (one spelling per
	 * id), not 0. */
	for (; i < len && tok[i] != '.'; i++) {
		int v = hex_digit_lower(tok[i]);
		if (v < 0 || digits == 8 || (digits == 0 && v == 0))
			return -1;
		id = id << 4 | (uint32_t)v;
		digits++;
	}
	if (digits == 0 || i == len)
		return -1;
	i++; /* the '.' */
	/* The secret: what make_secret() writes, "xxxx-xxxx-xxxx-xxxx". */
	size_t n = len - i;
	if (n != STORE_APPPASS_SECRET_LEN || secretsz < n + 1)
		return -1;
	for (size_t k = 0; k < n; k++) {
		char c = tok[i + k];
		int dash = k % 5 == 4;
		if (dash ? c != '-' : !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return -1;
	}
	memcpy(secret, tok + i, n);
	secret[n] = '\0';
	*account_r = id;
	return 0;
}
