/*
 * cmd_account.c — tern account add|list|passwd|del EMAIL, and
 * tern account state|name EMAIL VALUE,
 * tern account app-password add|list|del EMAIL [NAME].
 *
 * Passwords come from stdin (one line), never from argv where ps(1) would
 * show them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth/password_policy.h"
#include "cli/cli.h"
#include "jmap/jmap_blob.h"
#include "store/store.h"

static void print_account(void *arg, const struct store_account_info *a)
{
	char quota[32];
	if (a->quota)
		snprintf(quota, sizeof(quota), "%" PRIu64, a->quota);
	else
		snprintf(quota, sizeof(quota), "unlimited");
	printf("%-40s emails=%u used=%" PRIu64 " quota=%s state=%s", a->email, a->emails, a->used,
	       quota, store_account_state_name(a->state));
	if (a->display_name[0])
		printf(" name=\"%s\"", a->display_name);
	printf("\n");
	(*(int *)arg)++;
}

static int usage(void)
{
	return cli_usage("account");
}

static void fmt_time(int64_t t, char *out, size_t n)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, n, "never");
}

static void print_apppass(void *arg, const struct store_apppass_info *a)
{
	char c[32], u[32];
	fmt_time(a->created_at, c, sizeof c);
	fmt_time(a->last_used, u, sizeof u);
	/* A JMAP bearer token (made in the portal) is one of these records too. */
	printf("%-30s created=%s last_used=%s%s\n", a->name, c, u,
	       a->scope == STORE_APPPASS_JMAP ? " scope=jmap" : "");
	(*(int *)arg)++;
}

/* tern account app-password add|list|del EMAIL [NAME]: the secret of a
 * new one is printed once, on stdout, and never again. */
static int app_password(const struct config *cfg, int argc, char **argv)
{
	char err[512], secret[STORE_APPPASS_SECRET_LEN + 1];
	struct store *st;
	uint32_t id;
	int r, n = 0;

	if (argc < 2)
		return usage();
	const char *verb = argv[0], *email = argv[1];
	int list = strcmp(verb, "list") == 0;
	if (list ? argc != 2 : (argc != 3 || (strcmp(verb, "add") && strcmp(verb, "del"))))
		return usage();
	if (!(st = cli_store_open(cfg, list ? CLI_STORE_READ : CLI_STORE_CHANGE)))
		return 1;
	if (store_account_id(st, email, &id) != STORE_OK) {
		fprintf(stderr, "tern: no account %s\n", email);
		store_close(&st);
		return 1;
	}
	if (list) {
		r = store_apppass_list(st, id, print_apppass, &n);
		if (r != STORE_OK)
			snprintf(err, sizeof err, "store error, see the log");
	} else if (verb[0] == 'a') {
		r = store_apppass_add(st, id, argv[2], secret, sizeof secret, err, sizeof err);
		if (r == STORE_OK)
			printf("%s\n", secret);
		explicit_bzero(secret, sizeof secret);
	} else {
		r = store_apppass_del(st, id, argv[2], err, sizeof err);
		if (r == STORE_OK)
			printf("%s: app password %s revoked\n", email, argv[2]);
	}
	if (r != STORE_OK)
		fprintf(stderr, "tern: %s\n", err);
	store_close(&st);
	return r == STORE_OK ? 0 : 1;
}

/* tern account state EMAIL STATE | tern account name EMAIL NAME */
static int account_set(const struct config *cfg, const char *verb, const char *email,
		       const char *value)
{
	char err[512];
	enum store_account_state state = STORE_ACCOUNT_ACTIVE;
	struct store *st;
	int r;

	if (!value)
		return usage();
	if (verb[0] == 's' && store_account_state_parse(value, &state) != 0)
		return cli_bad_arg("account", "state", value, "active, cannot_sign_in or inactive");
	if (!(st = cli_store_open(cfg, CLI_STORE_CHANGE)))
		return 1;
	if (verb[0] == 's')
		r = store_account_set_state(st, email, state, err, sizeof err);
	else
		r = store_account_set_name(st, email, value, err, sizeof err);
	store_close(&st);
	if (r != STORE_OK) {
		fprintf(stderr, "tern: %s\n", err);
		return 1;
	}
	if (verb[0] == 's')
		printf("%s: %s\n", email, store_account_state_name(state));
	else
		printf("%s: display name %s\n", email, value[0] ? "set" : "removed");
	return 0;
}

int cli_account(const struct config *cfg, int argc, char **argv)
{
	char err[512], pw[PASSWORD_LINE_MAX];
	struct store *st;
	int rc = 1;

	if (argc < 1)
		return usage();
	const char *verb = argv[0];
	if (strcmp(verb, "app-password") == 0)
		return app_password(cfg, argc - 1, argv + 1);
	if (strcmp(verb, "list") == 0) {
		int n = 0;
		if (argc != 1)
			return usage(); /* no filter: a word after list is a mistake */
		if (!(st = cli_store_open(cfg, CLI_STORE_READ)))
			return 1;
		rc = store_account_list(st, print_account, &n) == STORE_OK ? 0 : 1;
		store_close(&st);
		return rc;
	}
	if (argc < 2)
		return usage();
	const char *email = argv[1];
	if (strcmp(verb, "state") == 0 || strcmp(verb, "name") == 0)
		return account_set(cfg, verb, email, argc == 3 ? argv[2] : NULL);
	uint64_t quota = 0;
	for (int i = 2; i < argc; i++) {
		/* Only add takes --quota: dropped elsewhere, it looked applied. */
		if (strcmp(argv[i], "--quota") == 0 && strcmp(verb, "add") != 0)
			return cli_bad_arg("account", argv[i], NULL,
					   "only with add (tern account add EMAIL --quota SIZE)");
		if (strcmp(argv[i], "--quota") != 0)
			return cli_bad_arg("account", argv[i], NULL, "no such option (--quota SIZE)");
		if (i + 1 == argc)
			return cli_bad_arg("account", "--quota", NULL, "a SIZE after it (500M, 2G)");
		if (config_parse_size(argv[++i], &quota) < 0)
			return cli_bad_arg("account", "--quota", argv[i],
					   "bytes or a number with K, M, G or T (500M, 2G)");
	}
	if (strcmp(verb, "add") == 0 || strcmp(verb, "passwd") == 0) {
		int got = cli_read_new_secret(pw, sizeof(pw));
		if (got < 0 || pw[0] == '\0') {
			if (got == -3) /* more than any allowed password holds */
				fprintf(stderr, "tern account %s: a password must be %d to %d characters\n",
					verb, PASSWORD_MIN_CHARS, PASSWORD_MAX_CHARS);
			else if (got != -2)
				fprintf(stderr, "tern: a password is expected on standard input\n");
			return 2;
		}
		char why[128];
		if (password_policy_check(pw, why, sizeof why) < 0) {
			memset(pw, 0, sizeof(pw));
			fprintf(stderr, "tern account %s: %s\n", verb, why);
			return 2;
		}
	} else if (strcmp(verb, "del") != 0 && strcmp(verb, "disable") != 0 &&
		   strcmp(verb, "enable") != 0) {
		return usage();
	}
	/* Only add may make the store; the others change an account in one. */
	if (!(st = cli_store_open(cfg, strcmp(verb, "add") == 0 ? CLI_STORE_CREATE : CLI_STORE_CHANGE)))
		return 1;
	int r;
	uint32_t id;
	if (strcmp(verb, "add") == 0)
		r = store_account_add(st, email, pw, quota, NULL, err, sizeof(err));
	else if (strcmp(verb, "passwd") == 0)
		r = store_account_passwd(st, email, pw, err, sizeof(err));
	else if (strcmp(verb, "disable") == 0 || strcmp(verb, "enable") == 0)
		r = store_account_set_disabled(st, email, verb[0] == 'd', err, sizeof(err));
	else if ((r = store_account_del_id(st, email, &id, err, sizeof(err))) == STORE_OK)
		jmap_upload_drop_account(cfg->data_dir, id);
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
