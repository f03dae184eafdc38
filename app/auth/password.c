/*
 * password.c — argon2id hashing through libsodium (see password.h).
 *
 * Cost parameters. OWASP's Password Storage Cheat Sheet lists argon2id with
 * m=19 MiB, t=2, p=1 as its minimum configuration. We take exactly that:
 * tern runs on home servers and small VPSes where a login storm against a
 * larger memory cost would exhaust RAM (each verification holds the whole
 * memory cost at once), while 19 MiB / 2 passes still makes an offline
 * guess cost tens of milliseconds and 19 MiB of memory bandwidth — the
 * memory hardness, not the time, is what hurts GPU/ASIC attackers.
 * libsodium fixes the parallelism at 1. Stored strings carry their
 * parameters, so raising these later only needs password_needs_rehash().
 */
#include "auth/password.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "core/xalloc.h"

#define PASSWORD_OPSLIMIT 2ULL
#define PASSWORD_MEMLIMIT ((size_t)19 * 1024 * 1024)

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
/* A real hash of a random password, for password_verify_dummy(). */
static char dummy_hash[crypto_pwhash_STRBYTES];

_Static_assert(PASSWORD_HASH_MAX >= crypto_pwhash_STRBYTES, "PASSWORD_HASH_MAX too small");

static void sodium_setup(void)
{
	unsigned char rnd[32];
	char pw[sizeof rnd * 2 + 1];

	if (sodium_init() < 0)
		fatal("auth event=sodium_init_failed");
	/*
	 * The dummy hash must cost what a real one costs, so it is made with
	 * the same parameters; its password is random and never kept.
	 */
	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(pw, sizeof pw, rnd, sizeof rnd);
	if (crypto_pwhash_str_alg(dummy_hash, pw, strlen(pw), PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT,
	                          crypto_pwhash_ALG_ARGON2ID13) != 0)
		fatal("auth event=dummy_hash_failed reason=out_of_memory");
	sodium_memzero(pw, sizeof pw);
}

static void password_init(void)
{
	if (pthread_once(&sodium_once, sodium_setup) != 0)
		fatal("auth event=pthread_once_failed");
}

int password_hash(const char *password, char *out, size_t outsz)
{
	password_init();
	if (outsz < crypto_pwhash_STRBYTES)
		return -1;
	if (crypto_pwhash_str_alg(out, password, strlen(password), PASSWORD_OPSLIMIT,
	                          PASSWORD_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -1;
	return 0;
}

int password_verify(const char *hash, const char *password)
{
	password_init();
	/* libsodium reads the string up to its NUL; refuse anything unbounded. */
	if (hash == NULL || memchr(hash, '\0', crypto_pwhash_STRBYTES) == NULL)
		return password_verify_dummy(password);
	return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

int password_verify_dummy(const char *password)
{
	password_init();
	/* The result is meaningless (the password is random); only the cost counts. */
	int r = crypto_pwhash_str_verify(dummy_hash, password, strlen(password));
	(void)r;
	return 0;
}

int password_needs_rehash(const char *hash)
{
	password_init();
	if (hash == NULL || memchr(hash, '\0', crypto_pwhash_STRBYTES) == NULL)
		return 1;
	if (strncmp(hash, "$argon2id$", 10) != 0)
		return 1;
	return crypto_pwhash_str_needs_rehash(hash, PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT) != 0;
}
