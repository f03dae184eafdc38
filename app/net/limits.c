/*
 * limits.c — connection slots per pool and per client. See limits.h.
 */
#include "net/limits.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cidr.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/xalloc.h"

/* Per-client counts: a small chained hash under one mutex. Accepts are rare
 * compared with the I/O they start, so the lock is not contended. */
struct client_count {
	char key[CIDR_KEY_MAX];
	enum conn_pool pool;
	unsigned n;
	struct client_count *next;
};

#define BUCKETS 1024
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct client_count *table[BUCKETS];
static struct pool_limits lim[POOL_COUNT];
static unsigned total[POOL_COUNT];
static int stressed[POOL_COUNT];
/* Per pool: the second being counted, refusals logged in it, refusals
 * left out since the last one logged. Under the lock. */
static struct {
	uint64_t second;
	unsigned logged, left_out;
} refusals[POOL_COUNT];

/* Under the lock: the pressure state after a change of total[p]. Returns
 * 1 when it flipped (the caller logs it once the lock is released). */
static int stress_update(enum conn_pool p)
{
	uint64_t used = total[p], max = lim[p].max;
	int was = stressed[p];
	if (used * 4 >= max * 3)
		__atomic_store_n(&stressed[p], 1, __ATOMIC_RELAXED);
	else if (used * 2 < max)
		__atomic_store_n(&stressed[p], 0, __ATOMIC_RELAXED);
	return stressed[p] != was;
}

static void stress_log(enum conn_pool p, int on, unsigned used)
{
	log_info("net", NULL, "event=pressure pool=%s state=%s connections=%u max=%u",
		 config_pool_name(p), on ? "on" : "off", used, lim[p].max);
}

/* Under the lock. SipHash with a key drawn at the first use (as the DNS
 * cache's buckets): the addresses are the clients' choice, and with an
 * unkeyed hash a client with a range of them could put every one in one
 * chain, each accept then walking it under the lock. */
static unsigned bucket(enum conn_pool p, const char *key)
{
	static unsigned char hkey[crypto_shorthash_KEYBYTES];
	static int keyed;
	unsigned char in[CIDR_KEY_MAX + 1], out[crypto_shorthash_BYTES];
	size_t n = strnlen(key, CIDR_KEY_MAX - 1);

	if (!keyed) {
		randombytes_buf(hkey, sizeof hkey);
		keyed = 1;
	}
	in[0] = (unsigned char)p;
	memcpy(in + 1, key, n);
	crypto_shorthash(out, in, n + 1, hkey);
	uint64_t h = 0;
	memcpy(&h, out, sizeof h);
	return (unsigned)(h % BUCKETS);
}

unsigned limits_bucket(enum conn_pool p, const char *ip)
{
	char key[CIDR_KEY_MAX];
	cidr_client_key(ip, key, sizeof(key));
	pthread_mutex_lock(&lock);
	unsigned b = bucket(p, key);
	pthread_mutex_unlock(&lock);
	return b;
}

void limits_init(const struct config *cfg)
{
	pthread_mutex_lock(&lock);
	for (int p = 0; p < POOL_COUNT; p++)
		lim[p] = cfg->pools[p];
	pthread_mutex_unlock(&lock);
}

/* Under the lock: the count of key (a client's or a site's) in pool p
 * (created when create), or NULL. */
static struct client_count *entry(enum conn_pool p, const char *key, int create)
{
	struct client_count *e;
	unsigned h = bucket(p, key);
	for (e = table[h]; e; e = e->next)
		if (e->pool == p && strcmp(e->key, key) == 0)
			return e;
	if (!create)
		return NULL;
	e = xcalloc(1, sizeof(*e));
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->pool = p;
	e->next = table[h];
	table[h] = e;
	return e;
}

/* Under the lock: drops one of key's slots in pool p, freeing the entry
 * at zero. Returns 1 when there was one. */
static int entry_drop(enum conn_pool p, const char *key)
{
	for (struct client_count **pp = &table[bucket(p, key)]; *pp; pp = &(*pp)->next) {
		struct client_count *e = *pp;
		if (e->pool != p || strcmp(e->key, key) != 0)
			continue;
		if (--e->n == 0) {
			*pp = e->next;
			free(e);
		}
		return 1;
	}
	return 0;
}

/* A client's keys: its own (an IPv4 address, an IPv6 /64) and, for IPv6,
 * its /48's ("" when it has none). */
struct client_keys {
	char own[CIDR_KEY_MAX], site[CIDR_KEY_MAX];
};

static void client_keys(const char *ip, struct client_keys *k)
{
	cidr_client_key(ip, k->own, sizeof(k->own));
	cidr_site_key(ip, k->site, sizeof(k->site));
}

/* Under the lock: 1 when the client or its /48 has its share of pool p. */
static int share_taken(enum conn_pool p, const struct client_keys *k)
{
	struct client_count *e = entry(p, k->own, 0);
	struct client_count *site = k->site[0] ? entry(p, k->site, 0) : NULL;
	uint64_t site_share = (uint64_t)lim[p].per_ip * LIMITS_SITE_SHARE;

	return (e && e->n >= lim[p].per_ip) || (site && site->n >= site_share);
}

/* Under the lock: counts one more connection of the client. */
static void share_take(enum conn_pool p, const struct client_keys *k)
{
	entry(p, k->own, 1)->n++;
	if (k->site[0])
		entry(p, k->site, 1)->n++;
}

/* Under the lock: gives one back; 1 when the client had one. */
static int share_drop(enum conn_pool p, const struct client_keys *k)
{
	if (!entry_drop(p, k->own))
		return 0;
	if (k->site[0])
		entry_drop(p, k->site);
	return 1;
}

int limits_acquire(enum conn_pool p, const char *ip)
{
	struct client_keys k;
	int r = 0;

	if (ip)
		client_keys(ip, &k);
	pthread_mutex_lock(&lock);
	if (total[p] >= lim[p].max) {
		r = -1;
	} else if (ip && share_taken(p, &k)) {
		r = -2;
	} else {
		if (ip)
			share_take(p, &k);
		total[p]++;
	}
	int flip = r == 0 && stress_update(p), on = stressed[p];
	unsigned used = total[p];
	pthread_mutex_unlock(&lock);
	if (flip)
		stress_log(p, on, used);
	return r;
}

void limits_release(enum conn_pool p, const char *ip)
{
	struct client_keys k;
	int flip = 0;

	if (ip)
		client_keys(ip, &k);
	pthread_mutex_lock(&lock);
	if (!ip || share_drop(p, &k)) {
		total[p]--;
		flip = stress_update(p);
	}
	int on = stressed[p];
	unsigned used = total[p];
	pthread_mutex_unlock(&lock);
	if (flip)
		stress_log(p, on, used);
}

int limits_client_acquire(enum conn_pool p, const char *ip)
{
	struct client_keys k;
	int r = 0;

	client_keys(ip, &k);
	pthread_mutex_lock(&lock);
	if (share_taken(p, &k))
		r = -2;
	else
		share_take(p, &k);
	pthread_mutex_unlock(&lock);
	return r;
}

void limits_client_release(enum conn_pool p, const char *ip)
{
	struct client_keys k;

	client_keys(ip, &k);
	pthread_mutex_lock(&lock);
	share_drop(p, &k);
	pthread_mutex_unlock(&lock);
}

unsigned limits_current(enum conn_pool p)
{
	pthread_mutex_lock(&lock);
	unsigned n = total[p];
	pthread_mutex_unlock(&lock);
	return n;
}

int limits_pressure(enum conn_pool p)
{
	return __atomic_load_n(&stressed[p], __ATOMIC_RELAXED);
}

int limits_refusal_admit(enum conn_pool p, uint64_t now_ms, unsigned *suppressed_r)
{
	pthread_mutex_lock(&lock);
	if (refusals[p].second != now_ms / 1000) {
		refusals[p].second = now_ms / 1000;
		refusals[p].logged = 0;
	}
	int log = refusals[p].logged < LIMITS_REFUSAL_LOG_PER_S;
	if (log) {
		refusals[p].logged++;
		*suppressed_r = refusals[p].left_out;
		refusals[p].left_out = 0;
	} else {
		refusals[p].left_out++;
	}
	pthread_mutex_unlock(&lock);
	return log;
}

void limits_log_refused(enum conn_pool p, const char *module, const char *session,
			const char *peer, unsigned port, const char *reason)
{
	unsigned left_out;

	if (!limits_refusal_admit(p, loop_now_ms(), &left_out))
		return;
	if (left_out)
		log_info(module, session, "event=refused peer=%s port=%u reason=%s suppressed=%u", peer,
			 port, reason, left_out);
	else
		log_info(module, session, "event=refused peer=%s port=%u reason=%s", peer, port,
			 reason);
}
