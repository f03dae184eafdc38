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
#include <sys/random.h>

#include "core/log.h"
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
	unsigned flags;    /* DNS_QUERY_* */
	int hops;
	int in_start;      /* inside dns_query(): the caller frees, not the callback */
	int insecure;      /* a CNAME hop came without AD */
	int cancelled;     /* counted in d->cancelled */
	int no_edns;       /* the server answered FORMERR to EDNS: asked without it */
	ares_channel ch;   /* the channel it was sent on (dns_chan_take) */
	char name[DNS_NAME_MAX];   /* what was asked (the cache key) */
	char target[DNS_NAME_MAX]; /* what is being asked now (after CNAMEs) */
};

static void raw_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen);

/*
 * A query ID from the kernel's random source: ares_send() sends the ID in
 * the buffer as it is, and a fixed one lets an off-path attacker forge
 * answers by guessing the source port alone (RFC 5452 §4.3). c-ares
 * matches an answer on the ID and the question both (same_questions()).
 */
static unsigned short query_id(void)
{
	static __thread uint16_t pool[64];
	static __thread unsigned left;
	if (left == 0) {
		if (getrandom(pool, sizeof pool, GRND_NONBLOCK) != (ssize_t)sizeof pool)
			for (unsigned i = 0; i < 64; i++) /* no entropy yet: better than a constant */
				pool[i] = (uint16_t)((unsigned)rand() ^ (unsigned)(loop_now_ms() * 40503u >> i));
		left = 64;
	}
	return pool[--left];
}

/*
 * A name in tern's text form (dns_msg.h: \DDD for an octet that is not
 * printable ASCII, a space, '.' or '\\') in the form c-ares 1.18's
 * ares_create_query() reads, which knows only "\c" (the next octet as it
 * is): "a\032b" would go out as "a032b". -1 for a \DDD over 255 or of
 * NUL, which no C string carries, or when out is too small.
 */
static int ares_name(const char *text, char *out, size_t outsz)
{
	size_t o = 0;
	for (const char *p = text; *p; p++) {
		unsigned v = (unsigned char)*p;
		if (*p == '\\' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
		    p[3] >= '0' && p[3] <= '9') {
			v = (unsigned)(p[1] - '0') * 100 + (unsigned)(p[2] - '0') * 10 + (unsigned)(p[3] - '0');
			if (v == 0 || v > 255 || o + 2 >= outsz)
				return -1;
			out[o++] = '\\';
			p += 3;
		} else if (*p == '\\' && p[1]) {
			if (o + 2 >= outsz)
				return -1;
			out[o++] = *p++; /* "\c" stays: c-ares reads it */
			v = (unsigned char)*p;
		}
		if (o + 1 >= outsz)
			return -1;
		out[o++] = (char)v;
	}
	out[o] = '\0';
	return 0;
}

/*
 * ares_query() with the AD bit set in the query: a validating resolver
 * then says whether it validated the answer (RFC 6840 §5.7), which DANE
 * needs; c-ares 1.18's ares_query() sends RD alone.
 */
static void send_query(struct dns_query *q)
{
	unsigned char *buf = NULL;
	int len = 0;
	char name[DNS_NAME_MAX];
	q->ch = dns_chan_take(q->d);
	if (ares_name(q->target, name, sizeof name) < 0) {
		raw_cb(q, ARES_EBADNAME, 0, NULL, 0); /* as c-ares answers a name it cannot encode */
		return;
	}
	if (ares_create_query(name, ns_c_in, q->type, query_id(), 1, &buf, &len,
			      q->no_edns ? 0 : DNS_EDNS_UDP) != ARES_SUCCESS) {
		ares_query(q->ch, name, ns_c_in, q->type, raw_cb, q);
		return;
	}
	buf[3] |= 0x20;
	ares_send(q->ch, buf, len, raw_cb, q);
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
	(void)timeouts;

	dns_chan_done(q->d, q->ch);
	/* Reaped with the cancelled ones while still wanted: asked again. */
	if (status == ARES_ECANCELLED && q->cb && q->d->reaping) {
		send_query(q);
		return;
	}
	/* FORMERR to a query with EDNS: a server that does not know it
	 * (RFC 6891 §7), on a channel where c-ares no longer falls back
	 * itself (DNS_EDNS_UDP). Asked again without. */
	if (q->cb && !q->no_edns && abuf && alen >= 4 && (abuf[3] & 0x0f) == ns_r_formerr &&
	    status != ARES_EDESTRUCTION && status != ARES_ECANCELLED) {
		q->no_edns = 1;
		send_query(q);
		return;
	}
	struct dns_answer *a = xmalloc(sizeof *a);

	if (abuf && alen > 0 && status != ARES_EDESTRUCTION)
		dns_msg_parse(abuf, (size_t)alen, q->target, q->type, a);
	else /* a name c-ares cannot put in a query does not exist, as in dns_query() */
		dns_answer_init(a, q->type,
		                status == ARES_ENOTFOUND || status == ARES_EBADNAME
		                    ? DNS_ANS_NXDOMAIN
		                : status == ARES_ENODATA ? DNS_ANS_NODATA
		                                         : DNS_ANS_TEMP,
		                0);
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
	/* A failure the asker wants remembered, its own (not a cancel or
	 * the channel's end), even when the asker has gone meanwhile: the
	 * next one must not wait for it again. */
	if ((q->flags & DNS_QUERY_FAILURE_CACHED) && a->status == DNS_ANS_TEMP &&
	    status != ARES_ECANCELLED && status != ARES_EDESTRUCTION && !q->d->closing)
		dns_cache_put_failure(dns_cache_shared(), q->name, q->type, DNS_FAILURE_TTL,
				      loop_now_ms());
	deliver(q, a);
	free(a);
	q->d->inflight--;
	if (q->cancelled)
		q->d->cancelled--;
	dns_reap_maybe(q->d); /* the last live one answered: the rest were cancelled */
	if (!q->in_start)
		free(q);
	else
		q->in_start = 2; /* answered inside dns_query() */
}

/*
 * Can name go in a query: labels of 1 to 63 octets, 253 in all (a final
 * dot aside)? A name that cannot does not exist, so it is answered
 * NXDOMAIN at once: an SPF target or a From domain with an empty or
 * overlong label is a name with no records, not a temporary failure.
 */
static int name_fits(const char *name)
{
	size_t n = strlen(name), label = 0;
	if (n && name[n - 1] == '.')
		n--;
	if (n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (name[i] == '\\')
			return 1; /* escaped text: c-ares judges it */
		if (name[i] != '.') {
			label++;
			continue;
		}
		if (label == 0 || label > 63)
			return 0;
		label = 0;
	}
	return label <= 63 && (n == 0 || label > 0);
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

	if (dns_name_canon(name, key, sizeof key) < 0 || !name_fits(key) || !d || d->closing) {
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
	if ((flags & DNS_QUERY_FAILURE_CACHED) &&
	    dns_cache_failed(dns_cache_shared(), key, type, loop_now_ms())) {
		dns_answer_init(a, type, DNS_ANS_TEMP, 0);
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
	q->flags = flags;
	q->in_start = 1;
	memcpy(q->name, key, sizeof key);
	memcpy(q->target, key, sizeof key);
	d->inflight++;
	send_query(q);
	dns_rearm(d);
	if (q->in_start == 2) {
		free(q);
		return NULL;
	}
	q->in_start = 0;
	return q;
}

/*
 * A cancelled query stays in c-ares, which would go on asking (three
 * tries, each server) and hold it for up to half a minute; a flood of
 * clients that hang up during their connect lookups piles them up. They
 * are reaped in bulk with ares_cancel() once they are all that is in
 * flight, or at least REAP_MIN and four times the live ones: those are
 * asked again (raw_cb), which costs them their progress, not an answer.
 */
#define REAP_MIN 256

static int reap_due(const struct dns *d)
{
	unsigned live = d->inflight - d->cancelled;
	return d->cancelled > 0 && (live == 0 || (d->cancelled >= REAP_MIN && d->cancelled >= 4 * live));
}

static void reap_fired(struct loop *loop, void *arg)
{
	struct dns *d = arg;
	(void)loop;
	d->reap_timer = 0;
	unsigned n = d->cancelled, live = d->inflight - d->cancelled;
	/* Queries started since it was decided put it off: the next cancel
	 * or answer decides again. */
	if (d->closing || !reap_due(d))
		return;
	d->reaping = 1;
	dns_cancel_all(d);
	d->reaping = 0;
	log_info("dns", NULL, "event=dns_reap cancelled=%u asked_again=%u", n, live);
	dns_rearm(d);
}

void dns_reap_maybe(struct dns *d)
{
	if (!d->closing && !d->reap_timer && reap_due(d))
		d->reap_timer = loop_timer_add(d->loop, 0, reap_fired, d);
}

void dns_query_cancel(struct dns_query *q)
{
	/* c-ares still owns the query: its callback frees q when it comes. */
	if (!q || !q->cb)
		return;
	q->cb = NULL;
	q->cancelled = 1;
	q->d->cancelled++;
	dns_reap_maybe(q->d);
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
