/*
 * spam_dnsbl.h — DNS blocklists: the client address against IP lists
 * (Spamhaus ZEN, SpamCop style) and domains against domain lists
 * (Spamhaus DBL, URIBL style), each listing a weight in the spam score.
 *
 * Design. The administrator's zones are text, one zone a line:
 *
 *   ZONE [WEIGHT] [ADDR[-ADDR]=WEIGHT ...]
 *
 * "bl.spamcop.net 2": any listing answer counts 2. "zen.spamhaus.org
 * 127.0.0.2-127.0.0.3=4 127.0.0.10-127.0.0.11=1.5": only those return
 * codes count, each with its weight (several records: the highest). '#'
 * starts a comment. A listing answer is an A record inside 127.0.0.0/8;
 * whatever else comes back never counts: 127.255.255.0/24 is how
 * Spamhaus says "error" or "query refused" (a public resolver, over the
 * free limit), an address outside 127/8 is a resolver that invents
 * answers, and NXDOMAIN, NODATA and failures are "not listed". A rule
 * fires per zone: RBL_<ZONE> or URIBL_<ZONE> (upper case, dots as '_').
 *
 * The lookups of one message run in parallel on the loop's resolver
 * (dns_resolver.h, so unit tests answer from a table) and share the
 * process-wide DNS cache; each answer is at most one A lookup.
 *
 * Caveats: private addresses (RFC 1918, RFC 4193, link-local) are never
 * sent to a list: nobody lists them and the query would leak them.
 * Loopback is looked up (127.0.0.2 is every list's test entry).
 */
#ifndef TERN_SPAM_SPAM_DNSBL_H
#define TERN_SPAM_SPAM_DNSBL_H

#include <stddef.h>
#include <stdint.h>

#include "dns/dns_resolver.h"
#include "spam/spam.h"

#define SPAM_DNSBL_ZONES_MAX 8
#define SPAM_DNSBL_CODES_MAX 8
#define SPAM_DNSBL_ZONE_MAX 128 /* a zone name's length, the NUL included */
#define SPAM_DNSBL_SUBJECTS_MAX 8 /* domains checked per message */

/* The defaults a home server can use (free for low volumes). */
#define SPAM_DNSBL_DEFAULT                                                                   \
	"zen.spamhaus.org 127.0.0.2-127.0.0.3=4 127.0.0.4-127.0.0.7=4 127.0.0.9=4 "         \
	"127.0.0.10-127.0.0.11=1.5\n"                                                        \
	"bl.spamcop.net 2\n"
#define SPAM_URIBL_DEFAULT "dbl.spamhaus.org 127.0.1.2-127.0.1.99=5\n"

struct spam_dnsbl_code {
	uint32_t lo, hi; /* host order */
	double weight;
};

struct spam_dnsbl_zone {
	char zone[SPAM_DNSBL_ZONE_MAX];
	double weight; /* any listing answer, when ncodes is 0 */
	struct spam_dnsbl_code code[SPAM_DNSBL_CODES_MAX];
	size_t ncodes;
};

struct spam_dnsbl_conf {
	struct spam_dnsbl_zone z[SPAM_DNSBL_ZONES_MAX];
	size_t n;
};

/*
 * Parses the zone list text into *out. 0, or -1 with a one-line reason
 * in err (the line and what is wrong): a bad zone name, a weight that is
 * not a number in [-100, 100], a code outside 127.0.0.0/8 or a range
 * backwards, more than SPAM_DNSBL_ZONES_MAX zones or
 * SPAM_DNSBL_CODES_MAX codes on a line.
 */
int spam_dnsbl_parse(const char *text, struct spam_dnsbl_conf *out, char *err, size_t errsz);

/*
 * The name to look up for a client address under zone: the IPv4 octets
 * reversed ("2.0.0.127.zone", also for "::ffff:127.0.0.2"), or the
 * IPv6 nibbles reversed. 0, or -1 when ip is not an address, is private,
 * or the name does not fit outsz.
 */
int spam_dnsbl_ip_name(const char *ip, const char *zone, char *out, size_t outsz);
/* "domain.zone" (domain lowercased, no trailing dot). 0 or -1 (too long, empty). */
int spam_dnsbl_domain_name(const char *domain, const char *zone, char *out, size_t outsz);

/*
 * The weight an answer gives under z: 0 when it does not list (see
 * above), else the highest weight of its listing records. *listed_r 1
 * when at least one record counted.
 */
double spam_dnsbl_weight(const struct spam_dnsbl_zone *z, const struct dns_answer *a,
			 int *listed_r);

/* The rule name: prefix ("RBL_", "URIBL_") then the zone, upper case, '.' and '-' as '_'. */
void spam_dnsbl_rule(const char *prefix, const char *zone, char *out, size_t outsz);

/* ---- One message's lookups ---- */

struct spam_dnsbl_run;

/*
 * Starts the lookups of ip (NULL: none) under every zone of ipconf and of
 * each domain (at most SPAM_DNSBL_SUBJECTS_MAX; duplicates skipped) under
 * every zone of domconf, all at once through r. Returns the run; done(arg)
 * runs once when the last answer came, unless everything was answered
 * inside this call (then spam_dnsbl_pending() is 0 and done does not
 * run). r must outlive the run; the confs, ip and domains are copied.
 */
struct spam_dnsbl_run *spam_dnsbl_start(const struct dns_resolver *r,
					const struct spam_dnsbl_conf *ipconf, const char *ip,
					const struct spam_dnsbl_conf *domconf,
					const char *const *domains, size_t ndomains,
					void (*done)(void *arg), void *arg);
/* Lookups still in flight. */
size_t spam_dnsbl_pending(const struct spam_dnsbl_run *run);
/* Adds one rule per zone that listed something (its highest weight) to res. */
void spam_dnsbl_result(const struct spam_dnsbl_run *run, struct spam_result *res);
/* Cancels what is in flight (done will not run) and frees *run (NULL after). */
void spam_dnsbl_free(struct spam_dnsbl_run **run);

#endif
