/*
 * cmd_admin.c — tern setup-code, tern admin passwd|totp-off and tern token
 * add|list|del.
 *
 * setup-code prints the one-time code the web wizard asks for (the server
 * logs it at start too); there is none once an admin exists. Tokens are
 * API bearer tokens: the secret is printed once and only its hash is kept;
 * each has a scope (admin, or read for monitoring) and may expire.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin/admin_meta.h"
#include "auth/password_policy.h"
#include "auth/twofactor.h"
#include "cli/cli.h"
#include "store/store.h"

int cli_setup_code(const struct config *cfg, int argc, char **argv)
{
	char code[ADMIN_SETUP_CODE_LEN + 1];
	struct store *st;
	(void)argv;

	if (argc != 0) {
		return cli_usage("setup-code");
	}
	if (!(st = cli_store_open(cfg, CLI_STORE_READ)))
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

/*
 * tern admin passwd: the web admin's password from stdin (8..256
 * characters, as the web UI asks), stored as an argon2id hash. Refused
 * while TERN_ADMIN_PASSWORD is set: the variable wins, so a stored
 * password would never be used.
 */
/*
 * tern admin totp-off: removes the admin's two-factor sign-in, for an
 * admin locked out (phone and recovery codes lost, or secrets.key lost
 * with the store restored elsewhere). Whoever can run this can read the
 * store anyway.
 */
static int admin_totp_off(const struct config *cfg)
{
	struct store *st = cli_store_open(cfg, CLI_STORE_CHANGE);
	if (!st)
		return 1;
	int rc = twofactor_reset(st, STORE_TOTP_ADMIN);
	store_close(&st);
	if (rc == STORE_OK) {
		printf("two-factor sign-in of the admin is off\n");
		return 0;
	}
	fprintf(stderr, "tern: %s\n", rc == STORE_ENOTFOUND ? "the admin has no two-factor sign-in"
							   : "cannot write the store");
	return 1;
}

int cli_admin(const struct config *cfg, int argc, char **argv)
{
	char pw[PASSWORD_LINE_MAX];
	struct store *st;

	if (argc == 1 && strcmp(argv[0], "totp-off") == 0)
		return admin_totp_off(cfg);
	if (argc != 1 || strcmp(argv[0], "passwd") != 0) {
		return cli_usage("admin");
	}
	if (cfg->admin_password[0]) {
		fprintf(stderr, "tern: the admin password is locked by TERN_ADMIN_PASSWORD; "
				"change or unset the variable instead\n");
		return 1;
	}
	int got = cli_read_new_secret(pw, sizeof pw);
	if (got < 0 || pw[0] == '\0') {
		if (got == -3) /* more than any allowed password holds */
			fprintf(stderr, "tern admin passwd: a password must be %d to %d characters\n",
				PASSWORD_MIN_CHARS, PASSWORD_MAX_CHARS);
		else if (got != -2)
			fprintf(stderr, "tern: a password is expected on standard input\n");
		return 2;
	}
	char why[128];
	if (password_policy_check(pw, why, sizeof why) < 0) {
		explicit_bzero(pw, sizeof pw);
		fprintf(stderr, "tern admin passwd: %s\n", why);
		return 2;
	}
	if (!(st = cli_store_open(cfg, CLI_STORE_CREATE))) {
		explicit_bzero(pw, sizeof pw);
		return 1;
	}
	int rc = admin_password_set(st, pw, 0);
	explicit_bzero(pw, sizeof pw);
	store_close(&st);
	if (rc != STORE_OK) {
		fprintf(stderr, "tern: cannot store the admin password\n");
		return 1;
	}
	printf("admin password changed\n");
	return 0;
}

static void when_text(int64_t t, char *out, size_t n)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (!t) {
		snprintf(out, n, "never");
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* id, created, scope, expires ("never" or a time), name: tab-separated. */
static void print_token(void *arg, const struct admin_token_info *t)
{
	char made[32], ends[32];
	(void)arg;
	when_text(t->created, made, sizeof(made));
	when_text(t->expires, ends, sizeof(ends));
	printf("%s\t%s\t%s\t%s%s\t%s\n", t->id, made, admin_token_scope_name(t->scope), ends,
	       t->expires && t->expires <= (int64_t)time(NULL) ? " (expired)" : "", t->name);
}

static int token_usage(void)
{
	return cli_usage("token");
}

int cli_token(const struct config *cfg, int argc, char **argv)
{
	struct store *st;
	int rc;

	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		if (!(st = cli_store_open(cfg, CLI_STORE_READ)))
			return 1;
		rc = admin_token_list(st, print_token, NULL);
		store_close(&st);
		return rc == STORE_OK ? 0 : 1;
	}
	if (argc >= 2 && strcmp(argv[0], "add") == 0) {
		enum admin_token_scope scope = ADMIN_TOKEN_ADMIN;
		int64_t expires = 0;
		for (int i = 2; i < argc; i++) {
			unsigned secs;
			if (strcmp(argv[i], "--read") == 0) {
				scope = ADMIN_TOKEN_READ;
			} else if (strcmp(argv[i], "--expires") == 0) {
				if (i + 1 == argc || config_parse_duration(argv[i + 1], &secs) < 0 ||
				    secs == 0)
					return cli_bad_arg("token", "--expires", i + 1 < argc ? argv[i + 1] : NULL,
							   "a DURATION (90d, 12h, 30m, 3600)");
				expires = (int64_t)time(NULL) + (int64_t)secs;
				i++;
			} else {
				return cli_bad_arg("token", argv[i], NULL, "--read or --expires DURATION");
			}
		}
		if (!(st = cli_store_open(cfg, CLI_STORE_CREATE)))
			return 1;
		char token[ADMIN_TOKEN_MAX], id[16];
		rc = admin_token_add(st, argv[1], scope, expires, token, id);
		if (rc == STORE_OK)
			printf("%s\n", token);
		else
			fprintf(stderr, "tern: %s\n",
				rc == STORE_EINVAL ? "the name must be 1 to 64 printable characters"
						   : "cannot store the token");
		store_close(&st);
		return rc == STORE_OK ? 0 : 1;
	}
	if (argc != 2 || strcmp(argv[0], "del") != 0)
		return token_usage();
	if (!(st = cli_store_open(cfg, CLI_STORE_CHANGE)))
		return 1;
	rc = admin_token_del(st, argv[1]);
	if (rc == STORE_OK)
		printf("%s: deleted\n", argv[1]);
	else
		fprintf(stderr, "tern: no token %s\n", argv[1]);
	store_close(&st);
	return rc == STORE_OK ? 0 : 1;
}
