/*
 * dkim_verify.h — DKIM verification (RFC 6376, RFC 8463 Ed25519, RFC 8301):
 * the DKIM-Signature and key record parsers, the key-lookup interface,
 * and the streaming, resumable verifier.
 *
 * Design. A struct dkim_verifier takes the message in any chunks, as the
 * signer does (dkim.h): it keeps the header section (at most
 * DKIM_HEADER_MAX octets) and, once the empty line arrives, parses every
 * DKIM-Signature field and streams the body through one canonicalizer per
 * distinct (body canonicalization, l=) pair, so a 50 MiB body costs one
 * pass and a few KiB whatever its size; nothing of the body is kept. At
 * most DKIM_VERIFY_SIGS_MAX signatures are evaluated (those after it get
 * "neutral"), which bounds the work a message can ask for.
 *
 * Key lookups go through the shared struct dns_resolver (dns_resolver.h),
 * one TXT query of "<s>._domainkey.<d>" per signature. The verifier never
 * blocks: it starts the lookups and returns DKIM_VERIFY_WAIT; the answers
 * arrive through the resolver's callback (now or later), and the caller
 * runs the verifier again when told. Unit tests and the fuzzers answer
 * from a table (dns_table.h); `tern check dkim` (and the server, once
 * the delivery pipeline runs it) hands it dns_resolver_of(), the loop's
 * cached dns_query.
 *
 * Results are data (RFC 8601 §2.7.1 names), one per signature, top to
 * bottom, each with a short reason:
 *   pass       the body hash and the signature verify with the key
 *   fail       they do not; rsa-sha1 (RFC 8301); an RSA key under 1024 bits
 *   neutral    a signature we cannot process: unknown v=, a= or c=, or one
 *              past DKIM_VERIFY_SIGS_MAX
 *   policy     acceptable in form but not in time: x= passed, t= more than
 *              DKIM_CLOCK_SKEW seconds in the future
 *   temperror  the key lookup failed temporarily
 *   permerror  a malformed signature (tag-list syntax, a required tag
 *              missing, bad base64, h= without From, i= not under d=,
 *              l= beyond the body, x= before t=) or key (no record,
 *              revoked p=, malformed, k= or h= not matching a=, s= not
 *              email, t=s with i= a subdomain of d=)
 * A message without DKIM-Signature fields has no results (its message
 * result is "none").
 *
 * Caveats: of several TXT records at a selector the first that parses as
 * a key record is used (RFC 6376 §3.6.2.2 leaves several undefined). A header section over DKIM_HEADER_MAX
 * is not verified: one "policy" result with empty d= and s=. A bare LF is
 * taken as CRLF, as by the signer. The verifier is not thread-safe; feed it
 * from one thread at a time (the worker pool for big messages).
 */
#ifndef TERN_DKIM_DKIM_VERIFY_H
#define TERN_DKIM_DKIM_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"
#include "dkim/dkim.h"
#include "dns/dns_resolver.h"

#define DKIM_VERIFY_SIGS_MAX 16
#define DKIM_TAGS_MAX 64         /* tags in one tag list */
#define DKIM_CLOCK_SKEW 300      /* seconds a t= may be ahead of our clock */
#define DKIM_PUBKEY_MAX 1100     /* decoded p=: an RSA-8192 SubjectPublicKeyInfo */
#define DKIM_SIG_MAX 1024        /* decoded b=: an RSA-8192 signature */
#define DKIM_REASON_MAX 128
#define DKIM_IDENTITY_MAX 320    /* i=: local part, @, domain */
/* The start of b= kept to name a signature in Authentication-Results
 * (header.b, RFC 6008: 8 characters, more when two signatures share them). */
#define DKIM_BTEXT_MAX 64
/* Names in one h= at most (more: permerror). Bounds the header hash's
 * search, names x fields; heavy over-signers list about 40. */
#define DKIM_H_NAMES_MAX 128

enum dkim_result {
	DKIM_RESULT_NONE,
	DKIM_RESULT_PASS,
	DKIM_RESULT_FAIL,
	DKIM_RESULT_NEUTRAL,
	DKIM_RESULT_POLICY,
	DKIM_RESULT_TEMPERROR,
	DKIM_RESULT_PERMERROR,
};

/* "none", "pass", "fail", "neutral", "policy", "temperror", "permerror". */
const char *dkim_result_name(enum dkim_result r);

/* ---- Tag lists (dkim_tags.c) ---- */

/* One tag-spec: slices into the parsed text. value has no FWS at either
 * end but keeps inner FWS (b=, bh=, p=, h= may be folded). */
struct dkim_tag {
	struct str name;
	struct str value;
};

/*
 * Parses a tag list (RFC 6376 §3.2) strictly: tag-spec *(";" tag-spec)
 * [";"], tag names ALPHA *(ALPHA / DIGIT / "_"), values of VALCHAR
 * (%x21-3A / %x3C-7E) runs separated by FWS, no duplicate names. The text
 * is complete (a whole field value or TXT record), so there is no
 * "need more": returns the number of tags (at most max, which is at most
 * DKIM_TAGS_MAX), or -1 with *why_r (a static string) on bad input.
 */
int dkim_tags_parse(struct str text, struct dkim_tag *tags, size_t max, const char **why_r);

/* A parsed DKIM-Signature field (the value: what follows the colon). */
struct dkim_sig {
	int alg;              /* enum dkim_alg, or 0 when a= was rsa-sha1 (rsa_sha1 set) */
	uint8_t rsa_sha1;
	uint8_t head_simple;  /* c= header part is "simple" */
	uint8_t body_simple;  /* c= body part is "simple" */
	uint8_t has_l, has_t, has_x;
	uint64_t l;
	int64_t t, x;
	char d[DKIM_DOMAIN_MAX + 1];     /* lowercased, U-labels as A-labels (dkim_tag_name) */
	char s[DKIM_SIG_SELECTOR_MAX + 1]; /* as written, U-labels as A-labels */
	char i[DKIM_IDENTITY_MAX + 1];   /* as written; "@d" when absent */
	uint8_t i_sub;                   /* i='s domain is a subdomain of d= (not d= itself) */
	struct str h;                    /* the h= value, slice into the text */
	uint8_t bh[32];
	uint8_t b[DKIM_SIG_MAX];
	size_t blen;
	char btext[DKIM_BTEXT_MAX + 1]; /* b= as written, FWS removed, cut; "" unless base64 */
};

/*
 * Parses and checks a DKIM-Signature value (§3.5). Returns 0, or -1 with
 * *res_r (DKIM_RESULT_NEUTRAL or DKIM_RESULT_PERMERROR, as the table
 * above) and *why_r (static) set. sig->h points into value, which must
 * outlive its use. d=, s= and btext are filled as soon as they parse,
 * before any other tag is checked, so a failing signature can still be
 * named (header.d, header.s, header.b).
 */
int dkim_sig_parse(struct str value, struct dkim_sig *sig, enum dkim_result *res_r,
                   const char **why_r);

enum dkim_keytype { DKIM_KEY_RSA = 1, DKIM_KEY_ED25519 = 2 };

/* Service types a key record's s= allows (RFC 6376 §3.6.1; "tlsrpt" is
 * RFC 8460 §3's, for the keys that sign TLS-RPT reports). */
#define DKIM_SVC_EMAIL 1
#define DKIM_SVC_TLSRPT 2

/* A parsed key record (§3.6.1). */
struct dkim_pubkey {
	enum dkim_keytype type;  /* k=, rsa when absent */
	uint8_t services;        /* DKIM_SVC_*: s= ("*" or absent: all) */
	uint8_t testing;         /* t=y */
	uint8_t strict;          /* t=s: i= must have d= exactly */
	uint8_t revoked;         /* p= empty */
	uint8_t p[DKIM_PUBKEY_MAX];
	size_t plen;
};

/*
 * Parses a key record (the TXT value, strings joined). Checks v= (DKIM1,
 * first when present), k= (rsa or ed25519), h= (must allow sha256 when
 * present), s= (email, tlsrpt or *: services), p= (base64; empty = revoked,
 * which is not an error here: see revoked). Returns 0, or -1 with *why_r
 * (static).
 */
int dkim_pubkey_parse(struct str record, struct dkim_pubkey *k, const char **why_r);

/* ---- Pieces ARC shares (auth/arc*.c): one implementation each ---- */

/* DKIM-Signature vs ARC-Message-Signature (RFC 8617 §4.1.2): the AMS has
 * no v=, its i= is the instance (1..50) and h= must not list ARC-Seal;
 * without c= it is simple/simple, as a DKIM-Signature (dkimpy and the old
 * OpenARC read relaxed there; the RFC changes only name, v= and i=). */
#define DKIM_SIG_ARC 1

/*
 * dkim_sig_parse with flags (0 or DKIM_SIG_ARC). With DKIM_SIG_ARC the
 * instance goes to *instance_r (may be NULL otherwise) and sig->i is "@d".
 */
int dkim_sig_parse_ex(struct str value, unsigned flags, struct dkim_sig *sig,
                      unsigned *instance_r, enum dkim_result *res_r, const char **why_r);

/*
 * The DNS form of a d= or s= value (or of i='s domain): ASCII as written
 * (lowercased when lower is set), or, with octets over 0x7F, every label
 * lowercased and each U-label as its A-label (auth/alabels.h): RFC 8616
 * §5 lets an internationalized message's signature write these names in
 * UTF-8, and its key record is published under the A-labels. Into dst
 * (dstsz octets, NUL-terminated); 0, or -1 when it does not fit, holds a
 * NUL or a label has no A-label (not UTF-8). Not otherwise checked.
 */
int dkim_tag_name(struct str v, int lower, char *dst, size_t dstsz);

/* Decodes base64 with FWS anywhere (RFC 6376 §3.5 b=, bh=; §3.6.1 p=)
 * into out (cap octets), the length to *len_r. 0, or -1 when s is empty,
 * holds anything but base64 digits, "=" and FWS (an octet over 0x7F or
 * a NUL included), is badly padded or does not fit. */
int dkim_b64(struct str s, uint8_t *out, size_t cap, size_t *len_r);

/* A header section split into fields and indexed by name (dkim_hindex.c),
 * so that the instances of a name are found by binary search. */
struct dkim_fname {
	struct str name; /* empty for a field without a valid name */
	uint32_t field;  /* index into fields */
};

struct dkim_hindex {
	struct str *fields; /* the fields, top to bottom (slices into the section) */
	size_t nfields;
	struct dkim_fname *index; /* sorted by name, then position */
	uint32_t *taken;          /* per name group: instances used ... */
	uint32_t *taken_by;       /* ... by the digest with this stamp */
	uint32_t stamp;
};

/* Splits section (which must outlive x) into fields and indexes them. */
void dkim_hindex_build(struct dkim_hindex *x, struct str section);
void dkim_hindex_free(struct dkim_hindex *x);
/* The number of fields named name (ASCII case-insensitive) in x. */
size_t dkim_hindex_count(const struct dkim_hindex *x, struct str name);
/*
 * The header hash of RFC 6376 §3.7 for a signature whose h= is h and
 * whose own field is x->fields[sigfield]: for each name of h= the last
 * instance not yet used (bottom-up, §5.4.2), then the signature field with
 * its b= value removed and no final CRLF, in simple or relaxed form.
 * Returns 0, or -1 when a field is too big to canonicalize.
 */
int dkim_hindex_digest(struct dkim_hindex *x, struct str h, int simple, size_t sigfield,
                       uint8_t out[32]);
/* The field with its b= tag's value (and the FWS around it) cut out, as
 * signed (§3.7); the field must hold a tag list that parses. 0 or -1 (out full). */
int dkim_field_blank_b(struct str field, struct buf *out);

/* What a key lookup came to (dkim_pubkey_answer). */
enum dkim_keyans {
	DKIM_KEYANS_OK,   /* a key record: *k filled */
	DKIM_KEYANS_BAD,  /* TXT records, none a key record: *why_r says why */
	DKIM_KEYANS_NONE, /* no TXT record (NXDOMAIN, NODATA) */
	DKIM_KEYANS_TEMP, /* the lookup failed temporarily */
};

/* Reads a TXT answer at <s>._domainkey.<d>: the first record that parses
 * as a key record (a stray verification token must not hide the key). */
enum dkim_keyans dkim_pubkey_answer(const struct dns_answer *a, struct dkim_pubkey *k,
                                    const char **why_r);

/* The key's own refusals of a signature of algorithm alg: revoked (empty
 * p=), k= not matching a=, s= not allowing email (then the reason is
 * dkim_key_not_email, the same pointer). NULL when none (a static reason
 * otherwise). */
extern const char dkim_key_not_email[];
const char *dkim_pubkey_refuses(const struct dkim_pubkey *k, int alg);

/*
 * Checks signature b (blen octets) of algorithm alg (enum dkim_alg) over
 * digest with key k: the key's own rules first (revoked, k= against a=),
 * then Ed25519, or RSA (under 1024 bits fails, RFC 8301). Returns
 * DKIM_RESULT_PASS, _FAIL or _PERMERROR, with why (room whysz) set.
 */
enum dkim_result dkim_sig_check(const struct dkim_pubkey *k, int alg, const uint8_t digest[32],
                                const uint8_t *b, size_t blen, char *why, size_t whysz);

/* ---- The verifier (dkim_verify.c) ---- */

/* One signature's outcome. */
struct dkim_sig_result {
	enum dkim_result result;
	char d[DKIM_DOMAIN_MAX + 1];   /* "" when it did not parse */
	char s[DKIM_SIG_SELECTOR_MAX + 1];
	char i[DKIM_IDENTITY_MAX + 1]; /* the AUID (i=, or "@d") */
	char b[DKIM_BTEXT_MAX + 1]; /* the start of b= (header.b); "" when absent or not base64 */
	int alg;                       /* enum dkim_alg, 0 unknown */
	uint8_t testing;               /* the key says t=y: treat as unsigned (§3.6.1) */
	uint8_t services;              /* the key's DKIM_SVC_* (0: no key) */
	/* 1: the signature and body hash verified with the key, whatever
	 * its services: result is then "pass", or "permerror" for a key
	 * whose s= does not allow email (one for TLS-RPT reports only). */
	uint8_t verified;
	uint64_t unsigned_octets;      /* canonical body octets after l= */
	/* 1: a field RFC 5322 §3.6 allows once (Subject, To, ...) that h=
	 * signs has more instances than h= names: the one a reader sees may
	 * be unsigned (the signature covers the lowest, §5.4.2). */
	uint8_t unsigned_instance;
	/* What failed, for a failure report's Auth-Failure (RFC 6591
	 * §3.2.2, RFC 6651): DKIM_FAILED_BODYHASH when the signature over
	 * the header verified but the body hash did not match (a body
	 * changed in transit), DKIM_FAILED_REVOKED when the key record is
	 * revoked (empty p=); DKIM_FAILED_SIGNATURE for every other result
	 * but pass and none. */
	uint8_t failed;
	char reason[DKIM_REASON_MAX];
};

enum { DKIM_FAILED_SIGNATURE = 0, DKIM_FAILED_BODYHASH = 1, DKIM_FAILED_REVOKED = 2 };

/*
 * Whether r may speak for the message to DMARC (and our own-domain
 * check): a pass, with a key not in testing mode (t=y: treat as unsigned,
 * §3.6.1), no body octets left unsigned by l= (§8.2: whatever a forger
 * appended after the signed part would ride on the pass), and no unsigned
 * extra instance of a signed once-only field (unsigned_instance); the
 * result itself stays "pass". 1 or 0.
 */
static inline int dkim_result_authenticates(const struct dkim_sig_result *r)
{
	return r->result == DKIM_RESULT_PASS && !r->testing && r->unsigned_octets == 0 &&
	       !r->unsigned_instance;
}

struct dkim_verifier;

enum { DKIM_VERIFY_WAIT = 0, DKIM_VERIFY_DONE = 1 };

/*
 * Creates a verifier judging times against now (seconds since the epoch),
 * looking keys up through r (copied; r->ctx must outlive the verifier).
 */
struct dkim_verifier *dkim_verifier_new(const struct dns_resolver *r, int64_t now);
/*
 * Feeds the next n octets of the message (header section, empty line,
 * body). Never fails: a header section over DKIM_HEADER_MAX is remembered
 * and reported as a result. Calls after the first dkim_verifier_run are
 * ignored.
 */
void dkim_verifier_update(struct dkim_verifier *v, const void *p, size_t n);
/* Before the first update: the body hashers come from set (dkim.h
 * struct dkim_bodies), shared with the other verifiers of the same message
 * and fed the same octets; set outlives the verifier. Otherwise it keeps
 * its own. */
void dkim_verifier_share_bodies(struct dkim_verifier *v, struct dkim_bodies *set);
/*
 * Ends the message on the first call and starts the key lookups; on every
 * call, when all answers are in, computes the results. Returns
 * DKIM_VERIFY_DONE (results ready) or DKIM_VERIFY_WAIT: wake(arg) will be
 * called once, from the resolver's callback, when the last answer arrives;
 * call dkim_verifier_run again then (not from inside wake is fine too).
 */
int dkim_verifier_run(struct dkim_verifier *v, void (*wake)(void *arg), void *arg);
/*
 * For a caller whose time ran out: the key lookups still outstanding are
 * cancelled and taken as failed temporarily (their signatures end as
 * temperror), as are any not started yet; wake will not be called. Call
 * dkim_verifier_run after it: it returns DKIM_VERIFY_DONE. Returns the
 * number of lookups cut short or never started (0: none was outstanding).
 */
size_t dkim_verifier_expire(struct dkim_verifier *v);
/* After DKIM_VERIFY_DONE: the number of results (0: no signatures) and
 * each one, in the message's top-to-bottom order. Valid until free. */
size_t dkim_verifier_count(const struct dkim_verifier *v);
const struct dkim_sig_result *dkim_verifier_result(const struct dkim_verifier *v, size_t i);
/* Cancels outstanding lookups and frees *v (NULL after). */
void dkim_verifier_free(struct dkim_verifier **v);

#endif
