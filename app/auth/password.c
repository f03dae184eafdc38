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
 *
 * Verified-login cache. Mail clients log in again and again (Thunderbird
 * opens several IMAP connections, phones poll, submission logs in per
 * message batch), and each argon2id verification costs ~40 ms of CPU and
 * 19 MiB. Like Dovecot's auth cache, a successful verification is
 * remembered for PASSWORD_CACHE_TTL seconds as a keyed BLAKE2b digest of
 * (stored hash, password) under a key drawn at start and never stored: the
 * cache holds neither passwords nor anything an attacker could test
 * guesses against offline without that key. Only successes are cached, so
 * wrong guesses still pay full price; a changed password changes the
 * stored hash and so misses. A hit is a fixed-size compare of digests.
 *
 * SASLprep. PLAIN (RFC 4616 §2), POP3 UTF8 USER (RFC 6856 §3), IMAP
 * (RFC 6855) and SMTP AUTH compare passwords after SASLprep (RFC 4013),
 * as SCRAM derives its keys (scram_login.c): a Mac sends "ä" decomposed
 * (NFD), a phone a no-break space where the admin typed a space. So a
 * new hash is of the prepared form (what SCRAM's keys are of), and a
 * check that fails as given is tried once more with the prepared form
 * when preparing changes it. A hash made before (of the text as typed)
 * still matches that text, and password_check() asks for it to be
 * replaced at that login (store_admin.c re-hashes the prepared form,
 * keeping the credentials stamp); a password SASLprep refuses (a control
 * character, a bidi mix) is hashed and checked as given. The second
 * argon2id run happens only when the first failed and the text is not
 * plain ASCII; the dummy check of an unknown user runs twice in the same
 * case, so the time still does not say whether the name exists, and a
 * success through the prepared form caches the form as given too, so
 * the client that sends it pays one run a TTL, as everyone else.
 */
#include "auth/password.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/asan.h"
#include "core/saslprep.h"
#include "core/xalloc.h"

#define PASSWORD_OPSLIMIT 2ULL
#define PASSWORD_MEMLIMIT ((size_t)19 * 1024 * 1024)

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
/* The salt password_verify_dummy() hashes with, drawn at start. */
static unsigned char dummy_salt[crypto_pwhash_SALTBYTES];

#define PASSWORD_CACHE_SLOTS 1024 /* 40 KiB, touched only as used */
#define PASSWORD_CACHE_TTL 3600   /* seconds, as Dovecot's auth_cache_ttl */

struct cache_slot {
	unsigned char digest[32];
	int64_t expires; /* 0 = empty */
};

static struct cache_slot cache[PASSWORD_CACHE_SLOTS];
static unsigned char cache_key[crypto_generichash_KEYBYTES];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long cache_hits;

_Static_assert(PASSWORD_HASH_MAX >= crypto_pwhash_STRBYTES, "PASSWORD_HASH_MAX too small");

static void sodium_setup(void)
{
	if (sodium_init() < 0)
		fatal("auth event=sodium_init_failed");
	randombytes_buf(cache_key, sizeof cache_key);
	randombytes_buf(dummy_salt, sizeof dummy_salt);
}

static void password_init(void)
{
	if (pthread_once(&sodium_once, sodium_setup) != 0)
		fatal("auth event=pthread_once_failed");
}

/*
 * SASLprep(password) in malloc'd memory (*sz_r octets, for prep_free)
 * when it is a different text, else NULL: SASLprep refused it, or it is
 * its own preparation. Printable ASCII and spaces prepare to themselves
 * (RFC 4013 maps and forbids none of them): no allocation for those.
 */
static char *prepared(const char *password, size_t *sz_r)
{
	size_t n = strlen(password), len;
	const unsigned char *p = (const unsigned char *)password;
	size_t i = 0;

	while (i < n && p[i] >= 0x20 && p[i] < 0x7f)
		i++;
	if (i == n)
		return NULL;
	char *out = xmalloc(SASLPREP_OUT_MAX);
	*sz_r = SASLPREP_OUT_MAX;
	if (saslprep(password, n, out, SASLPREP_OUT_MAX, &len) == 0 &&
	    (len != n || memcmp(out, password, n) != 0))
		return out;
	sodium_memzero(out, SASLPREP_OUT_MAX);
	free(out);
	return NULL;
}

static void prep_free(char *p, size_t sz)
{
	if (p) {
		sodium_memzero(p, sz);
		free(p);
	}
}

int password_hash(const char *password, char *out, size_t outsz)
{
	password_init();
	if (outsz < crypto_pwhash_STRBYTES)
		return -1;
	size_t psz = 0;
	char *prep = prepared(password, &psz);
#if TERN_TEST_KNOBS
	/* A sanitizer build (the tests) with TERN_TEST_PASSWORD_AS_TYPED
	 * hashes the text as typed, as builds before SASLprep did: the hashes
	 * a login re-hashes (tests/proto/test_password_rehash.py). A release
	 * build never reads it. */
	if (prep && getenv("TERN_TEST_PASSWORD_AS_TYPED")) {
		prep_free(prep, psz);
		prep = NULL;
	}
#endif
	const char *what = prep ? prep : password;
	int rc = crypto_pwhash_str_alg(out, what, strlen(what), PASSWORD_OPSLIMIT,
	                               PASSWORD_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13);
	prep_free(prep, psz);
	return rc == 0 ? 0 : -1;
}

static int64_t now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec + 1; /* never 0: 0 marks an empty slot */
}

static struct cache_slot *slot_of(const unsigned char d[32])
{
	uint32_t i;
	memcpy(&i, d, sizeof i);
	return &cache[i % PASSWORD_CACHE_SLOTS];
}

/* Computes the digest of (hash, password) into d; the slot when it is
 * cached and fresh, else NULL. */
static struct cache_slot *cache_lookup(const char *hash, const char *password, unsigned char d[32])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, cache_key, sizeof cache_key, 32);
	crypto_generichash_update(&st, (const unsigned char *)hash, strlen(hash) + 1);
	crypto_generichash_update(&st, (const unsigned char *)password, strlen(password));
	crypto_generichash_final(&st, d, 32);
	sodium_memzero(&st, sizeof st);

	struct cache_slot *s = slot_of(d), *hit = NULL;
	pthread_mutex_lock(&cache_lock);
	if (s->expires > now_s() && sodium_memcmp(s->digest, d, 32) == 0) {
		hit = s;
		cache_hits++;
	}
	pthread_mutex_unlock(&cache_lock);
	return hit;
}

static void cache_store(const unsigned char d[32])
{
	struct cache_slot *s = slot_of(d);
	pthread_mutex_lock(&cache_lock);
	memcpy(s->digest, d, 32);
	s->expires = now_s() + PASSWORD_CACHE_TTL;
	pthread_mutex_unlock(&cache_lock);
}

unsigned long password_cache_hits(void)
{
	pthread_mutex_lock(&cache_lock);
	unsigned long n = cache_hits;
	pthread_mutex_unlock(&cache_lock);
	return n;
}

void password_cache_clear(void)
{
	pthread_mutex_lock(&cache_lock);
	sodium_memzero(cache, sizeof cache);
	pthread_mutex_unlock(&cache_lock);
}

int password_check(const char *hash, const char *password, int *rehash_r)
{
	int stale = 0;

	password_init();
	if (rehash_r)
		*rehash_r = 0;
	/* libsodium reads the string up to its NUL; refuse anything unbounded. */
	if (hash == NULL || memchr(hash, '\0', crypto_pwhash_STRBYTES) == NULL)
		return password_verify_dummy(password);
	unsigned char d[32], dp[32];
	struct cache_slot *slot = cache_lookup(hash, password, d);
	/* A hit says nothing of the form that matched: the verification that
	 * filled the slot asked for the re-hash, if one was due. */
	int ok = slot != NULL;
	size_t psz = 0;
	char *prep = NULL;
	if (!ok && crypto_pwhash_str_verify(hash, password, strlen(password)) == 0) {
		cache_store(d);
		ok = 1;
		/* The text as typed matched: a hash made before SASLprep, of a
		 * text SASLprep changes, is replaced by one of its preparation
		 * (which then matches every spelling of it). */
		prep = prepared(password, &psz);
		stale = prep != NULL;
	} else if (!ok) {
		/* Failed as given: the prepared form, when it is another text. */
		prep = prepared(password, &psz);
		ok = prep && (cache_lookup(hash, prep, dp) ||
		              crypto_pwhash_str_verify(hash, prep, strlen(prep)) == 0);
		if (ok) {
			cache_store(dp);
			cache_store(d);
		}
	}
	prep_free(prep, psz);
	sodium_memzero(dp, sizeof dp);
	if (ok && rehash_r)
		*rehash_r = stale || password_needs_rehash(hash);
	return ok;
}

int password_verify(const char *hash, const char *password)
{
	return password_check(hash, password, NULL);
}

int password_verify_dummy(const char *password)
{
	/* The length of the digest a crypto_pwhash_str() string holds. */
	unsigned char out[32];

	password_init();
	/*
	 * What a verification against a stored string costs is one argon2id
	 * computation with the string's parameters: the same computation,
	 * with our parameters and a salt nobody stores, costs the same and
	 * needs no stored string. (It used to verify against a hash of a
	 * random password made at start: a second argon2id run in every
	 * process that hashed or checked a password, `tern account add`
	 * included.) An out-of-memory failure costs less, as it would for a
	 * real user.
	 */
	if (crypto_pwhash(out, sizeof out, password, strlen(password), dummy_salt,
	                  PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13) == 0)
		sodium_memzero(out, sizeof out);
	/* password_verify() runs a second time for a text SASLprep changes. */
	size_t psz = 0;
	char *prep = prepared(password, &psz);
	if (prep && crypto_pwhash(out, sizeof out, prep, strlen(prep), dummy_salt,
	                          PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT,
	                          crypto_pwhash_ALG_ARGON2ID13) == 0)
		sodium_memzero(out, sizeof out);
	prep_free(prep, psz);
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
