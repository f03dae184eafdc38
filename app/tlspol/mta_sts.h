/*
 * mta_sts.h — MTA-STS (RFC 8461) as data: the `_mta-sts` TXT record, the
 * policy file served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt,
 * and whether an MX host name matches a policy.
 *
 * Design. Pure parsers with no I/O, so the fetching side (the outbound
 * queue) and the serving side share one reading of the format and both
 * are fuzzed. A policy is copied into a bounded struct (at most
 * MTA_STS_MX_MAX patterns), so it can be cached without the fetched text.
 *
 * Caveats: a policy with more mx lines than MTA_STS_MX_MAX is refused
 * rather than cut (a cut list could refuse a legitimate MX in enforce
 * mode; the fetcher then treats the domain as having no usable policy).
 */
#ifndef TERN_TLSPOL_MTA_STS_H
#define TERN_TLSPOL_MTA_STS_H

#include <stddef.h>
#include <stdint.h>

#define MTA_STS_ID_MAX 32         /* RFC 8461 §3.1: 1*32(ALPHA / DIGIT) */
#define MTA_STS_MX_MAX 16
#define MTA_STS_HOST_MAX 253
#define MTA_STS_MAX_AGE_MAX 31557600u /* §3.2: about a year */
#define MTA_STS_POLICY_MAX 65536      /* §3.3: a fetched body larger is refused */

enum mta_sts_mode { MTA_STS_NONE, MTA_STS_TESTING, MTA_STS_ENFORCE };

struct mta_sts_policy {
	enum mta_sts_mode mode;
	uint32_t max_age; /* seconds */
	size_t nmx;
	char mx[MTA_STS_MX_MAX][MTA_STS_HOST_MAX + 1]; /* lower case; "*.x" wildcards */
};

/*
 * The TXT record ("v=STSv1; id=20160831085700Z;"): 1 and the id copied
 * into id (MTA_STS_ID_MAX + 1 bytes) when it is a valid STSv1 record,
 * else 0. Unknown fields are ignored (§3.1).
 */
int mta_sts_txt_parse(const char *p, size_t n, char id[MTA_STS_ID_MAX + 1]);
/*
 * 1 when the TXT text p[0..n) begins with version ("v=STSv1", or RFC
 * 8460's "v=TLSRPTv1") followed by its end, ';' or white space: a record
 * of that kind, valid or not. 0 for another kind ("v=spf1", "v=STSv10").
 */
int mta_sts_txt_versioned(const char *p, size_t n, const char *version);
/* The one text of texts[0..n) (NUL-ended) of that version, valid or not;
 * NULL when none is, or more than one (RFC 8461 §3.1 and RFC 8460 §3:
 * more than one record of the kind means none). */
const char *mta_sts_txt_only(const char *const *texts, size_t n, const char *version);
/*
 * The policy id a domain's _mta-sts TXT answer texts[0..n) (NUL-ended)
 * gives (§3.1): records not beginning with "v=STSv1" are skipped; of the
 * rest there must be exactly one, and it must be valid, else the domain
 * has no policy. 1 with id filled, else 0.
 */
int mta_sts_txt_pick(const char *const *texts, size_t n, char id[MTA_STS_ID_MAX + 1]);

/*
 * The policy body: 0 and *pol filled when valid (version STSv1, a mode,
 * a max_age, and at least one mx unless the mode is none), else -1 with
 * a short reason in why (may be NULL). Lines end in LF or CRLF; unknown
 * keys are ignored; for keys other than mx, the first occurrence counts.
 */
int mta_sts_policy_parse(const char *p, size_t n, struct mta_sts_policy *pol, const char **why);

/* 1 when host (any case, a trailing dot allowed) matches one of the policy's mx patterns (§4.1). */
int mta_sts_mx_match(const struct mta_sts_policy *pol, const char *host);

/*
 * Our own policy for every served domain (mail for them comes to
 * hostname), in mode (testing by default, so a certificate problem here
 * makes senders report rather than hold mail; enforce when the admin
 * chooses it); max_age one day. Written into out; its id for the
 * _mta-sts TXT record (changes when the text does) in id.
 */
#define MTA_STS_OWN_MAX 400
void mta_sts_own_policy(const char *hostname, enum mta_sts_mode mode, char out[MTA_STS_OWN_MAX],
			char id[MTA_STS_ID_MAX + 1]);

/* "enforce", "testing" or "none". */
const char *mta_sts_mode_name(enum mta_sts_mode m);

#endif
