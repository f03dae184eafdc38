/*
 * dkim_sign.c — the streaming signer: keeps the header section, hashes
 * the body as it goes, and writes one DKIM-Signature field per key.
 *
 * The header section ends at the first empty line (CRLF CRLF, or a bare LF
 * where a line starts). Until then octets are appended to s->head (struct
 * dkim_head, shared with the verifier), capped
 * at DKIM_HEADER_MAX; from then on they go straight to the body
 * canonicalizer, and nothing of the body is kept.
 *
 * At the end (RFC 6376 §5.4, §3.7): the fields to sign are picked from the
 * list below; the relaxed form of each chosen instance, bottom-up, goes
 * into one SHA-256 context; that context is copied once per key, the key's
 * own DKIM-Signature field (with an empty b=) is added in relaxed form
 * without its final CRLF, and the digest is signed.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/xalloc.h"
#include "dkim/dkim.h"
#include "dkim/dkim_verify.h" /* DKIM_H_NAMES_MAX */

/* How a name of the list is signed. */
enum over {
	SIGN,         /* each instance present */
	OVER_PRESENT, /* each instance, and one more when there is one */
	OVER_ALWAYS,  /* each instance and one more, even when absent */
};

/*
 * The fields that carry what a reader sees and what replies go to
 * (RFC 6376 §5.4.1), threading, the MIME structure (a changed Content-Type
 * boundary would re-cut the body), and the list fields RFC 8058 requires
 * signed when present. Received, Return-Path and trace fields are left
 * out: relays add and reorder them.
 */
static const struct {
	const char *name;
	enum over over;
} sign_fields[] = {
    {"from", OVER_ALWAYS},
    {"sender", OVER_PRESENT},
    {"reply-to", OVER_ALWAYS},
    {"subject", OVER_ALWAYS},
    {"date", OVER_PRESENT},
    {"to", OVER_ALWAYS},
    {"cc", OVER_ALWAYS},
    {"message-id", OVER_PRESENT},
    {"in-reply-to", OVER_PRESENT},
    {"references", OVER_PRESENT},
    {"mime-version", OVER_PRESENT},
    {"content-type", OVER_PRESENT},
    {"content-transfer-encoding", OVER_PRESENT},
    {"content-language", SIGN},
    {"content-disposition", SIGN},
    {"list-id", SIGN},
    {"list-help", SIGN},
    {"list-unsubscribe", OVER_PRESENT},
    {"list-unsubscribe-post", OVER_PRESENT},
    {"list-subscribe", SIGN},
    {"list-post", SIGN},
    {"list-owner", SIGN},
    {"list-archive", SIGN},
    {"autocrypt", SIGN},
    /* An AMS signs the DKIM signatures it found (RFC 8617 §4.1.2); the
     * last entry, skipped for DKIM-Signature (see sign_index). */
    {"dkim-signature", SIGN},
};
#define NSIGN (sizeof sign_fields / sizeof sign_fields[0])

/* Physical lines of the DKIM-Signature field stay within this (RFC 5322 §2.1.1 says 78). */
#define LINE_MAX_OCTETS 76
/* Ceiling for one signature field: the h= list grows with the instances. */
#define SIG_FIELD_MAX (2 * (size_t)DKIM_HEADER_MAX + 4096)

int dkim_signer_init(struct dkim_signer *s, const struct dkim_keys *keys, const char *domain,
                     int64_t now)
{
	memset(s, 0, sizeof *s);
	s->state = DKIM_SIGNER_DONE; /* until everything checked out */
	if (keys == NULL || keys->n == 0 || keys->n > DKIM_KEYS_MAX || !dkim_domain_ok(domain))
		return DKIM_EINVAL;
	for (unsigned i = 0; i < keys->n; i++) {
		const struct dkim_key *k = &keys->key[i];
		if (!dkim_selector_ok(k->selector) ||
		    (k->alg != DKIM_ALG_RSA_SHA256 && k->alg != DKIM_ALG_ED25519_SHA256))
			return DKIM_EINVAL;
	}
	/* d= is compared case-insensitively; lowercase reads best. */
	size_t n = strlen(domain);
	for (size_t i = 0; i <= n; i++) {
		char c = domain[i];
		s->domain[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	s->keys = keys;
	s->now = now;
	s->state = DKIM_SIGNER_HEAD;
	dkim_head_init(&s->head);
	dkim_body_init(&s->body);
	return DKIM_OK;
}

void dkim_signer_clear(struct dkim_signer *s)
{
	dkim_head_free(&s->head);
	s->state = DKIM_SIGNER_DONE;
}

int dkim_signer_update(struct dkim_signer *s, const void *p, size_t n)
{
	const char *c = p;

	if (s->state == DKIM_SIGNER_DONE)
		return DKIM_EINVAL;
	if (s->error != DKIM_OK)
		return s->error; /* the signature is lost: stop working for it */
	if (s->state == DKIM_SIGNER_HEAD) {
		size_t used = dkim_head_feed(&s->head, c, n);
		c += used;
		n -= used;
		if (s->head.toobig)
			s->error = DKIM_ETOOBIG;
		else if (s->head.done)
			s->state = DKIM_SIGNER_BODY;
	}
	if (s->state == DKIM_SIGNER_BODY && n > 0)
		dkim_body_update(&s->body, c, n);
	return s->error;
}

/* ---- the signature field ---- */

/* A folding writer for the DKIM-Signature field. */
struct fold {
	struct buf *b;
	size_t col;
	int err;
};

static void fold_raw(struct fold *f, const char *s, size_t n)
{
	if (!f->err && buf_append(f->b, s, n) != 0)
		f->err = 1;
}

static void fold_break(struct fold *f)
{
	fold_raw(f, "\r\n\t", 3);
	f->col = 1;
}

/* Appends a token, after a space when space is set, on a new line when it
 * would not fit on this one (a fold is the separator then). */
static void fold_tok(struct fold *f, const char *s, size_t n, int space)
{
	if (f->col > 1 && f->col + (space ? 1 : 0) + n > LINE_MAX_OCTETS) {
		fold_break(f);
	} else if (space) {
		fold_raw(f, " ", 1);
		f->col++;
	}
	fold_raw(f, s, n);
	f->col += n;
}

/* A formatted tag, after a space. */
static void __attribute__((format(printf, 2, 3))) fold_tokf(struct fold *f, const char *fmt, ...)
{
	char tmp[DKIM_DOMAIN_MAX + 16];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp)
		f->err = 1;
	else
		fold_tok(f, tmp, (size_t)n, 1);
}

/* A field of the header section chosen for signing. */
struct chosen {
	unsigned idx; /* into sign_fields */
	struct str field;
};

static int sign_index(struct str name, int arc)
{
	for (unsigned i = 0; i < NSIGN - (arc ? 0 : 1); i++)
		if (str_eq_ci_c(name, sign_fields[i].name))
			return (int)i;
	return -1;
}

/* How many times name idx appears in h= given count instances present. */
static size_t listed(unsigned idx, size_t count)
{
	switch (sign_fields[idx].over) {
	case OVER_ALWAYS:
		return count + 1;
	case OVER_PRESENT:
		return count ? count + 1 : 0;
	case SIGN:
		break;
	}
	return count;
}

/*
 * The entries per name in h= (listed()), cut to total at most
 * DKIM_H_NAMES_MAX, the most a verifier (ours too) takes: the name with
 * the most entries loses one until they fit. A name cut below its
 * instances lists its bottom-most ones and no over-signing entry (one
 * more would pick the next instance up, RFC 6376 §5.4.2).
 */
static void entries(const size_t *counts, size_t *n)
{
	size_t total = 0;
	for (unsigned i = 0; i < NSIGN; i++)
		total += n[i] = listed(i, counts[i]);
	while (total > DKIM_H_NAMES_MAX) {
		unsigned big = 0;
		for (unsigned i = 1; i < NSIGN; i++)
			if (n[i] > n[big])
				big = i;
		n[big]--;
		total--;
	}
}

/*
 * Writes the field for key k up to and including "b=" into f, hashes its
 * relaxed form (without the final CRLF) on top of hctx, signs, and appends
 * the folded signature and CRLF.
 */
static int sign_one(const char *domain, int64_t now, const struct dkim_sig_form *form,
                    const struct dkim_key *k, const br_sha256_context *hctx, const char *bh64,
                    const size_t *n, struct buf *field, struct buf *canon)
{
	struct fold f = {field, 0, 0};
	size_t start = buf_len(field);

	char name[40];
	int nl = snprintf(name, sizeof name, "%s:", form->name);
	if (nl < 0 || (size_t)nl >= sizeof name)
		return DKIM_EINVAL;
	fold_tok(&f, name, (size_t)nl, 0);
	fold_tok(&f, form->first_tag, strlen(form->first_tag), 1);
	fold_tokf(&f, "a=%s;", dkim_alg_name(k->alg));
	fold_tok(&f, "c=relaxed/relaxed;", 18, 1);
	fold_tokf(&f, "d=%s;", domain);
	fold_tokf(&f, "s=%s;", k->selector);
	fold_tokf(&f, "t=%" PRId64 ";", now);

	/* h=: every listed name, "h=" glued to the first one; folds may
	 * only come between names (FWS around ":" is allowed, §3.5). */
	size_t total = 0, done = 0;
	for (unsigned i = 0; i < NSIGN; i++)
		total += n[i];
	for (unsigned i = 0; i < NSIGN; i++) {
		for (size_t j = 0; j < n[i]; j++) {
			char tok[40];
			int first = done == 0;
			done++;
			int len = snprintf(tok, sizeof tok, "%s%s%s", first ? "h=" : "",
			                 sign_fields[i].name, done == total ? ";" : ":");
			fold_tok(&f, tok, (size_t)len, first);
		}
	}
	fold_tokf(&f, "bh=%s;", bh64);
	/* b= starts its own line so its value is never split from the tag. */
	fold_break(&f);
	fold_raw(&f, "b=", 2);
	f.col += 2;
	if (f.err)
		return DKIM_ETOOBIG;

	/* The field as signed: relaxed, b= empty, no final CRLF (§3.7). */
	br_sha256_context ctx = *hctx;
	uint8_t digest[32], sig[DKIM_RSA_MAX_BITS / 8];
	size_t siglen;
	buf_reset(canon);
	if (dkim_canon_header(str_make(buf_data(field) + start, buf_len(field) - start), canon) !=
	    0)
		return DKIM_ETOOBIG;
	br_sha256_update(&ctx, buf_data(canon), buf_len(canon) - 2);
	br_sha256_out(&ctx, digest);
	int rc = dkim_key_sign_digest(k, digest, sig, sizeof sig, &siglen);
	if (rc != DKIM_OK)
		return rc == DKIM_ETOOBIG ? DKIM_ECRYPTO : rc;

	char b64[BASE64_ENCODED_SIZE(DKIM_RSA_MAX_BITS / 8)];
	(void)base64_encode(sig, siglen, 0, b64, sizeof b64); /* siglen <= sizeof sig */
	size_t left = strlen(b64);
	const char *p = b64;
	while (left > 0) {
		if (f.col >= LINE_MAX_OCTETS)
			fold_break(&f);
		size_t m = LINE_MAX_OCTETS - f.col;
		if (m > left)
			m = left;
		fold_raw(&f, p, m);
		f.col += m;
		p += m;
		left -= m;
	}
	fold_raw(&f, "\r\n", 2);
	return f.err ? DKIM_ETOOBIG : DKIM_OK;
}

int dkim_sign_section(const struct dkim_key *keys, unsigned nkeys, const char *domain,
                      int64_t now, struct str section, const uint8_t bh[32],
                      const struct dkim_sig_form *form, struct buf *out)
{
	struct chosen *ch = NULL;
	size_t nch = 0, cap = 0, counts[NSIGN] = {0}, n[NSIGN];
	struct buf canon, fields;
	char bh64[BASE64_ENCODED_SIZE(32)];
	int rc = DKIM_OK;

	base64_encode(bh, 32, 0, bh64, sizeof bh64);

	/* Pick the fields of the list, in message order. */
	struct str field;
	size_t pos = 0;
	while (dkim_header_next(section, &pos, &field)) {
		int idx = sign_index(dkim_field_name(field), form->arc);
		if (idx < 0)
			continue;
		if (nch == cap) {
			cap = cap ? 2 * cap : 32;
			ch = xrealloc(ch, cap * sizeof *ch);
		}
		ch[nch++] = (struct chosen){(unsigned)idx, field};
		counts[idx]++;
	}

	/* The signed fields, each name's instances bottom-up (§5.4.2), as
	 * many as it has entries; an over-signed entry past the last
	 * instance adds nothing. */
	entries(counts, n);
	br_sha256_context hctx;
	br_sha256_init(&hctx);
	buf_init(&canon, DKIM_HEADER_MAX + 4096);
	for (unsigned i = 0; i < NSIGN && rc == DKIM_OK; i++) {
		size_t left = n[i];
		for (size_t j = nch; left && j-- > 0;) {
			if (ch[j].idx != i)
				continue;
			left--;
			buf_reset(&canon);
			if (dkim_canon_header(ch[j].field, &canon) != 0) {
				rc = DKIM_ETOOBIG;
				break;
			}
			br_sha256_update(&hctx, buf_data(&canon), buf_len(&canon));
		}
	}

	buf_init(&fields, SIG_FIELD_MAX);
	for (unsigned i = 0; i < nkeys && rc == DKIM_OK; i++)
		rc = sign_one(domain, now, form, &keys[i], &hctx, bh64, n, &fields, &canon);
	if (rc == DKIM_OK && buf_append(out, buf_data(&fields), buf_len(&fields)) != 0)
		rc = DKIM_ETOOBIG;

	free(ch);
	buf_free(&canon);
	buf_free(&fields);
	return rc;
}

int dkim_signer_final(struct dkim_signer *s, struct buf *out)
{
	static const struct dkim_sig_form form = {"DKIM-Signature", "v=1;", 0};
	uint8_t bh[32];
	int rc;

	if (s->state == DKIM_SIGNER_DONE)
		return DKIM_EINVAL;
	if (s->state == DKIM_SIGNER_HEAD) {
		dkim_head_finish(&s->head); /* a last CR with no LF */
		if (s->head.toobig)
			s->error = DKIM_ETOOBIG;
	}
	rc = s->error;
	if (rc == DKIM_OK) {
		dkim_body_final(&s->body, bh);
		rc = dkim_sign_section(s->keys->key, s->keys->n, s->domain, s->now,
		                       buf_str(&s->head.buf), bh, &form, out);
	}
	dkim_signer_clear(s);
	return rc;
}

int dkim_sign(const struct dkim_keys *keys, const char *domain, const char *msg, size_t len,
              int64_t now, struct buf *out)
{
	struct dkim_signer s;
	int rc = dkim_signer_init(&s, keys, domain, now);

	if (rc != DKIM_OK)
		return rc;
	rc = dkim_signer_update(&s, msg, len);
	if (rc != DKIM_OK) {
		dkim_signer_clear(&s);
		return rc;
	}
	return dkim_signer_final(&s, out);
}
