/*
 * punycode.h — Punycode (RFC 3492), the encoding of IDN labels in their
 * ASCII form ("xn--" + Punycode): decoding for the spam filter's look-alike
 * checks, encoding for the Public Suffix List's lookups of Unicode labels
 * (and its generator, scripts/gen-psl.c, which links this file) and for
 * DMARC's Author Domain (RFC 7489 §3.2: the A-label form is looked up).
 *
 * Pure functions on caller memory; nothing allocates.
 *
 * Caveats: this is the bare RFC 3492 transform of one label, without
 * "xn--". IDNA's mapping and normalisation (UTS #46) are not applied:
 * callers lowercase ASCII themselves.
 */
#ifndef TERN_CORE_PUNYCODE_H
#define TERN_CORE_PUNYCODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

/* The code points of in (one label's Punycode, after "xn--"), at most max
 * written to out. Returns the count; 0 when in is malformed, decodes to a
 * value past U+10FFFF or to more than max code points. */
size_t punycode_decode(struct str in, uint32_t *out, size_t max);

/* The Punycode of code points in[0..n) written to dst (dstsz octets, not
 * NUL-terminated, without "xn--"). Returns the length; 0 when it does not
 * fit in dstsz, n is 0, or a value is past U+10FFFF. */
size_t punycode_encode(const uint32_t *in, size_t n, char *dst, size_t dstsz);

#define PUNYCODE_LABEL_MAX 63 /* octets of a DNS label */

/*
 * The ASCII form of one label p[0..n) into out (PUNYCODE_LABEL_MAX octets,
 * not NUL-terminated): an ASCII label lowercased, else "xn--" and the
 * Punycode of its UTF-8 (ASCII letters lowercased, no other mapping; see
 * the caveats). Returns the length; 0 when there is none (bad UTF-8, or
 * over PUNYCODE_LABEL_MAX octets).
 */
size_t punycode_label_ascii(const char *p, size_t n, char *out);

/*
 * The other spelling of an internationalised domain (RFC 5890 §2.3.2.1:
 * an A-label and its U-label are one label): with a non-ASCII label, all
 * of them as A-labels ("bücher.test" -> "xn--bcher-kva.test"); else, with
 * an "xn--" label, those decoded to UTF-8 (only code points a U-label may
 * hold). Written NUL-terminated into dst; returns its length, 0 when d has
 * no other spelling, a label does not convert, or it does not fit in
 * dstsz. The result is not otherwise checked as a host name.
 */
size_t punycode_domain_other(struct str d, char *dst, size_t dstsz);

/*
 * An address (local@domain) whose domain has U-labels, with that domain in
 * A-labels: "user@bücher.test" -> "user@xn--bcher-kva.test", the same
 * address (RFC 5890 §2.3.2.1), one an ASCII envelope or header may carry.
 * Written NUL-terminated into dst; returns its length, 0 when addr is
 * ASCII already, has no '@', its local part is not ASCII (no ASCII form
 * exists, RFC 6530 §7.2), a label does not convert, or it does not fit.
 */
size_t punycode_address_ascii(const char *addr, char *dst, size_t dstsz);

#endif
