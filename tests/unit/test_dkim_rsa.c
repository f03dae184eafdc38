/*
 * test_dkim_rsa.c — dkim_rsa_verify with its per-thread cache of public
 * keys: the right answer for every key whether it is parsed or found in
 * the cache, after the cache was cycled past its size, for a key given in
 * both encodings, for a signature made by another key, and for keys it
 * refuses (not a key, an exponent over 64 bits), in two threads at once.
 *
 * The keys are made with libcrypto (512 bits: quick, and the size does not
 * matter to the cache); the signatures with RSA_sign over a SHA-256 digest.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/bn.h>
#include <openssl/obj_mac.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdint.h>

#include "dkim/dkim_rsa.h"
#include "unit.h"

#define NKEYS 40 /* over the cache's 32 slots */

struct key {
	uint8_t spki[600], bare[600];
	size_t spki_len, bare_len;
	uint8_t sig[64];
	unsigned siglen;
};

static struct key keys[NKEYS];
static uint8_t digest[32];

static int make_key(struct key *k, unsigned long e_word, const BIGNUM *e_big)
{
	RSA *rsa = RSA_new();
	BIGNUM *e = e_big ? BN_dup(e_big) : BN_new();
	int ok = rsa && e && (e_big || BN_set_word(e, e_word)) &&
		 RSA_generate_key_ex(rsa, 512, e, NULL) == 1 &&
		 RSA_sign(NID_sha256, digest, 32, k->sig, &k->siglen, rsa) == 1;
	unsigned char *p = k->spki;
	int n = ok ? i2d_RSA_PUBKEY(rsa, &p) : -1;
	k->spki_len = n > 0 ? (size_t)n : 0;
	p = k->bare;
	n = ok ? i2d_RSAPublicKey(rsa, &p) : -1;
	k->bare_len = n > 0 ? (size_t)n : 0;
	RSA_free(rsa);
	BN_free(e);
	return ok && k->spki_len && k->bare_len ? 0 : -1;
}

/* Every key verifies its own signature and refuses the next key's, and a
 * changed digest; rounds > 1 go through the cache again after it cycled. */
static void *verify_all(void *arg)
{
	int rounds = *(int *)arg;
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < NKEYS; i++) {
			struct key *k = &keys[i], *other = &keys[(i + 1) % NKEYS];
			unsigned bits = 0;
			uint8_t wrong[32];
			memcpy(wrong, digest, 32);
			wrong[i % 32] ^= 1;
			CHECK_EQ_INT(dkim_rsa_verify(k->spki, k->spki_len, digest, k->sig, k->siglen, &bits), 1);
			CHECK_EQ_INT(bits, 512);
			CHECK_EQ_INT(dkim_rsa_verify(k->bare, k->bare_len, digest, k->sig, k->siglen, &bits), 1);
			CHECK_EQ_INT(dkim_rsa_verify(k->spki, k->spki_len, wrong, k->sig, k->siglen, &bits), 0);
			CHECK_EQ_INT(dkim_rsa_verify(k->spki, k->spki_len, digest, other->sig, other->siglen,
						     &bits), 0);
			/* Found in the cache right after: the same answers. */
			CHECK_EQ_INT(dkim_rsa_verify(k->spki, k->spki_len, digest, k->sig, k->siglen, &bits), 1);
			CHECK_EQ_INT(dkim_rsa_verify(k->bare, k->bare_len, wrong, k->sig, k->siglen, &bits), 0);
		}
	return NULL;
}

int main(void)
{
	for (int i = 0; i < 32; i++)
		digest[i] = (uint8_t)(i * 37 + 1);
	for (int i = 0; i < NKEYS; i++)
		if (make_key(&keys[i], i % 2 ? 65537 : 3, NULL) != 0) {
			fprintf(stderr, "cannot make key %d\n", i);
			return 1;
		}

	int one = 1, three = 3;
	verify_all(&three);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, verify_all, &one) == 0);
	verify_all(&one);
	pthread_join(t, NULL);

	/* Not a key; a key cut short; an exponent over 64 bits (refused, the
	 * size still told), asked twice: never kept as a good key. */
	unsigned bits = 0;
	struct key *k = &keys[0];
	CHECK_EQ_INT(dkim_rsa_verify((const uint8_t *)"junk", 4, digest, k->sig, k->siglen, &bits), -1);
	CHECK_EQ_INT(dkim_rsa_verify(k->spki, k->spki_len - 1, digest, k->sig, k->siglen, &bits), -1);
	struct key big;
	BIGNUM *e = BN_new();
	CHECK(e && BN_set_bit(e, 70) && BN_set_bit(e, 0));
	CHECK(make_key(&big, 0, e) == 0);
	BN_free(e);
	for (int i = 0; i < 2; i++) {
		bits = 0;
		CHECK_EQ_INT(dkim_rsa_verify(big.spki, big.spki_len, digest, big.sig, big.siglen, &bits), -2);
		CHECK_EQ_INT(bits, 512);
	}
	return unit_done("test_dkim_rsa");
}
