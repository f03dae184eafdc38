/*
 * saslprep.h — SASLprep (RFC 4013), the stringprep (RFC 3454) profile
 * SCRAM (RFC 5802 §2.2's Normalize) applies to a password before
 * deriving its keys, so that a client that normalises (Cyrus libsasl,
 * python-scramp, every SCRAM library) and the server derive the same
 * SaltedPassword from a password typed with a soft hyphen, an em space
 * or a compatibility character.
 *
 * Design. The steps of RFC 4013 §2 on well-formed UTF-8: map table B.1
 * to nothing and C.1.2 (non-ASCII spaces) to U+0020 (§2.1), NFKC (§2.2:
 * core/unorm.h's NFKD then NFC, the one normaliser), refuse the
 * prohibited output of §2.3 (C.1.2, C.2.1, C.2.2, C.3 to C.9) and the
 * unassigned code points, as RFC 5802 §2.2 asks for a "stored string"
 * (RFC 3454 §7), and apply the bidi rule of RFC 3454 §6 (§2.4). The
 * B.1 and C tables are short and listed in saslprep.c with their
 * appendix numbers; the bidi categories and what is assigned come from
 * the tables gen-unorm makes (unorm_bidi_class).
 *
 * Caveats. RFC 3454 fixes Unicode 3.2; the tables here are of the
 * Unicode version the tree's icu source ships. NFKC is stable for
 * characters Unicode 3.2 had, so a password of those prepares alike
 * either way; a character assigned since 3.2 is taken here where a
 * strict 3.2 client (python's stringprep) refuses it, and a bidi
 * category that changed since follows the newer table. core/unorm
 * leaves a segment past UNORM_SEGMENT_MAX code points (a base with
 * dozens of combining marks) as it is: a text whose preparation is not
 * a fixed point (prepared again, it changes) is refused. Preparing
 * allocates (up to about 0.5 MiB for the longest input) and wipes what
 * it allocated.
 */
#ifndef TERN_CORE_SASLPREP_H
#define TERN_CORE_SASLPREP_H

#include <stddef.h>

/* Inputs past this many octets are refused (a password is at most
 * PASSWORD_MAX_BYTES, auth/password_policy.h). */
#define SASLPREP_IN_MAX 1024
/* Room for the prepared text of any input saslprep() takes: NFKC grows
 * a text at most UNORM_KD_GROWTH times. */
#define SASLPREP_OUT_MAX (SASLPREP_IN_MAX * 11 + 1)

/*
 * SASLprep of in[0..n) as a stored string into out (outsz octets),
 * NUL-terminated, its length in *len_r. 0, or -1 when in is not
 * well-formed UTF-8, holds a NUL, is longer than SASLPREP_IN_MAX, prepares
 * to a prohibited or unassigned code point, fails the bidi rule, prepares
 * to the empty string or to a text that prepares differently again, or
 * does not fit (out is then "").
 */
int saslprep(const char *in, size_t n, char *out, size_t outsz, size_t *len_r);

#endif
