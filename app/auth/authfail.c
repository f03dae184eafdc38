/*
 * authfail.c — per-address failed-login counter and reply delay. See
 * authfail.h for the policy.
 */
#include "auth/authfail.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <string.h>

struct entry {
	uint8_t key[17]; /* family byte, then 4 (IPv4) or 8 (IPv6 /64) address bytes */
	unsigned failures;
	uint64_t last_ms; /* 0: slot unused */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry table[AUTHFAIL_TABLE_MAX];

static void make_key(const char *ip, uint8_t key[17])
{
	uint8_t a[16];

	memset(key, 0, 17);
	if (ip && inet_pton(AF_INET, ip, a) == 1) {
		key[0] = 4;
		memcpy(key + 1, a, 4);
	} else if (ip && inet_pton(AF_INET6, ip, a) == 1) {
		key[0] = 6;
		memcpy(key + 1, a, 8); /* the /64 */
	}
}

/*
 * Each loop caches its clock, so another thread may pass a time slightly
 * before an entry's last failure: that is "just now", not 584 million
 * years later.
 */
static int expired(const struct entry *e, uint64_t now_ms)
{
	return e->last_ms == 0 ||
	       (now_ms > e->last_ms && now_ms - e->last_ms >= AUTHFAIL_WINDOW_MS);
}

/* The live entry for key, or NULL. Called with lock held. */
static struct entry *find(const uint8_t key[17], uint64_t now_ms)
{
	for (size_t i = 0; i < AUTHFAIL_TABLE_MAX; i++) {
		struct entry *e = &table[i];
		if (e->last_ms && memcmp(e->key, key, 17) == 0)
			return expired(e, now_ms) ? NULL : e;
	}
	return NULL;
}

/* A slot for a new key: a free or expired one, else the stalest. */
static struct entry *take_slot(const uint8_t key[17], uint64_t now_ms)
{
	struct entry *oldest = &table[0];

	for (size_t i = 0; i < AUTHFAIL_TABLE_MAX; i++) {
		struct entry *e = &table[i];
		/* An expired entry of the same key must be reused, not duplicated. */
		if (e->last_ms && memcmp(e->key, key, 17) == 0) {
			oldest = e;
			break;
		}
		if (expired(e, now_ms)) {
			oldest = e;
			continue;
		}
		if (!expired(oldest, now_ms) && e->last_ms < oldest->last_ms)
			oldest = e;
	}
	memcpy(oldest->key, key, 17);
	oldest->failures = 0;
	oldest->last_ms = 0;
	return oldest;
}

unsigned authfail_failed(const char *ip, uint64_t now_ms)
{
	uint8_t key[17];
	unsigned n, delay = AUTHFAIL_FIRST_DELAY_MS;

	make_key(ip, key);
	if (now_ms == 0)
		now_ms = 1; /* 0 marks a free slot */
	pthread_mutex_lock(&lock);
	struct entry *e = find(key, now_ms);
	if (!e)
		e = take_slot(key, now_ms);
	if (e->failures < UINT32_MAX)
		e->failures++;
	if (now_ms > e->last_ms)
		e->last_ms = now_ms;
	n = e->failures;
	pthread_mutex_unlock(&lock);

	for (unsigned i = 1; i < n && delay < AUTHFAIL_MAX_DELAY_MS; i++)
		delay *= 2;
	return delay < AUTHFAIL_MAX_DELAY_MS ? delay : AUTHFAIL_MAX_DELAY_MS;
}

unsigned authfail_count(const char *ip, uint64_t now_ms)
{
	uint8_t key[17];
	unsigned n = 0;

	make_key(ip, key);
	pthread_mutex_lock(&lock);
	struct entry *e = find(key, now_ms);
	if (e)
		n = e->failures;
	pthread_mutex_unlock(&lock);
	return n;
}

int authfail_blocked(const char *ip, uint64_t now_ms)
{
	return authfail_count(ip, now_ms) >= AUTHFAIL_BLOCK_AFTER;
}

void authfail_succeeded(const char *ip)
{
	uint8_t key[17];

	make_key(ip, key);
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < AUTHFAIL_TABLE_MAX; i++) {
		if (table[i].last_ms && memcmp(table[i].key, key, 17) == 0) {
			memset(&table[i], 0, sizeof(table[i]));
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

void authfail_reset(void)
{
	pthread_mutex_lock(&lock);
	memset(table, 0, sizeof(table));
	pthread_mutex_unlock(&lock);
}
