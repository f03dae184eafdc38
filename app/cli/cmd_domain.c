/*
 * cmd_domain.c — tern domain add|list|del DOMAIN and tern domain dns DOMAIN.
 *
 * A domain gets its DKIM keys (RSA-2048 and Ed25519) right after it is
 * added; `domain dns` creates them for a domain added by a build without
 * DKIM, so every domain that prints records has keys behind them.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "dkim/dkim.h"
#include "store/store.h"

static void print_domain(void *arg, const char *domain)
{
	(void)arg;
	printf("%s\n", domain);
}

static int usage(void)
{
	fprintf(stderr, "usage: tern domain add|del DOMAIN\n"
			"       tern domain list\n"
			"       tern domain dns DOMAIN   (the DNS records to publish)\n");
	return 2;
}

/*
 * The domain's DKIM keys into *k, made and stored first when it has none.
 * Two commands racing: the first stored set wins and both print it.
 * Returns STORE_OK or an error with err filled.
 */
static int domain_keys(struct store *st, const char *domain, struct dkim_keys *k, char *err,
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
	if (dkim_keys_generate(k, (int64_t)time(NULL)) != DKIM_OK) {
		snprintf(err, errsz, "cannot generate DKIM keys (no entropy from getrandom)");
		return STORE_ETEMP;
	}
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

/* A TXT value in zone-file syntax: quoted strings of at most 255 octets. */
static void print_txt(const char *name, const char *value)
{
	size_t n = strlen(value);

	printf("%s\tIN\tTXT\t", name);
	for (size_t off = 0; off < n; off += 255)
		printf("%s\"%.*s\"", off ? " " : "", (int)(n - off > 255 ? 255 : n - off),
		       value + off);
	printf("\n");
}

/* An SRV record of RFC 6186 / RFC 8314; a disabled listener is published
 * as "not offered" (target "."). */
static void print_srv(const struct config *cfg, const char *service, const char *domain,
		      unsigned prio, enum listen_kind k)
{
	uint16_t port = cfg->listen[k].port;

	if (port == 0)
		printf("_%s._tcp.%s.\tIN\tSRV\t0 0 0 .\n", service, domain);
	else
		printf("_%s._tcp.%s.\tIN\tSRV\t%u 1 %u %s.\n", service, domain, prio,
		       (unsigned)port, cfg->hostname);
}

/* What a user must publish for mail to reach this server, for this
 * server's mail to be accepted elsewhere, and for mail clients to find it. */
static void print_dns(const struct config *cfg, const char *domain, const struct dkim_keys *k)
{
	struct buf txt;
	char name[DKIM_SELECTOR_MAX + DKIM_DOMAIN_MAX + 16];

	printf("; DNS records for %s served by %s\n", domain, cfg->hostname);
	printf("; %s needs an A (and AAAA) record with the server's public address\n",
	       cfg->hostname);
	printf("%s.\tIN\tMX\t10 %s.\n", domain, cfg->hostname);
	printf("%s.\tIN\tTXT\t\"v=spf1 mx -all\"\n", domain);

	printf("; DKIM (RFC 6376, RFC 8463): every message is signed with both keys\n");
	buf_init(&txt, 4096);
	for (unsigned i = 0; i < k->n; i++) {
		buf_reset(&txt);
		if (dkim_key_txt(&k->key[i], &txt) != DKIM_OK) {
			printf("; key %s: cannot derive its public key (damaged?)\n",
			       k->key[i].selector);
			continue;
		}
		snprintf(name, sizeof name, "%s._domainkey.%s.", k->key[i].selector, domain);
		print_txt(name, buf_data(&txt));
	}
	buf_free(&txt);

	printf("_dmarc.%s.\tIN\tTXT\t\"v=DMARC1; p=quarantine; rua=mailto:postmaster@%s\"\n",
	       domain, domain);

	/* RFC 6186 §3.4: one priority order across IMAP and POP3; RFC 8314
	 * §5.1: implicit TLS before STARTTLS. */
	printf("; mail client set-up (RFC 6186, RFC 8314)\n");
	print_srv(cfg, "submissions", domain, 0, LISTEN_SUBMISSIONS);
	print_srv(cfg, "submission", domain, 10, LISTEN_SUBMISSION);
	print_srv(cfg, "imaps", domain, 0, LISTEN_IMAPS);
	print_srv(cfg, "imap", domain, 10, LISTEN_IMAP);
	print_srv(cfg, "pop3s", domain, 20, LISTEN_POP3S);
	print_srv(cfg, "pop3", domain, 30, LISTEN_POP3);
	printf("autoconfig.%s.\tIN\tCNAME\t%s.\n", domain, cfg->hostname);
	printf("autodiscover.%s.\tIN\tCNAME\t%s.\n", domain, cfg->hostname);
	printf("; PTR: ask your provider to point the server's address back to %s\n",
	       cfg->hostname);
}

int cli_domain(const struct config *cfg, int argc, char **argv)
{
	char err[512];
	struct store *st;
	struct dkim_keys keys;
	int rc = 1;

	if (argc < 1)
		return usage();
	if (strcmp(argv[0], "list") == 0) {
		if (!(st = cli_store_open(cfg, 1)))
			return 1;
		rc = store_domain_list(st, print_domain, NULL) == STORE_OK ? 0 : 1;
		store_close(&st);
		return rc;
	}
	if (argc != 2)
		return usage();
	int add = strcmp(argv[0], "add") == 0, dns = strcmp(argv[0], "dns") == 0;
	if (!add && !dns && strcmp(argv[0], "del") != 0)
		return usage();
	/* dns opens read-write too: it may have to create the keys. */
	if (!(st = cli_store_open(cfg, 0)))
		return 1;
	if (dns) {
		char domain[DKIM_DOMAIN_MAX + 1];
		if (str_lower_into(str_c(argv[1]), domain, sizeof(domain)) != 0) {
			fprintf(stderr, "tern: invalid domain name\n");
			store_close(&st);
			return 1;
		}
		if (domain_keys(st, domain, &keys, err, sizeof(err)) == STORE_OK) {
			print_dns(cfg, domain, &keys);
			rc = 0;
		} else {
			fprintf(stderr, "tern: %s\n", err);
		}
		dkim_keys_wipe(&keys);
		store_close(&st);
		return rc;
	}
	int r = add ? store_domain_add(st, argv[1], err, sizeof(err))
		    : store_domain_del(st, argv[1], err, sizeof(err));
	if (r == STORE_OK) {
		printf("%s: %s\n", argv[1], add ? "added" : "deleted");
		rc = 0;
	} else {
		fprintf(stderr, "tern: %s\n", err);
	}
	if (r == STORE_OK && add) {
		/* The domain stays even if this fails: `domain dns` retries. */
		if (domain_keys(st, argv[1], &keys, err, sizeof(err)) == STORE_OK) {
			printf("%s: DKIM selectors", argv[1]);
			for (unsigned i = 0; i < keys.n; i++)
				printf(" %s", keys.key[i].selector);
			printf(" (publish them: tern domain dns %s)\n", argv[1]);
		} else {
			fprintf(stderr, "tern: %s (tern domain dns %s tries again)\n", err,
				argv[1]);
			rc = 1;
		}
		dkim_keys_wipe(&keys);
	}
	store_close(&st);
	return rc;
}
