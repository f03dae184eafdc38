/*
 * cmd_domain.c — tern domain add|list|del DOMAIN and tern domain dns DOMAIN.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
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

/* What a user must publish for mail to reach this server. DKIM joins the
 * list when signing exists (outbound issue). */
static void print_dns(const struct config *cfg, const char *domain)
{
	printf("; DNS records for %s served by %s\n", domain, cfg->hostname);
	printf("%s.\tIN\tMX\t10 %s.\n", domain, cfg->hostname);
	printf("; %s needs an A (and AAAA) record with the server's public address\n",
	       cfg->hostname);
	printf("%s.\tIN\tTXT\t\"v=spf1 mx -all\"\n", domain);
	printf("_dmarc.%s.\tIN\tTXT\t\"v=DMARC1; p=quarantine; rua=mailto:postmaster@%s\"\n",
	       domain, domain);
	printf("; PTR: ask your provider to point the server's address back to %s\n",
	       cfg->hostname);
}

int cli_domain(const struct config *cfg, int argc, char **argv)
{
	char err[512];
	struct store *st;
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
	if (strcmp(argv[0], "dns") == 0) {
		print_dns(cfg, argv[1]);
		return 0;
	}
	int add = strcmp(argv[0], "add") == 0;
	if (!add && strcmp(argv[0], "del") != 0)
		return usage();
	if (!(st = cli_store_open(cfg, 0)))
		return 1;
	int r = add ? store_domain_add(st, argv[1], err, sizeof(err))
		    : store_domain_del(st, argv[1], err, sizeof(err));
	if (r == STORE_OK) {
		printf("%s: %s\n", argv[1], add ? "added" : "deleted");
		rc = 0;
	} else {
		fprintf(stderr, "tern: %s\n", err);
	}
	store_close(&st);
	return rc;
}
