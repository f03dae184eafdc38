/*
 * arc_seal.c — the sealer (RFC 8617 §5.1): the next ARC set for a message
 * tern passes on. It streams as the DKIM signer does (the header section
 * kept, the body hashed relaxed as it goes), then writes, in the order
 * they are put on the message (newest on top):
 *   ARC-Seal                   i=N+1, cv= of the chain found, over the sets
 *   ARC-Message-Signature      i=N+1, DKIM's signer under another name
 *   ARC-Authentication-Results i=N+1; what this hop found
 *
 * The cv= written is the validator's verdict on arrival (arc.h), except
 * that a chain the sealer itself finds malformed (a set missing a field,
 * a duplicate) is sealed as failed: a seal must never vouch for a chain
 * that cannot verify. A failed chain's seal signs the new set only
 * (§5.1.2), so that the next hop can see where it broke.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/arc.h"
#include "core/base64.h"
#include "core/xalloc.h"

/* Room for the AAR: the Authentication-Results text tern writes. */
#define AAR_MAX (64 * 1024)
#define LINE 76

const struct dkim_key *arc_key_pick(const struct dkim_keys *keys)
{
	for (unsigned i = 0; keys != NULL && i < keys->n; i++)
		if (keys->key[i].alg == DKIM_ALG_RSA_SHA256)
			return &keys->key[i];
	return NULL;
}

/* The A-R value to carry: an "Authentication-Results:" name in front and a
 * final CRLF are dropped (so a caller may pass the field it prepends);
 * inside, folds are CRLF + WSP, nothing else breaks a line, no NUL.
 * Returns the value, or {NULL, 0} when it is not usable. */
static struct str authres_value(const char *s)
{
	static const char name[] = "authentication-results:";
	struct str v = str_c(s);

	if (str_has_prefix_ci(v, name)) {
		v = str_make(v.p + sizeof name - 1, v.len - (sizeof name - 1));
		while (v.len > 0 && (v.p[0] == ' ' || v.p[0] == '\t'))
			v = str_make(v.p + 1, v.len - 1);
	}
	if (v.len >= 2 && v.p[v.len - 2] == '\r' && v.p[v.len - 1] == '\n')
		v.len -= 2;
	if (v.len == 0 || v.len > AAR_MAX - 64)
		return (struct str){NULL, 0};
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] == '\n')
			return (struct str){NULL, 0}; /* a LF only after CR, below */
		if (v.p[i] == '\r') {
			if (i + 2 >= v.len || v.p[i + 1] != '\n' ||
			    (v.p[i + 2] != ' ' && v.p[i + 2] != '\t'))
				return (struct str){NULL, 0};
			i++;
		}
	}
	return v;
}

int arc_sealer_init(struct arc_sealer *s, const struct arc_seal_params *p)
{
	char d[DKIM_DOMAIN_MAX + 1];

	memset(s, 0, sizeof *s);
	s->state = 2;
	/* The domain as served, in either spelling: d= is its A-labels
	 * (dkim_domain_ascii, as the DKIM signature's; RFC 8616 §4). */
	if (p == NULL || p->key == NULL || p->domain == NULL ||
	    dkim_domain_ascii(p->domain, d) != 0 || !dkim_selector_ok(p->key->selector) ||
	    (p->key->alg != DKIM_ALG_RSA_SHA256 && p->key->alg != DKIM_ALG_ED25519_SHA256) ||
	    (p->authres != NULL && authres_value(p->authres).p == NULL))
		return ARC_EINVAL;
	s->p = *p;
	s->state = 0;
	dkim_head_init(&s->head);
	dkim_body_init(&s->body);
	return ARC_OK;
}

int arc_sealer_set_results(struct arc_sealer *s, const char *authres, enum arc_cv cv)
{
	if (s->state == 2 || authres == NULL || authres_value(authres).p == NULL)
		return ARC_EINVAL;
	s->p.authres = authres;
	s->p.cv = cv;
	return ARC_OK;
}

void arc_sealer_clear(struct arc_sealer *s)
{
	dkim_head_free(&s->head);
	s->state = 2;
}

int arc_sealer_update(struct arc_sealer *s, const void *p, size_t n)
{
	const char *c = p;

	if (s->state == 2)
		return ARC_EINVAL;
	if (s->error != ARC_OK)
		return s->error;
	if (s->state == 0) {
		size_t used = dkim_head_feed(&s->head, c, n);
		c += used;
		n -= used;
		if (s->head.toobig)
			s->error = ARC_ETOOBIG;
		else if (s->head.done)
			s->state = 1;
	}
	if (s->state == 1 && n > 0)
		dkim_body_update(&s->body, c, n);
	return s->error;
}

/* The chain on the message: N, and whether sets 1..N are each complete
 * and single (then f[i][k] is the field of kind k in set i+1). */
struct chain {
	unsigned n;
	int whole;
	long (*f)[4];
	int newest_failed;
};

static struct str value_of(struct str f)
{
	ptrdiff_t colon = str_chr(f, ':');
	return str_make(f.p + colon + 1, f.len - (size_t)colon - 1);
}

static void read_chain(const struct dkim_hindex *x, struct chain *c)
{
	c->f = xcalloc(ARC_SETS_MAX + 1, sizeof *c->f);
	memset(c->f, 0xff, (ARC_SETS_MAX + 1) * sizeof *c->f); /* -1 */
	c->whole = 1;
	for (size_t i = 0; i < x->nfields; i++) {
		enum arc_field k = arc_field_kind(x->fields[i]);
		if (k == ARC_F_NONE)
			continue;
		unsigned inst = arc_instance(k, value_of(x->fields[i]));
		if (inst == 0 || inst > ARC_SETS_MAX) {
			/* A field we cannot place: the chain is broken, and an
			 * instance over 50 leaves no room for ours. */
			c->whole = 0;
			if (inst > ARC_SETS_MAX)
				c->n = ARC_SETS_MAX;
			continue;
		}
		if (c->f[inst - 1][k] >= 0)
			c->whole = 0;
		c->f[inst - 1][k] = (long)i;
		if (inst > c->n)
			c->n = inst;
	}
	for (unsigned i = 0; i < c->n; i++)
		for (int k = ARC_F_AAR; k <= ARC_F_AS; k++)
			if (c->f[i][k] < 0)
				c->whole = 0;
	if (c->n > 0 && c->n <= ARC_SETS_MAX && c->f[c->n - 1][ARC_F_AS] >= 0) {
		struct arc_seal_sig as;
		const char *why;
		if (arc_seal_parse(value_of(x->fields[c->f[c->n - 1][ARC_F_AS]]), &as, &why) == 0 &&
		    as.cv == ARC_CV_FAIL)
			c->newest_failed = 1;
	}
}

/* Appends base64 of sig, folded at LINE, to out (which is at column col). */
static int put_b64(struct buf *out, size_t col, const uint8_t *sig, size_t len)
{
	char b64[BASE64_ENCODED_SIZE(DKIM_RSA_MAX_BITS / 8)];
	if (base64_encode(sig, len, 0, b64, sizeof b64) != 0)
		return -1;
	size_t left = strlen(b64);
	const char *p = b64;
	while (left > 0) {
		if (col >= LINE) {
			if (buf_append(out, "\r\n\t", 3) != 0)
				return -1;
			col = 1;
		}
		size_t m = LINE - col < left ? LINE - col : left;
		if (buf_append(out, p, m) != 0)
			return -1;
		col += m;
		p += m;
		left -= m;
	}
	return buf_append(out, "\r\n", 2);
}

static int hash_field(br_sha256_context *ctx, struct str f, struct buf *canon, int last)
{
	buf_reset(canon);
	if (dkim_canon_header(f, canon) != 0)
		return -1;
	br_sha256_update(ctx, buf_data(canon), buf_len(canon) - (last ? 2 : 0));
	return 0;
}

/* Writes the seal of instance inst to as, given the new AAR and AMS. */
static int write_seal(const struct arc_sealer *s, const struct dkim_hindex *x,
                      const struct chain *c, unsigned inst, enum arc_cv cv, struct str aar,
                      struct str ams, struct buf *as)
{
	br_sha256_context ctx;
	struct buf canon;
	uint8_t digest[32], sig[DKIM_RSA_MAX_BITS / 8];
	size_t siglen;
	int rc = ARC_ETOOBIG;

	if (buf_printf(as, "ARC-Seal: i=%u; a=%s; t=%" PRId64 "; cv=%s;\r\n\td=%s; s=%s;\r\n\tb=",
	               inst, dkim_alg_name(s->p.key->alg), s->p.now, arc_cv_name(cv), s->p.domain,
	               s->p.key->selector) != 0)
		return ARC_ETOOBIG;
	buf_init(&canon, DKIM_HEADER_MAX + 4096);
	br_sha256_init(&ctx);
	if (cv != ARC_CV_FAIL)
		for (unsigned i = 0; i + 1 < inst; i++)
			for (int k = ARC_F_AAR; k <= ARC_F_AS; k++)
				if (hash_field(&ctx, x->fields[c->f[i][k]], &canon, 0) != 0)
					goto out;
	if (hash_field(&ctx, aar, &canon, 0) != 0 || hash_field(&ctx, ams, &canon, 0) != 0 ||
	    hash_field(&ctx, buf_str(as), &canon, 1) != 0)
		goto out;
	br_sha256_out(&ctx, digest);
	if (dkim_key_sign_digest(s->p.key, digest, sig, sizeof sig, &siglen) != DKIM_OK) {
		rc = ARC_ECRYPTO;
		goto out;
	}
	rc = put_b64(as, 3, sig, siglen) == 0 ? ARC_OK : ARC_ETOOBIG;
out:
	buf_free(&canon);
	return rc;
}

int arc_sealer_final(struct arc_sealer *s, struct buf *out)
{
	struct dkim_hindex x;
	struct chain c = {0};
	struct buf aar, ams, as;
	uint8_t bh[32];
	char lower[DKIM_DOMAIN_MAX + 1];

	if (s->state == 2)
		return ARC_EINVAL;
	if (s->state == 0) {
		dkim_head_finish(&s->head);
		if (s->head.toobig)
			s->error = ARC_ETOOBIG;
	}
	int rc = s->p.authres == NULL ? ARC_EINVAL : s->error;
	if (rc != ARC_OK) {
		arc_sealer_clear(s);
		return rc;
	}
	dkim_body_final(&s->body, bh);
	dkim_hindex_build(&x, buf_str(&s->head.buf));
	read_chain(&x, &c);
	buf_init(&aar, AAR_MAX);
	buf_init(&ams, 2 * (size_t)DKIM_HEADER_MAX + 8192);
	buf_init(&as, 4096);
	if (c.newest_failed || c.n >= ARC_SETS_MAX) {
		rc = ARC_ECHAIN;
		goto out;
	}
	unsigned inst = c.n + 1;
	enum arc_cv cv = c.n == 0                            ? ARC_CV_NONE
	                 : s->p.cv == ARC_CV_PASS && c.whole ? ARC_CV_PASS
	                                                     : ARC_CV_FAIL;
	(void)dkim_domain_ascii(s->p.domain, lower); /* checked by init */

	/* AAR: this hop's results under the new instance. */
	struct str ar = authres_value(s->p.authres);
	if (buf_printf(&aar, "ARC-Authentication-Results: i=%u; %.*s", inst, (int)ar.len, ar.p) !=
	    0) {
		rc = ARC_ETOOBIG;
		goto out;
	}
	/* AMS: a DKIM signature named for ARC, over the message as it is. */
	char first[16];
	snprintf(first, sizeof first, "i=%u;", inst);
	struct dkim_sig_form form = {"ARC-Message-Signature", first, 1};
	rc =
	    dkim_sign_section(s->p.key, 1, lower, s->p.now, buf_str(&s->head.buf), bh, &form, &ams);
	if (rc != DKIM_OK) {
		rc = rc == DKIM_ECRYPTO  ? ARC_ECRYPTO
		     : rc == DKIM_EINVAL ? ARC_EINVAL
		                         : ARC_ETOOBIG;
		goto out;
	}
	struct str ams_field = buf_str(&ams);
	ams_field.len -= 2; /* without its CRLF, as a field of the section */
	struct arc_sealer low = *s;
	low.p.domain = lower;
	if ((rc = write_seal(&low, &x, &c, inst, cv, buf_str(&aar), ams_field, &as)) != ARC_OK)
		goto out;
	if (buf_room(out) < buf_len(&as) + buf_len(&ams) + buf_len(&aar) + 2) {
		rc = ARC_ETOOBIG; /* out is left as it was */
		goto out;
	}
	(void)(buf_append_str(out, buf_str(&as)) || buf_append_str(out, buf_str(&ams)) ||
	       buf_append_str(out, buf_str(&aar)) || buf_append(out, "\r\n", 2));
out:
	buf_free(&aar);
	buf_free(&ams);
	buf_free(&as);
	free(c.f);
	dkim_hindex_free(&x);
	arc_sealer_clear(s);
	return rc;
}

int arc_seal(const struct arc_seal_params *p, const char *msg, size_t len, struct buf *out)
{
	struct arc_sealer s;
	int rc = arc_sealer_init(&s, p);

	if (rc != ARC_OK)
		return rc;
	rc = arc_sealer_update(&s, msg, len);
	if (rc != ARC_OK) {
		arc_sealer_clear(&s);
		return rc;
	}
	return arc_sealer_final(&s, out);
}
