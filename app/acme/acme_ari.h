/*
 * acme_ari.h — ACME Renewal Information (RFC 9773): the identifier a CA
 * knows a certificate by, and the renewal window it suggests.
 *
 * Pure functions (unit tests, the fuzz target fuzz_acme_msg).
 */
#ifndef TERN_ACME_ACME_ARI_H
#define TERN_ACME_ACME_ARI_H

#include <stddef.h>
#include <stdint.h>

/*
 * The ARI certificate identifier of a DER certificate into out:
 * base64url(keyIdentifier of the Authority Key Identifier) "."
 * base64url(serial number octets). 0, or -1 (no AKI keyIdentifier, not
 * a certificate, out too small).
 */
int acme_ari_cert_id(const unsigned char *der, size_t len, char *out, size_t outsz);

/*
 * Reads {"suggestedWindow":{"start":T,"end":T}} (RFC 3339 times) into
 * Unix times. 0, or -1 (missing, malformed, end before start).
 */
int acme_ari_window(const char *body, size_t len, int64_t *start_r, int64_t *end_r);

/* An RFC 3339 date-time ("2025-01-02T03:04:05Z", fractions and offsets allowed). 0 or -1. */
int acme_rfc3339(const char *s, int64_t *t_r);

#endif
