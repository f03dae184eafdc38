/*
 * tlsrpt.h — SMTP TLS Reporting (RFC 8460) as data: the `_smtp._tls` TXT
 * record of a policy domain, and the JSON report a sender writes for it.
 *
 * Design. Pure functions, no I/O, as mta_sts.h and tlsa.h: the queue (to
 * come) counts each outbound TLS outcome per policy domain, and the daily
 * reporter fills a struct tlsrpt_report and renders it here; the record
 * parser tells it where the report goes (rua: mailto: or https: URIs).
 * The JSON follows RFC 8460 §4.4 field for field (names, nesting, the
 * RFC 3339 UTC date-times), written with http/json.h's writer.
 *
 * Caveats: the first TLSRPT_RUA_MAX usable rua URIs are kept, the rest
 * skipped (the record stays valid); a report carries at most TLSRPT_POLICIES_MAX policies
 * and TLSRPT_FAILURES_MAX failure-details each (the caller aggregates).
 */
#ifndef TERN_TLSPOL_TLSRPT_H
#define TERN_TLSPOL_TLSRPT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define TLSRPT_RUA_MAX 4
#define TLSRPT_URI_MAX 512

struct tlsrpt_record {
	size_t nrua;
	char rua[TLSRPT_RUA_MAX][TLSRPT_URI_MAX + 1]; /* "mailto:..." or "https://..." */
};

/*
 * The TXT record ("v=TLSRPTv1; rua=mailto:tlsrpt@example.com"): 0 and *r
 * filled when it is a valid TLSRPTv1 record with at least one mailto: or
 * https: URI (§3; URIs of other schemes are skipped, extension fields
 * ignored), else -1.
 */
int tlsrpt_txt_parse(const char *p, size_t n, struct tlsrpt_record *r);
/*
 * The record a domain's _smtp._tls TXT answer texts[0..n) (NUL-ended)
 * gives (§3): records not beginning with "v=TLSRPTv1" are skipped; of
 * the rest there must be exactly one, and valid, else the domain has
 * none. 0 with *r filled, else -1.
 */
int tlsrpt_txt_pick(const char *const *texts, size_t n, struct tlsrpt_record *r);

/* Policy types (§4.4 "policy-type"). */
enum tlsrpt_policy_type { TLSRPT_STS, TLSRPT_TLSA, TLSRPT_NO_POLICY };

/* Result types (§4.3), in the RFC's spelling via tlsrpt_result_name(). */
enum tlsrpt_result {
	TLSRPT_STARTTLS_NOT_SUPPORTED,
	TLSRPT_CERTIFICATE_HOST_MISMATCH,
	TLSRPT_CERTIFICATE_EXPIRED,
	TLSRPT_CERTIFICATE_NOT_TRUSTED,
	TLSRPT_VALIDATION_FAILURE,
	TLSRPT_TLSA_INVALID,
	TLSRPT_DNSSEC_INVALID,
	TLSRPT_DANE_REQUIRED,
	TLSRPT_STS_POLICY_FETCH_ERROR,
	TLSRPT_STS_POLICY_INVALID,
	TLSRPT_STS_WEBPKI_INVALID,
};

#define TLSRPT_POLICIES_MAX 8
#define TLSRPT_FAILURES_MAX 16
#define TLSRPT_POLICY_STRINGS_MAX 20

struct tlsrpt_failure {
	enum tlsrpt_result result;
	char sending_mta_ip[48];
	char receiving_mx_hostname[256];
	char receiving_ip[48];        /* "" when not known */
	uint64_t failed_session_count;
	/* RFC 8460 §4.4: additional-information is a URI pointing at more
	 * (tern sends none), failure-reason-code the error in words. */
	char additional_information[256]; /* "" none */
	char failure_reason_code[256];    /* "" none */
};

struct tlsrpt_policy {
	enum tlsrpt_policy_type type;
	char domain[256];
	/* The policy as strings: MTA-STS lines, or TLSA records in presentation form. */
	const char *strings[TLSRPT_POLICY_STRINGS_MAX];
	size_t nstrings;
	const char *mx_hosts[TLSRPT_POLICY_STRINGS_MAX]; /* MTA-STS mx patterns */
	size_t nmx;
	uint64_t successful, failed;
	struct tlsrpt_failure failures[TLSRPT_FAILURES_MAX];
	size_t nfailures;
};

struct tlsrpt_report {
	const char *organization; /* "organization-name" */
	const char *contact;      /* "contact-info" */
	const char *report_id;
	int64_t start, end;       /* seconds since the epoch, UTC */
	struct tlsrpt_policy policies[TLSRPT_POLICIES_MAX];
	size_t npolicies;
	unsigned flags; /* TLSRPT_REPORT_* (a received report) */
};

/* A text field of a received report (organization-name, contact-info,
 * report-id) was longer than kept and was cut (tlsrpt_in.h). */
#define TLSRPT_REPORT_CUT 0x1u

/* "starttls-not-supported", ... */
const char *tlsrpt_result_name(enum tlsrpt_result r);
/* "sts", "tlsa", "no-policy-found". */
const char *tlsrpt_policy_type_name(enum tlsrpt_policy_type t);

/*
 * Adds a failure of result r, n sessions, to p's details: returns its new
 * entry (result and count set, the rest "") for the caller to fill, or
 * NULL when p was full (TLSRPT_FAILURES_MAX) and the count joined an
 * entry of the same result type. Full with none of that type, two
 * entries of one type are merged to make room (there are fewer result
 * types than entries), so every type's count stays its own.
 */
struct tlsrpt_failure *tlsrpt_failure_add(struct tlsrpt_policy *p, enum tlsrpt_result r,
					  uint64_t n);

/*
 * Appends the report as RFC 8460 §4.4 JSON to out. 0, or -1 when out's
 * maximum was reached (out then holds a partial text).
 */
int tlsrpt_report_json(const struct tlsrpt_report *r, struct buf *out);

#endif
