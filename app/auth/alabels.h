/*
 * alabels.h — a domain name with its U-labels as A-labels, for the
 * checks that look a domain up in the DNS: DMARC's Author Domain (RFC
 * 7489 §3.2: the policy is published at the A-label name; a From written
 * in UTF-8 must find it) and SPF's sender domain (RFC 8616 §4: an
 * SMTPUTF8 MAIL FROM is checked at its A-labels).
 *
 * A U-label is lowercased first (Unicode's simple mapping, core/ucase.h),
 * as an ASCII label is: a capital letter changes the Punycode, and
 * BÄNK.example must find bänk.example's records (and be the same domain
 * as it) as EXAMPLE finds example's. Caveats: no other UTS #46 mapping
 * or normalisation (core/punycode.h).
 */
#ifndef TERN_AUTH_ALABELS_H
#define TERN_AUTH_ALABELS_H

#include <stddef.h>

/*
 * d with every label lowercased and each non-ASCII one as its A-label,
 * NUL-terminated into out (outsz octets). 0, or -1 when a label has no
 * A-label (ill-formed UTF-8, too long, empty) or the name does not fit.
 */
int auth_domain_alabels(const char *d, char *out, size_t outsz);

#endif
