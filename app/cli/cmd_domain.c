/*
 * cmd_domain.c — tern domain add|list|del DOMAIN, tern domain dns DOMAIN and
 * tern domain dkim-import DOMAIN SELECTOR FILE (a key made by OpenDKIM,
 * rspamd or openssl, kept under the selector already in DNS).
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
#include "net/pem.h"
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

/* tern domain dkim-import DOMAIN SELECTOR FILE|-: a key made elsewhere in
 * place of the domain's key of its algorithm; prints its record. */
static int dkim_import(const struct config *cfg, const char *domain, const char *selector,
		       const char *file)
{
	char err[512];
	struct buf text;
	struct dkim_keys *keys = xmalloc(sizeof(*keys));
	struct admin_dns_record *r = xmalloc(sizeof(*r));
	struct store *st = NULL;
	unsigned which;
	int weak, rc = 1;

	buf_init(&text, TLS_FILE_MAX);
	buf_set_secret(&text); /* a private key: wiped when freed */
	/* stdin by its descriptor: a chroot (the container) has no /dev/stdin. */
	if ((strcmp(file, "-") == 0 ? tls_read_fd(0, "stdin", &text, err, sizeof(err))
				    : tls_read_file(file, &text, err, sizeof(err))) != 0) {
		fprintf(stderr, "tern: %s\n", err);
		goto out;
	}
	if (!(st = cli_store_open(cfg, CLI_STORE_CHANGE)))
		goto out;
	if (admin_domain_dkim_import(st, domain, selector, buf_data(&text), buf_len(&text), keys,
				     &which, &weak, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "tern: %s\n", err);
		goto out;
	}
	if (weak)
		fprintf(stderr, "tern: warning: %s\n", ADMIN_DKIM_WEAK_TEXT);
	const struct dkim_key *k = &keys->key[which];
	printf("%s: DKIM %s key imported as selector %s; it signs from now on\n", domain,
	       dkim_alg_name(k->alg), k->selector);
	if (admin_dkim_record(domain, k, r) == 0) {
		printf("; the record it needs (publish it, or keep the one already published)\n");
		print_txt(r->name, r->value);
	}
	rc = 0;
out:
	if (st)
		store_close(&st);
	buf_free(&text);
	dkim_keys_wipe(keys);
	free(keys);
	free(r);
	return rc;
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
	if (strcmp(argv[0], "dkim-import") == 0) {
		if (argc != 4)
			return usage();
		return dkim_import(cfg, argv[1], argv[2], argv[3]);
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
