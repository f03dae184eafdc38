/*
 * arc_verify.c — ARC chain validation (RFC 8617 §5.2) as a streaming,
 * resumable validator, shaped as the DKIM verifier is (dkim_verify.c):
 * HEAD (collecting the header section), BODY (hashing for the AMS),
 * LOOKUP (key answers outstanding), DONE.
 *
 * When the header section ends every ARC field is sorted into its set and
 * whatever needs no key is decided then (steps 1-4 of arc.h's list: the
 * 50-set limit, cv=fail in the newest seal, the structure, a malformed
 * AMS of N), so a broken chain costs no lookup and no body hashing. A
 * chain that can still pass gets one body hasher per distinct (c=, l=)
 * among the AMS (at most ARC_BODIES_MAX) and one lookup per distinct key
 * name (at most ARC_LOOKUPS_MAX), all started at once: the AMS of N, the
 * seals N..1, then the older AMS for oldest-pass.
 *
 * The AMS is checked by DKIM's own code (dkim_hindex_digest,
 * dkim_sig_check); the seal's hash is ARC's: the sets 1..i in increasing
 * instance order, AAR, AMS, AS within a set, relaxed, the seal being
 * checked last with an empty b= and no final CRLF (§5.1.1).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/arc.h"
#include "core/xalloc.h"

#define ARC_BODIES_MAX 8

enum vstate { V_HEAD, V_BODY, V_LOOKUP, V_DONE };

/* One distinct key name. */
struct akey {
	struct arc_verifier *v;
	char name[DKIM_SIG_SELECTOR_MAX + DKIM_DOMAIN_MAX + 16];
	int state; /* 1 pending, 2 answered */
	void *handle;
	enum dkim_keyans ans;
	const char *why;
	struct dkim_pubkey key;
};

struct aset {
	long f[4]; /* field index per enum arc_field (1..3), -1 when absent */
	uint8_t dup;
	int ams_ok;
	struct dkim_sig ams;
	const char *ams_why;
	int as_ok;
	struct arc_seal_sig as;
	const char *as_why;
	int body;      /* -1: no hasher (not evaluated) */
	int kams, kas; /* index into keys, -1 none */
};

struct arc_verifier {
	struct dns_resolver r;
	int64_t now;
	enum vstate state;
	struct dkim_head head;
	struct dkim_hindex hx;
	struct aset *sets; /* ARC_SETS_MAX */
	unsigned n;        /* N */
	/* The body hashers: the caller's set (arc_verifier_share_bodies),
	 * else own, made at the body's start; at most ARC_BODIES_MAX used. */
	struct dkim_bodies *bodies;
	struct dkim_bodies *own;
	int mine[ARC_BODIES_MAX]; /* their indexes in bodies */
	size_t nbodies;
	uint64_t body_at; /* body octets fed */
	struct akey *keys; /* ARC_LOOKUPS_MAX */
	size_t nkeys;
	size_t pending;
	int starting;
	int expired; /* arc_verifier_expire: no more lookups */
	int decided;
	void (*wake)(void *);
	void *wake_arg;
	struct arc_result res;
};

struct arc_verifier *arc_verifier_new(const struct dns_resolver *r, int64_t now)
{
	struct arc_verifier *v = xcalloc(1, sizeof *v);
	v->r = *r;
	v->now = now;
	dkim_head_init(&v->head);
	return v;
}

static void __attribute__((format(printf, 3, 4)))
decide(struct arc_verifier *v, unsigned failed, const char *fmt, ...)
{
	va_list ap;

	v->res.cv = ARC_CV_FAIL;
	v->res.failed = failed;
	va_start(ap, fmt);
	vsnprintf(v->res.reason, sizeof v->res.reason, fmt, ap);
	va_end(ap);
	v->decided = 1;
}

static struct str value_of(struct str f)
{
	ptrdiff_t colon = str_chr(f, ':');
	return str_make(f.p + colon + 1, f.len - (size_t)colon - 1);
}

/* ---- the header section: sets, structure (steps 1-4) ---- */

void arc_verifier_share_bodies(struct arc_verifier *v, struct dkim_bodies *set)
{
	v->bodies = set;
}

/* The hasher for sig's body (an index into v->bodies); -1 past
 * ARC_BODIES_MAX of ours. */
static int body_for(struct arc_verifier *v, const struct dkim_sig *sig)
{
	uint64_t limit = sig->has_l ? sig->l : UINT64_MAX;
	if (v->bodies == NULL) {
		v->bodies = v->own = xmalloc(sizeof *v->own);
		dkim_bodies_init(v->own);
	}
	for (size_t i = 0; i < v->nbodies; i++) {
		const struct dkim_body *b = &v->bodies->b[v->mine[i]];
		if (b->simple == sig->body_simple && b->limit == limit)
			return v->mine[i];
	}
	if (v->nbodies == ARC_BODIES_MAX)
		return -1;
	int i = dkim_bodies_want(v->bodies, sig->body_simple, limit);
	if (i >= 0)
		v->mine[v->nbodies++] = i;
	return i;
}

/* Sorts every ARC field into its set; 0, or -1 when decided (fail). */
static int collect(struct arc_verifier *v)
{
	for (size_t i = 0; i < v->hx.nfields; i++) {
		enum arc_field k = arc_field_kind(v->hx.fields[i]);
		if (k == ARC_F_NONE)
			continue;
		unsigned inst = arc_instance(k, value_of(v->hx.fields[i]));
		if (inst == 0) {
			decide(v, 0, "an ARC header field without a valid instance i=");
			return -1;
		}
		if (inst > ARC_SETS_MAX) {
			decide(v, 0, "instance i=%u over the limit of %d sets", inst, ARC_SETS_MAX);
			return -1;
		}
		if (v->sets == NULL) {
			/* Most mail has no ARC fields: the sets (150 KiB) only when needed. */
			v->sets = xcalloc(ARC_SETS_MAX, sizeof *v->sets);
			for (unsigned j = 0; j < ARC_SETS_MAX; j++) {
				struct aset *a = &v->sets[j];
				a->f[0] = a->f[1] = a->f[2] = a->f[3] = -1;
				a->body = a->kams = a->kas = -1;
			}
		}
		struct aset *s = &v->sets[inst - 1];
		if (s->f[k] >= 0)
			s->dup = 1;
		else
			s->f[k] = (long)i;
		if (inst > v->n)
			v->n = inst;
	}
	v->res.nsets = v->n;
	return 0;
}

/* Parses set i's AMS and AS and fills the result's view of it. */
static void parse_set(struct arc_verifier *v, unsigned i)
{
	struct aset *s = &v->sets[i - 1];
	struct arc_set_info *info = &v->res.set[i - 1];
	enum dkim_result res;
	unsigned inst;

	info->instance = i;
	if (s->f[ARC_F_AAR] >= 0)
		info->aar = arc_aar_payload(value_of(v->hx.fields[s->f[ARC_F_AAR]]));
	if (s->f[ARC_F_AMS] >= 0) {
		s->ams_ok = dkim_sig_parse_ex(value_of(v->hx.fields[s->f[ARC_F_AMS]]), DKIM_SIG_ARC,
		                              &s->ams, &inst, &res, &s->ams_why) == 0;
		if (s->ams_ok && s->ams.rsa_sha1) {
			s->ams_ok = 0;
			s->ams_why = "rsa-sha1 is not accepted (RFC 8301)";
		} else if (s->ams_ok && s->ams.has_x && s->ams.x < v->now) {
			s->ams_ok = 0;
			s->ams_why = "signature expired (x=)";
		}
		snprintf(info->ams_d, sizeof info->ams_d, "%s", s->ams.d);
		snprintf(info->ams_s, sizeof info->ams_s, "%s", s->ams.s);
	}
	if (s->f[ARC_F_AS] >= 0) {
		s->as_ok =
		    arc_seal_parse(value_of(v->hx.fields[s->f[ARC_F_AS]]), &s->as, &s->as_why) == 0;
		info->cv = s->as.cv;
		snprintf(info->d, sizeof info->d, "%s", s->as.d);
		snprintf(info->s, sizeof info->s, "%s", s->as.s);
	}
}

/* Step 3: each set complete and single, the seals' cv= in order. */
static int structure(struct arc_verifier *v)
{
	static const char *const kind[] = {"", "ARC-Authentication-Results",
	                                   "ARC-Message-Signature", "ARC-Seal"};

	for (unsigned i = 1; i <= v->n; i++) {
		struct aset *s = &v->sets[i - 1];
		if (s->dup) {
			decide(v, i, "instance %u has more than one field of a kind", i);
			return -1;
		}
		for (int k = ARC_F_AAR; k <= ARC_F_AS; k++) {
			if (s->f[k] < 0) {
				decide(v, i, "instance %u has no %s", i, kind[k]);
				return -1;
			}
		}
		if (!s->as_ok) {
			decide(v, i, "ARC-Seal %u: %s", i, s->as_why);
			return -1;
		}
		if (i == 1 && s->as.cv != ARC_CV_NONE) {
			decide(v, i, "ARC-Seal 1 says cv=%s, not none", arc_cv_name(s->as.cv));
			return -1;
		}
		if (i > 1 && s->as.cv != ARC_CV_PASS) {
			decide(v, i, "ARC-Seal %u says cv=%s, not pass", i, arc_cv_name(s->as.cv));
			return -1;
		}
	}
	return 0;
}

/* The index of key name d/s in keys, added when new; -1 past the cap. */
static int key_for(struct arc_verifier *v, const char *s, const char *d)
{
	char name[sizeof v->keys[0].name];

	snprintf(name, sizeof name, "%s._domainkey.%s", s, d);
	for (size_t i = 0; i < v->nkeys; i++)
		if (strcmp(v->keys[i].name, name) == 0)
			return (int)i;
	if (v->nkeys == ARC_LOOKUPS_MAX)
		return -1;
	struct akey *k = &v->keys[v->nkeys];
	k->v = v;
	memcpy(k->name, name, sizeof name);
	return (int)v->nkeys++;
}

static void begin_body(struct arc_verifier *v)
{
	struct str section = buf_str(&v->head.buf), f;
	size_t pos = 0;
	int any = 0;

	v->state = V_BODY;
	/* Most mail has no ARC field: a look at the names, no index. */
	while (!any && dkim_header_next(section, &pos, &f))
		any = arc_field_kind(f) != ARC_F_NONE;
	if (any) {
		dkim_hindex_build(&v->hx, section);
		if (collect(v) != 0)
			return;
	}
	if (v->n == 0) {
		v->res.cv = ARC_CV_NONE;
		snprintf(v->res.reason, sizeof v->res.reason, "no ARC sets");
		v->decided = 1;
		return;
	}
	for (unsigned i = 1; i <= v->n; i++)
		parse_set(v, i);

	/* Step 2: the newest seal says the chain already failed. */
	struct aset *top = &v->sets[v->n - 1];
	if (top->as_ok && top->as.cv == ARC_CV_FAIL) {
		decide(v, v->n, "ARC-Seal %u says cv=fail: the chain ended upstream", v->n);
		return;
	}
	if (structure(v) != 0)
		return;
	if (!top->ams_ok) {
		decide(v, v->n, "ARC-Message-Signature %u: %s", v->n, top->ams_why);
		return;
	}

	/* Work for what can still pass: the AMS of N and every seal first. */
	v->keys = xcalloc(ARC_LOOKUPS_MAX, sizeof *v->keys);
	top->body = body_for(v, &top->ams);
	top->kams = key_for(v, top->ams.s, top->ams.d);
	for (unsigned i = v->n; i >= 1; i--)
		v->sets[i - 1].kas = key_for(v, v->sets[i - 1].as.s, v->sets[i - 1].as.d);
	for (unsigned i = v->n - 1; i >= 1; i--) {
		struct aset *s = &v->sets[i - 1];
		if (!s->ams_ok || (s->body = body_for(v, &s->ams)) < 0 ||
		    (s->kams = key_for(v, s->ams.s, s->ams.d)) < 0)
			break; /* oldest-pass stops here */
	}
}

void arc_verifier_update(struct arc_verifier *v, const void *p, size_t n)
{
	const char *c = p;

	if (v->state == V_HEAD) {
		size_t used = dkim_head_feed(&v->head, c, n);
		c += used;
		n -= used;
		if (v->head.toobig) {
			v->state = V_LOOKUP;
			return;
		}
		if (v->head.done)
			begin_body(v);
	}
	if (v->state == V_BODY && n > 0 && !v->decided && v->bodies) {
		dkim_bodies_feed(v->bodies, v->body_at, c, n);
		v->body_at += n;
	}
}

/* ---- key lookups ---- */

static void key_answer(void *arg, const struct dns_answer *a)
{
	struct akey *k = arg;
	struct arc_verifier *v = k->v;

	k->state = 2;
	k->handle = NULL;
	k->ans = dkim_pubkey_answer(a, &k->key, &k->why);
	if (--v->pending == 0 && !v->starting && v->wake)
		v->wake(v->wake_arg);
}

static void start_lookups(struct arc_verifier *v)
{
	v->starting = 1;
	for (size_t i = 0; i < v->nkeys; i++) {
		struct akey *k = &v->keys[i];
		if (v->expired) { /* the caller's time ran out: never asked */
			k->state = 2;
			k->ans = DKIM_KEYANS_TEMP;
			continue;
		}
		k->state = 1;
		v->pending++;
		void *h = v->r.start(v->r.ctx, k->name, DNS_T_TXT, key_answer, k);
		if (k->state == 1)
			k->handle = h;
	}
	v->starting = 0;
}

/* ---- checking ---- */

/* The key kx for a signature, or NULL with why (and *temp) set. */
static const struct dkim_pubkey *key_of(struct arc_verifier *v, int kx, char *why, size_t whysz,
                                        int *temp)
{
	struct akey *k = &v->keys[kx];
	*temp = 0;
	switch (k->ans) {
	case DKIM_KEYANS_OK:
		return &k->key;
	case DKIM_KEYANS_BAD:
		snprintf(why, whysz, "%.60s: %.60s", k->name, k->why ? k->why : "bad key record");
		return NULL;
	case DKIM_KEYANS_NONE:
		snprintf(why, whysz, "no key record at %.100s", k->name);
		return NULL;
	case DKIM_KEYANS_TEMP:
		break;
	}
	*temp = 1;
	snprintf(why, whysz, "key lookup failed for %.100s", k->name);
	return NULL;
}

/* The AMS of set i: pass, fail, temperror or permerror, why set. */
static enum dkim_result check_ams(struct arc_verifier *v, unsigned i, char *why, size_t whysz)
{
	struct aset *s = &v->sets[i - 1];
	uint8_t digest[32];
	int temp;

	const struct dkim_pubkey *key = key_of(v, s->kams, why, whysz, &temp);
	if (key == NULL)
		return temp ? DKIM_RESULT_TEMPERROR : DKIM_RESULT_PERMERROR;
	if (s->ams.has_l && s->ams.l > v->bodies->b[s->body].length) {
		snprintf(why, whysz, "l= beyond the end of the body");
		return DKIM_RESULT_PERMERROR;
	}
	if (dkim_hindex_digest(&v->hx, s->ams.h, s->ams.head_simple, (size_t)s->f[ARC_F_AMS],
	                       digest) != 0) {
		snprintf(why, whysz, "signed header fields too big");
		return DKIM_RESULT_PERMERROR;
	}
	enum dkim_result r =
	    dkim_sig_check(key, s->ams.alg, digest, s->ams.b, s->ams.blen, why, whysz);
	if (r == DKIM_RESULT_PASS && memcmp(dkim_bodies_hash(v->bodies, s->body), s->ams.bh, 32) != 0) {
		snprintf(why, whysz, "body hash did not verify");
		r = DKIM_RESULT_FAIL;
	}
	return r;
}

/* The seal's hash (§5.1.1) of set i over the sets 1..i; 0 or -1. */
static int seal_digest(struct arc_verifier *v, unsigned i, uint8_t out[32])
{
	br_sha256_context ctx;
	struct buf canon, blank;
	int rc = -1;

	buf_init(&canon, DKIM_HEADER_MAX + 4096);
	buf_init(&blank, DKIM_HEADER_MAX);
	br_sha256_init(&ctx);
	for (unsigned j = 1; j <= i; j++) {
		struct aset *s = &v->sets[j - 1];
		for (int k = ARC_F_AAR; k <= ARC_F_AS; k++) {
			struct str f = v->hx.fields[s->f[k]];
			buf_reset(&canon);
			if (j == i && k == ARC_F_AS) {
				if (dkim_field_blank_b(f, &blank) != 0 ||
				    dkim_canon_header(buf_str(&blank), &canon) != 0)
					goto out;
				br_sha256_update(&ctx, buf_data(&canon), buf_len(&canon) - 2);
			} else {
				if (dkim_canon_header(f, &canon) != 0)
					goto out;
				br_sha256_update(&ctx, buf_data(&canon), buf_len(&canon));
			}
		}
	}
	br_sha256_out(&ctx, out);
	rc = 0;
out:
	buf_free(&canon);
	buf_free(&blank);
	return rc;
}

static enum dkim_result check_as(struct arc_verifier *v, unsigned i, char *why, size_t whysz)
{
	struct aset *s = &v->sets[i - 1];
	uint8_t digest[32];
	int temp;

	const struct dkim_pubkey *key = key_of(v, s->kas, why, whysz, &temp);
	if (key == NULL)
		return temp ? DKIM_RESULT_TEMPERROR : DKIM_RESULT_PERMERROR;
	if (seal_digest(v, i, digest) != 0) {
		snprintf(why, whysz, "ARC header fields too big");
		return DKIM_RESULT_PERMERROR;
	}
	return dkim_sig_check(key, s->as.alg, digest, s->as.b, s->as.blen, why, whysz);
}

/* Steps 5-8, all answers in. */
static void judge(struct arc_verifier *v)
{
	char why[DKIM_REASON_MAX];
	unsigned n = v->n;
	enum dkim_result r;

	r = v->res.set[n - 1].ams = check_ams(v, n, why, sizeof why);
	if (r != DKIM_RESULT_PASS) {
		decide(v, n, "ARC-Message-Signature %u: %s", n, why);
		v->res.temporary = r == DKIM_RESULT_TEMPERROR;
		return;
	}
	/* oldest-pass: down from N-1 while the AMS verify. */
	unsigned oldest = 0;
	for (unsigned i = n - 1; i >= 1; i--) {
		struct aset *s = &v->sets[i - 1];
		if (s->body < 0 || s->kams < 0) {
			oldest = i + 1; /* not evaluated: no claim below */
			break;
		}
		if ((v->res.set[i - 1].ams = check_ams(v, i, why, sizeof why)) !=
		    DKIM_RESULT_PASS) {
			oldest = i + 1;
			break;
		}
	}
	for (unsigned i = n; i >= 1; i--) {
		if (v->sets[i - 1].kas < 0) {
			decide(v, i, "ARC-Seal %u: too many distinct keys to look up", i);
			return;
		}
		r = v->res.set[i - 1].as = check_as(v, i, why, sizeof why);
		if (r != DKIM_RESULT_PASS) {
			decide(v, i, "ARC-Seal %u: %s", i, why);
			v->res.temporary = r == DKIM_RESULT_TEMPERROR;
			return;
		}
	}
	v->res.cv = ARC_CV_PASS;
	v->res.oldest_pass = oldest;
	snprintf(v->res.reason, sizeof v->res.reason, "%u set%s verified", n, n == 1 ? "" : "s");
}

int arc_verifier_run(struct arc_verifier *v, void (*wake)(void *arg), void *arg)
{
	if (v->state == V_HEAD) {
		dkim_head_finish(&v->head);
		if (!v->head.toobig)
			begin_body(v);
		else
			v->state = V_LOOKUP;
	}
	v->wake = wake;
	v->wake_arg = arg;
	if (v->state == V_BODY) {
		v->state = V_LOOKUP;
		if (!v->decided) {
			for (size_t i = 0; i < v->nbodies; i++)
				(void)dkim_bodies_hash(v->bodies, v->mine[i]);
			start_lookups(v);
		}
	}
	if (v->state == V_LOOKUP) {
		if (v->pending > 0)
			return ARC_VERIFY_WAIT;
		if (v->head.toobig)
			decide(v, 0, "header section over 256 KiB: not verified");
		else if (!v->decided)
			judge(v);
		v->state = V_DONE;
	}
	return ARC_VERIFY_DONE;
}

size_t arc_verifier_expire(struct arc_verifier *v)
{
	size_t cut = 0;

	v->expired = 1;
	for (size_t i = 0; i < v->nkeys; i++) {
		struct akey *k = &v->keys[i];
		if (k->state != 1)
			continue;
		if (k->handle && v->r.cancel)
			v->r.cancel(v->r.ctx, k->handle);
		k->handle = NULL;
		k->state = 2;
		k->ans = DKIM_KEYANS_TEMP;
		cut++;
	}
	v->pending = 0;
	if (v->state < V_LOOKUP && !v->decided)
		cut += v->nkeys; /* not started yet: never will be */
	return cut;
}

const struct arc_result *arc_verifier_result(const struct arc_verifier *v)
{
	return v->state == V_DONE ? &v->res : NULL;
}

void arc_verifier_free(struct arc_verifier **vp)
{
	struct arc_verifier *v = *vp;

	if (v == NULL)
		return;
	*vp = NULL;
	for (size_t i = 0; i < v->nkeys; i++)
		if (v->keys[i].state == 1 && v->keys[i].handle && v->r.cancel)
			v->r.cancel(v->r.ctx, v->keys[i].handle);
	dkim_head_free(&v->head);
	dkim_hindex_free(&v->hx);
	free(v->own);
	free(v->sets);
	free(v->keys);
	free(v);
}

unsigned arc_trusted(const struct arc_result *r, int (*trusted)(void *arg, const char *domain),
                     void *arg, const char *method, const char *want, const char *author)
{
	char result[32], from[DKIM_DOMAIN_MAX + 2];

	if (r == NULL || r->cv != ARC_CV_PASS)
		return 0;
	int later_trusted = 1; /* every set after i is a trusted sealer's */
	for (unsigned i = r->nsets; i >= 1; i--) {
		const struct arc_set_info *s = &r->set[i - 1];
		if (i < r->nsets)
			later_trusted &= trusted(arg, r->set[i].d) != 0;
		if (!trusted(arg, s->d))
			continue;
		/* The message is still the one set i sealed (its AMS verifies),
		 * or only trusted sealers came after it: else an untrusted hop
		 * may have rewritten what the pass was for, keeping its From. */
		if (!later_trusted && r->oldest_pass != 0 && i < r->oldest_pass)
			continue;
		if (arc_authres_property(s->aar, method, "header.from", result, sizeof result, from,
		                         sizeof from) != 1 ||
		    strcasecmp(result, want) != 0)
			continue;
		size_t fl = strlen(from);
		if (fl && from[fl - 1] == '.')
			from[fl - 1] = '\0';
		if (author == NULL || strcasecmp(from, author) == 0)
			return i;
	}
	return 0;
}

int arc_authres_append(const struct arc_result *r, const char *remote_ip, struct buf *out)
{
	int rc = buf_printf(out, "arc=%s", arc_cv_name(r->cv));

	if (r->cv == ARC_CV_PASS)
		rc |= buf_printf(out, " (i=%u d=%s) header.oldest-pass=%u", r->nsets,
		                 r->set[r->nsets - 1].d, r->oldest_pass);
	else if (r->cv == ARC_CV_FAIL && r->failed)
		rc |= buf_printf(out, " (i=%u)", r->failed);
	/* An IPv6 address has ":", which an RFC 8601 token cannot: quoted. */
	if (remote_ip != NULL)
		rc |= buf_printf(out, strchr(remote_ip, ':') || !*remote_ip ? " smtp.remote-ip=\"%s\""
		                                                             : " smtp.remote-ip=%s",
		                 remote_ip);
	return rc ? -1 : 0;
}
