/*
 * cmd_account.c — tern account add|list|passwd|del EMAIL.
 *
 * Passwords come from stdin (one line), never from argv where ps(1) would
 * show them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

static void print_account(void *arg, const struct store_account_info *a)
{
	char quota[32];
	if (a->quota)
		snprintf(quota, sizeof(quota), "%" PRIu64, a->quota);
	else
		snprintf(quota, sizeof(quota), "unlimited");
	printf("%-40s emails=%u used=%" PRIu64 " quota=%s\n", a->email, a->emails, a->used, quota);
	(*(int *)arg)++;
}

static int usage(void)
{
	fprintf(stderr, "usage: tern account add EMAIL [--quota SIZE]   (password on stdin)\n"
			"       tern account passwd EMAIL                (password on stdin)\n"
			"       tern account del EMAIL\n"
			"       tern account disable|enable EMAIL\n"
			"       tern account list\n");
	return 2;
}

int cli_account(const struct config *cfg, int argc, char **argv)
{
	char err[512], pw[1024];
	struct store *st;
	int rc = 1;

	if (argc < 1)
		return usage();
	const char *verb = argv[0];
	if (strcmp(verb, "list") == 0) {
		int n = 0;
		if (!(st = cli_store_open(cfg, 1)))
			return 1;
		rc = store_account_list(st, print_account, &n) == STORE_OK ? 0 : 1;
		store_close(&st);
		return rc;
	}
	if (argc < 2)
		return usage();
	const char *email = argv[1];
	uint64_t quota = 0;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--quota") == 0 && i + 1 < argc &&
		    config_parse_size(argv[i + 1], &quota) == 0)
			i++;
		else
			return usage();
	}
	if (strcmp(verb, "add") == 0 || strcmp(verb, "passwd") == 0) {
		if (cli_read_secret(pw, sizeof(pw)) < 0 || pw[0] == '\0') {
			fprintf(stderr, "tern: a password is expected on standard input\n");
			return 2;
		}
	} else if (strcmp(verb, "del") != 0 && strcmp(verb, "disable") != 0 &&
		   strcmp(verb, "enable") != 0) {
		return usage();
	}
	if (!(st = cli_store_open(cfg, 0)))
		return 1;
	int r;
	if (strcmp(verb, "add") == 0)
		r = store_account_add(st, email, pw, quota, NULL, err, sizeof(err));
	else if (strcmp(verb, "passwd") == 0)
		r = store_account_passwd(st, email, pw, err, sizeof(err));
	else if (strcmp(verb, "disable") == 0 || strcmp(verb, "enable") == 0)
		r = store_account_set_disabled(st, email, verb[0] == 'd', err, sizeof(err));
	else
		r = store_account_del(st, email, err, sizeof(err));
	memset(pw, 0, sizeof(pw));
	if (r == STORE_OK) {
		printf("%s: %s\n", email, strcmp(verb, "add") == 0 ? "added" :
					    strcmp(verb, "del") == 0 ? "deleted" :
					    strcmp(verb, "disable") == 0 ? "disabled" :
					    strcmp(verb, "enable") == 0 ? "enabled" : "password changed");
		rc = 0;
	} else {
		fprintf(stderr, "tern: %s\n", err);
	}
	store_close(&st);
	return rc;
}
