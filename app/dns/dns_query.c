/*
 * dns_query.c — typed lookups through the loop's c-ares channel and the
 * shared cache. See dns.h.
 *
 * c-ares hands us the raw reply; dns_msg_parse() turns it into a struct
 * dns_answer, so every record type, TTL and negative answer is handled by
 * the one parser the unit tests and the fuzzer exercise.
 */
#include <arpa/nameser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/loop.h"
#include "core/xalloc.h"
#include "dns/dns.h"
#include "dns/dns_cache.h"
#include "dns/dns_private.h"

#define CNAME_HOPS 8

struct dns_query {
	struct dns *d;
	dns_answer_cb *cb; /* NULL once cancelled or answered */
	void *arg;
	uint16_t type;
	int hops;
	int in_start;      /* inside dns_query(): the caller frees, not the callback */
	int insecure;      /* a CNAME hop came without AD */
	char name[DNS_NAME_MAX];   /* what was asked (the cache key) */
	char target[DNS_NAME_MAX]; /* what is being asked now (after CNAMEs) */
};

static void raw_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen);

/*
 * ares_query() with the AD bit set in the query: a validating resolver
 * then says whether it validated the answer (RFC 6840 §5.7), which DANE
 * needs; c-ares 1.18's ares_query() sends RD alone.
 */
static void send_query(struct dns_query *q)
{
	unsigned char *buf = NULL;
	int len = 0;
	if (ares_create_query(q->target, ns_c_in, q->type, 0, 1, &buf, &len, 0) != ARES_SUCCESS) {
		ares_query(q->d->ch, q->target, ns_c_in, q->type, raw_cb, q);
		return;
	}
	buf[3] |= 0x20;
	ares_send(q->d->ch, buf, len, raw_cb, q);
	ares_free_string(buf);
}

static void deliver(struct dns_query *q, const struct dns_answer *a)
{
	dns_answer_cb *cb = q->cb;
	q->cb = NULL;
	if (cb)
		cb(q->arg, a);
}

static void raw_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;
	struct dns_answer *a = xmalloc(sizeof *a);
	(void)timeouts;

	if (abuf && alen > 0 && status != ARES_EDESTRUCTION)
		dns_msg_parse(abuf, (size_t)alen, q->target, q->type, a);
	else
		dns_answer_init(a, q->type, status == ARES_ENOTFOUND ? DNS_ANS_NXDOMAIN
				: status == ARES_ENODATA ? DNS_ANS_NODATA : DNS_ANS_TEMP, 0);
	/* The resolver stopped at a CNAME: ask where it points. */
	if (q->cb && a->status == DNS_ANS_NODATA && a->cname[0] && q->hops < CNAME_HOPS) {
		q->hops++;
		q->insecure |= !a->ad;
		snprintf(q->target, sizeof q->target, "%s", a->cname);
		free(a);
		send_query(q);
		return; /* q may be gone already: a synchronous answer frees it */
	}
	if (q->insecure)
		a->ad = 0;
	if (q->cb)
		dns_cache_put(dns_cache_shared(), q->name, q->type, a, loop_now_ms());
	deliver(q, a);
	free(a);
	if (!q->in_start)
		free(q);
	else
		q->in_start = 2; /* answered inside dns_query() */
}

struct dns_query *dns_query(struct dns *d, const char *name, uint16_t type, dns_answer_cb *cb,
			    void *arg)
{
	return dns_query_flags(d, name, type, 0, cb, arg);
}

struct dns_query *dns_query_flags(struct dns *d, const char *name, uint16_t type, unsigned flags,
				  dns_answer_cb *cb, void *arg)
{
	struct dns_answer *a = xmalloc(sizeof *a);
	char key[DNS_NAME_MAX];

	if (dns_name_canon(name, key, sizeof key) < 0 || !d || d->closing) {
		dns_answer_init(a, type, d && !d->closing ? DNS_ANS_NXDOMAIN : DNS_ANS_TEMP, 0);
		cb(arg, a);
		free(a);
		return NULL;
	}
	if (!(flags & DNS_QUERY_FRESH) && dns_cache_get(dns_cache_shared(), key, type, loop_now_ms(), a)) {
		cb(arg, a);
		free(a);
		return NULL;
	}
	free(a);
	struct dns_query *q = xcalloc(1, sizeof *q);
	q->d = d;
	q->cb = cb;
	q->arg = arg;
	q->type = type;
	q->in_start = 1;
	memcpy(q->name, key, sizeof key);
	memcpy(q->target, key, sizeof key);
	send_query(q);
	dns_rearm(d);
	if (q->in_start == 2) {
		free(q);
		return NULL;
	}
	q->in_start = 0;
	return q;
}

void dns_query_cancel(struct dns_query *q)
{
	/* c-ares still owns the query: its callback frees q when it comes. */
	if (q)
		q->cb = NULL;
}

static void *resolver_start(void *ctx, const char *name, uint16_t type, dns_answer_cb *cb, void *arg)
{
	return dns_query(ctx, name, type, cb, arg);
}

static void resolver_cancel(void *ctx, void *handle)
{
	(void)ctx;
	dns_query_cancel(handle);
}

struct dns_resolver dns_resolver_of(struct dns *d)
{
	return (struct dns_resolver){ resolver_start, resolver_cancel, d };
}

static __thread struct dns *thread_dns;

void dns_thread_set(struct dns *d)
{
	thread_dns = d;
}

struct dns *dns_thread(void)
{
	return thread_dns;
}
