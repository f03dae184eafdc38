/*
 * admin_domain.c — domain keys and the DNS records to publish. See
 * admin_domain.h.
 */
#include "admin/admin_domain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "report/dmarc_intake.h"
#include "store/store.h"
#include "admin/admin_meta.h"
#include "tlspol/mta_sts.h"

/* A new key set into *k: STORE_OK, or STORE_ETEMP with err filled. */
static int new_keys(struct dkim_keys *k, char *err, size_t errsz)
{
	if (dkim_keys_generate(k, (int64_t)time(NULL)) == DKIM_OK)
		return STORE_OK;
	snprintf(err, errsz, "cannot generate DKIM keys (no entropy from getrandom)");
	return STORE_ETEMP;
}

int admin_domain_keys(struct store *st, const char *domain, struct dkim_keys *k, char *err,
		      size_t errsz)
{
	int rc = store_dkim_get(st, domain, k);

	if (rc == STORE_ETEMP)
		snprintf(err, errsz, "cannot read the DKIM keys of %s, see the log", domain);
	if (rc != STORE_ENOTFOUND)
		return rc;
	if (store_domain_is_local(st, domain) != 1) {
		snprintf(err, errsz, "no domain %s (add it with: tern domain add %s)", domain,
			 domain);
		return STORE_ENOTFOUND;
	}
	if (new_keys(k, err, errsz) != STORE_OK)
		return STORE_ETEMP;
	rc = store_dkim_put(st, domain, k, 0, err, errsz);
	if (rc == STORE_EEXIST) {
		dkim_keys_wipe(k);
		rc = store_dkim_get(st, domain, k);
		if (rc != STORE_OK)
			snprintf(err, errsz, "cannot read the DKIM keys of %s, see the log",
				 domain);
	}
	return rc;
}

int admin_domain_add(struct store *st, const char *domain, struct dkim_keys *k, char *err,
		     size_t errsz)
{
	/* The keys are made first and stored with the domain in one write:
	 * killed or out of room between two writes, the domain would stay
	 * without keys and its mail would leave unsigned until someone
	 * looked at its DNS records. */
	if (new_keys(k, err, errsz) != STORE_OK)
		return STORE_ETEMP;
	int rc = store_domain_add_dkim(st, domain, k, err, errsz);
	if (rc != STORE_OK)
		dkim_keys_wipe(k);
	return rc;
}

int admin_domain_dkim_import(struct store *st, const char *domain, const char *selector,
			     const void *text, size_t len, struct dkim_keys *k, unsigned *which_r,
			     int *weak_r, char *err, size_t errsz)
{
	struct dkim_key *key = xmalloc(sizeof(*key));
	int rc;

	*which_r = 0;
	memset(k, 0, sizeof(*k));
	if (dkim_key_from_text(key, selector, (int64_t)time(NULL), text, len, weak_r, err,
			       errsz) != DKIM_OK) {
		rc = STORE_EINVAL;
		goto out;
	}
	/* A domain added by a build without DKIM gets its set first, so the
	 * other algorithm signs too. */
	rc = admin_domain_keys(st, domain, k, err, errsz);
	dkim_keys_wipe(k);
	if (rc == STORE_OK)
		rc = store_dkim_set_key(st, domain, key, k, err, errsz);
	for (unsigned i = 0; rc == STORE_OK && i < k->n; i++)
		if (k->key[i].alg == key->alg)
			*which_r = i;
out:
	dkim_key_wipe(key);
	free(key);
	return rc;
}

int admin_dkim_record(const char *domain, const struct dkim_key *k, struct admin_dns_record *r)
{
	char ascii[DKIM_DOMAIN_MAX + 1];
	struct buf txt;
	int rc = -1;

	/* DNS holds an internationalised name in A-labels (RFC 5890 §2.3.2.1). */
	if (dkim_domain_ascii(domain, ascii) == 0)
		domain = ascii;
	buf_init(&txt, ADMIN_DNS_VALUE_MAX - 1);
	if (dkim_key_txt(k, &txt) == DKIM_OK) {
		snprintf(r->name, sizeof(r->name), "%s._domainkey.%s.", k->selector, domain);
		snprintf(r->value, sizeof(r->value), "%s", buf_data(&txt));
		rc = 0;
	}
	buf_free(&txt);
	return rc;
}

static struct admin_dns_record *add(struct admin_dns *d, const char *type, const char *purpose,
				    const char *comment)
{
	struct admin_dns_record *r = &d->rec[d->n++];
	memset(r, 0, sizeof(*r));
	r->type = type;
	r->purpose = purpose;
	r->comment = comment;
	return r;
}

/* An SRV record of RFC 6186 / RFC 8314; a disabled listener is published
 * as "not offered" (target "."). */
static void srv(struct admin_dns *d, const struct config *cfg, const char *host,
		const char *domain, const char *service, unsigned prio, enum listen_kind k, const char *purpose, const char *comment)
{
	struct admin_dns_record *r = add(d, "SRV", purpose, comment);
	uint16_t port = cfg->listen[k].port;

	snprintf(r->name, sizeof(r->name), "_%s._tcp.%s.", service, domain);
	if (port == 0)
		snprintf(r->value, sizeof(r->value), "0 0 0 .");
	else
		snprintf(r->value, sizeof(r->value), "%u 1 %u %s.", prio, (unsigned)port, host);
}

unsigned admin_web_names(const struct config *cfg)
{
	int web = cfg->listen[LISTEN_HTTP].port || cfg->listen[LISTEN_HTTPS].port;
	unsigned names = web ? ADMIN_WEB_AUTOCONFIG : 0;

	/* The proxy is taken to listen on 443; an HTTPS listener of ours
	 * elsewhere is not reached. */
	if (cfg->listen[LISTEN_HTTPS].port == cfg->mta_sts_port || (cfg->trusted_proxies[0] && web))
		names |= ADMIN_WEB_MTA_STS;
	return names;
}

void admin_dns_records(const struct config *cfg, struct store *st, const char *hostname,
		       const char *domain, const struct dkim_keys *k, struct admin_dns *d)
{
	struct admin_dns_record *r;

	memset(d, 0, sizeof(*d));
	snprintf(d->domain, sizeof(d->domain), "%s", domain);
	snprintf(d->hostname, sizeof(d->hostname), "%s", hostname);
	/* DNS holds an internationalised name in A-labels (RFC 5890 §2.3.2.1,
	 * RFC 5891 §5): the owner names, and the rua URIs, which are ASCII. */
	char ascii[DKIM_DOMAIN_MAX + 1];
	if (dkim_domain_ascii(domain, ascii) == 0)
		domain = ascii;
	snprintf(d->note_first, sizeof(d->note_first),
		 "%s needs an A (and AAAA) record with the server's public address", hostname);
	snprintf(d->note_last, sizeof(d->note_last),
		 "PTR: ask your provider to point the server's address back to %s", hostname);

	r = add(d, "MX", "incoming mail", NULL);
	snprintf(r->name, sizeof(r->name), "%s.", domain);
	snprintf(r->value, sizeof(r->value), "10 %s.", hostname);
	r = add(d, "TXT", "SPF", NULL);
	snprintf(r->name, sizeof(r->name), "%s.", domain);
	snprintf(r->value, sizeof(r->value), "v=spf1 mx -all");

	/* Room for the 15 records after the DKIM keys. */
	for (unsigned i = 0; i < k->n && d->n < ADMIN_DNS_MAX - 15; i++) {
		r = add(d, "TXT", k->key[i].alg == DKIM_ALG_RSA_SHA256 ? "DKIM (RSA)" : "DKIM (Ed25519)",
			i == 0 ? "DKIM (RFC 6376, RFC 8463): every message is signed with both keys"
			       : NULL);
		if (admin_dkim_record(domain, &k->key[i], r) != 0)
			d->n--; /* damaged key: nothing true to publish */
	}

	/* rua: the address whose reports tern reads (report/dmarc_intake.h). */
	char rua[300];
	r = add(d, "TXT", "DMARC", NULL);
	snprintf(r->name, sizeof(r->name), "_dmarc.%s.", domain);
	if (dmarc_rua_address(domain, rua, sizeof rua) == 0)
		snprintf(r->value, sizeof(r->value), "v=DMARC1; p=quarantine; rua=mailto:%s", rua);
	else
		snprintf(r->value, sizeof(r->value), "v=DMARC1; p=quarantine");

	/* RFC 6186 §3.4: one priority order across IMAP and POP3; RFC 8314
	 * §5.1: implicit TLS before STARTTLS. */
	srv(d, cfg, hostname, domain, "submissions", 0, LISTEN_SUBMISSIONS, "mail clients: sending (TLS)",
	    "mail client set-up (RFC 6186, RFC 8314)");
	srv(d, cfg, hostname, domain, "submission", 10, LISTEN_SUBMISSION, "mail clients: sending (STARTTLS)", NULL);
	srv(d, cfg, hostname, domain, "imaps", 0, LISTEN_IMAPS, "mail clients: IMAP (TLS)", NULL);
	srv(d, cfg, hostname, domain, "imap", 10, LISTEN_IMAP, "mail clients: IMAP (STARTTLS)", NULL);
	srv(d, cfg, hostname, domain, "pop3s", 20, LISTEN_POP3S, "mail clients: POP3 (TLS)", NULL);
	srv(d, cfg, hostname, domain, "pop3", 30, LISTEN_POP3, "mail clients: POP3 (STARTTLS)", NULL);
	/* RFC 5804 §1.8: where ManageSieve clients find the server. */
	srv(d, cfg, hostname, domain, "sieve", 0, LISTEN_SIEVE, "mail clients: filters (ManageSieve)", NULL);
	/* RFC 8620 §2.2: JMAP clients look up _jmap._tcp, then ask that host
	 * for /.well-known/jmap over HTTPS. */
	srv(d, cfg, hostname, domain, "jmap", 0, LISTEN_HTTPS, "mail clients: JMAP", NULL);
	/* Names that lead only to a web listener: none when both are off
	 * (Thunderbird asks over HTTP and HTTPS; Outlook's autodiscover
	 * takes HTTPS, or a redirect to it over HTTP). */
	if (admin_web_names(cfg) & ADMIN_WEB_AUTOCONFIG) {
		r = add(d, "CNAME", "Thunderbird autoconfig", NULL);
		snprintf(r->name, sizeof(r->name), "autoconfig.%s.", domain);
		snprintf(r->value, sizeof(r->value), "%s.", hostname);
		r = add(d, "CNAME", "Outlook autodiscover", NULL);
		snprintf(r->name, sizeof(r->name), "autodiscover.%s.", domain);
		snprintf(r->value, sizeof(r->value), "%s.", hostname);
	}
	/* Outlook's last try, after https://autodiscover.DOMAIN: this SRV
	 * sends it to the host name, whose certificate it matches even
	 * when none carries autodiscover.DOMAIN. */
	srv(d, cfg, hostname, domain, "autodiscover", 0, LISTEN_HTTPS, "Outlook autodiscover (SRV)", NULL);
	/* MTA-STS (RFC 8461): the policy is served over HTTPS at
	 * mta-sts.DOMAIN (the certificate must carry that name). Its TXT
	 * record only with it: a sender that finds the TXT and cannot fetch
	 * the policy retries the fetch for nothing. */
	if (admin_web_names(cfg) & ADMIN_WEB_MTA_STS) {
		char pol[MTA_STS_OWN_MAX], id[MTA_STS_ID_MAX + 1];
		mta_sts_own_policy(hostname, admin_mta_sts_mode(st), pol, id);
		r = add(d, "CNAME", "MTA-STS policy host",
			"MTA-STS (RFC 8461): senders fetch https://mta-sts.<domain>/.well-known/mta-sts.txt");
		snprintf(r->name, sizeof(r->name), "mta-sts.%s.", domain);
		snprintf(r->value, sizeof(r->value), "%s.", hostname);
		r = add(d, "TXT", "MTA-STS", NULL);
		snprintf(r->name, sizeof(r->name), "_mta-sts.%s.", domain);
		snprintf(r->value, sizeof(r->value), "v=STSv1; id=%s", id);
	}
	/* TLS-RPT (RFC 8460): senders' daily reports on their TLS sessions
	 * to us, to the address DMARC reports go to (postmaster@). */
	r = add(d, "TXT", "TLS reporting",
		"TLS-RPT (RFC 8460): where senders mail their daily TLS reports");
	snprintf(r->name, sizeof(r->name), "_smtp._tls.%s.", domain);
	if (dmarc_rua_address(domain, rua, sizeof rua) == 0)
		snprintf(r->value, sizeof(r->value), "v=TLSRPTv1; rua=mailto:%s", rua);
	else
		snprintf(r->value, sizeof(r->value), "v=TLSRPTv1; rua=mailto:postmaster@%s", domain);
}
