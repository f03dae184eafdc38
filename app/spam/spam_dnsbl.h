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
 * free limit), 127.0.0.1 is no list's entry (RFC 5782; URIBL's "query
 * refused"), an address outside 127/8 is a resolver that invents
 * answers, and NXDOMAIN, NODATA and failures are "not listed". A rule
 * fires per zone: RBL_<ZONE> or URIBL_<ZONE> (upper case, dots as '_'),
 * or, with a "name=NAME" word on the line, RBL_NAME / URIBL_NAME: a zone
 * with an access key in it (Spamhaus DQS, "KEY.zen.dq.spamhaus.net")
 * needs one, or the key would be written into every message's
 * X-Spam-Result field (the rule's description names NAME too).
 *
 * Hash lists (Spamhaus HBL, MSBL EBL) take a hash of what they list as
 * the first label: each line starts with what is hashed, then as above:
 *
 *   email[/HASH] ZONE ...   the addresses in From, Reply-To and the text
 *   wallet[/HASH] ZONE ...  cryptocurrency wallet addresses in the text
 *   file ZONE ...           the decoded content of each attachment
 *
 * HASH is sha1 (the default for email and wallet), md5 or sha256; a
 * file's hash is always sha256. An address is hashed lowercased, a
 * wallet as written (its case is part of it). md5 and sha1 are written
 * as lowercase hex, sha256 as lowercase unpadded base32 (RFC 4648; its
 * hex would not fit a 63-octet label): the convention SpamAssassin's
 * HashBL plugin set, and the one Spamhaus's own configurations for HBL
 * ("_email.", "_file." and "_cw." zones) use. The rule is HASHBL_<ZONE> (HASHBL_NAME). What is asked, and the
 * hashing, are spam_hashbl.c's.
 *
 * The lookups of one message run in parallel on the loop's resolver
 * (dns_resolver.h, so unit tests answer from a table) and share the
 * process-wide DNS cache; each answer is at most one A lookup.
 *
 * Caveats: an address that is not globally reachable (cidr_addr_global:
 * RFC 1918, RFC 6598's CGNAT, RFC 4193, link-local, documentation, ...)
 * is never sent to a list: nobody lists it and the query would leak it.
 * IPv4 loopback is looked up (127.0.0.2 is every list's test entry, RFC
 * 5782 §5); IPv6 loopback is not.
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
#define SPAM_DNSBL_SUBJECTS_MAX 8 /* domains, addresses or files checked per message */
#define SPAM_EMAIL_MAX 256 /* an address a hash list is asked about, the NUL included */
#define SPAM_WALLET_MAX 100 /* a wallet address (Monero's are 95), the NUL included */
#define SPAM_DNSBL_NAME_MAX 24 /* a zone's rule name ("name="), the NUL included */

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

/* spam_dnsbl_zone.subject: what a hash list zone's names hash */
enum spam_hashbl_subject { SPAM_HASHBL_NONE, SPAM_HASHBL_EMAIL, SPAM_HASHBL_FILE, SPAM_HASHBL_WALLET };
/* spam_dnsbl_zone.hash */
enum spam_hashbl_hash { SPAM_HASH_SHA1, SPAM_HASH_MD5, SPAM_HASH_SHA256 };

struct spam_dnsbl_zone {
	char zone[SPAM_DNSBL_ZONE_MAX];
	char name[SPAM_DNSBL_NAME_MAX]; /* "name=": upper case; "" uses the zone */
	uint8_t subject;                /* enum spam_hashbl_subject (hash lists only) */
	uint8_t hash;                   /* enum spam_hashbl_hash (hash lists only) */
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
/* The same for hash list lines ("email[/HASH] ZONE ...", "file ZONE ..."). */
int spam_hashbl_parse(const char *text, struct spam_dnsbl_conf *out, char *err, size_t errsz);

/*
 * The name to look up for a client address under zone: the IPv4 octets
 * reversed ("2.0.0.127.zone", also for "::ffff:127.0.0.2"), or the
 * IPv6 nibbles reversed. 0, or -1 when ip is not an address, is not
 * global (above), or the name does not fit outsz.
 */
int spam_dnsbl_ip_name(const char *ip, const char *zone, char *out, size_t outsz);
/* "domain.zone" (domain lowercased, no trailing dot). 0 or -1 (too long, empty). */
int spam_dnsbl_domain_name(const char *domain, const char *zone, char *out, size_t outsz);

/*
 * The name to look up under hash list zone z: for SPAM_HASHBL_EMAIL the
 * hash of text (an address, lowercased), for SPAM_HASHBL_WALLET of text
 * as it is, for SPAM_HASHBL_FILE sha256 (the content's digest) encoded;
 * then ".zone". 0, or -1 when it does not fit outsz.
 */
int spam_hashbl_name(const struct spam_dnsbl_zone *z, const char *text, const uint8_t sha256[32],
		     char *out, size_t outsz);

/*
 * The weight an answer gives under z: 0 when it does not list (see
 * above), else the highest weight of its listing records. *listed_r 1
 * when at least one record counted.
 */
double spam_dnsbl_weight(const struct spam_dnsbl_zone *z, const struct dns_answer *a,
			 int *listed_r);

/* The rule name: prefix ("RBL_", "URIBL_", "HASHBL_") then z's name, or
 * its zone upper case with '.' and '-' as '_'. */
void spam_dnsbl_rule(const char *prefix, const struct spam_dnsbl_zone *z, char *out, size_t outsz);

/* ---- What a hash list is asked about ---- */

struct spam_hashbl_subjects {
	char email[SPAM_DNSBL_SUBJECTS_MAX][SPAM_EMAIL_MAX]; /* lowercase */
	size_t nemails;
	uint8_t file[SPAM_DNSBL_SUBJECTS_MAX][32];
	size_t nfiles;
	char wallet[SPAM_DNSBL_SUBJECTS_MAX][SPAM_WALLET_MAX]; /* as written */
	size_t nwallets;
};

/*
 * A message's addresses and attachment digests, distinct, at most
 * SPAM_DNSBL_SUBJECTS_MAX of each: the From and Reply-To addresses, then
 * the addresses written in the text (where a drop box for answers is
 * named), lowercase and without a "+tag" after the local part; the
 * cryptocurrency wallets the text names (where a ransom or a "fee" is to
 * be paid); the SHA-256 of each attachment read whole. Not asked about:
 * addresses in one of ours[0..nours) (our users' addresses are nobody
 * else's business) and role addresses (postmaster@, abuse@, ...: every
 * notice names them).
 */
void spam_hashbl_subjects(const struct spam_msg *m, const char *const *ours, size_t nours,
			  struct spam_hashbl_subjects *out);

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
/*
 * The same for hash lists: the hash of each of subj's addresses under
 * every email zone of conf, of each wallet under every wallet zone, and
 * each attachment digest under every file zone. subj is read during the
 * call only.
 */
struct spam_dnsbl_run *spam_hashbl_start(const struct dns_resolver *r,
					 const struct spam_dnsbl_conf *conf,
					 const struct spam_hashbl_subjects *subj,
					 void (*done)(void *arg), void *arg);
/* Lookups still in flight. */
size_t spam_dnsbl_pending(const struct spam_dnsbl_run *run);
/* Adds one rule per zone that listed something (its highest weight) to res. */
void spam_dnsbl_result(const struct spam_dnsbl_run *run, struct spam_result *res);
/* Cancels what is in flight (done will not run) and frees *run (NULL after). */
void spam_dnsbl_free(struct spam_dnsbl_run **run);

#endif
