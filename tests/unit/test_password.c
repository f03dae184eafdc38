/*
 * test_password.c — argon2id hashing and verification.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth/password.h"
#include "unit.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(void)
{
	char h1[PASSWORD_HASH_MAX], h2[PASSWORD_HASH_MAX], small[16];

	double t0 = now_ms();
	CHECK_EQ_INT(password_hash("correct horse battery staple", h1, sizeof h1), 0);
	double t1 = now_ms();
	CHECK(strncmp(h1, "$argon2id$", 10) == 0);
	CHECK(strstr(h1, "m=19456,t=2,p=1") != NULL);
	CHECK_EQ_INT(password_verify(h1, "correct horse battery staple"), 1);
	CHECK_EQ_INT(password_verify(h1, "correct horse battery stapl"), 0);
	CHECK_EQ_INT(password_verify(h1, ""), 0);

	/* A fresh salt each time: same password, different strings, both verify. */
	CHECK_EQ_INT(password_hash("correct horse battery staple", h2, sizeof h2), 0);
	CHECK(strcmp(h1, h2) != 0);
	CHECK_EQ_INT(password_verify(h2, "correct horse battery staple"), 1);

	/* Non-ASCII and empty passwords are just bytes. */
	CHECK_EQ_INT(password_hash("pässwörd", h2, sizeof h2), 0);
	CHECK_EQ_INT(password_verify(h2, "pässwörd"), 1);
	CHECK_EQ_INT(password_verify(h2, "passwort"), 0);
	CHECK_EQ_INT(password_hash("", h2, sizeof h2), 0);
	CHECK_EQ_INT(password_verify(h2, ""), 1);

	/* Malformed hashes never match. */
	CHECK_EQ_INT(password_verify("", "x"), 0);
	CHECK_EQ_INT(password_verify("$argon2id$garbage", "x"), 0);
	CHECK_EQ_INT(password_verify("plaintext", "plaintext"), 0);
	CHECK_EQ_INT(password_verify(NULL, "x"), 0);

	/* Verified-login cache: a repeated success is answered from it; a
	 * wrong password, or the right one against another stored hash (a
	 * changed or disabled password), never is. */
	password_cache_clear();
	CHECK_EQ_INT(password_hash("cached pw", h1, sizeof h1), 0);
	unsigned long hits0 = password_cache_hits();
	CHECK_EQ_INT(password_verify(h1, "cached pw"), 1);
	CHECK_EQ_INT(password_cache_hits(), hits0);
	CHECK_EQ_INT(password_verify(h1, "cached pw"), 1);
	CHECK_EQ_INT(password_cache_hits(), hits0 + 1);
	CHECK_EQ_INT(password_verify(h1, "cached pW"), 0);
	CHECK_EQ_INT(password_verify(h1, "cached pw2"), 0);
	CHECK_EQ_INT(password_cache_hits(), hits0 + 1);
	char disabled[PASSWORD_HASH_MAX + 1];
	snprintf(disabled, sizeof disabled, "!%s", h1);
	CHECK_EQ_INT(password_verify(disabled, "cached pw"), 0);
	CHECK_EQ_INT(password_hash("cached pw", h2, sizeof h2), 0);
	CHECK_EQ_INT(password_verify(h2, "cached pw"), 1); /* new salt: a miss */
	CHECK_EQ_INT(password_cache_hits(), hits0 + 1);
	password_cache_clear();
	CHECK_EQ_INT(password_verify(h1, "cached pw"), 1);
	CHECK_EQ_INT(password_cache_hits(), hits0 + 1);

	/*
	 * SASLprep (RFC 4013): the NFC and NFD spellings of one password,
	 * and a no-break space for a space, are the same password, whichever
	 * form set it. They were not: a Mac client's NFD of a password set
	 * in NFC failed.
	 */
	static const char nfc[] = "p\xc3\xa4ss-w\xc3\xb6rd-1";   /* U+00E4, U+00F6 */
	static const char nfd[] = "pa\xcc\x88ss-wo\xcc\x88rd-1"; /* a, o + U+0308 */
	static const char nbsp[] = "two\xc2\xa0words";             /* U+00A0 */
	CHECK_EQ_INT(password_hash(nfc, h1, sizeof h1), 0);
	CHECK_EQ_INT(password_verify(h1, nfc), 1);
	CHECK_EQ_INT(password_verify(h1, nfd), 1);
	CHECK_EQ_INT(password_verify(h1, "pass-word-1"), 0);
	CHECK_EQ_INT(password_hash(nfd, h1, sizeof h1), 0);
	CHECK_EQ_INT(password_verify(h1, nfc), 1); /* stored prepared */
	CHECK_EQ_INT(password_verify(h1, nfd), 1);
	CHECK_EQ_INT(password_hash(nbsp, h1, sizeof h1), 0);
	CHECK_EQ_INT(password_verify(h1, "two words"), 1);
	CHECK_EQ_INT(password_verify(h1, nbsp), 1);
	CHECK_EQ_INT(password_verify(h1, "twowords"), 0);
	CHECK_EQ_INT(password_hash("two words", h1, sizeof h1), 0);
	CHECK_EQ_INT(password_verify(h1, nbsp), 1);
	/* A success through the prepared form is cached for the form sent. */
	password_cache_clear();
	CHECK_EQ_INT(password_hash(nfc, h1, sizeof h1), 0);
	unsigned long hits1 = password_cache_hits();
	CHECK_EQ_INT(password_verify(h1, nfd), 1);
	CHECK_EQ_INT(password_cache_hits(), hits1);
	CHECK_EQ_INT(password_verify(h1, nfd), 1);
	CHECK_EQ_INT(password_cache_hits(), hits1 + 1);
	/* A hash made before, of the text as typed, still takes that text. */
	CHECK_EQ_INT(crypto_pwhash_str(h1, nfd, strlen(nfd), 2, 19u << 20), 0);
	CHECK_EQ_INT(password_verify(h1, nfd), 1);
	CHECK_EQ_INT(crypto_pwhash_str(h1, nbsp, strlen(nbsp), 2, 19u << 20), 0);
	CHECK_EQ_INT(password_verify(h1, nbsp), 1);
	/* SASLprep refuses a control character: hashed and checked as given. */
	CHECK_EQ_INT(password_hash("bell\x07pw", h1, sizeof h1), 0);
	CHECK_EQ_INT(password_verify(h1, "bell\x07pw"), 1);
	CHECK_EQ_INT(password_verify(h1, "bellpw"), 0);
	CHECK_EQ_INT(password_verify_dummy(nfd), 0);

	/* Output buffer too small. */
	CHECK_EQ_INT(password_hash("x", small, sizeof small), -1);

	/*
	 * The dummy costs what a real verification costs: printed, not
	 * asserted (no timing assertions in tests).
	 */
	double t2 = now_ms();
	CHECK_EQ_INT(password_verify(h1, "wrong"), 0);
	double t3 = now_ms();
	CHECK_EQ_INT(password_verify_dummy("wrong"), 0);
	double t4 = now_ms();

	CHECK_EQ_INT(password_needs_rehash(h1), 0);
	CHECK_EQ_INT(password_needs_rehash("$argon2i$v=19$m=4096,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"),
	             1);
	CHECK_EQ_INT(
	    password_needs_rehash("$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"), 1);

	fprintf(stderr, "test_password: hash %.1f ms, verify %.1f ms, dummy %.1f ms\n", t1 - t0,
	        t3 - t2, t4 - t3);
	return unit_done("test_password");
}
