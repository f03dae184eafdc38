/*
 * acme_ari.h — ACME Renewal Information (RFC 9773): the identifier a CA
 * knows a certificate by, and the renewal window it suggests; when the
 * renewal runs.
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
 * Unix times, and the optional "explanationURL" into explain (for the
 * operator, never fetched; "" when absent, not a string or longer than
 * explainsz - 1). 0, or -1 (missing, malformed, end before start).
 */
int acme_ari_window(const char *body, size_t len, int64_t *start_r, int64_t *end_r,
                    char *explain, size_t explainsz);

/*
 * When to renew, given the CA's suggested window [start, end] (Unix
 * times), rnd (a random number: RFC 9773 §4.2's uniformly random moment
 * in the window), planned (the time the renewal is set for now) and
 * not_before (the failure back-off: no attempt before it; 0 none).
 * Returns the new time, never later than planned: ARI only moves a
 * renewal earlier. A time in the past means at once.
 */
int64_t acme_ari_renew_at(int64_t start, int64_t end, uint32_t rnd, int64_t planned,
                          int64_t not_before);

/*
 * The least time between installing a certificate valid [nb, na) and the
 * next renewal attempt: a tenth of its lifetime, at most ACME_HOLD_MAX.
 * A CA that issues certificates already due (an old notBefore, or a clock
 * behind the CA's), or whose renewal information says "now" for a fresh
 * one, would otherwise get a new order at once after each, forever.
 */
#define ACME_HOLD_MAX (6 * 3600)
int64_t acme_renew_hold(int64_t nb, int64_t na);

/* The longest the renewal timer sleeps before it reads the clock again. */
#define ACME_RENEW_RECHECK 86400

/*
 * Seconds the renewal timer sleeps at now (Unix time) before the renewal
 * planned at planned: 0 when it is due, else the time left, at most
 * ACME_RENEW_RECHECK. The loop's timers count monotonic time, and the
 * wall clock may be set or jump meanwhile: waking at least daily and
 * comparing with the wall clock renews neither early nor much late.
 */
unsigned acme_renew_wait(int64_t now, int64_t planned);

/*
 * Seconds before poll number n (0 the first) of an authorization or
 * order still pending or processing, or before a request retried after
 * a 5xx; retry_after is the CA's Retry-After (0 or less: none). The
 * CA's value is honoured (RFC 8555 §7.5.1, §8.2), at most
 * ACME_POLL_RETRY_MAX (a CA's "come back tomorrow" would hold the
 * attempt, and tern acme renew, that long). Without one the wait
 * doubles from 1 s up to ACME_POLL_BACKOFF_MAX, so a slow CA is
 * neither hammered every second nor given up on after a minute.
 */
#define ACME_POLL_RETRY_MAX 600
#define ACME_POLL_BACKOFF_MAX 30
unsigned acme_poll_wait(long retry_after, unsigned n);

/* An RFC 3339 date-time ("2025-01-02T03:04:05Z", fractions and offsets allowed). 0 or -1. */
int acme_rfc3339(const char *s, int64_t *t_r);

#endif
