/*
 * admin_domain.h — what adding a domain and publishing it involve, shared
 * by the CLI (`tern domain add|dns`) and the admin API.
 *
 * A domain gets its DKIM keys right after it is added; the DNS records a
 * user must publish (MX, SPF, the DKIM keys, DMARC, client SRV records,
 * autoconfig/autodiscover names) are computed here from the configuration
 * and the keys, so the CLI prints and the API returns the same list.
 */
#ifndef TERN_ADMIN_ADMIN_DOMAIN_H
#define TERN_ADMIN_ADMIN_DOMAIN_H

#include <stddef.h>

#include "core/config.h"
#include "dkim/dkim.h"

struct store;

/*
 * The domain's DKIM keys into *k, made and stored first when it has none
 * (a domain added by a build without DKIM). Two processes racing: the first
 * stored set wins and both return it. The caller wipes *k
 * (dkim_keys_wipe). Returns STORE_OK or a STORE_* error with err filled
 * (STORE_ENOTFOUND: no such local domain).
 */
int admin_domain_keys(struct store *st, const char *domain, struct dkim_keys *k, char *err,
		      size_t errsz);

/* Adds a domain with new keys (into *k, which the caller wipes), both in
 * one write: STORE_OK, or an error with err filled and nothing stored
 * (STORE_ETEMP also when no keys could be made). */
int admin_domain_add(struct store *st, const char *domain, struct dkim_keys *k, char *err,
		     size_t errsz);

/*
 * Imports a DKIM private key made elsewhere (text of len octets: PEM, DER
 * or a base64 Ed25519 key, as dkim_key_from_text reads) for domain under
 * selector, in place of the domain's key of the same algorithm; the other
 * algorithm's key stays. The domain's new set goes to *k (the caller wipes
 * it) and the imported key's index in it to *which_r; *weak_r is 1 for an
 * RSA key under 2048 bits. Returns STORE_OK; STORE_EINVAL for a key or
 * selector refused, STORE_ENOTFOUND for no such domain, or another
 * STORE_* error, each with one sentence in err that never holds key
 * material.
 */
int admin_domain_dkim_import(struct store *st, const char *domain, const char *selector,
			     const void *text, size_t len, struct dkim_keys *k, unsigned *which_r,
			     int *weak_r, char *err, size_t errsz);
/* The warning for *weak_r (RFC 8301 §3.2). */
#define ADMIN_DKIM_WEAK_TEXT                                                                       \
	"an RSA key under 2048 bits: accepted (RFC 8301 allows 1024) but 2048 is recommended; "     \
	"plan a new 2048-bit key"

#define ADMIN_DNS_MAX 24
#define ADMIN_DNS_VALUE_MAX 1200

struct admin_dns_record {
	const char *comment; /* a "; ..." line printed before it by the CLI, or NULL */
	const char *type;    /* "MX", "TXT", "SRV", "CNAME" */
	const char *purpose; /* short words for the UI */
	char name[DKIM_SELECTOR_MAX + DKIM_DOMAIN_MAX + 32]; /* absolute, trailing dot */
	char value[ADMIN_DNS_VALUE_MAX]; /* TXT: the unquoted text */
};

struct admin_dns {
	char domain[DKIM_DOMAIN_MAX + 1];
	char hostname[256];
	struct admin_dns_record rec[ADMIN_DNS_MAX];
	size_t n;
	char note_first[400]; /* A/AAAA of the host name */
	char note_last[400];  /* PTR */
};

/* Names under a served domain that lead to a web listener (admin_web_names). */
#define ADMIN_WEB_AUTOCONFIG 1u /* autoconfig. and autodiscover. */
#define ADMIN_WEB_MTA_STS 2u    /* mta-sts. */

/*
 * Which of a served domain's web names tern answers on with cfg's
 * listeners: ADMIN_WEB_AUTOCONFIG when the HTTP or HTTPS listener is on
 * (Thunderbird asks over either; Outlook takes HTTPS, or a redirect to
 * it over HTTP); ADMIN_WEB_MTA_STS when senders can fetch the MTA-STS
 * policy, which they do at https://mta-sts.DOMAIN/ on port 443 (RFC
 * 8461 §3.3): the HTTPS listener on cfg->mta_sts_port (443 but in
 * tests), or TERN_TRUSTED_PROXIES set in front of a web listener (a
 * proxy ending TLS on 443 and saying https). The one answer for both
 * the DNS records recommended (admin_dns_records) and the names the
 * ACME certificate asks for (acme_names.c).
 */
unsigned admin_web_names(const struct config *cfg);

/* The DNS record of one DKIM key of domain: r's name (absolute, in
 * A-labels) and value; 0, or -1 for a damaged key (nothing to publish). */
int admin_dkim_record(const char *domain, const struct dkim_key *k, struct admin_dns_record *r);

/* Fills *out (about 25 KB: allocate it, do not put it on a thread's stack)
 * with every record to publish for domain served by hostname; st gives
 * the MTA-STS mode setting (its policy id), NULL for the default. */
void admin_dns_records(const struct config *cfg, struct store *st, const char *hostname,
		       const char *domain, const struct dkim_keys *k, struct admin_dns *out);

#endif
