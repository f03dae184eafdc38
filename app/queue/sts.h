/*
 * sts.h — the MTA-STS policy (RFC 8461) of a recipient domain, for the
 * outbound queue: the `_mta-sts` TXT lookup, the HTTPS fetch of the
 * policy, and its cache in the store.
 *
 * Design. A lookup asks dns_query() for `_mta-sts.DOMAIN` TXT (so the
 * record's TTL and negative answers are cached with every other lookup),
 * then reads the cached policy from the store (meta `mta-sts/DOMAIN`,
 * SCHEMA.md). RFC 8461 §5.1: a cached policy that has not passed its
 * max_age is used when the record is missing, unreadable, or carries the
 * id the policy was fetched under; a new or changed id (or no usable
 * cache) fetches https://mta-sts.DOMAIN/.well-known/mta-sts.txt over
 * TLS verified against net/anchors.h (acme/acme_http.h, the one HTTPS
 * client), accepted only as a 200 with text/plain that
 * tlspol/mta_sts.h parses. A fetch that fails falls back to a valid
 * cached policy, else to no policy (§3.3: deliver as if the domain had
 * none). Concurrent lookups of one domain share one fetch.
 *
 * The store is the cache: policies survive restarts, and a read is one
 * LMDB read transaction. A fetched policy is written with
 * store_meta_put() on the scheduler's loop (a short write transaction,
 * at most once per domain per max_age or id change).
 *
 * Refresh (RFC 8461 §5.1): a sweep on the same loop fetches each cached
 * policy again once half its max_age has passed (at most a day after its
 * fetch), even under the same id, so a policy in force does not lapse
 * while its host answers; a failed refresh keeps the cached one, tried
 * again at the next sweep. Policies past their expiry are deleted. The
 * sweep runs when the earliest refresh or expiry is due (at least hourly).
 *
 * The fetch is given 30 s (a sanitizer build reads a shorter one from
 * TERN_TEST_STS_FETCH_TIMEOUT_MS, for the tests). What TLS-RPT hears of
 * a failed one (RFC 8460 §4.3.2.2): a certificate refused,
 * sts-webpki-invalid; a 200 answer that is no valid policy (another
 * media type, too large, unparsable), sts-policy-invalid; no answer or
 * another status, sts-policy-fetch-error.
 *
 * The policy host may resolve to a private or loopback address: as
 * postfix-mta-sts-resolver and Stalwart do, no address is refused. The
 * request is a fixed GET, no redirect is followed, the answer must come
 * over TLS verified for mta-sts.DOMAIN against the public anchors (an
 * internal service does not hold such a certificate) and is never shown
 * to anyone; a domain's policy host inside a company network is a real
 * setup, and the mail itself goes to whatever address its MX has.
 *
 * Caveats: everything runs on the scheduler's loop (sts_init's). The
 * policy handed to the callback is valid during the call only.
 */
#ifndef TERN_QUEUE_STS_H
#define TERN_QUEUE_STS_H

#include <stdint.h>

#include "tlspol/mta_sts.h"
#include "tlspol/tlsrpt.h"

struct loop;
struct dns;
struct store;
struct sts_lookup;

/*
 * Sets the loop, resolver and store lookups use, and the HTTPS port of
 * policy hosts (443; TERN_MTA_STS_PORT in tests).
 */
void sts_init(struct loop *loop, struct dns *dns, struct store *st, uint16_t port);

/* Why a domain that publishes a policy has none in force (RFC 8460
 * §4.3.2.2's sts-* result types), for TLS-RPT. */
struct sts_fail {
	enum tlsrpt_result result;
	char info[256];
};

/*
 * pol: the domain's policy (mode testing or enforce), or NULL when it has
 * none that applies (no record and no cache, mode none, fetch failed
 * with nothing cached). source: "cache", "fetched" or "none", for logs.
 * fail: when pol is NULL because the fetch failed, why; else NULL. The
 * caller counts that failure for each session it then makes (TLS-RPT
 * wants the receiving MX host, which only the session knows). A failed
 * fetch that a cached policy covers is counted here, once, without a host.
 */
typedef void sts_cb(void *arg, const struct mta_sts_policy *pol, const char *source,
		    const struct sts_fail *fail);

/*
 * Starts the lookup of domain's policy; cb runs exactly once unless
 * sts_cancel() comes first. Returns a handle, or NULL when cb already ran
 * (an answer from the caches).
 */
struct sts_lookup *sts_lookup(const char *domain, sts_cb *cb, void *arg);
/* Stops a lookup: its callback will not run. */
void sts_cancel(struct sts_lookup *l);
/* Stops the sweep and its lookups (the scheduler's stop, before its resolver goes). */
void sts_stop(void);

/*
 * Reads a cached policy record (the meta value) into *pol, its id into id
 * and its expiry into *expires_r: 0, or -1 when malformed. Pure; the
 * cache's one reader, exposed for the unit test.
 */
int sts_record_parse(const char *p, size_t n, struct mta_sts_policy *pol,
		     char id[MTA_STS_ID_MAX + 1], int64_t *expires_r);

#endif
