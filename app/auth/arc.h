/*
 * arc.h — ARC (RFC 8617, Authenticated Received Chain): the three header
 * fields of an ARC set, chain validation on arrival (cv=none/pass/fail)
 * and sealing (the next ARC set when tern forwards a message).
 *
 * Design. ARC is DKIM with two more fields, so everything DKIM already
 * does is DKIM's code (dkim/): the tag-list parser, header and body
 * canonicalization, the key record parser, the header hash of an
 * ARC-Message-Signature (it is a DKIM-Signature with i= as the instance),
 * RSA and Ed25519 verification and signing. What is ARC's own is here:
 *  - arc_parse.c: finding the ARC fields of a header section, their
 *    instance numbers (i=1..ARC_SETS_MAX), grouping them into sets, and
 *    reading an ARC-Authentication-Results payload (authserv-id, method
 *    results) for callers that trust a sealer;
 *  - arc_verify.c: the validator of §5.2, resumable over the shared
 *    struct dns_resolver as the DKIM verifier is (it streams the body, so
 *    it can run on the worker pool at the end of DATA);
 *  - arc_seal.c: the sealer of §5.1 (AAR, AMS, AS with cv= of the chain
 *    found on arrival), streaming as the DKIM signer is.
 *
 * Validation (RFC 8617 §5.2), in this order; the first that applies wins:
 *  1. no ARC field at all: cv=none;
 *  2. more than ARC_SETS_MAX sets, or an instance outside 1..50: fail;
 *  3. the ARC-Seal of the highest instance says cv=fail: fail;
 *  4. structure: every instance 1..N has exactly one AAR, one AMS and one
 *     AS (a gap, a duplicate or a missing field fails), AS 1 says
 *     cv=none and every later AS cv=pass, every field parses: else fail;
 *  5. the AMS of instance N verifies (as a DKIM signature): else fail;
 *  6. oldest-pass (optional in the RFC, computed here): the AMS of N-1,
 *     N-2, ... down to the first that fails;
 *  7. every AS, N down to 1, verifies over the ARC sets 1..i: else fail;
 *  8. cv=pass.
 * A key lookup that fails temporarily makes the chain fail with
 * .temporary set (RFC 8617 has no temperror; a caller may defer).
 *
 * What a caller does with the result (the "trusted ARC sealers" setting):
 * with cv=pass, each set's sealer (set[i].d, the AS's d=) and what it saw
 * (set[i].aar, its ARC-Authentication-Results) are authentic; arc_trusted()
 * finds the newest set sealed by a trusted domain whose AAR shows, e.g.,
 * dmarc=pass. Note that a pass vouches for what that sealer saw: hops
 * after it may have changed the message (that is what ARC is for), so
 * it counts only while the message is the one it sealed (its AMS still
 * verifies) or every later hop is a trusted sealer too.
 *
 * Caveats: the AS and AMS are read with DKIM's strict tag-list parser;
 * an AMS without c= is simple/simple, as a DKIM-Signature (RFC 8617
 * §4.1.2; dkimpy reads relaxed/relaxed there). At
 * most ARC_LOOKUPS_MAX distinct keys are looked up per message (the AMS
 * of N and every AS first); oldest-pass stops at an AMS past that. The
 * header section is DKIM's (DKIM_HEADER_MAX); a bigger one is cv=fail.
 */
#ifndef TERN_AUTH_ARC_H
#define TERN_AUTH_ARC_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"
#include "dkim/dkim.h"
#include "dkim/dkim_verify.h"
#include "dns/dns_resolver.h"

/* Result codes (negative, their own range). */
#define ARC_OK 0
#define ARC_EINVAL (-32000)  /* bad key, domain or Authentication-Results text */
#define ARC_ETOOBIG (-32001) /* header section over DKIM_HEADER_MAX, or out full */
#define ARC_ECRYPTO (-32002) /* signing failed (damaged key) */
#define ARC_ECHAIN (-32003)  /* no set may be added: the newest AS says cv=fail, or 50 sets */

#define ARC_SETS_MAX 50    /* RFC 8617 §4.2.1: instances 1..50 */
#define ARC_LOOKUPS_MAX 64 /* distinct key names looked up per message */
#define ARC_REASON_MAX 160

enum arc_cv { ARC_CV_NONE, ARC_CV_PASS, ARC_CV_FAIL };

/* "none", "pass", "fail". */
const char *arc_cv_name(enum arc_cv cv);

/* ---- Parsing (arc_parse.c) ---- */

enum arc_field { ARC_F_NONE = 0, ARC_F_AAR, ARC_F_AMS, ARC_F_AS };

/*
 * Which ARC field a raw header field is (its name, case-insensitively):
 * ARC_F_AAR, ARC_F_AMS, ARC_F_AS, or ARC_F_NONE for any other field.
 */
enum arc_field arc_field_kind(struct str field);

/*
 * The instance of an ARC field's value (what follows the colon). For an
 * AAR the value must start (after CFWS) with "i=N" then ";" (§4.1.1); for
 * AMS and AS, i= is a tag of the tag list (dkim_tags_parse). N must be a
 * decimal number without leading zeros. Returns N (which may be over
 * ARC_SETS_MAX: the caller decides), or 0 when there is no usable i=.
 */
unsigned arc_instance(enum arc_field kind, struct str value);

/*
 * The payload of an AAR value: what follows "i=N;", trimmed of white
 * space (the authserv-id and the results). STR_NULL-like {NULL,0} when
 * the value has no instance.
 */
struct str arc_aar_payload(struct str value);

/*
 * Reads an Authentication-Results payload (RFC 8601 §2.2: authserv-id
 * [version] ; resinfo ; ...; comments allowed as CFWS): copies the
 * authserv-id into authserv_r (room authserv_sz, lowercased; may be NULL)
 * and the result of the first resinfo whose method is method (ASCII
 * case-insensitive, e.g. "dmarc") into result_r (room result_sz,
 * lowercased; may be NULL). Returns 1 when method is present, 0 when it
 * is not, -1 when the payload does not parse (outputs then unspecified).
 */
int arc_authres_lookup(struct str payload, const char *method, char *authserv_r, size_t authserv_sz,
                       char *result_r, size_t result_sz);
/*
 * As arc_authres_lookup, for the first resinfo of method: its result into
 * result_r and the value of its property prop (e.g. "header.from", ASCII
 * case-insensitive; an address's local part and "@" dropped) into value_r
 * (room value_sz, lowercased; "" when absent). Same returns.
 */
int arc_authres_property(struct str payload, const char *method, const char *prop, char *result_r,
                         size_t result_sz, char *value_r, size_t value_sz);

/* A parsed ARC-Seal value (§4.1.3): tags i, a, b, cv, d, s, t; no h=. */
struct arc_seal_sig {
	unsigned instance;
	enum arc_cv cv;
	int alg; /* enum dkim_alg */
	int64_t t;
	uint8_t has_t;
	char d[DKIM_DOMAIN_MAX + 1]; /* lowercased */
	char s[DKIM_SIG_SELECTOR_MAX + 1];
	uint8_t b[DKIM_SIG_MAX];
	size_t blen;
};

/*
 * Parses an ARC-Seal value. d= and s= are filled as soon as they parse,
 * so a bad seal can still be named. Returns 0, or -1 with *why_r (static)
 * set: a tag-list error, a missing or bad i=, a=, b=, cv=, d= or s=, an
 * unknown algorithm, or an h= tag (§4.1.3 forbids it).
 */
int arc_seal_parse(struct str value, struct arc_seal_sig *as, const char **why_r);

/* ---- Validation (arc_verify.c) ---- */

/* One ARC set as found (set[i-1] for instance i). */
struct arc_set_info {
	unsigned instance;
	enum arc_cv cv;                  /* what the AS claims (cv=) */
	char d[DKIM_DOMAIN_MAX + 1];     /* the sealer: the AS's d=, "" when unparsed */
	char s[DKIM_SIG_SELECTOR_MAX + 1]; /* the AS's s= */
	char ams_d[DKIM_DOMAIN_MAX + 1]; /* the AMS's d= */
	char ams_s[DKIM_SIG_SELECTOR_MAX + 1];
	/* The AAR payload (arc_aar_payload): a slice into the verifier's copy
	 * of the header section, valid until arc_verifier_free. */
	struct str aar;
	/* Outcomes: DKIM_RESULT_NONE when not evaluated, else pass, fail,
	 * temperror or permerror (with why in the result's reason). */
	enum dkim_result ams;
	enum dkim_result as;
};

struct arc_result {
	enum arc_cv cv;
	unsigned nsets;  /* N, the highest instance seen (0: no ARC fields); set[] holds
	                    min(N, ARC_SETS_MAX) entries, only those found filled in */
	unsigned failed; /* the instance blamed for a fail (0: none, or not one set's) */
	unsigned
	    oldest_pass;   /* §5.2 step 5, with cv=pass: 0 when every AMS verifies, else
	                      the lowest instance of the unbroken run of passing AMS down from N */
	uint8_t temporary; /* a fail caused by a temporary key lookup failure */
	char reason[ARC_REASON_MAX];
	struct arc_set_info set[ARC_SETS_MAX];
};

struct arc_verifier;

enum { ARC_VERIFY_WAIT = 0, ARC_VERIFY_DONE = 1 };

/*
 * Creates a validator looking keys up through r (copied; r->ctx must
 * outlive the verifier), judging t=/x= against now (seconds since the
 * epoch). Never fails (allocation failure aborts).
 */
struct arc_verifier *arc_verifier_new(const struct dns_resolver *r, int64_t now);
/* Feeds the next n octets of the message (header section, empty line,
 * body), in any chunks. Calls after the first arc_verifier_run are ignored. */
void arc_verifier_update(struct arc_verifier *v, const void *p, size_t n);
/* Before the first update: the body hashers come from set (dkim.h
 * struct dkim_bodies), shared with the other verifiers of the same message
 * and fed the same octets; set outlives the verifier. Otherwise it keeps
 * its own. */
void arc_verifier_share_bodies(struct arc_verifier *v, struct dkim_bodies *set);
/*
 * Ends the message on the first call and starts the key lookups; when all
 * answers are in, computes the result. Returns ARC_VERIFY_DONE, or
 * ARC_VERIFY_WAIT: wake(arg) is then called once, from the resolver's
 * callback, when the last answer arrives; call arc_verifier_run again.
 */
int arc_verifier_run(struct arc_verifier *v, void (*wake)(void *arg), void *arg);
/*
 * For a caller whose time ran out: the key lookups still outstanding are
 * cancelled and taken as failed temporarily (a fail with .temporary set,
 * as a lookup that timed out), as are any not started yet; wake will not
 * be called. Call arc_verifier_run after it: it returns ARC_VERIFY_DONE.
 * Returns the number of lookups cut short or never started (0: none was
 * outstanding).
 */
size_t arc_verifier_expire(struct arc_verifier *v);
/* After ARC_VERIFY_DONE: the result (owned by v, valid until free); NULL before. */
const struct arc_result *arc_verifier_result(const struct arc_verifier *v);
/* Cancels outstanding lookups and frees *v (NULL after). NULL is a no-op. */
void arc_verifier_free(struct arc_verifier **v);

/*
 * The trusted-sealer question: with r->cv pass, the newest instance whose
 * sealer (set[].d, ASCII case-insensitive) is accepted by trusted(arg, d)
 * and whose AAR reports method with result want (e.g. "dmarc", "pass")
 * and, when author is not NULL, with header.from= equal to author (the
 * message's Author Domain, lowercase): a pass the sealer saw for another
 * From domain says nothing of this one (a later hop can rewrite From and
 * seal again). The set counts only when its AMS still verifies
 * (r->oldest_pass is 0 or at most its instance) or every later set's
 * sealer is trusted too: else a hop nobody trusts may have rewritten the
 * body and Subject under the same From and sealed again (a replay of a
 * list's copy). Returns that instance, or 0 (chain not pass, or no such
 * set).
 */
unsigned arc_trusted(const struct arc_result *r, int (*trusted)(void *arg, const char *domain),
                     void *arg, const char *method, const char *want, const char *author);

/*
 * Appends the arc= result of an Authentication-Results field (RFC 8617
 * §10.1, RFC 8601 §2.7) for r, without a leading "; ": "arc=none";
 * "arc=pass (i=N d=SEALER) header.oldest-pass=K"; "arc=fail (i=N)" (the
 * instance blamed, when one is); then " smtp.remote-ip=IP" (a quoted-string
 * for an IPv6 address) when
 * remote_ip is not NULL. Returns 0, or -1 when out's ceiling was hit
 * (out may then hold part of it).
 */
int arc_authres_append(const struct arc_result *r, const char *remote_ip, struct buf *out);

/* ---- Sealing (arc_seal.c) ---- */

/*
 * What the next ARC set says. Pointers are the caller's and must stay
 * valid until arc_sealer_final (or arc_seal) returns.
 */
struct arc_seal_params {
	/* The signing key: the served domain's RSA key (arc_key_pick) — ARC
	 * verifiers at large know rsa-sha256 only. */
	const struct dkim_key *key;
	/* d= of the AMS and AS: the served domain, in either spelling of an
	 * internationalized one (d= gets its A-labels). */
	const char *domain;
	/* The Authentication-Results this hop computed: the field's value,
	 * starting with the authserv-id ("mail.example.org; spf=pass
	 * smtp.mailfrom=...; arc=pass ..."), or the whole field as prepended
	 * ("Authentication-Results: ...\r\n": the name and the final CRLF
	 * are dropped). Folds (CRLF + WSP) are kept; a bare CR or LF, or a
	 * line break not followed by WSP, is ARC_EINVAL. Should include arc=
	 * (§5.1; arc_authres_append writes it). */
	const char *authres;
	/* The chain status found on arrival (arc_verifier's cv). Used only
	 * when the message has ARC sets: pass seals cv=pass; none or fail
	 * seals cv=fail, signing only the new set (§5.1.2). A message with
	 * no sets always gets i=1 and cv=none. */
	enum arc_cv cv;
	int64_t now; /* t= */
};

/* The key of keys to seal with: the first RSA key, else NULL. */
const struct dkim_key *arc_key_pick(const struct dkim_keys *keys);

struct arc_sealer {
	struct arc_seal_params p;
	int error; /* first error, sticky */
	int state; /* 0 header, 1 body, 2 done */
	struct dkim_head head;
	struct dkim_body body;
};

/*
 * Starts sealing; the message is fed as it will be sent on (CRLF form,
 * without the new set). p->authres may be NULL here when the results are
 * not known yet (the body is hashed while the checks run, on the worker
 * pool): arc_sealer_set_results must then come before final. Returns
 * ARC_OK or ARC_EINVAL (key, domain or authres not usable; nothing to
 * clear then).
 */
int arc_sealer_init(struct arc_sealer *s, const struct arc_seal_params *p);
/*
 * Sets what only the end of the checks knows, any time before final:
 * the Authentication-Results text and the chain status found on arrival
 * (the fields of struct arc_seal_params; authres must stay valid until
 * final). Returns ARC_OK, or ARC_EINVAL (authres not usable, or the
 * sealer is done; the sealer is unchanged).
 */
int arc_sealer_set_results(struct arc_sealer *s, const char *authres, enum arc_cv cv);
/* Feeds n octets of the message. Returns ARC_OK or ARC_ETOOBIG (sticky). */
int arc_sealer_update(struct arc_sealer *s, const void *p, size_t n);
/*
 * Ends the message and appends the new set to out, top to bottom
 * "ARC-Seal: ...\r\nARC-Message-Signature: ...\r\nARC-Authentication-
 * Results: ...\r\n", to be put in front of the message (above the older
 * sets). Frees the sealer's memory. Returns ARC_OK; ARC_EINVAL (no
 * authres was ever given); ARC_ECHAIN (the
 * newest AS says cv=fail, or the message has ARC_SETS_MAX sets: forward
 * it unsealed, §5.1); ARC_ETOOBIG (header section, or out full: out is
 * then left as it was); ARC_ECRYPTO.
 */
int arc_sealer_final(struct arc_sealer *s, struct buf *out);
/* Frees a sealer abandoned before final (safe after final too). */
void arc_sealer_clear(struct arc_sealer *s);

/* One-shot form: init, update with the len octets at msg, final. */
int arc_seal(const struct arc_seal_params *p, const char *msg, size_t len, struct buf *out);

#endif
