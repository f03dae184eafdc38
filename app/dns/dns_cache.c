/*
 * dns_cache.c — the shared answer cache. See dns_cache.h.
 */
#include "dns/dns_cache.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/xalloc.h"

#define BUCKETS 4096 /* a power of two */

struct entry {
	struct entry *hnext;          /* bucket chain */
	struct entry *prev, *next;    /* LRU list, most recent at head */
	uint64_t expires_ms;
	size_t bytes;                 /* what this entry counts against the budget */
	uint16_t type;
	uint8_t failed;               /* a remembered failure (dns_cache_put_failure), not an answer */
	char *name;                   /* canonical, points into this allocation */
	unsigned char *ans;           /* dns_answer_pack()ed, in this allocation */
};

struct dns_cache {
	pthread_mutex_t mu;
	size_t max_bytes, bytes, entries;
	unsigned char key[crypto_shorthash_KEYBYTES]; /* the buckets' SipHash key */
	struct entry *head, *tail;
	struct entry *bucket[BUCKETS];
};

struct dns_cache *dns_cache_new(size_t max_bytes)
{
	struct dns_cache *c = xcalloc(1, sizeof *c);
	pthread_mutex_init(&c->mu, NULL);
	c->max_bytes = max_bytes;
	if (getrandom(c->key, sizeof c->key, GRND_NONBLOCK) != (ssize_t)sizeof c->key)
		randombytes_buf(c->key, sizeof c->key);
	return c;
}

void dns_cache_free(struct dns_cache **cp)
{
	struct dns_cache *c = *cp;
	if (!c)
		return;
	*cp = NULL;
	for (struct entry *e = c->head, *n; e; e = n) {
		n = e->next;
		free(e);
	}
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static pthread_once_t shared_once = PTHREAD_ONCE_INIT;
static struct dns_cache *shared;

static void shared_init(void)
{
	shared = dns_cache_new(DNS_CACHE_BYTES_DEFAULT);
}

struct dns_cache *dns_cache_shared(void)
{
	pthread_once(&shared_once, shared_init);
	return shared;
}

/*
 * Keyed (SipHash, a key per cache): names come from strangers (SPF
 * include: and exists: targets, MX hosts), and with a hash anyone can
 * compute they could all be made to share one bucket, every lookup under
 * the lock then walking them all.
 */
static size_t slot(const struct dns_cache *c, const char *name, uint16_t type, int failed)
{
	unsigned char in[DNS_NAME_MAX + 3], out[crypto_shorthash_BYTES];
	size_t n = strlen(name);
	if (n > DNS_NAME_MAX)
		n = DNS_NAME_MAX;
	in[0] = (unsigned char)(type >> 8);
	in[1] = (unsigned char)type;
	in[2] = (unsigned char)failed;
	memcpy(in + 3, name, n);
	crypto_shorthash(out, in, n + 3, c->key);
	uint64_t h;
	memcpy(&h, out, sizeof h);
	return (size_t)(h & (BUCKETS - 1));
}

static struct entry **find(struct dns_cache *c, const char *name, uint16_t type, int failed)
{
	struct entry **pp = &c->bucket[slot(c, name, type, failed)];
	for (; *pp; pp = &(*pp)->hnext)
		if ((*pp)->type == type && (*pp)->failed == failed && strcmp((*pp)->name, name) == 0)
			return pp;
	return pp;
}

static void lru_unlink(struct dns_cache *c, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(struct dns_cache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

/* Removes the entry *pp points at (a bucket link). */
static void drop(struct dns_cache *c, struct entry **pp)
{
	struct entry *e = *pp;
	*pp = e->hnext;
	lru_unlink(c, e);
	c->bytes -= e->bytes;
	c->entries--;
	free(e);
}

/* The live entry for (name, type, failed), moved to the front of the LRU
 * list; its answer is unpacked into *out when out is not NULL. An expired
 * one is dropped. Returns 1 for a hit. */
static int lookup(struct dns_cache *c, const char *name, uint16_t type, int failed,
		  uint64_t now_ms, struct dns_answer *out)
{
	char key[DNS_NAME_MAX];
	int hit = 0;

	if (dns_name_canon(name, key, sizeof key) < 0)
		return 0;
	pthread_mutex_lock(&c->mu);
	struct entry **pp = find(c, key, type, failed), *e = *pp;
	if (e && e->expires_ms <= now_ms) {
		drop(c, pp);
	} else if (e) {
		if (out) {
			dns_answer_unpack(e->ans, out);
			/* Round up: an entry alive for 300 ms more still says 1 second. */
			out->ttl = (uint32_t)((e->expires_ms - now_ms + 999) / 1000);
		}
		lru_unlink(c, e);
		lru_push(c, e);
		hit = 1;
	}
	pthread_mutex_unlock(&c->mu);
	return hit;
}

int dns_cache_get(struct dns_cache *c, const char *name, uint16_t type, uint64_t now_ms,
		  struct dns_answer *out)
{
	return lookup(c, name, type, 0, now_ms, out);
}

/* Stores a copy of *a for (name, type, failed), kept ttl seconds from now_ms. */
static void store(struct dns_cache *c, const char *name, uint16_t type, int failed,
		  const struct dns_answer *a, uint32_t ttl, uint64_t now_ms)
{
	char key[DNS_NAME_MAX];

	if (ttl == 0 || dns_name_canon(name, key, sizeof key) < 0)
		return;
	size_t klen = strlen(key) + 1, asz = dns_answer_size(a);
	/* The answer packed, then the name. */
	size_t bytes = sizeof(struct entry) + asz + klen;
	if (bytes > c->max_bytes)
		return;
	struct entry *e = xmalloc(bytes);
	memset(e, 0, sizeof *e);
	e->ans = (unsigned char *)(e + 1);
	dns_answer_pack(a, e->ans);
	e->name = (char *)e->ans + asz;
	memcpy(e->name, key, klen);
	e->type = type;
	e->failed = (uint8_t)failed;
	e->bytes = bytes;
	if (ttl > DNS_CACHE_TTL_MAX)
		ttl = DNS_CACHE_TTL_MAX;
	e->expires_ms = now_ms + (uint64_t)ttl * 1000;

	pthread_mutex_lock(&c->mu);
	struct entry **pp = find(c, key, type, failed);
	if (*pp)
		drop(c, pp);
	while (c->bytes + bytes > c->max_bytes && c->tail)
		drop(c, find(c, c->tail->name, c->tail->type, c->tail->failed));
	pp = find(c, key, type, failed); /* evictions may have changed the chain */
	e->hnext = NULL;
	*pp = e;
	lru_push(c, e);
	c->bytes += bytes;
	c->entries++;
	pthread_mutex_unlock(&c->mu);
}

void dns_cache_put(struct dns_cache *c, const char *name, uint16_t type,
		   const struct dns_answer *a, uint64_t now_ms)
{
	if (a->status == DNS_ANS_TEMP)
		return;
	store(c, name, type, 0, a, a->ttl, now_ms);
}

void dns_cache_put_failure(struct dns_cache *c, const char *name, uint16_t type, uint32_t ttl,
			   uint64_t now_ms)
{
	struct dns_answer *a = xmalloc(sizeof *a);
	dns_answer_init(a, type, DNS_ANS_TEMP, ttl);
	store(c, name, type, 1, a, ttl, now_ms);
	free(a);
}

int dns_cache_failed(struct dns_cache *c, const char *name, uint16_t type, uint64_t now_ms)
{
	return lookup(c, name, type, 1, now_ms, NULL);
}

void dns_cache_stats(struct dns_cache *c, size_t *entries_r, size_t *bytes_r)
{
	pthread_mutex_lock(&c->mu);
	*entries_r = c->entries;
	*bytes_r = c->bytes;
	pthread_mutex_unlock(&c->mu);
}

size_t dns_cache_longest_chain(struct dns_cache *c)
{
	size_t most = 0;
	pthread_mutex_lock(&c->mu);
	for (size_t b = 0; b < BUCKETS; b++) {
		size_t n = 0;
		for (struct entry *e = c->bucket[b]; e; e = e->hnext)
			n++;
		if (n > most)
			most = n;
	}
	pthread_mutex_unlock(&c->mu);
	return most;
}
