/*
 * acme_names.c — which names the certificate covers.
 *
 * TERN_HOSTNAME always (the subject). Then mta-sts., autoconfig. and
 * autodiscover. of each served domain (in A-labels: bücher.test's as
 * xn--bcher-kva.test), each only when tern serves something there, as
 * the DNS records the admin recommends say (admin_web_names(): no HTTPS
 * listener where senders fetch an MTA-STS policy, no mta-sts. name; no
 * web listener at all, none of the three: a name nothing answers on is
 * one more authorization that can fail, for a certificate nobody asks
 * for), and only when its DNS points
 * here: each of its addresses is one of TERN_HOSTNAME's (one elsewhere,
 * an AAAA at a web host beside an A here, is where the CA may look: Let's
 * Encrypt tries IPv6 first). A name whose record is missing or points
 * elsewhere would fail its challenge and with it the whole order, so it
 * is left out (and logged) instead; it
 * joins at the next renewal once its record exists. All lookups run at
 * once on the loop's resolver; the answer comes when the last one is in.
 *
 * A certificate holds ACME_NAMES_MAX names: the mta-sts. names come
 * first (a sender checking the domain's MTA-STS policy needs them; the
 * other two only help mail clients set themselves up), and each name
 * that does not fit is logged (reason=too_many), never dropped silently.
 */
#include "acme/acme_private.h"
#include "admin/admin_domain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/log.h"
#include "core/punycode.h"
#include "core/xalloc.h"
#include "dns/dns.h"
#include "store/store.h"

/* Names looked up: the host name and three for each domain that could
 * fit a certificate; those of further domains are logged (too_many). */
#define CANDS_MAX (1 + 3 * (ACME_NAMES_MAX - 1))

struct cand {
	char name[256];
	int mta_sts; /* an mta-sts. name */
	struct dns_addr addrs[4];
	size_t naddrs;
	int more; /* it had more addresses than addrs holds */
	int done;
};

struct names_job {
	struct cand c[CANDS_MAX]; /* c[0] is the host name */
	size_t n, pending;
	unsigned web; /* admin_web_names(): which prefixes tern serves */
	char (*names)[256];
	size_t *n_r;
	acme_names_cb *cb;
	void *arg;
};

/* 1 when d has a non-ASCII octet (a U-label, stored as the admin wrote it). */
static int has_utf8(const char *d)
{
	for (; *d; d++)
		if ((unsigned char)*d >= 0x80)
			return 1;
	return 0;
}

static void add_domain(void *arg, const char *stored)
{
	static const char *const prefixes[] = {"mta-sts.", "autoconfig.", "autodiscover."};
	struct names_job *j = arg;
	/* RFC 8555 §7.1.4: an identifier's U-labels go as A-labels, which is
	 * also what the resolver asks and a client's SNI carries; as stored
	 * (UTF-8) the look-ups found nothing and the names were left out. */
	char alabels[256];
	const char *domain = stored;
	if (has_utf8(stored)) {
		if (punycode_domain_other(str_c(stored), alabels, sizeof alabels) == 0) {
			log_info("acme", NULL, "event=name_skipped domain=%s reason=no_a_label", stored);
			return;
		}
		domain = alabels;
	}
	for (size_t i = 0; i < 3; i++) {
		if (!(j->web & (i == 0 ? ADMIN_WEB_MTA_STS : ADMIN_WEB_AUTOCONFIG)))
			continue;
		if (j->n == CANDS_MAX) {
			log_info("acme", NULL, "event=name_skipped name=%s%s reason=too_many",
			         prefixes[i], domain);
			continue;
		}
		int k = snprintf(j->c[j->n].name, sizeof j->c[0].name, "%s%s", prefixes[i], domain);
		if (k > 0 && (size_t)k < sizeof j->c[0].name && strcasecmp(j->c[j->n].name, j->c[0].name)) {
			j->c[j->n].mta_sts = i == 0;
			j->n++;
		}
	}
}

static int same_ip(const struct dns_addr *a, const struct dns_addr *b)
{
	if (a->sa.ss_family != b->sa.ss_family)
		return 0;
	if (a->sa.ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)&a->sa)->sin_addr,
		              &((const struct sockaddr_in *)&b->sa)->sin_addr, 4) == 0;
	return memcmp(&((const struct sockaddr_in6 *)&a->sa)->sin6_addr,
	              &((const struct sockaddr_in6 *)&b->sa)->sin6_addr, 16) == 0;
}

static void finish(struct names_job *j)
{
	size_t n = 0;
	snprintf(j->names[n++], 256, "%s", j->c[0].name);
	/* The mta-sts. names first, then the others. */
	for (int pass = 1; pass >= 0; pass--) {
		for (size_t i = 1; i < j->n; i++) {
			if (j->c[i].mta_sts != pass)
				continue;
			/* How many of its addresses are the host name's: all of
			 * them, or the CA may validate at another server. */
			size_t ours = 0;
			for (size_t a = 0; a < j->c[i].naddrs; a++) {
				int found = 0;
				for (size_t b = 0; b < j->c[0].naddrs && !found; b++)
					found = same_ip(&j->c[i].addrs[a], &j->c[0].addrs[b]);
				ours += (size_t)found;
			}
			const char *why = j->c[i].naddrs == 0 ? "no_address"
			                  : ours == 0        ? "points_elsewhere"
			                  : ours < j->c[i].naddrs || j->c[i].more
			                      ? "points_partly_elsewhere"
			                  : n == ACME_NAMES_MAX ? "too_many"
			                                        : NULL;
			if (why == NULL)
				snprintf(j->names[n++], 256, "%s", j->c[i].name);
			else
				log_info("acme", NULL, "event=name_skipped name=%s reason=%s",
				         j->c[i].name, why);
		}
	}
	*j->n_r = n;
	acme_names_cb *cb = j->cb;
	void *arg = j->arg;
	free(j);
	cb(arg);
}

/* 1 when name is zone or a name under it (case aside). */
static int name_in_zone(const char *name, const char *zone)
{
	size_t n = strlen(name), z = strlen(zone);
	if (n == z)
		return strcasecmp(name, zone) == 0;
	return n > z && name[n - z - 1] == '.' && strcasecmp(name + n - z, zone) == 0;
}

const char *acme_name_unorderable(const char *name, int64_t now)
{
	if (acme_name_failed(name, now))
		return "challenge_failed";
	/* DNS-01 updates one zone, TERN_ACME_DNS_ZONE: another zone's name
	 * gets NOTZONE from the update, which failed the whole order at
	 * every attempt, the host name's certificate with it. */
	if (strcmp(A.challenge, "dns-01") == 0 && !name_in_zone(name, A.dns_zone))
		return "outside_dns_zone";
	return NULL;
}

struct lookup_ctx {
	struct names_job *j;
	size_t i;
};

static void answered(void *arg, enum dns_status st, const struct dns_addr *addrs, size_t n,
                     const char *why)
{
	struct lookup_ctx *l = arg;
	struct names_job *j = l->j;
	struct cand *c = &j->c[l->i];
	(void)why;
	free(l);
	if (st == DNS_OK) {
		for (size_t i = 0; i < n && c->naddrs < 4; i++)
			c->addrs[c->naddrs++] = addrs[i];
		c->more = n > c->naddrs;
	}
	c->done = 1;
	if (--j->pending == 0)
		finish(j);
}

void acme_names_find(struct dns *dns, struct store *st, const char *hostname, unsigned web,
                     char names[ACME_NAMES_MAX][256], size_t *n_r, acme_names_cb *cb, void *arg)
{
	struct names_job *j = xcalloc(1, sizeof *j);
	j->web = web;
	j->names = names;
	j->n_r = n_r;
	j->cb = cb;
	j->arg = arg;
	snprintf(j->c[0].name, sizeof j->c[0].name, "%s", hostname);
	j->n = 1;
	if (st != NULL && dns != NULL)
		store_domain_list(st, add_domain, j);
	if (j->n == 1) {
		finish(j);
		return;
	}
	/* One more than the lookups, dropped below: an answer that comes at
	 * once (from the cache) cannot finish the job while others start. */
	j->pending = j->n + 1;
	for (size_t i = 0; i < j->n; i++) {
		struct lookup_ctx *l = xmalloc(sizeof *l);
		l->j = j;
		l->i = i;
		dns_route(dns, j->c[i].name, 0, 0, answered, l);
	}
	if (--j->pending == 0)
		finish(j);
}
