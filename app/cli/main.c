/*
 * main.c — the tern binary: dispatches to the subcommands.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/log.h"
#include "core/version.h"

static int usage(void)
{
	fprintf(stderr,
		"usage: tern serve                         run the server\n"
		"       tern version | tern health\n"
		"       tern account add|list|passwd|del EMAIL  (password on stdin)\n"
		"       tern account app-password add|list|del EMAIL [NAME]\n"
		"       tern domain add|list|del DOMAIN ; tern domain dns DOMAIN\n"
		"       tern alias add|list|del ALIAS TARGET\n"
		"       tern fetch EMAIL [--mailbox NAME] [--id ID [--envelope]]\n"
		"       tern setup-code                   the web wizard's one-time code\n"
		"       tern admin passwd                 the web admin's password (on stdin)\n"
		"       tern token add NAME | list | del ID   API tokens\n"
		"       tern queue list|flush [ID]|del ID|all\n"
		"       tern backup [--base PREV] DIR     a consistent backup while the server runs\n"
		"       tern backup --verify DIR          check a backup\n"
		"       tern restore DIR                  into an empty TERN_DATA_DIR\n"
		"       tern export EMAIL|--all DIR [--format maildir|mbox]\n"
		"       tern import EMAIL PATH [--mailbox NAME]   Maildir, Maildir++ or mbox\n"
		"       tern migrate EMAIL --from imaps://USER@HOST[:PORT] [--password-file FILE]\n"
		"       tern check dkim FILE              verify a message's DKIM signatures\n"
		"       tern check arc FILE               validate a message's ARC chain (--seal DOMAIN adds a set)\n"
		"       tern check spf IP SENDER HELO     the SPF result for a client, MAIL FROM and HELO\n"
		"       tern check auth --ip IP --helo H --mail-from A [--record] FILE   the Authentication-Results tern would add\n"
		"       tern acme status | renew          the certificate ACME keeps; renew it now\n"
		"       tern dmarc report [--send] [--today]   DMARC aggregate reports waiting, or send them now\n"
		"       tern sieve test SCRIPT FILE [--from A] [--to A]   the actions a Sieve script takes\n"
		"       tern sieve list|get|put|activate|deactivate|del EMAIL [NAME]   stored Sieve scripts\n"
		"configuration comes from TERN_* environment variables (see README)\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct config cfg;
	char err[600];

	if (argc < 2)
		return usage();
	const char *cmd = argv[1];
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("tern %s\n", tern_version);
		return 0;
	}
	if (config_load(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	/* Subcommands log only warnings, to stderr; serve logs at the configured level. */
	log_init(2, strcmp(cmd, "serve") == 0 ? cfg.log_level : LOG_WARN, cfg.log_json);
	if (strcmp(cmd, "serve") == 0)
		return cli_serve(&cfg, argc - 2, argv + 2);
	if (strcmp(cmd, "health") == 0)
		return cli_health(&cfg, argc - 2, argv + 2);
	if (strcmp(cmd, "account") == 0)
		return cli_account(&cfg, argc - 2, argv + 2);
	if (strcmp(cmd, "domain") == 0)
		return cli_domain(&cfg, argc - 2, argv + 2);
	if (strcmp(cmd, "alias") == 0)
		return cli_alias(&cfg, argc - 2, argv + 2);
	if (strcmp(cmd, "setup-code") == 0)
		return cli_setup_code(&cfg, argc - 2, argv + 2);
	if (strcmp(cmd, "token") == 0)
		return cli_token(&cfg, argc - 2, argv + 2);
	if (strcmp(cmd, "admin") == 0)
		return cli_admin(&cfg, argc - 2, argv + 2);
	if (strcmp(cmd, "fetch") == 0)
		return cli_fetch(&cfg, argc - 2, argv + 2);
	if (strcmp(cmd, "sieve") == 0)
		return cli_sieve(&cfg, argc - 2, argv + 2);
	if (strcmp(cmd, "queue") == 0)
		return cli_queue(&cfg, argc - 2, argv + 2);
	if (strcmp(cmd, "backup") == 0)
		return cli_backup(&cfg, argc - 2, argv + 2);
	if (strcmp(cmd, "acme") == 0)
		return cli_acme(&cfg, argc - 2, argv + 2);
	if (strcmp(cmd, "dmarc") == 0)
		return cli_dmarc(&cfg, argc - 2, argv + 2);
	if (strcmp(cmd, "export") == 0)
		return cli_export(&cfg, argc - 2, argv + 2);
	if (strcmp(cmd, "migrate") == 0)
		return cli_migrate(&cfg, argc - 2, argv + 2);
	if (strcmp(cmd, "import") == 0)
		return cli_import(&cfg, argc - 2, argv + 2);
	if (strcmp(cmd, "restore") == 0)
		return cli_restore(&cfg, argc - 2, argv + 2);
	if (strcmp(cmd, "check") == 0 && argc >= 3 && strcmp(argv[2], "dkim") == 0)
		return cli_check_dkim(&cfg, argc - 3, argv + 3);
	if (strcmp(cmd, "check") == 0 && argc >= 3 && strcmp(argv[2], "arc") == 0)
		return cli_check_arc(&cfg, argc - 3, argv + 3);
	if (strcmp(cmd, "check") == 0 && argc >= 3 && strcmp(argv[2], "spf") == 0)
		return cli_check_spf(&cfg, argc - 3, argv + 3);
	if (strcmp(cmd, "check") == 0 && argc >= 3 && strcmp(argv[2], "auth") == 0)
		return cli_check_auth(&cfg, argc - 3, argv + 3);
	return usage();
}
