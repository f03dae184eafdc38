/*
 * cli.h — the administrative subcommands of the tern binary.
 *
 * Each command opens the same LMDB environment the server uses (LMDB
 * serialises writers across processes), so they work while it runs. A
 * command returns its exit status: 0 success, 1 failure (message on
 * stderr), 2 usage or configuration error.
 */
#ifndef TERN_CLI_CLI_H
#define TERN_CLI_CLI_H

#include <stdint.h>

#include "core/config.h"

int cli_account(const struct config *cfg, int argc, char **argv);
int cli_domain(const struct config *cfg, int argc, char **argv);
int cli_alias(const struct config *cfg, int argc, char **argv);
/* tern acl list|set|del (cmd_acl.c); cli_acl_run is the command without
 * the shared mailboxes' switch (imap/imap_acl.h), for its tests. */
int cli_acl(const struct config *cfg, int argc, char **argv);
int cli_acl_run(const struct config *cfg, int argc, char **argv);
int cli_fetch(const struct config *cfg, int argc, char **argv);
int cli_health(const struct config *cfg, int argc, char **argv);
int cli_setup_code(const struct config *cfg, int argc, char **argv);
int cli_token(const struct config *cfg, int argc, char **argv);
int cli_admin(const struct config *cfg, int argc, char **argv);
int cli_queue(const struct config *cfg, int argc, char **argv);
/* tern check dkim FILE (cmd_check_dkim.c): one line per signature. */
int cli_check_dkim(const struct config *cfg, int argc, char **argv);
/* tern check arc [--seal DOMAIN [--authres TEXT]] FILE (cmd_check_arc.c): the chain's cv=, details. */
int cli_check_arc(const struct config *cfg, int argc, char **argv);
/* tern check spf IP SENDER HELO (cmd_check_spf.c): the result, then any explanation. */
int cli_check_spf(const struct config *cfg, int argc, char **argv);
/* tern check auth --ip IP --helo H --mail-from A FILE (cmd_check_auth.c): the Authentication-Results field. */
int cli_check_auth(const struct config *cfg, int argc, char **argv);
/* tern backup [--base PREV] DIR | tern backup --verify DIR (cmd_backup.c). */
int cli_backup(const struct config *cfg, int argc, char **argv);
/* tern restore DIR (cmd_backup.c): into TERN_DATA_DIR, which must be empty. */
int cli_restore(const struct config *cfg, int argc, char **argv);
/* tern sieve test SCRIPT FILE [--from A] [--to A] (cmd_sieve.c): the actions, one a line. */
int cli_sieve(const struct config *cfg, int argc, char **argv);
/* tern export EMAIL|--all DIR [--format maildir|mbox] (cmd_export.c). */
int cli_export(const struct config *cfg, int argc, char **argv);
/* tern import EMAIL PATH [--mailbox NAME] (cmd_import.c): Maildir, mbox. */
int cli_import(const struct config *cfg, int argc, char **argv);
/* tern migrate EMAIL --from imaps://USER@HOST[:PORT] (cmd_migrate.c): from another IMAP server. */
int cli_migrate(const struct config *cfg, int argc, char **argv);
/* tern serve: runs until SIGTERM. */
int cli_serve(const struct config *cfg, int argc, char **argv);
/* tern acme status (cmd_acme.c). */
int cli_acme(const struct config *cfg, int argc, char **argv);

/* tern dmarc report [--send] [--today] (cmd_dmarc.c): DMARC reports waiting, or send them now. */
int cli_dmarc(const struct config *cfg, int argc, char **argv);
/* tern tlsrpt report [--send] [--today] | list DOMAIN (cmd_tlsrpt.c): TLS-RPT reports to send, or received. */
int cli_tlsrpt(const struct config *cfg, int argc, char **argv);

/*
 * Help (cli_help.c). cli_help_text: the help of a command ("account",
 * "check dkim"), of the binary for NULL; NULL for an unknown command. The
 * text is static. cli_usage prints that text on stderr and returns 2 (a
 * usage error). cli_bad_arg prints one line naming the command, the
 * argument, the value given (when not NULL) and what is expected, and
 * returns 2.
 */
const char *cli_help_text(const char *cmd);
int cli_usage(const char *cmd);
int cli_bad_arg(const char *cmd, const char *arg, const char *value, const char *expected);

/* Shared helpers (cli_util.c). */
struct store;
/*
 * Opens the store for a command; prints the error and returns NULL on
 * failure. mode: CLI_STORE_CREATE (read-write, creating the data
 * directory and an empty store when there is none: the commands that set
 * a server up), CLI_STORE_READ (read-only) or CLI_STORE_CHANGE
 * (read-write, an existing store only). With READ and CHANGE and no store
 * in the data directory, it prints one line saying so on stderr and exits
 * with CLI_EXIT_NO_STORE, leaving the directory as it was: listing,
 * deleting or changing what a store would hold means nothing without one,
 * and an empty store made there would hide a wrong TERN_DATA_DIR.
 */
enum cli_store_mode { CLI_STORE_CREATE = 0, CLI_STORE_READ = 1, CLI_STORE_CHANGE = 2 };
#define CLI_EXIT_NO_STORE 3
struct store *cli_store_open(const struct config *cfg, int mode);
/* The check cli_store_open makes for READ and CHANGE, on its own: returns
 * when the data directory holds a store (or a restore cut short), else
 * prints the line and exits with CLI_EXIT_NO_STORE. For a command that
 * works a while before it opens the store (tern check auth --record). */
void cli_store_require(const struct config *cfg, int mode);
/* Reads one line (a password) from stdin without its newline; -1 on EOF,
 * -3 when it does not fit OUTSZ (OUT wiped). */
/* tern spam train spam|ham [--account EMAIL] PATH... | tern spam test [--account EMAIL] FILE...
 * (cmd_spam.c). */
int cli_spam(const struct config *cfg, int argc, char **argv);
/* A Sieve store error (STORE_* from store_sieve_*) in words (cmd_sieve.c). */
const char *cli_sieve_store_msg(int rc);
/* A script copied in (tern import, tern migrate --sieve) made active
 * through the check every activation takes (script_check.h): 0, or 1
 * with "tern: Sieve script "NAME" not made active: why" on stderr (it
 * would fail at every delivery, or the store failed): it stays inactive
 * and the command exits 1 (cmd_sieve.c). */
int cli_sieve_activate(struct store *st, uint32_t account, const char *name);
int cli_read_secret(char *out, size_t outsz);
/* A new password: as cli_read_secret (-1, -3 alike), but on a terminal
 * asked twice; -2 (message printed, OUT wiped) when the two differ. */
int cli_read_new_secret(char *out, size_t outsz);

/*
 * Progress of a long command (cli_progress.c): cli_progress_step is a
 * store_backup_progress_fn taking the struct as its argument.
 */
#include <stdint.h>
struct cli_progress {
	const char *op;
	int tty, shown;
	double start, last;
};
void cli_progress_init(struct cli_progress *p, const char *op);
int cli_progress_step(void *arg, uint64_t done_bytes, uint64_t total_bytes, uint64_t done,
                       uint64_t total);

#endif
