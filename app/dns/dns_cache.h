/*
 * dns_cache.h — the answers every loop shares: positive and negative
 * (RFC 2308), each kept for its TTL, within a byte budget.
 *
 * Design. A hash table keyed by (canonical name, type) under one mutex,
 * with a least-recently-used list; an insert that would pass the byte
 * budget evicts from the cold end first. Entries hold the answer packed
 * (dns_answer_pack(), dns_answer_size() bytes), so a cached TXT of 200
 * bytes costs about 600 bytes, not sizeof(struct dns_answer). Times are the caller's monotonic
 * milliseconds, so tests can move the clock.
 *
 * Caveats: answers with TTL 0 and DNS_ANS_TEMP answers are never stored
 * as answers (a temporary failure must be retried). A failure may be
 * remembered apart, for a short while (dns_cache_put_failure(); RFC 2308
 * §7 allows five minutes at most): only dns_cache_failed() sees it, so a
 * reader that did not ask for it (the queue's route) asks the network as
 * before. TTLs are capped at DNS_CACHE_TTL_MAX.
 */
#ifndef TERN_DNS_DNS_CACHE_H
#define TERN_DNS_DNS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "dns/dns_msg.h"

#define DNS_CACHE_TTL_MAX 86400u
#define DNS_CACHE_BYTES_DEFAULT (8u << 20)

struct dns_cache;

/* A cache holding at most max_bytes of entries (bookkeeping included). */
struct dns_cache *dns_cache_new(size_t max_bytes);
/* Frees *c and every entry; *c is NULL after. */
void dns_cache_free(struct dns_cache **c);
/* The process-wide cache every struct dns uses (created on first use, never freed). */
struct dns_cache *dns_cache_shared(void);

/*
 * Looks up (name, type) at time now_ms. On a hit copies the answer into
 * *out with its TTL lowered to the seconds left, and returns 1; returns 0
 * on a miss (expired entries are dropped then).
 */
int dns_cache_get(struct dns_cache *c, const char *name, uint16_t type, uint64_t now_ms,
		  struct dns_answer *out);
/* Stores a copy of *a for (name, type) from now_ms, replacing any older one. */
void dns_cache_put(struct dns_cache *c, const char *name, uint16_t type,
		   const struct dns_answer *a, uint64_t now_ms);
/*
 * Remembers that (name, type) failed (timeout, SERVFAIL, no server
 * reachable) for ttl seconds from now_ms; dns_cache_failed() says so
 * meanwhile. dns_cache_get() never returns it, and a stored answer for
 * the name does not remove it (it expires).
 */
void dns_cache_put_failure(struct dns_cache *c, const char *name, uint16_t type, uint32_t ttl,
			   uint64_t now_ms);
/* 1 while a failure of (name, type) is remembered at now_ms, else 0. */
int dns_cache_failed(struct dns_cache *c, const char *name, uint16_t type, uint64_t now_ms);
/* Entries and bytes in use (for tests and /metrics). */
void dns_cache_stats(struct dns_cache *c, size_t *entries_r, size_t *bytes_r);
/* The longest hash chain (for tests: names chosen by a stranger must not share one). */
size_t dns_cache_longest_chain(struct dns_cache *c);

#endif
