/*
 * dkim_verify.c — the streaming verifier: keeps the header section, hashes
 * the body once per distinct (canonicalization, l=), looks the keys up
 * through the resolver interface, then checks each signature. See
 * dkim_verify.h for the results and their reasons.
 *
 * States: HEAD (collecting the header section), BODY (streaming), LOOKUP
 * (message ended, key answers outstanding), DONE. Whatever can be decided
 * without a key (syntax, rsa-sha1, x=, t=) is decided when the body
 * starts, so such signatures cost no lookup.
 *
 * The header hash (§3.7): for each name of h=, the last instance not yet
 * used by this signature (bottom-up, §5.4.2); a name with no instance left
 * adds nothing. Then the DKIM-Signature field itself, with the b= value
 * and the white space around it removed, canonicalized, without its final
 * CRLF. The header hash itself is dkim_hindex.c's, shared with ARC.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "dkim/dkim_rsa.h"
#include "dkim/dkim_verify.h"

enum vstate { V_HEAD, V_BODY, V_LOOKUP, V_DONE };

struct vsig {
	struct dkim_verifier *v;
	struct dkim_sig sig;
	struct dkim_sig_result res;
	int decided;      /* res is final */
	size_t field;     /* index of the DKIM-Signature field in fields */
	int body;         /* index into bodies */
	int lookup;       /* 0 none, 1 pending, 2 answered */
	void *handle;
	enum dkim_keyans kst;
	const char *key_why;
	struct dkim_pubkey key;
};

struct dkim_verifier {
	struct dns_resolver r;
	int64_t now;
	enum vstate state;
	struct dkim_head head;
	struct dkim_hindex hx; /* the header section's fields, indexed */
	struct vsig sigs[DKIM_VERIFY_SIGS_MAX + 1]; /* the last: "more signatures" */
	size_t nsigs;
	/* The body hashers: the caller's set (dkim_verifier_share_bodies),
	 * else own, made at the body's start. */
	struct dkim_bodies *bodies;
	struct dkim_bodies *own;
	uint64_t body_at; /* body octets fed */
	size_t pending;
	int starting; /* inside the loop that starts lookups: no wake yet */
	int expired;  /* dkim_verifier_expire: no more lookups */
	void (*wake)(void *);
	void *wake_arg;
};

const char *dkim_result_name(enum dkim_result r)
{
	switch (r) {
	case DKIM_RESULT_NONE: return "none";
	case DKIM_RESULT_PASS: return "pass";
	case DKIM_RESULT_FAIL: return "fail";
	case DKIM_RESULT_NEUTRAL: return "neutral";
	case DKIM_RESULT_POLICY: return "policy";
	case DKIM_RESULT_TEMPERROR: return "temperror";
	case DKIM_RESULT_PERMERROR: return "permerror";
	}
	return "permerror";
}

static void decide(struct vsig *s, enum dkim_result r, const char *why)
{
	s->res.result = r;
	snprintf(s->res.reason, sizeof s->res.reason, "%s", why);
	s->decided = 1;
}

struct dkim_verifier *dkim_verifier_new(const struct dns_resolver *r, int64_t now)
{
	struct dkim_verifier *v = xcalloc(1, sizeof *v);
	v->r = *r;
	v->now = now;
	dkim_head_init(&v->head);
	return v;
}

/* ---- the start of the body: signatures and body hashers ---- */

void dkim_verifier_share_bodies(struct dkim_verifier *v, struct dkim_bodies *set)
{
	v->bodies = set;
}

/* The hasher for sig's body; -1 when the set is full (a shared set has
 * room for every signature: DKIM_BODIES_MAX). */
static int body_for(struct dkim_verifier *v, const struct dkim_sig *sig)
{
	if (v->bodies == NULL) {
		v->bodies = v->own = xmalloc(sizeof *v->own);
		dkim_bodies_init(v->own);
	}
	return dkim_bodies_want(v->bodies, sig->body_simple, sig->has_l ? sig->l : UINT64_MAX);
}

/* What needs no key: the algorithm's acceptability and the times. */
static void precheck(struct dkim_verifier *v, struct vsig *s)
{
	const struct dkim_sig *sig = &s->sig;

	if (sig->rsa_sha1) {
		decide(s, DKIM_RESULT_FAIL, "rsa-sha1 is not accepted (RFC 8301)");
	} else if (sig->has_x && sig->x < v->now) {
		decide(s, DKIM_RESULT_POLICY, "signature expired (x=)");
	} else if (sig->has_t && sig->t > v->now + DKIM_CLOCK_SKEW) {
		decide(s, DKIM_RESULT_POLICY, "signature timestamp t= in the future");
	}
}

static void add_sig(struct dkim_verifier *v, size_t fi)
{
	struct str f = v->hx.fields[fi];
	ptrdiff_t colon = str_chr(f, ':');
	struct str value = str_make(f.p + colon + 1, f.len - (size_t)colon - 1);
	const char *why = NULL;
	enum dkim_result res;

	if (v->nsigs == DKIM_VERIFY_SIGS_MAX + 1)
		return; /* the summary slot is taken: the rest are not looked at */
	struct vsig *s = &v->sigs[v->nsigs++];
	s->v = v;
	s->field = fi;
	if (v->nsigs == DKIM_VERIFY_SIGS_MAX + 1) {
		/* Bounded work: name it, do not evaluate it or those after. */
		(void)dkim_sig_parse(value, &s->sig, &res, &why);
		decide(s, DKIM_RESULT_NEUTRAL, "too many signatures: this one and later ones not evaluated");
	} else if (dkim_sig_parse(value, &s->sig, &res, &why) != 0) {
		decide(s, res, why);
	} else {
		s->res.alg = s->sig.alg;
		precheck(v, s);
		if (!s->decided && (s->body = body_for(v, &s->sig)) < 0)
			decide(s, DKIM_RESULT_NEUTRAL, "too many body hashes: not evaluated");
	}
	memcpy(s->res.d, s->sig.d, sizeof s->res.d);
	memcpy(s->res.s, s->sig.s, sizeof s->res.s);
	memcpy(s->res.i, s->sig.i, sizeof s->res.i);
	memcpy(s->res.b, s->sig.btext, sizeof s->res.b);
}

static void begin_body(struct dkim_verifier *v)
{
	dkim_hindex_build(&v->hx, buf_str(&v->head.buf));
	for (size_t i = 0; i < v->hx.nfields; i++)
		if (str_eq_ci_c(dkim_field_name(v->hx.fields[i]), "dkim-signature"))
			add_sig(v, i);
	v->state = V_BODY;
}

void dkim_verifier_update(struct dkim_verifier *v, const void *p, size_t n)
{
	const char *c = p;

	if (v->state == V_HEAD) {
		size_t used = dkim_head_feed(&v->head, c, n);
		c += used;
		n -= used;
		if (v->head.toobig) {
			v->state = V_LOOKUP; /* nothing more to read: see run */
			return;
		}
		if (v->head.done)
			begin_body(v);
	}
	if (v->state == V_BODY && n > 0 && v->bodies) {
		dkim_bodies_feed(v->bodies, v->body_at, c, n);
		v->body_at += n;
	}
}

/* ---- key lookups ---- */

static void key_answer(void *arg, const struct dns_answer *a)
{
	struct vsig *s = arg;
	struct dkim_verifier *v = s->v;

	s->lookup = 2;
	s->handle = NULL;
	s->kst = dkim_pubkey_answer(a, &s->key, &s->key_why);
	if (--v->pending == 0 && !v->starting && v->wake)
		v->wake(v->wake_arg);
}

static void start_lookups(struct dkim_verifier *v)
{
	char name[DKIM_SIG_SELECTOR_MAX + DKIM_DOMAIN_MAX + 16];

	v->starting = 1;
	for (size_t i = 0; i < v->nsigs; i++) {
		struct vsig *s = &v->sigs[i];
		if (s->decided)
			continue;
		if (v->expired) { /* the caller's time ran out: never asked */
			s->lookup = 2;
			s->kst = DKIM_KEYANS_TEMP;
			continue;
		}
		snprintf(name, sizeof name, "%s._domainkey.%s", s->sig.s, s->sig.d);
		s->lookup = 1;
		v->pending++;
		void *h = v->r.start(v->r.ctx, name, DNS_T_TXT, key_answer, s);
		if (s->lookup == 1)
			s->handle = h;
	}
	v->starting = 0;
}

/* ---- checking one signature ---- */

/* The key's own rules (§3.6.1); NULL when they allow the signature. */
static const char *key_refuses(const struct vsig *s)
{
	const struct dkim_sig *sig = &s->sig;

	const char *why;

	if (s->kst == DKIM_KEYANS_BAD)
		return s->key_why;
	if ((why = dkim_pubkey_refuses(&s->key, sig->alg)) != NULL && why != dkim_key_not_email)
		return why;
	if (s->key.strict && sig->i_sub)
		return "key t=s: the i= domain must be d= itself";
	return why; /* NULL or dkim_key_not_email, checked last */
}

/*
 * Whether a field RFC 5322 §3.6 allows once, which h= signs, has more
 * instances in the header than h= names: a forger's copy above the signed
 * one is what a mail client shows (unsigned_instance).
 */
static int unsigned_instance(const struct dkim_hindex *x, struct str h)
{
	static const char *const once[] = {"from", "sender", "reply-to", "to", "cc", "bcc",
					   "message-id", "in-reply-to", "references", "subject",
					   "date"};
	for (size_t k = 0; k < sizeof once / sizeof once[0]; k++) {
		size_t named = 0;
		struct str rest = h;
		while (rest.p != NULL) {
			ptrdiff_t c = str_chr(rest, ':');
			struct str item = c < 0 ? rest : str_make(rest.p, (size_t)c);
			rest = c < 0 ? (struct str){NULL, 0}
				     : str_make(rest.p + c + 1, rest.len - (size_t)c - 1);
			while (item.len && strchr(" \t\r\n", item.p[0]))
				item = str_make(item.p + 1, item.len - 1);
			while (item.len && strchr(" \t\r\n", item.p[item.len - 1]))
				item.len--;
			named += str_eq_ci_c(item, once[k]);
		}
		if (named > 0 && dkim_hindex_count(x, str_c(once[k])) > named)
			return 1;
	}
	return 0;
}

/* With the key in hand: the key's rules, the body, then the signature. */
static void check_sig(struct dkim_verifier *v, struct vsig *s)
{
	const struct dkim_sig *sig = &s->sig;
	const struct dkim_body *b = &v->bodies->b[s->body];
	char why[DKIM_REASON_MAX];
	const char *refused;
	uint8_t digest[32];

	if (s->kst == DKIM_KEYANS_NONE || s->kst == DKIM_KEYANS_TEMP) {
		int temp = s->kst == DKIM_KEYANS_TEMP;
		/* A long name is cut: the reason is for logs and fields. */
		if (snprintf(why, sizeof why, "%s %s._domainkey.%s",
		             temp ? "key lookup failed for" : "no key record at", sig->s, sig->d) < 0)
			why[0] = '\0';
		decide(s, temp ? DKIM_RESULT_TEMPERROR : DKIM_RESULT_PERMERROR, why);
		return;
	}
	s->res.testing = s->kst == DKIM_KEYANS_OK && s->key.testing;
	s->res.services = s->kst == DKIM_KEYANS_OK ? s->key.services : 0;
	/* A key for TLS-RPT only (s=tlsrpt) is still checked, so that a
	 * report's signature can pass for its intake; for email it stays a
	 * permerror. */
	struct dkim_pubkey key = s->key;
	if ((refused = key_refuses(s)) == dkim_key_not_email)
		key.services |= DKIM_SVC_EMAIL;
	else if (refused != NULL) {
		if (s->key.revoked)
			s->res.failed = DKIM_FAILED_REVOKED;
		decide(s, DKIM_RESULT_PERMERROR, refused);
		return;
	}
	if (sig->has_l && sig->l > b->length) {
		decide(s, DKIM_RESULT_PERMERROR, "l= beyond the end of the body");
		return;
	}
	if (sig->has_l)
		s->res.unsigned_octets = b->length - sig->l;
	if (dkim_hindex_digest(&v->hx, sig->h, sig->head_simple, s->field, digest) != 0) {
		decide(s, DKIM_RESULT_POLICY, "signed header fields too big");
		return;
	}
	enum dkim_result r = dkim_sig_check(&key, sig->alg, digest, sig->b, sig->blen, why, sizeof why);
	if (r != DKIM_RESULT_PASS)
		decide(s, r, why);
	else if (memcmp(dkim_bodies_hash(v->bodies, s->body), sig->bh, 32) != 0) {
		s->res.failed = DKIM_FAILED_BODYHASH;
		decide(s, DKIM_RESULT_FAIL, "body hash did not verify");
	}
	else {
		s->res.verified = 1;
		s->res.unsigned_instance = (uint8_t)unsigned_instance(&v->hx, sig->h);
		if (refused)
			decide(s, DKIM_RESULT_PERMERROR, refused);
		else
			decide(s, DKIM_RESULT_PASS, "verified");
	}
}

/* ---- shared with ARC ---- */

const char dkim_key_not_email[] = "key s= is not for email";

const char *dkim_pubkey_refuses(const struct dkim_pubkey *k, int alg)
{
	if (k->revoked)
		return "key revoked (empty p=)";
	if ((alg == DKIM_ALG_RSA_SHA256) != (k->type == DKIM_KEY_RSA))
		return "key type k= does not match a=";
	if (!(k->services & DKIM_SVC_EMAIL))
		return dkim_key_not_email;
	return NULL;
}

enum dkim_result dkim_sig_check(const struct dkim_pubkey *k, int alg, const uint8_t digest[32],
                                const uint8_t *b, size_t blen, char *why, size_t whysz)
{
	const char *refused = dkim_pubkey_refuses(k, alg);
	int ok;

	if (refused != NULL) {
		snprintf(why, whysz, "%s", refused);
		return DKIM_RESULT_PERMERROR;
	}
	if (alg == DKIM_ALG_ED25519_SHA256) {
		ok = blen == crypto_sign_BYTES && crypto_sign_verify_detached(b, digest, 32, k->p) == 0;
	} else {
		unsigned bits = 0;
		ok = dkim_rsa_verify(k->p, k->plen, digest, b, blen, &bits);
		if (ok == -2) {
			snprintf(why, whysz, "RSA public exponent over %d bits", DKIM_RSA_PUBEXP_MAX_BITS);
			return DKIM_RESULT_PERMERROR;
		}
		if (ok < 0) {
			snprintf(why, whysz, "key p= is not an RSA public key");
			return DKIM_RESULT_PERMERROR;
		}
		if (bits < 1024) {
			snprintf(why, whysz, "RSA key of %u bits, under 1024 (RFC 8301)", bits);
			return DKIM_RESULT_FAIL;
		}
	}
	snprintf(why, whysz, "%s", ok ? "verified" : "signature did not verify");
	return ok ? DKIM_RESULT_PASS : DKIM_RESULT_FAIL;
}

enum dkim_keyans dkim_pubkey_answer(const struct dns_answer *a, struct dkim_pubkey *k,
                                    const char **why_r)
{
	size_t n = 0;

	*why_r = NULL;
	if (a->status == DNS_ANS_TEMP)
		return DKIM_KEYANS_TEMP;
	for (size_t i = 0; a->status == DNS_ANS_OK && i < a->nrr; i++) {
		const char *why = NULL;
		if (a->rr[i].type != DNS_T_TXT || (!*dns_rr_text(a, i) && a->rr[i].len))
			continue; /* a NUL inside: not a key record (RFC 6376 §3.6.1's grammar) */
		struct str rec = str_make((const char *)a->data + a->rr[i].off, a->rr[i].len);
		if (dkim_pubkey_parse(rec, k, &why) == 0)
			return DKIM_KEYANS_OK;
		if (n++ == 0)
			*why_r = why; /* none parses: the first one's defect is the reason */
	}
	return n > 0 ? DKIM_KEYANS_BAD : DKIM_KEYANS_NONE;
}

int dkim_verifier_run(struct dkim_verifier *v, void (*wake)(void *arg), void *arg)
{
	if (v->state == V_HEAD) {
		/* The message ended in its header section: an empty body. */
		dkim_head_finish(&v->head);
		if (!v->head.toobig)
			begin_body(v);
		else
			v->state = V_LOOKUP;
	}
	if (v->state == V_BODY) {
		/* The body is all in: its hashes end here (l= is checked
		 * against the final length). */
		for (size_t i = 0; i < v->nsigs; i++)
			if (!v->sigs[i].decided)
				(void)dkim_bodies_hash(v->bodies, v->sigs[i].body);
		v->state = V_LOOKUP;
		v->wake = wake;
		v->wake_arg = arg;
		start_lookups(v);
	}
	if (v->state == V_LOOKUP) {
		v->wake = wake;
		v->wake_arg = arg;
		if (v->pending > 0)
			return DKIM_VERIFY_WAIT;
		if (v->head.toobig) {
			struct vsig *s = &v->sigs[0];
			memset(s, 0, sizeof *s);
			decide(s, DKIM_RESULT_POLICY, "header section over 256 KiB: not verified");
			v->nsigs = 1;
		}
		for (size_t i = 0; i < v->nsigs; i++)
			if (!v->sigs[i].decided)
				check_sig(v, &v->sigs[i]);
		v->state = V_DONE;
	}
	return DKIM_VERIFY_DONE;
}

size_t dkim_verifier_expire(struct dkim_verifier *v)
{
	size_t cut = 0;

	v->expired = 1;
	for (size_t i = 0; i < v->nsigs; i++) {
		struct vsig *s = &v->sigs[i];
		/* Not started yet (the message still being fed): never will be. */
		cut += s->lookup == 0 && !s->decided && v->state < V_LOOKUP;
		if (s->lookup != 1)
			continue;
		if (s->handle && v->r.cancel)
			v->r.cancel(v->r.ctx, s->handle);
		s->handle = NULL;
		s->lookup = 2;
		s->kst = DKIM_KEYANS_TEMP;
		cut++;
	}
	v->pending = 0;
	return cut;
}

size_t dkim_verifier_count(const struct dkim_verifier *v)
{
	return v->state == V_DONE ? v->nsigs : 0;
}

const struct dkim_sig_result *dkim_verifier_result(const struct dkim_verifier *v, size_t i)
{
	return i < dkim_verifier_count(v) ? &v->sigs[i].res : NULL;
}

void dkim_verifier_free(struct dkim_verifier **vp)
{
	struct dkim_verifier *v = *vp;

	if (v == NULL)
		return;
	*vp = NULL;
	for (size_t i = 0; i < v->nsigs; i++)
		if (v->sigs[i].lookup == 1 && v->sigs[i].handle && v->r.cancel)
			v->r.cancel(v->r.ctx, v->sigs[i].handle);
	dkim_head_free(&v->head);
	dkim_hindex_free(&v->hx);
	free(v->own);
	free(v);
}
