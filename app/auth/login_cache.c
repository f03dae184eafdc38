/*
 * login_cache.c — pairs that passed the login flow, remembered briefly
 * (see login_cache.h).
 */
#include "auth/login_cache.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "store/store.h"

struct entry {
	uint8_t key[32];
	uint32_t account, apppass;
	uint64_t cred;
	int64_t expires; /* 0 = free */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry table[LOGIN_CACHE_SLOTS];
static uint8_t secret[crypto_generichash_KEYBYTES];
static int have_secret;

static int64_t now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec + 1; /* never 0 */
}

/* Under the lock. */
static void key_of(struct str user, struct str pass, uint8_t out[32])
{
	crypto_generichash_state h;

	if (!have_secret) {
		randombytes_buf(secret, sizeof secret);
		have_secret = 1;
	}
	crypto_generichash_init(&h, secret, sizeof secret, 32);
	crypto_generichash_update(&h, (const unsigned char *)user.p, user.len);
	crypto_generichash_update(&h, (const unsigned char *)"", 1);
	crypto_generichash_update(&h, (const unsigned char *)pass.p, pass.len);
	crypto_generichash_final(&h, out, 32);
}

int login_cache_get(struct store *st, struct str user, struct str pass, uint32_t *account_r,
		    uint32_t *apppass_r, uint64_t *cred_r)
{
	uint8_t k[32];
	uint32_t account = 0, apppass = 0;
	uint64_t cred = 0, now_cred = 0;
	int64_t now = now_s();
	int hit = 0;

	pthread_mutex_lock(&lock);
	key_of(user, pass, k);
	for (size_t i = 0; i < LOGIN_CACHE_SLOTS; i++) {
		struct entry *e = &table[i];
		if (e->expires > now && sodium_memcmp(e->key, k, 32) == 0) {
			account = e->account;
			apppass = e->apppass;
			cred = e->cred;
			hit = 1;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	sodium_memzero(k, sizeof k);
	if (!hit || store_account_creds(st, &account, &apppass, &now_cred, 1) != STORE_OK || now_cred != cred)
		return 0;
	*account_r = account;
	if (apppass_r)
		*apppass_r = apppass;
	if (cred_r)
		*cred_r = cred;
	return 1;
}

void login_cache_put(struct str user, struct str pass, uint32_t account, uint32_t apppass,
		     uint64_t cred)
{
	uint8_t k[32];
	int64_t now = now_s();
	struct entry *victim = &table[0];

	pthread_mutex_lock(&lock);
	key_of(user, pass, k);
	for (size_t i = 0; i < LOGIN_CACHE_SLOTS; i++) {
		struct entry *e = &table[i];
		if (e->expires > now && memcmp(e->key, k, 32) == 0) {
			victim = e; /* the same pair again: refresh it */
			break;
		}
		if (e->expires < victim->expires)
			victim = e;
	}
	memcpy(victim->key, k, 32);
	victim->account = account;
	victim->apppass = apppass;
	victim->cred = cred;
	victim->expires = now + LOGIN_CACHE_TTL_S;
	pthread_mutex_unlock(&lock);
	sodium_memzero(k, sizeof k);
}

void login_cache_clear(void)
{
	pthread_mutex_lock(&lock);
	memset(table, 0, sizeof table);
	pthread_mutex_unlock(&lock);
}
