/*
 * sieve_cache.c — compiled scripts kept per script text, so a delivery
 * compiles an account's script only when its text changed.
 *
 * Entries are keyed by the BLAKE2b-256 of the text (a stored script and
 * its edit are told apart by content, never by name or time) and shared
 * between threads: a compiled script is immutable, and a reference count
 * keeps an entry alive while a run uses it after it was evicted. The
 * table holds SIEVE_CACHE_SLOTS entries; a new one replaces the least
 * recently used. Compile errors are not cached (the caller logs them).
 */
#include <pthread.h>
#include <sodium.h>

#include "core/xalloc.h"
#include "sieve/sieve_private.h"

#define SIEVE_CACHE_SLOTS 256

struct sieve_ref {
	struct sieve_script *script;
	unsigned refs;
	unsigned char key[32];
	uint64_t used;
	int cached;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct sieve_ref *slots[SIEVE_CACHE_SLOTS];
static uint64_t clock_tick;

static void unref_locked(struct sieve_ref *r)
{
	if (--r->refs == 0) {
		sieve_script_free(&r->script);
		free(r);
	}
}

const struct sieve_script *sieve_cache_get(const char *text, size_t len, char err[SIEVE_ERROR_MAX],
                                           struct sieve_ref **ref_r)
{
	unsigned char key[32];
	struct sieve_ref *r;
	int victim = 0;

	crypto_generichash(key, sizeof key, (const unsigned char *)text, len, NULL, 0);
	pthread_mutex_lock(&lock);
	for (int i = 0; i < SIEVE_CACHE_SLOTS; i++) {
		if (slots[i] && memcmp(slots[i]->key, key, 32) == 0) {
			r = slots[i];
			r->refs++;
			r->used = ++clock_tick;
			pthread_mutex_unlock(&lock);
			*ref_r = r;
			return r->script;
		}
	}
	pthread_mutex_unlock(&lock);

	/* Compile outside the lock; two threads may both compile a new text. */
	struct sieve_script *s = sieve_compile(text, len, err);
	if (!s)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->script = s;
	memcpy(r->key, key, 32);
	r->refs = 2; /* the caller's and the table's */
	pthread_mutex_lock(&lock);
	r->used = ++clock_tick;
	for (int i = 0; i < SIEVE_CACHE_SLOTS; i++) {
		if (!slots[i]) {
			victim = i;
			break;
		}
		if (slots[i]->used < slots[victim]->used)
			victim = i;
	}
	if (slots[victim])
		unref_locked(slots[victim]);
	slots[victim] = r;
	pthread_mutex_unlock(&lock);
	*ref_r = r;
	return s;
}

void sieve_cache_release(struct sieve_ref **ref)
{
	if (!ref || !*ref)
		return;
	pthread_mutex_lock(&lock);
	unref_locked(*ref);
	pthread_mutex_unlock(&lock);
	*ref = NULL;
}

void sieve_cache_clear(void)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < SIEVE_CACHE_SLOTS; i++)
		if (slots[i]) {
			unref_locked(slots[i]);
			slots[i] = NULL;
		}
	pthread_mutex_unlock(&lock);
}

size_t sieve_cache_count(void)
{
	size_t n = 0;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < SIEVE_CACHE_SLOTS; i++)
		n += slots[i] != NULL;
	pthread_mutex_unlock(&lock);
	return n;
}
