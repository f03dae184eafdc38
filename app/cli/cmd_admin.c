/*
 * cmd_admin.c — tern setup-code and tern token add|list|del NAME|ID.
 *
 * setup-code prints the one-time code the web wizard asks for (the server
 * logs it at start too); there is none once an admin exists. Tokens are
 * API bearer tokens: the secret is printed once and only its hash is kept.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin/admin_meta.h"
#include "cli/cli.h"
#include "store/store.h"

int cli_setup_code(const struct config *cfg, int argc, char **argv)
{
	char code[ADMIN_SETUP_CODE_LEN + 1];
	struct store *st;
	(void)argv;

	if (argc != 0) {
		fprintf(stderr, "usage: tern setup-code\n");
		return 2;
	}
	if (!(st = cli_store_open(cfg, 1)))
		return 1;
	int rc = admin_exists(st) ? STORE_EEXIST : admin_setup_code_get(st, code, sizeof(code));
	store_close(&st);
	if (rc == STORE_OK) {
		printf("%s\n", code);
		return 0;
	}
	if (rc == STORE_EEXIST)
		fprintf(stderr, "tern: the admin exists already: no setup code (log in instead)\n");
	else if (rc == STORE_ENOTFOUND)
		fprintf(stderr, "tern: no setup code yet: start the server (tern serve) first\n");
	else
		fprintf(stderr, "tern: cannot read the store\n");
	return 1;
}

static void print_token(void *arg, const char *id, const char *name, int64_t created)
{
	char when[32];
	struct tm tm;
	time_t t = (time_t)created;
	(void)arg;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s\t%s\t%s\n", id, when, name);
}

int cli_token(const struct config *cfg, int argc, char **argv)
{
	struct store *st;
	int rc;

	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		if (!(st = cli_store_open(cfg, 1)))
			return 1;
		rc = admin_token_list(st, print_token, NULL);
		store_close(&st);
		return rc == STORE_OK ? 0 : 1;
	}
	if (argc != 2 || (strcmp(argv[0], "add") != 0 && strcmp(argv[0], "del") != 0)) {
		fprintf(stderr, "usage: tern token add NAME   (prints the token once)\n"
				"       tern token list | tern token del ID\n");
		return 2;
	}
	if (!(st = cli_store_open(cfg, 0)))
		return 1;
	if (strcmp(argv[0], "add") == 0) {
		char token[ADMIN_TOKEN_MAX], id[16];
		rc = admin_token_add(st, argv[1], token, id);
		if (rc == STORE_OK)
			printf("%s\n", token);
		else
			fprintf(stderr, "tern: %s\n",
				rc == STORE_EINVAL ? "the name must be 1 to 64 printable characters"
						   : "cannot store the token");
	} else {
		rc = admin_token_del(st, argv[1]);
		if (rc == STORE_OK)
			printf("%s: deleted\n", argv[1]);
		else
			fprintf(stderr, "tern: no token %s\n", argv[1]);
	}
	store_close(&st);
	return rc == STORE_OK ? 0 : 1;
}
