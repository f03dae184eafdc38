/*
 * dns_check.h — live check of the records a domain should publish, through
 * dns_query() (TERN_DNS_SERVERS, else /etc/resolv.conf): the resolver,
 * reply parser and cache the rest of tern uses.
 *
 * Waits: runs every query of the list in parallel on a private event loop
 * and returns when all answered or DNS_CHECK_TIMEOUT_MS passed. Call it
 * from a thread that may wait, never from a mail loop: the API runs it on
 * an http_defer thread, its request suspended, so no daemon thread waits
 * with it (at most HTTP_DEFER_MAX at once; past that, inline). Answers are asked fresh
 * (DNS_QUERY_FRESH), not taken from the cache: the user may have just
 * fixed a record.
 */
#ifndef TERN_HTTP_DNS_CHECK_H
#define TERN_HTTP_DNS_CHECK_H

#include "admin/admin_domain.h"

#define DNS_CHECK_TIMEOUT_MS 8000
#define DNS_CHECK_FOUND_MAX 4

enum dns_check_status { DNS_CHECK_FOUND, DNS_CHECK_MISSING, DNS_CHECK_DIFFERENT, DNS_CHECK_ERROR };

struct dns_result {
	enum dns_check_status status;
	int nfound;
	char found[DNS_CHECK_FOUND_MAX][ADMIN_DNS_VALUE_MAX]; /* values seen (other than expected) */
};

/* Checks each record of d; res has d->n entries. servers may be "" . */
void dns_check(const struct admin_dns *d, const char *servers, struct dns_result *res);

const char *dns_status_name(enum dns_check_status s);

/* Ends every check under way (its unanswered records: "timeout") and makes
 * later ones end at once: the server is stopping. Any thread. */
void dns_check_stop_all(void);

/* ---- The comparison (dns_check_compare.c: no c-ares, fuzzed) ---- */

/*
 * Takes one value seen in DNS for rec ("prio host." for MX, "prio weight
 * port host." for SRV, "host." for CNAME, the joined text for TXT; any
 * NUL-terminated string): once a value matched, res stays
 * DNS_CHECK_FOUND; else a match sets DNS_CHECK_FOUND and clears
 * res->found, and a value of the same kind sets DNS_CHECK_DIFFERENT and is
 * noted in res->found.
 */
void dns_check_compare(const struct admin_dns_record *rec, struct dns_result *res,
		       const char *seen);
/* Copies name in into out (size outsz > 0, truncating), lowercased, without trailing dots. */
void dns_check_canon(const char *in, char *out, size_t outsz);
/* Adds v (truncated) to r->found when there is room. */
void dns_check_note_found(struct dns_result *r, const char *v);

#endif
