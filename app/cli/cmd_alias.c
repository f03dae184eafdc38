/*
 * cmd_alias.c — tern alias add|list|del ALIAS [TARGET].
 *
 * "@example.com" as ALIAS is the domain's catch-all. TARGET is an account,
 * another alias, or an outside address (forwarded with SRS, README
 * "Forwarding").
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

static void print_alias(void *arg, const char *alias, const char *target)
{
	(void)arg;
	printf("%s -> %s\n", alias, target);
}

static int usage(void)
{
	return cli_usage("alias");
}

int cli_alias(const struct config *cfg, int argc, char **argv)
{
	char err[512];
	struct store *st;
	int rc = 1, r;

	if (argc < 1)
		return usage();
	if (strcmp(argv[0], "list") == 0) {
		if (argc != 1)
			return usage(); /* no filter: a word after list is a mistake */
		if (!(st = cli_store_open(cfg, CLI_STORE_READ)))
			return 1;
		rc = store_alias_list(st, print_alias, NULL) == STORE_OK ? 0 : 1;
		store_close(&st);
		return rc;
	}
	if (strcmp(argv[0], "add") == 0 && argc == 3) {
		if (!(st = cli_store_open(cfg, CLI_STORE_CREATE)))
			return 1;
		r = store_alias_add(st, argv[1], argv[2], err, sizeof(err));
	} else if (strcmp(argv[0], "del") == 0 && (argc == 2 || argc == 3)) {
		if (!(st = cli_store_open(cfg, CLI_STORE_CHANGE)))
			return 1;
		r = store_alias_del(st, argv[1], argc == 3 ? argv[2] : NULL, err, sizeof(err));
	} else {
		return usage();
	}
	if (r == STORE_OK) {
		printf("%s: %s\n", argv[1], argv[0][0] == 'a' ? "added" : "deleted");
		rc = 0;
	} else {
		fprintf(stderr, "tern: %s\n", err);
	}
	store_close(&st);
	return rc;
}
