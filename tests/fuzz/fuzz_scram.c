/*
 * fuzz_scram.c — the SCRAM server's parsers (auth/scram.h). The first
 * octet picks the hash; the rest, cut at the first LF, is the client-first
 * message then the client-final message, fed to an exchange whose keys
 * and server nonce are fixed. Checks: a first message taken has a user
 * name without NUL, of at most SCRAM_USER_MAX octets, and a server-first
 * reply that starts with its own nonce; the exchange is over after the
 * final message whatever it held, and a final message cannot pass without
 * the proof (1 would need a preimage: never seen); the whole input as an
 * RFC 5803 stored form either is refused or formats back to what parses
 * to the same keys.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "auth/scram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct scram_keys keys[SCRAM_HASHES];
	static int made;
	struct scram_server s;
	char out[SCRAM_MSG_MAX], text[SCRAM_MSG_MAX + 1];

	if (!made) {
		for (int h = 0; h < SCRAM_HASHES; h++)
			scram_keys_derive((enum scram_hash)h, "pencil", 6, (const uint8_t *)"saltsalt", 8,
					  SCRAM_ITER_MIN, &keys[h]);
		made = 1;
	}
	if (size < 1)
		return 0;
	enum scram_hash h = data[0] & 1 ? SCRAM_SHA256 : SCRAM_SHA1;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	const char *lf = memchr(p, '\n', n);
	struct str first = str_make(p, lf ? (size_t)(lf - p) : n);

	int rc = scram_client_first(&s, h, first);
	assert(rc == 0 || rc == -1 || rc == SCRAM_BAD_AUTHZID || rc == SCRAM_BAD_CBIND);
	if (rc == 0) {
		size_t ul = strlen(s.user);
		assert(ul > 0 && ul <= SCRAM_USER_MAX);
		assert(scram_server_first_with(&s, &keys[h], "SNONCE", out, sizeof out) == 0);
		assert(strncmp(out, "r=", 2) == 0 && strstr(out, "SNONCE,s=") != NULL);
		if (lf) {
			struct str fin = str_make(lf + 1, n - (size_t)(lf - p) - 1);
			int f = scram_client_final(&s, &keys[h], fin, out, sizeof out);
			assert(f == -1 || f == 0);
		}
	} else {
		assert(s.step == 2);
	}
	scram_server_end(&s);
	assert(s.step == 2);

	/* The stored form. */
	struct scram_keys k, back;
	size_t tl = n < SCRAM_MSG_MAX ? n : SCRAM_MSG_MAX;
	memcpy(text, p, tl);
	text[tl] = '\0';
	if (scram_keys_parse(text, &k) == 0) {
		char f[SCRAM_STORED_MAX];
		assert(k.iter >= SCRAM_ITER_MIN && k.iter <= SCRAM_ITER_MAX);
		assert(scram_keys_format(&k, f, sizeof f) == 0);
		assert(scram_keys_parse(f, &back) == 0 && back.hash == k.hash && back.iter == k.iter &&
		       back.salt_len == k.salt_len && memcmp(back.salt, k.salt, k.salt_len) == 0 &&
		       memcmp(back.stored_key, k.stored_key, SCRAM_KEY_MAX) == 0);
	}
	return 0;
}
