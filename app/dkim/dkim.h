/*
 * dkim.h — DKIM signing (RFC 6376) with rsa-sha256 and ed25519-sha256
 * (RFC 8463), relaxed/relaxed canonicalization, and the domain keys.
 *
 * Design. A domain has a set of keys (struct dkim_keys): today one RSA-2048
 * and one Ed25519 key, each with its own selector named after the month it
 * was made ("tern-rsa-202501", "tern-ed-202501") so that a later rotation
 * can publish a new selector beside the old one. The set is a plain value:
 * no pointers inside, so it may be copied, stored (store_dkim_put) and
 * wiped (dkim_keys_wipe) freely.
 *
 * Signing is one pass over the message. A struct dkim_signer takes the
 * message in any chunks: it keeps the header section (at most
 * DKIM_HEADER_MAX octets) and hashes the body as it streams through the
 * relaxed body canonicalizer, so a 50 MiB message costs 256 KiB of memory
 * at most. At the end it writes one "DKIM-Signature:" field per key, each
 * ending in CRLF, for the caller to put in front of the message. Every key
 * of a set shares the body hash (both algorithms hash the body with
 * SHA-256), and the hash of the signed header fields is computed once and
 * forked per key.
 *
 * What is signed (RFC 6376 §5.4): the header fields of a fixed list that
 * are present, chosen bottom-up (§5.4.2), each name listed once per
 * instance. From, Reply-To, Subject, To and Cc are listed once more than
 * they occur, even when absent, and Sender, Date, Message-ID, the MIME
 * fields, In-Reply-To, References and List-Unsubscribe(-Post) once more
 * when present (over-signing, §8.15): nobody can add an instance of them
 * without breaking the signature. The list is in dkim_sign.c.
 *
 * Line ends. DKIM signs the message as it travels over SMTP, with CRLF line
 * ends. The signer takes a bare LF as CRLF (stored mail may have either),
 * so the sender must transmit the CRLF form, which SMTP requires anyway. A
 * CR not followed by LF is an ordinary octet.
 *
 * Cost: an RSA-2048 signature takes about 0.25 ms (libcrypto, see
 * dkim_rsa.c; BearSSL took 2.2 ms), Ed25519 about 0.05 ms, and the body
 * hashes at about 1.5 GB/s (core/sha256.c with SHA-NI, on the build machine): sign on
 * the worker pool, not on an event loop.
 *
 * Caveats: no l= (body length) and no x= (expiry) tags are written, and no
 * i= (the identity defaults to @d). Domains and selectors must be ASCII
 * (A-labels for internationalised domains). A message whose header section
 * is over DKIM_HEADER_MAX is not signed (DKIM_ETOOBIG). Anything that
 * changes the message after signing (a 7-bit downgrade, a footer) breaks
 * the signature. Verification is in dkim_verify.h; ARC (auth/arc.h) signs
 * its AMS through dkim_sign_section.
 */
#ifndef TERN_DKIM_DKIM_H
#define TERN_DKIM_DKIM_H

#include <bearssl_hash.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/sha256.h"
#include "core/str.h"

/* Result codes (negative, their own range). */
#define DKIM_OK 0
#define DKIM_EINVAL (-31000)  /* bad domain, selector, key or record */
#define DKIM_ETOOBIG (-31001) /* header section over DKIM_HEADER_MAX, or output buf full */
#define DKIM_ECRYPTO (-31002) /* no entropy (getrandom failed) or a signing failure */

/* Largest header section a signer keeps; Postfix cuts headers at 100 KiB. */
#define DKIM_HEADER_MAX (256 * 1024)
/* Keys per domain: two today, room for an old and a new pair while rotating. */
#define DKIM_KEYS_MAX 4
#define DKIM_SELECTOR_MAX 63 /* our own keys': one DNS label */
#define DKIM_DOMAIN_MAX 253
/* A signature's s= (RFC 6376 §3.1: labels, dots allowed): the key's name
 * "s._domainkey.d" must be a DNS name (253 octets), so with the shortest
 * d= ("a.b") 253 - 12 - 3 octets; dkim_sig_selector_ok checks the name
 * with the signature's real d=. */
#define DKIM_SIG_SELECTOR_MAX 238
#define DKIM_RSA_BITS 2048     /* size of generated RSA keys */
#define DKIM_RSA_MAX_BITS 4096 /* largest RSA key accepted on import */
/* Private RSA elements p, q, dp, dq, iq at most: BR_RSA_KBUF_PRIV_SIZE(4096). */
#define DKIM_RSA_PRIV_MAX 1280
/* Largest exported key (dkim_key_export): RSA-4096 with its framing. */
#define DKIM_KEY_EXPORT_MAX (2 + 4 + 5 * 2 + DKIM_RSA_PRIV_MAX)

enum dkim_alg {
	DKIM_ALG_RSA_SHA256 = 1,
	DKIM_ALG_ED25519_SHA256 = 2,
};

/*
 * One private key with its selector. Treat the fields after selector as
 * private: they are read and written by the functions below only.
 */
struct dkim_key {
	enum dkim_alg alg;
	int64_t created_at; /* seconds since the epoch */
	char selector[DKIM_SELECTOR_MAX + 1];

	/* RSA: modulus size, public exponent, then p, q, dp, dq, iq (unsigned
	 * big-endian) back to back in rsa_priv with their lengths. */
	uint32_t rsa_bits;
	uint32_t rsa_e;
	uint16_t rsa_len[5];
	uint8_t rsa_priv[DKIM_RSA_PRIV_MAX];
	/* Ed25519: libsodium's secret key (32-byte seed, then the public key). */
	uint8_t ed_sk[64];
};

struct dkim_keys {
	unsigned n;
	struct dkim_key key[DKIM_KEYS_MAX];
};

/* ---- Keys (dkim_keys.c) ---- */

/* "rsa-sha256" / "ed25519-sha256" (the a= tag), or "?" for anything else. */
const char *dkim_alg_name(enum dkim_alg alg);

/*
 * Generates a new key of algorithm alg: RSA with DKIM_RSA_BITS bits and
 * exponent 65537 (BearSSL, from an HMAC-DRBG seeded with getrandom(2)), or
 * Ed25519 (libsodium, from a getrandom(2) seed). The selector is
 * "tern-rsa-YYYYMM" or "tern-ed-YYYYMM" for the UTC month of now, which is
 * also created_at. No file is read, so this works in an empty chroot.
 * RSA generation takes from tens of milliseconds to about a second.
 * Returns DKIM_OK, DKIM_EINVAL (unknown alg) or DKIM_ECRYPTO (no entropy).
 */
int dkim_key_generate(struct dkim_key *k, enum dkim_alg alg, int64_t now);

/* Generates the set a new domain gets: one RSA key, one Ed25519 key (in
 * that order). Returns as dkim_key_generate; on error k is wiped. */
int dkim_keys_generate(struct dkim_keys *k, int64_t now);

/* Overwrites the key material with zeros (sodium_memzero). */
void dkim_key_wipe(struct dkim_key *k);
void dkim_keys_wipe(struct dkim_keys *k);

/*
 * Appends the value of the key's DNS TXT record at
 * "<selector>._domainkey.<domain>" to out, unsplit and unquoted:
 * "v=DKIM1; k=rsa; p=<base64 of the SubjectPublicKeyInfo DER>" or
 * "v=DKIM1; k=ed25519; p=<base64 of the 32-byte public key>" (RFC 8463).
 * The caller splits it into 255-octet strings where DNS syntax needs it.
 * Returns DKIM_OK, DKIM_EINVAL (damaged key) or DKIM_ETOOBIG (out full;
 * out may then hold part of the value).
 */
int dkim_key_txt(const struct dkim_key *k, struct buf *out);

/*
 * Serialises the private key material (not alg, selector or created_at:
 * the caller keeps those beside it) into out, at most outsz octets; writes
 * the length to *len_r. DKIM_KEY_EXPORT_MAX is always enough. Layout (all
 * integers big-endian):
 *   RSA:     u16 bits, u32 e, then p, q, dp, dq, iq each as u16 length + bytes
 *   Ed25519: the 32-byte seed
 * Returns DKIM_OK, DKIM_EINVAL (damaged key) or DKIM_ETOOBIG (outsz).
 */
int dkim_key_export(const struct dkim_key *k, uint8_t *out, size_t outsz, size_t *len_r);

/*
 * Fills k from what dkim_key_export wrote, with alg, selector and
 * created_at given by the caller. Checks sizes and the selector syntax and,
 * for RSA, that the key is consistent (the public exponent and modulus can
 * be recomputed). Returns DKIM_OK or DKIM_EINVAL (k is then wiped).
 */
int dkim_key_import(struct dkim_key *k, enum dkim_alg alg, const char *selector, int64_t created_at,
                    const uint8_t *p, size_t len);

/*
 * Reads a private key made elsewhere (dkim_pem.c) into k, with selector
 * and created_at now: PEM or DER RSA (PKCS#1 or PKCS#8, 1024 to
 * DKIM_RSA_MAX_BITS bits) or Ed25519 (PKCS#8), or a base64 Ed25519 key
 * (the 32-octet seed, or libsodium's 64-octet secret key). The key passes
 * dkim_key_import's checks. *weak_r is 1 for an RSA key under 2048 bits
 * (RFC 8301 §3.2: allowed, 2048 recommended). Returns DKIM_OK, or
 * DKIM_EINVAL with one sentence in err (no key material in it) and k wiped.
 */
int dkim_key_from_text(struct dkim_key *k, const char *selector, int64_t now, const void *data,
                       size_t len, int *weak_r, char *err, size_t errsz);

/*
 * Signs a SHA-256 digest with k: RSASSA-PKCS1-v1_5 with the SHA-256
 * DigestInfo (rsa-sha256), or PureEdDSA Ed25519 over the 32 digest octets
 * as the message (ed25519-sha256, RFC 8463 §3). Writes the signature to sig
 * (room sigsz: 64 for Ed25519, the modulus size for RSA, DKIM_RSA_MAX_BITS/8
 * always suffices) and its length to *siglen_r. Returns DKIM_OK,
 * DKIM_ETOOBIG (sigsz) or DKIM_ECRYPTO (damaged key).
 */
int dkim_key_sign_digest(const struct dkim_key *k, const uint8_t digest[32], uint8_t *sig,
                         size_t sigsz, size_t *siglen_r);

/* 1 when s is a valid selector: dot-separated labels of letters, digits,
 * "_" and inner hyphens, at most DKIM_SELECTOR_MAX octets. RFC 6376
 * §3.1's grammar has no "_", but DNS labels may hold it (RFC 2181 §11),
 * sites publish keys under such selectors ("mail_2024") and dkimpy,
 * OpenDKIM and Rspamd verify them: refusing one would fail their mail. */
int dkim_selector_ok(const char *s);
/* 1 when s is a selector a signature may name for domain d (its A-label
 * form): labels as dkim_selector_ok's, as many as fit, the key's name
 * "s._domainkey.d" at most DKIM_DOMAIN_MAX octets (RFC 6376 §3.1 lets a
 * selector have several labels, §3.6.2.1 looks the key up at that name).
 * DKIM_SELECTOR_MAX is only the size of our own keys' selectors. */
int dkim_sig_selector_ok(const char *s, const char *d);
/* 1 when s is an ASCII domain name DKIM can sign for (d=): letters,
 * digits and inner hyphens in each label, at least two labels, at most
 * DKIM_DOMAIN_MAX octets. */
int dkim_domain_ok(const char *s);
/* The d= form of domain in (RFC 6376 §3.5 and RFC 8616 §4: A-labels):
 * U-labels converted, ASCII lowercased, into out (DKIM_DOMAIN_MAX + 1
 * octets). 0, or -1 when it is no domain DKIM can sign for. */
int dkim_domain_ascii(const char *in, char out[DKIM_DOMAIN_MAX + 1]);

/* ---- Canonicalization (dkim_canon.c) ---- */

/*
 * Incremental relaxed body canonicalization (RFC 6376 §3.4.4) into
 * SHA-256: white space at line ends is dropped, runs of SP/HTAB become
 * one SP, empty lines at the end are dropped, and a non-empty body gets a
 * final CRLF. Bare LF counts as CRLF. The result does not depend on how
 * the input is split across calls.
 */
struct dkim_body {
	struct sha256 sha; /* core/sha256: the CPU's SHA extensions where it has them */
	uint64_t length; /* canonical octets so far (and pending), l= or not */
	uint64_t limit;  /* octets hashed at most (a verified l=); UINT64_MAX */
	uint8_t simple;  /* simple body canonicalization (§3.4.3), verifier only */
	uint64_t crlfs;  /* line ends held back until content follows */
	uint8_t wsp;     /* white space held back (becomes one SP before content) */
	uint8_t cr;      /* a CR held back: a line end if LF follows */
	uint8_t any;     /* some content seen: the body is not empty */
	unsigned olen;
	unsigned char out[512]; /* canonical octets not yet hashed */
	/* Optional: when set, the canonical octets are appended here too
	 * (tests, debugging); an append failure is ignored. Not owned. */
	struct buf *tee;
};

void dkim_body_init(struct dkim_body *b);
/* The same for simple body canonicalization (§3.4.3): octets as they are,
 * empty lines at the end dropped, and the body ends in exactly one CRLF
 * (an empty body is one CRLF). Bare LF counts as CRLF here too. The caller
 * may set b->limit after either init (l=); length still counts on. */
void dkim_body_init_simple(struct dkim_body *b);
/* Feeds n octets of the body (the octets after the empty line). */
void dkim_body_update(struct dkim_body *b, const void *p, size_t n);
/* Ends the body and writes its SHA-256 (the bh= value, binary). */
void dkim_body_final(struct dkim_body *b, uint8_t hash_r[32]);

/*
 * The body hashers of one message, shared by the verifiers that read it
 * (DKIM's and ARC's at the end of DATA): one per body canonicalization and
 * l= limit, whichever verifier's signature asked for it, so a body that a
 * DKIM-Signature and an ARC-Message-Signature both cover is hashed once.
 * Each verifier feeds the body from its first octet, as it reads it; a
 * hasher takes only the octets it has not had yet (it counts them), so
 * whichever verifier is ahead does the hashing and the other's feed is a
 * comparison. Every verifier must be given the same octets. The hash is
 * finished once, on the first ask, when every feed is in.
 * DKIM_BODIES_MAX is DKIM's signatures plus ARC's hashers (16 + 8): a
 * shared set never runs out.
 */
#define DKIM_BODIES_MAX 24

struct dkim_bodies {
	struct dkim_body b[DKIM_BODIES_MAX];
	uint64_t fed[DKIM_BODIES_MAX]; /* body octets each hasher has taken */
	uint8_t hash[DKIM_BODIES_MAX][32];
	uint8_t done[DKIM_BODIES_MAX]; /* hash[] is final */
	size_t n;
};

/* An empty set (nothing else needs zeroing: a hasher is set up when
 * made). */
void dkim_bodies_init(struct dkim_bodies *s);
/* The hasher for (simple, limit) in s, made when new: its index, or -1
 * when s is full. */
int dkim_bodies_want(struct dkim_bodies *s, int simple, uint64_t limit);
/* Feeds the body octets [at, at + n) to every hasher of s that has had the
 * octets before at but not all of these. */
void dkim_bodies_feed(struct dkim_bodies *s, uint64_t at, const void *p, size_t n);
/* Hasher i's bh= value (finished on the first call). */
const uint8_t *dkim_bodies_hash(struct dkim_bodies *s, int i);

/*
 * Relaxed header canonicalization (RFC 6376 §3.4.2) of one header field
 * given raw (name, colon, value with its folds; the final line end may be
 * present or not): appends "lowercased-name:value\r\n" to out, where folds
 * are removed, each run of SP/HTAB is one SP, and white space around the
 * colon and at the end is gone. Returns 0, or -1 when the field has no
 * valid name (dkim_field_name) or out is full; out is then unchanged.
 */
int dkim_canon_header(struct str field, struct buf *out);
/* Simple header canonicalization (§3.4.1): the field as it is, each bare
 * LF turned into CRLF, then CRLF. Returns 0, or -1 when out is full (out
 * is then unchanged). */
int dkim_canon_header_simple(struct str field, struct buf *out);

/*
 * Splits a header section (as kept by the signer: everything before the
 * empty line) into fields. Starting at *pos, returns 1 and the next field
 * in *field_r — its first line and every following line that begins with
 * SP or HTAB, without the final line end — and advances *pos; returns 0 at
 * the end. Lines that begin with SP/HTAB at the very start are returned as
 * a field of their own (with no usable name).
 */
int dkim_header_next(struct str section, size_t *pos, struct str *field_r);

/* The name of a raw field: the octets before the first colon without
 * trailing white space; STR_NULL when there is no colon or the name is
 * empty or not printable ASCII without spaces (RFC 5322 ftext). */
struct str dkim_field_name(struct str field);

/*
 * The header section of a message streaming in (signer and verifier):
 * octets up to the empty line (CRLF CRLF, or a bare LF where a line
 * starts) are kept in buf, at most DKIM_HEADER_MAX; the empty line itself
 * is not kept.
 */
struct dkim_head {
	struct buf buf;
	uint8_t hl;     /* line state: 0 line start, 1 CR at line start, 2 in a line */
	uint8_t done;   /* the empty line was seen: what follows is body */
	uint8_t toobig; /* the section passed DKIM_HEADER_MAX (buf is then partial) */
};

void dkim_head_init(struct dkim_head *h);
/* Takes header octets; returns how many were used: all of n, or fewer when
 * the empty line ended the section (done is then set and the rest is
 * body). Nothing is used once done. */
size_t dkim_head_feed(struct dkim_head *h, const void *p, size_t n);
/* The message ended inside the header section: keeps a last lone CR. */
void dkim_head_finish(struct dkim_head *h);
void dkim_head_free(struct dkim_head *h);

/* ---- Signing (dkim_sign.c) ---- */

enum dkim_signer_state { DKIM_SIGNER_HEAD, DKIM_SIGNER_BODY, DKIM_SIGNER_DONE };

struct dkim_signer {
	const struct dkim_keys *keys; /* not owned; must live until final */
	char domain[DKIM_DOMAIN_MAX + 1];
	int64_t now;
	enum dkim_signer_state state;
	int error;       /* first error, sticky (DKIM_ETOOBIG) */
	struct dkim_head head;
	struct dkim_body body;
};

/*
 * Starts signing a message for domain (d=, lowercased) with every key of
 * keys, timestamped now (t=). keys must stay valid and unchanged until
 * dkim_signer_final(). Returns DKIM_OK, or DKIM_EINVAL when the domain or
 * a key's selector is not valid or keys is empty (nothing to clear then).
 */
int dkim_signer_init(struct dkim_signer *s, const struct dkim_keys *keys, const char *domain,
                     int64_t now);
/*
 * Feeds the next n octets of the message (header section, empty line,
 * body) in its CRLF form. Returns DKIM_OK; DKIM_ETOOBIG once the header
 * section passed DKIM_HEADER_MAX (sticky: later calls and final return it
 * too); DKIM_EINVAL after final or a failed init.
 */
int dkim_signer_update(struct dkim_signer *s, const void *p, size_t n);
/*
 * Ends the message and appends one "DKIM-Signature: ...\r\n" field per key
 * to out, in the order of the keys, folded to lines of at most 78 octets.
 * A message without an empty line is all header section, with an empty
 * body. Frees the signer's memory (dkim_signer_clear is then a no-op).
 * Returns DKIM_OK; DKIM_ETOOBIG (header section too big, or out full:
 * out is left as it was); DKIM_ECRYPTO (signing failed, damaged key).
 */
int dkim_signer_final(struct dkim_signer *s, struct buf *out);
/* Frees a signer abandoned before final (safe after final too). */
void dkim_signer_clear(struct dkim_signer *s);

/* How a signature field is written: a DKIM-Signature, or an ARC-Message-
 * Signature (RFC 8617 §4.1.2), which is one under another name. */
struct dkim_sig_form {
	const char *name;      /* "DKIM-Signature" / "ARC-Message-Signature" (under 38 octets) */
	const char *first_tag; /* written first: "v=1;" / "i=N;" */
	uint8_t arc;           /* also sign the DKIM-Signature fields present */
};

/*
 * The signing core under dkim_signer_final: signs the header section
 * (everything before the empty line) and the body hash bh (relaxed, as
 * dkim_body computes it) with each of the nkeys keys, d=domain (valid,
 * lowercase), t=now, and appends one field per key, folded, each ending in
 * CRLF. Returns as dkim_signer_final (DKIM_EINVAL for a bad form).
 */
int dkim_sign_section(const struct dkim_key *keys, unsigned nkeys, const char *domain,
                      int64_t now, struct str section, const uint8_t bh[32],
                      const struct dkim_sig_form *form, struct buf *out);

/*
 * One-shot form: signs the len octets at msg with every key of keys and
 * appends the DKIM-Signature fields to out. Same returns as init + final.
 */
int dkim_sign(const struct dkim_keys *keys, const char *domain, const char *msg, size_t len,
              int64_t now, struct buf *out);

#endif
