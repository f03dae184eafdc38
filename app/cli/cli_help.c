/*
 * cli_help.c — the help text of every subcommand, in one table.
 *
 * One text per command serves both `tern CMD --help` (stdout, exit 0,
 * before any configuration or store is read: a newcomer asks for help
 * before the data directory exists) and a usage error (stderr, exit 2),
 * so the two can never say different things.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

struct cli_help {
	const char *cmd; /* "account", or "check dkim" for two-word commands */
	const char *text;
};

static const char top_help[] =
	"usage: tern serve                         run the server\n"
	"       tern version | tern health\n"
	"       tern account add|list|passwd|del EMAIL  (password on stdin)\n"
	"       tern account disable|enable EMAIL ; tern account state EMAIL STATE ; tern account name EMAIL NAME\n"
	"       tern account app-password add|list|del EMAIL [NAME]\n"
	"       tern domain add|list|del DOMAIN ; tern domain dns DOMAIN\n"
	"       tern domain dkim-import DOMAIN SELECTOR FILE   keep a DKIM key made elsewhere\n"
	"       tern alias add|list|del ALIAS TARGET\n"
	"       tern acl list|set|del OWNER [MAILBOX ...]   shared mailboxes' grants (RFC 4314)\n"
	"       tern fetch EMAIL [--mailbox NAME] [--id ID [--envelope]]\n"
	"       tern setup-code                   the web wizard's one-time code\n"
	"       tern admin passwd                 the web admin's password (on stdin)\n"
	"       tern admin totp-off               turn off the web admin's two-factor sign-in\n"
	"       tern token add NAME | list | del ID   API tokens\n"
	"       tern queue list|flush [ID]|del ID|all\n"
	"       tern backup [--base PREV] DIR     a consistent backup while the server runs\n"
	"       tern backup --verify DIR          check a backup\n"
	"       tern restore DIR                  into an empty TERN_DATA_DIR\n"
	"       tern export EMAIL|--all DIR [--format maildir|mbox]\n"
	"       tern import EMAIL PATH [--mailbox NAME] [--new-uids]   Maildir, Maildir++ or mbox\n"
	"       tern migrate EMAIL --from imap[s]://USER@HOST[:PORT] [--password-file FILE] [--sieve] [--new-uids]\n"
	"       tern check dkim FILE              verify a message's DKIM signatures\n"
	"       tern check arc FILE               validate a message's ARC chain (--seal DOMAIN adds a set)\n"
	"       tern check spf IP SENDER HELO     the SPF result for a client, MAIL FROM and HELO\n"
	"       tern check auth --ip IP --helo H --mail-from A [--record] FILE   the Authentication-Results tern would add\n"
	"       tern acme status | renew          the certificate ACME keeps; renew it now\n"
	"       tern dmarc report [--send] [--today]   DMARC aggregate reports waiting, or send them now\n"
	"       tern tlsrpt report [--send] [--today]  TLS-RPT reports waiting, or send them now\n"
	"       tern tlsrpt list DOMAIN                TLS-RPT reports received for a served domain\n"
	"       tern sieve test SCRIPT FILE [--from A] [--to A]   the actions a Sieve script takes\n"
	"       tern sieve list|get|put|activate|deactivate|del EMAIL|global [NAME]   stored Sieve scripts\n"
	"       tern spam train spam|ham [--account EMAIL] PATH...   learn messages (files, Maildir, mbox)\n"
	"       tern spam test [--account EMAIL] FILE...   the spam verdict, score and rules\n"
	"       tern spam phish load FILE|status   the local phishing URL list (OpenPhish, PhishTank feeds)\n"
	"       tern spam hashes load FILE|status  the local malware attachment list (SHA-256 digests)\n"
	"       tern COMMAND --help               that command's options\n"
	"configuration comes from TERN_* environment variables (see README)\n";

static const struct cli_help helps[] = {
	{ "serve", "usage: tern serve   (configuration from TERN_* variables, see README)\n" },
	{ "version", "usage: tern version   prints the version\n" },
	{ "health", "usage: tern health   exit 0 when the local server answers (HTTP /healthz, else the first mail listener configured)\n" },
	{ "account",
	  "usage: tern account add EMAIL [--quota SIZE]   (password on stdin)\n"
	  "       tern account passwd EMAIL                (password on stdin)\n"
	  "       tern account del EMAIL\n"
	  "       tern account disable|enable EMAIL     (disable: cannot sign in)\n"
	  "       tern account state EMAIL active|cannot_sign_in|inactive\n"
	  "       tern account name EMAIL NAME             (display name; \"\" removes it)\n"
	  "       tern account list\n"
	  "       tern account app-password add|del EMAIL NAME\n"
	  "       tern account app-password list EMAIL\n"
	  "  SIZE: bytes, or a number with K, M, G or T (500M, 2G)\n"
	  "  on a terminal the password is asked twice\n" },
	{ "domain", "usage: tern domain add|del DOMAIN\n"
		    "       tern domain list\n"
		    "       tern domain dns DOMAIN   (the DNS records to publish)\n"
		    "       tern domain dkim-import DOMAIN SELECTOR FILE|-   (a DKIM private key from\n"
		    "       OpenDKIM, rspamd or openssl: PEM RSA 1024-4096 bits or Ed25519, or a base64\n"
		    "       Ed25519 seed; it replaces the domain's key of its algorithm)\n" },
	{ "alias", "usage: tern alias add ALIAS TARGET   (ALIAS @domain is the catch-all;\n"
		   "                                     TARGET outside our domains is forwarded)\n"
		   "       tern alias del ALIAS [TARGET]\n"
		   "       tern alias list\n" },
	{ "acl", "usage: tern acl list OWNER [MAILBOX]   (lines MAILBOX, IDENTIFIER, RIGHTS)\n"
		 "       tern acl set OWNER MAILBOX IDENTIFIER RIGHTS   (RIGHTS replace the grant;\n"
		 "                                      +RIGHTS add to it, -RIGHTS take away)\n"
		 "       tern acl del OWNER MAILBOX IDENTIFIER\n"
		 "  IDENTIFIER: an account's address or anyone; RIGHTS: letters of lrswipkxtea\n"
		 "  (RFC 4314; c and d stand for k and xte)\n" },
	{ "fetch", "usage: tern fetch EMAIL [--mailbox NAME] [--id ID [--envelope]]\n" },
	{ "setup-code", "usage: tern setup-code   the web wizard's one-time code (until an admin exists)\n" },
	{ "admin", "usage: tern admin passwd     (password on stdin; asked twice on a terminal)\n"
		   "       tern admin totp-off   turn off the admin's two-factor sign-in (locked out)\n" },
	{ "token", "usage: tern token add NAME [--read] [--expires DURATION]   (prints the token once)\n"
		   "       tern token list | tern token del ID\n"
		   "  --read: the token can only read (GET, /metrics), for monitoring\n"
		   "  --expires: it stops working after DURATION (90d, 12h, 30m, 3600)\n" },
	{ "queue", "usage: tern queue list\n"
		   "       tern queue flush [ID]   try now (all entries without ID)\n"
		   "       tern queue del ID|all   delete without notice\n" },
	{ "backup", "usage: tern backup [--base PREV] DIR   back up the store into DIR (new or empty)\n"
		    "       tern backup --verify DIR        check the backup in DIR\n"
		    "       tern restore DIR                restore DIR into an empty TERN_DATA_DIR\n" },
	{ "restore", "usage: tern restore DIR   restore the backup in DIR into an empty TERN_DATA_DIR\n" },
	{ "export", "usage: tern export EMAIL DIR [--format maildir|mbox]\n"
		    "       tern export --all DIR [--format maildir|mbox]\n" },
	{ "import", "usage: tern import EMAIL PATH [--mailbox NAME] [--new-uids]   (a Maildir, a folder "
		    "of Maildirs or mbox files, an mbox file)\n"
		    "       (a Dovecot Maildir's UIDVALIDITY and UIDs are kept, from dovecot-uidlist;\n"
		    "       --new-uids copies a folder whose mailbox holds other mail with new UIDs)\n" },
	{ "migrate", "usage: tern migrate EMAIL --from imap[s]://USER@HOST[:PORT] [--password-file FILE]\n"
		     "                         [--sieve [--sieve-port PORT]] [--new-uids]\n"
		     "       (password on stdin without --password-file; imap:// uses STARTTLS when the\n"
		     "       server offers it; --sieve also copies Sieve scripts over ManageSieve; each\n"
		     "       folder's UIDVALIDITY and UIDs are kept, and --new-uids copies a folder whose\n"
		     "       mailbox holds other mail with new UIDs)\n" },
	{ "check", "usage: tern check dkim|arc|spf|auth ...   (tern check dkim --help for each)\n" },
	{ "check dkim", "usage: tern check dkim FILE\n" },
	{ "check arc", "usage: tern check arc [--seal DOMAIN [--authres TEXT]] FILE\n" },
	{ "check spf", "usage: tern check spf IP SENDER HELO   (SENDER <> for the null sender)\n" },
	{ "check auth",
	  "usage: tern check auth --ip IP --helo HELO --mail-from ADDRESS [--record] FILE\n" },
	{ "acme", "usage: tern acme status | tern acme renew\n" },
	{ "dmarc", "usage: tern dmarc report [--send] [--today]\n" },
	{ "tlsrpt", "usage: tern tlsrpt report [--send] [--today] | tern tlsrpt list DOMAIN\n" },
	{ "sieve", "usage: tern sieve test SCRIPT FILE... [--from ADDR] [--to ADDR] [--global DIR]   (more than one FILE: \"== FILE\" before each's actions;\n"
		   "         include \"NAME\": NAME.sieve or NAME beside SCRIPT, :global ones in DIR;\n"
		   "         --metadata MAILBOX ENTRY VALUE, repeated: METADATA entries, MAILBOX \"\" the server's)\n"
		   "       tern sieve test SCRIPT FILE... --bench N   (CPU microseconds per run of the script)\n"
		   "       tern sieve list|deactivate EMAIL|global\n"
		   "       tern sieve get|put|activate|del EMAIL|global NAME   (put reads the script from stdin; global: the script run before every account's)\n" },
	{ "spam", "usage: tern spam train spam|ham [--account EMAIL] PATH...\n"
		  "         (message files, mbox files, Maildir folders, directories of messages;\n"
		  "          the global model unless --account)\n"
		  "       tern spam test [--account EMAIL] FILE...   VERDICT score=N, then the rules\n"
		  "       tern spam phish load FILE   replace the phishing URL list with FILE's\n"
		  "         (OpenPhish: a URL a line; PhishTank: CSV with a url column; an empty file removes it)\n"
		  "       tern spam phish status      its entries, when and from where it was loaded\n"
		  "       tern spam hashes load FILE  replace the malware attachment list with FILE's\n"
		  "         (a SHA-256 digest in hex a line, as MalwareBazaar's exports; an empty file removes it)\n"
		  "       tern spam hashes status     its entries, when and from where it was loaded\n" },
};

const char *cli_help_text(const char *cmd)
{
	if (cmd == NULL)
		return top_help;
	for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++)
		if (strcmp(helps[i].cmd, cmd) == 0)
			return helps[i].text;
	return NULL;
}

int cli_usage(const char *cmd)
{
	const char *t = cli_help_text(cmd);
	fputs(t ? t : top_help, stderr);
	return 2;
}

int cli_bad_arg(const char *cmd, const char *arg, const char *value, const char *expected)
{
	fprintf(stderr, "tern %s: %s: %s%s%sexpected %s\n", cmd, arg, value ? "'" : "",
		value ? value : "", value ? "' is wrong; " : "", expected);
	return 2;
}
