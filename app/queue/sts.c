/*
 * sts.c — MTA-STS policy lookups for the outbound queue. See sts.h.
 */
#include "queue/sts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme_http.h"
#include "core/buf.h"
#include "core/asan.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "dns/dns.h"
#include "report/tlsrpt_seen.h"
#include "store/store.h"

#define FETCH_TIMEOUT_MS 30000
/* A cached policy is fetched again once half its max_age has passed, at
 * most a day after the last fetch (RFC 8461 §5.1: refresh before expiry,
 * so a policy in force never lapses while its host is up). */
#define REFRESH_MAX_S 86400
#define SWEEP_MIN_MS 1000
#define SWEEP_MAX_MS (3600 * 1000)
#define META_PREFIX "mta-sts/"
#define RECORD_MAX (MTA_STS_POLICY_MAX + 128)
/* The largest policy response read: the largest body (§3.3) and room
 * for the status line and headers. The fetch stops there, so a larger
 * body costs neither the memory nor the bandwidth of the rest. */
#define RESPONSE_MAX (MTA_STS_POLICY_MAX + 8192)

static struct {
	struct loop *loop;
	struct dns *dns;
	struct store *st;
	uint16_t port;
	uint64_t sweep_timer;
	int64_t sweep_at; /* when the timer fires (seconds) */
	int stopped;      /* sts_stop() ran */
} E;

struct fetch;

struct sts_lookup {
	char domain[256];
	sts_cb *cb; /* NULL once answered */
	void *arg;
	struct dns_query *q;
	struct fetch *f;             /* waiting on this fetch */
	struct sts_lookup *next;     /* in f's waiters */
	int in_start;                /* inside sts_lookup(): 2 = answered there */
	int refresh;                 /* the sweep's: fetch even when the id is the cached one */
	int listed;                  /* in refreshing (the sweep's lookups still running) */
	struct sts_lookup *rnext;
};

static struct sts_lookup *refreshing;

static void refresh_unlink(struct sts_lookup *l)
{
	for (struct sts_lookup **pp = &refreshing; *pp; pp = &(*pp)->rnext)
		if (*pp == l) {
			*pp = l->rnext;
			break;
		}
	l->listed = 0;
}

/* One HTTPS fetch per domain at a time; every lookup that needs it waits. */
struct fetch {
	char domain[256];
	char id[MTA_STS_ID_MAX + 1];
	struct sts_lookup *waiters;
	struct fetch *next;
};

static struct fetch *fetches; /* kept reachable until the HTTPS answer comes */

static void sweep_soon(int64_t in_s);

/*
 * FETCH_TIMEOUT_MS, or shorter in a sanitizer build (build/tern-asan or -tsan)
 * with TERN_TEST_STS_FETCH_TIMEOUT_MS: a test of a policy host that
 * accepts and never answers sees the deadline without 30 s of waiting.
 * A release build never reads it (not a setting), and it only shortens.
 */
static unsigned fetch_timeout_ms(void)
{
#if TERN_TEST_KNOBS
	const char *v = getenv("TERN_TEST_STS_FETCH_TIMEOUT_MS");
	unsigned long ms = v && *v ? strtoul(v, NULL, 10) : 0;
	if (ms && ms < FETCH_TIMEOUT_MS)
		return (unsigned)ms;
#endif
	return FETCH_TIMEOUT_MS;
}

void sts_init(struct loop *loop, struct dns *dns, struct store *st, uint16_t port)
{
	E.loop = loop;
	E.dns = dns;
	E.st = st;
	E.stopped = 0;
	E.port = port ? port : 443;
	if (loop && st)
		sweep_soon(1);
}

int sts_record_parse(const char *p, size_t n, struct mta_sts_policy *pol,
		     char id[MTA_STS_ID_MAX + 1], int64_t *expires_r)
{
	const char *nl = memchr(p, '\n', n);
	char head[128];
	long long fetched, expires;
	char idbuf[MTA_STS_ID_MAX + 2];

	if (!nl || (size_t)(nl - p) >= sizeof head)
		return -1;
	memcpy(head, p, (size_t)(nl - p));
	head[nl - p] = '\0';
	if (sscanf(head, "STS1 %lld %lld %33s", &fetched, &expires, idbuf) != 3 ||
	    strlen(idbuf) > MTA_STS_ID_MAX)
		return -1;
	if (mta_sts_policy_parse(nl + 1, n - (size_t)(nl + 1 - p), pol, NULL) < 0)
		return -1;
	memcpy(id, idbuf, strlen(idbuf) + 1);
	*expires_r = expires;
	return 0;
}

/* Seconds from now until a policy fetched at fetched, expiring at expires, is refreshed. */
static int64_t refresh_in(int64_t fetched, int64_t expires)
{
	int64_t half = (expires - fetched) / 2;
	return fetched + (half < REFRESH_MAX_S ? half : REFRESH_MAX_S) - time_wall();
}

/* The cached policy of domain: 1 with *pol and id when one is stored and not expired, else 0. */
static int cache_get(const char *domain, struct mta_sts_policy *pol, char id[MTA_STS_ID_MAX + 1])
{
	char key[300], *rec = xmalloc(RECORD_MAX);
	size_t len = 0;
	int64_t expires = 0;
	int ok = 0;

	snprintf(key, sizeof key, META_PREFIX "%s", domain);
	if (store_meta_get(E.st, key, rec, RECORD_MAX, &len) == STORE_OK &&
	    sts_record_parse(rec, len, pol, id, &expires) == 0 && expires > time_wall())
		ok = 1;
	free(rec);
	return ok;
}

static void cache_put(const char *domain, const char *id, const struct mta_sts_policy *pol,
		      const char *body, size_t len)
{
	char key[300];
	struct buf b;
	int64_t now = time_wall();

	snprintf(key, sizeof key, META_PREFIX "%s", domain);
	buf_init(&b, RECORD_MAX);
	buf_printf(&b, "STS1 %lld %lld %s\n", (long long)now, (long long)(now + pol->max_age), id);
	if (buf_append(&b, body, len) == 0 &&
	    store_meta_put(E.st, key, buf_data(&b), buf_len(&b), 0) != STORE_OK)
		log_warn("queue", NULL, "event=mta_sts_cache_failed domain=%s", domain);
	buf_free(&b);
	sweep_soon(refresh_in(now, now + pol->max_age));
}

/* Answers l; frees it unless sts_lookup() is still on the stack. */
static void answer(struct sts_lookup *l, const struct mta_sts_policy *pol, const char *source,
		   const struct sts_fail *fail)
{
	sts_cb *cb = l->cb;
	l->cb = NULL;
	if (l->listed)
		refresh_unlink(l);
	/* A policy in force (a cached one, when the fetch failed) stands
	 * for the failure: the sessions are not the failure's. */
	if (pol)
		fail = NULL;
	if (pol && pol->mode == MTA_STS_NONE)
		pol = NULL; /* §5: mode none is a domain opting out */
	if (cb)
		cb(l->arg, pol, source, fail);
	if (l->in_start)
		l->in_start = 2;
	else
		free(l);
}

static void fetch_done(void *arg, const struct acme_http_resp *r)
{
	struct fetch *f = arg;
	struct mta_sts_policy *pol = xmalloc(sizeof *pol);
	char cached_id[MTA_STS_ID_MAX + 1];
	const char *why = NULL, *source = "fetched";
	int ok = 0;
	struct sts_fail fail, *failed = NULL;

	for (struct fetch **pp = &fetches; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	/* §3.3: a 200 with text/plain, no redirects followed, bounded. */
	if (r->status == 0)
		why = r->error;
	else if (r->status != 200)
		why = "HTTP status not 200";
	else if (strcmp(r->content_type, "text/plain") != 0)
		why = "not text/plain";
	else if (r->body_len > MTA_STS_POLICY_MAX)
		why = "policy too large";
	else if (mta_sts_policy_parse(r->body, r->body_len, pol, &why) == 0)
		ok = 1;
	if (ok) {
		cache_put(f->domain, f->id, pol, r->body, r->body_len);
		log_info("queue", NULL, "event=mta_sts_fetched domain=%s id=%s mode=%s max_age=%u",
			 f->domain, f->id, mta_sts_mode_name(pol->mode), (unsigned)pol->max_age);
	} else {
		char qw[600];
		log_warn("queue", NULL, "event=mta_sts_fetch_failed domain=%s status=%d why=%s",
			 f->domain, r->status, log_q(why ? why : "invalid policy", qw, sizeof qw));
		/* TLS-RPT (RFC 8460 §4.3.2.2): a policy host whose certificate
		 * fails is sts-webpki-invalid; a 200 answer that is no valid
		 * policy ("a validation error for the policy retrieved": its
		 * media type is not text/plain, RFC 8461 §3.3's check, it is
		 * too large, or it does not parse) sts-policy-invalid; no
		 * answer, or one of another status, sts-policy-fetch-error
		 * (nothing was retrieved). Told by the certificate's error,
		 * not the words of the text ("certificate of ... not trusted"
		 * was a fetch error). */
		fail.result = r->status == 0 && r->x509_err ? TLSRPT_STS_WEBPKI_INVALID
			      : r->status == 200 ? TLSRPT_STS_POLICY_INVALID
						 : TLSRPT_STS_POLICY_FETCH_ERROR;
		snprintf(fail.info, sizeof fail.info, "%s", why ? why : "invalid policy");
		failed = &fail;
		/* A valid cached policy stays in force (§5.1), else none. */
		ok = cache_get(f->domain, pol, cached_id);
		if (ok) {
			/* No session stands for this failure: count it once here. */
			struct tlsrpt_seen_sess ts = {.domain = f->domain, .type = TLSRPT_STS, .mx = "",
						      .ip = "", .info = fail.info, .result = fail.result};
			tlsrpt_seen_note(&ts, time_wall());
		}
		source = ok ? "cache" : "none";
	}
	while (f->waiters) {
		struct sts_lookup *l = f->waiters;
		f->waiters = l->next;
		l->f = NULL;
		answer(l, ok ? pol : NULL, source, failed);
	}
	free(pol);
	free(f);
}

static void fetch_join(struct sts_lookup *l, const char *id)
{
	struct fetch *f;
	for (f = fetches; f; f = f->next)
		if (strcmp(f->domain, l->domain) == 0)
			break;
	if (!f) {
		char url[400];
		f = xcalloc(1, sizeof *f);
		snprintf(f->domain, sizeof f->domain, "%s", l->domain);
		snprintf(f->id, sizeof f->id, "%s", id);
		if (E.port == 443)
			snprintf(url, sizeof url, "https://mta-sts.%s/.well-known/mta-sts.txt", l->domain);
		else
			snprintf(url, sizeof url, "https://mta-sts.%s:%u/.well-known/mta-sts.txt",
				 l->domain, (unsigned)E.port);
		if (acme_http_request_opts(E.loop, E.dns, "GET", url, NULL, NULL, 0,
					   fetch_timeout_ms(), NULL, NULL, RESPONSE_MAX, fetch_done,
					   f, NULL) < 0) {
			free(f);
			struct sts_fail fail = {.result = TLSRPT_STS_POLICY_FETCH_ERROR,
						.info = "the policy fetch could not start"};
			answer(l, NULL, "none", &fail);
			return;
		}
		f->next = fetches;
		fetches = f;
	}
	l->f = f;
	l->next = f->waiters;
	f->waiters = l;
}

static void txt_done(void *arg, const struct dns_answer *a)
{
	struct sts_lookup *l = arg;
	struct mta_sts_policy *pol = xmalloc(sizeof *pol);
	char id[MTA_STS_ID_MAX + 1] = "", cached_id[MTA_STS_ID_MAX + 1];

	l->q = NULL;
	if (a->status == DNS_ANS_OK) {
		const char **texts = xcalloc(a->nrr ? a->nrr : 1, sizeof *texts);
		size_t n = 0;
		for (size_t i = 0; i < a->nrr; i++)
			if (a->rr[i].type == DNS_T_TXT)
				texts[n++] = dns_rr_text(a, i);
		mta_sts_txt_pick(texts, n, id); /* §3.1: one STSv1 record, valid */
		free(texts);
	}
	int cached = cache_get(l->domain, pol, cached_id);
	if (l->refresh && id[0])
		fetch_join(l, id); /* the sweep: fetched again even under the same id */
	else if (cached && (!id[0] || strcmp(id, cached_id) == 0))
		answer(l, pol, "cache", NULL);
	else if (id[0])
		fetch_join(l, id);
	else
		answer(l, NULL, "none", NULL);
	free(pol);
}

struct sts_lookup *sts_lookup(const char *domain, sts_cb *cb, void *arg)
{
	struct sts_lookup *l = xcalloc(1, sizeof *l);
	char name[300];

	snprintf(l->domain, sizeof l->domain, "%s", domain);
	l->cb = cb;
	l->arg = arg;
	l->in_start = 1;
	if (!E.st || !domain[0] || strlen(domain) > 240) {
		free(l);
		cb(arg, NULL, "none", NULL);
		return NULL;
	}
	snprintf(name, sizeof name, "_mta-sts.%s", domain);
	l->q = dns_query(E.dns, name, DNS_T_TXT, txt_done, l); /* NULL when answered */
	if (l->in_start == 2) {
		free(l);
		return NULL;
	}
	l->in_start = 0;
	return l;
}

void sts_cancel(struct sts_lookup *l)
{
	if (!l)
		return;
	if (l->listed)
		refresh_unlink(l);
	if (l->q)
		dns_query_cancel(l->q);
	if (l->f)
		for (struct sts_lookup **pp = &l->f->waiters; *pp; pp = &(*pp)->next)
			if (*pp == l) {
				*pp = l->next;
				break;
			}
	free(l);
}

/* ---- the sweep: refresh policies before they expire, delete expired ones ---- */

struct sweep {
	int64_t now, next; /* next: the earliest refresh or expiry still ahead */
	char (*refresh)[256];
	size_t nrefresh;
	char (*expired)[300];
	size_t nexpired;
};

static void sweep_one(void *arg, const char *name, const void *val, size_t len)
{
	struct sweep *w = arg;
	const char *v = val, *nl = memchr(val, '\n', len);
	char head[128];
	long long fetched, expires;
	if (!nl || (size_t)(nl - v) >= sizeof head)
		return;
	memcpy(head, v, (size_t)(nl - v));
	head[nl - v] = '\0';
	if (sscanf(head, "STS1 %lld %lld", &fetched, &expires) != 2)
		return;
	if (expires <= w->now) {
		if (w->nexpired < 64)
			snprintf(w->expired[w->nexpired++], 300, "%s", name);
		return;
	}
	int64_t at = w->now + refresh_in(fetched, expires);
	if (at <= w->now) {
		if (w->nrefresh < 64)
			snprintf(w->refresh[w->nrefresh++], 256, "%s", name + strlen(META_PREFIX));
		/* A refresh that fails leaves it due: look again at its expiry. */
		at = expires;
	}
	if (at < w->next)
		w->next = at;
}

static void refresh_done(void *arg, const struct mta_sts_policy *pol, const char *source,
			 const struct sts_fail *fail)
{
	(void)arg;
	(void)pol;
	(void)source;
	(void)fail;
}

static void sweep(struct loop *loop, void *arg)
{
	struct sweep w = {.now = time_wall()};
	(void)loop;
	(void)arg;
	E.sweep_timer = 0;
	w.next = w.now + SWEEP_MAX_MS / 1000;
	w.refresh = xcalloc(64, sizeof *w.refresh);
	w.expired = xcalloc(64, sizeof *w.expired);
	store_meta_list(E.st, META_PREFIX, sweep_one, &w);
	for (size_t i = 0; i < w.nexpired; i++) {
		/* §5.1: an expired policy is no policy; keeping it only misleads. */
		if (store_meta_del(E.st, w.expired[i]) == STORE_OK)
			log_info("queue", NULL, "event=mta_sts_expired domain=%s",
				 w.expired[i] + strlen(META_PREFIX));
	}
	for (size_t i = 0; i < w.nrefresh; i++) {
		int busy = 0;
		for (struct fetch *f = fetches; f; f = f->next)
			busy |= strcmp(f->domain, w.refresh[i]) == 0;
		if (busy)
			continue;
		log_info("queue", NULL, "event=mta_sts_refresh domain=%s", w.refresh[i]);
		struct sts_lookup *l = xcalloc(1, sizeof *l);
		char name[300];
		snprintf(l->domain, sizeof l->domain, "%s", w.refresh[i]);
		l->cb = refresh_done;
		l->refresh = 1;
		l->in_start = 1;
		snprintf(name, sizeof name, "_mta-sts.%s", l->domain);
		l->q = dns_query(E.dns, name, DNS_T_TXT, txt_done, l);
		if (l->in_start == 2) {
			free(l);
			continue;
		}
		l->in_start = 0;
		l->listed = 1;
		l->rnext = refreshing;
		refreshing = l;
	}
	free(w.refresh);
	free(w.expired);
	E.sweep_at = 0;
	sweep_soon(w.next - w.now);
}

/* Runs the sweep in in_s seconds (bounded), unless it runs sooner already. */
static void sweep_soon(int64_t in_s)
{
	if (!E.loop || !E.st || E.stopped)
		return;
	int64_t ms = in_s * 1000;
	if (ms < SWEEP_MIN_MS)
		ms = SWEEP_MIN_MS;
	if (ms > SWEEP_MAX_MS)
		ms = SWEEP_MAX_MS;
	int64_t at = time_wall() + ms / 1000;
	if (E.sweep_timer && E.sweep_at <= at)
		return;
	if (E.sweep_timer)
		loop_timer_del(E.loop, E.sweep_timer);
	E.sweep_at = at;
	E.sweep_timer = loop_timer_add(E.loop, (uint64_t)ms, sweep, NULL);
}

void sts_stop(void)
{
	if (E.sweep_timer)
		loop_timer_del(E.loop, E.sweep_timer);
	E.sweep_timer = 0;
	while (refreshing)
		sts_cancel(refreshing);
	E.stopped = 1; /* no sweep after this (a fetch in flight may still cache its answer) */
}
