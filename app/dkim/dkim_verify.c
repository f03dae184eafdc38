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
 * CRLF. The fields are indexed once per message, sorted by name and then
 * position, so finding an instance is a binary search: a crafted header of
 * 60,000 fields under 16 signatures of 128 names each costs milliseconds,
 * not the second a scan per name took.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xalloc.h"
#include "dkim/dkim_rsa.h"
#include "dkim/dkim_verify.h"

enum vstate { V_HEAD, V_BODY, V_LOOKUP, V_DONE };

struct fname {
	struct str name; /* empty for a field without a valid name */
	uint32_t field;  /* index into fields */
};

/* What a key lookup came to. */
enum kstate { K_OK, K_NONE, K_TEMP };

struct vsig {
	struct dkim_verifier *v;
	struct dkim_sig sig;
	struct dkim_sig_result res;
	int decided;      /* res is final */
	size_t field;     /* index of the DKIM-Signature field in fields */
	int body;         /* index into bodies */
	int lookup;       /* 0 none, 1 pending, 2 answered */
	void *handle;
	enum kstate kst;
	int key_ok;
	const char *key_why;
	struct dkim_pubkey key;
};

struct dkim_verifier {
	struct dns_resolver r;
	int64_t now;
	enum vstate state;
	struct dkim_head head;
	struct str *fields; /* the header section's fields, top to bottom */
	size_t nfields;
	struct fname *index; /* the fields sorted by name, then position */
	uint32_t *taken;    /* per name group (at its first index entry): instances used */
	uint32_t *taken_by; /* ... by the signature with this stamp */
	uint32_t stamp;
	struct vsig sigs[DKIM_VERIFY_SIGS_MAX + 1]; /* the last: "more signatures" */
	size_t nsigs;
	struct dkim_body bodies[DKIM_VERIFY_SIGS_MAX];
	uint8_t bh[DKIM_VERIFY_SIGS_MAX][32];
	size_t nbodies;
	size_t pending;
	int starting; /* inside the loop that starts lookups: no wake yet */
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

static int body_for(struct dkim_verifier *v, const struct dkim_sig *sig)
{
	uint64_t limit = sig->has_l ? sig->l : UINT64_MAX;
	for (size_t i = 0; i < v->nbodies; i++)
		if (v->bodies[i].simple == sig->body_simple && v->bodies[i].limit == limit)
			return (int)i;
	struct dkim_body *b = &v->bodies[v->nbodies];
	if (sig->body_simple)
		dkim_body_init_simple(b);
	else
		dkim_body_init(b);
	b->limit = limit;
	return (int)v->nbodies++;
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
	struct str f = v->fields[fi];
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
		if (!s->decided)
			s->body = body_for(v, &s->sig);
	}
	memcpy(s->res.d, s->sig.d, sizeof s->res.d);
	memcpy(s->res.s, s->sig.s, sizeof s->res.s);
	memcpy(s->res.i, s->sig.i, sizeof s->res.i);
}

/* ASCII case-insensitive order of field names. */
static int name_cmp(struct str a, struct str b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	for (size_t i = 0; i < n; i++) {
		int x = (unsigned char)a.p[i], y = (unsigned char)b.p[i];
		x = x >= 'A' && x <= 'Z' ? x + 32 : x;
		y = y >= 'A' && y <= 'Z' ? y + 32 : y;
		if (x != y)
			return x - y;
	}
	return a.len < b.len ? -1 : a.len > b.len;
}

static int fname_cmp(const void *pa, const void *pb)
{
	const struct fname *a = pa, *b = pb;
	int c = name_cmp(a->name, b->name);
	return c ? c : a->field < b->field ? -1 : a->field > b->field;
}

static void build_index(struct dkim_verifier *v)
{
	size_t n = v->nfields ? v->nfields : 1;
	v->index = xcalloc(n, sizeof *v->index);
	v->taken = xcalloc(n, sizeof *v->taken);
	v->taken_by = xcalloc(n, sizeof *v->taken_by);
	for (size_t i = 0; i < v->nfields; i++) {
		struct str nm = dkim_field_name(v->fields[i]);
		v->index[i].name = nm.p ? nm : str_make("", 0);
		v->index[i].field = (uint32_t)i;
	}
	qsort(v->index, v->nfields, sizeof *v->index, fname_cmp);
}

/* The next instance of name for the signature with stamp, bottom-up:
 * its field index, or -1 when none is left. */
static long next_instance(struct dkim_verifier *v, struct str name, uint32_t stamp)
{
	size_t lo = 0, hi = v->nfields;

	while (lo < hi) { /* the first entry not below name */
		size_t mid = lo + (hi - lo) / 2;
		if (name_cmp(v->index[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t end = lo;
	while (end < v->nfields && name_cmp(v->index[end].name, name) == 0)
		end++;
	if (lo == end)
		return -1;
	if (v->taken_by[lo] != stamp) {
		v->taken_by[lo] = stamp;
		v->taken[lo] = 0;
	}
	if (v->taken[lo] >= end - lo)
		return -1;
	return (long)v->index[end - 1 - v->taken[lo]++].field;
}

static void begin_body(struct dkim_verifier *v)
{
	struct str section = buf_str(&v->head.buf), f;
	size_t pos = 0, cap = 0;

	while (dkim_header_next(section, &pos, &f)) {
		if (v->nfields == cap) {
			cap = cap ? 2 * cap : 32;
			v->fields = xrealloc(v->fields, cap * sizeof *v->fields);
		}
		v->fields[v->nfields++] = f;
	}
	build_index(v);
	for (size_t i = 0; i < v->nfields; i++)
		if (str_eq_ci_c(dkim_field_name(v->fields[i]), "dkim-signature"))
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
	if (v->state == V_BODY && n > 0)
		for (size_t i = 0; i < v->nbodies; i++)
			dkim_body_update(&v->bodies[i], c, n);
}

/* ---- key lookups ---- */

static void key_answer(void *arg, const struct dns_answer *a)
{
	struct vsig *s = arg;
	struct dkim_verifier *v = s->v;
	size_t n = 0;

	s->lookup = 2;
	s->handle = NULL;
	s->kst = a->status == DNS_ANS_TEMP ? K_TEMP : K_NONE;
	/* The first record that is a key record: a stray TXT record at the
	 * selector (a verification token) must not hide the key. When none
	 * is, the first one's defect is the reason. */
	for (size_t i = 0; a->status == DNS_ANS_OK && i < a->nrr && !s->key_ok; i++) {
		const char *why = NULL;
		if (a->rr[i].type != DNS_T_TXT)
			continue;
		struct str rec = str_make((const char *)a->data + a->rr[i].off, a->rr[i].len);
		s->key_ok = dkim_pubkey_parse(rec, &s->key, &why) == 0;
		if (n++ == 0)
			s->key_why = why;
	}
	if (n > 0)
		s->kst = K_OK;
	if (--v->pending == 0 && !v->starting && v->wake)
		v->wake(v->wake_arg);
}

static void start_lookups(struct dkim_verifier *v)
{
	char name[DKIM_SELECTOR_MAX + DKIM_DOMAIN_MAX + 16];

	v->starting = 1;
	for (size_t i = 0; i < v->nsigs; i++) {
		struct vsig *s = &v->sigs[i];
		if (s->decided)
			continue;
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

static int is_fws_octet(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static struct str trim_fws(struct str s)
{
	while (s.len > 0 && is_fws_octet(s.p[0]))
		s = str_make(s.p + 1, s.len - 1);
	while (s.len > 0 && is_fws_octet(s.p[s.len - 1]))
		s.len--;
	return s;
}

/* The header hash of §3.7 for s; 0, or -1 when the field is too big. */
static int header_digest(struct dkim_verifier *v, struct vsig *s, uint8_t out[32])
{
	br_sha256_context ctx;
	struct buf canon, blank;
	struct str rest = s->sig.h, name;
	int rc = -1;

	buf_init(&canon, DKIM_HEADER_MAX + 4096);
	buf_init(&blank, DKIM_HEADER_MAX);
	br_sha256_init(&ctx);
	v->stamp++;
	while (rest.p != NULL) {
		/* Split h= on ":" (FWS around names was checked by the parser). */
		ptrdiff_t c = str_chr(rest, ':');
		name = c < 0 ? rest : str_make(rest.p, (size_t)c);
		rest = c < 0 ? (struct str){NULL, 0} : str_make(rest.p + c + 1, rest.len - (size_t)c - 1);
		long j = next_instance(v, trim_fws(name), v->stamp);
		if (j < 0)
			continue;
		buf_reset(&canon);
		if ((s->sig.head_simple ? dkim_canon_header_simple(v->fields[j], &canon)
		                        : dkim_canon_header(v->fields[j], &canon)) != 0)
			goto out;
		br_sha256_update(&ctx, buf_data(&canon), buf_len(&canon));
	}

	/* The signature field with its b= value cut out (the tag list
	 * parsed before, so finding "b" again cannot fail). */
	struct str f = v->fields[s->field];
	ptrdiff_t colon = str_chr(f, ':');
	struct str value = str_make(f.p + colon + 1, f.len - (size_t)colon - 1);
	struct dkim_tag tags[DKIM_TAGS_MAX];
	const char *why;
	int n = dkim_tags_parse(value, tags, DKIM_TAGS_MAX, &why);
	for (int i = 0; i < n; i++) {
		if (tags[i].name.len != 1 || tags[i].name.p[0] != 'b')
			continue;
		const char *cut = tags[i].name.p + 1, *end = f.p + f.len;
		while (*cut != '=')
			cut++;
		cut++;
		const char *resume = tags[i].value.p + tags[i].value.len;
		while (resume < end && *resume != ';')
			resume++;
		if (buf_append(&blank, f.p, (size_t)(cut - f.p)) != 0 ||
		    buf_append(&blank, resume, (size_t)(end - resume)) != 0)
			goto out;
		break;
	}
	buf_reset(&canon);
	if ((s->sig.head_simple ? dkim_canon_header_simple(buf_str(&blank), &canon)
	                        : dkim_canon_header(buf_str(&blank), &canon)) != 0)
		goto out;
	br_sha256_update(&ctx, buf_data(&canon), buf_len(&canon) - 2);
	br_sha256_out(&ctx, out);
	rc = 0;
out:
	buf_free(&canon);
	buf_free(&blank);
	return rc;
}

/* The key's own rules (§3.6.1); NULL when they allow the signature. */
static const char *key_refuses(const struct vsig *s)
{
	const struct dkim_sig *sig = &s->sig;

	if (!s->key_ok)
		return s->key_why;
	if (s->key.revoked)
		return "key revoked (empty p=)";
	if ((sig->alg == DKIM_ALG_RSA_SHA256) != (s->key.type == DKIM_KEY_RSA))
		return "key type k= does not match a=";
	if (s->key.strict) {
		const char *at = strrchr(sig->i, '@');
		if (at == NULL || strcasecmp(at + 1, sig->d) != 0)
			return "key t=s: the i= domain must be d= itself";
	}
	return NULL;
}

/* With the key in hand: the key's rules, the body, then the signature. */
static void check_sig(struct dkim_verifier *v, struct vsig *s)
{
	const struct dkim_sig *sig = &s->sig;
	const struct dkim_body *b = &v->bodies[s->body];
	char why[DKIM_REASON_MAX];
	const char *refused;
	uint8_t digest[32];

	if (s->kst != K_OK) {
		snprintf(why, sizeof why, "%s %s._domainkey.%s",
		         s->kst == K_TEMP ? "key lookup failed for" : "no key record at", sig->s, sig->d);
		decide(s, s->kst == K_TEMP ? DKIM_RESULT_TEMPERROR : DKIM_RESULT_PERMERROR, why);
		return;
	}
	s->res.testing = s->key_ok && s->key.testing;
	if ((refused = key_refuses(s)) != NULL) {
		decide(s, DKIM_RESULT_PERMERROR, refused);
		return;
	}
	if (sig->has_l && sig->l > b->length) {
		decide(s, DKIM_RESULT_PERMERROR, "l= beyond the end of the body");
		return;
	}
	if (sig->has_l)
		s->res.unsigned_octets = b->length - sig->l;
	if (header_digest(v, s, digest) != 0) {
		decide(s, DKIM_RESULT_POLICY, "signed header fields too big");
		return;
	}

	int ok;
	if (sig->alg == DKIM_ALG_ED25519_SHA256) {
		ok = sig->blen == crypto_sign_BYTES &&
		     crypto_sign_verify_detached(sig->b, digest, 32, s->key.p) == 0;
	} else {
		unsigned bits = 0;
		ok = dkim_rsa_verify(s->key.p, s->key.plen, digest, sig->b, sig->blen, &bits);
		if (ok < 0) {
			decide(s, DKIM_RESULT_PERMERROR, "key p= is not an RSA public key");
			return;
		}
		if (bits < 1024) {
			snprintf(why, sizeof why, "RSA key of %u bits, under 1024 (RFC 8301)", bits);
			decide(s, DKIM_RESULT_FAIL, why);
			return;
		}
	}
	if (!ok)
		decide(s, DKIM_RESULT_FAIL, "signature did not verify");
	else if (memcmp(v->bh[s->body], sig->bh, 32) != 0)
		decide(s, DKIM_RESULT_FAIL, "body hash did not verify");
	else
		decide(s, DKIM_RESULT_PASS, "verified");
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
		for (size_t i = 0; i < v->nbodies; i++)
			dkim_body_final(&v->bodies[i], v->bh[i]);
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
	free(v->fields);
	free(v->index);
	free(v->taken);
	free(v->taken_by);
	free(v);
}
