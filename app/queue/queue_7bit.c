/*
 * queue_7bit.c — the 7-bit form of a queued message, re-signed. See
 * queue_7bit.h.
 */
#include "queue/queue_7bit.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "dkim/dkim.h"
#include "dkim/dkim_verify.h"
#include "dns/dns_table.h"
#include "mime/mime_downgrade.h"
#include "sieve/sieve.h"
#include "store/store.h"

/* Domains of ours a message may carry signatures of (one in practice). */
#define OURS_MAX 4

/* The d= of the raw DKIM-Signature field f into d: 0, or -1 when it has
 * none (the one tag parser, dkim_tags_parse). */
static int sig_domain(struct str f, char d[DKIM_DOMAIN_MAX + 1])
{
	struct dkim_tag tags[DKIM_TAGS_MAX];
	const char *why;
	ptrdiff_t colon = str_chr(f, ':');
	if (colon < 0)
		return -1;
	int n = dkim_tags_parse(str_make(f.p + colon + 1, f.len - (size_t)colon - 1), tags,
				DKIM_TAGS_MAX, &why);
	for (int i = 0; i < n; i++)
		if (str_eq(tags[i].name, STR_LIT("d"))) {
			if (tags[i].value.len == 0 || tags[i].value.len > DKIM_DOMAIN_MAX)
				return -1;
			memcpy(d, tags[i].value.p, tags[i].value.len);
			d[tags[i].value.len] = '\0';
			return 0;
		}
	return -1;
}

int queue_sig_of(struct str f, const char *domain)
{
	char d[DKIM_DOMAIN_MAX + 1], got[DKIM_DOMAIN_MAX + 1];
	/* d= holds its A-label form (store_dkim_sign). */
	if (dkim_domain_ascii(domain, d) != 0 || sig_domain(f, got) != 0)
		return 0;
	return strcasecmp(got, d) == 0;
}

/* Where m's header section ends (the empty line excluded), or -1. */
static ptrdiff_t head_len(struct str m)
{
	return sieve_body_offset(m.p, m.len);
}

int queue_resign(struct store *st, const char *domain, struct str m, struct buf *out)
{
	ptrdiff_t body = head_len(m);
	if (body < 0)
		return DKIM_EINVAL;
	/* Without the old signatures: the kept fields, then the body. */
	struct buf copy, sigs;
	buf_init(&copy, m.len + 1);
	struct str head = str_make(m.p, (size_t)body), f;
	size_t pos = 0, from = 0;
	while (dkim_header_next(head, &pos, &f)) {
		size_t start = (size_t)(f.p - m.p), next = pos;
		if (str_eq_ci(dkim_field_name(f), STR_LIT("DKIM-Signature")) &&
		    queue_sig_of(f, domain)) {
			buf_append(&copy, m.p + from, start - from);
			from = next;
		}
	}
	buf_append(&copy, m.p + from, m.len - from);
	struct str p = buf_str(&copy);
	unsigned nsigs;
	buf_init(&sigs, STORE_DKIM_SIGS_MAX);
	int rc = store_dkim_sign(st, domain, &p, 1, &sigs, &nsigs);
	if (rc == DKIM_OK && buf_room(out) < buf_len(&sigs) + buf_len(&copy))
		rc = DKIM_ETOOBIG;
	if (rc == DKIM_OK && (buf_append(out, buf_data(&sigs), buf_len(&sigs)) < 0 ||
			      buf_append(out, buf_data(&copy), buf_len(&copy)) < 0))
		rc = DKIM_ETOOBIG; /* memory: out holds a part */
	buf_free(&sigs);
	buf_free(&copy);
	return rc;
}

/*
 * The domains of ours whose signatures on msg verify with our own keys
 * (at most OURS_MAX) into ours; their number.
 */
static size_t our_signers(struct store *st, const char *msg, size_t len,
			  char ours[OURS_MAX][DKIM_DOMAIN_MAX + 1])
{
	ptrdiff_t body = head_len(str_make(msg, len));
	if (body < 0)
		return 0;
	/* Each d= we hold keys for, with its keys' records as DNS would
	 * serve them (selector._domainkey.d TXT ...). */
	char cand[OURS_MAX][DKIM_DOMAIN_MAX + 1];
	size_t ncand = 0;
	struct buf table;
	buf_init(&table, 64 * 1024);
	struct dkim_keys *keys = xmalloc(sizeof *keys);
	struct str head = str_make(msg, (size_t)body), f;
	size_t pos = 0;
	while (ncand < OURS_MAX && dkim_header_next(head, &pos, &f)) {
		char d[DKIM_DOMAIN_MAX + 1];
		if (!str_eq_ci(dkim_field_name(f), STR_LIT("DKIM-Signature")) || sig_domain(f, d) != 0)
			continue;
		int seen = 0;
		for (size_t i = 0; i < ncand; i++)
			seen |= strcasecmp(cand[i], d) == 0;
		if (seen || store_dkim_get_either(st, d, keys) != STORE_OK)
			continue;
		memcpy(cand[ncand++], d, sizeof d);
		for (unsigned k = 0; k < keys->n; k++) {
			buf_printf(&table, "%s._domainkey.%s TXT ", keys->key[k].selector, d);
			dkim_key_txt(&keys->key[k], &table);
			buf_append_c(&table, "\n");
		}
		dkim_keys_wipe(keys);
	}
	free(keys);
	size_t n = 0;
	if (ncand > 0) {
		struct dns_table *t = dns_table_new(buf_data(&table), buf_len(&table));
		struct dns_resolver r = dns_table_resolver(t);
		struct dkim_verifier *v = dkim_verifier_new(&r, (int64_t)time_wall());
		dkim_verifier_update(v, msg, len);
		if (dkim_verifier_run(v, NULL, NULL) == DKIM_VERIFY_DONE) {
			for (size_t i = 0; i < ncand; i++) {
				int ok = 0;
				for (size_t k = 0; k < dkim_verifier_count(v); k++) {
					const struct dkim_sig_result *res = dkim_verifier_result(v, k);
					ok |= res->verified && strcasecmp(res->d, cand[i]) == 0;
				}
				if (ok)
					memcpy(ours[n++], cand[i], sizeof cand[i]);
			}
		}
		dkim_verifier_free(&v);
		dns_table_free(&t);
	}
	buf_free(&table);
	return n;
}

int queue_to_7bit(struct store *st, const char *msg, size_t len, struct buf *out,
		  unsigned *resigned_r)
{
	char ours[OURS_MAX][DKIM_DOMAIN_MAX + 1];
	*resigned_r = 0;
	size_t nours = our_signers(st, msg, len, ours);
	if (nours == 0)
		return mime_downgrade_7bit(msg, len, out);
	struct buf cur, next;
	buf_init(&cur, out->max);
	buf_init(&next, out->max);
	int r = mime_downgrade_7bit(msg, len, &cur);
	for (size_t i = 0; r == 0 && i < nours; i++) {
		/* Signed again domain by domain: each new set covers what the
		 * one before it added, as signatures stacked in transit do. */
		buf_reset(&next);
		int rc = queue_resign(st, ours[i], buf_str(&cur), &next);
		if (rc == DKIM_ETOOBIG) {
			r = -1;
		} else if (rc != DKIM_OK) {
			log_warn("queue", NULL, "event=dkim_unsigned domain=%s result=%d reason=7bit",
				 ours[i], rc);
		} else {
			struct buf t = cur;
			cur = next;
			next = t;
			(*resigned_r)++;
		}
	}
	if (r == 0)
		r = buf_append(out, buf_data(&cur), buf_len(&cur));
	buf_free(&cur);
	buf_free(&next);
	return r < 0 ? -1 : 0;
}
