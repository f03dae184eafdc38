/*
 * fuzz_admin_secret.c — opening a sealed setting read back from the store
 * (admin_secret.h) with a fixed key. The input, cut at its first NUL, is
 * opened as stored text: whatever it holds, the output is NUL-terminated
 * and "" after a refusal; only text sealed with the key opens. The input
 * (at most the longest value, without NUL) is also sealed and must open to
 * itself, and not with another key.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_secret.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[ADMIN_SECRET_KEY_BYTES] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	static const uint8_t other[ADMIN_SECRET_KEY_BYTES] = { 9, 8, 7 };
	char *in = malloc(size + 1), out[ADMIN_SECRET_VALUE_MAX + 1];
	char sealed[ADMIN_SECRET_SEALED_MAX];

	memcpy(in, data, size);
	in[size] = '\0';
	int r = admin_secret_open_with(key, in, out, sizeof out);
	assert(r == 0 || r == -1);
	assert(strlen(out) < sizeof out && (r == 0 || out[0] == '\0'));
	if (r == 0)
		assert(admin_secret_is_sealed(in));

	size_t n = strlen(in) > ADMIN_SECRET_VALUE_MAX ? ADMIN_SECRET_VALUE_MAX : strlen(in);
	in[n] = '\0';
	assert(admin_secret_seal_with(key, in, sealed, sizeof sealed) == 0);
	assert(admin_secret_open_with(key, sealed, out, sizeof out) == 0 && strcmp(out, in) == 0);
	assert(admin_secret_open_with(other, sealed, out, sizeof out) == -1 && out[0] == '\0');
	free(in);
	return 0;
}
