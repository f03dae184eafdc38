/*
 * fuzz_bearer.c — JMAP bearer token parsing (auth/bearer.c). Checks: a
 * token that parses has a nonzero account and a secret of the app
 * password's length, and formats back to exactly the input (one spelling
 * per token); nothing is read past the input (ASan).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/bearer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char secret[STORE_APPPASS_SECRET_LEN + 1], again[BEARER_TOKEN_MAX];
	uint32_t account = 0;
	/* An exact-size copy: a read past the end is an ASan report. */
	char *tok = malloc(size ? size : 1);

	memcpy(tok, data, size);
	if (bearer_token_parse(tok, size, &account, secret, sizeof secret) == 0) {
		assert(account != 0 && strlen(secret) == STORE_APPPASS_SECRET_LEN);
		assert(bearer_token_format(account, secret, again, sizeof again) == 0);
		assert(strlen(again) == size && memcmp(again, tok, size) == 0);
	}
	free(tok);
	return 0;
}
