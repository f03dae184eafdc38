/*
 * sasl.h — shared SASL helpers: strict base64 and the PLAIN message split.
 *
 * Everything works on caller memory: decoded output goes to a caller
 * buffer with a size, slices point into the caller's message. Nothing
 * allocates and nothing logs (the input holds passwords).
 */
#ifndef TERN_AUTH_SASL_H
#define TERN_AUTH_SASL_H

#include <stddef.h>

#include "core/str.h"

/*
 * Decodes standard base64 with padding (RFC 4648 §4), no white space, into
 * out (size outsz). Returns 0 and *len_r, or -1 on a bad character, bad
 * padding, non-zero trailing bits, or when the result would exceed outsz.
 */
int sasl_base64_decode(struct str in, char *out, size_t outsz, size_t *len_r);
/* Encodes n octets into out (NUL-terminated); -1 when outsz is too small. */
int sasl_base64_encode(const void *p, size_t n, char *out, size_t outsz);

/*
 * Splits a SASL PLAIN message "authzid NUL authcid NUL passwd" (RFC 4616).
 * Returns 0 with the three slices (into msg), or -1 when the NUL count is
 * not exactly two or authcid is empty.
 */
int sasl_plain_split(struct str msg, struct str *authzid_r, struct str *authcid_r,
		    struct str *passwd_r);

#endif
