/*
 * main.c — the tern binary: dispatches to the subcommands.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/hostname.h"
#include "core/log.h"
#include "core/version.h"

typedef int (*cli_fn)(const struct config *cfg, int argc, char **argv);

/* The subcommands; `check` takes a second word. The help texts are in
 * cli_help.c under the same names. */
static const struct {
	const char *name;
	cli_fn fn;
} commands[] = {
	{ "serve", cli_serve },       { "health", cli_health },
	{ "account", cli_account },   { "domain", cli_domain },
	{ "alias", cli_alias },       { "setup-code", cli_setup_code },
	{ "acl", cli_acl },
	{ "token", cli_token },       { "admin", cli_admin },
	{ "fetch", cli_fetch },       { "sieve", cli_sieve },
	{ "spam", cli_spam },
	{ "queue", cli_queue },       { "backup", cli_backup },
	{ "acme", cli_acme },         { "dmarc", cli_dmarc },
	{ "tlsrpt", cli_tlsrpt },
	{ "export", cli_export },     { "migrate", cli_migrate },
	{ "import", cli_import },     { "restore", cli_restore },
	{ "check dkim", cli_check_dkim }, { "check arc", cli_check_arc },
	{ "check spf", cli_check_spf },   { "check auth", cli_check_auth },
};

/* A TERN_* variable nobody reads: most likely a typo the user thinks is in effect. */
static void warn_unknown(void *arg, const char *name, const char *closest)
{
	(void)arg;
	if (closest)
		log_warn("config", NULL, "event=unknown_variable name=%s closest=%s "
			 "hint=\"%s is not a tern variable; did you mean %s?\"", name, closest, name,
			 closest);
	else
		log_warn("config", NULL, "event=unknown_variable name=%s hint=\"%s is not a tern "
			 "variable (README lists them)\"", name, name);
}

static int is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0;
}

/* `--help` anywhere after the command (`tern account add --help`), or -h /
 * help right after it: the command's help on stdout, exit 0. */
static int wants_help(int argc, char **argv, int first)
{
	if (first < argc && is_help(argv[first]))
		return 1;
	for (int i = first; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct config cfg;
	char err[600], name[32];

	if (argc < 2)
		return cli_usage(NULL);
	const char *cmd = argv[1];
	if (is_help(cmd)) {
		fputs(cli_help_text(argc > 2 ? argv[2] : NULL) ?: cli_help_text(NULL), stdout);
		return 0;
	}
	/* `check` and its verb form one name; its arguments start after both. */
	int first = 2;
	if (strcmp(cmd, "check") == 0 && argc >= 3 && !is_help(argv[2])) {
		snprintf(name, sizeof name, "check %.20s", argv[2]);
		first = 3;
	} else {
		snprintf(name, sizeof name, "%.31s", cmd);
	}
	cli_fn fn = NULL;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			fn = commands[i].fn;
	if (wants_help(argc, argv, first) && cli_help_text(name)) {
		fputs(cli_help_text(name), stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		if (argc > 2)
			return cli_usage("version");
		printf("tern %s\n", tern_version);
		return 0;
	}
	/* `tern check` alone or with a verb it does not have: its usage, as
	 * every other command with a wrong or missing verb. */
	if (fn == NULL && strcmp(cmd, "check") == 0)
		return cli_usage("check");
	if (fn == NULL) {
		fprintf(stderr, "tern: unknown command '%s' (tern --help lists them)\n", name);
		return 2;
	}
	if (config_load(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	/* Subcommands log only warnings, to stderr; serve logs at the configured level. */
	log_init(2, strcmp(cmd, "serve") == 0 ? cfg.log_level : LOG_WARN, cfg.log_json);
	config_unknown_vars(warn_unknown, NULL);
	hostname_set(cfg.hostname); /* cli_store_open applies the stored one, as serve does */
	return fn(&cfg, argc - first, argv + first);
}
