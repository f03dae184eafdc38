/*
 * tlsrpt_intake.c — received TLS-RPT reports stored and listed
 * (tlsrpt_intake.h).
 */
#include "report/tlsrpt_intake.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/xalloc.h"
#include "store/store.h"
#include "tlspol/tlsrpt_in.h"

#define RECORD_MAX (60 * 1024) /* under meta's 64 KiB */
#define KEY_MAX 400

static int fail(char *err, size_t errsz, const char *what)
{
	if (errsz)
		snprintf(err, errsz, "%s", what);
	return -1;
}

/* The served domain d is or belongs to, into out: 0, or -1 when none. */
static int served_of(struct store *st, const char *d, char *out, size_t outsz)
{
	for (const char *p = d; p && *p; p = strchr(p, '.') ? strchr(p, '.') + 1 : NULL)
		if (store_domain_is_local(st, p) == 1) {
			snprintf(out, outsz, "%s", p);
			return 0;
		}
	return -1;
}

struct keys {
	char (*k)[KEY_MAX + 64];
	int64_t *end;
	size_t n, cap;
};

static void on_key(void *arg, const char *name, const void *val, size_t len)
{
	struct keys *ks = arg;
	const char *v = val, *nl = memchr(val, '\n', len);
	if (ks->n == ks->cap) {
		ks->cap = ks->cap ? ks->cap * 2 : 64;
		ks->k = xrealloc(ks->k, ks->cap * sizeof *ks->k);
		ks->end = xrealloc(ks->end, ks->cap * sizeof *ks->end);
	}
	snprintf(ks->k[ks->n], KEY_MAX + 64, "%s", name);
	/* The end of the period is in the first line: "TR1 RECEIVED END". */
	long long end = 0;
	char head[64];
	size_t hl = nl ? (size_t)(nl - v) : 0;
	if (hl && hl < sizeof head) {
		memcpy(head, v, hl);
		head[hl] = '\0';
		long long recv;
		if (sscanf(head, "TR1 %lld %lld", &recv, &end) != 2)
			end = 0;
	}
	ks->end[ks->n++] = end;
}

/* Retention for one domain: too old, then too many (keys sort by period). */
static void retain(struct store *st, const char *prefix, int64_t now)
{
	struct keys ks = {0};
	if (store_meta_list(st, prefix, on_key, &ks) != STORE_OK)
		goto out;
	size_t kept = ks.n;
	for (size_t i = 0; i < ks.n; i++)
		if (ks.end[i] < now - (int64_t)TLSRPT_KEEP_DAYS * 86400 || kept > TLSRPT_KEEP_MAX) {
			store_meta_del(st, ks.k[i]);
			kept--;
		}
out:
	free(ks.k);
	free(ks.end);
}

/* The verdict as one word of the record's first line. */
static void dkim_word(const char *dkim, char out[TLSRPT_DKIM_MAX])
{
	size_t i = 0;
	for (const char *p = dkim && *dkim ? dkim : "unchecked"; *p && i + 1 < TLSRPT_DKIM_MAX; p++)
		out[i++] = *p > ' ' && *p < 0x7f ? *p : '?';
	out[i] = '\0';
}

/*
 * A report is about one policy domain (RFC 8460 §4.3: its file name,
 * and §4.4's policy-domain of each policy): a policy naming a domain
 * that is not the served one of the first, nor under it, is dropped,
 * so a report cannot put another domain's results (ours or not) in
 * this domain's view. It was stored with the rest.
 */
static void drop_foreign(struct store *st, struct tlsrpt_report *r, const char *dom)
{
	char other[256];
	size_t kept = 0;
	for (size_t i = 0; i < r->npolicies; i++)
		if (served_of(st, r->policies[i].domain, other, sizeof other) == 0 &&
		    strcasecmp(other, dom) == 0)
			r->policies[kept++] = r->policies[i];
	r->npolicies = kept;
}

int tlsrpt_intake_json(struct store *st, const char *json, size_t n, int64_t now,
		       const char *dkim, int *cut_r, char *err, size_t errsz)
{
	char dw[TLSRPT_DKIM_MAX];
	dkim_word(dkim, dw);
	struct arena *a = arena_new(16384);
	struct tlsrpt_report r;
	char dom[256], key[KEY_MAX + 64], prefix[KEY_MAX];
	struct buf b;
	int rc = -1;

	buf_init(&b, RECORD_MAX);
	if (tlsrpt_report_parse(json, n, a, &r, err, errsz) < 0)
		goto out;
	if (served_of(st, r.policies[0].domain, dom, sizeof dom) < 0) {
		fail(err, errsz, "policy-domain is not served here");
		goto out;
	}
	drop_foreign(st, &r, dom);
	uint8_t h[8];
	crypto_generichash_state hs;
	crypto_generichash_init(&hs, NULL, 0, sizeof h);
	crypto_generichash_update(&hs, (const uint8_t *)r.organization, strlen(r.organization) + 1);
	crypto_generichash_update(&hs, (const uint8_t *)r.report_id, strlen(r.report_id));
	crypto_generichash_final(&hs, h, sizeof h);
	snprintf(prefix, sizeof prefix, TLSRPT_REPORT_PREFIX "%s/", dom);
	snprintf(key, sizeof key, "%s%016llx/%02x%02x%02x%02x%02x%02x%02x%02x", prefix,
		 (unsigned long long)r.start, h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
	buf_printf(&b, "TR1 %lld %lld %s\n", (long long)now, (long long)r.end, dw);
	if (tlsrpt_report_json(&r, &b) < 0) {
		/* Too big with its policy strings: keep the counts without them. */
		buf_reset(&b);
		buf_printf(&b, "TR1 %lld %lld %s\n", (long long)now, (long long)r.end, dw);
		for (size_t i = 0; i < r.npolicies; i++)
			r.policies[i].nstrings = r.policies[i].nmx = 0;
		if (tlsrpt_report_json(&r, &b) < 0) {
			fail(err, errsz, "report too large to keep");
			goto out;
		}
	}
	if (store_meta_put(st, key, buf_data(&b), buf_len(&b), 0) != STORE_OK) {
		fail(err, errsz, "store error");
		goto out;
	}
	retain(st, prefix, now);
	if (cut_r)
		*cut_r = (r.flags & TLSRPT_REPORT_CUT) != 0;
	rc = 0;
out:
	buf_free(&b);
	arena_free(&a);
	return rc;
}

struct lister {
	tlsrpt_report_cb *cb;
	void *arg;
};

static void on_report(void *arg, const char *name, const void *val, size_t len)
{
	struct lister *l = arg;
	const char *v = val, *nl = memchr(val, '\n', len);
	long long recv = 0, end = 0;
	char dkim[TLSRPT_DKIM_MAX] = "unknown", head[TLSRPT_DKIM_MAX + 64];
	(void)name;
	if (!nl || sscanf(v, "TR1 %lld", &recv) != 1)
		return;
	/* "TR1 RECEIVED END DKIM"; records from before the verdict have no DKIM. */
	size_t hl = (size_t)(nl - v);
	if (hl < sizeof head) {
		memcpy(head, v, hl);
		head[hl] = '\0';
		char w[TLSRPT_DKIM_MAX];
		if (sscanf(head, "TR1 %lld %lld %269s", &recv, &end, w) == 3)
			snprintf(dkim, sizeof dkim, "%s", w);
	}
	struct arena *a = arena_new(16384);
	struct tlsrpt_report r;
	char err[128];
	size_t off = (size_t)(nl + 1 - v);
	if (tlsrpt_report_parse(v + off, len - off, a, &r, err, sizeof err) == 0)
		l->cb(l->arg, &r, (int64_t)recv, dkim);
	arena_free(&a);
}

int tlsrpt_report_list(struct store *st, const char *domain, tlsrpt_report_cb *cb, void *arg)
{
	char prefix[KEY_MAX];
	struct lister l = {cb, arg};
	if (strchr(domain, '/'))
		return STORE_EINVAL;
	snprintf(prefix, sizeof prefix, TLSRPT_REPORT_PREFIX "%s/", domain);
	return store_meta_list(st, prefix, on_report, &l);
}
