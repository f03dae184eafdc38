/*
 * srs.h — the Sender Rewriting Scheme: the envelope sender of a message
 * tern forwards to an outside address is rewritten into one of our own
 * domains, so SPF passes at the next hop, and a bounce to the rewritten
 * address can be sent back to the original sender.
 *
 * Design. The address forms are those of the SRS paper (Shevek, 2004)
 * as libsrs2 and postsrsd write them:
 *
 *   SRS0=HHHHHH=TT=orig.domain=orig-local@our.domain
 *   SRS1=HHHHHH=first.forwarder==HHHHHH=TT=orig.domain=orig-local@our.domain
 *
 * SRS0 is a first rewrite: TT is the day (days since the epoch modulo
 * 1024, two base32 letters) and HHHHHH a keyed hash of TT, the original
 * domain and local part. A sender that already is an SRS0 address of
 * another forwarder becomes SRS1 (and an SRS1 stays SRS1 with our hash),
 * naming the first forwarder, so a bounce goes straight back to it and
 * the address does not grow at every hop. The separator right after
 * "SRS0"/"SRS1" may be '=', '+' or '-' on input; we write '='.
 *
 * The hash is HMAC-SHA-256 over the lowercased fields (NUL between them,
 * so field boundaries cannot be shifted), URL-safe base64, its first six
 * characters. Comparison ignores case, as libsrs2's does, because some
 * MTAs change the case of local parts; six characters (libsrs2's default
 * is four) keep about 30 bits of that. An SRS0 address is valid for
 * SRS_MAX_AGE_DAYS days (postsrsd's 21). An SRS1 carries no timestamp of
 * ours: the first forwarder checks its own.
 *
 * The key is the caller's (server: admin_secret_derive() of the data
 * directory's secrets.key, so it survives restarts and is never in the
 * store). Everything here is pure: no I/O, no clock (now is given).
 *
 * Caveats: only dot-atom local parts are rewritten (a quoted local part
 * would need quoting inside ours): srs_forward() refuses others and the
 * caller keeps the sender. Addresses are ASCII; an SMTPUTF8 local part is
 * rewritten byte for byte and compared byte for byte outside ASCII.
 */
#ifndef TERN_FORWARD_SRS_H
#define TERN_FORWARD_SRS_H

#include <stddef.h>
#include <stdint.h>

#define SRS_KEY_BYTES 32
#define SRS_HASH_LEN 6
#define SRS_MAX_AGE_DAYS 21
/* Longest address written or read (the queue's and RFC 5321's path limit). */
#define SRS_ADDR_MAX 320

/* Results. */
#define SRS_OK 0
#define SRS_NOT_SRS 1     /* srs_reverse: not an SRS address at all */
#define SRS_EINVAL (-1)   /* malformed address, or one srs_forward cannot rewrite */
#define SRS_EHASH (-2)    /* SRS address whose hash is not ours */
#define SRS_EEXPIRED (-3) /* SRS0 address older than the validity window */
#define SRS_ETOOLONG (-4) /* the result would not fit (out or SRS_ADDR_MAX) */

struct srs {
	uint8_t key[SRS_KEY_BYTES];
	unsigned max_age_days; /* 0 = SRS_MAX_AGE_DAYS */
};

/*
 * The parts of an SRS local part, as slices into it (not NUL-terminated).
 * SRS0: hash, stamp, domain and local set, host empty.
 * SRS1: hash and host set; rest is what follows host's '=' (it starts
 * with the separator of the inner SRS0, e.g. "=HHHHHH=TT=d=l").
 */
struct srs_parts {
	int kind; /* 0 or 1 */
	const char *hash, *stamp, *domain, *local, *host, *rest;
	size_t hash_len, stamp_len, domain_len, local_len, host_len, rest_len;
};

/*
 * Splits local part lp (len octets, not NUL-terminated) of an SRS address.
 * Returns SRS_OK with *p filled, SRS_NOT_SRS when lp does not start with
 * "SRS0" or "SRS1" (any case) and a separator, or SRS_EINVAL when it does
 * but the fields are missing or empty. Checks no hash.
 */
int srs_parse(const char *lp, size_t len, struct srs_parts *p);

/*
 * Rewrites sender ("local@domain", NUL-terminated) for forwarding through
 * our domain fwd_domain on day now (seconds since the epoch) into out
 * (outsz octets, NUL-terminated). An SRS0 or SRS1 sender of another
 * forwarder becomes SRS1. Returns SRS_OK, SRS_EINVAL (no '@', empty part,
 * a local part that is not a dot-atom, an SRS sender that does not parse)
 * or SRS_ETOOLONG; out is "" on failure. out must not overlap sender.
 */
int srs_forward(const struct srs *s, const char *sender, const char *fwd_domain, int64_t now,
		char *out, size_t outsz);

/*
 * Reverses addr (an SRS address at one of our domains, NUL-terminated)
 * into the address a bounce must go to: the original sender for SRS0,
 * the first forwarder's SRS0 address for SRS1. Returns SRS_OK,
 * SRS_NOT_SRS (out ""), SRS_EINVAL, SRS_EHASH, SRS_EEXPIRED or
 * SRS_ETOOLONG; out is "" on any failure. out must not overlap addr.
 */
int srs_reverse(const struct srs *s, const char *addr, int64_t now, char *out, size_t outsz);

/* A short name for a result, for logs ("ok", "bad_hash", "expired", ...). */
const char *srs_result_name(int rc);

#endif
