/*
 * queue_7bit.c — the 7-bit form of a queued message, re-signed. See
 * queue_7bit.h.
 */
#include "queue/queue_7bit.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/arc.h"
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

/*
 * copy (made here) gets m without the header fields drop() says to take
 * out: the kept fields, then the body. -1 (copy not made) when m has no
 * end of header section.
 */
static int copy_without(struct str m, int (*drop)(struct str f, const void *arg),
			const void *arg, struct buf *copy)
{
	ptrdiff_t body = head_len(m);
	if (body < 0)
		return -1;
	buf_init(copy, m.len + 1);
	struct str head = str_make(m.p, (size_t)body), f;
	size_t pos = 0, from = 0;
	while (dkim_header_next(head, &pos, &f)) {
		if (drop(f, arg)) {
			buf_append(copy, m.p + from, (size_t)(f.p - m.p) - from);
			from = pos;
		}
	}
	buf_append(copy, m.p + from, m.len - from);
	return 0;
}

/* One of our DKIM-Signature fields for the domain arg. */
static int is_our_sig(struct str f, const void *domain)
{
	return str_eq_ci(dkim_field_name(f), STR_LIT("DKIM-Signature")) &&
	       queue_sig_of(f, domain);
}

int queue_resign(struct store *st, const char *domain, struct str m, struct buf *out)
{
	/* Without the old signatures: the kept fields, then the body. */
	struct buf copy, sigs;
	if (copy_without(m, is_our_sig, domain, &copy) < 0)
		return DKIM_EINVAL;
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
 * Appends the key records of domain d (ours) to table as DNS would serve
 * them (selector._domainkey.d TXT ...), keys as scratch. 0, or -1 when we
 * hold no keys for d.
 */
static int keys_table(struct store *st, const char *d, struct dkim_keys *keys, struct buf *table)
{
	if (store_dkim_get_either(st, d, keys) != STORE_OK)
		return -1;
	for (unsigned k = 0; k < keys->n; k++) {
		buf_printf(table, "%s._domainkey.%s TXT ", keys->key[k].selector, d);
		dkim_key_txt(&keys->key[k], table);
		buf_append_c(table, "\n");
	}
	dkim_keys_wipe(keys);
	return 0;
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
		if (seen || keys_table(st, d, keys, &table) != 0)
			continue;
		memcpy(cand[ncand++], d, sizeof d);
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

/* The value of a raw header field: what follows its colon. */
static struct str value_of(struct str f)
{
	ptrdiff_t colon = str_chr(f, ':');
	return colon < 0 ? str_make(f.p, 0) : str_make(f.p + colon + 1, f.len - (size_t)colon - 1);
}

/* Our newest ARC set on a message: its instance (0: the newest set is not
 * ours), its sealer and its AAR payload (malloc'ed, NUL-ended). */
struct our_arc {
	unsigned inst;
	char d[DKIM_DOMAIN_MAX + 1];
	char *aar;
};

/*
 * Finds the newest ARC set of msg and makes it a->inst when it is ours:
 * its ARC-Seal's d= is a domain we hold keys for and, with those keys
 * only, both its ARC-Message-Signature and its ARC-Seal verify over the
 * message as queued (a chain the validator turns down before reaching
 * them, say a set missing a field, is not re-made either). The earlier
 * sets' keys are not looked up: their seals are not ours to judge.
 */
static void our_arc_set(struct store *st, const char *msg, size_t len, struct our_arc *a)
{
	memset(a, 0, sizeof *a);
	ptrdiff_t body = head_len(str_make(msg, len));
	if (body < 0)
		return;
	struct str head = str_make(msg, (size_t)body), f;
	size_t pos = 0;
	unsigned top = 0;
	struct arc_seal_sig *as = xmalloc(sizeof *as);
	while (dkim_header_next(head, &pos, &f)) {
		const char *why;
		if (arc_field_kind(f) != ARC_F_AS)
			continue;
		unsigned i = arc_instance(ARC_F_AS, value_of(f));
		if (i > top && i <= ARC_SETS_MAX) {
			top = i;
			a->d[0] = '\0';
			if (arc_seal_parse(value_of(f), as, &why) == 0)
				memcpy(a->d, as->d, sizeof a->d);
		}
	}
	free(as);
	if (top == 0 || a->d[0] == '\0')
		return;
	struct buf table;
	buf_init(&table, 64 * 1024);
	struct dkim_keys *keys = xmalloc(sizeof *keys);
	int have = keys_table(st, a->d, keys, &table) == 0;
	free(keys);
	if (have) {
		struct dns_table *t = dns_table_new(buf_data(&table), buf_len(&table));
		struct dns_resolver r = dns_table_resolver(t);
		struct arc_verifier *v = arc_verifier_new(&r, (int64_t)time_wall());
		arc_verifier_update(v, msg, len);
		const struct arc_result *res = NULL;
		if (arc_verifier_run(v, NULL, NULL) == ARC_VERIFY_DONE)
			res = arc_verifier_result(v);
		if (res && res->nsets == top) {
			const struct arc_set_info *s = &res->set[top - 1];
			if (s->ams == DKIM_RESULT_PASS && s->as == DKIM_RESULT_PASS &&
			    strcasecmp(s->ams_d, a->d) == 0 && s->aar.p != NULL) {
				a->inst = top;
				a->aar = xmalloc(s->aar.len + 1);
				memcpy(a->aar, s->aar.p, s->aar.len);
				a->aar[s->aar.len] = '\0';
			}
		}
		arc_verifier_free(&v);
		dns_table_free(&t);
	}
	buf_free(&table);
}

/*
 * RFC 8617 §5.1 over the converted message m: out gets m without the
 * three fields of set a->inst, sealed again by a->d with the same AAR
 * (what this hop found on arrival) and the same cv (none for the first
 * set, else pass: only a verified set is re-made). ARC_OK, or the
 * sealer's error (out then unchanged, or partly filled for ARC_ETOOBIG).
 */
/* A field of the ARC set whose instance is arg's (struct our_arc). */
static int is_our_arc_field(struct str f, const void *arg)
{
	const struct our_arc *a = arg;
	enum arc_field k = arc_field_kind(f);
	return k != ARC_F_NONE && arc_instance(k, value_of(f)) == a->inst;
}

static int reseal(struct store *st, const struct our_arc *a, struct str m, struct buf *out)
{
	struct buf rest, set;
	if (copy_without(m, is_our_arc_field, a, &rest) < 0)
		return ARC_EINVAL;
	struct dkim_keys *keys = xmalloc(sizeof *keys);
	const struct dkim_key *key = NULL;
	if (store_dkim_get_either(st, a->d, keys) == STORE_OK)
		key = arc_key_pick(keys);
	int rc = ARC_EINVAL;
	buf_init(&set, 64 * 1024);
	if (key) {
		struct arc_seal_params p = {.key = key, .domain = a->d, .authres = a->aar,
					    .cv = a->inst == 1 ? ARC_CV_NONE : ARC_CV_PASS,
					    .now = (int64_t)time_wall()};
		rc = arc_seal(&p, buf_data(&rest), buf_len(&rest), &set);
	}
	if (rc == ARC_OK && (buf_room(out) < buf_len(&set) + buf_len(&rest) ||
			     buf_append(out, buf_data(&set), buf_len(&set)) < 0 ||
			     buf_append(out, buf_data(&rest), buf_len(&rest)) < 0))
		rc = ARC_ETOOBIG;
	buf_free(&set);
	buf_free(&rest);
	dkim_keys_wipe(keys);
	free(keys);
	return rc;
}

int queue_to_7bit(struct store *st, const char *msg, size_t len, struct buf *out,
		  unsigned *resigned_r, unsigned *resealed_r)
{
	char ours[OURS_MAX][DKIM_DOMAIN_MAX + 1];
	struct our_arc arc;
	*resigned_r = *resealed_r = 0;
	size_t nours = our_signers(st, msg, len, ours);
	our_arc_set(st, msg, len, &arc);
	if (nours == 0 && arc.inst == 0)
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
	/* Our ARC set last, as it was made: its AMS covers the DKIM
	 * signatures just made (DKIM signs no ARC field). */
	if (r == 0 && arc.inst) {
		buf_reset(&next);
		int rc = reseal(st, &arc, buf_str(&cur), &next);
		if (rc == ARC_ETOOBIG) {
			r = -1;
		} else if (rc != ARC_OK) {
			log_warn("queue", NULL, "event=arc_unsealed domain=%s result=%d reason=7bit",
				 arc.d, rc);
		} else {
			struct buf t = cur;
			cur = next;
			next = t;
			*resealed_r = 1;
		}
	}
	free(arc.aar);
	if (r == 0)
		r = buf_append(out, buf_data(&cur), buf_len(&cur));
	buf_free(&cur);
	buf_free(&next);
	return r < 0 ? -1 : 0;
}
