/*
 * cmd_domain.c — tern domain add|list|del DOMAIN and tern domain dns DOMAIN.
 *
 * A domain gets its DKIM keys (RSA-2048 and Ed25519) in the write that
 * adds it; `domain dns` creates them for a domain added by a build without
 * DKIM, so every domain that prints records has keys behind them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_domain.h"
#include "cli/cli.h"
#include "core/buf.h"
#include "core/hostname.h"
#include "dkim/dkim.h"
#include "core/xalloc.h"
#include "store/store.h"

static void print_domain(void *arg, const char *domain)
{
	(void)arg;
	printf("%s\n", domain);
}

static int usage(void)
{
	return cli_usage("domain");
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

/* What a user must publish for mail to reach this server, for this
 * server's mail to be accepted elsewhere, and for mail clients to find it. */
static void print_dns(const struct config *cfg, struct store *st, const char *domain,
		      const struct dkim_keys *k)
{
	struct admin_dns *d = xmalloc(sizeof(*d));

	admin_dns_records(cfg, st, hostname_now(), domain, k, d);
	printf("; DNS records for %s served by %s\n", domain, hostname_now());
	printf("; %s\n", d->note_first);
	for (size_t i = 0; i < d->n; i++) {
		const struct admin_dns_record *r = &d->rec[i];
		if (r->comment)
			printf("; %s\n", r->comment);
		if (strcmp(r->type, "TXT") == 0)
			print_txt(r->name, r->value);
		else
			printf("%s\tIN\t%s\t%s\n", r->name, r->type, r->value);
	}
	printf("; %s\n", d->note_last);
	free(d);
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
		if (argc != 1)
			return usage(); /* no filter: a word after list is a mistake */
		if (!(st = cli_store_open(cfg, CLI_STORE_READ)))
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
	/* dns opens read-write too: it may have to create the keys; del and
	 * dns need a store that holds the domain, add may make one. */
	if (!(st = cli_store_open(cfg, add ? CLI_STORE_CREATE : CLI_STORE_CHANGE)))
		return 1;
	if (dns) {
		char domain[DKIM_DOMAIN_MAX + 1];
		if (str_lower_into(str_c(argv[1]), domain, sizeof(domain)) != 0) {
			fprintf(stderr, "tern: invalid domain name\n");
			store_close(&st);
			return 1;
		}
		if (admin_domain_keys(st, domain, &keys, err, sizeof(err)) == STORE_OK) {
			print_dns(cfg, st, domain, &keys);
			rc = 0;
		} else {
			fprintf(stderr, "tern: %s\n", err);
		}
		dkim_keys_wipe(&keys);
		store_close(&st);
		return rc;
	}
	/* add: the domain and its keys in one write (admin_domain_add). */
	int r = add ? admin_domain_add(st, argv[1], &keys, err, sizeof(err))
		    : store_domain_del(st, argv[1], err, sizeof(err));
	if (r == STORE_OK) {
		printf("%s: %s\n", argv[1], add ? "added" : "deleted");
		rc = 0;
	} else {
		fprintf(stderr, "tern: %s\n", err);
	}
	if (r == STORE_OK && add) {
		printf("%s: DKIM selectors", argv[1]);
		for (unsigned i = 0; i < keys.n; i++)
			printf(" %s", keys.key[i].selector);
		printf(" (publish them: tern domain dns %s)\n", argv[1]);
	}
	if (add)
		dkim_keys_wipe(&keys);
	store_close(&st);
	return rc;
}
